// Level detection on real-looking lines (fixtures: "<expected priority>\t<line>").
#include <gtest/gtest.h>

#include "logs/level.h"
#include "logs/log_entry.h"
#include "unit/logs/fixtures_util.h"

namespace siax::logs {
namespace {

void expect_fixture_levels(const std::string& file) {
  auto lines = test::fixture_lines(file);
  ASSERT_FALSE(lines.empty()) << file;
  for (const auto& l : lines) {
    auto tab = l.find('\t');
    ASSERT_NE(tab, std::string::npos) << l;
    const int expected = std::stoi(l.substr(0, tab));
    const std::string line = l.substr(tab + 1);
    EXPECT_EQ(effective_priority(kDefaultPriority, line), expected) << file << ": " << line;
  }
}

TEST(LogsLevel, UvicornAndPythonLoggingLines) { expect_fixture_levels("uvicorn.txt"); }

TEST(LogsLevel, PinoWinstonBunyanJson) { expect_fixture_levels("pino.jsonl"); }

TEST(LogsLevel, AnExplicitJournalPriorityIsKept) {
  // A line that came with "<3>" (journald stripped it and set PRIORITY=3).
  EXPECT_EQ(effective_priority(3, "INFO: looks like info but the app said error"), 3);
  EXPECT_EQ(effective_priority(7, "{\"level\":50}"), 7);
}

TEST(LogsLevel, NoLevelMeansNone) {
  EXPECT_EQ(detect_level(""), std::nullopt);
  EXPECT_EQ(detect_level("hello world"), std::nullopt);
  EXPECT_EQ(detect_level("Information about errors"), std::nullopt);
  EXPECT_EQ(detect_level("[error-handler] installed"), std::nullopt);
  EXPECT_EQ(detect_level("{\"msg\":\"no level\"}"), std::nullopt);
}

TEST(LogsLevel, ExceptionHeadersAndTracebacks) {
  EXPECT_EQ(detect_level("Traceback (most recent call last):"), 3);
  EXPECT_EQ(detect_level("TypeError: x is not a function"), 3);
  EXPECT_EQ(detect_level("Error: boom"), 3);
  EXPECT_EQ(detect_level("MyCustomException"), 3);
  EXPECT_EQ(detect_level("Errors happen"), std::nullopt);
  EXPECT_TRUE(is_node_stack_frame("    at Object.<anonymous> (/a.js:1:1)"));
  EXPECT_FALSE(is_node_stack_frame("at the start"));
}

TEST(LogsLevel, ParseLevelNames) {
  EXPECT_EQ(parse_level("error"), 3);
  EXPECT_EQ(parse_level("ERR"), 3);
  EXPECT_EQ(parse_level("warn"), 4);
  EXPECT_EQ(parse_level("5"), 5);
  EXPECT_EQ(parse_level("loud"), std::nullopt);
  EXPECT_EQ(parse_level("8"), std::nullopt);
  EXPECT_EQ(level_name(3), "error");
  EXPECT_EQ(level_name(4), "warning");
}

}  // namespace
}  // namespace siax::logs
