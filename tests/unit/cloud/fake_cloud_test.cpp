// Adapter tests: the libcurl transport and the reporter against tests/fakes/fake_cloud.py
// over loopback (the fake is spawned per test on a free port). The reporter is driven by
// tick() with a manual time, except in the stop test, which needs its thread.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "cloud/cloud_reporter.h"
#include "cloud/curl_transport.h"
#include "unit/cloud/fake_transport.h"
#include "support/temp_dir.h"

extern char** environ;

namespace siax::cloud {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;
using siax::test::TempDir;

constexpr const char* kKey = "k-123";
constexpr const char* kPython = "/usr/bin/python3";

/// The fake cloud as a child process; killed (by its pid) at the end of the test.
class FakeCloudProcess {
 public:
  FakeCloudProcess() {
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    // Not the test's stderr: a pipe reading the test's output must not wait for the fake.
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::string script = SIAX_FAKE_CLOUD_PY;
    // Debian's interpreter by its path: a PATH lookup may find a slow shim (pyenv).
    std::vector<std::string> args = {kPython, script, "--port", "0", "--api-key", kKey,
                                     "--exit-with-parent"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, kPython, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      pid_ = 0;
      return;
    }
    FILE* out = ::fdopen(fds[0], "r");
    char line[64] = {};
    if (out != nullptr && std::fgets(line, sizeof line, out) != nullptr) {
      int port = 0;
      if (std::sscanf(line, "PORT %d", &port) == 1) port_ = port;
    }
    if (out != nullptr) std::fclose(out);
  }
  ~FakeCloudProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

class FakeCloudTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
    ASSERT_GT(cloud.port(), 0) << "the fake cloud did not start";
    control = transport();
  }

  std::unique_ptr<CurlTransport> transport(std::string key = kKey, std::size_t max_body = 1024 * 1024,
                                           std::chrono::milliseconds total = std::chrono::milliseconds(10'000)) {
    auto t = CurlTransport::create({.base_url = cloud.url(), .api_key = std::move(key),
                                    .connect_timeout = std::chrono::milliseconds(5000), .total_timeout = total,
                                    .max_body_bytes = max_body});
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return std::move(*t);
  }

  json state() {
    auto r = control->send(Method::Get, "/_control/state", "");
    EXPECT_TRUE(r);
    return json::parse(r->body);
  }
  void mode(const json& m) { ASSERT_EQ(control->send(Method::Post, "/_control/mode", m.dump()).value().status, 200); }

  std::unique_ptr<CloudReporter> reporter(const std::string& path, bool dies_after_create = false) {
    auto box = CloudOutbox::open(path, {});
    EXPECT_TRUE(box);
    CloudReporter::Options o;
    o.server_id = "srv-a";
    o.random = [] { return 0.0; };
    std::unique_ptr<CloudTransport> t = transport();
    if (dies_after_create) t = std::make_unique<test::DiesAfterCreate>(std::move(t));
    auto r = CloudReporter::create(std::move(*box), std::move(t), std::move(o));
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return std::move(*r);
  }

  FakeCloudProcess cloud;
  std::unique_ptr<CurlTransport> control;
  TempDir dir;
  steady::time_point now{std::chrono::hours(1000)};
};

TEST_F(FakeCloudTest, TransportSendsTheKeyAndJson) {
  auto t = transport();
  auto created = t->send(Method::Post, "/api/apps_servcs/apps", R"({"name":"a b","server":"s/1"})");
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(json::parse(created->body)["data"]["id"], 1);
  auto found = t->send(Method::Get, "/api/apps_servcs/apps?name=a%20b&server=s%2F1", "");
  ASSERT_TRUE(found);
  EXPECT_EQ(json::parse(found->body)["data"].size(), 1u);
  auto put = t->send(Method::Put, "/api/apps_servcs/apps/1/status", R"({"status":"active"})");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(state()["statuses"][0]["body"]["status"], "active");

  auto wrong = transport("wrong-key")->send(Method::Get, "/api/apps_servcs/apps", "");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

TEST_F(FakeCloudTest, TransportErrors) {
  auto small = transport(kKey, 16);
  auto big = small->send(Method::Get, "/_control/state", "");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, "cloud_reply_too_large");

  mode({{"mode", "down"}, {"retry_after", 7}});
  auto down = transport()->send(Method::Get, "/api/apps_servcs/apps", "");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(down->retry_after, std::optional<seconds>(seconds(7)));

  mode({{"mode", "slow"}, {"seconds", 3}});
  auto slow = transport(kKey, 1024, std::chrono::milliseconds(300))->send(Method::Get, "/api/apps_servcs/apps", "");
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, "cloud_timeout");

  auto refused = CurlTransport::create({.base_url = "http://127.0.0.1:1", .api_key = kKey});
  ASSERT_TRUE(refused);
  auto r = (*refused)->send(Method::Get, "/x", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "cloud_unreachable");

  (*refused)->cancel();
  EXPECT_EQ((*refused)->send(Method::Get, "/x", "").error().code, "cloud_cancelled");
}

TEST(CloudCurlTransport, RefusesBadSettings) {
  EXPECT_EQ(CurlTransport::create({.base_url = "ftp://x", .api_key = "k"}).error().code, "invalid_cloud_url");
  EXPECT_EQ(CurlTransport::create({.base_url = "https://x", .api_key = ""}).error().code, "invalid_cloud_api_key");
  EXPECT_EQ(CurlTransport::create({.base_url = "https://x", .api_key = "a\nb"}).error().code, "invalid_cloud_api_key");
}

TEST_F(FakeCloudTest, NoDuplicateAcrossACrashBetweenCreateAndRemember) {
  const auto path = dir.file("cloud.db");
  {
    auto r = reporter(path, /*dies_after_create=*/true);
    ASSERT_TRUE(r->report_state({{"name", "orders"}, {"status", "active"}, {"pid", 10}}));
    r->tick(now);
  }
  ASSERT_EQ(state()["apps"].size(), 1u);  // created in the cloud, not remembered
  auto r = reporter(path);
  r->tick(now);
  r->tick(now + seconds(60));  // a heartbeat later: still the same record
  const json s = state();
  EXPECT_EQ(s["apps"].size(), 1u);
  EXPECT_EQ(s["duplicates"], 0);
  ASSERT_EQ(s["statuses"].size(), 2u);
  EXPECT_EQ(s["statuses"][0]["id"], 1);
  EXPECT_EQ(s["statuses"][0]["body"]["server"], "srv-a");
}

TEST_F(FakeCloudTest, ForgottenRecordIsLookedUpAndCreatedAgain) {
  auto r = reporter(dir.file("cloud.db"));
  ASSERT_TRUE(r->report_state({{"name", "orders"}, {"status", "active"}}));
  r->tick(now);
  ASSERT_EQ(control->send(Method::Post, "/_control/forget/1", "").value().status, 200);
  ASSERT_TRUE(r->report_state({{"name", "orders"}, {"status", "failed"}}));
  r->tick(now + seconds(1));
  const json s = state();
  ASSERT_EQ(s["apps"].size(), 1u);
  EXPECT_EQ(s["apps"][0]["id"], 2);
  EXPECT_EQ(s["duplicates"], 0);
  EXPECT_EQ(s["statuses"].back()["id"], 2);
  EXPECT_EQ(s["statuses"].back()["body"]["status"], "failed");
}

TEST_F(FakeCloudTest, ReportsQueuedWhileDownAreDeliveredWhenTheCloudReturns) {
  const auto path = dir.file("cloud.db");
  mode({{"mode", "down"}});
  {
    auto r = reporter(path);
    ASSERT_TRUE(r->report_state({{"name", "orders"}, {"status", "activating"}}));
    ASSERT_TRUE(r->report_event({{"name", "orders"}, {"type", "started"}}));
    ASSERT_TRUE(r->report_state({{"name", "orders"}, {"status", "active"}}));
    ASSERT_TRUE(r->report_event({{"name", "orders"}, {"type", "healthy"}}));
    r->tick(now);
    EXPECT_EQ(r->stats().consecutive_failures, 1u);
    EXPECT_NE(r->stats().last_error.find("HTTP 503"), std::string::npos);
  }  // the agent restarts while the cloud is down
  mode({{"mode", "error"}});
  auto r = reporter(path);
  r->tick(now);
  EXPECT_NE(r->stats().last_error.find("HTTP 500"), std::string::npos);
  mode({{"mode", "ok"}});
  r->tick(now + seconds(1));
  const json s = state();
  ASSERT_EQ(s["statuses"].size(), 1u);
  EXPECT_EQ(s["statuses"][0]["body"]["status"], "active");
  ASSERT_EQ(s["events"].size(), 2u);
  EXPECT_EQ(s["events"][0]["body"]["type"], "started");
  EXPECT_EQ(s["events"][1]["body"]["type"], "healthy");
  EXPECT_EQ(r->stats().queued_events, 0u);
}

TEST_F(FakeCloudTest, StopCancelsTheRequestInFlight) {
  mode({{"mode", "slow"}, {"seconds", 30}});
  auto r = reporter(dir.file("cloud.db"));
  ASSERT_TRUE(r->report_state({{"name", "orders"}, {"status", "active"}}));
  r->start();
  // Wait (bounded) until the reporter's request is being served, then stop.
  const auto deadline = steady::now() + seconds(20);
  while (state()["in_flight"] == 0 && steady::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(state()["in_flight"], 1);
  r->stop();  // without cancellation this would wait for curl's 10 s timeout
  EXPECT_NE(r->stats().last_error.find("cancelled"), std::string::npos) << r->stats().last_error;
  EXPECT_EQ(r->stats().queued_states, 1u);
}

}  // namespace
}  // namespace siax::cloud
