#include "api/middleware.h"

#include <fmt/format.h>

#include "api/webhook_routes.h"
#include "auth/tokens.h"
#include "panel/panel.h"

namespace siax::api {
namespace {

using http::Request;
using http::Response;
using http::StatusCode;

/// 401 with WWW-Authenticate; counted, not audited: strangers must not be able to flush
/// the audit log.
Response unauthorized(ApiContext& ctx, std::string code, std::string message) {
  ctx.metrics.count_unauthenticated();
  auto refusal = http::json_failure(StatusCode::unauthorized, code, message);
  refusal.headers.add("WWW-Authenticate", "Bearer realm=\"siax-agent\"");
  return refusal;
}

bool is_open(const Request& req) {
  if (req.route == "/api/health" || req.route == "/api/login") return true;
  if (req.route == kWebhookRoute) return true;  // signed instead (webhook_routes.h)
  return panel::is_public(req);                 // the panel's pages and files: no data
}

std::optional<Response> by_token(ApiContext& ctx, Request& req, std::string_view header) {
  auto token = auth::bearer_from_header(header);
  if (!token) return unauthorized(ctx, "invalid_authorization", "use 'Authorization: Bearer <token>'");
  auto hash = auth::hash_token(*token);
  if (!hash) return unauthorized(ctx, "invalid_token", "the token is not valid");
  // From memory (auth::TokenCache, kept in step by TokenSync): no disk on this thread.
  if (ctx.tokens == nullptr) {
    return http::json_failure(StatusCode::service_unavailable, "tokens_unavailable",
                              "this agent does not check API tokens: log in to the panel");
  }
  auto rec = ctx.tokens->find(*hash);
  if (!rec) {
    return unauthorized(ctx, "invalid_token",
                        "the token is unknown or revoked: create one with 'siax-agent token create'");
  }
  req.auth = Identity{"token:" + rec->name, rec->role, false};
  // When it was last used (for 'siax-agent token list'): at most once a minute per token,
  // written on a worker (skipped when the pool is full; it is only a hint).
  const std::int64_t now = ctx.now_usec();
  if (ctx.tokens->note_use(*hash, now, 60'000'000)) {
    (void)ctx.workers.try_post([&ctx, id = rec->id, now] { (void)ctx.registry.touch_token(id, now); });
  }
  return std::nullopt;
}

std::optional<Response> by_session(ApiContext& ctx, Request& req, std::string_view cookie) {
  auto sid = auth::session_id_from_cookie_header(cookie, ctx.tls);
  auto session = sid ? ctx.sessions.find(*sid) : std::nullopt;
  if (!session) return unauthorized(ctx, "session_expired", "log in again");
  req.auth = Identity{"user:" + session->username, session->role, true};
  // Logout too: a cross-site request must not be able to log the admin out.
  if (is_mutation(req.method) && !auth::check_csrf(*session, req.header(auth::kCsrfHeaderName).value_or(""))) {
    audit(ctx, req, req.method_text + " " + req.route, "", "csrf_failed");
    return http::json_failure(StatusCode::forbidden, "csrf_failed",
                              "missing or wrong X-CSRF-Token header: reload the panel");
  }
  return std::nullopt;
}

}  // namespace

Status install_authentication(ApiContext& ctx) {
  return ctx.server.use([&ctx](Request& req) -> std::optional<Response> {
    if (is_open(req)) return std::nullopt;
    if (auto header = req.header("Authorization")) return by_token(ctx, req, *header);
    if (auto cookie = req.header("Cookie")) return by_session(ctx, req, *cookie);
    return unauthorized(ctx, "authentication_required",
                        "send 'Authorization: Bearer <token>' (create one with 'siax-agent token create') or log "
                        "in to the panel");
  });
}

bool is_mutation(http::Method m) {
  using http::Method;
  return m == Method::post || m == Method::put || m == Method::delete_ || m == Method::patch;
}

const Identity* identity_of(const Request& req) { return std::any_cast<Identity>(&req.auth); }

bool has_role(const Request& req, auth::Role need) {
  const auto* id = identity_of(req);
  return id != nullptr && auth::allows(id->role, need);
}

Response forbidden(auth::Role need) {
  return http::json_failure(StatusCode::forbidden, "forbidden_role",
                            fmt::format("this needs the {} role; ask an admin for a token with it",
                                        auth::to_string(need)));
}

bool allowed(ApiContext& ctx, const Request& req, const http::Responder& res, auth::Role need,
             const std::string& action, const std::string& target) {
  if (has_role(req, need)) return true;
  if (is_mutation(req.method)) audit(ctx, req, action, target, "forbidden_role");
  res.send(forbidden(need));
  return false;
}

Caller caller_of(const Request& req) {
  Caller c;
  if (const auto* id = identity_of(req)) {
    c.actor = id->actor;
    c.role = std::string(auth::to_string(id->role));
  } else {
    c.actor = "anonymous";
  }
  c.source = req.remote_address;
  return c;
}

void audit(ApiContext& ctx, const Request& req, std::string action, std::string target, std::string result,
           std::string detail) {
  const Caller c = caller_of(req);
  registry::AuditEntry e;
  e.at_usec = ctx.now_usec();
  e.actor = c.actor;
  e.role = c.role;
  e.action = std::move(action);
  e.target = std::move(target);
  e.source = c.source;
  e.result = std::move(result);
  e.detail = std::move(detail);
  ctx.audit_log.append(std::move(e));
}

}  // namespace siax::api
