#pragma once
#include "config/config.h"

namespace siax::cli {

/// Runs the agent until SIGTERM/SIGINT: the composition root of `siax-agent serve`.
int serve(const config::Config& cfg);

}  // namespace siax::cli
