#include "agent/reload_coalescer.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace siax::agent {
namespace {

using namespace std::chrono_literals;

// A fake systemd: a reload "loads" the unit files written before it began.
struct FakeUnits {
  std::mutex mu;
  std::set<int> written;
  std::set<int> loaded;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  Status reload() {
    const int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    std::set<int> snapshot;
    {
      std::lock_guard lock(mu);
      snapshot = written;
    }
    std::this_thread::sleep_for(5ms);
    {
      std::lock_guard lock(mu);
      loaded.insert(snapshot.begin(), snapshot.end());
    }
    --running;
    return ok();
  }
};

TEST(ReloadCoalescer, EveryCallerSeesItsWriteAndReloadsAreShared) {
  ReloadCoalescer coalescer;
  FakeUnits units;
  constexpr int kThreads = 8;
  constexpr int kEach = 10;
  std::atomic<int> missing{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int unit = t * 1000 + i;
        {
          std::lock_guard lock(units.mu);
          units.written.insert(unit);
        }
        auto s = coalescer.reload([&] { return units.reload(); });
        ASSERT_TRUE(s.has_value());
        std::lock_guard lock(units.mu);
        if (units.loaded.count(unit) == 0) ++missing;  // a start now would not find the unit
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(units.max_running.load(), 1);  // one reload at a time
  const auto stats = coalescer.stats();
  EXPECT_EQ(stats.requests, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_LT(stats.reloads, stats.requests);  // shared
  EXPECT_GE(stats.reloads, static_cast<std::uint64_t>(kEach));  // a caller never skips its own
}

TEST(ReloadCoalescer, AFailureReachesTheCallersItServedAndTheNextOneRunsAgain) {
  ReloadCoalescer coalescer;
  int calls = 0;
  auto s = coalescer.reload([&]() -> Status {
    ++calls;
    return fail(ErrorKind::Unavailable, "bus", "gone");
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, "bus");
  s = coalescer.reload([&]() -> Status {
    ++calls;
    return ok();
  });
  EXPECT_TRUE(s.has_value());
  EXPECT_EQ(calls, 2);
}

TEST(ReloadCoalescer, AnExceptionDoesNotWedgeIt) {
  ReloadCoalescer coalescer;
  EXPECT_THROW((void)coalescer.reload([]() -> Status { throw std::runtime_error("x"); }), std::runtime_error);
  auto s = coalescer.reload([] { return ok(); });
  EXPECT_TRUE(s.has_value());
}

}  // namespace
}  // namespace siax::agent
