// Tests for core/systemctl_parser.h against text captured from a real systemd 252
// (tests/fixtures/systemctl, see its README.md) and against hostile input.
#include "core/systemctl_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace siax::core {
namespace {

const std::filesystem::path kDir = std::filesystem::path(SIAX_FIXTURES_DIR) / "systemctl";

std::string read_fixture(const std::string& name) {
  std::ifstream in(kDir / name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << (kDir / name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

UnitStatus show_ok(const std::string& name) {
  auto r = parse_systemctl_show(read_fixture(name));
  EXPECT_TRUE(r.has_value()) << name << ": " << (r ? "" : r.error().message);
  return r.value_or(UnitStatus{});
}

UnitStatus status_ok(const std::string& name) {
  auto r = parse_systemctl_status(read_fixture(name));
  EXPECT_TRUE(r.has_value()) << name << ": " << (r ? "" : r.error().message);
  return r.value_or(UnitStatus{});
}

constexpr std::uint64_t kSec = 1000000;

// ---------------------------------------------------------------------------------
// Every captured state, from both show and status.
// ---------------------------------------------------------------------------------

struct Expected {
  const char* stem;  ///< fixtures <stem>.show.txt and <stem>.status.txt
  UnitPhase phase;
  const char* unit;
  const char* load;
  const char* active;
  const char* sub;
  const char* show_result;    ///< status prints "(Result: ...)" only when not "success"
  const char* status_result;
  const char* show_file_state;
  const char* status_file_state;  ///< status prints none for masked / not-found units
  const char* show_description;
  const char* status_description;
  std::uint32_t main_pid;
  ExitCode code;
  int exit_status;
  std::uint32_t show_restarts;  ///< status does not print NRestarts
  std::uint64_t since_usec;
  const char* cgroup;
};

// Values read off the captured files (the PIDs are the container's).
const Expected kCases[] = {
    {"active-running", UnitPhase::Active, "siax-cap-web.service", "loaded", "active", "running", "success", "",
     "enabled", "enabled", "siax capture: Node.js HTTP server", "siax capture: Node.js HTTP server", 55,
     ExitCode::None, 0, 0, 1795711117 * kSec, "/system.slice/siax-cap-web.service"},
    {"inactive-dead", UnitPhase::Inactive, "siax-cap-idle.service", "loaded", "inactive", "dead", "success", "",
     "disabled", "disabled", "siax capture: never started", "siax capture: never started", 0, ExitCode::None, 0,
     0, 0, ""},
    {"failed-exit-code", UnitPhase::Failed, "siax-cap-exit1.service", "loaded", "failed", "failed", "exit-code",
     "exit-code", "disabled", "disabled", "siax capture: exits with status 1", "siax capture: exits with status 1",
     0, ExitCode::Exited, 1, 0, 1795711118 * kSec, ""},
    {"failed-sigkill", UnitPhase::Failed, "siax-cap-killed.service", "loaded", "failed", "failed", "signal",
     "signal", "disabled", "disabled", "siax capture: killed by SIGKILL", "siax capture: killed by SIGKILL", 0,
     ExitCode::Killed, 9, 0, 1795711126 * kSec, ""},
    {"failed-stop-timeout", UnitPhase::Failed, "siax-cap-stubborn.service", "loaded", "failed", "failed",
     "timeout", "timeout", "disabled", "disabled", "siax capture: ignores SIGTERM",
     "siax capture: ignores SIGTERM", 0, ExitCode::Killed, 9, 0, 1795711187 * kSec, ""},
    {"activating-auto-restart", UnitPhase::AutoRestart, "siax-cap-restart.service", "loaded", "activating",
     "auto-restart", "exit-code", "exit-code", "disabled", "disabled", "siax capture: crash loop waiting to restart",
     "siax capture: crash loop waiting to restart", 0, ExitCode::Exited, 1, 1, 1795711148 * kSec, ""},
    {"deactivating-stop-sigterm", UnitPhase::Deactivating, "siax-cap-stubborn.service", "loaded", "deactivating",
     "stop-sigterm", "success", "", "disabled", "disabled", "siax capture: ignores SIGTERM",
     "siax capture: ignores SIGTERM", 57, ExitCode::None, 0, 0, 1795711127 * kSec,
     "/system.slice/siax-cap-stubborn.service"},
    {"not-found", UnitPhase::NotFound, "siax-cap-missing.service", "not-found", "inactive", "dead", "success", "",
     "", "", "siax-cap-missing.service", "", 0, ExitCode::None, 0, 0, 0, ""},
    {"masked", UnitPhase::Inactive, "siax-cap-masked.service", "masked", "inactive", "dead", "success", "", "masked",
     "", "siax-cap-masked.service", "", 0, ExitCode::None, 0, 0, 0, ""},
};

class CapturedState : public ::testing::TestWithParam<Expected> {};

TEST_P(CapturedState, ShowParses) {
  const auto& e = GetParam();
  const auto st = show_ok(std::string(e.stem) + ".show.txt");
  EXPECT_EQ(st.phase(), e.phase) << to_string(st.phase());
  EXPECT_EQ(st.unit, e.unit);
  EXPECT_EQ(st.load_state, e.load);
  EXPECT_EQ(st.active_state, e.active);
  EXPECT_EQ(st.sub_state, e.sub);
  EXPECT_EQ(st.result, e.show_result);
  EXPECT_EQ(st.unit_file_state, e.show_file_state);
  EXPECT_EQ(st.description, e.show_description);
  EXPECT_EQ(st.main_pid, e.main_pid);
  EXPECT_EQ(st.exec_main_code, e.code) << to_string(st.exec_main_code);
  EXPECT_EQ(st.exec_main_status, e.exit_status);
  EXPECT_EQ(st.restart_count, e.show_restarts);
  EXPECT_EQ(st.state_change_usec, e.since_usec);
  EXPECT_EQ(st.control_group, e.cgroup);
  // The capture sandbox has no memory/cpu controllers: systemd prints [not set].
  EXPECT_FALSE(st.memory_current_bytes.has_value());
  EXPECT_FALSE(st.cpu_usage_nsec.has_value());
}

TEST_P(CapturedState, StatusParses) {
  const auto& e = GetParam();
  const auto st = status_ok(std::string(e.stem) + ".status.txt");
  EXPECT_EQ(st.phase(), e.phase) << to_string(st.phase());
  EXPECT_EQ(st.unit, e.unit);
  EXPECT_EQ(st.load_state, e.load);
  EXPECT_EQ(st.active_state, e.active);
  EXPECT_EQ(st.sub_state, e.sub);
  EXPECT_EQ(st.result, e.status_result);
  EXPECT_EQ(st.unit_file_state, e.status_file_state);
  EXPECT_EQ(st.description, e.status_description);
  EXPECT_EQ(st.main_pid, e.main_pid);
  EXPECT_EQ(st.exec_main_code, e.code) << to_string(st.exec_main_code);
  EXPECT_EQ(st.exec_main_status, e.exit_status);
  EXPECT_EQ(st.restart_count, 0u);
  EXPECT_EQ(st.state_change_usec, e.since_usec);
  EXPECT_EQ(st.control_group, e.cgroup);
  EXPECT_FALSE(st.memory_current_bytes.has_value());
  EXPECT_FALSE(st.cpu_usage_nsec.has_value());
}

TEST_P(CapturedState, ShowAndStatusAgreeOnSharedFields) {
  const auto& e = GetParam();
  const auto show = show_ok(std::string(e.stem) + ".show.txt");
  const auto status = status_ok(std::string(e.stem) + ".status.txt");
  EXPECT_EQ(show.phase(), status.phase());
  EXPECT_EQ(show.unit, status.unit);
  EXPECT_EQ(show.load_state, status.load_state);
  EXPECT_EQ(show.active_state, status.active_state);
  EXPECT_EQ(show.sub_state, status.sub_state);
  EXPECT_EQ(show.main_pid, status.main_pid);
  EXPECT_EQ(show.exec_main_code, status.exec_main_code);
  EXPECT_EQ(show.exec_main_status, status.exec_main_status);
  EXPECT_EQ(show.state_change_usec, status.state_change_usec);
  EXPECT_EQ(show.control_group, status.control_group);
  if (!status.result.empty()) {
    EXPECT_EQ(show.result, status.result);
  }
  if (status.result.empty()) {
    EXPECT_EQ(show.result, "success");
  }
  if (!status.unit_file_state.empty()) {
    EXPECT_EQ(show.unit_file_state, status.unit_file_state);
  }
  if (!status.description.empty()) {
    EXPECT_EQ(show.description, status.description);
  }
  EXPECT_EQ(show.failure_summary(), status.failure_summary());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CapturedState, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Expected>& param_info) {
                           std::string name = param_info.param.stem;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(SystemctlFixtures, EveryCapturedFileIsCoveredByATest) {
  std::set<std::string> covered;
  for (const auto& e : kCases) {
    covered.insert(std::string(e.stem) + ".show.txt");
    covered.insert(std::string(e.stem) + ".status.txt");
  }
  for (const char* extra : {"active-running-c-locale.status.txt", "active-running-with-logs.status.txt",
                            "failed-exit-code-with-logs.status.txt", "active-running-us-utc.show.txt",
                            "active-running-us-utc.status.txt", "active-running-tz-berlin.show.txt"}) {
    covered.insert(extra);
  }
  std::size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".txt") continue;
    ++seen;
    EXPECT_TRUE(covered.count(name)) << name << " has no test";
  }
  EXPECT_EQ(seen, covered.size());
}

TEST(SystemctlFixtures, FailureSummariesOfCapturedFailures) {
  EXPECT_EQ(show_ok("failed-exit-code.show.txt").failure_summary(), "exited with status 1 (exit-code)");
  EXPECT_EQ(status_ok("failed-exit-code.status.txt").failure_summary(), "exited with status 1 (exit-code)");
  EXPECT_EQ(show_ok("failed-sigkill.show.txt").failure_summary(), "killed by signal 9 (signal)");
  EXPECT_EQ(status_ok("failed-sigkill.status.txt").failure_summary(), "killed by signal 9 (signal)");
  EXPECT_EQ(show_ok("failed-stop-timeout.show.txt").failure_summary(), "timed out (killed by signal 9)");
  EXPECT_EQ(show_ok("activating-auto-restart.show.txt").failure_summary(), "exited with status 1 (exit-code)");
}

TEST(SystemctlFixtures, JournalLinesAfterTheBlankLineAreIgnored) {
  const auto with_logs = read_fixture("failed-exit-code-with-logs.status.txt");
  ASSERT_NE(with_logs.find("Main process exited, code=exited"), std::string::npos);  // really has log lines
  const auto a = status_ok("failed-exit-code-with-logs.status.txt");
  const auto b = status_ok("failed-exit-code.status.txt");
  EXPECT_EQ(a.unit, b.unit);
  EXPECT_EQ(a.active_state, b.active_state);
  EXPECT_EQ(a.sub_state, b.sub_state);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.exec_main_code, b.exec_main_code);
  EXPECT_EQ(a.exec_main_status, b.exec_main_status);
  EXPECT_EQ(a.state_change_usec, b.state_change_usec);

  const auto running = status_ok("active-running-with-logs.status.txt");
  EXPECT_EQ(running.phase(), UnitPhase::Active);
  EXPECT_EQ(running.main_pid, 55u);
}

TEST(SystemctlFixtures, AsciiBulletsAndTreeOfTheCLocale) {
  const auto raw = read_fixture("active-running-c-locale.status.txt");
  ASSERT_EQ(raw.rfind("* ", 0), 0u);
  const auto st = status_ok("active-running-c-locale.status.txt");
  EXPECT_EQ(st.unit, "siax-cap-web.service");
  EXPECT_EQ(st.phase(), UnitPhase::Active);
  EXPECT_EQ(st.main_pid, 55u);
  EXPECT_EQ(st.control_group, "/system.slice/siax-cap-web.service");
}

TEST(SystemctlFixtures, MicrosecondTimestampsInUtc) {
  const std::uint64_t expected = 1795711117 * kSec + 978840;
  EXPECT_EQ(show_ok("active-running-us-utc.show.txt").state_change_usec, expected);
  EXPECT_EQ(status_ok("active-running-us-utc.status.txt").state_change_usec, expected);
}

TEST(SystemctlFixtures, ZoneNamesOtherThanUtcLeaveTheTimestampUnknown) {
  const auto st = show_ok("active-running-tz-berlin.show.txt");
  EXPECT_EQ(st.phase(), UnitPhase::Active);
  EXPECT_EQ(st.main_pid, 55u);
  EXPECT_EQ(st.state_change_usec, 0u);  // "17:38:37 CET": no zone database here, and no guessing
}

// ---------------------------------------------------------------------------------
// systemctl show: values
// ---------------------------------------------------------------------------------

constexpr const char* kMinimalShow = "LoadState=loaded\nActiveState=active\nSubState=running\n";

TEST(ParseShow, MinimalInputWithDefaults) {
  auto r = parse_systemctl_show(kMinimalShow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->phase(), UnitPhase::Active);
  EXPECT_EQ(r->unit, "");
  EXPECT_EQ(r->main_pid, 0u);
  EXPECT_EQ(r->state_change_usec, 0u);
  EXPECT_FALSE(r->memory_current_bytes);
}

TEST(ParseShow, MissingRequiredPropertiesAreInvalidInput) {
  for (const char* text : {"", "\n\n", "ActiveState=active\n", "LoadState=loaded\n", "Id=x.service\nSubState=dead",
                           "hello world", "LoadState\nActiveState\n"}) {
    auto r = parse_systemctl_show(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(r.error().code, "systemctl_show_missing_property");
  }
  auto r = parse_systemctl_show("LoadState=loaded\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("ActiveState"), std::string::npos) << r.error().message;
}

TEST(ParseShow, MetricsPresentAndAbsent) {
  const std::string base = kMinimalShow;
  auto r = parse_systemctl_show(base + "MemoryCurrent=12345678\nCPUUsageNSec=987654321\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->memory_current_bytes, 12345678u);
  EXPECT_EQ(r->cpu_usage_nsec, 987654321u);

  for (const char* absent : {"[not set]", "18446744073709551615", "infinity", "", "[no data]"}) {
    auto a = parse_systemctl_show(base + "MemoryCurrent=" + absent + "\nCPUUsageNSec=" + absent + "\n");
    ASSERT_TRUE(a) << absent;
    EXPECT_FALSE(a->memory_current_bytes) << absent;
    EXPECT_FALSE(a->cpu_usage_nsec) << absent;
  }
  auto bad = parse_systemctl_show(base + "MemoryCurrent=18446744073709551616\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "systemctl_show_bad_value");
  EXPECT_FALSE(parse_systemctl_show(base + "CPUUsageNSec=12ms\n"));
}

TEST(ParseShow, ExecMainCodeNumbersAndWords) {
  const std::string base = kMinimalShow;
  const std::pair<const char*, ExitCode> cases[] = {
      {"0", ExitCode::None},      {"1", ExitCode::Exited},      {"2", ExitCode::Killed},
      {"3", ExitCode::Dumped},    {"4", ExitCode::None},        {"exited", ExitCode::Exited},
      {"killed", ExitCode::Killed}, {"dumped", ExitCode::Dumped}, {"junk", ExitCode::None},
  };
  for (const auto& [text, code] : cases) {
    auto r = parse_systemctl_show(base + "ExecMainCode=" + text + "\nExecMainStatus=11\n");
    ASSERT_TRUE(r) << text;
    EXPECT_EQ(r->exec_main_code, code) << text;
    EXPECT_EQ(r->exec_main_status, 11);
  }
}

TEST(ParseShow, MalformedNumbersAreErrorsNamingTheKey) {
  const std::string base = kMinimalShow;
  for (const char* line : {"MainPID=abc", "MainPID=-1", "MainPID=4294967296", "MainPID=12 ", "NRestarts=1.5",
                           "ExecMainStatus=1/FAILURE", "MainPID=0x10"}) {
    auto r = parse_systemctl_show(base + line + "\n");
    if (std::string(line) == "MainPID=12 ") {  // trailing blanks are trimmed
      ASSERT_TRUE(r);
      EXPECT_EQ(r->main_pid, 12u);
      continue;
    }
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(r.error().code, "systemctl_show_bad_value");
    const std::string key(line, std::string_view(line).find('='));
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
  auto neg = parse_systemctl_show(base + "ExecMainStatus=-1\n");
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->exec_main_status, -1);
}

TEST(ParseShow, StatesMustBeStateWords) {
  for (const char* text : {"LoadState=\nActiveState=active\n", "LoadState=loaded\nActiveState=Active Running\n",
                           "LoadState=loaded\nActiveState=active\nSubState=run ning\n",
                           "LoadState=loaded\nActiveState=active\nResult=<script>\n"}) {
    auto r = parse_systemctl_show(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "systemctl_show_bad_value");
  }
}

TEST(ParseShow, TimestampFollowsTheActiveStateLikeStatusDoes) {
  const std::string ts =
      "ActiveEnterTimestamp=Thu 2026-11-26 16:00:01 UTC\n"
      "ActiveExitTimestamp=Thu 2026-11-26 16:00:02 UTC\n"
      "InactiveEnterTimestamp=Thu 2026-11-26 16:00:03 UTC\n"
      "InactiveExitTimestamp=Thu 2026-11-26 16:00:04 UTC\n"
      "StateChangeTimestamp=Thu 2026-11-26 16:00:05 UTC\n";
  const std::uint64_t t0 = 1795708800 * kSec;  // 2026-11-26 16:00:00 UTC
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"active", t0 + 1 * kSec},   {"reloading", t0 + 1 * kSec},    {"deactivating", t0 + 2 * kSec},
      {"inactive", t0 + 3 * kSec}, {"failed", t0 + 3 * kSec},       {"activating", t0 + 4 * kSec},
  };
  for (const auto& [active, expected] : cases) {
    auto r = parse_systemctl_show(ts + "LoadState=loaded\nActiveState=" + active + "\n");
    ASSERT_TRUE(r) << active;
    EXPECT_EQ(r->state_change_usec, expected) << active;
  }
  // Falls back to StateChangeTimestamp, then to 0.
  auto fb = parse_systemctl_show(
      "LoadState=loaded\nActiveState=active\nActiveEnterTimestamp=\n"
      "StateChangeTimestamp=Thu 2026-11-26 16:00:05 UTC\n");
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->state_change_usec, t0 + 5 * kSec);
  auto unix_form = parse_systemctl_show("LoadState=loaded\nActiveState=active\nActiveEnterTimestamp=@1795708800\n");
  ASSERT_TRUE(unix_form);
  EXPECT_EQ(unix_form->state_change_usec, t0);
  auto none = parse_systemctl_show("LoadState=loaded\nActiveState=active\nActiveEnterTimestamp=yesterday\n");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->state_change_usec, 0u);
}

TEST(ParseShow, OnlyTheFirstUnitOfSeveralIsRead) {
  auto r = parse_systemctl_show(
      "Id=a.service\nLoadState=loaded\nActiveState=active\n\nId=b.service\nLoadState=not-found\n"
      "ActiveState=inactive\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unit, "a.service");
  EXPECT_EQ(r->phase(), UnitPhase::Active);
  // Leading blank lines do not end the block.
  auto lead = parse_systemctl_show("\n\nLoadState=loaded\nActiveState=failed\n");
  ASSERT_TRUE(lead);
  EXPECT_EQ(lead->phase(), UnitPhase::Failed);
}

TEST(ParseShow, CrLfLineEndingsAndValuesWithEquals) {
  auto r = parse_systemctl_show(
      "Id=x.service\r\nDescription=a=b c\r\nLoadState=loaded\r\nActiveState=active\r\nSubState=running\r\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->unit, "x.service");
  EXPECT_EQ(r->description, "a=b c");
  EXPECT_EQ(r->sub_state, "running");
}

TEST(ParseShow, UnknownKeysAndJunkLinesAreIgnored) {
  auto r = parse_systemctl_show(
      "=nokey\nno equals sign here\nFutureProperty=whatever\nLoadState=loaded\nActiveState=inactive\n"
      "SubState=dead\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->phase(), UnitPhase::Inactive);
}

// ---------------------------------------------------------------------------------
// systemctl status: lines the sandbox could not produce (it has no memory/cpu/tasks
// accounting), shaped after systemd 252's print_status_info, and other variants.
// ---------------------------------------------------------------------------------

std::string status_text(const std::string& header, const std::string& body) {
  return header + "\n" + body;
}

const std::string kLoaded = "     Loaded: loaded (/etc/systemd/system/x.service; enabled; preset: enabled)\n";
const std::string kActive = "     Active: active (running) since Thu 2026-11-26 16:00:00 UTC; 3s ago\n";

TEST(ParseStatus, AccountingLines) {
  auto r = parse_systemctl_status(status_text("● x.service - X", kLoaded + kActive +
                                                                     "   Main PID: 123 (node)\n"
                                                                     "      Tasks: 7 (limit: 4915)\n"
                                                                     "     Memory: 12.3M\n"
                                                                     "        CPU: 1min 2.345s\n"
                                                                     "     CGroup: /system.slice/x.service\n"
                                                                     "             └─123 /usr/bin/node app.js\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->main_pid, 123u);
  EXPECT_EQ(r->memory_current_bytes, 12897484u);  // 12.3 * 2^20, truncated
  EXPECT_EQ(r->cpu_usage_nsec, 62345000000u);
  EXPECT_EQ(r->control_group, "/system.slice/x.service");
  EXPECT_EQ(r->state_change_usec, 1795708800 * kSec);
}

TEST(ParseStatus, MemoryAndCpuForms) {
  const std::pair<const char*, std::optional<std::uint64_t>> memory[] = {
      {"512B", 512},        {"4.0K", 4096},   {"1.5G (peak: 2.0G)", 1610612736}, {"2M", 2097152},
      {"12.3MiB", 12897484}, {"lots", std::nullopt}, {"", std::nullopt},
  };
  for (const auto& [value, expected] : memory) {
    auto r = parse_systemctl_status("● x.service\n" + kLoaded + kActive + "     Memory: " + value + "\n");
    ASSERT_TRUE(r) << value;
    EXPECT_EQ(r->memory_current_bytes, expected) << value;
  }
  const std::pair<const char*, std::optional<std::uint64_t>> cpu[] = {
      {"123ms", 123000000},      {"1.234s", 1234000000},     {"2h 3min", 7380000000000},
      {"456us", 456000},         {"1d 2h", 93600000000000},  {"7\xc2\xb5s", 7000},
      {"soon", std::nullopt},    {"12", std::nullopt},       {"99999999999999y", std::nullopt},
  };
  for (const auto& [value, expected] : cpu) {
    auto r = parse_systemctl_status("● x.service\n" + kLoaded + kActive + "        CPU: " + value + "\n");
    ASSERT_TRUE(r) << value;
    EXPECT_EQ(r->cpu_usage_nsec, expected) << value;
  }
}

TEST(ParseStatus, BulletsOfEveryStateAndNone) {
  for (const char* bullet : {"●", "○", "×", "↻", "*", "x", ""}) {
    const std::string header = std::string(bullet) + (*bullet ? " " : "") + "x.service - Some App";
    auto r = parse_systemctl_status(header + "\n" + kLoaded + kActive);
    ASSERT_TRUE(r) << header << ": " << r.error().message;
    EXPECT_EQ(r->unit, "x.service");
    EXPECT_EQ(r->description, "Some App");
  }
}

TEST(ParseStatus, HeaderVariants) {
  auto plain = parse_systemctl_status("● app@1.service\n" + kLoaded + kActive);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->unit, "app@1.service");
  EXPECT_EQ(plain->description, "");
  auto dashes = parse_systemctl_status("● x.service - A - B\n" + kLoaded + kActive);
  ASSERT_TRUE(dashes);
  EXPECT_EQ(dashes->description, "A - B");
  auto warned = parse_systemctl_status(
      "Warning: The unit file, source configuration file or drop-ins of x.service changed on disk. Run "
      "'systemctl daemon-reload' to reload units.\n● x.service - X\n" +
      kLoaded + kActive);
  ASSERT_TRUE(warned) << warned.error().message;
  EXPECT_EQ(warned->unit, "x.service");
}

TEST(ParseStatus, MainPidForms) {
  struct Case {
    const char* value;
    std::uint32_t pid;
    ExitCode code;
    int status;
  };
  const Case cases[] = {
      {"123 (node)", 123, ExitCode::None, 0},
      {"123", 123, ExitCode::None, 0},
      {"123 (my (odd) name)", 123, ExitCode::None, 0},
      {"57 (sleep); Control PID: 60 (kill)", 57, ExitCode::None, 0},
      {"64 (code=exited, status=1/FAILURE)", 0, ExitCode::Exited, 1},
      {"64 (code=exited, status=0/SUCCESS)", 0, ExitCode::Exited, 0},
      {"64 (code=exited, status=203/EXEC)", 0, ExitCode::Exited, 203},
      {"64 (code=exited, status=42)", 0, ExitCode::Exited, 42},
      {"64 (code=killed, signal=KILL)", 0, ExitCode::Killed, 9},
      {"64 (code=killed, signal=TERM)", 0, ExitCode::Killed, 15},
      {"64 (code=dumped, signal=SEGV)", 0, ExitCode::Dumped, 11},
      {"64 (code=dumped, signal=ABRT)", 0, ExitCode::Dumped, 6},
      {"64 (code=killed, signal=RTMIN+2)", 0, ExitCode::Killed, 36},
  };
  for (const auto& c : cases) {
    auto r = parse_systemctl_status("● x.service\n" + kLoaded + kActive + "   Main PID: " + c.value + "\n");
    ASSERT_TRUE(r) << c.value << ": " << r.error().message;
    EXPECT_EQ(r->main_pid, c.pid) << c.value;
    EXPECT_EQ(r->exec_main_code, c.code) << c.value;
    EXPECT_EQ(r->exec_main_status, c.status) << c.value;
  }
  for (const char* bad : {"abc", "0 (node)", "99999999999 (x)", "64 (code=weird, status=1)",
                          "64 (code=exited, status=x/FAILURE)", "64 (code=killed, signal=NOPE)", "64 (code=",
                          "64 node"}) {
    auto r = parse_systemctl_status("● x.service\n" + kLoaded + kActive + "   Main PID: " + bad + "\n");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "systemctl_status_bad_value") << bad;
  }
}

TEST(ParseStatus, ProcessLinesDoNotTouchTheMainProcess) {
  auto r = parse_systemctl_status("× x.service\n" + kLoaded +
                                  "     Active: failed (Result: exit-code) since Thu 2026-11-26 16:00:00 UTC; 1s ago\n"
                                  "    Process: 10 ExecStartPre=/bin/false (code=exited, status=1/FAILURE)\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exec_main_code, ExitCode::None);
  EXPECT_EQ(r->result, "exit-code");
  EXPECT_EQ(r->phase(), UnitPhase::Failed);
}

TEST(ParseStatus, LoadedVariants) {
  const std::pair<const char*, const char*> cases[] = {
      {"loaded (/lib/systemd/system/x.service; enabled; vendor preset: enabled)", "enabled"},
      {"loaded (/lib/systemd/system/x.service; static)", "static"},
      {"loaded (/etc/systemd/system/x.service; enabled-runtime; preset: disabled)", "enabled-runtime"},
      {"loaded (/lib/systemd/system/x.service)", ""},
      {"loaded (/run/systemd/generator/x.service; generated)", "generated"},
      {"loaded", ""},
      {"bad-setting (Reason: Unit x.service has a bad unit file setting.)", ""},
  };
  for (const auto& [value, file_state] : cases) {
    auto r = parse_systemctl_status(std::string("● x.service\n     Loaded: ") + value + "\n" + kActive);
    ASSERT_TRUE(r) << value << ": " << r.error().message;
    EXPECT_EQ(r->unit_file_state, file_state) << value;
  }
}

TEST(ParseStatus, ActiveVariants) {
  struct Case {
    const char* value;
    const char* active;
    const char* sub;
    const char* result;
    UnitPhase phase;
  };
  const Case cases[] = {
      {"active (running) since Thu 2026-11-26 16:00:00 UTC; 3s ago", "active", "running", "", UnitPhase::Active},
      {"active (exited) since Thu 2026-11-26 16:00:00 UTC; 3s ago", "active", "exited", "", UnitPhase::Active},
      {"activating (auto-restart) (Result: exit-code) since Thu 2026-11-26 16:00:00 UTC; 1s ago", "activating",
       "auto-restart", "exit-code", UnitPhase::AutoRestart},
      {"activating (start) since Thu 2026-11-26 16:00:00 UTC; 1s ago", "activating", "start", "",
       UnitPhase::Activating},
      {"failed (Result: exit-code) since Thu 2026-11-26 16:00:00 UTC; 1s ago", "failed", "failed", "exit-code",
       UnitPhase::Failed},
      {"failed (Result: oom-kill)", "failed", "failed", "oom-kill", UnitPhase::Failed},
      {"inactive (dead)", "inactive", "dead", "", UnitPhase::Inactive},
      {"inactive (dead) since Thu 2026-11-26 16:00:00 UTC; 1s ago", "inactive", "dead", "", UnitPhase::Inactive},
      {"deactivating (stop-sigterm) since Thu 2026-11-26 16:00:00 UTC; 1s ago", "deactivating", "stop-sigterm", "",
       UnitPhase::Deactivating},
      {"reloading (reload) since Thu 2026-11-26 16:00:00 UTC; 1s ago", "reloading", "reload", "",
       UnitPhase::Reloading},
      {"maintenance", "maintenance", "maintenance", "", UnitPhase::Unknown},
  };
  for (const auto& c : cases) {
    auto r = parse_systemctl_status("● x.service\n" + kLoaded + "     Active: " + c.value + "\n");
    ASSERT_TRUE(r) << c.value << ": " << r.error().message;
    EXPECT_EQ(r->active_state, c.active) << c.value;
    EXPECT_EQ(r->sub_state, c.sub) << c.value;
    EXPECT_EQ(r->result, c.result) << c.value;
    EXPECT_EQ(r->phase(), c.phase) << c.value;
  }
  for (const char* bad : {"", "Active!", "active (Running Now)", "failed (Result: <b>)"}) {
    auto r = parse_systemctl_status("● x.service\n" + kLoaded + "     Active: " + bad + "\n");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "systemctl_status_bad_value") << bad;
  }
}

TEST(ParseStatus, NotFoundLoadedButFailed) {
  // A unit whose file was deleted after it failed: still in memory, not-found, failed.
  auto r = parse_systemctl_status(
      "× gone.service\n     Loaded: not-found (Reason: Unit gone.service not found.)\n"
      "     Active: failed (Result: exit-code) since Thu 2026-11-26 16:00:00 UTC; 1min ago\n"
      "   Main PID: 9 (code=exited, status=2/INVALIDARGUMENT)\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->load_state, "not-found");
  EXPECT_EQ(r->phase(), UnitPhase::Failed);
  EXPECT_EQ(r->exec_main_status, 2);
}

TEST(ParseStatus, ContinuationLinesAreNotFields) {
  auto r = parse_systemctl_status("● x.service - X\n" + kLoaded +
                                  "    Drop-In: /etc/systemd/system/x.service.d\n"
                                  "             └─override.conf\n" +
                                  kActive +
                                  "       Docs: man:x(8)\n"
                                  "             https://example.org/docs\n"
                                  "   Main PID: 123 (node)\n"
                                  "     CGroup: /system.slice/x.service\n"
                                  "             ├─123 /usr/bin/node -e Active: failed (Result: timeout)\n"
                                  "             └─124 Main PID: 1 (code=killed, signal=KILL)\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->active_state, "active");
  EXPECT_EQ(r->main_pid, 123u);
  EXPECT_EQ(r->exec_main_code, ExitCode::None);
}

TEST(ParseStatus, NotFoundMessage) {
  auto r = parse_systemctl_status("Unit foo.service could not be found.\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unit, "foo.service");
  EXPECT_EQ(r->phase(), UnitPhase::NotFound);
  for (const char* bad : {"Unit  could not be found.", "Unit a b could not be found.", "Unit could not be found."}) {
    auto b = parse_systemctl_status(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().code, "systemctl_status_unrecognized");
  }
}

TEST(ParseStatus, MissingLinesAreErrors) {
  auto no_active = parse_systemctl_status("● x.service - X\n" + kLoaded);
  ASSERT_FALSE(no_active);
  EXPECT_EQ(no_active.error().code, "systemctl_status_missing_field");
  EXPECT_NE(no_active.error().message.find("Active:"), std::string::npos);
  auto no_loaded = parse_systemctl_status("● x.service - X\n" + kActive);
  ASSERT_FALSE(no_loaded);
  EXPECT_EQ(no_loaded.error().code, "systemctl_status_missing_field");
  // The journal starts after the blank line: an Active: line there does not count.
  auto after_blank = parse_systemctl_status("● x.service - X\n" + kLoaded + "\n" + kActive);
  ASSERT_FALSE(after_blank);
}

// ---------------------------------------------------------------------------------
// Hostile input: never a crash, always a value or an InvalidInput error.
// ---------------------------------------------------------------------------------

/// Error messages end up in JSON and logs: printable ASCII only, whatever the input was.
void expect_printable(const std::string& message) {
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    ASSERT_TRUE(u >= 0x20 && u < 0x7f) << "byte " << static_cast<int>(u) << " in: " << message;
  }
}

template <class Parse>
void expect_error_or_value(Parse parse, std::string_view text) {
  auto r = parse(text);
  if (!r) {
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_FALSE(r.error().code.empty());
    EXPECT_LT(r.error().message.size(), 1000u) << "error messages must not echo huge input";
    expect_printable(r.error().message);
  }
}

TEST(Hostile, EmptyAndWhitespace) {
  for (const char* text : {"", "\n", "\r\n", "   ", "\t\t\n\n"}) {
    EXPECT_FALSE(parse_systemctl_show(text));
    auto r = parse_systemctl_status(text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "systemctl_status_unrecognized");
  }
}

TEST(Hostile, Garbage) {
  const char raw[] = "\0\x01\xff\xfe=\n\0LoadState=\xc3(\n";
  const std::string binary(raw, sizeof(raw) - 1);
  for (const std::string& text :
       {std::string("hello world"), std::string("<html><body>502 Bad Gateway</body></html>"), binary,
        std::string("System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                    "Failed to connect to bus: Host is down\n"),
        std::string("●\n"), std::string("● \n"), std::string("Loaded: loaded\nActive: active\n"),
        std::string("Active: active (running)\n"), std::string("=\n=\n=")}) {
    auto show = parse_systemctl_show(text);
    EXPECT_FALSE(show) << text;
    auto status = parse_systemctl_status(text);
    EXPECT_FALSE(status) << text;
    if (!status) {
      EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
      expect_printable(status.error().message);
    }
    if (!show) {
      expect_printable(show.error().message);
    }
  }
}

TEST(Hostile, BadBytesAreEscapedInErrorMessages) {
  auto r = parse_systemctl_show(std::string("LoadState=l\xc3\x01z\nActiveState=active\n"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'l\\xc3\\x01z'"), std::string::npos) << r.error().message;
  expect_printable(r.error().message);
}

TEST(Hostile, EveryTruncationOfEveryFixture) {
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().extension() != ".txt") continue;
    const auto name = entry.path().filename().string();
    const auto text = read_fixture(name);
    const bool is_show = name.find(".show.") != std::string::npos;
    const std::size_t step = is_show ? 13 : 1;
    for (std::size_t n = 0; n <= text.size(); n += step) {
      const std::string_view prefix(text.data(), n);
      if (is_show) {
        expect_error_or_value(parse_systemctl_show, prefix);
      } else {
        expect_error_or_value(parse_systemctl_status, prefix);
      }
    }
  }
}

TEST(Hostile, TruncatedBeforeTheStatesIsAnError) {
  const auto text = read_fixture("active-running.show.txt");
  const auto cut = text.find("LoadState=");
  ASSERT_NE(cut, std::string::npos);
  auto r = parse_systemctl_show(std::string_view(text).substr(0, cut));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "systemctl_show_missing_property");

  const auto status = read_fixture("active-running.status.txt");
  auto s = parse_systemctl_status(std::string_view(status).substr(0, status.find("     Active:")));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "systemctl_status_missing_field");
}

TEST(Hostile, OneMegabyteLines) {
  const std::string mb(1 << 20, 'x');
  const std::string parens(1 << 20, '(');
  const std::string digits(1 << 20, '9');

  // A huge description is just a description.
  auto big_desc = parse_systemctl_show("Description=" + mb + "\nLoadState=loaded\nActiveState=active\n");
  ASSERT_TRUE(big_desc);
  EXPECT_EQ(big_desc->description.size(), mb.size());

  for (const std::string& text : {
           mb,
           "LoadState=" + mb + "\nActiveState=active\n",
           "LoadState=loaded\nActiveState=active\nMainPID=" + digits + "\n",
           "LoadState=loaded\nActiveState=active\nMemoryCurrent=" + digits + "\n",
           "LoadState=loaded\nActiveState=active\nActiveEnterTimestamp=" + mb + "\n",
           std::string(1 << 20, '\n'),
           std::string(1 << 20, '='),
       }) {
    expect_error_or_value(parse_systemctl_show, text);
  }

  for (const std::string& text : {
           mb,
           "● " + mb,
           "● x.service - " + mb + "\n" + kLoaded + kActive,
           "● x.service\n     Loaded: " + mb + "\n" + kActive,
           "● x.service\n" + kLoaded + "     Active: active " + parens + "\n",
           "● x.service\n" + kLoaded + "     Active: active (running) since " + mb + "\n",
           "● x.service\n" + kLoaded + kActive + "   Main PID: " + digits + "\n",
           "● x.service\n" + kLoaded + kActive + "   Main PID: 1 (code=exited, status=" + digits + ")\n",
           "● x.service\n" + kLoaded + kActive + "     Memory: " + digits + "M\n",
           "● x.service\n" + kLoaded + kActive + "        CPU: " + digits + "s\n",
           "● x.service\n" + kLoaded + kActive + "     CGroup: /" + mb + "\n" + "             └─" + mb + "\n",
           "Unit " + mb + " could not be found.",
           std::string(1 << 20, '\n'),
           std::string(1 << 20, ' ') + ":",
       }) {
    expect_error_or_value(parse_systemctl_status, text);
  }

  // The big description survives in status too.
  auto status_desc = parse_systemctl_status("● x.service - " + mb + "\n" + kLoaded + kActive);
  ASSERT_TRUE(status_desc);
  EXPECT_EQ(status_desc->description.size(), mb.size());
  // Huge numbers are rejected or absent, never wrapped.
  auto huge_mem = parse_systemctl_status("● x.service\n" + kLoaded + kActive + "     Memory: " + digits + "M\n");
  ASSERT_TRUE(huge_mem);
  EXPECT_FALSE(huge_mem->memory_current_bytes);
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

TEST(ParseTimestamp, Forms) {
  const std::uint64_t t = 1795711117 * kSec;  // 2026-11-26 16:38:37 UTC
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 16:38:37 UTC"), t);
  EXPECT_EQ(parse_systemd_timestamp("2026-11-26 16:38:37 UTC"), t);
  EXPECT_EQ(parse_systemd_timestamp("  Thu 2026-11-26 16:38:37 GMT  "), t);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 16:38:37.978840 UTC"), t + 978840);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 16:38:37.5 UTC"), t + 500000);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 16:38:37.123456789 UTC"), t + 123456);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 17:38:37 +0100"), t);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 11:38:37 -05:00"), t);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2026-11-26 21:38:37 +05"), t);
  EXPECT_EQ(parse_systemd_timestamp("@1795711117"), t);
  EXPECT_EQ(parse_systemd_timestamp("@0"), 0u);
  EXPECT_EQ(parse_systemd_timestamp("Thu 1970-01-01 00:00:00 UTC"), 0u);
  EXPECT_EQ(parse_systemd_timestamp("Thu 2024-02-29 00:00:00 UTC"), 1709164800 * kSec);
  EXPECT_EQ(parse_systemd_timestamp("Fri 9999-12-31 23:59:59 UTC"), 253402300799 * kSec);
}

TEST(ParseTimestamp, Rejects) {
  for (const char* bad :
       {"", "n/a", "Thu 2026-11-26 16:38:37", "Thu 2026-11-26 17:38:37 CET", "Thu 2026-11-26 11:38:37 EST",
        "Thu 2026-13-01 00:00:00 UTC", "Thu 2026-02-30 00:00:00 UTC", "Thu 2025-02-29 00:00:00 UTC",
        "Thu 2026-11-26 24:00:00 UTC", "Thu 2026-11-26 16:60:00 UTC", "Wed 1969-12-31 23:59:59 UTC",
        "Thu 1970-01-01 00:30:00 +0100", "Thu 26-11-26 16:38:37 UTC", "2026-11-26T16:38:37Z",
        "Thu 2026-11-26 16:38:37. UTC", "@", "@-1", "@abc", "@99999999999999999999", "@1.5.5",
        "Thu 2026-11-26 16:38:37 +2500", "yesterday"}) {
    EXPECT_FALSE(parse_systemd_timestamp(bad)) << bad;
  }
}

TEST(SignalNumber, NamesAndNumbers) {
  EXPECT_EQ(signal_number("KILL"), 9);
  EXPECT_EQ(signal_number("SIGKILL"), 9);
  EXPECT_EQ(signal_number("TERM"), 15);
  EXPECT_EQ(signal_number("SEGV"), 11);
  EXPECT_EQ(signal_number("ABRT"), 6);
  EXPECT_EQ(signal_number("HUP"), 1);
  EXPECT_EQ(signal_number("INT"), 2);
  EXPECT_EQ(signal_number("PIPE"), 13);
  EXPECT_EQ(signal_number("BUS"), 7);
  EXPECT_EQ(signal_number("SYS"), 31);
  EXPECT_EQ(signal_number("RTMIN"), 34);
  EXPECT_EQ(signal_number("RTMIN+1"), 35);
  EXPECT_EQ(signal_number("RTMAX-1"), 63);
  EXPECT_EQ(signal_number("RTMAX"), 64);
  EXPECT_EQ(signal_number("9"), 9);
  for (const char* bad : {"", "SIG", "kill", "NOPE", "0", "65", "-9", "RTMIN-1", "RTMIN+31", "RTMAX+1",
                          "RTMIN+", "KILL9"}) {
    EXPECT_FALSE(signal_number(bad)) << bad;
  }
}

}  // namespace
}  // namespace siax::core
