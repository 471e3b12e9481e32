// `siax-agent serve`: the log's format and level, then the agent (src/app/agent.h).
#include "cli/serve.h"

#include <malloc.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "app/agent.h"

namespace siax::cli {

int serve(const config::Config& cfg) {
  // One malloc arena for every thread instead of one per thread (glibc's default, up to 8
  // per core): 2 arenas were about 1.7 MB less resident than the default with 8 threads, 1
  // another ~0.15 MB less with 200 apps (docs/PERFORMANCE.md). The threads but the io
  // thread allocate rarely (a monitor cycle every 5 s, an operation), so they seldom meet
  // on its lock. An explicit MALLOC_ARENA_MAX in the environment still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) (void)::mallopt(M_ARENA_MAX, 1);
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
