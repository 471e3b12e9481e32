#include "api/views.h"

#include "appdef/app_json.h"
#include "appdef/redact.h"
#include "core/unit_renderer.h"
#include "monitor/reconcile.h"
#include "monitor/state_json.h"
#include "procscan/process_json.h"

namespace siax::api {

using nlohmann::json;

json iso_or_null(std::int64_t usec) { return usec == 0 ? json(nullptr) : json(usec); }

json summary_json(const ApiContext& ctx, const agent::AppView& v) {
  std::optional<monitor::AppState> seen;
  if (ctx.monitor != nullptr) seen = ctx.monitor->state(v.record.definition.name);
  return agent::app_summary_json(v.record, v.status, v.status_error, seen);
}

json detail_json(const ApiContext& ctx, const agent::AppView& v) {
  json j = summary_json(ctx, v);
  j["definition"] = appdef::definition_to_json(v.record.definition);
  j["unit"] = core::unit_name_for(v.record.definition.name);
  j["created_at"] = iso_or_null(v.record.created_at_usec);
  if (v.status) j["systemd"] = appdef::status_to_json(*v.status);
  return j;
}

json status_json(const ApiContext& ctx, const agent::AppView& v) {
  json data = appdef::status_to_json(*v.status);
  const json summary = summary_json(ctx, v);
  data["systemd_phase"] = data["status"];
  for (const char* key : {"status", "reason", "cpu_usage", "memory_usage", "uptime_seconds", "last_exit", "health"}) {
    if (summary.contains(key)) data[key] = summary[key];
  }
  data["name"] = v.record.definition.name;
  data["last_updated"] = iso_or_null(v.record.updated_at_usec);
  return data;
}

json unit_file_json(const std::optional<std::string>& on_disk, const std::string& rendered, bool admin) {
  json j = {{"content", on_disk ? json(*on_disk) : json(nullptr)},
            {"rendered", rendered},
            {"state", core::unit_file_state_name(on_disk, rendered)}};
  if (!admin) {
    if (on_disk) j["content"] = appdef::redact_unit_text(*on_disk);
    j["rendered"] = appdef::redact_unit_text(rendered);
  }
  return j;
}

json monitor_stats_json(const agent::MonitorStats& m) {
  return {{"cycles", m.cycles},
          {"triggered_cycles", m.triggered_cycles},
          {"events", m.events},
          {"processes", m.processes},
          {"last_cycle_usec", m.last_cycle_usec},
          {"last_cycle_duration_us", m.last_cycle_duration_us},
          {"health_probes", m.probes},
          {"health_probe_failures", m.probe_failures},
          {"unit_reads", m.unit_reads},
          {"unit_reads_saved", m.unit_reads_saved},
          {"resync_lists", m.resync_lists},
          {"last_error", m.last_error}};
}

json system_json(const ApiContext& ctx, const units::Permissions& p) {
  json data = {{"version", ctx.version},
               {"hostname", ctx.hostname},
               {"systemd_reachable", p.systemd_reachable},
               {"permissions",
                {{"read_status", p.read_status},
                 {"manage_units", p.manage_units},
                 {"write_unit_files", p.write_unit_files},
                 {"read_journal", p.read_journal}}},
               {"unit_directory", p.unit_directory},
               {"missing", p.missing},
               {"degraded", !p.missing.empty()}};
  if (ctx.monitor != nullptr) data["monitor"] = monitor_stats_json(ctx.monitor->stats());
  if (ctx.system_extra) {
    const json extra = ctx.system_extra();  // kept alive: items() only refers to it
    for (const auto& [k, v] : extra.items()) data[k] = v;
  }
  return data;
}

json audit_entry_json(const registry::AuditEntry& e) {
  return {{"id", e.id},         {"at_usec", e.at_usec}, {"actor", e.actor},   {"role", e.role},
          {"action", e.action}, {"target", e.target},   {"source", e.source}, {"result", e.result},
          {"detail", e.detail}};
}

json event_json(const registry::EventRecord& e) {
  return {{"id", e.id},     {"at_usec", e.at_usec},   {"app", e.app},
          {"kind", e.kind}, {"severity", e.severity}, {"message", e.message}};
}

json scanned_process_json(const core::ProcessInfo& p, const std::set<std::string>& monitored_keys) {
  json j = procscan::to_json(p);
  const auto app = core::app_name_from_unit(p.unit);
  j["managed_app"] = app ? json(*app) : json(nullptr);
  const auto spec = monitor::monitor_spec_for(p);
  j["monitor_key"] = spec.key;
  j["monitored"] = monitored_keys.contains(spec.key);
  return j;
}

json monitored_json(const registry::MonitoredProcess& m, const monitor::MonitoredState* state) {
  json j = {{"key", m.key},         {"name", m.name},           {"user", m.user},
            {"command", agent::monitored_argv(m.command)}, {"added_at", m.added_at_usec}, {"status", "unknown"}};
  if (state != nullptr) {
    json st = monitor::to_json(*state);
    for (auto& [k, v] : st.items()) {
      if (k != "key" && k != "name") j[k] = v;
    }
  }
  return j;
}

}  // namespace siax::api
