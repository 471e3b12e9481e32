#include "orchestrator/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "support/manual_clock.h"

namespace siax::orchestrator {
namespace {

using namespace std::chrono_literals;
using siax::test::ManualClock;
using Reason = Decision::Reason;

TEST(RateLimiter, FirstRequestIsAllowed) {
  ManualClock clock;
  RateLimiter limiter(clock);
  auto d = limiter.try_acquire("api");
  EXPECT_TRUE(d);
  EXPECT_EQ(d.reason, Reason::Allowed);
  EXPECT_EQ(d.retry_after, 0ns);
  EXPECT_EQ(d.retry_after_seconds(), 0);
}

TEST(RateLimiter, SecondRequestWithinIntervalIsRejectedWithRemainingTime) {
  ManualClock clock;
  RateLimiter limiter(clock);
  ASSERT_TRUE(limiter.try_acquire("api"));
  clock.advance(300ms);
  auto d = limiter.try_acquire("api");
  EXPECT_FALSE(d);
  EXPECT_EQ(d.reason, Reason::TooSoon);
  EXPECT_EQ(d.retry_after, 700ms);
  EXPECT_EQ(d.retry_after_seconds(), 1);
}

TEST(RateLimiter, WindowEdges) {
  ManualClock clock;
  RateLimiter limiter(clock);
  ASSERT_TRUE(limiter.try_acquire("api"));
  clock.advance(1s - 1ns);
  auto just_before = limiter.try_acquire("api");
  EXPECT_FALSE(just_before);
  EXPECT_EQ(just_before.retry_after, 1ns);
  EXPECT_EQ(just_before.retry_after_seconds(), 1);  // never "Retry-After: 0"
  clock.advance(1ns);                               // exactly one interval later
  EXPECT_TRUE(limiter.try_acquire("api"));
}

TEST(RateLimiter, ImmediateRepeatIsRejected) {
  ManualClock clock;
  RateLimiter limiter(clock);
  ASSERT_TRUE(limiter.try_acquire("api"));
  auto d = limiter.try_acquire("api");
  EXPECT_FALSE(d);
  EXPECT_EQ(d.retry_after, 1s);
}

TEST(RateLimiter, KeysAreIndependent) {
  ManualClock clock;
  RateLimiter limiter(clock);
  EXPECT_TRUE(limiter.try_acquire("api"));
  EXPECT_TRUE(limiter.try_acquire("worker"));
  EXPECT_FALSE(limiter.try_acquire("api"));
  EXPECT_FALSE(limiter.try_acquire("worker"));
  clock.advance(500ms);
  EXPECT_TRUE(limiter.try_acquire("web"));
  clock.advance(500ms);
  EXPECT_TRUE(limiter.try_acquire("api"));
  EXPECT_TRUE(limiter.try_acquire("worker"));
  EXPECT_FALSE(limiter.try_acquire("web"));
}

TEST(RateLimiter, RejectedRequestsDoNotExtendTheWindow) {
  ManualClock clock;
  RateLimiter limiter(clock);
  ASSERT_TRUE(limiter.try_acquire("api"));
  for (int i = 0; i < 9; ++i) {
    clock.advance(100ms);
    auto d = limiter.try_acquire("api");
    ASSERT_FALSE(d) << i;
    EXPECT_EQ(d.retry_after, 1s - (i + 1) * 100ms) << i;
  }
  clock.advance(100ms);  // one second after the allowed request, despite 9 rejections
  EXPECT_TRUE(limiter.try_acquire("api"));
}

TEST(RateLimiter, RetryAfterRoundsUpToWholeSeconds) {
  ManualClock clock;
  RateLimiter limiter(clock, {.interval = 2500ms});
  ASSERT_TRUE(limiter.try_acquire("api"));
  clock.advance(1ms);
  auto d = limiter.try_acquire("api");
  EXPECT_EQ(d.retry_after, 2499ms);
  EXPECT_EQ(d.retry_after_seconds(), 3);
  clock.advance(499ms);  // 2000 ms left: exactly 2 s
  EXPECT_EQ(limiter.try_acquire("api").retry_after_seconds(), 2);
  clock.advance(1ms);  // 1999 ms left
  EXPECT_EQ(limiter.try_acquire("api").retry_after_seconds(), 2);
  clock.advance(1998ms);  // 1 ms left
  EXPECT_EQ(limiter.try_acquire("api").retry_after_seconds(), 1);
}

TEST(RateLimiter, IntervalIsConfigurable) {
  ManualClock clock;
  RateLimiter limiter(clock, {.interval = 50ms});
  ASSERT_TRUE(limiter.try_acquire("api"));
  clock.advance(49ms);
  EXPECT_FALSE(limiter.try_acquire("api"));
  clock.advance(1ms);
  EXPECT_TRUE(limiter.try_acquire("api"));
}

TEST(RateLimiter, ZeroIntervalDisablesLimitingAndStoresNothing) {
  ManualClock clock;
  RateLimiter limiter(clock, {.interval = 0ms});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.try_acquire("api"));
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiter, ExpiredEntriesArePruned) {
  ManualClock clock;
  RateLimiter limiter(clock);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.try_acquire("app" + std::to_string(i)));
  EXPECT_EQ(limiter.size(), 100u);
  clock.advance(600ms);
  ASSERT_TRUE(limiter.try_acquire("late"));
  EXPECT_EQ(limiter.size(), 101u);
  clock.advance(400ms);  // the first 100 are exactly one interval old
  EXPECT_EQ(limiter.size(), 1u);
  clock.advance(600ms);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiter, MemoryStaysBoundedUnderManyDistinctKeysOverTime) {
  ManualClock clock;
  RateLimiter limiter(clock, {.interval = 1s, .max_keys = 1000});
  // 10 new keys every 100 ms: at most 100 keys are within the last interval.
  for (int i = 0; i < 10'000; ++i) {
    if (i % 10 == 0) clock.advance(100ms);
    ASSERT_TRUE(limiter.try_acquire("k" + std::to_string(i))) << i;
    ASSERT_LE(limiter.size(), 100u);
  }
}

TEST(RateLimiter, KeyCapRejectsNewKeysWithAClearReason) {
  ManualClock clock;
  RateLimiter limiter(clock, {.interval = 1s, .max_keys = 3});
  ASSERT_TRUE(limiter.try_acquire("a"));
  clock.advance(200ms);
  ASSERT_TRUE(limiter.try_acquire("b"));
  ASSERT_TRUE(limiter.try_acquire("c"));
  auto d = limiter.try_acquire("d");
  EXPECT_FALSE(d);
  EXPECT_EQ(d.reason, Reason::TooManyKeys);
  EXPECT_EQ(d.retry_after, 800ms);  // when "a" expires
  EXPECT_EQ(limiter.size(), 3u);
  // Known keys still get their own answer.
  EXPECT_EQ(limiter.try_acquire("b").reason, Reason::TooSoon);
  clock.advance(800ms);  // "a" expires: room for one new key
  EXPECT_TRUE(limiter.try_acquire("d"));
  EXPECT_EQ(limiter.try_acquire("e").reason, Reason::TooManyKeys);
}

TEST(RateLimiter, ToStatusMapsToRateLimitedErrors) {
  ManualClock clock;
  RateLimiter limiter(clock, {.interval = 1s, .max_keys = 1});
  ASSERT_TRUE(limiter.try_acquire("api"));
  EXPECT_TRUE(to_status(Decision{}, "api", 1s));

  clock.advance(100ms);
  auto too_soon = to_status(limiter.try_acquire("api"), "api", 1000ms);
  ASSERT_FALSE(too_soon);
  EXPECT_EQ(too_soon.error().kind, ErrorKind::RateLimited);
  EXPECT_EQ(too_soon.error().code, "rate_limited");
  EXPECT_NE(too_soon.error().message.find("'api'"), std::string::npos) << too_soon.error().message;
  ASSERT_NE(too_soon.error().detail("retry_after"), nullptr);
  EXPECT_EQ(*too_soon.error().detail("retry_after"), "1");
  EXPECT_EQ(*too_soon.error().detail("app"), "api");

  auto full = to_status(limiter.try_acquire("web"), "web", 1000ms);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, ErrorKind::RateLimited);
  EXPECT_EQ(full.error().code, "rate_limiter_full");
}

TEST(RateLimiter, AcquireReturnsAStatus) {
  ManualClock clock;
  RateLimiter limiter(clock, {std::chrono::milliseconds(2000), 100});
  EXPECT_TRUE(limiter.acquire("api"));
  clock.advance(500ms);
  auto s = limiter.acquire("api");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "rate_limited");
  EXPECT_EQ(s.error().message,
            "too many operations on app 'api': at most one every 2000 ms is allowed; retry in 2 s");
  EXPECT_EQ(*s.error().detail("retry_after"), "2");
}

TEST(RateLimiter, ConcurrentRequestsForOneKeyAllowExactlyOne) {
  ManualClock clock;
  RateLimiter limiter(clock);
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      if (limiter.try_acquire("api")) ++allowed;
      (void)limiter.try_acquire("own" + std::to_string(t));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 1);
  EXPECT_EQ(limiter.size(), static_cast<std::size_t>(kThreads) + 1);
}

}  // namespace
}  // namespace siax::orchestrator
