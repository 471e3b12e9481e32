// Tests for monitor/events.h: only transitions produce events, recoveries through
// transient states, bounded messages with log lines, port conflicts and unit drift.
#include "monitor/events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "monitor/reconcile.h"
#include "unit/monitor/fakes.h"

namespace siax::monitor {
namespace {

using namespace siax::monitor::testing;
using ::testing::HasSubstr;

AppState state(AppStatus status, std::string reason = "r") {
  AppState s;
  s.name = "api";
  s.status = status;
  s.reason = std::move(reason);
  return s;
}

std::vector<std::string> kinds(const std::vector<Event>& events) {
  std::vector<std::string> k;
  for (const auto& e : events) k.push_back(e.kind);
  return k;
}

TEST(DiffStates, ProblemsProduceOneEventOnTransition) {
  const AppState failed = state(AppStatus::Failed, "exited with status 1 (exit-code) after 3 restarts");
  const auto events = diff_states(state(AppStatus::Running), failed, kNow);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "failed");
  EXPECT_EQ(events[0].severity, Severity::Error);
  EXPECT_EQ(events[0].app, "api");
  EXPECT_EQ(events[0].at_usec, kNow);
  EXPECT_EQ(events[0].message, "api failed: exited with status 1 (exit-code) after 3 restarts");
  // A steady failed app: nothing more.
  EXPECT_TRUE(diff_states(failed, failed, kNow + 1).empty());
}

TEST(DiffStates, EveryProblemKindAndItsSeverity) {
  struct Case {
    AppStatus status;
    const char* kind;
    Severity severity;
  };
  for (const Case& c : {Case{AppStatus::Crashed, "crashed", Severity::Error},
                        Case{AppStatus::Failed, "failed", Severity::Error},
                        Case{AppStatus::Zombie, "zombie", Severity::Warning},
                        Case{AppStatus::Unhealthy, "unhealthy", Severity::Warning},
                        Case{AppStatus::Restarting, "restarting", Severity::Warning}}) {
    const auto events = diff_states(state(AppStatus::Running), state(c.status), kNow);
    ASSERT_EQ(events.size(), 1u) << c.kind;
    EXPECT_EQ(events[0].kind, c.kind);
    EXPECT_EQ(events[0].severity, c.severity) << c.kind;
  }
}

TEST(DiffStates, FirstScanOfAProblemIsAnEventButNotOfANormalState) {
  EXPECT_EQ(kinds(diff_states(std::nullopt, state(AppStatus::Zombie), kNow)), std::vector<std::string>{"zombie"});
  EXPECT_TRUE(diff_states(std::nullopt, state(AppStatus::Running), kNow).empty());
  EXPECT_TRUE(diff_states(std::nullopt, state(AppStatus::Stopped), kNow).empty());
}

TEST(DiffStates, NormalTransitionsAreSilent) {
  const AppStatus quiet[] = {AppStatus::Running, AppStatus::Starting, AppStatus::Stopping, AppStatus::Stopped,
                             AppStatus::Unknown};
  for (AppStatus a : quiet) {
    for (AppStatus b : quiet) {
      EXPECT_TRUE(diff_states(state(a), state(b), kNow).empty()) << to_string(a) << " -> " << to_string(b);
    }
  }
}

TEST(DiffStates, RunningRightAfterAProblemIsRecovered) {
  const auto events = diff_states(state(AppStatus::Crashed), state(AppStatus::Running, "running (pid 9)"), kNow);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "recovered");
  EXPECT_EQ(events[0].severity, Severity::Info);
  EXPECT_EQ(events[0].message, "api recovered: running (pid 9) (was crashed)");
}

TEST(DiffStates, MessagesStayOnOneLine) {
  const auto events = diff_states(std::nullopt, state(AppStatus::Failed, "bad\nthing\r"), kNow);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message.find('\n'), std::string::npos);
  EXPECT_EQ(events[0].message.find('\r'), std::string::npos);
}

TEST(EventTracker, RecoveryThroughTransientStates) {
  EventTracker t;
  EXPECT_TRUE(t.observe(state(AppStatus::Running), std::nullopt, std::nullopt, kNow).empty());
  EXPECT_EQ(kinds(t.observe(state(AppStatus::Failed), std::nullopt, std::nullopt, kNow)), std::vector<std::string>{"failed"});
  EXPECT_TRUE(t.observe(state(AppStatus::Failed), std::nullopt, std::nullopt, kNow).empty());
  EXPECT_TRUE(t.observe(state(AppStatus::Starting), std::nullopt, std::nullopt, kNow).empty());
  const auto back = t.observe(state(AppStatus::Running), std::nullopt, std::nullopt, kNow);
  ASSERT_EQ(kinds(back), std::vector<std::string>{"recovered"});
  EXPECT_THAT(back[0].message, HasSubstr("was failed"));
  EXPECT_TRUE(t.observe(state(AppStatus::Running), std::nullopt, std::nullopt, kNow).empty());
  ASSERT_TRUE(t.last());
  EXPECT_EQ(t.last()->status, AppStatus::Running);
}

TEST(EventTracker, StoppedClosesTheProblemWithoutRecovery) {
  EventTracker t;
  (void)t.observe(state(AppStatus::Failed), std::nullopt, std::nullopt, kNow);
  EXPECT_TRUE(t.observe(state(AppStatus::Stopped), std::nullopt, std::nullopt, kNow).empty());
  EXPECT_TRUE(t.observe(state(AppStatus::Running), std::nullopt, std::nullopt, kNow).empty());
}

TEST(EventTracker, LastingConditionsAreReportedOnce) {
  EventTracker t;
  const Event port{kNow, "api", "port_conflict", Severity::Warning, "api: port 3000 is taken by pid 9"};
  const Event other_port{kNow, "api", "port_conflict", Severity::Warning, "api: port 3000 is taken by pid 10"};
  const auto drift = check_unit_drift("api", "edited", kNow);
  const AppState s = state(AppStatus::Running);
  EXPECT_EQ(kinds(t.observe(s, port, drift, kNow)), (std::vector<std::string>{"port_conflict", "unit_drift"}));
  EXPECT_TRUE(t.observe(s, port, drift, kNow).empty());
  EXPECT_EQ(kinds(t.observe(s, other_port, drift, kNow)), std::vector<std::string>{"port_conflict"});
  EXPECT_TRUE(t.observe(s, std::nullopt, std::nullopt, kNow).empty());  // resolved: silent
  EXPECT_EQ(kinds(t.observe(s, other_port, std::nullopt, kNow)), std::vector<std::string>{"port_conflict"});
}

TEST(WithLastLines, AppendsTheLastThreeNonEmptyLines) {
  const std::string m = with_last_lines("api failed: exited with status 1 (exit-code)",
                                        {"starting", "Error: Cannot find module 'x'", "", "  at require (node:internal)",
                                         "Node.js v18.19.0", "   "});
  EXPECT_EQ(m,
            "api failed: exited with status 1 (exit-code); last log: Error: Cannot find module 'x' | at require "
            "(node:internal) | Node.js v18.19.0");
}

TEST(WithLastLines, NoLinesLeavesTheMessage) {
  EXPECT_EQ(with_last_lines("api failed: x", {}), "api failed: x");
  EXPECT_EQ(with_last_lines("api failed: x", {"", " "}), "api failed: x");
}

TEST(WithLastLines, IsBoundedAndOneLine) {
  const std::string long_line(1000, 'x');
  const std::string m = with_last_lines("api failed", {long_line, "a\tb\nc", long_line});
  EXPECT_LE(m.size(), kMaxEventMessage);
  EXPECT_EQ(m.substr(m.size() - 3), "...");
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_EQ(m.find('\t'), std::string::npos);
}

TEST(WithLastLines, DoesNotCutInsideAUtf8Character) {
  std::string line;
  for (int i = 0; i < 200; ++i) line += "é";  // 2 bytes each
  const std::string m = with_last_lines("m", {line, line, line});
  ASSERT_LE(m.size(), kMaxEventMessage);
  const std::string body = m.substr(0, m.size() - 3);
  EXPECT_NE(static_cast<unsigned char>(body.back()), 0xC3);  // no dangling lead byte
}

TEST(CheckPort, ForeignListenerOnTheAppsPortIsAConflict) {
  core::ProcessInfo foreign = proc(900, "", {"python3", "-m", "http.server", "3000"}, "/tmp", core::ProcessKind::Python);
  foreign.user = "bob";
  foreign.listen_ports = {3000};
  const auto e = check_port(node_app(), kUnit, {app_main(100), foreign}, kNow);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "port_conflict");
  EXPECT_EQ(e->severity, Severity::Warning);
  EXPECT_EQ(e->message,
            "api: port 3000 is taken by another process outside siax-app-api.service: pid 900 'python3 -m http.server "
            "3000' (user bob)");
}

TEST(CheckPort, AStrayCopyIsNamedAsSuch) {
  core::ProcessInfo s = stray(4321);
  s.listen_ports = {3000};
  const auto e = check_port(node_app(), kUnit, {s}, kNow);
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("a stray copy of the app"));
}

TEST(CheckPort, NoConflictWhenTheUnitListensOrNoPortIsDeclared) {
  core::ProcessInfo main = app_main(100);
  main.listen_ports = {3000};
  core::ProcessInfo other = proc(900, "", {"nginx"}, "/", core::ProcessKind::Other);
  other.listen_ports = {80, 443};
  EXPECT_FALSE(check_port(node_app(), kUnit, {main, other}, kNow));
  auto def = node_app();
  def.port = 0;
  other.listen_ports = {0};
  EXPECT_FALSE(check_port(def, kUnit, {other}, kNow));
}

TEST(CheckUnitDrift, OnlyNonCurrentFilesDrift) {
  EXPECT_FALSE(check_unit_drift("api", "current", kNow));
  EXPECT_FALSE(check_unit_drift("api", "", kNow));
  for (const char* st : {"stale", "edited", "foreign", "missing", "weird"}) {
    const auto e = check_unit_drift("api", st, kNow);
    ASSERT_TRUE(e) << st;
    EXPECT_EQ(e->kind, "unit_drift");
    EXPECT_THAT(e->message, HasSubstr("api: the unit file "));
  }
  EXPECT_THAT(check_unit_drift("api", "edited", kNow)->message, HasSubstr("edited by hand"));
}

TEST(DiffMonitored, GoneAndBack) {
  MonitoredState running;
  running.name = "worker";
  running.status = AppStatus::Running;
  running.pid = 77;
  MonitoredState gone;
  gone.name = "worker";
  gone.status = AppStatus::Stopped;
  EXPECT_TRUE(diff_monitored(std::nullopt, running, kNow).empty());
  EXPECT_TRUE(diff_monitored(running, running, kNow).empty());
  const auto e = diff_monitored(running, gone, kNow);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "monitored_gone");
  EXPECT_EQ(e[0].message, "worker is gone (was pid 77)");
  EXPECT_EQ(kinds(diff_monitored(gone, running, kNow)), std::vector<std::string>{"monitored_back"});
}

}  // namespace
}  // namespace siax::monitor
