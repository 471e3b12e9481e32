// The HTTP API's authentication, roles and admission, driven through the real server,
// router, middleware and routes (src/api) over fakes of the ports: an in-memory
// registry, systemd, unit store and host. Real HTTP on 127.0.0.1 (an ephemeral port);
// no sandbox, no systemd. docs/API.md, "Authentication", "Roles", "Operations on one app".
#include "api/api.h"

#include <chrono>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/logs_routes.h"
#include "auth/passwords.h"
#include "auth/tokens.h"
#include "fakes/fake_host.h"
#include "fakes/fake_registry.h"
#include "fakes/fake_systemd.h"
#include "fakes/fake_unit_store.h"
#include "common/clock.h"

namespace siax::api {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  unsigned status = 0;
  json body;
  bhttp::response<bhttp::string_body> raw;
  [[nodiscard]] std::string code() const {
    return body.is_object() && body["error"].is_object() ? body["error"].value("code", "") : "";
  }
  [[nodiscard]] std::string header(std::string_view name) const {
    auto it = raw.find(name);
    return it == raw.end() ? "" : std::string(it->value());
  }
};

std::int64_t wall_usec() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(install_api(ctx)) << "install_api failed";
    ASSERT_TRUE(server.start());
    io_thread = std::thread([this] { ioc.run(); });
    viewer = add_token("dash", Role::Viewer);
    operator_ = add_token("deploy-bot", Role::Operator);
    admin = add_token("root-cli", Role::Admin);
    ASSERT_TRUE(apps.register_app(app("api"), {}));
    systemd.calls.clear();
  }
  void TearDown() override {
    server.stop(std::chrono::milliseconds(100));
    io_thread.join();
    workers.stop();
  }

  static core::AppDefinition app(const std::string& name) {
    core::AppDefinition d;
    d.name = name;
    d.script_path = "/srv/app/server.js";
    d.user = "app";
    d.working_directory = "/srv/app";
    d.environment = {{"DB_PASSWORD", "hunter2-secret"}};
    return d;
  }

  /// A token of `role` in the registry and in the in-memory cache the middleware reads
  /// (TokenSync's job in the agent); its secret.
  std::string add_token(const std::string& name, Role role) {
    auto secret = auth::generate_token();
    auto hash = auth::hash_token(*secret);
    auto id = registry.add_token(name, role, *hash, wall_usec());
    // Used just now: the middleware posts no last-use write (the fake is not thread-safe).
    token_rows.push_back({.hash = *hash,
                          .token = {.id = *id, .name = name, .role = role, .last_used_usec = wall_usec()},
                          .revoked = false});
    (void)tokens.replace(token_rows);
    return *secret;
  }
  void revoke_token(std::size_t index) {
    token_rows[index].revoked = true;
    (void)tokens.replace(token_rows);
  }

  Reply request(bhttp::verb method, const std::string& target, Headers headers = {}, std::string body = {}) {
    boost::asio::io_context client_ioc;
    beast::tcp_stream stream(client_ioc);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), server.bound_port()});
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(server.bound_port()));
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    Reply r;
    bhttp::read(stream, buffer, r.raw);
    r.status = r.raw.result_int();
    r.body = json::parse(r.raw.body(), nullptr, false);
    return r;
  }
  Reply as(const std::string& token, bhttp::verb method, const std::string& target, std::string body = {}) {
    return request(method, target, {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
                   std::move(body));
  }

  /// Waits until the workers have run everything posted (audit writes included).
  void drain() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (workers.pending() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  /// The audit entries with this result, after the workers are done.
  std::vector<registry::AuditEntry> audited(const std::string& result) {
    drain();
    std::vector<registry::AuditEntry> out;
    for (const auto& e : registry.audit) {
      if (e.result == result) out.push_back(e);
    }
    return out;
  }
  std::size_t systemd_calls(const std::string& verb) {
    drain();
    std::size_t n = 0;
    for (const auto& c : systemd.calls) n += c.rfind(verb + " ", 0) == 0 ? 1 : 0;
    return n;
  }

  fakes::FakeSystemd systemd;
  fakes::FakeUnitStore store;
  fakes::FakeHost host = fakes::FakeHost::typical();
  fakes::FakeRegistry registry;
  auth::TokenCache tokens;
  units::AppUnits units{systemd, store, host, units::PreflightSettings{}};
  agent::AppService apps{registry, store, [this]() -> units::AppUnits& { return units; }, wall_usec};
  SteadyClock clock;
  orchestrator::RateLimiter limiter{clock, {.interval = std::chrono::minutes(10)}};
  orchestrator::OpSerializer ops{clock};
  auth::SessionStore sessions{clock};
  auth::LoginLimiter logins{clock};
  agent::WorkerPool workers{2, 16};
  Metrics metrics;
  boost::asio::io_context ioc{1};
  http::Server server{ioc, [] {
                        http::ServerOptions o;
                        o.port = 0;  // the kernel picks one
                        return o;
                      }()};
  AuditLog audit_log{registry, workers, metrics};
  Admission admission{ops, limiter, metrics, audit_log, wall_usec};
  ApiContext ctx{.apps = apps,
                 .registry = registry,
                 .admission = admission,
                 .audit_log = audit_log,
                 .sessions = sessions,
                 .logins = logins,
                 .workers = workers,
                 .metrics = metrics,
                 .server = server,
                 .permissions = [this] { return units.permissions(); },
                 .now_usec = wall_usec,
                 .version = "test",
                 .hostname = "host",
                 .tokens = &tokens};
  std::thread io_thread;
  std::vector<auth::TokenRow> token_rows;
  std::string viewer, operator_, admin;
};

// ---- authentication ------------------------------------------------------------------

TEST_F(ApiTest, NoCredentialsIs401AndNotAudited) {
  auto r = request(bhttp::verb::get, "/api/apps");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.code(), "authentication_required");
  EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos);
  auto post = request(bhttp::verb::post, "/api/apps/api/start");
  EXPECT_EQ(post.status, 401u);
  EXPECT_TRUE(audited("authentication_required").empty());
  EXPECT_EQ(systemd_calls("start"), 0u);
  EXPECT_NE(metrics.render({}, 0, 0).find("siax_http_unauthenticated_total 2\n"), std::string::npos);
}

TEST_F(ApiTest, HealthIsOpen) {
  auto r = request(bhttp::verb::get, "/api/health");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body["data"]["version"], "test");
}

TEST_F(ApiTest, BadMalformedOrRevokedTokenIs401) {
  EXPECT_EQ(as("not-a-real-token-0123456789", bhttp::verb::get, "/api/apps").code(), "invalid_token");
  auto malformed = request(bhttp::verb::get, "/api/apps", {{"Authorization", "Basic dXNlcjpwYXNz"}});
  EXPECT_EQ(malformed.status, 401u);
  EXPECT_EQ(malformed.code(), "invalid_authorization");
  revoke_token(0);
  auto revoked = as(viewer, bhttp::verb::get, "/api/apps");
  EXPECT_EQ(revoked.status, 401u);
  EXPECT_EQ(revoked.code(), "invalid_token");
}

TEST_F(ApiTest, GoodTokenIsServed) {
  auto r = as(viewer, bhttp::verb::get, "/api/apps");
  ASSERT_EQ(r.status, 200u) << r.raw.body();
  ASSERT_TRUE(r.body["data"].is_array());
  ASSERT_EQ(r.body["data"].size(), 1u);
  EXPECT_EQ(r.body["data"][0]["name"], "api");
  auto session = as(operator_, bhttp::verb::get, "/api/session");
  EXPECT_EQ(session.body["data"]["actor"], "token:deploy-bot");
  EXPECT_EQ(session.body["data"]["role"], "operator");
}

TEST_F(ApiTest, SessionLoginThenCsrfOnMutations) {
  registry.users["ops"] = {"ops", *auth::hash_password("correct horse battery"), Role::Operator, 1};
  auto wrong = request(bhttp::verb::post, "/api/login", {{"Content-Type", "application/json"}},
                       R"({"username":"ops","password":"wrong password"})");
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(wrong.code(), "invalid_credentials");
  auto login = request(bhttp::verb::post, "/api/login", {{"Content-Type", "application/json"}},
                       R"({"username":"ops","password":"correct horse battery"})");
  ASSERT_EQ(login.status, 200u) << login.raw.body();
  const std::string csrf = login.body["data"]["csrf_token"];
  const std::string set_cookie = login.header("Set-Cookie");
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  ASSERT_FALSE(csrf.empty());

  auto read = request(bhttp::verb::get, "/api/session", {{"Cookie", cookie}});
  EXPECT_EQ(read.status, 200u);
  EXPECT_EQ(read.body["data"]["actor"], "user:ops");
  EXPECT_EQ(read.body["data"]["csrf_token"], csrf);

  auto no_csrf = request(bhttp::verb::post, "/api/apps/api/start", {{"Cookie", cookie}});
  EXPECT_EQ(no_csrf.status, 403u);
  EXPECT_EQ(no_csrf.code(), "csrf_failed");
  auto bad_csrf = request(bhttp::verb::post, "/api/apps/api/start", {{"Cookie", cookie}, {"X-CSRF-Token", "nope"}});
  EXPECT_EQ(bad_csrf.code(), "csrf_failed");
  EXPECT_EQ(audited("csrf_failed").size(), 2u);
  EXPECT_EQ(systemd_calls("start"), 0u);

  auto with_csrf = request(bhttp::verb::post, "/api/apps/api/start", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(with_csrf.status, 200u) << with_csrf.raw.body();
  EXPECT_EQ(systemd_calls("start"), 1u);

  auto expired = request(bhttp::verb::get, "/api/apps", {{"Cookie", "siax_session=unknown-session-id"}});
  EXPECT_EQ(expired.status, 401u);
  EXPECT_EQ(expired.code(), "session_expired");
}

// ---- roles (docs/API.md, "Roles") ------------------------------------------------------

TEST_F(ApiTest, ViewerCannotStartOrStopAndTheRefusalIsAudited) {
  for (const char* verb : {"start", "stop", "restart", "enable", "disable"}) {
    auto r = as(viewer, bhttp::verb::post, std::string("/api/apps/api/") + verb);
    EXPECT_EQ(r.status, 403u) << verb;
    EXPECT_EQ(r.code(), "forbidden_role") << verb;
  }
  EXPECT_EQ(systemd_calls("start") + systemd_calls("stop") + systemd_calls("restart"), 0u);
  auto refused = audited("forbidden_role");
  ASSERT_EQ(refused.size(), 5u);
  EXPECT_EQ(refused[0].actor, "token:dash");
  EXPECT_EQ(refused[0].role, "viewer");
  EXPECT_EQ(refused[0].target, "api");
  EXPECT_EQ(as(viewer, bhttp::verb::get, "/api/audit").status, 403u);  // the audit log: operator
}

TEST_F(ApiTest, OperatorRunsOperationsButCannotManageApps) {
  auto started = as(operator_, bhttp::verb::post, "/api/apps/api/start");
  EXPECT_EQ(started.status, 200u) << started.raw.body();
  EXPECT_EQ(systemd_calls("start"), 1u);
  EXPECT_EQ(as(operator_, bhttp::verb::get, "/api/audit").status, 200u);
  EXPECT_EQ(as(operator_, bhttp::verb::delete_, "/api/apps/api").code(), "forbidden_role");
  EXPECT_EQ(as(operator_, bhttp::verb::post, "/api/recover").code(), "forbidden_role");
  EXPECT_EQ(as(operator_, bhttp::verb::put, "/api/apps/api", "{}").code(), "forbidden_role");
  EXPECT_EQ(as(operator_, bhttp::verb::post, "/api/apps/register", R"({"app_name":"web"})").code(), "forbidden_role");
  EXPECT_EQ(as(operator_, bhttp::verb::post, "/api/apps/preview", "{}").code(), "forbidden_role");
  EXPECT_TRUE(registry.apps.contains("api"));
  EXPECT_FALSE(registry.apps.contains("web"));
}

TEST_F(ApiTest, OnlyAdminsSeeEnvironmentValues) {
  auto as_viewer = as(viewer, bhttp::verb::get, "/api/apps/api");
  ASSERT_EQ(as_viewer.status, 200u) << as_viewer.raw.body();
  EXPECT_EQ(as_viewer.raw.body().find("hunter2-secret"), std::string::npos);
  EXPECT_EQ(as_viewer.body["data"]["definition"]["environment"]["DB_PASSWORD"], "***");
  auto as_admin = as(admin, bhttp::verb::get, "/api/apps/api");
  EXPECT_EQ(as_admin.body["data"]["definition"]["environment"]["DB_PASSWORD"], "hunter2-secret");
}

TEST_F(ApiTest, OnlyAdminsReadTheAgentsOwnLog) {
  http::Request req;
  req.route = "/api/agent/logs";
  req.auth = Identity{"token:deploy-bot", auth::Role::Operator, false};
  EXPECT_FALSE(may_read_log(req));
  req.auth = Identity{"token:root-cli", auth::Role::Admin, false};
  EXPECT_TRUE(may_read_log(req));
  req.route = "/api/apps/:name/logs";
  req.auth = Identity{"token:dash", auth::Role::Viewer, false};
  EXPECT_TRUE(may_read_log(req));
}

// ---- admission (docs/API.md, "Operations on one app") ---------------------------------

TEST_F(ApiTest, SecondOperationOnTheSameAppIs409AndConsumesNothing) {
  auto running = ops.try_begin("api", "restart");  // an operation in progress on "api"
  ASSERT_TRUE(running);
  auto r = as(operator_, bhttp::verb::post, "/api/apps/api/stop");
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(r.code(), "operation_in_progress");
  EXPECT_EQ(systemd_calls("stop"), 0u);
  auto refused = audited("operation_in_progress");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].action, "stop");
  EXPECT_EQ(refused[0].actor, "token:deploy-bot");
  // Register, update and delete are serialized too, and their refusals audited.
  EXPECT_EQ(as(admin, bhttp::verb::delete_, "/api/apps/api").code(), "operation_in_progress");
  EXPECT_EQ(audited("operation_in_progress").size(), 2u);
  EXPECT_TRUE(registry.apps.contains("api"));
  running->release();
  // The refused request did not consume the rate window: the next one runs.
  auto after = as(operator_, bhttp::verb::post, "/api/apps/api/stop");
  EXPECT_EQ(after.status, 200u) << after.raw.body();
  EXPECT_EQ(systemd_calls("stop"), 1u);
}

TEST_F(ApiTest, RateLimitIs429WithRetryAfter) {
  ASSERT_EQ(as(operator_, bhttp::verb::post, "/api/apps/api/start").status, 200u);
  auto again = as(operator_, bhttp::verb::post, "/api/apps/api/restart");
  EXPECT_EQ(again.status, 429u);
  EXPECT_EQ(again.code(), "rate_limited");
  EXPECT_FALSE(again.header("Retry-After").empty());
  EXPECT_EQ(systemd_calls("restart"), 0u);
  EXPECT_EQ(metrics.rate_limited("api"), 1u);
  EXPECT_EQ(audited("rate_limited").size(), 1u);
  // Other apps have their own window.
  ASSERT_TRUE(apps.register_app(app("web"), {}));
  EXPECT_EQ(as(operator_, bhttp::verb::post, "/api/apps/web/start").status, 200u);
}

TEST(Admission, RefusalsAreAuditedAsTheCaller) {
  fakes::FakeRegistry registry;
  agent::WorkerPool workers{1, 4};
  Metrics metrics;
  AuditLog log{registry, workers, metrics};
  SteadyClock clock;
  orchestrator::RateLimiter limiter{clock, {.interval = std::chrono::minutes(1)}};
  orchestrator::OpSerializer ops{clock};
  Admission admission{ops, limiter, metrics, log, [] { return std::int64_t{42}; }};
  const Caller monitor{.actor = "monitor", .role = "operator", .source = "", .detail = "health check failed"};
  auto first = admission.admit("api", "restart", monitor);
  ASSERT_TRUE(first);
  auto busy = admission.admit("api", "restart", monitor);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().result, "operation_in_progress");
  (*first)->release();
  auto limited = admission.admit("api", "restart", monitor);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().result, "rate_limited");
  // Register, update and delete skip the rate window (they are still serialized).
  EXPECT_TRUE(admission.admit("api", "update", monitor, RateWindow::Skip));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (workers.pending() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(registry.audit.size(), 2u);
  EXPECT_EQ(registry.audit[0].actor, "monitor");
  EXPECT_EQ(registry.audit[0].result, "operation_in_progress");
  EXPECT_EQ(registry.audit[0].detail, "health check failed");
  EXPECT_EQ(registry.audit[0].at_usec, 42);
  EXPECT_EQ(registry.audit[1].result, "rate_limited");
}

// ---- lists: events (viewer) and audit (operator) share the limit and list answer ----

TEST_F(ApiTest, EventAndAuditListsTakeALimitAndFilters) {
  for (std::int64_t i = 1; i <= 3; ++i) {
    registry.events.push_back(
        {.id = i, .at_usec = i, .app = i == 2 ? "web" : "api", .kind = "crashed", .severity = "error", .message = "m"});
  }
  auto events = as(viewer, bhttp::verb::get, "/api/events");
  ASSERT_EQ(events.status, 200u) << events.raw.body();
  ASSERT_EQ(events.body["data"].size(), 3u);
  EXPECT_EQ(events.body["data"][0]["id"], 3);  // newest first
  EXPECT_EQ(events.body["data"][0]["kind"], "crashed");
  EXPECT_EQ(as(viewer, bhttp::verb::get, "/api/events?limit=1").body["data"].size(), 1u);
  EXPECT_EQ(as(viewer, bhttp::verb::get, "/api/events?limit=-5").body["data"], json::array());  // clamped to 0
  EXPECT_EQ(as(viewer, bhttp::verb::get, "/api/events?limit=many").body["data"].size(), 3u);    // not a number: default
  auto web = as(viewer, bhttp::verb::get, "/api/events?app=web");
  ASSERT_EQ(web.body["data"].size(), 1u);
  EXPECT_EQ(web.body["data"][0]["app"], "web");

  drain();
  registry.audit.clear();
  for (std::int64_t i = 1; i <= 3; ++i) {
    registry.audit.push_back({.id = i,
                              .at_usec = i,
                              .actor = "cli",
                              .role = "admin",
                              .action = "start",
                              .target = i == 1 ? "web" : "api",
                              .source = "",
                              .result = "ok",
                              .detail = ""});
  }
  auto audit = as(operator_, bhttp::verb::get, "/api/audit?limit=2");
  ASSERT_EQ(audit.status, 200u) << audit.raw.body();
  ASSERT_EQ(audit.body["data"].size(), 2u);
  EXPECT_EQ(audit.body["data"][0]["id"], 3);
  EXPECT_EQ(audit.body["data"][1]["target"], "api");
  EXPECT_EQ(as(operator_, bhttp::verb::get, "/api/audit?target=web").body["data"].size(), 1u);
  EXPECT_EQ(as(operator_, bhttp::verb::get, "/api/audit?limit=0").body["data"], json::array());
  EXPECT_EQ(as(viewer, bhttp::verb::get, "/api/events?limit=2").status, 200u);
  EXPECT_EQ(as(viewer, bhttp::verb::get, "/api/audit?limit=2").code(), "forbidden_role");
}

}  // namespace
}  // namespace siax::api
