#include "agent/preview_route.h"

#include <nlohmann/json.hpp>

#include "appdef/app_json.h"
#include "core/unit_renderer.h"

namespace siax::agent {
namespace {

using nlohmann::json;

http::Response admin_only() {
  return http::json_failure(http::StatusCode::forbidden, "forbidden_role",
                            "this needs the admin role; ask an admin for a token with it");
}

}  // namespace

Status install_preview_route(ApiContext& ctx) {
  return ctx.server.route(http::Method::post, "/api/apps/preview", [&ctx](http::Request req, http::Responder res) {
    const auto* id = std::any_cast<Identity>(&req.auth);
    if (id == nullptr || !auth::allows(id->role, auth::Role::Admin)) {
      res.send(admin_only());
      return;
    }
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      res.send(http::json_failure(http::StatusCode::bad_request, "invalid_json",
                                  "the body is not a JSON object: send the register body"));
      return;
    }
    // The register flags do not change the unit.
    for (const char* flag : {"start", "enable", "adopt"}) body.erase(flag);
    auto def = appdef::definition_from_json(body);
    if (!def) {
      res.send(http::error_response(def.error()));
      return;
    }
    auto job = [&ctx, res, def = *def] {
      auto content = ctx.apps.preview(def);
      if (!content) {
        res.send(http::error_response(content.error()));
        return;
      }
      res.send(http::json_success({{"unit", core::unit_name_for(def.name)}, {"content", *content}}));
    };
    if (!ctx.workers.try_post(job)) {
      res.send(http::json_failure(http::StatusCode::service_unavailable, "agent_busy",
                                  "the agent has too many operations in progress; try again in a moment",
                                  std::chrono::seconds(1)));
    }
  });
}

}  // namespace siax::agent
