#pragma once
/// The live logs' routes (WS /logs[/:app_name], GET /api/apps/:name/logs,
/// GET /api/agent/logs) are served by logs::LogEndpoint (src/logs); this is what the API
/// gives it: who may read which log, whether an app exists, where blocking work runs.
/// docs/API.md, "Live logs".
#include "api/context.h"
#include "logs/endpoint.h"

namespace siax::api {

/// The agent's own log is for admins (it tells about every app and every refusal); an
/// app's log for every role. The middleware has authenticated the request already.
[[nodiscard]] bool may_read_log(const http::Request& req);

/// The endpoint's dependencies, backed by the API's registry and workers.
[[nodiscard]] logs::LogEndpointDeps log_endpoint_deps(ApiContext& ctx);

/// Registers the endpoint's routes on ctx.server.
[[nodiscard]] Status install_logs_routes(ApiContext& ctx, logs::LogEndpoint& endpoint);

}  // namespace siax::api
