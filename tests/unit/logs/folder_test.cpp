// Folding of Python tracebacks and Node.js stack traces into one error entry.
#include <gtest/gtest.h>

#include "logs/folder.h"
#include "unit/logs/fixtures_util.h"

namespace siax::logs {
namespace {

using test::raw;
using test::raw_lines;

TEST(LogsFolder, PythonTracebackBecomesOneErrorEntry) {
  auto lines = test::fixture_lines("python_traceback.txt");
  auto entries = fold_all(raw_lines(lines));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].priority, 6);
  EXPECT_FALSE(entries[0].folded);
  const auto& tb = entries[1];
  EXPECT_TRUE(tb.folded);
  EXPECT_EQ(tb.priority, 3);
  EXPECT_EQ(tb.lines, 7u);
  EXPECT_TRUE(tb.message.starts_with("Traceback (most recent call last):\n"));
  EXPECT_TRUE(tb.message.ends_with("\nZeroDivisionError: division by zero"));
  // time of the first line, cursor of the last one
  EXPECT_EQ(tb.time_usec, raw(2, "").time_usec);
  EXPECT_EQ(tb.cursor, test::cursor_for(8));
  EXPECT_EQ(entries[2].message, "INFO:     after the crash");
}

TEST(LogsFolder, ChainedTracebackWithTheLoggingLineBeforeIt) {
  auto entries = fold_all(raw_lines(test::fixture_lines("python_chained.txt")));
  ASSERT_EQ(entries.size(), 3u);  // the folded error, the blank line, "next line"
  EXPECT_EQ(entries[0].priority, 3);
  EXPECT_TRUE(entries[0].message.starts_with("ERROR:root:could not load the config\nTraceback"));
  EXPECT_NE(entries[0].message.find("During handling of the above exception"), std::string::npos);
  EXPECT_TRUE(entries[0].message.ends_with("RuntimeError: no config"));
  EXPECT_EQ(entries[0].lines, 12u);
  EXPECT_EQ(entries[1].message, "");
  EXPECT_EQ(entries[2].message, "next line");
}

TEST(LogsFolder, NodeStackTrace) {
  auto entries = fold_all(raw_lines(test::fixture_lines("node_stack.txt")));
  std::vector<std::string> messages;
  for (const auto& e : entries) messages.push_back(e.message);
  ASSERT_EQ(entries.size(), 8u) << ::testing::PrintToString(messages);
  const auto& err = entries[5];
  EXPECT_EQ(err.priority, 3);
  EXPECT_TRUE(err.folded);
  EXPECT_EQ(err.lines, 4u);
  EXPECT_TRUE(err.message.starts_with("TypeError: bad input\n    at Object.<anonymous>"));
  EXPECT_EQ(entries[7].message, "Node.js v18.13.0");
}

TEST(LogsFolder, PlainLinesPassThroughAtOnceAndErrorsWaitForTheNextLine) {
  LineFolder f;
  std::vector<LogEntry> out;
  f.push(raw(1, "hello"), out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_FALSE(f.holding());
  f.push(raw(2, "Error: boom"), out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(f.holding());
  f.push(raw(3, "world"), out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].message, "Error: boom");
  EXPECT_EQ(out[1].priority, 3);
  EXPECT_FALSE(out[1].folded);
  f.push(raw(4, "Traceback (most recent call last):"), out);
  EXPECT_TRUE(f.holding());
  f.flush(out);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_FALSE(f.holding());
}

TEST(LogsFolder, ATracebackIsIncompleteUntilItsExceptionLine) {
  LineFolder f;
  std::vector<LogEntry> out;
  f.push(raw(1, "ERROR:root:failed"), out);
  EXPECT_TRUE(f.holding());
  EXPECT_FALSE(f.incomplete());  // an error line may or may not grow
  f.push(raw(2, "Traceback (most recent call last):"), out);
  EXPECT_TRUE(f.incomplete());
  f.push(raw(3, "  File \"x.py\", line 1, in <module>"), out);
  EXPECT_TRUE(f.incomplete());
  f.push(raw(4, "KeyError: 'a'"), out);
  EXPECT_TRUE(f.holding());
  EXPECT_FALSE(f.incomplete());  // complete, though a chained one may follow
  f.push(raw(5, ""), out);
  f.push(raw(6, "During handling of the above exception, another exception occurred:"), out);
  EXPECT_TRUE(f.incomplete());
  f.push(raw(7, ""), out);
  f.push(raw(8, "Traceback (most recent call last):"), out);
  f.push(raw(9, "ValueError: b"), out);
  EXPECT_FALSE(f.incomplete());
  EXPECT_TRUE(out.empty());
  f.flush(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].lines, 9u);
  EXPECT_FALSE(f.incomplete());
}

TEST(LogsFolder, LinesOfAnotherProcessAreNotFoldedIn) {
  std::vector<RawLine> lines = {raw(1, "Traceback (most recent call last):", 6, 10),
                                raw(2, "  File \"a.py\", line 1, in <module>", 6, 11),
                                raw(3, "  File \"a.py\", line 1, in <module>", 6, 10)};
  auto entries = fold_all(lines);
  EXPECT_EQ(entries.size(), 3u);
}

TEST(LogsFolder, AFoldedEntryIsBounded) {
  std::vector<std::string> lines = {"Traceback (most recent call last):"};
  for (int i = 0; i < 20; ++i) lines.push_back("  File \"deep.py\", line 1, in f");
  auto entries = fold_all(raw_lines(lines), FolderOptions{5, 64 * 1024});
  ASSERT_GE(entries.size(), 4u);
  EXPECT_EQ(entries[0].lines, 5u);
  std::uint32_t total = 0;
  for (const auto& e : entries) total += e.lines;
  EXPECT_EQ(total, 21u);  // nothing lost
}

}  // namespace
}  // namespace siax::logs
