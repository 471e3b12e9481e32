// MonitorService's cycles: the full cycle (every scan_interval) and the partial re-read of
// the apps a signal named. The loop, the triggers and the getters are in monitor_service.cpp.
//
// What a cycle asks systemd: nothing for an app whose unit it read before, unless the app
// was named by a signal or an operation, its main process is gone from /proc, or the
// safety net's list (one call per `resync_interval`) shows its unit's state moved (without
// that list: its turn came, every unit once per `resync_interval`, a few per cycle).
// Every other change reaches the monitor as a signal (the UnitWatcher).
#include <malloc.h>

#include <algorithm>

#include "agent/monitor_service.h"
#include "monitor/reconcile.h"

namespace siax::agent {

namespace {

/// The fields whose change is worth telling the cloud and the panel about (not the
/// per-scan CPU figure, which changes every time).
bool differs_for_report(const monitor::AppState& a, const monitor::AppState& b) {
  return a.status != b.status || a.reason != b.reason || a.main_pid != b.main_pid ||
         a.restart_count != b.restart_count || a.stray_pids != b.stray_pids || a.health != b.health;
}

/// A status with no load state is not systemd's answer about the unit (seen right after a
/// daemon-reexec, while systemd is still deserializing): an error, so the cycle retries.
Result<core::UnitStatus> checked(Result<core::UnitStatus> unit) {
  if (unit && unit->load_state.empty()) {
    return fail(ErrorKind::Unavailable, "systemd_incomplete",
                "systemd answered without the unit's state (it may be re-executing); reading it again shortly");
  }
  return unit;
}

bool has_pid(const std::vector<core::ProcessInfo>& processes, int pid) {
  auto at = std::lower_bound(processes.begin(), processes.end(), pid,
                             [](const core::ProcessInfo& p, int v) { return p.pid < v; });
  return at != processes.end() && at->pid == pid;
}

}  // namespace

std::size_t resync_period(std::chrono::milliseconds resync_interval, std::chrono::milliseconds scan_interval) {
  if (scan_interval.count() <= 0 || resync_interval <= scan_interval) return 1;
  return static_cast<std::size_t>(resync_interval.count() / scan_interval.count());
}

bool resync_turn(std::size_t index, std::size_t phase, std::size_t period) {
  return period <= 1 || index % period == phase % period;
}

MonitorService::CyclePlan MonitorService::plan_cycle() {
  CyclePlan plan;
  plan.period = resync_period(options_.resync_interval, options_.scan_interval);
  std::lock_guard lock(wake_mutex_);
  plan.read_all = refresh_all_;
  refresh_all_ = false;
  plan.named.swap(refresh_);
  plan.phase = cycles_since_full_ % plan.period;
  cycles_since_full_ = (cycles_since_full_ + 1) % plan.period;
  return plan;
}

void MonitorService::run_cycle() {
  const auto started = std::chrono::steady_clock::now();
  std::string error;
  auto apps = deps_.registry.list_apps();
  auto monitored_specs = deps_.registry.list_monitored();
  if (!apps) error = "registry: " + apps.error().message;
  Result<std::vector<core::ProcessInfo>> processes = std::vector<core::ProcessInfo>();
  {
    std::lock_guard scan_lock(scan_mutex_);
    processes = deps_.processes.scan(std::chrono::steady_clock::now());
  }
  if (!processes) {
    error = "process scan: " + processes.error().message;
    processes = std::vector<core::ProcessInfo>();
  }
  const std::int64_t now = deps_.now_usec();
  CyclePlan plan = plan_cycle();
  // Once per period the safety net's list (a cycle that reads every unit anyway stands in
  // for it); without a list that works, the turns read units until the next period.
  if (apps && plan.phase == 0) listed_resync_ = plan.read_all ? static_cast<bool>(deps_.unit_states) : resync_by_list(*apps, plan);
  plan.listed = listed_resync_;

  CycleOutcome out;
  if (apps) {
    // Built once per cycle: each app then looks at its unit's processes and the possible
    // strays only (200 apps x every process before).
    std::optional<monitor::ProcessIndex> index(std::in_place, *processes);
    std::size_t position = 0;
    for (const auto& record : *apps) {
      cycle_app(record, plan, resync_turn(position++, plan.phase, plan.period), *processes, index, now, out);
    }
  }
  if (monitored_specs) cycle_monitored(*monitored_specs, *processes, now, out);
  const std::vector<std::string> removed = commit_cycle(out, apps ? &*apps : nullptr, std::move(*processes), now);

  update_hot_pids();
  publish(out.events, removed, out.changed);
  if (apps) run_health_checks(*apps, now);
  if (apps && monitored_specs && deps_.on_full_cycle) {
    std::vector<std::string> names;
    for (const auto& r : *apps) names.push_back(r.definition.name);
    std::vector<std::string> keys;
    for (const auto& m : *monitored_specs) keys.push_back(m.key);
    deps_.on_full_cycle(names, keys);
  }
  finish_cycle(started, error);
}

bool MonitorService::resync_by_list(const std::vector<registry::AppRecord>& apps, CyclePlan& plan) {
  if (!deps_.unit_states) return false;
  auto listed = deps_.unit_states();  // one ListUnitsByPatterns: cheap for systemd, unlike 16 Gets per unit
  if (!listed) return false;
  std::lock_guard lock(mutex_);
  for (const auto& record : apps) {
    const auto& name = record.definition.name;
    const auto held = units_.find(name);
    if (held == units_.end()) {
      plan.named.insert(name);  // never read (or its read failed): read it
      continue;
    }
    const core::UnitStatus& u = held->second;
    const auto entry = listed->find(name);
    // A unit systemd does not hold loaded has not moved if it was stopped (systemd unloads
    // stopped units) or not found.
    const bool moved = entry == listed->end()
                           ? !(u.active_state == "inactive" || u.load_state == "not-found")
                           : entry->second.load_state != u.load_state || entry->second.active_state != u.active_state ||
                                 entry->second.sub_state != u.sub_state;
    if (moved) plan.named.insert(name);
  }
  ++stats_.resync_lists;
  return true;
}

void MonitorService::finish_cycle(std::chrono::steady_clock::time_point started, const std::string& error) {
  // Give the heap's free pages back after a burst (registering 200 apps left ~0.9 MB free
  // in the heap, resident, for ~2.2 MB in use): at most every 10 s, and only when more
  // than 256 KiB lies free in the allocator's arena (mallinfo2 walks its free lists:
  // microseconds; malloc_trim a few hundred).
  if (const auto t = std::chrono::steady_clock::now(); t - last_trim_ > std::chrono::seconds(10)) {
    last_trim_ = t;
    if (::mallinfo2().fordblks > (std::size_t{256} << 10)) (void)::malloc_trim(0);
  }
  std::lock_guard lock(mutex_);
  ++stats_.cycles;
  stats_.last_cycle_usec = deps_.now_usec();
  stats_.last_cycle_duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  stats_.last_error = error;
}

bool MonitorService::keep_held(const std::string& app, CycleOutcome& out) {
  std::lock_guard lock(mutex_);
  if (held_.count(app) == 0) return false;
  if (auto it = states_.find(app); it != states_.end()) out.states.emplace(app, it->second);
  if (auto it = units_.find(app); it != units_.end()) out.units.emplace(app, it->second);
  return true;
}

Result<core::UnitStatus> MonitorService::unit_for_cycle(const std::string& app, const CyclePlan& plan, bool turn,
                                                        const std::vector<core::ProcessInfo>& processes, bool& kept) {
  std::optional<core::UnitStatus> before;
  if (!plan.read_all && (plan.listed || !turn) && plan.named.count(app) == 0) {
    std::lock_guard lock(mutex_);
    if (auto it = units_.find(app); it != units_.end()) before = it->second;
  }
  // What was read stays true until a signal says otherwise, as long as its main process
  // is still there (a process that vanished unannounced is worth one read).
  kept = before && (before->main_pid == 0 || has_pid(processes, static_cast<int>(before->main_pid)));
  if (kept) return *before;
  return checked(deps_.unit_status(app));
}

void MonitorService::ensure_main_process(const std::optional<core::UnitStatus>& unit,
                                         std::vector<core::ProcessInfo>& processes) {
  // A main process started after this cycle's scan (the unit was read after it) is not in
  // the table: read it now rather than call the app crashed ("main process gone").
  if (!unit || unit->main_pid == 0) return;
  const int main_pid = static_cast<int>(unit->main_pid);
  if (has_pid(processes, main_pid)) return;
  Result<std::vector<core::ProcessInfo>> fresh = std::vector<core::ProcessInfo>();
  {
    std::lock_guard scan_lock(scan_mutex_);
    fresh = deps_.processes.read_pids({main_pid}, std::chrono::steady_clock::now());
  }
  if (!fresh || fresh->empty()) return;
  auto at = std::lower_bound(processes.begin(), processes.end(), main_pid,
                             [](const core::ProcessInfo& p, int pid) { return p.pid < pid; });
  processes.insert(at, std::move(fresh->front()));
}

std::optional<monitor::HealthView> MonitorService::health_view(const core::AppDefinition& def,
                                                               const std::optional<core::UnitStatus>& unit,
                                                               std::int64_t now, bool adopt_check) {
  std::lock_guard lock(mutex_);
  auto& track = tracks_[def.name];
  if (!def.health_check) {
    if (adopt_check) track.health.reset();
    return std::nullopt;
  }
  if (adopt_check && (!track.health || track.health->check() != *def.health_check)) {
    track.health = std::make_unique<monitor::HealthTracker>(*def.health_check);
  }
  if (!track.health) return std::nullopt;
  // A check only means something while the unit runs; otherwise start over.
  const bool active = unit && unit->phase() == core::UnitPhase::Active;
  if (!active) track.health->reset(now);
  return track.health->view();
}

std::optional<monitor::Event> MonitorService::drift_for(const std::string& app, bool read_in_full, std::int64_t now) {
  // The drift check reads the registry and the unit file: only when the unit was read in
  // full (a unit file edited and reloaded moves systemd's state or sends a signal).
  {
    std::lock_guard lock(mutex_);
    const auto& track = tracks_[app];
    if (track.drift_checked && !read_in_full) return track.drift;
  }
  if (!deps_.unit_file_state) return std::nullopt;
  auto drift = monitor::check_unit_drift(app, deps_.unit_file_state(app), now);
  std::lock_guard lock(mutex_);
  auto& track = tracks_[app];
  track.drift = drift;
  track.drift_checked = true;
  return drift;
}

void MonitorService::restart_if_unhealthy(const std::string& app, std::int64_t now,
                                          std::vector<monitor::Event>& events) {
  // An unhealthy app whose check asks for it is restarted (within its rate limit).
  {
    std::lock_guard lock(mutex_);
    auto& track = tracks_[app];
    if (!track.health || !track.health->should_restart() || !deps_.restart_app) return;
    track.health->reset(now);
  }
  const std::string outcome = deps_.restart_app(app);
  events.push_back(monitor::Event{now, app, "health_restart", monitor::Severity::Warning,
                                  app + " restarted because its health check failed: " + outcome});
}

bool MonitorService::observe(const std::string& app, const monitor::AppState& state,
                             const std::optional<monitor::Event>& port_conflict,
                             const std::optional<monitor::Event>& drift, std::int64_t now,
                             std::vector<monitor::Event>& events) {
  std::vector<monitor::Event> app_events;
  bool report = false;
  {
    std::lock_guard lock(mutex_);
    auto& track = tracks_[app];
    const auto& last = track.events.last();  // the state observed last (before this one)
    report = !last || differs_for_report(*last, state);
    app_events = track.events.observe(state, port_conflict, drift, now);
  }
  for (auto& e : app_events) {
    if (e.kind == "failed" || e.kind == "crashed" || e.kind == "restarting") {
      if (deps_.last_log_lines) e.message = monitor::with_last_lines(e.message, deps_.last_log_lines(app));
    }
    events.push_back(std::move(e));
  }
  return report;
}

void MonitorService::cycle_app(const registry::AppRecord& record, const CyclePlan& plan, bool turn,
                               std::vector<core::ProcessInfo>& processes, std::optional<monitor::ProcessIndex>& index,
                               std::int64_t now, CycleOutcome& out) {
  const auto& def = record.definition;
  if (keep_held(def.name, out)) return;
  bool kept = false;
  Result<core::UnitStatus> unit = unit_for_cycle(def.name, plan, turn, processes, kept);
  ++(kept ? out.saved : out.reads);
  if (!unit) ++out.unit_errors;
  std::optional<core::UnitStatus> unit_view;
  if (unit) {
    unit_view = *unit;
    out.units.emplace(def.name, *unit_view);
  }
  ensure_main_process(unit_view, processes);
  if (!index->covers(processes)) index.emplace(processes);  // a main process was added
  const auto health = health_view(def, unit_view, now, true);
  auto state = monitor::reconcile(def, unit_view, processes, health, now, &*index);
  if (!unit) state.reason = state.reason.empty() ? unit.error().message : state.reason;
  if (deps_.unit_usage && unit_view && !unit_view->control_group.empty()) {
    apply_cgroup_usage(def.name, unit_view->control_group, !kept, state);
  }
  const auto port_conflict = monitor::check_port(def, state.unit, processes, now);
  const auto drift = drift_for(def.name, !kept || turn, now);
  restart_if_unhealthy(def.name, now, out.events);
  if (observe(def.name, state, port_conflict, drift, now, out.events)) out.changed.push_back(state);
  if (deps_.on_app_view) deps_.on_app_view(record, unit, state);
  out.states.emplace(def.name, std::move(state));
}

void MonitorService::cycle_monitored(const std::vector<registry::MonitoredProcess>& specs,
                                     const std::vector<core::ProcessInfo>& processes, std::int64_t now,
                                     CycleOutcome& out) {
  for (const auto& m : specs) {
    monitor::MonitorSpec spec;
    spec.key = m.key;
    spec.name = m.name;
    spec.user = m.user;
    spec.cmdline = monitored_argv(m.command);
    if (spec.cmdline.empty()) continue;  // not written by this agent: nothing to match
    auto st = monitor::reconcile_monitored(spec, processes, now);
    std::optional<monitor::MonitoredState> before;
    {
      std::lock_guard lock(mutex_);
      if (auto it = monitored_.find(m.key); it != monitored_.end()) before = it->second;
    }
    for (auto& e : monitor::diff_monitored(before, st, now)) out.events.push_back(std::move(e));
    if (deps_.on_monitored_view) deps_.on_monitored_view(m, st);
    out.monitored.emplace(m.key, std::move(st));
  }
}

std::vector<std::string> MonitorService::commit_cycle(CycleOutcome& out, const std::vector<registry::AppRecord>* apps,
                                                      std::vector<core::ProcessInfo> processes, std::int64_t now) {
  std::vector<std::string> removed;
  std::lock_guard lock(mutex_);
  if (apps != nullptr) {
    for (const auto& [name, st] : states_) {
      if (out.states.count(name) == 0) removed.push_back(name);
    }
    // A held app that left the registry is gone for good.
    for (auto it = held_.begin(); it != held_.end();) {
      const bool registered = std::any_of(apps->begin(), apps->end(),
                                          [&](const registry::AppRecord& r) { return r.definition.name == *it; });
      it = registered ? std::next(it) : held_.erase(it);
    }
    units_ = std::move(out.units);
    units_at_usec_ = now;
  }
  states_ = std::move(out.states);
  monitored_ = std::move(out.monitored);
  // Forget the trackers of apps that are gone.
  for (auto it = tracks_.begin(); it != tracks_.end();) it = states_.count(it->first) == 0 ? tracks_.erase(it) : std::next(it);
  stats_.processes = processes.size();
  stats_.unit_reads += out.reads;
  stats_.unit_reads_saved += out.saved;
  // systemd did not answer for some unit: try again soon (1 s, doubling up to the scan
  // interval), not only at the next scan: the store must not keep "unknown" for minutes.
  retry_delay_ = out.unit_errors == 0 ? std::chrono::milliseconds(0)
                                      : std::min<std::chrono::milliseconds>(
                                            options_.scan_interval,
                                            retry_delay_.count() == 0 ? std::chrono::milliseconds(1000) : retry_delay_ * 2);
  last_processes_ = std::move(processes);
  return removed;
}

void MonitorService::publish(const std::vector<monitor::Event>& events, const std::vector<std::string>& removed,
                             const std::vector<monitor::AppState>& changed) {
  for (const auto& e : events) emit(e);
  if (deps_.on_removed) {
    for (const auto& name : removed) deps_.on_removed(name);
  }
  if (deps_.on_state) {
    for (const auto& st : changed) deps_.on_state(st);
  }
}

// --- the partial re-read of signalled apps ---

bool MonitorService::unloaded_and_unmoved(const std::string& app, const std::optional<core::UnitStatus>& before,
                                          std::optional<Result<std::map<std::string, ports::UnitListEntry>>>& listed) {
  // A stopped unit is unloaded by systemd soon after: reading it loads it again, which
  // systemd announces (UnitNew, then UnitRemoved when it unloads it), which triggers
  // this re-read again: a loop that kept systemd at ~20 % of a core per stopped app.
  // Such a unit that is still not loaded has not moved: nothing to read.
  if (!before || !deps_.unit_states) return false;
  if (before->active_state != "inactive" && before->load_state != "not-found") return false;
  if (!listed) listed = deps_.unit_states();  // asked once per partial cycle, when needed
  if (!*listed || (*listed)->count(app) != 0) return false;
  std::lock_guard lock(mutex_);
  ++stats_.unit_reads_saved;
  return true;
}

void MonitorService::reread_unit_processes(const std::string& unit_name, const Result<core::UnitStatus>& unit,
                                           std::vector<core::ProcessInfo>& table) {
  // Re-read only this unit's processes: its cgroup, its main pid, and those the last
  // scan saw in it (gone ones drop out of the table).
  std::vector<int> pids;
  for (const auto& p : table) {
    if (p.unit == unit_name) pids.push_back(p.pid);
  }
  if (unit && unit->main_pid != 0) pids.push_back(static_cast<int>(unit->main_pid));
  if (unit && deps_.unit_pids) {
    for (int pid : deps_.unit_pids(unit->control_group)) pids.push_back(pid);
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  Result<std::vector<core::ProcessInfo>> fresh = std::vector<core::ProcessInfo>();
  {
    std::lock_guard scan_lock(scan_mutex_);
    fresh = deps_.processes.read_pids(pids, std::chrono::steady_clock::now());
  }
  if (!fresh) return;  // /proc unreadable: the next full cycle reports it
  std::vector<core::ProcessInfo> merged;
  merged.reserve(table.size() + fresh->size());
  for (auto& p : table) {
    if (!std::binary_search(pids.begin(), pids.end(), p.pid)) merged.push_back(std::move(p));
  }
  for (auto& p : *fresh) merged.push_back(std::move(p));
  std::sort(merged.begin(), merged.end(), [](const core::ProcessInfo& a, const core::ProcessInfo& b) { return a.pid < b.pid; });
  table = std::move(merged);
}

void MonitorService::run_partial(const std::set<std::string>& names) {
  const std::int64_t now = deps_.now_usec();
  std::vector<core::ProcessInfo> table;
  {
    std::lock_guard lock(mutex_);
    table = last_processes_;
  }
  PartialOutcome out;
  std::optional<Result<std::map<std::string, ports::UnitListEntry>>> listed;
  for (const auto& name : names) partial_app(name, now, table, listed, out);
  {
    std::lock_guard lock(mutex_);
    last_processes_ = std::move(table);
    ++stats_.partial_cycles;
    stats_.unit_reads += out.reads;
  }
  update_hot_pids();
  publish(out.events, out.removed, out.changed);
}

void MonitorService::partial_app(const std::string& name, std::int64_t now, std::vector<core::ProcessInfo>& table,
                                 std::optional<Result<std::map<std::string, ports::UnitListEntry>>>& listed,
                                 PartialOutcome& out) {
  std::optional<core::UnitStatus> before;
  {
    std::lock_guard lock(mutex_);
    if (held_.count(name) != 0) return;
    if (auto it = units_.find(name); it != units_.end()) before = it->second;
  }
  if (unloaded_and_unmoved(name, before, listed)) return;
  auto record = deps_.registry.get_app(name);
  if (!record) return;  // the registry failed: the next full cycle decides
  if (!*record) {
    std::lock_guard lock(mutex_);
    if (states_.erase(name) != 0) out.removed.push_back(name);
    units_.erase(name);
    tracks_.erase(name);
    return;
  }
  const auto& def = (*record)->definition;
  Result<core::UnitStatus> unit = checked(deps_.unit_status(name));
  ++out.reads;
  if (!unit) {
    std::lock_guard lock(wake_mutex_);
    full_wanted_ = true;  // a full cycle soon, with its retry
    triggered_ = true;
  }
  reread_unit_processes(core::unit_name_for(name), unit, table);
  std::optional<core::UnitStatus> unit_view;
  if (unit) unit_view = *unit;
  const auto health = health_view(def, unit_view, now, false);
  auto state = monitor::reconcile(def, unit_view, table, health, now);
  if (!unit) state.reason = state.reason.empty() ? unit.error().message : state.reason;
  // The live state first: the journal read for the event's last lines below takes longer.
  if (deps_.on_app_view) deps_.on_app_view(**record, unit, state);
  if (observe(name, state, std::nullopt, std::nullopt, now, out.events)) out.changed.push_back(state);
  std::lock_guard lock(mutex_);
  states_[name] = state;
  if (unit_view) units_[name] = *unit_view;
}

}  // namespace siax::agent
