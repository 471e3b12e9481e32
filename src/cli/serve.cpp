// `siax-agent serve`: the log's format and level, then the agent (src/app/agent.h).
#include "cli/serve.h"

#include <spdlog/spdlog.h>

#include "app/agent.h"

namespace siax::cli {

int serve(const config::Config& cfg) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(cfg.log.level)));
  auto agent = app::Agent::create(cfg);
  if (!agent) {
    spdlog::critical("{}", agent.error().message);
    return 1;
  }
  return (*agent)->run();
}

}  // namespace siax::cli
