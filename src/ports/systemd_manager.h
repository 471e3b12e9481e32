#pragma once
/// Port: everything the agent asks of the systemd service manager.
///
/// The real adapter talks to systemd over D-Bus (adapters/linux/sdbus_systemd.h);
/// tests use tests/fakes/fake_systemd.h. One instance is used by one thread at a
/// time (the adapter owns a bus connection that is not thread-safe); callers that
/// act on several apps in parallel hold one instance per worker.
///
/// Errors: PermissionDenied (the bus refused: missing polkit grant or not root),
/// Unavailable (no system bus / systemd not reachable), NotFound (no such unit),
/// Timeout (the job did not finish in time), OperationFailed (the job or the unit
/// failed; details carry "job_result", "result", "exit_code", "exit_status").
#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/unit_status.h"

namespace siax::ports {

struct Capabilities {
  bool systemd_reachable = false;  ///< the system bus answers and systemd is on it
  bool read_status = false;        ///< can read unit properties
  bool manage_units = false;       ///< can start/stop/enable siax-app-* units (root or polkit grant)
  std::string manage_units_reason; ///< how the answer was found, or what is missing
};

/// One loaded unit as systemd lists it (ListUnitsByPatterns): its states, nothing else.
struct UnitListEntry {
  std::string unit;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
};

class SystemdManager {
 public:
  virtual ~SystemdManager() = default;

  /// Reloads unit files (systemctl daemon-reload). Blocks until systemd has reloaded.
  [[nodiscard]] virtual Status daemon_reload() = 0;

  /// Starts the unit and waits for its job; then watches it for the settle period and
  /// fails if the main process exits at once (a failed start, with its exit status).
  [[nodiscard]] virtual Status start(const std::string& unit) = 0;
  /// Stops the unit and waits for its job. Stopping an inactive unit succeeds.
  [[nodiscard]] virtual Status stop(const std::string& unit) = 0;
  /// Restarts (or starts) the unit, waits for the job and the settle period.
  [[nodiscard]] virtual Status restart(const std::string& unit) = 0;
  /// Enables the unit file (WantedBy= links). Idempotent.
  [[nodiscard]] virtual Status enable(const std::string& unit) = 0;
  /// Disables the unit file. Idempotent.
  [[nodiscard]] virtual Status disable(const std::string& unit) = 0;
  /// Forgets a failed state (systemctl reset-failed). Succeeds when there is nothing to reset.
  [[nodiscard]] virtual Status reset_failed(const std::string& unit) = 0;

  /// The unit's status; a unit that does not exist comes back with load_state "not-found".
  [[nodiscard]] virtual Result<core::UnitStatus> status(const std::string& unit) = 0;
  /// Names of units loaded in systemd or with a unit file, matching a glob such as "siax-app-*.service".
  [[nodiscard]] virtual Result<std::vector<std::string>> list_units(const std::string& pattern) = 0;
  /// The states of the units loaded in systemd matching a glob, in one call (a unit
  /// systemd has unloaded, e.g. an inactive one nothing refers to, is absent).
  [[nodiscard]] virtual Result<std::vector<UnitListEntry>> list_unit_states(const std::string& pattern) = 0;
  /// PIDs of every process in the unit's control group.
  [[nodiscard]] virtual Result<std::vector<std::uint32_t>> unit_processes(const std::string& unit) = 0;

  /// What the agent may do; never fails (answers false with a reason instead).
  [[nodiscard]] virtual Capabilities probe_capabilities() = 0;
};

}  // namespace siax::ports
