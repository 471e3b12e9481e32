// The /proc scanner against the host's real /proc: the cost of one full scan (every
// field, including listening ports through fd links) and of the pure parsers.
// Run: build/<preset>/bench/siax_bench_procscan [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "procscan/proc_parsers.h"
#include "procscan/proc_scanner.h"
#include "procscan/process_json.h"

namespace {

using siax::procscan::ProcScanner;

void BM_ScanRealProc(benchmark::State& state) {
  ProcScanner scanner;
  std::size_t processes = 0;
  for (auto _ : state) {
    auto result = scanner.scan(std::chrono::steady_clock::now());
    if (!result) {
      state.SkipWithError(result.error().message.c_str());
      return;
    }
    processes = result->size();
    benchmark::DoNotOptimize(result);
  }
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
