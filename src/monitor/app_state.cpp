#include "monitor/app_state.h"

namespace siax::monitor {

const char* to_string(AppStatus status) noexcept {
  switch (status) {
    case AppStatus::Running: return "running";
    case AppStatus::Starting: return "starting";
    case AppStatus::Stopping: return "stopping";
    case AppStatus::Stopped: return "stopped";
    case AppStatus::Restarting: return "restarting";
    case AppStatus::Failed: return "failed";
    case AppStatus::Crashed: return "crashed";
    case AppStatus::Zombie: return "zombie";
    case AppStatus::Unhealthy: return "unhealthy";
    case AppStatus::Unknown: return "unknown";
  }
  return "unknown";
}

const char* to_string(HealthState state) noexcept {
  switch (state) {
    case HealthState::Healthy: return "healthy";
    case HealthState::Unhealthy: return "unhealthy";
    case HealthState::Unknown: return "unknown";
  }
  return "unknown";
}

}  // namespace siax::monitor
