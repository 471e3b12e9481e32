// The panel's session: POST /api/login (open, throttled per address), POST /api/logout,
// GET /api/session. docs/API.md, "Authentication"; docs/SECURITY.md.
#include "api/route_support.h"
#include "auth/passwords.h"
#include "auth/tokens.h"

namespace siax::api {
namespace {

/// A hash of nothing anyone knows: an unknown user name costs the same PBKDF2 work as a
/// known one (no timing oracle for which users exist).
const std::string& decoy_password_hash() {
  static const std::string hash = [] {
    auto h = auth::hash_password("decoy: no user has this password");
    return h ? *h : std::string();
  }();
  return hash;
}

/// On a worker: checks the password and opens the session.
http::Response finish_login(ApiContext& ctx, Request req, const std::string& username, const std::string& password,
                            const std::string& key) {
  auto user = ctx.registry.get_user(username);
  const bool known = user && *user;
  const bool verified = auth::verify_password(password, known ? (*user)->password_hash : decoy_password_hash());
  if (!(known && verified)) {
    audit(ctx, req, "login", "", "invalid_credentials", username.size() <= 64 ? username : username.substr(0, 64));
    return http::json_failure(StatusCode::unauthorized, "invalid_credentials", "wrong user name or password");
  }
  ctx.logins.record_success(key);
  auto session = ctx.sessions.create(username, (*user)->role, registry::credential_stamp(**user));
  if (!session) return http::error_response(session.error());
  req.auth = Identity{"user:" + username, session->role, true};
  audit(ctx, req, "login", "", "ok");
  auto r = http::json_success(
      {{"username", username}, {"role", auth::to_string(session->role)}, {"csrf_token", session->csrf_token}});
  r.headers.add("Set-Cookie", auth::session_cookie(session->id, ctx.sessions.options().absolute_lifetime, ctx.tls));
  return r;
}

void login(ApiContext& ctx, const Request& req, const Responder& res) {
  // A form post from another site cannot send application/json without a CORS preflight.
  if (!is_json_content_type(req.header("Content-Type"))) {
    res.send(http::json_failure(StatusCode::unsupported_media_type, "json_required",
                                "send the login as JSON with 'Content-Type: application/json'"));
    return;
  }
  const std::string key = auth::limiter_key(req.remote_address);  // IPv6: the /64
  auto check = ctx.logins.check(key);
  if (!check) {
    ctx.metrics.count_unauthenticated();  // not audited: a flood would flush the audit log
    res.send(http::json_failure(StatusCode::too_many_requests, "too_many_logins",
                                "too many failed logins from this address; wait and try again",
                                std::chrono::seconds(check.retry_after_seconds())));
    return;
  }
  auto body = parse_body(req);
  if (!body || !body->is_object() || !(*body)["username"].is_string() || !(*body)["password"].is_string()) {
    res.send(http::json_failure(StatusCode::bad_request, "invalid_login",
                                "send {\"username\": \"...\", \"password\": \"...\"}"));
    return;
  }
  std::string username = (*body)["username"];
  std::string password = (*body)["password"];
  // Counted as a failure before the answer (and before the work): parallel guesses cannot
  // outrun the limiter. A success clears it.
  (void)ctx.logins.record_failure(key);
  // PBKDF2 costs tens of milliseconds of CPU: never on the io thread.
  on_worker(ctx, res, [&ctx, req, username, password, key] { return finish_login(ctx, req, username, password, key); });
}

void logout(ApiContext& ctx, const Request& req, const Responder& res) {
  if (auto cookie = req.header("Cookie")) {
    if (auto sid = auth::session_id_from_cookie_header(*cookie, ctx.tls)) ctx.sessions.remove(*sid);
  }
  audit(ctx, req, "logout", "", "ok");
  auto r = http::json_success({{"logged_out", true}});
  r.headers.add("Set-Cookie", auth::clear_session_cookie(ctx.tls));
  res.send(std::move(r));
}

void session(ApiContext& ctx, const Request& req, const Responder& res) {
  const auto* id = identity_of(req);
  json data = {{"actor", id != nullptr ? id->actor : ""},
               {"role", id != nullptr ? std::string(auth::to_string(id->role)) : ""}};
  if (id != nullptr && id->via_session) {
    if (auto cookie = req.header("Cookie")) {
      if (auto sid = auth::session_id_from_cookie_header(*cookie, ctx.tls)) {
        if (auto found = ctx.sessions.find(*sid)) data["csrf_token"] = found->csrf_token;
      }
    }
  }
  res.send(http::json_success(data));
}

}  // namespace

Status install_session_routes(ApiContext& ctx) {
  auto& s = ctx.server;
  for (auto r : {s.route(Method::post, "/api/login", bound(ctx, login)),
                 s.route(Method::post, "/api/logout", bound(ctx, logout)),
                 s.route(Method::get, "/api/session", bound(ctx, session))}) {
    if (!r) return r;
  }
  return ok();
}

}  // namespace siax::api
