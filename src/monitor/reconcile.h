#pragma once
/// Reconciliation: systemd's view of an app's unit + the process table + the health
/// check -> one AppState (functional core; the table is docs/STATUS.md).
///
/// Pure functions of their arguments (time included): no I/O, no globals, callable from
/// any thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/app_definition.h"
#include "core/process_info.h"
#include "core/unit_status.h"
#include "monitor/app_state.h"

namespace siax::monitor {

/// Whether a process runs the app (its cgroup is not looked at here):
/// - NodeScript / PythonScript: kind Node / Python, and an argv element equals
///   script_path, or a relative argv element resolved against the process cwd does
///   (paths compared after lexical normalization: "./a/../app.js" == "app.js");
/// - NpmStart: kind Node and cwd == working_directory;
/// - Uvicorn: kind Python, an argv element equals the module string, and
///   cwd == working_directory when the cwd is readable;
/// - Custom: exe == script_path, or argv[0] (or any argv element: a script run through
///   its shebang has argv = [interpreter, script, ...]) equals script_path.
/// Processes with an empty cmdline (kernel threads, zombies) and zombies ('Z') never match.
[[nodiscard]] bool matches_app(const core::AppDefinition& def, const core::ProcessInfo& process);
/// A process that runs a program: not a kernel thread, a cmdline, not a zombie ('Z').
[[nodiscard]] bool is_live_process(const core::ProcessInfo& process);

/// The process table arranged once for many reconcile() calls (one monitor cycle: every
/// app against the same table): each unit's processes, the processes that can be a stray
/// of some app (live, and not in any app's unit), and the processes by pid. Without it,
/// each reconcile() walks the whole table (apps x processes per cycle).
///
/// It points into the table it was built from: build it after the table's last change and
/// keep the table alive and unchanged while it is used. reconcile() ignores an index built
/// from another table, or from this one before it grew, shrank or moved (it compares the
/// vector's address, data pointer and size) and walks the table itself; an element
/// replaced in place is NOT detected. Immutable once built: share it across threads freely.
class ProcessIndex {
 public:
  explicit ProcessIndex(const std::vector<core::ProcessInfo>& processes);

  /// Whether this index describes `processes` as they are now (see above).
  [[nodiscard]] bool covers(const std::vector<core::ProcessInfo>& processes) const noexcept;
  /// The processes (not kernel threads) whose unit is `unit`, in table order.
  [[nodiscard]] const std::vector<const core::ProcessInfo*>& in_unit(std::string_view unit) const;
  /// The live processes (is_live_process) outside every app's unit, in table order.
  [[nodiscard]] const std::vector<const core::ProcessInfo*>& stray_candidates() const noexcept { return candidates_; }
  /// The first process with this pid in the table, or nullptr.
  [[nodiscard]] const core::ProcessInfo* find(int pid) const;
  /// The stray candidates that may designate a path whose last component is `tail` (not
  /// "", "." or ".."): an argv element or the exe ending in `tail`, "", "." or "..". What
  /// matches_app needs for the apps matched by an absolute lexically normal path (node,
  /// python, custom): the others cannot match. Positions in stray_candidates(), ascending.
  [[nodiscard]] std::vector<std::size_t> candidates_by_tail(std::string_view tail) const;

 private:
  const std::vector<core::ProcessInfo>* table_;
  const core::ProcessInfo* data_;
  std::size_t size_;
  std::unordered_map<std::string_view, std::vector<const core::ProcessInfo*>> by_unit_;
  std::vector<const core::ProcessInfo*> candidates_;
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_tail_;  ///< tail -> positions in candidates_
  std::vector<std::size_t> odd_tails_;  ///< candidates with an argv element or exe ending in "", "." or ".."
  std::vector<std::pair<int, const core::ProcessInfo*>> by_pid_;  ///< sorted by pid, first occurrence kept
};

/// The reconciled state of one app. `unit` is nullopt when systemd is unreachable;
/// `health` is the health tracker's view when the app declares a check; `now_usec` (wall
/// clock, µs since the epoch) is the time of the scan, used for uptime and updated_usec.
[[nodiscard]] AppState reconcile(const core::AppDefinition& def, const std::optional<core::UnitStatus>& unit,
                                 const std::vector<core::ProcessInfo>& processes,
                                 const std::optional<HealthView>& health, std::int64_t now_usec);
/// The same, with `index` built from `processes` (see ProcessIndex): the same result, in
/// time proportional to the unit's processes and the stray candidates instead of the whole
/// table. A null index, or one that does not cover `processes`, is the call above.
[[nodiscard]] AppState reconcile(const core::AppDefinition& def, const std::optional<core::UnitStatus>& unit,
                                 const std::vector<core::ProcessInfo>& processes,
                                 const std::optional<HealthView>& health, std::int64_t now_usec,
                                 const ProcessIndex* index);

/// "SIGKILL" for 9, ... ; "signal 42" for one without a name.
[[nodiscard]] std::string signal_name(int signal);
/// Short form for the API: "exited 1", "killed by SIGKILL", "dumped core (SIGSEGV)", "" (never ran).
[[nodiscard]] std::string short_exit(core::ExitCode code, int status);
/// Why a unit failed, one line: "exited with status 1 (exit-code)", "killed by signal 9
/// (SIGKILL)", "out of memory (oom-kill): killed by signal 9 (SIGKILL)", "start limit hit:
/// restarted too often", "timeout: ...". Exit statuses 200..243 (systemd could not set up
/// the process) are explained ("203/EXEC: ...").
[[nodiscard]] std::string failure_reason(const core::UnitStatus& unit);

// The watched processes (monitored.cpp).

/// "<user>:<argv>" with each argv element shell-quoted when it holds anything but
/// [A-Za-z0-9_@%+=:,./-] (and '' for an empty element). See MonitorSpec.
[[nodiscard]] std::string monitored_key(const std::string& user, const std::vector<std::string>& cmdline);
/// The spec that watches processes with the same user and argv as `process`.
[[nodiscard]] MonitorSpec monitor_spec_for(const core::ProcessInfo& process, std::string name = "");
/// Running when some process (not a zombie) has exactly spec.cmdline as argv and, when
/// spec.user is set, that user; Stopped otherwise.
[[nodiscard]] MonitoredState reconcile_monitored(const MonitorSpec& spec, const std::vector<core::ProcessInfo>& processes,
                                                 std::int64_t now_usec);

}  // namespace siax::monitor
