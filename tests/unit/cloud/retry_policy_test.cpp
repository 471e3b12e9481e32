#include "cloud/retry_policy.h"

#include <gtest/gtest.h>

#include <vector>

namespace siax::cloud {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RetryPolicy make(double r, RetryPolicy::Options o = {}) {
  auto p = RetryPolicy::create(o, [r] { return r; });
  EXPECT_TRUE(p.has_value());
  return std::move(*p);
}

TEST(CloudRetryPolicy, CeilingDoublesFromBaseUpToTheCap) {
  auto p = make(0.0);
  EXPECT_EQ(p.ceiling(1), milliseconds(1000));
  EXPECT_EQ(p.ceiling(2), milliseconds(2000));
  EXPECT_EQ(p.ceiling(3), milliseconds(4000));
  EXPECT_EQ(p.ceiling(9), milliseconds(256'000));
  EXPECT_EQ(p.ceiling(10), milliseconds(300'000));  // 512 s capped at 5 min
  EXPECT_EQ(p.ceiling(1000), milliseconds(300'000));  // no overflow
}

TEST(CloudRetryPolicy, LowestRandomGivesHalfTheCeiling) {
  auto p = make(0.0);
  std::vector<milliseconds> got;
  for (int i = 0; i < 11; ++i) got.push_back(p.next_delay());
  const std::vector<milliseconds> want = {milliseconds(500),    milliseconds(1000),   milliseconds(2000),
                                          milliseconds(4000),   milliseconds(8000),   milliseconds(16000),
                                          milliseconds(32000),  milliseconds(64000),  milliseconds(128000),
                                          milliseconds(150000), milliseconds(150000)};
  EXPECT_EQ(got, want);
  EXPECT_EQ(p.consecutive_failures(), 11u);
}

TEST(CloudRetryPolicy, HighestRandomStaysBelowTheCeilingAndTheCap) {
  auto p = make(0.999999);
  for (std::uint32_t n = 1; n <= 40; ++n) {
    const auto d = p.next_delay();
    EXPECT_LE(d, p.ceiling(n)) << n;
    EXPECT_GE(d, p.ceiling(n) / 2) << n;
    EXPECT_LE(d, milliseconds(300'000));
  }
}

TEST(CloudRetryPolicy, JitterSpreadsDelaysBetweenHalfAndFullCeiling) {
  double r = 0.5;
  auto p = RetryPolicy::create({}, [&r] { return r; });
  ASSERT_TRUE(p);
  (void)p->next_delay();
  (void)p->next_delay();
  EXPECT_EQ(p->next_delay(), milliseconds(3000));  // ceiling 4 s: 2 s + 0.5 * 2 s
}

TEST(CloudRetryPolicy, ResetStartsAgainFromBase) {
  auto p = make(0.0);
  for (int i = 0; i < 6; ++i) (void)p.next_delay();
  p.reset();
  EXPECT_EQ(p.consecutive_failures(), 0u);
  EXPECT_EQ(p.next_delay(), milliseconds(500));
}

TEST(CloudRetryPolicy, RetryAfterRaisesTheDelayButNotAboveTheCap) {
  auto p = make(0.0);
  EXPECT_EQ(p.next_delay(seconds(30)), milliseconds(30'000));
  EXPECT_EQ(p.next_delay(seconds(1)), milliseconds(1000));  // smaller than the backoff: ignored
  EXPECT_EQ(p.next_delay(seconds(86400)), milliseconds(300'000));
}

TEST(CloudRetryPolicy, OutOfRangeRandomIsClamped) {
  auto low = make(-3.0);
  EXPECT_EQ(low.next_delay(), milliseconds(500));
  auto high = make(7.0);
  EXPECT_LE(high.next_delay(), milliseconds(1000));
}

TEST(CloudRetryPolicy, RefusesBadOptions) {
  auto zero = RetryPolicy::create({milliseconds(0), milliseconds(1000)}, nullptr);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, "invalid_retry_policy");
  auto inverted = RetryPolicy::create({milliseconds(2000), milliseconds(1000)}, nullptr);
  ASSERT_FALSE(inverted);
  EXPECT_EQ(inverted.error().kind, ErrorKind::InvalidInput);
}

TEST(CloudRetryPolicy, DefaultRandomIsInRange) {
  auto r = default_random();
  for (int i = 0; i < 100; ++i) {
    const double v = r();
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
}

}  // namespace
}  // namespace siax::cloud
