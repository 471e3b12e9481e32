#include "api/logs_routes.h"

#include "api/middleware.h"

namespace siax::api {

bool may_read_log(const http::Request& req) {
  if (req.route != "/logs" && req.route != "/api/agent/logs") return true;
  const auto* id = identity_of(req);
  return id != nullptr && id->role == auth::Role::Admin;
}

logs::LogEndpointDeps log_endpoint_deps(ApiContext& ctx) {
  logs::LogEndpointDeps deps;
  deps.app_exists = [&registry = ctx.registry](const std::string& name) {
    auto app = registry.get_app(name);
    return app && app->has_value();
  };
  deps.run_blocking = [&workers = ctx.workers](std::function<void()> task) { return workers.try_post(std::move(task)); };
  deps.authorized = may_read_log;
  return deps;
}

Status install_logs_routes(ApiContext& ctx, logs::LogEndpoint& endpoint) { return endpoint.install(ctx.server); }

}  // namespace siax::api
