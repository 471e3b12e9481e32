// Tests for monitor/health_json.h: defaults, round trip, and every validation error.
#include "monitor/health_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace siax::monitor {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(HealthJson, EmptyObjectGivesTheDefaults) {
  const auto c = parse_health_check(json::object());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(*c, core::HealthCheck{});
}

TEST(HealthJson, AllFieldsAndRoundTrip) {
  const json body = {{"port", 3000},        {"path", "/health?deep=1"}, {"expected_status", 204},
                     {"interval_ms", 5000}, {"timeout_ms", 1000},       {"failures_before_unhealthy", 2},
                     {"restart_when_unhealthy", true}, {"host", "::1"}};
  const auto c = parse_health_check(body);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 3000);
  EXPECT_EQ(c->path, "/health?deep=1");
  EXPECT_EQ(c->expected_status, 204u);
  EXPECT_EQ(c->interval.count(), 5000);
  EXPECT_EQ(c->timeout.count(), 1000);
  EXPECT_EQ(c->failures_before_unhealthy, 2u);
  EXPECT_TRUE(c->restart_when_unhealthy);
  EXPECT_EQ(c->host, "::1");
  const auto again = parse_health_check(to_json(*c));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *c);
}

TEST(HealthJson, Url) {
  const auto c = parse_health_check(json{{"url", "http://localhost:8080/ready"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->path, "/ready");
  const auto v6 = parse_health_check(json{{"url", "http://[::1]:81"}});
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 81);
  EXPECT_EQ(v6->path, "/");
}

struct BadCase {
  const char* name;
  json body;
  const char* code;
  const char* field;
  const char* says;
};

class HealthJsonInvalid : public ::testing::TestWithParam<BadCase> {};

TEST_P(HealthJsonInvalid, IsRefusedWithAClearError) {
  const BadCase& c = GetParam();
  const auto r = parse_health_check(c.body);
  ASSERT_FALSE(r) << c.name;
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_EQ(r.error().code, c.code);
  ASSERT_NE(r.error().detail("field"), nullptr);
  EXPECT_EQ(*r.error().detail("field"), c.field);
  EXPECT_THAT(r.error().message, HasSubstr(c.says)) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, HealthJsonInvalid,
    ::testing::Values(
        BadCase{"not an object", json::array(), "invalid_health_check", "health_check", "must be an object"},
        BadCase{"unknown field", json{{"intervl_ms", 5000}}, "unknown_field", "intervl_ms", "unknown field 'intervl_ms'"},
        BadCase{"remote host", json{{"host", "10.0.0.5"}}, "invalid_health_check", "host", "not a loopback address"},
        BadCase{"remote name", json{{"host", "example.com"}}, "invalid_health_check", "host", "not a loopback"},
        BadCase{"127 prefix trick", json{{"host", "127.0.0.1.evil.com"}}, "invalid_health_check", "host", "loopback"},
        BadCase{"remote url", json{{"url", "http://10.1.1.1/x"}}, "invalid_health_check", "url", "loopback"},
        BadCase{"https url", json{{"url", "https://127.0.0.1/"}}, "invalid_health_check", "url", "http://"},
        BadCase{"url and port", json{{"url", "http://127.0.0.1/"}, {"port", 1}}, "invalid_health_check", "url",
                "either url or host/port/path"},
        BadCase{"url bad port", json{{"url", "http://127.0.0.1:99999/"}}, "invalid_health_check", "url", "not a port"},
        BadCase{"relative path", json{{"path", "health"}}, "invalid_health_check", "path", "must start with '/'"},
        BadCase{"space in path", json{{"path", "/a b"}}, "invalid_health_check", "path", "no spaces"},
        BadCase{"CRLF in path", json{{"path", "/a\r\nX-Evil: 1"}}, "invalid_health_check", "path", "(CR, LF)"},
        BadCase{"path not a string", json{{"path", 5}}, "invalid_health_check", "path", "must be a string"},
        BadCase{"port too large", json{{"port", 70000}}, "invalid_health_check", "port", "between 0 and 65535"},
        BadCase{"port as string", json{{"port", "3000"}}, "invalid_health_check", "port", "must be an integer"},
        BadCase{"interval too short", json{{"interval_ms", 999}}, "invalid_health_check", "interval_ms",
                "between 1000 and 3600000"},
        BadCase{"interval too long", json{{"interval_ms", 3600001}}, "invalid_health_check", "interval_ms",
                "between 1000 and 3600000"},
        BadCase{"timeout equals interval", json{{"interval_ms", 2000}, {"timeout_ms", 2000}}, "invalid_health_check",
                "timeout_ms", "less than interval_ms"},
        BadCase{"default timeout above interval", json{{"interval_ms", 1000}}, "invalid_health_check", "timeout_ms",
                "less than interval_ms"},
        BadCase{"status 99", json{{"expected_status", 99}}, "invalid_health_check", "expected_status",
                "between 100 and 599"},
        BadCase{"status 600", json{{"expected_status", 600}}, "invalid_health_check", "expected_status",
                "between 100 and 599"},
        BadCase{"zero failures", json{{"failures_before_unhealthy", 0}}, "invalid_health_check",
                "failures_before_unhealthy", "between 1 and 100"},
        BadCase{"101 failures", json{{"failures_before_unhealthy", 101}}, "invalid_health_check",
                "failures_before_unhealthy", "between 1 and 100"},
        BadCase{"restart not bool", json{{"restart_when_unhealthy", "yes"}}, "invalid_health_check",
                "restart_when_unhealthy", "true or false"}),
    [](const ::testing::TestParamInfo<BadCase>& tp) {
      std::string n = tp.param.name;
      for (char& ch : n) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

TEST(HealthJson, LoopbackHosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("127.0.0"));
  EXPECT_FALSE(is_loopback_host("127.0.0.256"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("localhost.example.com"));
  EXPECT_FALSE(is_loopback_host(""));
}

}  // namespace
}  // namespace siax::monitor
