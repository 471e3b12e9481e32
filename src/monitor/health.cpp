#include "monitor/health.h"

#include <fmt/format.h>

namespace siax::monitor {

std::int64_t HealthTracker::interval_usec() const noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(check_.interval).count();
}

bool HealthTracker::due(std::int64_t now_usec) const noexcept {
  if (in_flight_) return false;
  // After reset(): wait one interval, unless the clock jumped back further than that.
  if (now_usec < not_before_usec_ && not_before_usec_ - now_usec <= interval_usec()) return false;
  if (last_start_usec_ == 0) return true;
  if (now_usec < last_start_usec_) return true;  // the clock went back: do not stall for the jump
  return now_usec - last_start_usec_ >= interval_usec();
}

void HealthTracker::mark_started(std::int64_t now_usec) noexcept {
  in_flight_ = true;
  last_start_usec_ = now_usec;
}

void HealthTracker::record_pass(std::int64_t now_usec, std::chrono::milliseconds latency) {
  in_flight_ = false;
  if (last_start_usec_ == 0) last_start_usec_ = now_usec;
  just_unhealthy_ = false;
  state_ = HealthState::Healthy;
  failures_ = 0;
  last_error_.clear();
  last_checked_usec_ = now_usec;
  last_latency_ms_ = latency.count();
}

void HealthTracker::record_failure(std::int64_t now_usec, const std::string& error) {
  in_flight_ = false;
  if (last_start_usec_ == 0) last_start_usec_ = now_usec;
  just_unhealthy_ = false;
  if (failures_ < UINT32_MAX) ++failures_;
  last_error_ = error.size() > kMaxError ? error.substr(0, kMaxError - 3) + "..." : error;
  last_checked_usec_ = now_usec;
  if (failures_ >= check_.failures_before_unhealthy && state_ != HealthState::Unhealthy) {
    state_ = HealthState::Unhealthy;
    just_unhealthy_ = true;
  }
}

void HealthTracker::reset(std::int64_t now_usec) noexcept {
  state_ = HealthState::Unknown;
  failures_ = 0;
  last_error_.clear();
  last_latency_ms_ = -1;
  in_flight_ = false;
  just_unhealthy_ = false;
  last_start_usec_ = 0;
  not_before_usec_ = now_usec + interval_usec();
}

HealthView HealthTracker::view() const {
  return HealthView{state_, failures_, last_error_, last_checked_usec_, last_latency_ms_};
}

Result<std::uint16_t> health_port(const core::HealthCheck& check, const core::AppDefinition& def) {
  if (check.port != 0) return check.port;
  if (def.port != 0) return def.port;
  return fail(ErrorKind::InvalidInput, "health_check_port_missing",
              fmt::format("app '{}' has a health check without a port and declares no port: set health_check.port "
                          "or the app's port",
                          def.name));
}

}  // namespace siax::monitor
