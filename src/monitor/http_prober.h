#pragma once
/// Asynchronous HTTP/1.1 health probes (Boost.Asio/Beast) on a caller-owned io_context.
///
/// One probe = connect to <check.host>:<port> (loopback only: the host was validated by
/// parse_health_check; "localhost" means 127.0.0.1), send `GET <path>` with
/// "Connection: close", read the response (header at most 8 KiB, body at most 64 KiB:
/// beyond that the status already read decides), compare the status. One deadline,
/// check.timeout, covers connect + write + read, so an app that accepts the connection
/// and never answers (a stuck Node.js event loop) fails with "timed out after N ms".
///
/// Threading: probe() may be called from any thread; each probe's handlers run on its own
/// strand of the io_context (so the context may have several threads);
/// `done` is called exactly once, always from the io_context (never inside probe()).
/// Each probe owns its socket and timer (shared by the handlers), so the prober may be
/// destroyed while probes are in flight; they still complete. There is no queue: the
/// caller starts at most one probe per app per interval (HealthTracker::due()).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/health_check.h"

namespace siax::monitor {

enum class ProbeOutcome {
  Ok,         ///< the expected status came back
  BadStatus,  ///< an answer with another status
  Refused,    ///< nothing listens on the port
  Timeout,    ///< no complete answer within check.timeout
  Error,      ///< anything else: reset by peer, not HTTP, bad host, ...
};

[[nodiscard]] const char* to_string(ProbeOutcome outcome) noexcept;

struct ProbeResult {
  bool ok = false;
  ProbeOutcome outcome = ProbeOutcome::Error;
  unsigned status = 0;  ///< the HTTP status received, 0 when none
  std::chrono::milliseconds latency{0};
  /// "" when ok; else "connection refused", "timed out after 2000 ms", "status 500,
  /// expected 200", "connection reset by peer", "not an HTTP response: ...".
  std::string error;
};

class HttpProber {
 public:
  explicit HttpProber(boost::asio::io_context& io) : io_(io) {}

  static constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

  void probe(const core::HealthCheck& check, std::uint16_t port, std::function<void(ProbeResult)> done);

 private:
  boost::asio::io_context& io_;
};

}  // namespace siax::monitor
