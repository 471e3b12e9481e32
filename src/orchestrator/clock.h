#pragma once
/// The time source of the orchestrator, injected so that tests drive time by hand
/// (tests/unit/orchestrator/manual_clock.h) instead of sleeping.
#include <chrono>

namespace siax::orchestrator {

/// A monotonic clock. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
};

/// The real clock: std::chrono::steady_clock (immune to wall-clock changes).
class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace siax::orchestrator
