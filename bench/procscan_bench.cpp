// The /proc scanner against the host's real /proc: the cost of one full scan (every
// field, including listening ports through fd links), of the incremental scan the monitor
// runs every cycle, and of the pure parsers; and reconcile() over a synthetic table of
// 200 apps running the same command (issue 12's idle bench).
// Run: build/<preset>/bench/siax_bench_procscan [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/app_definition.h"
#include "monitor/reconcile.h"

#include "procscan/proc_parsers.h"
#include "procscan/proc_scanner.h"
#include "procscan/process_json.h"

namespace {

using siax::procscan::ProcScanner;

/// One scanner.scan() per iteration; the last scan's process count in `processes`. False
/// (and the benchmark marked as skipped) when a scan failed.
bool scan_each_iteration(benchmark::State& state, ProcScanner& scanner, std::size_t& processes) {
  for (auto _ : state) {
    auto result = scanner.scan(std::chrono::steady_clock::now());
    if (!result) {
      state.SkipWithError(result.error().message.c_str());
      return false;
    }
    processes = result->size();
    benchmark::DoNotOptimize(result);
  }
  return true;
}

void BM_ScanRealProc(benchmark::State& state) {
  ProcScanner scanner;
  std::size_t processes = 0;
  if (!scan_each_iteration(state, scanner, processes)) return;
  state.counters["processes"] = static_cast<double>(processes);
  state.counters["listen_sockets"] = static_cast<double>(scanner.last_stats().listen_sockets);
  state.counters["us_per_process"] = benchmark::Counter(
      static_cast<double>(processes) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ScanRealProc)->Unit(benchmark::kMillisecond);

void BM_ScanAndSerialize(benchmark::State& state) {
  ProcScanner scanner;
  for (auto _ : state) {
    auto result = scanner.scan(std::chrono::steady_clock::now());
    if (!result) {
      state.SkipWithError(result.error().message.c_str());
      return;
    }
    std::string body = siax::procscan::to_json(*result).dump();
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_ScanAndSerialize)->Unit(benchmark::kMillisecond);

// What the monitor runs every cycle: the incremental scan in steady state, the bench's
// `sleep` processes (at most 200, like the 200 idle apps) hot, the others kept.
void BM_ScanIncremental(benchmark::State& state) {
  siax::procscan::ProcScannerOptions options;
  options.incremental = true;
  options.full_every = 1 << 30;  // the periodic full read is BM_ScanRealProc's cost
  ProcScanner scanner(options);
  auto first = scanner.scan(std::chrono::steady_clock::now());
  if (!first) {
    state.SkipWithError(first.error().message.c_str());
    return;
  }
  std::vector<int> hot;
  for (const auto& p : *first) {
    if (p.comm == "sleep" && hot.size() < 200) hot.push_back(p.pid);
  }
  scanner.set_hot_pids(hot);
  (void)scanner.scan(std::chrono::steady_clock::now());  // the second read of the young ones
  std::size_t processes = 0;
  if (!scan_each_iteration(state, scanner, processes)) return;
  state.counters["processes"] = static_cast<double>(processes);
  state.counters["hot"] = static_cast<double>(hot.size());
  state.counters["stat_reads"] = static_cast<double>(scanner.last_stats().stat_reads);
  state.counters["full_reads"] = static_cast<double>(scanner.last_stats().full_reads);
}
BENCHMARK(BM_ScanIncremental)->Unit(benchmark::kMicrosecond);

// One monitor cycle's reconciliation: 200 custom apps all running `/usr/bin/sleep infinity`,
// each in its own unit, and 200 other processes (system services, a login session).
std::vector<siax::core::ProcessInfo> synthetic_table(int apps, int others) {
  std::vector<siax::core::ProcessInfo> ps;
  int pid = 100;
  for (int i = 0; i < others; ++i) {
    siax::core::ProcessInfo p;
    p.pid = pid++;
    p.ppid = 1;
    p.comm = "svc" + std::to_string(i);
    p.cmdline = {"/usr/lib/svc/svc" + std::to_string(i), "--daemon", "--config=/etc/svc.conf"};
    p.exe = p.cmdline[0];
    p.cwd = "/";
    p.state = 'S';
    p.unit = i % 4 == 0 ? "session-3.scope" : "svc" + std::to_string(i) + ".service";
    p.cgroup = "/system.slice/" + p.unit;
    ps.push_back(std::move(p));
  }
  for (int i = 1; i <= apps; ++i) {
    siax::core::ProcessInfo p;
    p.pid = pid++;
    p.ppid = 1;
    p.comm = "sleep";
    p.cmdline = {"/usr/bin/sleep", "infinity"};
    p.exe = "/usr/bin/sleep";
    p.cwd = "/";
    p.state = 'S';
    p.user = "siaxapp";
    p.unit = siax::core::unit_name_for("bench" + std::to_string(i));
    p.cgroup = "/system.slice/" + p.unit;
    ps.push_back(std::move(p));
  }
  return ps;
}

/// range(0): apps; range(1): 1 = with a ProcessIndex built once per cycle (in the timing).
void BM_ReconcileAllApps(benchmark::State& state) {
  const int apps = static_cast<int>(state.range(0));
  const bool indexed = state.range(1) != 0;
  const auto processes = synthetic_table(apps, 200);
  std::vector<siax::core::AppDefinition> defs;
  std::vector<siax::core::UnitStatus> units;
  for (int i = 1; i <= apps; ++i) {
    siax::core::AppDefinition d;
    d.name = "bench" + std::to_string(i);
    d.runtime = siax::core::Runtime::Custom;
    d.script_path = "/usr/bin/sleep";
    d.args = {"infinity"};
    d.working_directory = "/";
    d.user = "siaxapp";
    defs.push_back(std::move(d));
    siax::core::UnitStatus u;
    u.load_state = "loaded";
    u.active_state = "active";
    u.sub_state = "running";
    u.main_pid = static_cast<std::uint32_t>(100 + 200 + i - 1);
    units.push_back(std::move(u));
  }
  std::size_t running = 0;
  for (auto _ : state) {
    running = 0;
    std::optional<siax::monitor::ProcessIndex> index;
    if (indexed) index.emplace(processes);
    for (std::size_t i = 0; i < defs.size(); ++i) {
      auto s = indexed ? siax::monitor::reconcile(defs[i], units[i], processes, std::nullopt, 0, &*index)
                       : siax::monitor::reconcile(defs[i], units[i], processes, std::nullopt, 0);
      running += s.status == siax::monitor::AppStatus::Running ? 1 : 0;
      benchmark::DoNotOptimize(s);
    }
  }
  if (running != defs.size()) state.SkipWithError("not every app reconciled as running");
  state.counters["apps"] = static_cast<double>(apps);
}
BENCHMARK(BM_ReconcileAllApps)->Args({200, 0})->Args({200, 1})->Unit(benchmark::kMicrosecond);

void BM_ParseStatLine(benchmark::State& state) {
  const std::string line =
      "13160 (my (weird) app) R 13158 13158 7417 0 -1 4194304 99 0 0 0 3 5 0 0 20 0 1 0 2497421 3133440 380 "
      "18446744073709551615 94311558881280 94311558901161 140725550857040 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
      "94311558917168 94311558918784 94312279760896 140725550860741 140725550860761 140725550860761 "
      "140725550862315 0\n";
  for (auto _ : state) {
    auto fields = siax::procscan::parse_stat_line(line);
    benchmark::DoNotOptimize(fields);
  }
}
BENCHMARK(BM_ParseStatLine);

}  // namespace

BENCHMARK_MAIN();
