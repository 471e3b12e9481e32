#pragma once
/// The health-check state machine of one app (functional core). Time is injected (wall
/// clock, µs since the epoch), so tests drive it by hand; a clock that jumps backwards
/// makes a check due rather than stalling it.
///
///   unknown --pass--> healthy --N consecutive failures--> unhealthy --pass--> healthy
///   unknown --N consecutive failures--> unhealthy
///
/// N = failures_before_unhealthy. reset() (the app was restarted, or is not running)
/// goes back to unknown. should_restart() is true right after the failure that made the
/// app unhealthy, when the check asks for it; the caller restarts within the app's rate
/// limit and then calls reset(), so a restarted app that keeps failing is restarted again
/// only after N new failures.
///
/// Not thread-safe: one instance per app, owned by one thread (the monitor's io thread).
#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "core/app_definition.h"
#include "core/health_check.h"
#include "monitor/app_state.h"

namespace siax::monitor {

class HealthTracker {
 public:
  explicit HealthTracker(core::HealthCheck check) : check_(std::move(check)) {}

  /// A probe should start now: none is in flight and the interval since the start of the
  /// previous one has passed (the first check is due at once).
  [[nodiscard]] bool due(std::int64_t now_usec) const noexcept;
  /// A probe starts now (due() is false until its result is recorded).
  void mark_started(std::int64_t now_usec) noexcept;
  void record_pass(std::int64_t now_usec, std::chrono::milliseconds latency);
  /// `error` is kept shortened to kMaxError characters.
  void record_failure(std::int64_t now_usec, const std::string& error);
  /// Back to unknown, no failures; the next check is due one interval from now (the
  /// restarted app gets time to start).
  void reset(std::int64_t now_usec) noexcept;

  [[nodiscard]] HealthView view() const;
  [[nodiscard]] bool should_restart() const noexcept { return check_.restart_when_unhealthy && just_unhealthy_; }
  [[nodiscard]] const core::HealthCheck& check() const noexcept { return check_; }

  static constexpr std::size_t kMaxError = 200;

 private:
  std::int64_t interval_usec() const noexcept;

  core::HealthCheck check_;
  HealthState state_ = HealthState::Unknown;
  std::uint32_t failures_ = 0;
  std::string last_error_;
  std::int64_t last_checked_usec_ = 0;
  std::int64_t last_latency_ms_ = -1;
  std::int64_t last_start_usec_ = 0;     ///< 0: never started
  std::int64_t not_before_usec_ = 0;     ///< set by reset()
  bool in_flight_ = false;
  bool just_unhealthy_ = false;
};

/// The port to probe: the check's own, else the app's declared port; an InvalidInput
/// error ("health_check_port_missing") when neither is set.
[[nodiscard]] Result<std::uint16_t> health_port(const core::HealthCheck& check, const core::AppDefinition& def);

}  // namespace siax::monitor
