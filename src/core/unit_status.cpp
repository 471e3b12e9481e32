#include "core/unit_status.h"

#include <fmt/format.h>

namespace siax::core {

const char* to_string(UnitPhase phase) noexcept {
  switch (phase) {
    case UnitPhase::Active: return "active";
    case UnitPhase::Inactive: return "inactive";
    case UnitPhase::Failed: return "failed";
    case UnitPhase::Activating: return "activating";
    case UnitPhase::AutoRestart: return "auto-restart";
    case UnitPhase::Deactivating: return "deactivating";
    case UnitPhase::Reloading: return "reloading";
    case UnitPhase::NotFound: return "not-found";
    case UnitPhase::Unknown: return "unknown";
  }
  return "unknown";
}

const char* to_string(ExitCode code) noexcept {
  switch (code) {
    case ExitCode::None: return "none";
    case ExitCode::Exited: return "exited";
    case ExitCode::Killed: return "killed";
    case ExitCode::Dumped: return "dumped";
  }
  return "none";
}

UnitPhase map_phase(const std::string& load_state, const std::string& active_state,
                    const std::string& sub_state) noexcept {
  if (load_state == "not-found") {
    // A unit that no longer exists can still be loaded in memory as failed; the
    // failure is what matters then.
    return active_state == "failed" ? UnitPhase::Failed : UnitPhase::NotFound;
  }
  if (active_state == "active") return UnitPhase::Active;
  if (active_state == "inactive") return UnitPhase::Inactive;
  if (active_state == "failed") return UnitPhase::Failed;
  if (active_state == "activating") {
    return sub_state == "auto-restart" ? UnitPhase::AutoRestart : UnitPhase::Activating;
  }
  if (active_state == "deactivating") return UnitPhase::Deactivating;
  if (active_state == "reloading") return UnitPhase::Reloading;
  return UnitPhase::Unknown;
}

UnitPhase UnitStatus::phase() const noexcept { return map_phase(load_state, active_state, sub_state); }

std::string UnitStatus::failure_summary() const {
  std::string how;
  switch (exec_main_code) {
    case ExitCode::Exited: how = fmt::format("exited with status {}", exec_main_status); break;
    case ExitCode::Killed: how = fmt::format("killed by signal {}", exec_main_status); break;
    case ExitCode::Dumped: how = fmt::format("dumped core on signal {}", exec_main_status); break;
    case ExitCode::None: how = "never ran"; break;
  }
  if (result == "oom-kill") return fmt::format("killed by the out-of-memory killer ({})", how);
  if (result == "timeout") return fmt::format("timed out ({})", how);
  if (result == "start-limit-hit") return "restarted too often: systemd's start limit was hit";
  if (result.empty() || result == "success") return how;
  return fmt::format("{} ({})", how, result);
}

}  // namespace siax::core
