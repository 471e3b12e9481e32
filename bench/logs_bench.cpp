// The logs pipeline without I/O: level detection, folding, encoding, a viewer's queue and
// its frames, per line. (End to end through journald and WebSockets: logs_bench.sh.)
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "logs/encode.h"
#include "logs/filter.h"
#include "logs/folder.h"
#include "logs/level.h"
#include "logs/viewer_queue.h"

namespace {

using namespace siax::logs;

std::vector<RawLine> sample(std::size_t n) {
  static const char* kLines[] = {
      "INFO:     127.0.0.1:50312 - \"GET /api/orders HTTP/1.1\" 200 OK",
      R"({"level":30,"time":1714564800000,"pid":4242,"hostname":"h","msg":"request completed","ms":3})",
      "flood 123456 1714564800123456 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "WARNING:  slow query (1200 ms)",
  };
  std::vector<RawLine> out;
  for (std::size_t i = 0; i < n; ++i) {
    RawLine l;
    l.time_usec = 1714564800000000 + static_cast<std::int64_t>(i);
    l.message = kLines[i % 4];
    l.pid = 4242;
    l.cursor = fmt::format("s=0123456789abcdef0123456789abcdef;i={:x};b=fedcba9876543210fedcba9876543210;m={:x};t={:x};x=1f2e3d4c5b6a7988",
                           i, i, 1714564800000000 + i);
    out.push_back(std::move(l));
  }
  return out;
}

void BM_DetectLevel(benchmark::State& state) {
  auto lines = sample(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(effective_priority(6, lines[i++ % lines.size()].message));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_DetectLevel);

/// What the hub does per line (fold, level, encode once) and one viewer (filter, queue, frame).
void BM_LinePipelineOneViewer(benchmark::State& state) {
  auto lines = sample(4096);
  LineFolder folder;
  ViewerQueue queue;
  EntryFilter filter;
  std::vector<LogEntry> done;
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (const auto& l : lines) folder.push(l, done);
    for (auto& e : done) {
      auto shared = make_shared_entry(std::move(e));
      if (filter.matches(shared->entry)) queue.push(std::move(shared));
    }
    done.clear();
    while (auto f = queue.take_frame()) bytes += f->size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_LinePipelineOneViewer);

}  // namespace

BENCHMARK_MAIN();
