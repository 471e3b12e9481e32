#include "procscan/process_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace siax::procscan {
namespace {

core::ProcessInfo sample() {
  core::ProcessInfo p;
  p.pid = 4321;
  p.ppid = 1;
  p.uid = 998;
  p.user = "siaxapp";
  p.comm = "node";
  p.cmdline = {"node", "/srv/orders/server.js", "--port", "8000"};
  p.exe = "/usr/bin/node";
  p.cwd = "/srv/orders";
  p.state = 'S';
  p.start_time_usec = 1'700'000'000'123'456;  // 2023-11-14T22:13:20.123456Z
  p.cpu_ticks = 1234;
  p.cpu_percent = 12.345;
  p.rss_bytes = 52'428'800;
  p.unit = "siax-app-orders.service";
  p.cgroup = "/system.slice/siax-app-orders.service";
  p.listen_ports = {3000, 8000};
  p.kind = core::ProcessKind::Node;
  return p;
}

TEST(ProcessJson, AllFields) {
  auto expected = nlohmann::json::parse(R"({
    "pid": 4321, "ppid": 1, "user": "siaxapp", "uid": 998, "name": "node",
    "cmdline": ["node", "/srv/orders/server.js", "--port", "8000"],
    "command": "node /srv/orders/server.js --port 8000",
    "exe": "/usr/bin/node", "cwd": "/srv/orders", "state": "S",
    "started_at": "2023-11-14T22:13:20Z", "cpu_percent": 12.3, "memory_bytes": 52428800,
    "unit": "siax-app-orders.service", "ports": [3000, 8000], "kind": "node"
  })");
  EXPECT_EQ(to_json(sample()), expected);
}

TEST(ProcessJson, RoundsCpuAndHandlesEmptyValues) {
  core::ProcessInfo p;
  p.cpu_percent = 0.05;
  auto j = to_json(p);
  EXPECT_DOUBLE_EQ(j["cpu_percent"].get<double>(), 0.1);
  EXPECT_TRUE(j["started_at"].is_null());
  EXPECT_EQ(j["cmdline"], nlohmann::json::array());
  EXPECT_EQ(j["ports"], nlohmann::json::array());
  EXPECT_EQ(j["command"], "");
  EXPECT_EQ(j["kind"], "other");
  EXPECT_EQ(j["state"], "?");
}

TEST(ProcessJson, InvalidUtf8IsReplacedSoDumpNeverThrows) {
  auto p = sample();
  p.cmdline = {"node", std::string("caf\xE9.js"), "ok-\xC3\xA9"};
  p.comm = std::string("bad\xFF");
  auto j = to_json(p);
  std::string dumped;
  ASSERT_NO_THROW(dumped = j.dump());
  EXPECT_EQ(j["cmdline"][1], "caf\xEF\xBF\xBD.js");
  EXPECT_EQ(j["cmdline"][2], "ok-\xC3\xA9");  // valid UTF-8 is kept
  EXPECT_EQ(j["name"], "bad\xEF\xBF\xBD");
  EXPECT_EQ(j["command"], "node caf\xEF\xBF\xBD.js ok-\xC3\xA9");
}

TEST(ProcessJson, Utf8Sanitizer) {
  EXPECT_EQ(sanitize_utf8("plain"), "plain");
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x9A\x80"), "\xF0\x9F\x9A\x80");             // U+1F680
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");             // overlong '/'
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitize_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");             // truncated
}

TEST(ProcessJson, Iso8601) {
  EXPECT_EQ(format_utc_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc_iso8601(1'700'000'000'999'999), "2023-11-14T22:13:20Z");
  EXPECT_EQ(format_utc_iso8601(951'782'400'000'000), "2000-02-29T00:00:00Z");
}

TEST(ProcessJson, Array) {
  auto j = to_json(std::vector<core::ProcessInfo>{sample(), sample()});
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["pid"], 4321);
}

}  // namespace
}  // namespace siax::procscan
