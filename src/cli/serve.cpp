// `siax-agent serve`: the log's format and level, then the agent (src/app/agent.h).
#include "cli/serve.h"

#include <malloc.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "app/agent.h"

namespace siax::cli {

int serve(const config::Config& cfg) {
  // Two malloc arenas instead of one per thread (glibc's default, up to 8 per core): about
  // 1.7 MB less resident memory with 8 threads (docs/PERFORMANCE.md); an explicit
  // MALLOC_ARENA_MAX in the environment still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) (void)::mallopt(M_ARENA_MAX, 2);
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
