#include "auth/login_limiter.h"

#include <gtest/gtest.h>

#include <string>

#include "support/manual_clock.h"

namespace siax::auth {
namespace {

using namespace std::chrono_literals;
using siax::test::ManualClock;

TEST(LoginLimiter, UnknownAddressIsAllowed) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  auto c = limiter.check("192.0.2.1");
  EXPECT_TRUE(c);
  EXPECT_EQ(c.retry_after_seconds(), 0);
}

TEST(LoginLimiter, FiveFailuresLockForAMinute) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(limiter.record_failure("192.0.2.1")) << i;
    EXPECT_TRUE(limiter.check("192.0.2.1")) << i;
    clock.advance(1s);
  }
  auto fifth = limiter.record_failure("192.0.2.1");
  EXPECT_FALSE(fifth);
  EXPECT_EQ(fifth.retry_after, 60s);
  EXPECT_EQ(fifth.retry_after_seconds(), 60);

  clock.advance(59s + 500ms);
  auto locked = limiter.check("192.0.2.1");
  EXPECT_FALSE(locked);
  EXPECT_EQ(locked.retry_after_seconds(), 1);  // 0.5 s rounds up
  clock.advance(500ms);
  EXPECT_TRUE(limiter.check("192.0.2.1"));
}

TEST(LoginLimiter, AttemptsDuringTheLockNeitherCountNorExtendIt) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  for (int i = 0; i < 5; ++i) (void)limiter.record_failure("a");
  for (int i = 0; i < 10; ++i) {
    clock.advance(5s);
    EXPECT_FALSE(limiter.record_failure("a"));
  }
  clock.advance(10s);  // 60 s after the lock started
  EXPECT_TRUE(limiter.check("a"));
  // A fresh window: four more failures are allowed before the next lock.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.record_failure("a")) << i;
  EXPECT_FALSE(limiter.record_failure("a"));
}

TEST(LoginLimiter, FailuresOutsideTheWindowDoNotAccumulate) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limiter.record_failure("a"));
  clock.advance(60s);  // the window from the first failure is over
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.record_failure("a")) << i;
  EXPECT_TRUE(limiter.check("a"));
}

TEST(LoginLimiter, SuccessClearsTheRecord) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limiter.record_failure("a"));
  limiter.record_success("a");
  EXPECT_EQ(limiter.size(), 0u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.record_failure("a")) << i;
}

TEST(LoginLimiter, AddressesAreIndependent) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  for (int i = 0; i < 5; ++i) (void)limiter.record_failure("a");
  EXPECT_FALSE(limiter.check("a"));
  EXPECT_TRUE(limiter.check("b"));
  EXPECT_TRUE(limiter.record_failure("b"));
}

TEST(LoginLimiter, OptionsAreConfigurable) {
  ManualClock clock;
  LoginLimiter limiter(clock, {2, 10s, 30s, 100});
  EXPECT_TRUE(limiter.record_failure("a"));
  auto second = limiter.record_failure("a");
  EXPECT_FALSE(second);
  EXPECT_EQ(second.retry_after, 30s);
}

TEST(LoginLimiter, MemoryIsBounded) {
  ManualClock clock;
  LoginLimiter limiter(clock, {5, 60s, 60s, 100});
  for (int i = 0; i < 1000; ++i) {
    (void)limiter.record_failure("10.0.0." + std::to_string(i));
    ASSERT_LE(limiter.size(), 100u);
  }
}

TEST(LoginLimiter, FullTableDropsStaleRecordsFirst) {
  ManualClock clock;
  LoginLimiter limiter(clock, {2, 60s, 60s, 3});
  (void)limiter.record_failure("stale");
  clock.advance(61s);  // "stale" no longer matters
  (void)limiter.record_failure("locked");
  (void)limiter.record_failure("locked");  // locked for 60 s
  (void)limiter.record_failure("counting");
  (void)limiter.record_failure("new");  // full: "stale" goes, the others stay
  EXPECT_EQ(limiter.size(), 3u);
  EXPECT_FALSE(limiter.check("locked"));
  EXPECT_FALSE(limiter.record_failure("counting"));  // its earlier failure still counted
}

TEST(LoginLimiter, CheckForgetsRecordsThatNoLongerMatter) {
  ManualClock clock;
  LoginLimiter limiter(clock);
  (void)limiter.record_failure("a");
  clock.advance(60s);
  EXPECT_TRUE(limiter.check("a"));
  EXPECT_EQ(limiter.size(), 0u);
}

// Issue 10, item 8: one IPv6 host usually holds a whole /64; it must not get 2^64 tries.
TEST(LoginLimiterKey, IPv6CountsAsItsSlash64) {
  EXPECT_EQ(limiter_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(limiter_key("2001:db8:1:2::1"), limiter_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(limiter_key("2001:db8:1:2::1"), limiter_key("2001:db8:1:3::1"));
  EXPECT_EQ(limiter_key("::ffff:192.0.2.7"), "192.0.2.7");  // IPv4-mapped: the IPv4 address
  EXPECT_EQ(limiter_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(limiter_key("not an address"), "not an address");
}

TEST(LoginLimiterKey, AddressesOfOneSlash64ShareTheLock) {
  ManualClock clock;
  LoginLimiter limiter(clock, {.max_failures = 3, .window = 60s, .lockout = 60s, .max_addresses = 100});
  for (int i = 1; i <= 3; ++i) (void)limiter.record_failure(limiter_key("2001:db8::" + std::to_string(i)));
  EXPECT_FALSE(limiter.check(limiter_key("2001:db8::ffff")));
  EXPECT_TRUE(limiter.check(limiter_key("2001:db8:0:1::1")));
}

}  // namespace
}  // namespace siax::auth
