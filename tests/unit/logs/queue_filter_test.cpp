// The viewer's bounded queue (drop oldest + gap marker, batching), filters, cursors and
// the wire format.
#include <chrono>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "logs/cursor.h"
#include "logs/encode.h"
#include "logs/filter.h"
#include "logs/viewer_queue.h"
#include "unit/logs/fixtures_util.h"

namespace siax::logs {
namespace {

SharedEntry entry(std::uint64_t seq, std::string message = "line", int priority = 6) {
  LogEntry e;
  e.time_usec = static_cast<std::int64_t>(seq);
  e.priority = priority;
  e.message = std::move(message);
  e.pid = 7;
  e.cursor = test::cursor_for(seq);
  return make_shared_entry(std::move(e));
}

nlohmann::json parse(const std::optional<std::string>& frame) {
  EXPECT_TRUE(frame.has_value());
  return nlohmann::json::parse(frame.value_or("null"));
}

TEST(LogsViewerQueue, KeepsEntriesInOrderInBatches) {
  ViewerQueue q(QueueOptions{100, 1 << 20, 1 << 20, 3});
  for (std::uint64_t i = 1; i <= 5; ++i) q.push(entry(i, "m" + std::to_string(i)));
  auto f1 = parse(q.take_frame());
  EXPECT_EQ(f1["type"], "entries");
  ASSERT_EQ(f1["entries"].size(), 3u);
  EXPECT_EQ(f1["entries"][0]["message"], "m1");
  auto f2 = parse(q.take_frame());
  ASSERT_EQ(f2["entries"].size(), 2u);
  EXPECT_EQ(f2["entries"][1]["message"], "m5");
  EXPECT_FALSE(q.take_frame().has_value());
  EXPECT_TRUE(q.empty());
}

TEST(LogsViewerQueue, ASlowViewerLosesTheOldestAndGetsAGapMarker) {
  ViewerQueue q(QueueOptions{4, 1 << 20, 1 << 20, 100});
  for (std::uint64_t i = 1; i <= 10; ++i) q.push(entry(i, "m" + std::to_string(i)));
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q.missed_pending(), 6u);
  EXPECT_TRUE(q.batch_ready());
  auto gap = parse(q.take_frame());
  EXPECT_EQ(gap["type"], "gap");
  EXPECT_EQ(gap["missed"], 6);
  auto rest = parse(q.take_frame());
  ASSERT_EQ(rest["entries"].size(), 4u);
  EXPECT_EQ(rest["entries"][0]["message"], "m7");
  EXPECT_EQ(q.dropped_total(), 6u);
  EXPECT_EQ(q.missed_pending(), 0u);
}

TEST(LogsViewerQueue, TheByteBoundHoldsWhateverIsPushed) {
  const std::size_t bound = 10'000;
  ViewerQueue q(QueueOptions{1'000'000, bound, 1 << 20, 100});
  for (std::uint64_t i = 1; i <= 5'000; ++i) {
    q.push(entry(i, std::string(100 + i % 300, 'x')));
    ASSERT_LE(q.bytes(), bound);
  }
  EXPECT_GT(q.dropped_total(), 4'000u);
}

TEST(LogsViewerQueue, ABatchStopsAtItsByteSizeButCarriesAtLeastOneEntry) {
  ViewerQueue q(QueueOptions{100, 1 << 20, 10, 100});
  q.push(entry(1, std::string(50, 'a')));
  q.push(entry(2, std::string(50, 'b')));
  EXPECT_EQ(parse(q.take_frame())["entries"].size(), 1u);
  EXPECT_EQ(parse(q.take_frame())["entries"].size(), 1u);
}

TEST(LogsViewerQueue, DropFrontWhile) {
  ViewerQueue q;
  for (std::uint64_t i = 1; i <= 5; ++i) q.push(entry(i));
  const auto end = *parse_cursor(test::cursor_for(3));
  auto n = q.drop_front_while([&](const EncodedEntry& e) { return !after(*parse_cursor(e.entry.cursor), end); });
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.missed_pending(), 0u);
}

TEST(LogsEncode, EntryJsonAndInvalidUtf8) {
  LogEntry e;
  e.time_usec = 1714564800123456;
  e.priority = 3;
  e.message = "a\"b\\c\nd\te\x01 \xff caf\xc3\xa9";
  e.pid = 99;
  e.cursor = "s=1;i=2";
  e.folded = true;
  e.lines = 2;
  auto j = nlohmann::json::parse(encode_entry(e));
  EXPECT_EQ(j["time_usec"], 1714564800123456);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["message"], "a\"b\\c\nd\te\x01 \xef\xbf\xbd caf\xc3\xa9");
  EXPECT_EQ(j["pid"], 99);
  EXPECT_EQ(j["folded"], true);
  EXPECT_EQ(j["lines"], 2);
  EXPECT_EQ(text_line(e).substr(0, 35), "2024-05-01T12:00:00.123456Z error [");
}

TEST(LogsCursor, OrdersBySeqnumThenRealtime) {
  auto a = parse_cursor(test::cursor_for(5));
  auto b = parse_cursor(test::cursor_for(6));
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(after(*b, *a));
  EXPECT_FALSE(after(*a, *b));
  EXPECT_FALSE(after(*a, *a));
  auto other = parse_cursor("s=ffff;i=1;b=x;m=1;t=" + fmt::format("{:x}", 1'800'000'000'000'000ULL) + ";x=2");
  ASSERT_TRUE(other);
  EXPECT_TRUE(after(*other, *b));
  EXPECT_FALSE(parse_cursor("garbage").has_value());
}

TEST(LogsFilter, ParsesAStreamQuery) {
  auto q = parse_stream_query({{"level", "warning"}, {"q", "TIMEOUT"}, {"tail", "20"}}, 1000);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->filter.max_priority, 4);
  EXPECT_EQ(q->start.tail, 20u);
  LogEntry e;
  e.priority = 3;
  e.message = "request timeout after 3s";
  EXPECT_TRUE(q->filter.matches(e));
  e.priority = 6;
  EXPECT_FALSE(q->filter.matches(e));
  e.priority = 4;
  e.message = "fine";
  EXPECT_FALSE(q->filter.matches(e));
}

TEST(LogsFilter, RegexFilter) {
  auto q = parse_stream_query({{"regex", "user=[0-9]+ (denied|refused)"}}, 1000);
  ASSERT_TRUE(q) << q.error().message;
  ASSERT_TRUE(compile_regex(q->filter));
  LogEntry e;
  e.message = "login user=42 refused";
  EXPECT_TRUE(q->filter.matches(e));
  e.message = "login user=bob refused";
  EXPECT_FALSE(q->filter.matches(e));
  auto ci = parse_stream_query({{"regex", "(?i)^warn"}}, 1000);
  ASSERT_TRUE(ci);
  ASSERT_TRUE(compile_regex(ci->filter));
  e.message = "WARN disk";
  EXPECT_TRUE(ci->filter.matches(e));
}

TEST(LogsFilter, BadInputSaysWhatIsWrong) {
  auto bad_level = parse_stream_query({{"level", "loud"}}, 1000);
  ASSERT_FALSE(bad_level);
  EXPECT_EQ(bad_level.error().code, "invalid_level");
  auto bad_regex = parse_stream_query({{"regex", "(unclosed"}}, 1000);
  ASSERT_TRUE(bad_regex);  // compiled later, off the io thread
  auto compiled = compile_regex(bad_regex->filter);
  ASSERT_FALSE(compiled);
  EXPECT_EQ(compiled.error().code, "invalid_regex");
  auto long_regex = parse_stream_query({{"regex", std::string(513, 'a')}}, 1000);
  ASSERT_FALSE(long_regex);
  EXPECT_EQ(long_regex.error().code, "regex_too_long");
  auto bad_cursor = parse_stream_query({{"cursor", "nope"}}, 1000);
  ASSERT_FALSE(bad_cursor);
  EXPECT_EQ(bad_cursor.error().code, "invalid_cursor");
  auto bad_tail = parse_stream_query({{"tail", "100000"}}, 1000);
  ASSERT_FALSE(bad_tail);
  EXPECT_EQ(bad_tail.error().code, "invalid_tail");
  auto bad_time = parse_download_query({{"since", "yesterday"}}, 10);
  ASSERT_FALSE(bad_time);
  EXPECT_EQ(bad_time.error().code, "invalid_time");
}

TEST(LogsFilter, TheTextFilterIsBoundedWithAClearError) {
  const std::string at_limit(EntryFilter::kMaxTextBytes, 'x');
  EXPECT_TRUE(parse_stream_query({{"q", at_limit}}, 1000));
  EXPECT_TRUE(parse_download_query({{"q", at_limit}}, 1000));
  for (const auto& bad : {at_limit + "x", std::string(100'000, 'y')}) {
    auto s = parse_stream_query({{"q", bad}}, 1000);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(s.error().code, "text_too_long");
    EXPECT_NE(s.error().message.find(std::to_string(bad.size()) + " bytes"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find("at most 256"), std::string::npos) << s.error().message;
    auto d = parse_download_query({{"q", bad}}, 1000);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, "text_too_long");
  }
}

TEST(LogsFilter, TextSearchIsCaseInsensitiveAndCorrect) {
  EXPECT_TRUE(icontains("anything", ""));
  EXPECT_TRUE(icontains("Request TIMEOUT after 5 s", "timeout"));
  EXPECT_TRUE(icontains("aaab", "aab"));        // a restart inside a partial match
  EXPECT_TRUE(icontains("abababc", "ababc"));
  EXPECT_TRUE(icontains("xyzABCABD", "abcabd"));
  EXPECT_FALSE(icontains("abcab", "abcabd"));
  EXPECT_FALSE(icontains("ab", "abc"));
  EXPECT_FALSE(icontains("", "a"));
  EXPECT_TRUE(icontains("caf\xc3\xa9 ok", "\xc3\xa9 OK"));  // bytes beyond ASCII compare as they are
  const std::string long_needle(EntryFilter::kMaxTextBytes + 40, 'q');  // over the stack table
  EXPECT_TRUE(icontains("z" + long_needle + "z", long_needle));
  EXPECT_FALSE(icontains(long_needle.substr(1), long_needle));
}

TEST(LogsFilter, TextSearchStaysLinearOnAHostileNeedle) {
  // 'a' x 255 then 'b' against 1 MiB of 'a': a naive search compares ~255 bytes per byte
  // of the message, the linear one about 2. Compared with a one-byte needle on the same
  // message (same machine, same moment), so a busy machine does not make it flaky.
  const std::string hostile = std::string(EntryFilter::kMaxTextBytes - 1, 'a') + "b";
  const std::string hay(1 << 20, 'A');
  auto time_of = [&](const std::string& needle) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(icontains(hay, needle));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const double simple = time_of("b");
  const double worst = time_of(hostile);
  EXPECT_LT(worst, simple * 20) << "hostile " << worst << " s, one byte " << simple << " s";
  EXPECT_TRUE(icontains(hay + "B", hostile));
}

TEST(LogsFilter, Times) {
  EXPECT_EQ(parse_time_usec("1714564800000000"), 1714564800000000);
  EXPECT_EQ(parse_time_usec("2024-05-01T12:00:00Z"), 1714564800000000);
  EXPECT_EQ(parse_time_usec("2024-05-01T12:00:00.5Z"), 1714564800500000);
  EXPECT_EQ(parse_time_usec("2024-05-01 12:00"), std::nullopt);
}

}  // namespace
}  // namespace siax::logs
