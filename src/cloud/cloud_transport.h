#pragma once
/// Port: one HTTP exchange with the cloud. The real adapter is CurlTransport
/// (curl_transport.h); tests use a scripted fake (tests/unit/cloud/fake_transport.h).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace siax::cloud {

enum class Method { Get, Post, Put };

[[nodiscard]] constexpr const char* to_string(Method method) noexcept {
  switch (method) {
    case Method::Get: return "GET";
    case Method::Post: return "POST";
    case Method::Put: return "PUT";
  }
  return "GET";
}

/// What the cloud answered. Any HTTP status is a reply (the caller judges it); only
/// "no answer at all" is an error.
struct CloudReply {
  int status = 0;     ///< HTTP status code
  std::string body;   ///< at most the transport's body limit
  /// The Retry-After header in seconds, when the cloud sent one (429, 503).
  std::optional<std::chrono::seconds> retry_after;
};

/// Thread: send() is called by one thread at a time (the reporter's); cancel() may be
/// called from any thread while send() runs.
class CloudTransport {
 public:
  virtual ~CloudTransport() = default;

  /// Sends `method path_and_query` (e.g. "/api/apps_servcs/apps?name=x&server=y",
  /// already URL-encoded) with `json_body` as the body ("" = no body). Blocks for at
  /// most the transport's timeouts.
  /// Errors: Unavailable (cannot connect, TLS failure, connection reset, cancelled),
  /// Timeout (no complete reply in time), Internal (reply larger than the limit, bug).
  [[nodiscard]] virtual Result<CloudReply> send(Method method, std::string_view path_and_query,
                                                std::string_view json_body) = 0;

  /// Makes the send() in progress (if any) and every later one fail promptly with
  /// Unavailable "cloud_cancelled". For shutdown: it cannot be undone.
  virtual void cancel() noexcept = 0;
};

}  // namespace siax::cloud
