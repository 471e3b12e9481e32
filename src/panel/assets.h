#pragma once
/// The panel's files, compiled into the agent from web/ (see embed_assets.cmake).
#include <cstddef>
#include <span>

namespace siax::panel {

/// One file of web/, as built. Static storage: the pointers live as long as the program.
struct Asset {
  const char* path;          ///< "/index.html", "/js/main.js" (relative to web/, with a leading '/')
  const char* content_type;  ///< e.g. "text/javascript; charset=utf-8"
  const char* etag;          ///< quoted strong validator (start of the SHA-256 of the content)
  const unsigned char* data;
  std::size_t size;
  const unsigned char* gzip;  ///< gzip -9 of data, or nullptr when it would not be smaller
  std::size_t gzip_size;
};

/// Every embedded file, sorted by path. Generated at build time.
[[nodiscard]] std::span<const Asset> assets();

}  // namespace siax::panel
