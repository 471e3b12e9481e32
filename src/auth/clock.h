#pragma once
/// The auth module reads time through siax::Clock (common/clock.h).
#include <chrono>

#include "common/clock.h"

namespace siax::auth {

using TimePoint = Clock::time_point;

}  // namespace siax::auth
