// The agent itself: GET /api/health (open), GET /api/system, GET /metrics (viewer),
// GET /api/audit (operator), POST /api/recover (admin). docs/API.md.
#include <fmt/format.h>

#include "api/live_reads.h"
#include "api/route_support.h"
#include "api/views.h"
#include "common/prometheus.h"
#include "monitor/state_json.h"

namespace siax::api {
namespace {

void health(ApiContext& ctx, const Request&, const Responder& res) {
  res.send(http::json_success({{"status", "ok"}, {"version", ctx.version}}));
}

void system_info(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "system", "")) return;
  on_worker(ctx, res, [&ctx] { return http::json_success(system_json(ctx, ctx.permissions())); });
}

/// The monitor's families of /metrics.
std::string monitor_metrics(const agent::MonitorService& monitor) {
  const auto m = monitor.stats();
  PromText out;
  out.family("siax_monitor_cycles_total", "counter", "Monitor cycles (scan + reconcile) run.").sample(m.cycles);
  out.family("siax_monitor_events_total", "counter", "Events (discrepancies, recoveries) recorded.").sample(m.events);
  out.family("siax_monitor_health_probes_total", "counter", "HTTP health probes started.").sample(m.probes);
  out.family("siax_monitor_health_probe_failures_total", "counter", "Health probes that failed.")
      .sample(m.probe_failures);
  out.family("siax_monitor_last_cycle_seconds", "gauge", "Duration of the last monitor cycle.")
      .sample_seconds(static_cast<double>(m.last_cycle_duration_us) / 1e6);
  out.family("siax_monitor_processes", "gauge", "Processes seen by the last scan.").sample(m.processes);
  out.family("siax_monitor_unit_reads_total", "counter", "Full unit statuses read from systemd by the monitor.")
      .sample(m.unit_reads);
  out.family("siax_monitor_unit_reads_saved_total", "counter",
             "Unit statuses kept because systemd's states had not moved.")
      .sample(m.unit_reads_saved);
  out.family("siax_monitor_resync_lists_total", "counter",
             "Safety-net lists of systemd's app units (one call per apps.resync_interval_ms).")
      .sample(m.resync_lists);
  out.family("siax_app_status", "gauge", "The monitor's reconciled status of each app (1 for the current one).");
  for (const auto& st : monitor.states()) out.sample(1, {{"app", st.name}, {"status", monitor::to_string(st.status)}});
  return out.take();
}

void metrics(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Viewer, "metrics", "")) return;
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = ctx.metrics.render(ctx.server.stats(), ctx.workers.pending(), ctx.workers.rejected());
  if (ctx.monitor != nullptr) r.body += monitor_metrics(*ctx.monitor);
  r.body += live_metrics(ctx);
  if (ctx.metrics_extra) r.body += ctx.metrics_extra();
  res.send(std::move(r));
}

void audit_query(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Operator, "audit", "")) return;
  registry::AuditQuery q;
  if (const auto* v = req.query_param("target")) q.target = *v;
  if (const auto* v = req.query_param("actor")) q.actor = *v;
  if (const auto* v = req.query_param("action")) q.action = *v;
  q.since_usec = query_int(req, "since_usec");
  q.until_usec = query_int(req, "until_usec");
  q.before_id = query_int(req, "before_id");
  q.limit = query_limit(req, q.limit);
  auto query = [&ctx, q] { return ctx.registry.query_audit(q); };
  answer_list(ctx, res, std::move(query), audit_entry_json);
}

void recover(ApiContext& ctx, const Request& req, const Responder& res) {
  if (!allowed(ctx, req, res, auth::Role::Admin, "recover", "")) return;
  on_worker(ctx, res, [&ctx, req] {
    auto findings = ctx.apps.recover();
    json list = json::array();
    for (const auto& f : findings) list.push_back({{"app", f.app}, {"kind", f.kind}, {"detail", f.detail}});
    audit(ctx, req, "recover", "", "ok", fmt::format("{} findings", findings.size()));
    return http::json_success(list);
  });
}

}  // namespace

Status install_system_routes(ApiContext& ctx) {
  auto& s = ctx.server;
  auto bind = [&ctx](RouteFn fn) { return bound(ctx, fn); };
  for (auto r : {s.route(Method::get, "/api/health", bind(health)), s.route(Method::get, "/api/system", bind(system_info)),
                 s.route(Method::get, "/metrics", bind(metrics)), s.route(Method::get, "/api/audit", bind(audit_query)),
                 s.route(Method::post, "/api/recover", bind(recover))}) {
    if (!r) return r;
  }
  return ok();
}

}  // namespace siax::api
