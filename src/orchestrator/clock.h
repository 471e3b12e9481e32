#pragma once
/// The orchestrator's clock is siax::Clock (common/clock.h).
#include "common/clock.h"

namespace siax::orchestrator {

using SystemClock = ::siax::SteadyClock;  // TODO(merge): remove alias (cli/serve.cpp; use siax::SteadyClock)

}  // namespace siax::orchestrator
