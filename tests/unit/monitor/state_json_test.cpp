// Tests for monitor/state_json.h: the field names the API and the panel rely on.
#include "monitor/state_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "monitor/reconcile.h"
#include "unit/monitor/fakes.h"

namespace siax::monitor {
namespace {

using namespace siax::monitor::testing;
using nlohmann::json;

TEST(StateJson, RunningApp) {
  core::UnitStatus u = unit("active", "running", 100);
  u.memory_current_bytes = 1234;
  u.restart_count = 1;
  core::ProcessInfo main = app_main(100);
  main.cpu_percent = 3.5;
  main.listen_ports = {3000};
  const json j = to_json(reconcile(node_app(), u, {main}, HealthView{HealthState::Healthy, 0, "", kNow, 4}, kNow));
  EXPECT_EQ(j["name"], "api");
  EXPECT_EQ(j["unit"], kUnit);
  EXPECT_EQ(j["status"], "running");
  EXPECT_EQ(j["reason"], "running (pid 100)");
  EXPECT_EQ(j["pid"], 100);
  EXPECT_EQ(j["pids"], json::array({100}));
  EXPECT_EQ(j["stray_pids"], json::array());
  EXPECT_EQ(j["cpu_usage"], 3.5);
  EXPECT_EQ(j["memory_usage"], 1234);
  EXPECT_EQ(j["memory_source"], "systemd");
  EXPECT_EQ(j["uptime_seconds"], 90);
  EXPECT_EQ(j["restart_count"], 1);
  EXPECT_TRUE(j["last_exit"].is_null());
  EXPECT_EQ(j["systemd_status"], "active (running)");
  EXPECT_EQ(j["ports"], json::array({3000}));
  EXPECT_EQ(j["last_updated"], kNow);
  EXPECT_EQ(j["health"]["state"], "healthy");
  EXPECT_EQ(j["health"]["latency_ms"], 4);
  EXPECT_TRUE(j["health"]["last_error"].is_null());
}

TEST(StateJson, UnreachableSystemdHasNullsWhereNothingIsKnown) {
  const json j = to_json(reconcile(node_app(), std::nullopt, {}, std::nullopt, kNow));
  EXPECT_EQ(j["status"], "unknown");
  EXPECT_TRUE(j["pid"].is_null());
  EXPECT_TRUE(j["systemd_status"].is_null());
  EXPECT_TRUE(j["uptime_seconds"].is_null());
  EXPECT_TRUE(j["health"].is_null());
  EXPECT_EQ(j["memory_source"], "proc");
}

TEST(StateJson, FailedAppHasLastExit) {
  const json j = to_json(reconcile(node_app(), failed_unit("signal", core::ExitCode::Killed, 9), {}, std::nullopt, kNow));
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["last_exit"], "killed by SIGKILL");
  EXPECT_EQ(j["result"], "signal");
}

TEST(StateJson, EventAndMonitored) {
  const json e = to_json(Event{kNow, "api", "failed", Severity::Error, "api failed: x"});
  EXPECT_EQ(e, (json{{"at", kNow}, {"app", "api"}, {"kind", "failed"}, {"severity", "error"}, {"message", "api failed: x"}}));
  MonitoredState m;
  m.key = "www:worker";
  m.name = "worker";
  const json jm = to_json(m);
  EXPECT_EQ(jm["status"], "stopped");
  EXPECT_TRUE(jm["pid"].is_null());
  EXPECT_EQ(jm["key"], "www:worker");
}

}  // namespace
}  // namespace siax::monitor
