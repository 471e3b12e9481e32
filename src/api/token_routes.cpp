// POST /api/tokens/reload (admin): the CLI calls it after `token create|revoke`, so that
// the change is in effect when the CLI returns (the registry watch alone could lag the
// CLI's exit by a few milliseconds). docs/API.md, docs/SECURITY.md.
#include "api/route_support.h"

namespace siax::api {
namespace {

void reload_tokens(ApiContext& ctx, const http::Request& req, const http::Responder& res) {
  if (!has_role(req, auth::Role::Admin)) {
    res.send(http::json_failure(http::StatusCode::forbidden, "forbidden_role",
                                "reloading the API tokens needs the admin role"));
    return;
  }
  if (ctx.token_sync == nullptr) {
    res.send(http::json_failure(http::StatusCode::service_unavailable, "tokens_unavailable",
                                "this agent does not check API tokens"));
    return;
  }
  // Reads the token table on a worker; answers once the cache holds it: {"tokens": N}.
  const bool posted = ctx.token_sync->reload([res](Result<std::size_t> held) {
    if (!held) {
      res.send(http::error_response(held.error()));
      return;
    }
    res.send(http::json_success({{"tokens", *held}}));
  });
  if (!posted) {
    res.send(http::json_failure(http::StatusCode::service_unavailable, "busy", "the agent is busy: retry in a moment",
                                std::chrono::seconds(1)));
  }
}

}  // namespace

Status install_token_routes(ApiContext& ctx) {
  return ctx.server.route(http::Method::post, "/api/tokens/reload", bound(ctx, reload_tokens));
}

}  // namespace siax::api
