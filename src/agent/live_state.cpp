#include "agent/live_state.h"

#include <algorithm>
#include <boost/container_hash/hash.hpp>
#include <set>
#include <tuple>

#include "appdef/app_json.h"
#include "core/app_definition.h"
#include "monitor/state_json.h"

namespace siax::agent {

using nlohmann::json;

namespace {

json usec_or_null(std::int64_t usec) { return usec == 0 ? json(nullptr) : json(usec); }

/// The status systemd's phase alone gives, before the monitor has seen the app.
const char* status_from_phase(core::UnitPhase phase) {
  switch (phase) {
    case core::UnitPhase::Active: return "running";
    case core::UnitPhase::Inactive: return "stopped";
    case core::UnitPhase::Failed: return "failed";
    case core::UnitPhase::Activating: return "starting";
    case core::UnitPhase::AutoRestart: return "restarting";
    case core::UnitPhase::Deactivating: return "stopping";
    default: return "unknown";
  }
}

}  // namespace

json app_summary_json(const registry::AppRecord& record, const std::optional<core::UnitStatus>& status,
                      const std::string& status_error, const std::optional<monitor::AppState>& seen) {
  const auto& d = record.definition;
  json j = {{"name", d.name},
            {"runtime", core::to_string(d.runtime)},
            {"description", d.description},
            {"enabled", record.enabled},
            {"cpu_usage", nullptr},
            {"last_updated", usec_or_null(record.updated_at_usec)}};
  if (status) {
    auto s = appdef::status_to_json(*status);
    j["status"] = status_from_phase(status->phase());
    j["pid"] = s["pid"];
    j["memory_usage"] = s["memory_usage"];
    j["systemd_status"] = s["systemd_status"];
    j["restart_count"] = s["restart_count"];
    j["unit_file_state"] = s["unit_file_state"];
    if (s.contains("failure")) j["failure"] = s["failure"];
    j["reason"] = s.contains("failure") ? s["failure"] : json("");
    const bool same = seen && seen->active_state == status->active_state && seen->sub_state == status->sub_state &&
                      seen->main_pid == static_cast<int>(status->main_pid);
    if (same) {
      json m = monitor::to_json(*seen);
      for (const char* key : {"status", "reason", "cpu_usage", "memory_usage", "memory_source", "uptime_seconds",
                              "last_exit", "health", "pids", "stray_pids", "ports"}) {
        if (m.contains(key)) j[key] = m[key];
      }
      j["monitored_at"] = seen->updated_usec;
    }
  } else {
    j["status"] = "unknown";
    j["pid"] = nullptr;
    j["memory_usage"] = nullptr;
    j["systemd_status"] = nullptr;
    j["status_error"] = status_error;
  }
  return j;
}

json app_detail_extra_json(const registry::AppRecord& record, const std::optional<core::UnitStatus>& status) {
  return json{{"definition", appdef::definition_to_json(record.definition)},
              {"unit", core::unit_name_for(record.definition.name)},
              {"created_at", usec_or_null(record.created_at_usec)},
              {"systemd", status ? appdef::status_to_json(*status) : json(nullptr)}};
}

json monitored_json(const registry::MonitoredProcess& m, const std::optional<monitor::MonitoredState>& state) {
  json command = json::array();
  if (auto argv = json::parse(m.command, nullptr, false); argv.is_array()) command = argv;
  json j = {{"key", m.key},         {"name", m.name},         {"user", m.user},
            {"command", command},   {"added_at", m.added_at_usec}, {"status", "unknown"}};
  if (state) {
    json st = monitor::to_json(*state);
    for (auto& [k, v] : st.items()) {
      if (k != "key" && k != "name") j[k] = v;
    }
  }
  return j;
}

json event_json(const monitor::Event& event) { return monitor::to_json(event); }

json usage_json(const monitor::AppState& state) {
  return json{{"cpu_usage", state.cpu_percent},
              {"memory_usage", state.memory_bytes},
              {"memory_source", state.memory_from_systemd ? "systemd" : "proc"},
              {"uptime_seconds", state.uptime_seconds ? json(*state.uptime_seconds) : json(nullptr)},
              {"monitored_at", state.updated_usec}};
}

std::int64_t LiveFeed::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

/// systemd's view but for its usage figures: a 64-bit digest of the fields an app's put
/// shows (a change in any of them is a new put). Held instead of a copy of the unit.
std::uint64_t unit_key(const core::UnitStatus* unit) {
  if (unit == nullptr) return 0;
  const core::UnitStatus& u = *unit;
  std::size_t seed = 1;
  std::apply([&seed](const auto&... field) { (boost::hash_combine(seed, field), ...); },
             std::tie(u.unit, u.load_state, u.active_state, u.sub_state, u.result, u.unit_file_state, u.control_group,
                      u.description, u.main_pid, u.exec_main_code, u.exec_main_status, u.restart_count,
                      u.state_change_usec, u.state_change_mono_usec));
  return seed;
}

/// The monitor's state but for its usage figures and timestamp (cpu_percent, memory_bytes,
/// uptime_seconds, updated_usec): a 64-bit digest, held instead of a copy of the state.
std::uint64_t state_key(const monitor::AppState& s) {
#if defined(__x86_64__) && defined(__GLIBCXX__)
  // Every field of AppState is either hashed below or one of the four usage fields: a new
  // field changes the size (on the platform CI builds), so this fails until it is added.
  static_assert(sizeof(monitor::AppState) == 464, "AppState changed: hash its new field in state_key()");
#endif
  std::size_t seed = 2;
  auto add = [&seed](const auto& field) { boost::hash_combine(seed, field); };
  add(s.name), add(s.unit), add(static_cast<int>(s.status)), add(s.reason), add(s.main_pid), add(s.pids);
  add(s.stray_pids), add(s.memory_from_systemd), add(s.restart_count), add(s.last_exit), add(s.result);
  add(s.load_state), add(s.active_state), add(s.sub_state), add(s.listen_ports), add(s.health.has_value());
  if (s.health) {
    const monitor::HealthView& h = *s.health;
    add(static_cast<int>(h.state)), add(h.consecutive_failures), add(h.last_error), add(h.last_checked_usec);
    add(h.last_latency_ms);
  }
  return seed;
}

/// The registry's record of an app (definition, enabled, timestamps): a 64-bit digest, held
/// instead of a copy of the record (~0.7 kB an app).
std::uint64_t record_key(const registry::AppRecord& r) {
#if defined(__x86_64__) && defined(__GLIBCXX__)
  // Every field is hashed below: a new one changes a size (on the platform CI builds), so
  // this fails until it is added.
  static_assert(
      sizeof(registry::AppRecord) == 560 && sizeof(core::AppDefinition) == 536 && sizeof(core::HealthCheck) == 104,
      "AppRecord, AppDefinition or HealthCheck changed: hash the new field in record_key()");
#endif
  std::size_t seed = 3;
  auto add = [&seed](const auto& field) { boost::hash_combine(seed, field); };
  const core::AppDefinition& d = r.definition;
  add(d.name), add(static_cast<int>(d.runtime)), add(d.script_path), add(d.module), add(d.host), add(d.port);
  add(d.args), add(d.user), add(d.working_directory), add(d.environment), add(d.secret_names);
  add(d.secret_values.has_value());
  if (d.secret_values) add(*d.secret_values);
  add(static_cast<int>(d.restart_policy)), add(d.restart_sec), add(d.memory_max_bytes.has_value());
  add(d.memory_max_bytes.value_or(0)), add(d.cpu_quota_percent.has_value()), add(d.cpu_quota_percent.value_or(0));
  add(d.description), add(d.health_check.has_value());
  if (d.health_check) {
    const core::HealthCheck& h = *d.health_check;
    add(h.host), add(h.port), add(h.path), add(h.expected_status), add(h.interval.count()), add(h.timeout.count());
    add(h.failures_before_unhealthy), add(h.restart_when_unhealthy);
  }
  add(r.enabled), add(r.created_at_usec), add(r.updated_at_usec);
  return seed;
}

}  // namespace

LiveFeed::Since LiveFeed::compare_with_put(const registry::AppRecord& record, const Result<core::UnitStatus>& unit,
                                           const monitor::AppState& state, std::int64_t now) {
  const std::string error = unit ? std::string() : unit.error().message;
  const std::uint64_t unit_digest = unit_key(unit ? &*unit : nullptr);  // no copy: every app, every cycle
  const std::uint64_t state_digest = state_key(state);
  const std::uint64_t record_digest = record_key(record);
  const Fed::Usage usage{state.cpu_percent, state.memory_bytes, state.uptime_seconds.has_value()};
  std::lock_guard lock(fed_mu_);
  auto it = fed_.find(record.definition.name);
  if (it != fed_.end() && it->second.record_key == record_digest && it->second.unit_error == error &&
      it->second.unit_key == unit_digest && it->second.state_key == state_digest) {
    // Usage that moved goes out at most every usage interval; an app whose CPU and memory
    // stand still (an idle app) only refreshes its uptime and timestamp once a minute, so
    // 200 idle apps do not make 200 changes every cycle.
    const std::int64_t wait = it->second.usage != usage
                                  ? store_.usage_interval_ms()
                                  : std::max<std::int64_t>(kIdleUsageRefreshMs, store_.usage_interval_ms());
    if (now - it->second.at_ms < wait) return Since::Same;
    it->second.usage = usage;
    it->second.at_ms = now;
    return Since::UsageOnly;
  }
  fed_[record.definition.name] = Fed{record_digest, error, unit_digest, state_digest, usage, now};
  return Since::Moved;
}

void LiveFeed::forget(const std::string& name) {
  std::lock_guard lock(fed_mu_);
  fed_.erase(name);
}

void LiveFeed::app(const registry::AppRecord& record, const Result<core::UnitStatus>& unit,
                   const monitor::AppState& state) {
  const Since since = compare_with_put(record, unit, state, now_ms());
  if (since == Since::Same) return;
  std::optional<core::UnitStatus> status;
  if (unit) status = *unit;
  if (since == Since::UsageOnly) {
    // The object took its usage from the monitor only when the monitor saw systemd's
    // current state (app_summary_json); otherwise its figures are systemd's, unchanged.
    if (status && state.active_state == status->active_state && state.sub_state == status->sub_state &&
        state.main_pid == static_cast<int>(status->main_pid)) {
      (void)store_.put_usage(record.definition.name, usage_json(state), now_ms());
    }
    return;
  }
  const std::string error = unit ? std::string() : unit.error().message;
  (void)store_.put_app(record.definition.name, app_summary_json(record, status, error, state),
                       app_detail_extra_json(record, status), now_ms(), status ? status->state_change_mono_usec : 0);
}

void LiveFeed::app_view(const AppView& view, const std::optional<monitor::AppState>& seen) {
  forget(view.record.definition.name);  // the monitor's next view goes in whole
  (void)store_.put_app(view.record.definition.name, app_summary_json(view.record, view.status, view.status_error, seen),
                       app_detail_extra_json(view.record, view.status), now_ms(),
                       view.status ? view.status->state_change_mono_usec : 0);
}

void LiveFeed::app_removed(const std::string& name) {
  forget(name);
  (void)store_.remove_app(name);
}

void LiveFeed::monitored(const registry::MonitoredProcess& spec, const monitor::MonitoredState& state) {
  (void)store_.put_monitored(spec.key, monitored_json(spec, state));
}

void LiveFeed::monitored_added(const registry::MonitoredProcess& spec) {
  (void)store_.put_monitored_if_absent(spec.key, monitored_json(spec, std::nullopt));
}

void LiveFeed::event(const monitor::Event& event) { store_.add_event(event_json(event)); }

void LiveFeed::full_cycle(const std::vector<std::string>& apps, const std::vector<std::string>& monitored) {
  {
    std::lock_guard lock(fed_mu_);
    const std::set<std::string> keep(apps.begin(), apps.end());
    for (auto it = fed_.begin(); it != fed_.end();) it = keep.count(it->first) != 0 ? std::next(it) : fed_.erase(it);
  }
  store_.retain_apps(apps);
  store_.retain_monitored(monitored);
  store_.set_ready();
}

}  // namespace siax::agent
