// Tests for monitor/health.h: the health state machine driven by hand-made time.
#include "monitor/health.h"

#include <gtest/gtest.h>

#include "unit/monitor/fakes.h"

namespace siax::monitor {
namespace {

using namespace std::chrono_literals;
using siax::monitor::testing::kNow;

constexpr std::int64_t kSec = 1'000'000;

core::HealthCheck check(std::uint32_t failures = 3, bool restart = false) {
  core::HealthCheck c;
  c.port = 3000;
  c.interval = 10s;
  c.timeout = 2s;
  c.failures_before_unhealthy = failures;
  c.restart_when_unhealthy = restart;
  return c;
}

TEST(HealthTracker, StartsUnknownAndDueAtOnce) {
  HealthTracker t(check());
  EXPECT_EQ(t.view().state, HealthState::Unknown);
  EXPECT_EQ(t.view().last_checked_usec, 0);
  EXPECT_TRUE(t.due(kNow));
}

TEST(HealthTracker, NotDueWhileInFlightThenOneIntervalAfterTheStart) {
  HealthTracker t(check());
  t.mark_started(kNow);
  EXPECT_FALSE(t.due(kNow + 30 * kSec));  // in flight: never two probes at once
  t.record_pass(kNow + 1 * kSec, 15ms);
  EXPECT_FALSE(t.due(kNow + 9 * kSec));
  EXPECT_TRUE(t.due(kNow + 10 * kSec));
}

TEST(HealthTracker, ClockJumpingBackMakesTheCheckDue) {
  HealthTracker t(check());
  t.mark_started(kNow);
  t.record_pass(kNow, 1ms);
  EXPECT_TRUE(t.due(kNow - 3600 * kSec));
}

TEST(HealthTracker, PassMakesHealthy) {
  HealthTracker t(check());
  t.mark_started(kNow);
  t.record_pass(kNow + 5, 12ms);
  const HealthView v = t.view();
  EXPECT_EQ(v.state, HealthState::Healthy);
  EXPECT_EQ(v.consecutive_failures, 0u);
  EXPECT_EQ(v.last_error, "");
  EXPECT_EQ(v.last_checked_usec, kNow + 5);
  EXPECT_EQ(v.last_latency_ms, 12);
}

TEST(HealthTracker, UnhealthyAfterNConsecutiveFailuresOnly) {
  HealthTracker t(check(3));
  t.record_pass(kNow, 1ms);
  t.record_failure(kNow + 1, "connection refused");
  t.record_failure(kNow + 2, "connection refused");
  EXPECT_EQ(t.view().state, HealthState::Healthy);
  EXPECT_EQ(t.view().consecutive_failures, 2u);
  EXPECT_EQ(t.view().last_error, "connection refused");
  t.record_failure(kNow + 3, "timed out after 2000 ms");
  EXPECT_EQ(t.view().state, HealthState::Unhealthy);
  EXPECT_EQ(t.view().consecutive_failures, 3u);
  EXPECT_EQ(t.view().last_error, "timed out after 2000 ms");
}

TEST(HealthTracker, APassInBetweenResetsTheCount) {
  HealthTracker t(check(2));
  t.record_failure(kNow, "e");
  t.record_pass(kNow + 1, 1ms);
  t.record_failure(kNow + 2, "e");
  EXPECT_EQ(t.view().state, HealthState::Healthy);
  t.record_failure(kNow + 3, "e");
  EXPECT_EQ(t.view().state, HealthState::Unhealthy);
  t.record_pass(kNow + 4, 1ms);
  EXPECT_EQ(t.view().state, HealthState::Healthy);
  EXPECT_EQ(t.view().consecutive_failures, 0u);
}

TEST(HealthTracker, FailuresFromUnknownGoStraightToUnhealthy) {
  HealthTracker t(check(1));
  t.record_failure(kNow, "status 500, expected 200");
  EXPECT_EQ(t.view().state, HealthState::Unhealthy);
}

TEST(HealthTracker, ShouldRestartOnlyJustAfterBecomingUnhealthyAndWhenAsked) {
  HealthTracker t(check(2, true));
  t.record_failure(kNow, "e");
  EXPECT_FALSE(t.should_restart());
  t.record_failure(kNow + 1, "e");
  EXPECT_TRUE(t.should_restart());
  t.record_failure(kNow + 2, "e");  // still unhealthy: not "just became"
  EXPECT_FALSE(t.should_restart());

  HealthTracker no_restart(check(1, false));
  no_restart.record_failure(kNow, "e");
  EXPECT_EQ(no_restart.view().state, HealthState::Unhealthy);
  EXPECT_FALSE(no_restart.should_restart());
}

TEST(HealthTracker, ResetAfterARestartGivesTheAppOneIntervalAndNFreshFailures) {
  HealthTracker t(check(2, true));
  t.record_failure(kNow, "e");
  t.record_failure(kNow + 1, "e");
  ASSERT_TRUE(t.should_restart());
  t.reset(kNow + 2);
  EXPECT_EQ(t.view().state, HealthState::Unknown);
  EXPECT_EQ(t.view().consecutive_failures, 0u);
  EXPECT_FALSE(t.should_restart());
  EXPECT_FALSE(t.due(kNow + 2 + 5 * kSec));
  EXPECT_TRUE(t.due(kNow + 2 + 10 * kSec));
  t.record_failure(kNow + 20 * kSec, "e");
  EXPECT_FALSE(t.should_restart());
  t.record_failure(kNow + 30 * kSec, "e");
  EXPECT_TRUE(t.should_restart());
}

TEST(HealthTracker, LastErrorIsBounded) {
  HealthTracker t(check());
  t.record_failure(kNow, std::string(5000, 'e'));
  EXPECT_EQ(t.view().last_error.size(), HealthTracker::kMaxError);
}

TEST(HealthPort, CheckPortElseAppPortElseError) {
  core::AppDefinition def;
  def.name = "api";
  core::HealthCheck c;
  EXPECT_FALSE(health_port(c, def));
  EXPECT_EQ(health_port(c, def).error().code, "health_check_port_missing");
  def.port = 3000;
  EXPECT_EQ(health_port(c, def).value(), 3000);
  c.port = 9000;
  EXPECT_EQ(health_port(c, def).value(), 9000);
}

}  // namespace
}  // namespace siax::monitor
