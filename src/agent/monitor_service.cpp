#include "agent/monitor_service.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/app_definition.h"

namespace siax::agent {

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

void MonitorService::emit(const monitor::Event& event) {
  (void)deps_.registry.append_event(registry::EventRecord{0, event.at_usec, event.app, event.kind,
                                                          monitor::to_string(event.severity), event.message});
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
      if (it == tracks_.end() || !it->second.health || !it->second.events.last()) continue;
      const auto& st = *it->second.events.last();
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
  auto usage = deps_.unit_usage(control_group, files);
  if (files.memory.empty()) {
    // No memory accounting (a hybrid host's unified cpu.stat alone, as in the sandbox): the
    // unit's processes, which the scan reads anyway, give both figures; stop reading files.
    files.cpu.clear();
    usage = procscan::CgroupUsage{};
  }
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
