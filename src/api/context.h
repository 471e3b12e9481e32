#pragma once
/// What every route of the HTTP API works with: the modules it calls (ports and
/// services), the shared counters, and who made the request. Built once by the
/// composition root (src/app/agent.cpp) with designated initializers: every member is
/// named where it is set, so two members of the same type cannot be swapped unnoticed.
///
/// Thread: the context is read by the io thread (handlers, middleware) and by the
/// workers (the jobs handlers hand over); its members are thread-safe or set before the
/// server starts.
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/app_service.h"
#include "agent/live_state.h"
#include "agent/monitor_service.h"
#include "agent/state_stream.h"
#include "agent/token_sync.h"
#include "agent/worker_pool.h"
#include "api/admission.h"
#include "api/audit_log.h"
#include "api/metrics.h"
#include "auth/login_limiter.h"
#include "auth/roles.h"
#include "auth/sessions.h"
#include "auth/token_cache.h"
#include "http/server.h"
#include "registry/registry.h"
#include "units/app_units.h"

namespace siax::agent::webhook {
class Verifier;  // agent/webhook.h
}  // namespace siax::agent::webhook

namespace siax::api {

/// Who made a request, set by the authentication middleware into Request::auth.
struct Identity {
  std::string actor;  ///< "token:<name>", "user:<name>"
  auth::Role role = auth::Role::Viewer;
  bool via_session = false;
};

struct ApiContext {
  agent::AppService& apps;
  registry::Registry& registry;
  /// The one admission point for operations on an app (serializer, rate limit, audit of
  /// refusals); shared with the monitor's health restarts.
  Admission& admission;
  AuditLog& audit_log;
  auth::SessionStore& sessions;
  auth::LoginLimiter& logins;
  agent::WorkerPool& workers;
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
  agent::MonitorService* monitor = nullptr;
  /// Extra facts for GET /api/system (e.g. the cloud link's state). May be empty.
  std::function<nlohmann::json()> system_extra{};
  /// Extra Prometheus lines for /metrics (e.g. the live logs' and the cloud's). May be empty.
  std::function<std::string()> metrics_extra{};
  /// The signed webhook (POST /webhook/command); nullptr: it is off and answers 404.
  agent::webhook::Verifier* webhook = nullptr;
  /// Where unexpected failures are logged (any thread). May be empty.
  std::function<void(std::string_view)> warn{};
  /// The live state. With it, GET /api/apps, /api/apps/:name, .../status and /metrics
  /// answer from memory once the store is ready; the API's mutations feed it.
  /// nullptr: every read asks systemd.
  agent::LiveFeed* live = nullptr;
  /// GET /api/stream; nullptr: the route answers 503.
  agent::StateStream* stream = nullptr;
  /// The active API tokens in memory (kept in step with the registry by TokenSync): bearer
  /// tokens are checked here, never against the registry on the io thread. nullptr: bearer
  /// tokens are refused with 503 (the panel's sessions still work).
  auth::TokenCache* tokens = nullptr;
  /// Reloads `tokens` from the registry (POST /api/tokens/reload); nullptr: that route
  /// answers 503.
  agent::TokenSync* token_sync = nullptr;
};

}  // namespace siax::api
