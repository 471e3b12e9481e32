#pragma once
/// Reconciliation: systemd's view of an app's unit + the process table + the health
/// check -> one AppState (functional core; the table is docs/STATUS.md).
///
/// Pure functions of their arguments (time included): no I/O, no globals, callable from
/// any thread.
#include <cstdint>
#include <optional>
#include <string>
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

/// The reconciled state of one app. `unit` is nullopt when systemd is unreachable;
/// `health` is the health tracker's view when the app declares a check; `now_usec` (wall
/// clock, µs since the epoch) is the time of the scan, used for uptime and updated_usec.
[[nodiscard]] AppState reconcile(const core::AppDefinition& def, const std::optional<core::UnitStatus>& unit,
                                 const std::vector<core::ProcessInfo>& processes,
                                 const std::optional<HealthView>& health, std::int64_t now_usec);

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
