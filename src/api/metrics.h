#pragma once
/// The API's own counters for GET /metrics (thread-safe), and the agent's process
/// figures (resident memory, open descriptors from /proc/self). The route that serves
/// them is in system_routes.cpp; every metric is listed in docs/API.md.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "http/server.h"

namespace siax::api {

class Metrics {
 public:
  void count_operation(const std::string& app, const std::string& verb, const std::string& result);
  void count_rate_limited(const std::string& app);
  /// A request refused for missing or bad credentials (counted, never audited: anyone can
  /// send them, and the audit log must not be flushable by strangers).
  void count_unauthenticated() noexcept { unauthenticated_.fetch_add(1); }
  /// An audit entry dropped because the workers were full and the caller was the io
  /// thread (SQLite never runs there).
  void count_audit_dropped() noexcept { audit_dropped_.fetch_add(1); }
  /// A webhook request refused before its sender proved to hold the secret (counted by
  /// code; audited only as a summary, see webhook::RefusalDigest). At most 32 codes.
  void count_webhook_refused(std::string_view code);
  [[nodiscard]] std::uint64_t rate_limited(const std::string& app) const;
  [[nodiscard]] std::string render(const http::ServerStats& http, std::size_t workers_pending,
                                   std::uint64_t workers_rejected) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> operations_;
  std::map<std::string, std::uint64_t> rate_limited_;
  std::map<std::string, std::uint64_t, std::less<>> webhook_refused_;
  std::atomic<std::uint64_t> unauthenticated_{0};
  std::atomic<std::uint64_t> audit_dropped_{0};
};

}  // namespace siax::api
