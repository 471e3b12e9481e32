#include "agent/monitor_service.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/app_definition.h"
#include "monitor/reconcile.h"

namespace siax::agent {

namespace {

/// The fields whose change is worth telling the cloud and the panel about (not the
/// per-scan CPU figure, which changes every time).
bool differs_for_report(const monitor::AppState& a, const monitor::AppState& b) {
  return a.status != b.status || a.reason != b.reason || a.main_pid != b.main_pid ||
         a.restart_count != b.restart_count || a.stray_pids != b.stray_pids || a.health != b.health;
}

registry::EventRecord to_record(const monitor::Event& e) {
  return registry::EventRecord{0, e.at_usec, e.app, e.kind, monitor::to_string(e.severity), e.message};
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

}  // namespace

std::string monitored_command(const std::vector<std::string>& argv) { return nlohmann::json(argv).dump(); }

std::vector<std::string> monitored_argv(const std::string& command) {
  auto json = nlohmann::json::parse(command, nullptr, false);
  std::vector<std::string> argv;
  if (!json.is_array()) return argv;
  for (const auto& a : json) {
    if (!a.is_string()) return {};
    argv.push_back(a.get<std::string>());
  }
  return argv;
}

MonitorService::MonitorService(MonitorDeps deps, MonitorOptions options)
    : deps_(std::move(deps)), options_(options) {}

MonitorService::~MonitorService() { stop(); }

void MonitorService::start() {
  std::lock_guard lock(wake_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void MonitorService::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MonitorService::trigger() {
  {
    std::lock_guard lock(wake_mutex_);
    refresh_all_ = true;
  }
  wake();
}

void MonitorService::trigger(const std::string& app) {
  {
    std::lock_guard lock(wake_mutex_);
    if (refresh_.size() < 10'000) {
      refresh_.insert(app);
    } else {
      refresh_all_ = true;  // bounded: past this, read everything
      full_wanted_ = true;
    }
    triggered_ = true;  // only this app: a partial re-read, no full cycle
  }
  wake_.notify_all();
}

void MonitorService::hold(const std::string& app) {
  std::lock_guard lock(mutex_);
  held_.insert(app);
}

void MonitorService::release(const std::string& app) {
  {
    std::lock_guard lock(mutex_);
    held_.erase(app);
  }
  trigger(app);
}

void MonitorService::wake() {
  {
    std::lock_guard lock(wake_mutex_);
    triggered_ = true;
    full_wanted_ = true;
  }
  wake_.notify_all();
}

namespace {

/// Whether the status read last cycle still holds: systemd lists the same states (or, no
/// longer loaded, it was inactive) and its main process is still there.
bool still_holds(const core::UnitStatus& before, const std::map<std::string, ports::UnitListEntry>& listed,
                 const std::string& app, const std::vector<core::ProcessInfo>& processes) {
  const auto it = listed.find(app);
  const bool same = it != listed.end() ? it->second.load_state == before.load_state &&
                                             it->second.active_state == before.active_state &&
                                             it->second.sub_state == before.sub_state
                                       : before.active_state == "inactive";
  if (!same) return false;
  if (before.main_pid == 0) return true;
  return std::any_of(processes.begin(), processes.end(),
                     [&](const core::ProcessInfo& p) { return p.pid == static_cast<int>(before.main_pid); });
}

}  // namespace

void MonitorService::loop() {
  bool by_trigger = false;
  bool full = true;
  auto next_full = std::chrono::steady_clock::now();
  while (true) {
    if (full) {
      run_cycle();
      std::chrono::milliseconds retry{0};
      {
        std::lock_guard lock(mutex_);
        retry = retry_delay_;
      }
      next_full = std::chrono::steady_clock::now() + (retry.count() > 0 ? retry : options_.scan_interval);
      if (by_trigger) {
        std::lock_guard lock(mutex_);
        ++stats_.triggered_cycles;
      }
    } else {
      std::set<std::string> names;
      {
        std::lock_guard lock(wake_mutex_);
        names.swap(refresh_);
      }
      if (!names.empty()) run_partial(names);
    }
    std::unique_lock lock(wake_mutex_);
    // A full cycle every scan_interval whatever the signals do in between.
    const bool woken = wake_.wait_until(lock, next_full, [this] { return stopping_ || triggered_; });
    if (stopping_) return;
    by_trigger = woken;
    // Signals never starve the full cycle: once it is due, it runs, whatever woke us.
    full = !woken || full_wanted_ || std::chrono::steady_clock::now() >= next_full;
    if (woken) {
      // Debounce: systemd sends several signals per job; let them land. A signal for one
      // app waits only a few milliseconds (a crash must reach the API at once).
      wake_.wait_for(lock, full ? options_.trigger_debounce : options_.signal_debounce, [this] { return stopping_; });
      if (stopping_) return;
      triggered_ = false;
      full = full || full_wanted_;
    }
    if (full) full_wanted_ = false;
  }
}

void MonitorService::note(const monitor::Event& event) { emit(event); }

void MonitorService::run_partial(const std::set<std::string>& names) {
  const std::int64_t now = deps_.now_usec();
  std::vector<core::ProcessInfo> table;
  {
    std::lock_guard lock(mutex_);
    table = last_processes_;
  }
  std::vector<monitor::Event> events;
  std::vector<monitor::AppState> changed;
  std::vector<std::string> removed;
  std::uint64_t reads = 0;
  for (const auto& name : names) {
    {
      std::lock_guard lock(mutex_);
      if (held_.count(name) != 0) continue;
    }
    auto record = deps_.registry.get_app(name);
    if (!record) continue;  // the registry failed: the next full cycle decides
    if (!*record) {
      std::lock_guard lock(mutex_);
      if (states_.erase(name) != 0) removed.push_back(name);
      units_.erase(name);
      tracks_.erase(name);
      continue;
    }
    const auto& def = (*record)->definition;
    const std::string unit_name = core::unit_name_for(name);
    Result<core::UnitStatus> unit = checked(deps_.unit_status(name));
    ++reads;
    if (!unit) {
      std::lock_guard lock(wake_mutex_);
      full_wanted_ = true;  // a full cycle soon, with its retry
      triggered_ = true;
    }
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
    if (!fresh) continue;  // /proc unreadable: the next full cycle reports it
    std::vector<core::ProcessInfo> merged;
    merged.reserve(table.size() + fresh->size());
    for (auto& p : table) {
      if (std::binary_search(pids.begin(), pids.end(), p.pid)) continue;
      merged.push_back(std::move(p));
    }
    for (auto& p : *fresh) merged.push_back(std::move(p));
    std::sort(merged.begin(), merged.end(),
              [](const core::ProcessInfo& a, const core::ProcessInfo& b) { return a.pid < b.pid; });
    table = std::move(merged);

    std::optional<core::UnitStatus> unit_view;
    if (unit) unit_view = *unit;
    std::optional<monitor::HealthView> health;
    {
      std::lock_guard lock(mutex_);
      auto& track = tracks_[name];
      if (def.health_check && track.health) {
        const bool active = unit_view && unit_view->phase() == core::UnitPhase::Active;
        if (!active) track.health->reset(now);
        health = track.health->view();
      }
    }
    auto state = monitor::reconcile(def, unit_view, table, health, now);
    if (!unit) state.reason = state.reason.empty() ? unit.error().message : state.reason;
    // The live state first: the journal read for the event's last lines below takes longer.
    if (deps_.on_app_view) deps_.on_app_view(**record, unit, state);
    std::vector<monitor::Event> app_events;
    bool report = false;
    {
      std::lock_guard lock(mutex_);
      auto& track = tracks_[name];
      app_events = track.events.observe(state, std::nullopt, std::nullopt, now);
      report = !track.last || differs_for_report(*track.last, state);
      track.last = state;
      states_[name] = state;
      if (unit_view) units_[name] = *unit_view;
    }
    for (auto& e : app_events) {
      if (e.kind == "failed" || e.kind == "crashed" || e.kind == "restarting") {
        if (deps_.last_log_lines) e.message = monitor::with_last_lines(e.message, deps_.last_log_lines(name));
      }
      events.push_back(std::move(e));
    }
    if (report) changed.push_back(state);
  }
  {
    std::lock_guard lock(mutex_);
    last_processes_ = std::move(table);
    ++stats_.partial_cycles;
    stats_.unit_reads += reads;
  }
  update_hot_pids();
  for (const auto& e : events) emit(e);
  if (deps_.on_removed) {
    for (const auto& name : removed) deps_.on_removed(name);
  }
  if (deps_.on_state) {
    for (const auto& st : changed) deps_.on_state(st);
  }
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

  // Which units to read in full: all after trigger(), else those that moved, were named,
  // or whose turn it is (one app in `full_refresh_every`, in rotation, so that every unit
  // is read at least that often without a burst of reads in one cycle).
  bool full = true;
  std::set<std::string> named;
  int phase = 0;
  const int period = std::max(1, options_.full_refresh_every);
  {
    std::lock_guard lock(wake_mutex_);
    full = refresh_all_ || !deps_.unit_states;
    refresh_all_ = false;
    named.swap(refresh_);
    phase = cycles_since_full_;
    cycles_since_full_ = (cycles_since_full_ + 1) % period;
  }
  std::map<std::string, ports::UnitListEntry> listed;
  if (!full) {
    if (auto l = deps_.unit_states()) {
      listed = std::move(*l);
    } else {
      full = true;
    }
  }
  std::uint64_t reads = 0;
  std::uint64_t saved = 0;
  std::uint64_t unit_errors = 0;

  std::vector<monitor::AppState> changed;
  std::vector<monitor::Event> events;
  std::map<std::string, monitor::AppState> new_states;
  std::map<std::string, core::UnitStatus> new_units;
  if (apps) {
    std::size_t index = 0;
    for (const auto& record : *apps) {
      const auto& def = record.definition;
      const bool turn = static_cast<int>(index++ % static_cast<std::size_t>(period)) == phase;
      {
        std::lock_guard lock(mutex_);
        if (held_.count(def.name) != 0) {
          if (auto it = states_.find(def.name); it != states_.end()) new_states.emplace(def.name, it->second);
          if (auto it = units_.find(def.name); it != units_.end()) new_units.emplace(def.name, it->second);
          continue;
        }
      }
      std::optional<core::UnitStatus> before;
      if (!full && !turn && named.count(def.name) == 0) {
        std::lock_guard lock(mutex_);
        if (auto it = units_.find(def.name); it != units_.end()) before = it->second;
      }
      const bool keep = before && still_holds(*before, listed, def.name, *processes);
      Result<core::UnitStatus> unit = keep ? Result<core::UnitStatus>(*before) : checked(deps_.unit_status(def.name));
      ++(keep ? saved : reads);
      if (!unit) ++unit_errors;
      std::optional<core::UnitStatus> unit_view;
      if (unit) {
        unit_view = std::move(*unit);
        new_units.emplace(def.name, *unit_view);
      }

      std::optional<monitor::HealthView> health;
      {
        std::lock_guard lock(mutex_);
        auto& track = tracks_[def.name];
        if (def.health_check) {
          if (!track.health || track.health->check() != *def.health_check) {
            track.health = std::make_unique<monitor::HealthTracker>(*def.health_check);
          }
          // A check only means something while the unit runs; otherwise start over.
          const bool active = unit_view && unit_view->phase() == core::UnitPhase::Active;
          if (!active) track.health->reset(now);
          health = track.health->view();
        } else {
          track.health.reset();
        }
      }

      auto state = monitor::reconcile(def, unit_view, *processes, health, now);
      if (!unit) state.reason = state.reason.empty() ? unit.error().message : state.reason;
      if (deps_.unit_usage && unit_view && !unit_view->control_group.empty()) {
        apply_cgroup_usage(def.name, unit_view->control_group, !keep, state);
      }

      std::optional<monitor::Event> port_conflict = monitor::check_port(def, state.unit, *processes, now);
      // The drift check reads the registry and the unit file: only when the unit was read
      // in full (a unit file edited and reloaded moves systemd's state or sends a signal).
      std::optional<monitor::Event> drift;
      bool check_drift = !keep;
      {
        std::lock_guard lock(mutex_);
        const auto& track = tracks_[def.name];
        if (track.drift_checked) {
          drift = track.drift;
        } else {
          check_drift = true;
        }
      }
      if (check_drift && deps_.unit_file_state) {
        drift = monitor::check_unit_drift(def.name, deps_.unit_file_state(def.name), now);
        std::lock_guard lock(mutex_);
        auto& track = tracks_[def.name];
        track.drift = drift;
        track.drift_checked = true;
      }

      // An unhealthy app whose check asks for it is restarted (within its rate limit).
      bool restart = false;
      {
        std::lock_guard lock(mutex_);
        auto& track = tracks_[def.name];
        restart = track.health && track.health->should_restart() && deps_.restart_app;
        if (restart) track.health->reset(now);
      }
      if (restart) {
        const std::string outcome = deps_.restart_app(def.name);
        events.push_back(monitor::Event{now, def.name, "health_restart", monitor::Severity::Warning,
                                        def.name + " restarted because its health check failed: " + outcome});
      }

      std::vector<monitor::Event> app_events;
      bool report = false;
      {
        std::lock_guard lock(mutex_);
        auto& track = tracks_[def.name];
        app_events = track.events.observe(state, port_conflict, drift, now);
        report = !track.last || differs_for_report(*track.last, state);
        track.last = state;
      }
      for (auto& e : app_events) {
        if (e.kind == "failed" || e.kind == "crashed" || e.kind == "restarting") {
          if (deps_.last_log_lines) e.message = monitor::with_last_lines(e.message, deps_.last_log_lines(def.name));
        }
        events.push_back(std::move(e));
      }
      if (report) changed.push_back(state);
      if (deps_.on_app_view) {
        // `unit`'s value was moved into unit_view above.
        deps_.on_app_view(record, unit_view ? Result<core::UnitStatus>(*unit_view) : unit, state);
      }
      new_states.emplace(def.name, std::move(state));
    }
  }

  std::map<std::string, monitor::MonitoredState> new_monitored;
  if (monitored_specs) {
    for (const auto& m : *monitored_specs) {
      monitor::MonitorSpec spec;
      spec.key = m.key;
      spec.name = m.name;
      spec.user = m.user;
      spec.cmdline = monitored_argv(m.command);
      if (spec.cmdline.empty()) continue;  // not written by this agent: nothing to match
      auto st = monitor::reconcile_monitored(spec, *processes, now);
      std::optional<monitor::MonitoredState> before;
      {
        std::lock_guard lock(mutex_);
        if (auto it = monitored_.find(m.key); it != monitored_.end()) before = it->second;
      }
      for (auto& e : monitor::diff_monitored(before, st, now)) events.push_back(std::move(e));
      if (deps_.on_monitored_view) deps_.on_monitored_view(m, st);
      new_monitored.emplace(m.key, std::move(st));
    }
  }

  std::vector<std::string> removed;
  {
    std::lock_guard lock(mutex_);
    if (apps) {
      for (const auto& [name, st] : states_) {
        if (new_states.count(name) == 0) removed.push_back(name);
      }
    }
    states_ = std::move(new_states);
    if (apps) {
      // A held app that left the registry is gone for good.
      for (auto it = held_.begin(); it != held_.end();) {
        const bool registered = std::any_of(apps->begin(), apps->end(),
                                            [&](const registry::AppRecord& r) { return r.definition.name == *it; });
        it = registered ? std::next(it) : held_.erase(it);
      }
    }
    if (apps) {
      units_ = std::move(new_units);
      units_at_usec_ = now;
    }
    monitored_ = std::move(new_monitored);
    // Forget the trackers of apps that are gone.
    for (auto it = tracks_.begin(); it != tracks_.end();) {
      if (states_.count(it->first) == 0) {
        it = tracks_.erase(it);
      } else {
        ++it;
      }
    }
    stats_.processes = processes->size();
    stats_.unit_reads += reads;
    stats_.unit_reads_saved += saved;
    // systemd did not answer for some unit: try again soon (1 s, doubling up to the scan
    // interval), not only at the next scan: the store must not keep "unknown" for minutes.
    retry_delay_ = unit_errors == 0 ? std::chrono::milliseconds(0)
                                    : std::min<std::chrono::milliseconds>(
                                          options_.scan_interval,
                                          retry_delay_.count() == 0 ? std::chrono::milliseconds(1000) : retry_delay_ * 2);
    last_processes_ = std::move(*processes);
  }

  update_hot_pids();
  for (const auto& e : events) emit(e);
  if (deps_.on_removed) {
    for (const auto& name : removed) deps_.on_removed(name);
  }
  if (deps_.on_state) {
    for (const auto& s : changed) deps_.on_state(s);
  }
  if (apps) run_health_checks(*apps, now);
  if (apps && monitored_specs && deps_.on_full_cycle) {
    std::vector<std::string> names;
    for (const auto& r : *apps) names.push_back(r.definition.name);
    std::vector<std::string> keys;
    for (const auto& m : *monitored_specs) keys.push_back(m.key);
    deps_.on_full_cycle(names, keys);
  }

  std::lock_guard lock(mutex_);
  ++stats_.cycles;
  stats_.last_cycle_usec = deps_.now_usec();
  stats_.last_cycle_duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  stats_.last_error = error;
}

void MonitorService::emit(const monitor::Event& event) {
  (void)deps_.registry.append_event(to_record(event));
  {
    std::lock_guard lock(mutex_);
    ++stats_.events;
  }
  if (deps_.on_event) deps_.on_event(event);
}

void MonitorService::run_health_checks(const std::vector<registry::AppRecord>& apps, std::int64_t now) {
  if (!deps_.probe) return;
  for (const auto& record : apps) {
    const auto& def = record.definition;
    if (!def.health_check) continue;
    std::uint16_t port = 0;
    {
      std::lock_guard lock(mutex_);
      auto it = tracks_.find(def.name);
      if (it == tracks_.end() || !it->second.health || !it->second.last) continue;
      const auto& st = *it->second.last;
      const bool up = st.active_state == "active";
      if (!up || !it->second.health->due(now)) continue;
      auto p = monitor::health_port(*def.health_check, def);
      if (!p) continue;
      port = *p;
      it->second.health->mark_started(now);
      ++stats_.probes;
    }
    const std::string app = def.name;
    const core::HealthCheck check = *def.health_check;
    deps_.probe(check, port, [this, app, check](ProbeOutcome outcome) { on_probe_result(app, check, outcome); });
  }
}

void MonitorService::on_probe_result(const std::string& app, const core::HealthCheck& check,
                                     const ProbeOutcome& outcome) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    auto it = tracks_.find(app);
    if (it == tracks_.end() || !it->second.health || it->second.health->check() != check) return;
    auto& tracker = *it->second.health;
    const auto before = tracker.view().state;
    const std::int64_t now = deps_.now_usec();
    if (outcome.ok) {
      tracker.record_pass(now, outcome.latency);
    } else {
      tracker.record_failure(now, outcome.error);
      ++stats_.probe_failures;
    }
    changed = tracker.view().state != before || tracker.should_restart();
  }
  // The next cycle reconciles with the new health view (and restarts if asked).
  if (changed) wake();  // a new health view: reconcile again, no unit to re-read
}

std::optional<monitor::AppState> MonitorService::state(const std::string& app) const {
  std::lock_guard lock(mutex_);
  auto it = states_.find(app);
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

std::vector<monitor::AppState> MonitorService::states() const {
  std::lock_guard lock(mutex_);
  std::vector<monitor::AppState> out;
  out.reserve(states_.size());
  for (const auto& [name, s] : states_) out.push_back(s);
  return out;
}

std::optional<core::UnitStatus> MonitorService::unit_status(const std::string& app) const {
  const std::int64_t now = deps_.now_usec();
  const std::int64_t max_age_us =
      3 * std::chrono::duration_cast<std::chrono::microseconds>(options_.scan_interval).count();
  std::lock_guard lock(mutex_);
  if (now - units_at_usec_ > max_age_us) return std::nullopt;
  auto it = units_.find(app);
  if (it == units_.end()) return std::nullopt;
  return it->second;
}

std::vector<monitor::MonitoredState> MonitorService::monitored() const {
  std::lock_guard lock(mutex_);
  std::vector<monitor::MonitoredState> out;
  for (const auto& [key, s] : monitored_) out.push_back(s);
  return out;
}

MonitorStats MonitorService::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

Result<std::vector<core::ProcessInfo>> MonitorService::scan_processes() {
  std::lock_guard scan_lock(scan_mutex_);
  return deps_.processes.full_scan(std::chrono::steady_clock::now());
}

void MonitorService::apply_cgroup_usage(const std::string& app, const std::string& control_group, bool probe,
                                        monitor::AppState& state) {
  procscan::CgroupUsageFiles files;
  {
    std::lock_guard lock(mutex_);
    auto& track = tracks_[app];
    if (probe) track.usage_files = {};
    files = track.usage_files;
  }
  if (files.probed && files.memory.empty() && files.cpu.empty()) return;  // no accounting here
  const auto usage = deps_.unit_usage(control_group, files);
  const auto at = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto& track = tracks_[app];
  track.usage_files = files;
  if (usage.memory_bytes) {
    state.memory_bytes = *usage.memory_bytes;
    state.memory_from_systemd = true;
  }
  if (usage.cpu_usec) {
    if (track.cpu_usec && *usage.cpu_usec >= *track.cpu_usec && at > track.cpu_at) {
      const auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(at - track.cpu_at).count();
      state.cpu_percent = static_cast<double>(*usage.cpu_usec - *track.cpu_usec) * 100.0 / static_cast<double>(elapsed_us);
    }
    track.cpu_usec = usage.cpu_usec;
    track.cpu_at = at;
  }
}

void MonitorService::update_hot_pids() {
  std::vector<int> hot;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, st] : states_) {
      hot.insert(hot.end(), st.stray_pids.begin(), st.stray_pids.end());
      if (st.main_pid > 0) hot.push_back(st.main_pid);
    }
    for (const auto& [key, m] : monitored_) hot.insert(hot.end(), m.pids.begin(), m.pids.end());
  }
  std::lock_guard scan_lock(scan_mutex_);
  deps_.processes.set_hot_pids(std::move(hot));
}

std::vector<core::ProcessInfo> MonitorService::last_processes() const {
  std::lock_guard lock(mutex_);
  return last_processes_;
}

}  // namespace siax::agent
