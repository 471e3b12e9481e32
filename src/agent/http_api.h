#pragma once
/// The agent's REST API on top of the HTTP server: authentication and roles, the app
/// endpoints (the seed's and the ones around them), rate limiting and serialization of
/// operations, the audit log, /metrics. Every endpoint and message is in docs/API.md.
///
/// Thread: handlers and the middleware run on the server's io thread and never block
/// there beyond an indexed SQLite read (token lookup); everything that waits on systemd
/// or writes SQLite runs on the WorkerPool and answers through the Responder.
#include <atomic>
#include <thread>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/app_service.h"
#include "agent/live_state.h"
#include "agent/monitor_service.h"
#include "agent/state_stream.h"
#include "agent/worker_pool.h"
#include "auth/login_limiter.h"
#include "auth/roles.h"
#include "auth/sessions.h"
#include "auth/token_cache.h"
#include "http/server.h"
#include "orchestrator/op_serializer.h"
#include "orchestrator/rate_limiter.h"
#include "registry/registry.h"
#include "units/app_units.h"

namespace siax::agent {

namespace webhook {
class Verifier;  // agent/webhook.h
}  // namespace webhook

/// Who made a request, set by the authentication middleware into Request::auth.
struct Identity {
  std::string actor;  ///< "token:<name>", "user:<name>"
  auth::Role role = auth::Role::Viewer;
  bool via_session = false;
};

/// Counters for /metrics (thread-safe).
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

struct ApiContext {
  AppService& apps;
  registry::Registry& registry;
  orchestrator::RateLimiter& limiter;
  orchestrator::OpSerializer& ops;
  auth::SessionStore& sessions;
  auth::LoginLimiter& logins;
  WorkerPool& workers;
  Metrics& metrics;
  http::Server& server;
  /// What the agent may do on the host (runs on a worker).
  std::function<units::Permissions()> permissions;
  std::function<std::int64_t()> now_usec;
  std::string version;
  std::string hostname;
  bool tls = false;
  /// The monitor (reconciled states, scans, events); nullptr: the API reports systemd's
  /// view only and the monitor routes answer 503.
  MonitorService* monitor = nullptr;
  /// Extra facts for GET /api/system (e.g. the cloud link's state). May be empty.
  std::function<nlohmann::json()> system_extra;
  /// Extra Prometheus lines for /metrics (e.g. the live logs' and the cloud's). May be empty.
  std::function<std::string()> metrics_extra;
  /// The signed webhook (POST /webhook/command); nullptr: it is off and answers 404.
  webhook::Verifier* webhook = nullptr;
  /// The thread that runs the io_context (set by install_api, which runs on it before
  /// `run`): audit writes from it go to a worker or are dropped, never inline.
  std::thread::id io_thread{};
  /// Where unexpected failures are logged (any thread). May be empty.
  std::function<void(std::string_view)> warn{};
  /// The live state (issue 12). With it, GET /api/apps, /api/apps/:name, .../status and
  /// /metrics answer from memory once the store is ready; the API's mutations feed it.
  /// nullptr: every read asks systemd as before.
  LiveFeed* live = nullptr;
  /// GET /api/stream; nullptr: the route answers 503.
  StateStream* stream = nullptr;
  /// The active API tokens in memory (kept in step with the registry by TokenSync): bearer
  /// tokens are checked here, never against the registry on the io thread. nullptr: bearer
  /// tokens are refused with 503 (the panel's sessions still work).
  auth::TokenCache* tokens = nullptr;
};

/// Registers the middleware and every route on ctx.server.
[[nodiscard]] Status install_api(ApiContext& ctx);

}  // namespace siax::agent
