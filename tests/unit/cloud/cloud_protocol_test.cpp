#include "cloud/cloud_protocol.h"

#include <gtest/gtest.h>

namespace siax::cloud {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

system_clock::time_point at_epoch_s(std::int64_t s) { return system_clock::time_point(std::chrono::seconds(s)); }

TEST(CloudProtocol, UrlEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(url_encode("api-1.x_y~"), "api-1.x_y~");
  EXPECT_EQ(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(url_encode(""), "");
}

TEST(CloudProtocol, Paths) {
  EXPECT_EQ(lookup_path("orders api", "web#1"), "/api/apps_servcs/apps?name=orders%20api&server=web%231");
  EXPECT_EQ(status_path(42), "/api/apps_servcs/apps/42/status");
  EXPECT_EQ(events_path(7), "/api/apps_servcs/apps/7/events");
}

TEST(CloudProtocol, AppNameIsRequired) {
  EXPECT_EQ(app_name_of(json{{"name", "api"}}).value(), "api");
  for (const json& bad : {json(nullptr), json::array(), json{{"status", "active"}}, json{{"name", ""}},
                          json{{"name", 3}}, json{{"name", std::string(300, 'x')}}}) {
    auto r = app_name_of(bad);
    ASSERT_FALSE(r) << bad.dump();
    EXPECT_EQ(r.error().code, "invalid_cloud_report");
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  }
}

TEST(CloudProtocol, Iso8601) { EXPECT_EQ(iso8601_utc(at_epoch_s(1714564800)), "2024-05-01T12:00:00Z"); }

TEST(CloudProtocol, SignificantChangeIgnoresMetrics) {
  const json a = {{"name", "api"}, {"status", "active"}, {"pid", 10}, {"cpu_usage", 1.5}, {"memory_usage", 100}};
  json b = a;
  b["cpu_usage"] = 80.0;
  b["memory_usage"] = 5000;
  EXPECT_FALSE(significant_change(a, b));
  b["pid"] = 11;
  EXPECT_TRUE(significant_change(a, b));
  json c = a;
  c["status"] = "failed";
  EXPECT_TRUE(significant_change(a, c));
  json d = a;
  d["reason"] = "exited with status 1";
  EXPECT_TRUE(significant_change(a, d));
  EXPECT_TRUE(significant_change(json(nullptr), a));
}

TEST(CloudProtocol, CreateBody) {
  const json body = create_body(json{{"name", "api"}, {"status", "active"}, {"app_type", "nodejs"}}, "web-1");
  EXPECT_EQ(body["name"], "api");
  EXPECT_EQ(body["server"], "web-1");
  EXPECT_EQ(body["status"], "active");
  EXPECT_EQ(body["app_type"], "nodejs");
  EXPECT_EQ(body["description"], "api (managed by siax-agent)");
  EXPECT_TRUE(body["agent"].get<std::string>().starts_with("siax-agent/"));
}

TEST(CloudProtocol, StatusBodyFromTheAgentsStatusJson) {
  const auto now = at_epoch_s(1714564800);
  const json state = {{"name", "api"},
                      {"status", "active"},
                      {"pid", 4242},
                      {"systemd_status", "active (running)"},
                      {"restart_count", 2},
                      {"memory_usage", 123456},
                      {"cpu_usage", 3.5},
                      {"since_usec", std::uint64_t{1714564800ULL - 90} * 1'000'000ULL},
                      {"unit", "siax-app-api.service"}};
  const json event = {{"name", "api"}, {"type", "restarted"}};
  const json body = status_body(state, "web-1", now, event);
  const json want = {{"name", "api"},
                     {"server", "web-1"},
                     {"status", "active"},
                     {"pid", 4242},
                     {"cpu_usage", 3.5},
                     {"memory_usage", 123456},
                     {"systemd_status", "active (running)"},
                     {"restart_count", 2},
                     {"uptime_seconds", 90},
                     {"reason", nullptr},
                     {"last_updated", "2024-05-01T12:00:00Z"},
                     {"last_event", event}};
  EXPECT_EQ(body, want) << body.dump();
}

TEST(CloudProtocol, StatusBodyOfAFailedApp) {
  const json state = {{"name", "api"}, {"status", "failed"}, {"pid", nullptr},
                      {"failure", "failed: exited with status 1 (exit-code)"}, {"since_usec", 5}};
  const json body = status_body(state, "s", at_epoch_s(100), nullptr);
  EXPECT_EQ(body["reason"], "failed: exited with status 1 (exit-code)");
  EXPECT_TRUE(body["uptime_seconds"].is_null());
  EXPECT_TRUE(body["pid"].is_null());
  EXPECT_TRUE(body["last_event"].is_null());
}

TEST(CloudProtocol, EmptyReasonIsNull) {
  const auto now = at_epoch_s(100);
  EXPECT_TRUE(status_body(json{{"name", "a"}, {"reason", ""}}, "s", now, nullptr)["reason"].is_null());
  EXPECT_EQ(status_body(json{{"name", "a"}, {"reason", ""}, {"failure", "boom"}}, "s", now, nullptr)["reason"], "boom");
  EXPECT_EQ(status_body(json{{"name", "a"}, {"reason", "why"}, {"failure", "boom"}}, "s", now, nullptr)["reason"], "why");
}

TEST(CloudProtocol, EventBodyAddsServer) {
  const json body = event_body(json{{"name", "api"}, {"type", "crashed"}, {"at", "x"}}, "web-1");
  EXPECT_EQ(body, (json{{"name", "api"}, {"type", "crashed"}, {"at", "x"}, {"server", "web-1"}}));
}

TEST(CloudProtocol, LookupMatchesNameAndServerExactly) {
  const std::string body = R"([
    {"id": 5, "name": "api", "server": "web-2"},
    {"id": 6, "name": "api-2", "server": "web-1"},
    {"id": 7, "name": "API", "server": "web-1"},
    {"id": 9, "name": "api", "server": "web-1"}
  ])";
  EXPECT_EQ(parse_lookup(body, "api", "web-1").value(), std::optional<std::int64_t>(9));
  EXPECT_EQ(parse_lookup(body, "worker", "web-1").value(), std::nullopt);
}

TEST(CloudProtocol, LookupAcceptsEnvelopesAndOtherFieldNames) {
  EXPECT_EQ(parse_lookup(R"({"success":true,"data":[{"id":"12","app_name":"api","server_id":"s"}]})", "api", "s")
                .value(),
            std::optional<std::int64_t>(12));
  EXPECT_EQ(parse_lookup(R"({"data":{"id":3,"name":"api","server":"s"}})", "api", "s").value(),
            std::optional<std::int64_t>(3));
  EXPECT_EQ(parse_lookup(R"({"apps":[{"id":4,"name":"api","server":"s"}]})", "api", "s").value(),
            std::optional<std::int64_t>(4));
  EXPECT_EQ(parse_lookup(R"({"id":8,"name":"api","server":"s"})", "api", "s").value(),
            std::optional<std::int64_t>(8));
  EXPECT_EQ(parse_lookup(R"({"success":true,"data":null})", "api", "s").value(), std::nullopt);
  EXPECT_EQ(parse_lookup("[]", "api", "s").value(), std::nullopt);
}

TEST(CloudProtocol, LookupPicksTheSmallestIdAmongDuplicates) {
  const std::string body = R"([{"id":30,"name":"a","server":"s"},{"id":12,"name":"a","server":"s"},
                              {"id":20,"name":"a","server":"s"}])";
  EXPECT_EQ(parse_lookup(body, "a", "s").value(), std::optional<std::int64_t>(12));
}

TEST(CloudProtocol, LookupIgnoresRecordsWithoutUsableIds) {
  const std::string body = R"([{"id":-1,"name":"a","server":"s"},{"id":"x1","name":"a","server":"s"},
                              {"name":"a","server":"s"},{"id":0,"name":"a","server":"s"}])";
  EXPECT_EQ(parse_lookup(body, "a", "s").value(), std::nullopt);
}

TEST(CloudProtocol, LookupRefusesWhatItDoesNotUnderstand) {
  for (const char* body : {"not json", "\"text\"", "42", R"({"error":"nope"})"}) {
    auto r = parse_lookup(body, "a", "s");
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, "cloud_reply_invalid");
  }
}

TEST(CloudProtocol, CreatedId) {
  EXPECT_EQ(parse_created_id(R"({"id":42})"), std::optional<std::int64_t>(42));
  EXPECT_EQ(parse_created_id(R"({"success":true,"data":{"id":43,"name":"a"}})"), std::optional<std::int64_t>(43));
  EXPECT_EQ(parse_created_id(R"({"app_id":"44"})"), std::optional<std::int64_t>(44));
  EXPECT_EQ(parse_created_id(R"({"success":true})"), std::nullopt);
  EXPECT_EQ(parse_created_id("created"), std::nullopt);
  EXPECT_EQ(parse_created_id(R"({"id":99999999999999999999})"), std::nullopt);
}

}  // namespace
}  // namespace siax::cloud
