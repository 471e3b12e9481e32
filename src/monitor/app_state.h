#pragma once
/// The monitor's view of one managed app: systemd's unit status and the process table,
/// reconciled into one status a person understands (see reconcile.h and docs/STATUS.md).
/// Pure value types; no I/O; usable from any thread (no shared state).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace siax::monitor {

/// The reconciled status of a managed app. The table is in docs/STATUS.md.
enum class AppStatus {
  Running,     ///< unit active, its main process is the app, health (if any) not failing
  Starting,    ///< unit activating (start, start-pre, start-post)
  Stopping,    ///< unit deactivating
  Stopped,     ///< unit inactive, no process of the app anywhere
  Restarting,  ///< activating/auto-restart: systemd waits before the next try of a crash loop
  Failed,      ///< unit failed (systemd gave up or the app exited with an error)
  Crashed,     ///< systemd says active but the main process is gone or is not the app
  Zombie,      ///< a process of the app runs outside the unit (leftover or second copy)
  Unhealthy,   ///< would be running, but the health check fails
  Unknown,     ///< systemd unreachable, unit not found / masked / in a state we do not know
};

/// "running", "starting", "stopping", "stopped", "restarting", "failed", "crashed",
/// "zombie", "unhealthy", "unknown".
[[nodiscard]] const char* to_string(AppStatus status) noexcept;

enum class HealthState { Healthy, Unhealthy, Unknown };

/// "healthy", "unhealthy", "unknown".
[[nodiscard]] const char* to_string(HealthState state) noexcept;

/// What the health tracker (health.h) knows about an app's HTTP health check.
struct HealthView {
  HealthState state = HealthState::Unknown;
  std::uint32_t consecutive_failures = 0;
  std::string last_error;               ///< "" after a pass; bounded (see HealthTracker)
  std::int64_t last_checked_usec = 0;   ///< wall clock of the last result, 0 = never
  std::int64_t last_latency_ms = -1;    ///< latency of the last pass, -1 = none

  friend bool operator==(const HealthView&, const HealthView&) = default;
};

/// One managed app at one scan.
struct AppState {
  std::string name;
  std::string unit;                ///< "siax-app-<name>.service"
  AppStatus status = AppStatus::Unknown;
  std::string reason;              ///< one line a person understands
  int main_pid = 0;                ///< systemd's MainPID, 0 when none
  std::vector<int> pids;           ///< every process in the unit's cgroup, sorted
  std::vector<int> stray_pids;     ///< processes of the app running outside the unit, sorted
  double cpu_percent = 0.0;        ///< summed over the unit's processes (100 = one core)
  std::uint64_t memory_bytes = 0;  ///< systemd's MemoryCurrent, else the sum of rss of the unit's processes
  bool memory_from_systemd = false;
  std::optional<std::int64_t> uptime_seconds;  ///< while the unit is active: since the main process started
  std::uint32_t restart_count = 0;             ///< systemd's NRestarts
  std::string last_exit;           ///< "exited 1", "killed by SIGKILL", "dumped core (SIGSEGV)", "" = none
  std::string result;              ///< systemd's Result (success, exit-code, signal, oom-kill, ...)
  std::string load_state;          ///< loaded, not-found, masked, ...; "" when systemd is unreachable
  std::string active_state;        ///< active, inactive, failed, activating, ...
  std::string sub_state;           ///< running, dead, auto-restart, ...
  std::optional<HealthView> health;  ///< only for apps that declare a health check
  std::vector<std::uint16_t> listen_ports;  ///< TCP ports the unit's processes listen on, sorted, unique
  std::int64_t updated_usec = 0;   ///< wall clock of the scan this state was computed from

  friend bool operator==(const AppState&, const AppState&) = default;
};

/// An unmanaged process the user asked to watch (see reconcile_monitored()).
///
/// Its key is `<user>:<argv>`, argv shell-quoted (see monitored_key()): stable across
/// restarts of the process (no pid), unambiguous (user names cannot contain ':', the
/// quoting is injective), and readable in the panel and in events.
struct MonitorSpec {
  std::string key;                   ///< monitored_key(user, cmdline)
  std::string name;                  ///< display name chosen by the user ("" = the key)
  std::string user;                  ///< "" = any user
  std::vector<std::string> cmdline;  ///< the exact argv to look for (non-empty)

  friend bool operator==(const MonitorSpec&, const MonitorSpec&) = default;
};

/// A monitored process at one scan: Running (one or more processes with that argv) or
/// Stopped (gone). Only those two statuses are used.
struct MonitoredState {
  std::string key;
  std::string name;
  AppStatus status = AppStatus::Stopped;
  int pid = 0;                     ///< the oldest matching process, 0 when stopped
  std::vector<int> pids;           ///< all matching processes, sorted
  double cpu_percent = 0.0;        ///< summed over pids
  std::uint64_t memory_bytes = 0;  ///< summed rss over pids
  std::optional<std::int64_t> uptime_seconds;  ///< since the oldest matching process started
  std::vector<std::uint16_t> listen_ports;
  std::int64_t updated_usec = 0;

  friend bool operator==(const MonitoredState&, const MonitoredState&) = default;
};

}  // namespace siax::monitor
