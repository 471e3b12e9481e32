// The monitor: GET /api/scan (processes), GET|POST|DELETE /api/monitored (watched
// processes), GET /api/events. docs/API.md, "Monitor".
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "api/route_support.h"
#include "api/views.h"
#include "monitor/reconcile.h"
#include "procscan/process_filter.h"

namespace siax::api {
namespace {

http::Response monitor_off() {
  return http::json_failure(StatusCode::service_unavailable, "monitor_off", "the monitor is not running");
}

void scan(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "scan", "")) return;
  auto q = [&req](const char* key) {
    const auto* v = req.query_param(key);
    return v != nullptr ? *v : std::string();
  };
  auto filter = procscan::parse_scan_filter(q("kind"), q("user"), q("q").empty() ? q("text") : q("q"));
  if (!filter) {
    res.send(http::error_response(filter.error()));
    return;
  }
  if (ctx.monitor == nullptr) {
    res.send(monitor_off());
    return;
  }
  on_worker(ctx, res, [&ctx, f = *filter] {
    auto table = ctx.monitor->scan_processes();
    if (!table) return http::error_response(table.error());
    std::set<std::string> monitored;
    if (auto m = ctx.registry.list_monitored()) {
      for (const auto& p : *m) monitored.insert(p.key);
    }
    json list = json::array();
    for (const auto& p : procscan::filter_processes(*table, f)) list.push_back(scanned_process_json(p, monitored));
    return http::json_success(list);
  });
}

void list_monitored(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "monitored", "")) return;
  if (ctx.live != nullptr && ctx.live->store().ready()) {  // from the live state, no SQLite
    res.send(http::json_success(json(ctx.live->store().all_monitored())));
    return;
  }
  on_worker(ctx, res, [&ctx] {
    auto specs = ctx.registry.list_monitored();
    if (!specs) return http::error_response(specs.error());
    std::map<std::string, monitor::MonitoredState> states;
    if (ctx.monitor != nullptr) {
      for (auto& st : ctx.monitor->monitored()) states.emplace(st.key, std::move(st));
    }
    json list = json::array();
    for (const auto& m : *specs) {
      auto it = states.find(m.key);
      list.push_back(monitored_json(m, it == states.end() ? nullptr : &it->second));
    }
    return http::json_success(list);
  });
}

/// The body of POST /api/monitored: {"pid": N, "name": "optional"}. The error's code is
/// also the audit result.
Result<std::pair<int, std::string>> monitor_request(const Request& req) {
  auto body = parse_body(req);
  if (!body || !body->is_object() || !(*body)["pid"].is_number_integer()) {
    return fail(ErrorKind::InvalidInput, "invalid_body",
                "send {\"pid\": <pid from GET /api/scan>, \"name\": \"optional display name\"}");
  }
  for (auto& [k, v] : body->items()) {
    if (k != "pid" && k != "name") {
      return fail(ErrorKind::InvalidInput, "unknown_field",
                  fmt::format("unknown field '{}': only 'pid' and 'name' are accepted", k));
    }
  }
  std::string name = body->value("name", std::string());
  if (name.size() > 64 || name.find_first_of("\r\n\t") != std::string::npos) {
    return fail(ErrorKind::InvalidInput, "invalid_name",
                "'name' must be at most 64 characters without control characters");
  }
  return std::pair{(*body)["pid"].get<int>(), std::move(name)};
}

/// On a worker: finds the process and records it.
http::Response add_monitored(ApiContext& ctx, const Request& req, int pid, const std::string& name) {
  auto table = ctx.monitor->scan_processes();
  if (!table) return http::error_response(table.error());
  auto it = std::find_if(table->begin(), table->end(), [pid](const core::ProcessInfo& p) { return p.pid == pid; });
  if (it == table->end() || it->cmdline.empty()) {
    audit(ctx, req, "monitor_add", std::to_string(pid), "process_not_found");
    return http::json_failure(
        StatusCode::not_found, "process_not_found",
        fmt::format("no process with pid {} (or it is a kernel thread): list them with GET /api/scan", pid));
  }
  auto spec = monitor::monitor_spec_for(*it, name);
  registry::MonitoredProcess m{.key = spec.key,
                               .name = name.empty() ? it->comm : name,
                               .command = agent::monitored_command(spec.cmdline),
                               .user = spec.user,
                               .added_at_usec = ctx.now_usec()};
  if (auto put = ctx.registry.put_monitored(m); !put) return http::error_response(put.error());
  if (ctx.live != nullptr) ctx.live->monitored_added(m);  // listed at once; the triggered cycle fills it
  audit(ctx, req, "monitor_add", m.key, "ok");
  ctx.monitor->trigger();
  return http::json_success({{"key", m.key}, {"name", m.name}, {"user", m.user}, {"command", spec.cmdline}},
                            StatusCode::created);
}

void post_monitored(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Operator, "monitor_add", "")) return;
  auto parsed = monitor_request(req);
  if (!parsed) {
    audit(ctx, req, "monitor_add", "", parsed.error().code);
    res.send(http::json_failure(StatusCode::bad_request, parsed.error().code, parsed.error().message));
    return;
  }
  if (ctx.monitor == nullptr) {
    res.send(monitor_off());
    return;
  }
  on_worker(ctx, res, [&ctx, req, p = *parsed] { return add_monitored(ctx, req, p.first, p.second); });
}

void delete_monitored(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Operator, "monitor_remove", "")) return;
  const auto* key = req.query_param("key");
  if (key == nullptr || key->empty()) {
    res.send(http::json_failure(
        StatusCode::bad_request, "missing_key",
        "say which process to stop monitoring: DELETE /api/monitored?key=<key from GET /api/monitored>"));
    return;
  }
  on_worker(ctx, res, [&ctx, req, key = *key] {
    auto removed = ctx.registry.remove_monitored(key);
    if (!removed) return http::error_response(removed.error());
    audit(ctx, req, "monitor_remove", key, *removed ? "ok" : "not_found");
    if (!*removed) {
      return http::json_failure(StatusCode::not_found, "not_monitored",
                                "no monitored process has this key: see GET /api/monitored");
    }
    if (ctx.live != nullptr) (void)ctx.live->store().remove_monitored(key);
    if (ctx.monitor != nullptr) ctx.monitor->trigger();
    return http::json_success({{"key", key}, {"removed", true}});
  });
}

void events(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "events", "")) return;
  registry::EventQuery q;
  if (const auto* v = req.query_param("app")) q.app = *v;
  q.since_usec = query_int(req, "since_usec");
  q.before_id = query_int(req, "before_id");
  q.limit = query_limit(req, q.limit);
  auto query = [&ctx, q] { return ctx.registry.query_events(q); };
  answer_list(ctx, res, std::move(query), event_json);
}

}  // namespace

Status install_monitor_routes(ApiContext& ctx) {
  auto& s = ctx.server;
  for (auto r : {s.route(Method::get, "/api/scan", bound(ctx, scan)),
                 s.route(Method::get, "/api/monitored", bound(ctx, list_monitored)),
                 s.route(Method::post, "/api/monitored", bound(ctx, post_monitored)),
                 s.route(Method::delete_, "/api/monitored", bound(ctx, delete_monitored)),
                 s.route(Method::get, "/api/events", bound(ctx, events))}) {
    if (!r) return r;
  }
  return ok();
}

}  // namespace siax::api
