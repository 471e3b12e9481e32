#pragma once
/// The time source of the auth module: a plain function rather than the orchestrator's
/// Clock interface, so that auth depends on nothing but common. Adapt any clock with a
/// lambda, e.g. `[&clock] { return clock.now(); }`; tests use a lambda over a variable.
#include <chrono>
#include <functional>

namespace siax::auth {

using TimePoint = std::chrono::steady_clock::time_point;
/// Must be monotonic and safe to call from any thread.
using NowFn = std::function<TimePoint()>;

/// The real clock (steady_clock::now).
[[nodiscard]] inline NowFn steady_now() {
  return [] { return std::chrono::steady_clock::now(); };
}

}  // namespace siax::auth
