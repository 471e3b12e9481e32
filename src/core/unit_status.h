#pragma once
/// The one status model the rest of the agent uses for a systemd unit.
///
/// Filled from systemd's D-Bus properties (adapters/linux/sdbus_systemd).
/// Pure value type; no I/O.
#include <cstdint>
#include <optional>
#include <string>

namespace siax::core {

/// What the agent reports for a unit, derived from (load, active, sub) states.
enum class UnitPhase {
  Active,        ///< active (running, exited, ...)
  Inactive,      ///< inactive (dead), loaded
  Failed,        ///< failed
  Activating,    ///< activating (start, start-pre, ...)
  AutoRestart,   ///< activating/auto-restart: systemd waits RestartSec before the next try
  Deactivating,  ///< deactivating (stop, stop-sigterm, ...)
  Reloading,     ///< reloading
  NotFound,      ///< no such unit (load state not-found)
  Unknown,       ///< anything systemd may add later
};

[[nodiscard]] const char* to_string(UnitPhase phase) noexcept;

/// How the main process ended last time (systemd's ExecMainCode, see waitid(2)).
enum class ExitCode { None, Exited, Killed, Dumped };

[[nodiscard]] const char* to_string(ExitCode code) noexcept;

struct UnitStatus {
  std::string unit;                 ///< e.g. "siax-app-api.service"
  std::string load_state;           ///< loaded, not-found, masked, error, bad-setting
  std::string active_state;         ///< active, inactive, failed, activating, deactivating, reloading
  std::string sub_state;            ///< running, dead, failed, auto-restart, exited, start, ...
  std::string result;               ///< service Result: success, exit-code, signal, core-dump, timeout, oom-kill, start-limit-hit, ...
  std::string unit_file_state;      ///< enabled, disabled, static, ... ("" when unknown)
  std::string control_group;        ///< e.g. /system.slice/siax-app-api.service ("" when none)
  std::string description;
  std::uint32_t main_pid = 0;       ///< 0 when none
  ExitCode exec_main_code = ExitCode::None;
  int exec_main_status = 0;         ///< exit status, or signal number when killed/dumped
  std::uint32_t restart_count = 0;  ///< NRestarts
  /// Time of the last state change into the current active state (µs since the epoch), 0 if unknown.
  std::uint64_t state_change_usec = 0;
  /// The same change on the monotonic clock (StateChangeTimestampMonotonic, µs since boot), 0
  /// if unknown: it never goes back, so it orders reads of the unit (state::StateStore::put_app).
  std::uint64_t state_change_mono_usec = 0;
  std::optional<std::uint64_t> memory_current_bytes;  ///< absent where the host does not account it
  std::optional<std::uint64_t> cpu_usage_nsec;        ///< absent where the host does not account it

  [[nodiscard]] UnitPhase phase() const noexcept;
  /// One line a person understands, e.g. "failed: exited with status 1 (exit-code)".
  [[nodiscard]] std::string failure_summary() const;
};

/// Maps systemd's (load, active, sub) triple onto the agent's phase.
[[nodiscard]] UnitPhase map_phase(const std::string& load_state, const std::string& active_state,
                                  const std::string& sub_state) noexcept;

}  // namespace siax::core
