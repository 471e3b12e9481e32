// POST /api/apps/preview (admin): the unit file a register body would produce, checked
// like a register (syntax and host checks) but with nothing written, reloaded or
// recorded. The panel's form shows it before the user registers. See docs/API.md.
#include "api/route_support.h"
#include "appdef/app_json.h"
#include "core/unit_renderer.h"

namespace siax::api {
namespace {

void preview(ApiContext& ctx, const http::Request& req, const http::Responder& res) {
  // Nothing changes: a refusal is not audited.
  if (!has_role(req, auth::Role::Admin)) {
    res.send(forbidden(auth::Role::Admin));
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
  on_worker(ctx, res, [&ctx, def = *def] {
    auto content = ctx.apps.preview(def);
    if (!content) return http::error_response(content.error());
    return http::json_success({{"unit", core::unit_name_for(def.name)}, {"content", *content}});
  });
}

}  // namespace

Status install_preview_routes(ApiContext& ctx) {
  return ctx.server.route(http::Method::post, "/api/apps/preview",
                          [&ctx](http::Request req, http::Responder res) { preview(ctx, req, res); });
}

}  // namespace siax::api
