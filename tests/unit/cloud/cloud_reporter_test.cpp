#include "cloud/cloud_reporter.h"

#include <gtest/gtest.h>

#include "cloud/cloud_config.h"
#include "unit/cloud/fake_transport.h"
#include "support/temp_dir.h"

namespace siax::cloud {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;
using test::FakeCloud;
using test::FakeTransport;
using siax::test::TempDir;

constexpr const char* kServer = "web-1";

class CloudReporterTest : public ::testing::Test {
 protected:
  std::unique_ptr<CloudReporter> make(const std::string& outbox_path = ":memory:",
                                      bool dies_after_create = false,
                                      std::size_t max_events = 10'000) {
    auto box = CloudOutbox::open(outbox_path, {.max_events = max_events});
    EXPECT_TRUE(box) << (box ? "" : box.error().message);
    CloudReporter::Options o;
    o.server_id = kServer;
    o.heartbeat_interval = seconds(60);
    o.random = [this] { return random; };
    o.wall_clock = [this] { return wall; };
    o.notify = [this](CloudReporter::NoticeLevel, const std::string& text) { notices.push_back(text); };
    o.max_requests_per_round = max_requests;
    o.current_states = current_states;
    std::unique_ptr<CloudTransport> transport = std::make_unique<FakeTransport>(cloud);
    if (dies_after_create) transport = std::make_unique<test::DiesAfterCreate>(std::move(transport));
    auto r = CloudReporter::create(std::move(*box), std::move(transport), std::move(o));
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return std::move(*r);
  }

  static json state(const std::string& name, const std::string& status, int pid = 100, double cpu = 1.0) {
    return json{{"name", name}, {"status", status}, {"pid", pid}, {"cpu_usage", cpu}, {"systemd_status", status}};
  }

  steady::time_point now{std::chrono::hours(1000)};
  std::chrono::system_clock::time_point wall{seconds(1'714'564'800)};
  double random = 0.0;  // lowest jitter: delays are exactly half the ceiling
  std::size_t max_requests = 64;
  std::vector<std::string> notices;
  std::function<std::vector<json>()> current_states;
  std::shared_ptr<FakeCloud> cloud = std::make_shared<FakeCloud>();
};

TEST_F(CloudReporterTest, FirstReportLooksUpCreatesOnceThenUpdates) {
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  const auto next = r->tick(now);
  EXPECT_EQ(cloud->log, (std::vector<std::string>{"GET /api/apps_servcs/apps?name=api&server=web-1",
                                                  "POST /api/apps_servcs/apps", "PUT /api/apps_servcs/apps/100/status"}));
  EXPECT_EQ(next, now + seconds(60));  // nothing left: the next heartbeat
  ASSERT_EQ(cloud->statuses.size(), 1u);
  EXPECT_EQ(cloud->statuses[0].body["status"], "active");
  EXPECT_EQ(cloud->statuses[0].body["server"], kServer);
  EXPECT_EQ(cloud->statuses[0].body["last_updated"], "2024-05-01T12:00:00Z");

  ASSERT_TRUE(r->report_state(state("api", "failed", 0)));
  cloud->log.clear();
  r->tick(now + seconds(1));
  EXPECT_EQ(cloud->log, (std::vector<std::string>{"PUT /api/apps_servcs/apps/100/status"}));  // id remembered
  EXPECT_EQ(cloud->apps.size(), 1u);
  const auto s = r->stats();
  EXPECT_EQ(s.creates, 1u);
  EXPECT_EQ(s.lookups, 1u);
  EXPECT_EQ(s.delivered_states, 2u);
  EXPECT_EQ(s.queued_states, 0u);
  EXPECT_EQ(s.last_success, wall);
}

TEST_F(CloudReporterTest, ExistingRecordIsReusedNotDuplicated) {
  cloud->apps.push_back({7, "api", kServer});
  cloud->apps.push_back({8, "api", "other-server"});
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  r->tick(now);
  EXPECT_EQ(cloud->count("POST"), 0u);
  ASSERT_EQ(cloud->statuses.size(), 1u);
  EXPECT_EQ(cloud->statuses[0].id, 7);
}

TEST_F(CloudReporterTest, MetricsOnlyChangesWaitForTheHeartbeat) {
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active", 100, 1.0)));
  r->tick(now);
  ASSERT_TRUE(r->report_state(state("api", "active", 100, 55.0)));
  EXPECT_EQ(r->tick(now + seconds(5)), now + seconds(60));
  EXPECT_EQ(cloud->statuses.size(), 1u);
  r->tick(now + seconds(60));
  ASSERT_EQ(cloud->statuses.size(), 2u);
  EXPECT_EQ(cloud->statuses[1].body["cpu_usage"], 55.0);  // the newest metrics go with the heartbeat
}

TEST_F(CloudReporterTest, HeartbeatResendsEveryAppsLatestState) {
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  ASSERT_TRUE(r->report_state(state("web", "failed")));
  r->tick(now);
  EXPECT_EQ(cloud->statuses.size(), 2u);
  r->tick(now + seconds(30));
  EXPECT_EQ(cloud->statuses.size(), 2u);
  r->tick(now + seconds(60));
  EXPECT_EQ(cloud->statuses.size(), 4u);
  r->tick(now + seconds(120));
  EXPECT_EQ(cloud->statuses.size(), 6u);
  EXPECT_EQ(cloud->count("POST"), 2u);  // still one create per app
}

TEST_F(CloudReporterTest, HeartbeatAsksForFreshStates) {
  double cpu = 1.0;
  bool retiring_listed = true;
  current_states = [&] {
    std::vector<json> all = {state("api", "running", 100, cpu)};
    if (retiring_listed) all.push_back(state("old", "running"));
    all.push_back(json{{"no_name", true}});  // ignored
    return all;
  };
  auto r = make();
  r->tick(now);  // the first heartbeat: the source alone feeds the outbox
  ASSERT_EQ(cloud->statuses.size(), 2u);
  ASSERT_TRUE(r->retire_app(json{{"name", "old"}, {"status", "removed"}}));
  cpu = 42.0;
  r->tick(now + seconds(60));
  std::vector<json> sent;
  for (auto it = cloud->statuses.begin() + 2; it != cloud->statuses.end(); ++it) sent.push_back(it->body);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["name"], "api");
  EXPECT_EQ(sent[0]["cpu_usage"], 42.0);
  EXPECT_EQ(sent[1]["name"], "old");
  EXPECT_EQ(sent[1]["status"], "removed");  // a retiring app is not revived by the source
  retiring_listed = false;
  r->tick(now + seconds(120));
  EXPECT_EQ(cloud->statuses.back().body["name"], "api");
  EXPECT_EQ(r->stats().apps, 1u);
}

TEST_F(CloudReporterTest, MonitorEventsNameTheAppApp) {
  auto r = make();
  ASSERT_TRUE(r->report_event({{"app", "api"}, {"kind", "crashed"}, {"at", 1714564800000000}}));
  r->tick(now);
  ASSERT_EQ(cloud->events.size(), 1u);
  EXPECT_EQ(cloud->events[0].body["name"], "api");
  EXPECT_EQ(cloud->events[0].body["kind"], "crashed");
  EXPECT_EQ(cloud->events[0].body["at"], 1714564800000000);  // kept as given
}

TEST_F(CloudReporterTest, WhileTheCloudIsDownReportsWaitCoalescedAndBackOff) {
  auto r = make();
  cloud->unreachable = true;
  ASSERT_TRUE(r->report_state(state("api", "activating")));
  ASSERT_TRUE(r->report_state(state("api", "active", 200)));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(r->report_event({{"name", "api"}, {"type", "e"}, {"n", i}}));

  EXPECT_EQ(r->tick(now), now + milliseconds(500));  // 1st failure: ceiling 1 s, half of it
  auto s = r->stats();
  EXPECT_EQ(s.queued_states, 1u);
  EXPECT_EQ(s.queued_events, 3u);
  EXPECT_EQ(s.consecutive_failures, 1u);
  EXPECT_NE(s.last_error.find("connection refused"), std::string::npos);
  ASSERT_TRUE(s.backoff_until);
  EXPECT_EQ(*s.backoff_until, wall + milliseconds(500));
  ASSERT_EQ(notices.size(), 1u);  // one warning, not one per attempt

  const auto sent = cloud->log.size();
  EXPECT_EQ(r->tick(now + milliseconds(499)), now + milliseconds(500));  // still backing off: no request
  EXPECT_EQ(cloud->log.size(), sent);
  EXPECT_EQ(r->tick(now + milliseconds(500)), now + milliseconds(1500));  // 2nd failure: 1 s
  EXPECT_EQ(r->tick(now + milliseconds(1500)), now + milliseconds(3500));  // 3rd: 2 s
  EXPECT_EQ(notices.size(), 1u);

  cloud->unreachable = false;
  EXPECT_EQ(r->tick(now + milliseconds(3500)), now + seconds(60));
  ASSERT_EQ(cloud->statuses.size(), 1u);  // only the latest state
  EXPECT_EQ(cloud->statuses[0].body["status"], "active");
  EXPECT_EQ(cloud->statuses[0].body["pid"], 200);
  ASSERT_EQ(cloud->events.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cloud->events[i].body["n"], i);
  s = r->stats();
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_FALSE(s.backoff_until);
  EXPECT_EQ(s.last_error, "");
  EXPECT_EQ(s.queued_events, 0u);
  EXPECT_EQ(notices.back(), "cloud reporting works again: queued reports are being delivered");

  // After a success the backoff starts again from the base.
  cloud->unreachable = true;
  ASSERT_TRUE(r->report_state(state("api", "failed")));
  EXPECT_EQ(r->tick(now + seconds(4)), now + seconds(4) + milliseconds(500));
}

TEST_F(CloudReporterTest, ServerErrorsBackOffAndRetryAfterIsHonoured) {
  auto r = make();
  cloud->fail_status = 503;
  cloud->retry_after = seconds(20);
  ASSERT_TRUE(r->report_state(state("api", "active")));
  EXPECT_EQ(r->tick(now), now + seconds(20));
  EXPECT_NE(r->stats().last_error.find("HTTP 503"), std::string::npos);
}

TEST_F(CloudReporterTest, RefusedKeyBacksOffWithAHint) {
  auto r = make();
  cloud->fail_status = 401;
  ASSERT_TRUE(r->report_state(state("api", "active")));
  EXPECT_EQ(r->tick(now), now + milliseconds(500));
  EXPECT_NE(r->stats().last_error.find("check cloud.api_key"), std::string::npos);
  EXPECT_EQ(r->stats().queued_states, 1u);
}

TEST_F(CloudReporterTest, RefusedStateIsDroppedNotRetriedForever) {
  cloud->apps.push_back({7, "api", kServer});
  auto r = make();
  cloud->put_status = 422;
  ASSERT_TRUE(r->report_state(state("api", "active")));
  ASSERT_TRUE(r->report_state(state("web", "active")));
  EXPECT_EQ(r->tick(now), now + seconds(60));  // no backoff: the cloud is fine, the report is not
  const auto s = r->stats();
  EXPECT_EQ(s.rejected_reports, 2u);
  EXPECT_EQ(s.queued_states, 0u);
  EXPECT_EQ(s.consecutive_failures, 0u);
}

TEST_F(CloudReporterTest, ForgottenIdLeadsToANewLookupAndCreate) {
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  r->tick(now);
  cloud->forget(100);
  cloud->log.clear();
  ASSERT_TRUE(r->report_state(state("api", "failed")));
  EXPECT_EQ(r->tick(now + seconds(1)), now + seconds(60));
  EXPECT_EQ(cloud->log, (std::vector<std::string>{"PUT /api/apps_servcs/apps/100/status",
                                                  "GET /api/apps_servcs/apps?name=api&server=web-1",
                                                  "POST /api/apps_servcs/apps", "PUT /api/apps_servcs/apps/101/status"}));
  EXPECT_EQ(cloud->statuses.back().body["status"], "failed");
  EXPECT_EQ(cloud->duplicates, 0);
}

TEST_F(CloudReporterTest, CrashBetweenCreateAndRememberDoesNotDuplicate) {
  TempDir dir;
  const auto path = dir.file("cloud.db");
  {
    auto r = make(path, /*dies_after_create=*/true);
    ASSERT_TRUE(r->report_state(state("api", "active")));
    r->tick(now);
    EXPECT_EQ(cloud->apps.size(), 1u);      // the cloud created it...
    EXPECT_TRUE(cloud->statuses.empty());   // ...and the agent "died" before remembering
  }
  auto r = make(path);
  r->tick(now + seconds(1));
  EXPECT_EQ(cloud->apps.size(), 1u);
  EXPECT_EQ(cloud->duplicates, 0);
  EXPECT_EQ(cloud->count("POST"), 1u);
  ASSERT_EQ(cloud->statuses.size(), 1u);
  EXPECT_EQ(cloud->statuses[0].id, 100);
  ASSERT_FALSE(notices.empty());
  EXPECT_NE(notices.back().find("created before the agent was interrupted"), std::string::npos);
}

TEST_F(CloudReporterTest, CreateWithoutIdInTheReplyIsFoundByLookup) {
  cloud->create_returns_id = false;
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  r->tick(now);
  EXPECT_EQ(cloud->count("GET"), 2u);
  EXPECT_EQ(cloud->count("POST"), 1u);
  ASSERT_EQ(cloud->statuses.size(), 1u);
  EXPECT_EQ(cloud->statuses[0].id, 100);
}

TEST_F(CloudReporterTest, QueuedReportsSurviveARestart) {
  TempDir dir;
  const auto path = dir.file("cloud.db");
  cloud->unreachable = true;
  {
    auto r = make(path);
    ASSERT_TRUE(r->report_state(state("api", "active")));
    ASSERT_TRUE(r->report_event({{"name", "api"}, {"type", "started"}}));
    ASSERT_TRUE(r->report_event({{"name", "api"}, {"type", "crashed"}}));
    r->tick(now);
  }
  cloud->unreachable = false;
  auto r = make(path);
  EXPECT_EQ(r->stats().queued_events, 2u);
  r->tick(now);
  ASSERT_EQ(cloud->statuses.size(), 1u);
  ASSERT_EQ(cloud->events.size(), 2u);
  EXPECT_EQ(cloud->events[0].body["type"], "started");
  EXPECT_EQ(cloud->events[1].body["type"], "crashed");
  EXPECT_EQ(cloud->events[1].body["server"], kServer);
  EXPECT_EQ(cloud->events[1].body["at"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(cloud->statuses[0].body["last_event"]["type"], "crashed");
}

TEST_F(CloudReporterTest, EventBoundDropsTheOldest) {
  cloud->unreachable = true;
  auto r = make(":memory:", false, 3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(r->report_event({{"name", "api"}, {"n", i}}));
  EXPECT_EQ(r->stats().dropped_events, 2u);
  cloud->unreachable = false;
  r->tick(now);
  ASSERT_EQ(cloud->events.size(), 3u);
  EXPECT_EQ(cloud->events[0].body["n"], 2);
}

TEST_F(CloudReporterTest, MissingEventsEndpointKeepsEventsAndStopsAsking) {
  cloud->events_endpoint = false;
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  ASSERT_TRUE(r->report_event({{"name", "api"}, {"type", "crashed"}}));
  EXPECT_EQ(r->tick(now), now + seconds(60));
  auto s = r->stats();
  EXPECT_TRUE(s.events_endpoint_missing);
  EXPECT_EQ(s.queued_events, 1u);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_EQ(cloud->count("POST /api/apps_servcs/apps/100/events"), 1u);
  r->tick(now + seconds(60));  // heartbeat: states go, events do not
  EXPECT_EQ(cloud->count("POST /api/apps_servcs/apps/100/events"), 1u);
  EXPECT_EQ(cloud->statuses.back().body["last_event"]["type"], "crashed");
  cloud->events_endpoint = true;
  r->tick(now + seconds(3600));
  EXPECT_EQ(cloud->events.size(), 1u);
  EXPECT_FALSE(r->stats().events_endpoint_missing);
}

TEST_F(CloudReporterTest, RetiredAppLeavesTheHeartbeat) {
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  r->tick(now);
  ASSERT_TRUE(r->retire_app(json{{"name", "api"}, {"status", "removed"}}));
  r->tick(now + seconds(1));
  EXPECT_EQ(cloud->statuses.back().body["status"], "removed");
  EXPECT_EQ(r->stats().apps, 0u);
  const auto n = cloud->statuses.size();
  r->tick(now + seconds(60));
  EXPECT_EQ(cloud->statuses.size(), n);
}

TEST_F(CloudReporterTest, LongQueuesAreSentInBoundedRounds) {
  max_requests = 3;
  auto r = make();
  for (const char* app : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(r->report_state(state(app, "active")));
  EXPECT_EQ(r->tick(now), now);  // more to do: call again at once
  EXPECT_EQ(cloud->statuses.size(), 3u);
  EXPECT_EQ(r->tick(now), now + seconds(60));
  EXPECT_EQ(cloud->statuses.size(), 5u);
}

TEST_F(CloudReporterTest, BadReportsAreRefusedWithAClearError) {
  auto r = make();
  auto bad = r->report_state(json{{"status", "active"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "invalid_cloud_report");
  EXPECT_NE(bad.error().message.find("\"name\""), std::string::npos);
  EXPECT_FALSE(r->report_event(json::array()));
  EXPECT_EQ(r->stats().apps, 0u);
}

TEST_F(CloudReporterTest, StopMakesTickInert) {
  auto r = make();
  ASSERT_TRUE(r->report_state(state("api", "active")));
  r->stop();
  r->tick(now);
  EXPECT_TRUE(cloud->log.empty());
  EXPECT_EQ(r->stats().queued_states, 1u);  // kept for the next start
}

TEST_F(CloudReporterTest, CreateRefusesBadOptions) {
  auto box = CloudOutbox::open(":memory:", {});
  ASSERT_TRUE(box);
  CloudReporter::Options o;  // no server id
  auto r = CloudReporter::create(std::move(*box), std::make_unique<FakeTransport>(cloud), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
}

TEST(CloudDescribe, SaysWhetherReportingIsOn) {
  config::CloudConfig cfg;
  EXPECT_EQ(describe(cfg, "h"),
            "cloud reporting is off: no cloud.api_key configured (set cloud.api_key or SIAX_CLOUD_API_KEY to turn it on)");
  cfg.api_key = "secret-key";
  const auto line = describe(cfg, "web-1");
  EXPECT_NE(line.find("cloud reporting to https://api.siax-system.net as server web-1 every 60 s"), std::string::npos);
  EXPECT_EQ(line.find("secret-key"), std::string::npos);
  EXPECT_EQ(resolve_server_id(cfg, "host-a"), "host-a");
  cfg.server_id = "custom";
  EXPECT_EQ(resolve_server_id(cfg, "host-a"), "custom");
  EXPECT_FALSE(local_host_name().empty());
}

TEST(CloudStatsJson, ShapeForTheApi) {
  CloudStats s;
  s.server = "web-1";
  s.queued_events = 3;
  s.last_success = std::chrono::system_clock::time_point(seconds(1'714'564'800));
  const json j = stats_to_json(s);
  EXPECT_EQ(j["server"], "web-1");
  EXPECT_EQ(j["queued_events"], 3);
  EXPECT_EQ(j["last_success"], "2024-05-01T12:00:00Z");
  EXPECT_TRUE(j["last_failure"].is_null());
  EXPECT_TRUE(j["last_error"].is_null());
}

TEST(CloudStatsPrometheus, Lines) {
  CloudStats s;
  s.queued_states = 2;
  s.dropped_events = 5;
  const auto text = stats_to_prometheus(s);
  EXPECT_NE(text.find("# TYPE siax_cloud_queued_states gauge\nsiax_cloud_queued_states 2\n"), std::string::npos);
  EXPECT_NE(text.find("siax_cloud_dropped_events_total 5\n"), std::string::npos);
  EXPECT_NE(text.find("siax_cloud_last_success_timestamp_seconds 0\n"), std::string::npos);
  s.last_success = std::chrono::system_clock::time_point(seconds(1'714'564'800));
  EXPECT_NE(stats_to_prometheus(s).find("siax_cloud_last_success_timestamp_seconds 1714564800\n"), std::string::npos);
}

}  // namespace
}  // namespace siax::cloud
