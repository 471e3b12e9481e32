#pragma once
/// One function per group of routes; install_api (api.h) calls them in a short list.
/// Each registers its routes on ctx.server (before it starts) and documents them in
/// docs/API.md. How to add one: docs/STYLE.md, "How to add an endpoint".
///
/// Thread: the handlers run on the io thread and never block: anything that waits on
/// systemd, SQLite or the CPU goes to the workers through on_worker (dispatch.h).
#include "api/context.h"

namespace siax::api {

/// A route's handler as a plain function: `void list_apps(ApiContext&, const Request&,
/// const Responder&)`; bound(ctx, list_apps) makes the server's Handler of it.
using RouteFn = void (*)(ApiContext&, const http::Request&, const http::Responder&);
[[nodiscard]] inline http::Handler bound(ApiContext& ctx, RouteFn fn) {
  return [&ctx, fn](http::Request req, http::Responder res) { fn(ctx, req, res); };
}

/// GET /api/health, GET /api/system, GET /metrics, GET /api/audit, POST /api/recover.
[[nodiscard]] Status install_system_routes(ApiContext& ctx);
/// POST /api/login, POST /api/logout, GET /api/session.
[[nodiscard]] Status install_session_routes(ApiContext& ctx);
/// GET /api/apps, GET /api/apps/:name, GET /api/apps/:name/status,
/// POST /api/apps/register, PUT /api/apps/:name, DELETE /api/apps/:name.
[[nodiscard]] Status install_app_routes(ApiContext& ctx);
/// POST /api/apps/:name/start|stop|restart|enable|disable.
[[nodiscard]] Status install_lifecycle_routes(ApiContext& ctx);
/// POST /api/apps/preview.
[[nodiscard]] Status install_preview_routes(ApiContext& ctx);
/// GET /api/stream.
[[nodiscard]] Status install_stream_routes(ApiContext& ctx);
/// GET /api/scan, GET|POST|DELETE /api/monitored, GET /api/events.
[[nodiscard]] Status install_monitor_routes(ApiContext& ctx);
/// POST /api/tokens/reload.
[[nodiscard]] Status install_token_routes(ApiContext& ctx);
/// POST /webhook/command (webhook_routes.h).
[[nodiscard]] Status install_webhook_routes(ApiContext& ctx);

}  // namespace siax::api
