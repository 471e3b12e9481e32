#pragma once
/// Adapter: CloudTransport over libcurl (one easy handle, reused: keep-alive).
///
/// Every request carries `x-api-key`, `Content-Type: application/json`,
/// `Accept: application/json` and `User-Agent: siax-agent/<version>`. TLS peers are
/// verified (system CA store). Redirects are not followed (the key would go along).
/// Only http and https URLs are allowed. The reply body is read up to max_body_bytes;
/// a longer reply is an error.
///
/// Threading: send() from one thread at a time (the reporter's); cancel() from any
/// thread (an atomic flag polled by libcurl's progress callback, which libcurl calls
/// at least about once a second even while idle: a request in flight ends within
/// about a second). No signals (CURLOPT_NOSIGNAL).
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "cloud/cloud_transport.h"

namespace siax::cloud {

class CurlTransport final : public CloudTransport {
 public:
  struct Options {
    std::string base_url;  ///< e.g. "https://api.siax-system.net" (no trailing slash)
    std::string api_key;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds total_timeout{10000};
    std::size_t max_body_bytes = 1024 * 1024;
  };

  /// InvalidInput when the base URL is not http(s)://..., or the key is empty or has
  /// characters a header cannot carry; Internal when libcurl cannot start.
  [[nodiscard]] static Result<std::unique_ptr<CurlTransport>> create(Options options);
  ~CurlTransport() override;

  [[nodiscard]] Result<CloudReply> send(Method method, std::string_view path_and_query,
                                        std::string_view json_body) override;
  void cancel() noexcept override { cancelled_ = true; }

 private:
  struct Handle;
  CurlTransport(Options options, std::unique_ptr<Handle> handle);

  Options options_;
  std::unique_ptr<Handle> handle_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace siax::cloud
