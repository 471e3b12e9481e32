#include "orchestrator/op_serializer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "support/manual_clock.h"

namespace siax::orchestrator {
namespace {

using namespace std::chrono_literals;
using siax::test::ManualClock;

TEST(OpSerializer, OneOperationPerKey) {
  ManualClock clock;
  OpSerializer ops(clock);
  auto first = ops.try_begin("api", "restart");
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->active());
  EXPECT_EQ(first->key(), "api");
  EXPECT_EQ(first->operation(), "restart");
  EXPECT_FALSE(ops.try_begin("api", "stop"));
  EXPECT_EQ(ops.active_count(), 1u);
}

TEST(OpSerializer, DifferentKeysRunInParallel) {
  ManualClock clock;
  OpSerializer ops(clock);
  auto a = ops.try_begin("api", "restart");
  auto b = ops.try_begin("worker", "stop");
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_EQ(ops.active_count(), 2u);
}

TEST(OpSerializer, RunningDescribesTheOperationWithTheClock) {
  ManualClock clock;
  OpSerializer ops(clock);
  EXPECT_FALSE(ops.running("api"));
  auto lease = ops.try_begin("api", "restart");
  ASSERT_TRUE(lease);
  clock.advance(400ms);
  EXPECT_EQ(ops.running("api"), "restart started 0.4 s ago");
  auto op = ops.running_op("api");
  ASSERT_TRUE(op);
  EXPECT_EQ(op->operation, "restart");
  EXPECT_EQ(op->elapsed, 400ms);
  clock.advance(12s);
  EXPECT_EQ(ops.running("api"), "restart started 12.4 s ago");
  EXPECT_FALSE(ops.running("worker"));
}

TEST(OpSerializer, LeaseReleasedOnDestruction) {
  ManualClock clock;
  OpSerializer ops(clock);
  {
    auto lease = ops.try_begin("api", "restart");
    ASSERT_TRUE(lease);
  }
  EXPECT_EQ(ops.active_count(), 0u);
  EXPECT_FALSE(ops.running("api"));
  EXPECT_TRUE(ops.try_begin("api", "stop"));
}

TEST(OpSerializer, ExplicitReleaseIsIdempotent) {
  ManualClock clock;
  OpSerializer ops(clock);
  auto lease = ops.try_begin("api", "restart");
  ASSERT_TRUE(lease);
  lease->release();
  EXPECT_FALSE(lease->active());
  auto next = ops.try_begin("api", "stop");
  ASSERT_TRUE(next);
  lease->release();  // must not end the new operation
  EXPECT_EQ(ops.running("api"), "stop started 0.0 s ago");
}

TEST(OpSerializer, MoveTransfersOwnership) {
  ManualClock clock;
  OpSerializer ops(clock);
  auto lease = ops.try_begin("api", "restart");
  ASSERT_TRUE(lease);
  Lease moved(std::move(*lease));
  EXPECT_FALSE(lease->active());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_TRUE(moved.active());
  EXPECT_EQ(moved.key(), "api");
  lease.reset();  // destroying the moved-from lease does nothing
  EXPECT_TRUE(ops.running("api"));
  {
    Lease sink = std::move(moved);
    EXPECT_TRUE(ops.running("api"));
  }
  EXPECT_FALSE(ops.running("api"));
}

TEST(OpSerializer, MoveAssignmentReleasesTheOverwrittenLease) {
  ManualClock clock;
  OpSerializer ops(clock);
  auto a = ops.try_begin("api", "restart");
  auto b = ops.try_begin("worker", "stop");
  ASSERT_TRUE(a && b);
  *a = std::move(*b);  // "api" ends, "worker" is now held by a
  EXPECT_FALSE(ops.running("api"));
  EXPECT_TRUE(ops.running("worker"));
  EXPECT_EQ(a->key(), "worker");
  a.reset();
  EXPECT_FALSE(ops.running("worker"));
}

TEST(OpSerializer, LeaseMayOutliveTheSerializer) {
  ManualClock clock;
  std::optional<Lease> lease;
  {
    OpSerializer ops(clock);
    lease = ops.try_begin("api", "restart");
    ASSERT_TRUE(lease);
  }
  lease.reset();  // no dangling access (checked under ASan)
  SUCCEED();
}

TEST(OpSerializer, BeginReturnsConflictErrorNamingTheRunningOperation) {
  ManualClock clock;
  OpSerializer ops(clock);
  auto first = ops.begin("api", "restart");
  ASSERT_TRUE(first);
  clock.advance(400ms);
  auto second = ops.begin("api", "stop");
  ASSERT_FALSE(second);
  const auto& e = second.error();
  EXPECT_EQ(e.kind, ErrorKind::Conflict);
  EXPECT_EQ(e.code, "operation_in_progress");
  EXPECT_EQ(e.message,
            "an operation (restart) is already running on app 'api' (started 0.4 s ago); retry when it has finished");
  ASSERT_NE(e.detail("operation"), nullptr);
  EXPECT_EQ(*e.detail("operation"), "restart");
  EXPECT_EQ(*e.detail("app"), "api");
  EXPECT_EQ(*e.detail("elapsed_ms"), "400");
  first = ops.begin("worker", "start");  // move-assign releases "api"
  EXPECT_TRUE(ops.begin("api", "stop"));
}

TEST(OpSerializer, ConcurrentTryBeginOnOneKeyHasExactlyOneWinner) {
  ManualClock clock;
  OpSerializer ops(clock);
  constexpr int kThreads = 16;
  for (int round = 0; round < 20; ++round) {
    std::latch start(kThreads);
    std::mutex mu;
    std::vector<Lease> winners;
    std::atomic<int> losers{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        if (auto lease = ops.try_begin("api", "restart")) {
          std::lock_guard lock(mu);
          winners.push_back(std::move(*lease));  // held until the round ends
        } else {
          ++losers;
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(winners.size(), 1u) << "round " << round;
    ASSERT_EQ(losers.load(), kThreads - 1);
    winners.clear();
    ASSERT_EQ(ops.active_count(), 0u);
  }
}

TEST(OpSerializer, ConcurrentDifferentKeysAllSucceed) {
  ManualClock clock;
  OpSerializer ops(clock);
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::atomic<int> ok_count{0};
  std::vector<std::thread> threads;
  std::vector<std::optional<Lease>> held(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      held[static_cast<std::size_t>(t)] = ops.try_begin("app" + std::to_string(t), "start");
      if (held[static_cast<std::size_t>(t)]) ++ok_count;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok_count.load(), kThreads);
  EXPECT_EQ(ops.active_count(), static_cast<std::size_t>(kThreads));
  held.clear();
  EXPECT_EQ(ops.active_count(), 0u);
}

}  // namespace
}  // namespace siax::orchestrator
