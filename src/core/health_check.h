#pragma once
/// An app's optional HTTP health check, part of its definition. Pure value type.
///
/// The agent GETs http://<host>:<port><path> every `interval` (host: loopback only, so
/// a definition cannot turn the agent into a scanner of other hosts); an answer with
/// `expected_status` within `timeout` is a pass. After `failures_before_unhealthy`
/// consecutive failures the app is `unhealthy`; one pass makes it healthy again. With
/// `restart_when_unhealthy`, the agent restarts an unhealthy app (within the app's rate
/// limit).
#include <chrono>
#include <cstdint>
#include <string>

namespace siax::core {

struct HealthCheck {
  std::string host = "127.0.0.1";  ///< loopback only (127.0.0.1, ::1, localhost)
  std::uint16_t port = 0;          ///< 0: the app's own port
  std::string path = "/";          ///< starts with '/'
  unsigned expected_status = 200;
  std::chrono::milliseconds interval{10'000};
  std::chrono::milliseconds timeout{2'000};
  std::uint32_t failures_before_unhealthy = 3;
  bool restart_when_unhealthy = false;

  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

}  // namespace siax::core
