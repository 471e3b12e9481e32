#pragma once
/// The monitor loop: what tells the truth about every app. Each cycle it reads the
/// registry (managed apps and monitored processes), scans /proc once (incrementally: see
/// ProcScanner), reconciles (monitor/reconcile.h), turns transitions into events (stored in
/// the registry, handed to the cloud), schedules HTTP health checks and keeps the latest
/// states for the API. systemd is asked about an app's unit only when it is new to the
/// monitor, when a signal or an operation named it, when its main process vanished, or on
/// its turn in the slow safety-net re-sync (MonitorOptions::resync_interval).
///
/// A cycle runs every `scan_interval`; trigger(app) (the unit watcher calls it when systemd
/// changes one of our units; the API after a lifecycle operation) re-reads that app within
/// a few milliseconds, and trigger() (a daemon-reload, a reconnection) re-reads every unit.
///
/// Threading: one monitor thread runs the cycles (it blocks on D-Bus, /proc and SQLite).
/// `trigger`, the getters and `scan_processes` may be called from any thread. Health
/// probes are started through `Deps::probe`, which must not block (the composition root
/// runs them asynchronously on the io_context); their results may arrive on any thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "core/app_definition.h"
#include "core/process_info.h"
#include "core/unit_status.h"
#include "ports/systemd_manager.h"
#include "monitor/app_state.h"
#include "monitor/events.h"
#include "monitor/health.h"
#include "procscan/cgroup_procs.h"
#include "procscan/proc_scanner.h"
#include "registry/registry.h"

namespace siax::monitor {
class ProcessIndex;  // monitor/reconcile.h
}  // namespace siax::monitor

namespace siax::agent {

/// The result of one HTTP health probe.
struct ProbeOutcome {
  bool ok = false;
  std::chrono::milliseconds latency{0};
  std::string error;  ///< "" when ok
};

struct MonitorDeps {
  registry::Registry& registry;
  procscan::ProcessSource& processes;
  /// systemd's view of one app's unit; an error when systemd cannot be asked. Called on
  /// the monitor thread.
  std::function<Result<core::UnitStatus>(const std::string& app)> unit_status;
  /// The unit file's state for drift events: "current", "stale", "edited", "foreign",
  /// "missing" ("" = unknown). Called on the monitor thread. May be empty.
  std::function<std::string(const std::string& app)> unit_file_state;
  /// Up to a few last log lines of an app (for failure events). May be empty.
  std::function<std::vector<std::string>(const std::string& app)> last_log_lines;
  /// Starts a probe and calls `done` once, from any thread. Must not block. May be empty
  /// (then health checks are not run).
  std::function<void(const core::HealthCheck& check, std::uint16_t port, std::function<void(ProbeOutcome)> done)>
      probe;
  /// Restarts an unhealthy app whose check asks for it, within its rate limit; returns a
  /// one-line outcome for the event. Called on the monitor thread. May be empty.
  std::function<std::string(const std::string& app)> restart_app;
  /// Called on the monitor thread when an app's state changed (status, pid, reason...)
  /// and for every app at each heartbeat of the caller's choosing. May be empty.
  std::function<void(const monitor::AppState&)> on_state;
  /// Called on the monitor thread for every new event (after it is stored). May be empty.
  std::function<void(const monitor::Event&)> on_event;
  std::function<std::int64_t()> now_usec;
  /// Called on the monitor thread when an app it reported is no longer registered.
  /// May be empty.
  std::function<void(const std::string& app)> on_removed = nullptr;
  /// The load/active/sub states of every loaded unit of ours, by app name, in one call to
  /// systemd: asked by a signalled re-read of a stopped app, to skip the read when systemd
  /// still has the unit unloaded (see run_partial). May be empty.
  std::function<Result<std::map<std::string, ports::UnitListEntry>>()> unit_states = nullptr;
  /// The live state (issue 12). Called on the monitor thread for every app each time it is
  /// reconciled (a full cycle or a signalled re-read of that app), with what it was
  /// reconciled from; the receiver keeps only what changed. May be empty.
  std::function<void(const registry::AppRecord&, const Result<core::UnitStatus>&, const monitor::AppState&)>
      on_app_view = nullptr;
  /// Same for a monitored process. May be empty.
  std::function<void(const registry::MonitoredProcess&, const monitor::MonitoredState&)> on_monitored_view = nullptr;
  /// After a full cycle that could read the registry: every app and monitored key it saw
  /// (the receiver forgets the others). May be empty.
  std::function<void(const std::vector<std::string>& apps, const std::vector<std::string>& monitored)> on_full_cycle =
      nullptr;
  /// The pids of a unit's cgroup (its ControlGroup property), for a signalled re-read of
  /// one app without walking /proc. May be empty (then the unit's main pid and the
  /// processes the last scan saw in it are read).
  std::function<std::vector<int>(const std::string& control_group)> unit_pids = nullptr;
  /// The unit's usage from its cgroup's files (systemd's accounting: memory.current,
  /// cpu.stat), where they exist; `files` remembers which ones (see read_cgroup_usage).
  /// When it gives a figure, it replaces the sum over the unit's processes. May be empty.
  std::function<procscan::CgroupUsage(const std::string& control_group, procscan::CgroupUsageFiles& files)>
      unit_usage = nullptr;
};

struct MonitorOptions {
  std::chrono::milliseconds scan_interval{5'000};
  /// A trigger waits this long for more triggers before scanning (systemd sends several
  /// signals per job).
  std::chrono::milliseconds trigger_debounce{100};
  /// The safety net behind the signals: once per this interval one call lists systemd's
  /// loaded app units (MonitorDeps::unit_states) and every app whose load/active/sub state
  /// there is not the one held is read again in full. A cycle otherwise asks systemd
  /// nothing about an app it has read, unless a signal or an operation named it
  /// (trigger), or its main process vanished from /proc. Without that list (no dependency,
  /// or the call failed) every unit is read in full once per interval instead, spread over
  /// it (each cycle the apps whose turn it is: 1 in resync_interval / scan_interval).
  /// Usage comes from the cgroup or the processes every cycle. The unit-file drift check
  /// (a registry read and a file read, no systemd) runs when the app's unit is read in
  /// full and at the app's turn.
  std::chrono::milliseconds resync_interval{300'000};
  /// trigger(app) alone (a systemd signal for that app, an operation) re-reads only the
  /// named apps' units and processes after this short debounce, instead of a full cycle.
  std::chrono::milliseconds signal_debounce{5};
};

/// Counters for /metrics and /api/system.
struct MonitorStats {
  std::uint64_t cycles = 0;
  std::uint64_t triggered_cycles = 0;
  std::uint64_t events = 0;
  std::uint64_t probes = 0;
  std::uint64_t probe_failures = 0;
  std::int64_t last_cycle_usec = 0;       ///< wall clock of the last cycle's end
  std::int64_t last_cycle_duration_us = 0;
  std::size_t processes = 0;              ///< in the last scan
  std::string last_error;                 ///< of the last cycle ("" when it went well)
  std::uint64_t unit_reads = 0;           ///< full unit statuses read from systemd
  std::uint64_t unit_reads_saved = 0;     ///< statuses kept from the cycle before (states unmoved)
  std::uint64_t partial_cycles = 0;       ///< re-reads of only the signalled apps
  std::uint64_t resync_lists = 0;         ///< the safety net's lists of systemd's app units
};

/// How many cycles one safety-net re-sync is spread over (>= 1). Pure.
[[nodiscard]] std::size_t resync_period(std::chrono::milliseconds resync_interval,
                                        std::chrono::milliseconds scan_interval);
/// Whether the app at `index` in the registry's list has its turn in the cycle at `phase`
/// of a re-sync of `period` cycles. Pure.
[[nodiscard]] bool resync_turn(std::size_t index, std::size_t phase, std::size_t period);

/// How a monitored process's argv is kept in the registry's `command` column: a JSON
/// array of strings. monitored_argv returns {} for anything else.
[[nodiscard]] std::string monitored_command(const std::vector<std::string>& argv);
[[nodiscard]] std::vector<std::string> monitored_argv(const std::string& command);

class MonitorService {
 public:
  MonitorService(MonitorDeps deps, MonitorOptions options);
  ~MonitorService();  ///< stops the thread
  MonitorService(const MonitorService&) = delete;
  MonitorService& operator=(const MonitorService&) = delete;

  /// Starts the monitor thread (the first cycle runs at once). Idempotent.
  void start();
  /// Stops and joins the thread. Idempotent.
  void stop();
  /// Asks for a cycle soon (debounced) that re-reads every app's unit. Any thread, never blocks.
  void trigger();
  /// Asks for a cycle soon that re-reads `app`'s unit (systemd signalled a change to it).
  void trigger(const std::string& app);

  /// Holds an app while it is being deleted (its unit goes before its registry row): the
  /// cycles keep its last state and raise no event for it (no "unit file missing" drift,
  /// no "unknown") until `release`, or until it leaves the registry. Any thread.
  void hold(const std::string& app);
  void release(const std::string& app);
  /// One whole cycle on the caller's thread (what the thread runs; tests call it).
  void run_cycle();
  /// Re-reads only these apps (their unit, their cgroup's processes) and reconciles them
  /// against the last scan for the rest (what a signal for one app runs). An app no
  /// longer registered is dropped (on_removed). Caller's thread.
  void run_partial(const std::set<std::string>& apps);
  /// Records an event that is not tied to a scan (e.g. the bus reconnected). Any thread.
  void note(const monitor::Event& event);

  /// The latest state of an app (nullopt before its first cycle or when unknown).
  [[nodiscard]] std::optional<monitor::AppState> state(const std::string& app) const;
  [[nodiscard]] std::vector<monitor::AppState> states() const;
  /// The unit status the last cycle read for an app, if that cycle ran within three scan
  /// intervals (for GET /api/apps, which checks it against systemd's list of states).
  [[nodiscard]] std::optional<core::UnitStatus> unit_status(const std::string& app) const;
  [[nodiscard]] std::vector<monitor::MonitoredState> monitored() const;
  [[nodiscard]] MonitorStats stats() const;
  /// A fresh process table (for GET /api/scan). Any thread; serialized with the cycles.
  [[nodiscard]] Result<std::vector<core::ProcessInfo>> scan_processes();
  /// The last cycle's process table (cheap).
  [[nodiscard]] std::vector<core::ProcessInfo> last_processes() const;

 private:
  struct AppTrack {
    monitor::EventTracker events;                    ///< also holds the state observed last (events.last())
    std::unique_ptr<monitor::HealthTracker> health;  ///< when the app declares a check
    /// The last unit-drift check (re-done only when the unit is read in full, see run_cycle).
    std::optional<monitor::Event> drift;
    bool drift_checked = false;
    /// The cgroup usage files found for the unit, and the last CPU sample from them.
    procscan::CgroupUsageFiles usage_files;
    std::optional<std::uint64_t> cpu_usec;
    std::chrono::steady_clock::time_point cpu_at{};
  };
  /// Replaces the state's usage with the unit's cgroup figures where there are some
  /// (`probe`: look for the files again, e.g. after the unit was re-read in full).
  void apply_cgroup_usage(const std::string& app, const std::string& control_group, bool probe,
                          monitor::AppState& state);
  /// Tells the process source which processes outside our units to keep fresh: the
  /// strays and the main processes the states name, and the monitored processes' pids.
  void update_hot_pids();
  /// What a full cycle decides before reading anything.
  struct CyclePlan {
    bool read_all = false;         ///< after trigger(): every unit
    std::set<std::string> named;   ///< trigger(app) since the last cycle
    std::size_t phase = 0;         ///< of the safety-net re-sync
    std::size_t period = 1;
    bool listed = false;           ///< the re-sync is the list's (no unit read at a turn)
  };
  /// What a full cycle collects; applied under the lock at its end.
  struct CycleOutcome {
    std::vector<monitor::AppState> changed;
    std::vector<monitor::Event> events;
    std::map<std::string, monitor::AppState> states;
    std::map<std::string, core::UnitStatus> units;
    std::map<std::string, monitor::MonitoredState> monitored;
    std::uint64_t reads = 0;
    std::uint64_t saved = 0;
    std::uint64_t unit_errors = 0;
  };
  struct PartialOutcome {
    std::vector<monitor::AppState> changed;
    std::vector<monitor::Event> events;
    std::vector<std::string> removed;
    std::uint64_t reads = 0;
  };
  // monitor_cycle.cpp: the full cycle, in the order it runs.
  CyclePlan plan_cycle();
  /// The safety net's list (once per period): adds to plan.named the apps whose listed
  /// state moved. Whether the list was read.
  bool resync_by_list(const std::vector<registry::AppRecord>& apps, CyclePlan& plan);
  bool keep_held(const std::string& app, CycleOutcome& out);
  /// systemd's view of the app's unit: the one read before (`kept`) or a fresh read.
  Result<core::UnitStatus> unit_for_cycle(const std::string& app, const CyclePlan& plan, bool turn,
                                          const std::vector<core::ProcessInfo>& processes, bool& kept);
  void ensure_main_process(const std::optional<core::UnitStatus>& unit, std::vector<core::ProcessInfo>& processes);
  /// The app's health view (`adopt_check`: create or replace its tracker from the definition).
  std::optional<monitor::HealthView> health_view(const core::AppDefinition& def,
                                                 const std::optional<core::UnitStatus>& unit, std::int64_t now,
                                                 bool adopt_check);
  std::optional<monitor::Event> drift_for(const std::string& app, bool read_in_full, std::int64_t now);
  void restart_if_unhealthy(const std::string& app, std::int64_t now, std::vector<monitor::Event>& events);
  /// Feeds the app's event tracker; its events go to `events`. Whether to report the state.
  bool observe(const std::string& app, const monitor::AppState& state, const std::optional<monitor::Event>& port_conflict,
               const std::optional<monitor::Event>& drift, std::int64_t now, std::vector<monitor::Event>& events);
  void cycle_app(const registry::AppRecord& record, const CyclePlan& plan, bool turn,
                 std::vector<core::ProcessInfo>& processes, std::optional<monitor::ProcessIndex>& index, std::int64_t now,
                 CycleOutcome& out);
  void cycle_monitored(const std::vector<registry::MonitoredProcess>& specs,
                       const std::vector<core::ProcessInfo>& processes, std::int64_t now, CycleOutcome& out);
  /// Makes the cycle's outcome current; the apps that left the registry.
  std::vector<std::string> commit_cycle(CycleOutcome& out, const std::vector<registry::AppRecord>* apps,
                                        std::vector<core::ProcessInfo> processes, std::int64_t now);
  void publish(const std::vector<monitor::Event>& events, const std::vector<std::string>& removed,
               const std::vector<monitor::AppState>& changed);
  void finish_cycle(std::chrono::steady_clock::time_point started, const std::string& error);
  // monitor_cycle.cpp: the partial re-read.
  bool unloaded_and_unmoved(const std::string& app, const std::optional<core::UnitStatus>& before,
                            std::optional<Result<std::map<std::string, ports::UnitListEntry>>>& listed);
  void reread_unit_processes(const std::string& unit_name, const Result<core::UnitStatus>& unit,
                             std::vector<core::ProcessInfo>& table);
  void partial_app(const std::string& name, std::int64_t now, std::vector<core::ProcessInfo>& table,
                   std::optional<Result<std::map<std::string, ports::UnitListEntry>>>& listed, PartialOutcome& out);
  void loop();
  void wake();
  void emit(const monitor::Event& event);
  void run_health_checks(const std::vector<registry::AppRecord>& apps, std::int64_t now);
  void on_probe_result(const std::string& app, const core::HealthCheck& check, const ProbeOutcome& outcome);

  MonitorDeps deps_;
  MonitorOptions options_;

  std::mutex scan_mutex_;  ///< the scanner is single-threaded; cycles and scan_processes share it

  mutable std::mutex mutex_;  ///< guards everything below
  std::map<std::string, monitor::AppState> states_;
  std::map<std::string, monitor::MonitoredState> monitored_;
  std::map<std::string, core::UnitStatus> units_;  ///< as read by the last cycle
  std::set<std::string> held_;                     ///< apps being deleted
  std::int64_t units_at_usec_ = 0;
  std::chrono::milliseconds retry_delay_{0};  ///< > 0: the last cycle could not read some unit
  std::vector<core::ProcessInfo> last_processes_;
  MonitorStats stats_;
  std::map<std::string, AppTrack> tracks_;  ///< per app, also touched by probe results

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool triggered_ = false;
  bool refresh_all_ = true;           ///< the next cycle reads every unit
  bool full_wanted_ = true;           ///< the next wake-up runs a full cycle (not only the named apps)
  std::set<std::string> refresh_;     ///< the next cycle reads these units
  std::size_t cycles_since_full_ = 0;  ///< the re-sync's phase (0 .. resync_period-1)
  bool listed_resync_ = false;  ///< the last phase-0 list worked: turns read no unit (monitor thread)
  std::chrono::steady_clock::time_point last_trim_{};  ///< malloc_trim after a cycle, at most every 10 s
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace siax::agent
