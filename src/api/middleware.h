#pragma once
/// Authentication, roles and audit for every route of the API (docs/API.md,
/// "Authentication" and "Roles"; docs/SECURITY.md).
///
/// - install_authentication: the middleware. A bearer token (programs) or the panel's
///   session cookie, with the X-CSRF-Token header on every mutation; /api/health,
///   /api/login, the webhook (signed instead) and the panel's public files are open.
///   Bearer tokens are looked up in memory (ctx.tokens, auth::TokenCache), never in SQLite.
///   It sets Request::auth to an Identity. Refusals for missing or bad credentials are
///   counted (siax_http_unauthenticated_total), never audited.
/// - allowed: a route's role check; a refused mutation is audited.
/// - audit: the audit entry of a request (actor and role from its Identity).
///
/// Thread: the io thread. No disk: tokens are in memory; writes (audit, token last-use)
/// go to the workers.
#include <string>

#include "api/context.h"

namespace siax::api {

[[nodiscard]] Status install_authentication(ApiContext& ctx);

[[nodiscard]] const Identity* identity_of(const http::Request& req);
[[nodiscard]] bool is_mutation(http::Method method);
[[nodiscard]] bool has_role(const http::Request& req, auth::Role need);
/// 403 "forbidden_role" naming the role needed.
[[nodiscard]] http::Response forbidden(auth::Role need);

/// Sends 403 (and audits a refused mutation) unless the caller has `need`.
[[nodiscard]] bool allowed(ApiContext& ctx, const http::Request& req, const http::Responder& res, auth::Role need,
                           const std::string& action, const std::string& target);

/// Appends the request's entry to the audit log (off the io thread, see AuditLog).
void audit(ApiContext& ctx, const http::Request& req, std::string action, std::string target, std::string result,
           std::string detail = {});

/// The request's caller, for Admission::admit.
[[nodiscard]] Caller caller_of(const http::Request& req);

}  // namespace siax::api
