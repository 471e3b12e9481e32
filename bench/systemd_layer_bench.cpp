// The systemd layer against systemctl doing the same, on a real systemd (run inside the
// sandbox by bench/run-systemd-bench.sh). The figures that matter are the ratios:
//   restart through the layer / `systemctl restart`
//   status of 200 units through the layer / 200 x `systemctl show`
// The layer's start settle window is set to 0 here, so that the figure is the layer's
// own cost; with the default 500 ms window a start takes at least 500 ms by design.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "units/app_units.h"

extern char** environ;

namespace {

using namespace siax;

constexpr int kUnits = 200;
const char* kScript = SIAX_BENCH_APP;  // a Node.js app that idles

int run(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Fixture {
  std::unique_ptr<adapters::SdbusSystemd> systemd;
  adapters::FsUnitStore store;
  adapters::LinuxHost host;
  std::unique_ptr<units::AppUnits> units;

  Fixture() {
    adapters::SdbusSystemd::Options opts;
    opts.start_settle = std::chrono::milliseconds(0);
    systemd = std::move(*adapters::SdbusSystemd::connect(opts));
    units::PreflightSettings settings;
    settings.allow_root = true;
    units = std::make_unique<units::AppUnits>(*systemd, store, host, settings);
    for (int i = 0; i < kUnits; ++i) {
      core::AppDefinition d;
      d.name = fmt::format("bench{}", i);
      d.runtime = core::Runtime::Custom;
      d.script_path = "/usr/bin/sleep";
      d.args = {"infinity"};
      d.user = "root";
      d.working_directory = "/";
      if (!units->install(d)) std::abort();
    }
    core::AppDefinition node;
    node.name = "bench-node";
    node.script_path = kScript;
    node.user = "root";
    node.working_directory = "/";
    if (!units->install(node)) std::abort();
  }
  ~Fixture() {
    for (int i = 0; i < kUnits; ++i) (void)units->remove(fmt::format("bench{}", i));
    (void)units->remove("bench-node");
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_LayerStartStop(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    if (!f.units->start("bench-node") || !f.units->stop("bench-node")) state.SkipWithError("start/stop failed");
  }
}
BENCHMARK(BM_LayerStartStop)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SystemctlStartStop(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    // like the layer, forget systemd's start-limit counter before each start
    state.PauseTiming();
    (void)f.systemd->reset_failed("siax-app-bench-node.service");
    state.ResumeTiming();
    if (run({"/usr/bin/systemctl", "start", "siax-app-bench-node.service"}) != 0 ||
        run({"/usr/bin/systemctl", "stop", "siax-app-bench-node.service"}) != 0) {
      state.SkipWithError("systemctl failed");
    }
  }
}
BENCHMARK(BM_SystemctlStartStop)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LayerRestart(benchmark::State& state) {
  auto& f = fixture();
  (void)f.systemd->reset_failed("siax-app-bench-node.service");
  if (!f.units->start("bench-node")) state.SkipWithError("start failed");
  for (auto _ : state) {
    if (!f.units->restart("bench-node")) state.SkipWithError("restart failed");
  }
  (void)f.units->stop("bench-node");
}
BENCHMARK(BM_LayerRestart)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SystemctlRestart(benchmark::State& state) {
  auto& f = fixture();
  (void)f.systemd->reset_failed("siax-app-bench-node.service");
  if (!f.units->start("bench-node")) state.SkipWithError("start failed");
  for (auto _ : state) {
    state.PauseTiming();
    (void)f.systemd->reset_failed("siax-app-bench-node.service");
    state.ResumeTiming();
    if (run({"/usr/bin/systemctl", "restart", "siax-app-bench-node.service"}) != 0) state.SkipWithError("failed");
  }
  (void)f.units->stop("bench-node");
}
BENCHMARK(BM_SystemctlRestart)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LayerStatus200(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    for (int i = 0; i < kUnits; ++i) {
      auto st = f.units->status(fmt::format("bench{}", i));
      if (!st) state.SkipWithError("status failed");
      benchmark::DoNotOptimize(st);
    }
  }
}
BENCHMARK(BM_LayerStatus200)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SystemctlShow200(benchmark::State& state) {
  fixture();
  for (auto _ : state) {
    for (int i = 0; i < kUnits; ++i) {
      if (run({"/usr/bin/systemctl", "show", fmt::format("siax-app-bench{}.service", i)}) != 0) {
        state.SkipWithError("systemctl show failed");
      }
    }
  }
}
BENCHMARK(BM_SystemctlShow200)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
