#pragma once
/// The auth module reads time through siax::Clock (common/clock.h).
#include <chrono>

#include "common/clock.h"

namespace siax::auth {

using TimePoint = Clock::time_point;

/// A steady clock that lives as long as the process.
/// TODO(merge): remove alias (cli/serve.cpp passes auth::steady_now(); pass its siax::SteadyClock)
[[nodiscard]] inline const Clock& steady_now() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace siax::auth
