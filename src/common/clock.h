#pragma once
/// The one monotonic time source of the agent, injected so that tests drive time by hand
/// (tests/support/manual_clock.h) instead of sleeping. Rate limits, operation
/// serialization, sessions and login throttling all read time through it.
#include <chrono>

namespace siax {

/// A monotonic clock. Implementations must be safe to call from any thread.
class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  [[nodiscard]] virtual time_point now() const = 0;
};

/// The real clock: std::chrono::steady_clock (immune to wall-clock changes). Stateless.
class SteadyClock final : public Clock {
 public:
  [[nodiscard]] time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace siax
