// The apps: reads (from the live state when it is ready, else systemd) and the registry
// mutations (register, update, delete). docs/API.md, "Apps".
#include <fmt/format.h>

#include "api/live_reads.h"
#include "api/route_support.h"
#include "api/views.h"
#include "appdef/app_json.h"
#include "appdef/redact.h"
#include "core/validation.h"

namespace siax::api {
namespace {

void list_apps(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "list", "")) return;
  if (live_list(ctx, req, res)) return;  // from the live state
  on_worker(ctx, res, [&ctx] {
    // One ListUnitsByPatterns call, plus a status read only for the apps whose state
    // moved since the monitor's last cycle (docs/PERFORMANCE.md, "HTTP API").
    auto apps = ctx.monitor != nullptr
                    ? ctx.apps.list([m = ctx.monitor](const std::string& app) { return m->unit_status(app); })
                    : ctx.apps.list();
    if (!apps) return http::error_response(apps.error());
    json list = json::array();
    for (const auto& v : *apps) list.push_back(summary_json(ctx, v));
    return http::json_success(list);
  });
}

void get_app(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "get", "")) return;
  // Environment values may be secrets: only admins see them.
  const auto* caller = identity_of(req);
  const bool admin = caller != nullptr && caller->role == auth::Role::Admin;
  if (live_detail(ctx, req, res, *req.param("name"), admin)) return;  // from memory unless ?fresh=1
  on_worker(ctx, res, [&ctx, name = *req.param("name"), admin] {
    auto v = ctx.apps.get(name);
    if (!v) return http::error_response(v.error());
    json data = detail_json(ctx, *v);
    if (auto files = ctx.apps.unit_files(name)) data["unit_file"] = unit_file_json(files->first, files->second, admin);
    if (!admin) data["definition"] = appdef::redact_definition(std::move(data["definition"]));
    return http::json_success(data);
  });
}

void app_status(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "status", "")) return;
  if (live_status(ctx, req, res, *req.param("name"))) return;  // the reconciled status, from memory
  on_worker(ctx, res, [&ctx, name = *req.param("name")] {
    auto v = ctx.apps.get(name);
    if (!v) return http::error_response(v.error());
    if (!v->status) return http::json_failure(StatusCode::service_unavailable, "systemd_unavailable", v->status_error);
    return http::json_success(status_json(ctx, *v));
  });
}

/// The register body: the definition, checked, and the flags beside it.
Result<std::pair<core::AppDefinition, agent::RegisterOptions>> register_request(json& body) {
  agent::RegisterOptions opts;
  for (auto [key, flag] : {std::pair{"enable", &opts.enable}, {"start", &opts.start}, {"adopt", &opts.adopt}}) {
    auto v = take_flag(body, key);
    if (!v) return tl::unexpected(v.error());
    *flag = *v;
  }
  auto def = appdef::definition_from_json(body);
  if (!def) return tl::unexpected(def.error());
  if (auto s = core::validate_definition(*def); !s) return tl::unexpected(s.error());
  return std::pair{std::move(*def), opts};
}

void register_app(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Admin, "register", "")) return;
  auto body = parse_body(req);
  auto parsed = body ? register_request(*body) : tl::unexpected(body.error());
  if (!parsed) {
    std::string target;
    if (body && body->is_object() && body->contains("app_name") && (*body)["app_name"].is_string()) {
      target = (*body)["app_name"].get<std::string>();
    }
    audit(ctx, req, "register", core::validate_app_name(target) ? target : "", parsed.error().code);
    res.send(http::error_response(parsed.error()));
    return;
  }
  auto& [def, opts] = *parsed;
  auto admitted = ctx.admission.admit(def.name, "register", caller_of(req), RateWindow::Skip);
  if (!admitted) {
    res.send(std::move(admitted.error().response));
    return;
  }
  on_worker(ctx, res, [&ctx, req, def = def, opts = opts, held = *admitted] {
    auto out = ctx.apps.register_app(def, opts);
    held->release();
    ctx.metrics.count_operation(def.name, "register", out ? "ok" : out.error().code);
    audit(ctx, req, "register", def.name, out ? "ok" : out.error().code, out ? "" : out.error().message);
    if (!out) return http::error_response(out.error());
    feed_live(ctx, out->app);
    if (ctx.monitor != nullptr) ctx.monitor->trigger(def.name);
    json data = detail_json(ctx, out->app);
    data["unit_path"] = out->unit_path;
    if (out->start_error) {
      data["start_error"] = {{"code", out->start_error->code}, {"message", out->start_error->message}};
    }
    return http::json_success(data, StatusCode::created);
  });
}

/// The update body: the definition of the app the URL names (the name may be left out).
Result<core::AppDefinition> update_request(const Request& req, const std::string& name) {
  auto body = parse_body(req);
  if (!body) return tl::unexpected(body.error());
  if (body->is_object() && !body->contains("app_name") && !body->contains("name")) (*body)["app_name"] = name;
  auto def = appdef::definition_from_json(*body);
  if (!def) return def;
  if (def->name != name) {
    return fail(ErrorKind::InvalidInput, "name_mismatch",
                fmt::format("the body names app '{}' but the URL names '{}': an app cannot be renamed", def->name,
                            name));
  }
  if (auto s = core::validate_definition(*def); !s) return tl::unexpected(s.error());
  return def;
}

void update_app(ApiContext& ctx, const Request& req, const Responder& res) {
  const std::string name = *req.param("name");
  if (!allowed(ctx, req, res, auth::Role::Admin, "update", name)) return;
  auto def = update_request(req, name);
  if (!def) {
    audit(ctx, req, "update", core::validate_app_name(name) ? name : "", def.error().code);
    res.send(http::error_response(def.error()));
    return;
  }
  auto admitted = ctx.admission.admit(name, "update", caller_of(req), RateWindow::Skip);
  if (!admitted) {
    res.send(std::move(admitted.error().response));
    return;
  }
  on_worker(ctx, res, [&ctx, req, def = *def, held = *admitted] {
    auto out = ctx.apps.update_app(def);
    held->release();
    ctx.metrics.count_operation(def.name, "update", out ? "ok" : out.error().code);
    audit(ctx, req, "update", def.name, out ? "ok" : out.error().code, out ? "" : out.error().message);
    if (!out) return http::error_response(out.error());
    feed_live(ctx, *out);
    if (ctx.monitor != nullptr) ctx.monitor->trigger(def.name);
    return http::json_success(detail_json(ctx, *out));
  });
}

void delete_app(ApiContext& ctx, const Request& req, const Responder& res) {
  const std::string name = *req.param("name");
  if (!allowed(ctx, req, res, auth::Role::Admin, "delete", name)) return;
  if (auto s = core::validate_app_name(name); !s) {
    audit(ctx, req, "delete", "", s.error().code);
    res.send(http::error_response(s.error()));
    return;
  }
  auto admitted = ctx.admission.admit(name, "delete", caller_of(req), RateWindow::Skip);
  if (!admitted) {
    res.send(std::move(admitted.error().response));
    return;
  }
  on_worker(ctx, res, [&ctx, req, name, held = *admitted] {
    if (ctx.monitor != nullptr) ctx.monitor->hold(name);  // no drift event while its unit goes
    auto s = ctx.apps.unregister(name);
    if (ctx.monitor != nullptr && !s) ctx.monitor->release(name);
    held->release();
    ctx.metrics.count_operation(name, "delete", s ? "ok" : s.error().code);
    audit(ctx, req, "delete", name, s ? "ok" : s.error().code, s ? "" : s.error().message);
    if (!s) return http::error_response(s.error());
    if (ctx.live != nullptr) ctx.live->app_removed(name);
    return http::json_success({{"app", name}, {"deleted", true}});
  });
}

}  // namespace

Status install_app_routes(ApiContext& ctx) {
  auto& s = ctx.server;
  auto bind = [&ctx](RouteFn fn) { return bound(ctx, fn); };
  for (auto r : {s.route(Method::get, "/api/apps", bind(list_apps)),
                 s.route(Method::get, "/api/apps/:name", bind(get_app)),
                 s.route(Method::get, "/api/apps/:name/status", bind(app_status)),
                 s.route(Method::post, "/api/apps/register", bind(register_app)),
                 s.route(Method::put, "/api/apps/:name", bind(update_app)),
                 s.route(Method::delete_, "/api/apps/:name", bind(delete_app))}) {
    if (!r) return r;
  }
  return ok();
}

}  // namespace siax::api
