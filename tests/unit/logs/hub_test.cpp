// The hub over a fake journal whose readers have real descriptors: one reader per stream
// shared by its viewers, closed with the last; limits; fan-out; failure. The io_context
// is polled (no sleeps, no timing).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "logs/history.h"
#include "logs/hub.h"
#include "unit/logs/fake_journal.h"

namespace siax::logs {
namespace {

struct RecordingViewer : HubViewer {
  std::vector<std::string> messages;
  std::vector<int> priorities;
  std::optional<std::string> closed_code;
  void on_entries(const std::vector<SharedEntry>& entries) override {
    for (const auto& e : entries) {
      messages.push_back(e->entry.message);
      priorities.push_back(e->entry.priority);
    }
  }
  void on_stream_closed(const Error& why) override { closed_code = why.code; }
};

class LogsHub : public ::testing::Test {
 protected:
  void poll() {
    for (int i = 0; i < 5; ++i) {
      ioc.restart();
      ioc.poll();
    }
  }
  boost::asio::io_context ioc;
  test::FakeJournal journal;
  Selector orders{"orders", {}};
  Selector billing{"billing", {}};
};

TEST_F(LogsHub, OneReaderPerStreamSharedAndClosedWithTheLastViewer) {
  LogHub hub(ioc.get_executor(), journal);
  journal.append("orders", "before anyone watched");
  RecordingViewer a, b;
  auto sa = hub.subscribe(orders, a);
  auto sb = hub.subscribe(orders, b);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(journal.state->open_readers, 1);
  journal.append("orders", "one");
  journal.append("billing", "not for them");
  journal.append("orders", "two");
  poll();
  EXPECT_EQ(a.messages, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(b.messages, a.messages);
  sa->reset();
  EXPECT_EQ(journal.state->open_readers, 1);
  EXPECT_EQ(hub.viewers_of("orders"), 1u);
  sb->reset();
  EXPECT_EQ(journal.state->open_readers, 0);
  EXPECT_EQ(hub.stats().streams, 0u);
  EXPECT_EQ(hub.stats().viewers, 0u);
  poll();  // pending waits of the closed stream complete without touching anything
}

TEST_F(LogsHub, ViewerLimitsPerStreamAndOverall) {
  HubOptions o;
  o.max_viewers_per_stream = 2;
  o.max_viewers_total = 3;
  LogHub hub(ioc.get_executor(), journal, o);
  RecordingViewer v[4];
  auto s1 = hub.subscribe(orders, v[0]);
  auto s2 = hub.subscribe(orders, v[1]);
  auto s3 = hub.subscribe(orders, v[2]);
  ASSERT_TRUE(s1 && s2);
  ASSERT_FALSE(s3);
  EXPECT_EQ(s3.error().code, "too_many_viewers");
  EXPECT_NE(s3.error().message.find("'orders'"), std::string::npos);
  EXPECT_NE(s3.error().message.find("limit is 2"), std::string::npos);
  auto s4 = hub.subscribe(billing, v[2]);
  ASSERT_TRUE(s4);
  auto s5 = hub.subscribe(billing, v[3]);
  ASSERT_FALSE(s5);
  EXPECT_NE(s5.error().message.find("limit is 3"), std::string::npos);
  s1->reset();
  EXPECT_TRUE(hub.subscribe(billing, v[3]));  // a place came free (and is given back at once)
}

TEST_F(LogsHub, LevelsAndFoldingHappenOnceForAllViewers) {
  HubOptions o;
  o.hold_delay = std::chrono::milliseconds(0);
  LogHub hub(ioc.get_executor(), journal, o);
  RecordingViewer a;
  auto s = hub.subscribe(orders, a);
  ASSERT_TRUE(s);
  journal.append("orders", "WARNING:  disk almost full");
  journal.append("orders", "Traceback (most recent call last):");
  journal.append("orders", "  File \"x.py\", line 1, in <module>");
  journal.append("orders", "KeyError: 'id'");
  poll();
  ASSERT_EQ(a.messages.size(), 2u);
  EXPECT_EQ(a.priorities[0], 4);
  EXPECT_EQ(a.priorities[1], 3);
  EXPECT_EQ(a.messages[1], "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'id'");
}

TEST_F(LogsHub, AnUnfinishedTracebackIsHeldLongerThanAnErrorLine) {
  // Under load journald stored a traceback's lines more than the hold delay apart: the
  // header must wait for its exception line (bounded by incomplete_hold_delay), while an
  // error line alone goes out after the short hold.
  HubOptions o;
  o.hold_delay = std::chrono::milliseconds(10);
  o.incomplete_hold_delay = std::chrono::milliseconds(400);
  LogHub hub(ioc.get_executor(), journal, o);
  RecordingViewer a;
  auto s = hub.subscribe(orders, a);
  ASSERT_TRUE(s);
  journal.append("orders", "Traceback (most recent call last):");
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(150));  // well past hold_delay
  EXPECT_TRUE(a.messages.empty());
  journal.append("orders", "  File \"x.py\", line 1, in <module>");
  journal.append("orders", "KeyError: 'id'");
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(150));
  ASSERT_EQ(a.messages.size(), 1u);
  EXPECT_EQ(a.messages[0], "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'id'");
  // An error line: out after the short hold. A header whose end never comes: out alone
  // once the long hold is over (bounded).
  journal.append("orders", "Error: boom");
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(150));
  ASSERT_EQ(a.messages.size(), 2u);
  journal.append("orders", "Traceback (most recent call last):");
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(900));
  ASSERT_EQ(a.messages.size(), 3u);
  EXPECT_EQ(a.messages[2], "Traceback (most recent call last):");
}

TEST_F(LogsHub, ReadsInBoundedTurns) {
  HubOptions o;
  o.read_budget = 10;
  LogHub hub(ioc.get_executor(), journal, o);
  RecordingViewer a;
  auto s = hub.subscribe(orders, a);
  ASSERT_TRUE(s);
  for (int i = 0; i < 95; ++i) journal.append("orders", "line " + std::to_string(i));
  ioc.restart();
  ioc.run_one();  // one turn: at most read_budget lines
  EXPECT_LE(a.messages.size(), 10u);
  poll();
  for (int i = 0; i < 30 && a.messages.size() < 95; ++i) poll();
  ASSERT_EQ(a.messages.size(), 95u);
  EXPECT_EQ(a.messages[94], "line 94");
}

TEST_F(LogsHub, StopTellsEveryViewerAndRefusesNewOnes) {
  LogHub hub(ioc.get_executor(), journal);
  RecordingViewer a;
  auto s = hub.subscribe(orders, a);
  ASSERT_TRUE(s);
  hub.stop();
  EXPECT_EQ(a.closed_code, "agent_stopping");
  EXPECT_EQ(journal.state->open_readers, 0);
  RecordingViewer b;
  auto late = hub.subscribe(orders, b);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "hub_stopped");
}

TEST_F(LogsHub, AJournalThatCannotBeOpenedIsAnError) {
  journal.fail_open = true;
  LogHub hub(ioc.get_executor(), journal);
  RecordingViewer a;
  auto s = hub.subscribe(orders, a);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "journal_unavailable");
  EXPECT_EQ(hub.stats().viewers, 0u);
}

// History: what a viewer gets before the live stream.
TEST_F(LogsHub, AHistoryEndingInsideATracebackWaitsForItsEndBounded) {
  // The app is writing a traceback while the viewer joins: the tail is read again until it
  // is finished (here it never is: bounded by settle_max); a finished tail at once.
  HistoryLimits limits;
  limits.settle_step = std::chrono::milliseconds(20);
  limits.settle_max = std::chrono::milliseconds(200);
  Selector sel{"orders", {}};
  StreamQuery q;
  q.start.tail = 10;
  journal.append("orders", "INFO: fine");
  auto t0 = std::chrono::steady_clock::now();
  auto h = read_history(journal, sel, q, limits);
  ASSERT_TRUE(h);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  journal.append("orders", "Traceback (most recent call last):");
  journal.append("orders", "  File \"x.py\", line 1, in <module>");
  t0 = std::chrono::steady_clock::now();
  h = read_history(journal, sel, q, limits);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(h);
  EXPECT_GE(took, std::chrono::milliseconds(180));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  ASSERT_EQ(h->entries.size(), 2u);
  EXPECT_EQ(h->entries.back()->entry.lines, 2u);
  journal.append("orders", "KeyError: 'id'");  // finished (a chained one may follow: 5 steps at most)
  t0 = std::chrono::steady_clock::now();
  h = read_history(journal, sel, q, limits);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(180));
  ASSERT_EQ(h->entries.size(), 2u);
  EXPECT_EQ(h->entries.back()->entry.lines, 3u);
}

TEST_F(LogsHub, HistoryTailAfterCursorAndFilter) {
  std::vector<std::string> cursors;
  for (int i = 1; i <= 30; ++i) {
    cursors.push_back(journal.append("orders", (i % 10 == 0 ? "ERROR: failure " : "INFO: fine ") + std::to_string(i)));
  }
  journal.append("billing", "ERROR: other app");
  Selector sel{"orders", {}};
  StreamQuery q;
  q.start.tail = 5;
  auto h = read_history(journal, sel, q, HistoryLimits{});
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_EQ(h->entries.size(), 5u);
  EXPECT_EQ(h->entries.front()->entry.message, "INFO: fine 26");
  EXPECT_EQ(h->entries.back()->entry.message, "ERROR: failure 30");
  ASSERT_TRUE(h->end);
  EXPECT_EQ(h->end->seqnum, parse_cursor(cursors.back())->seqnum);

  q.filter.max_priority = 3;  // errors only: found further back
  h = read_history(journal, sel, q, HistoryLimits{});
  ASSERT_TRUE(h);
  ASSERT_EQ(h->entries.size(), 3u);
  EXPECT_EQ(h->entries[0]->entry.message, "ERROR: failure 10");

  StreamQuery resume;
  resume.start.after_cursor = cursors[26];  // the 27th
  h = read_history(journal, sel, resume, HistoryLimits{});
  ASSERT_TRUE(h);
  ASSERT_EQ(h->entries.size(), 3u);
  EXPECT_EQ(h->entries[0]->entry.message, "INFO: fine 28");
  EXPECT_EQ(h->missed, 0u);

  resume.start.after_cursor = cursors[0];
  HistoryLimits small;
  small.max_replay_entries = 10;
  h = read_history(journal, sel, resume, small);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->entries.size(), 10u);
  EXPECT_EQ(h->missed, 19u);  // a gap before the newest 10
}

TEST_F(LogsHub, DownloadIsBoundedAndSaysSo) {
  for (int i = 1; i <= 100; ++i) journal.append("orders", "line " + std::to_string(i));
  DownloadQuery q;
  q.json_lines = true;
  DownloadLimits limits;
  limits.max_entries = 40;
  auto d = read_download(journal, Selector{"orders", {}}, q, limits);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->entries, 40u);
  EXPECT_TRUE(d->truncated);
  EXPECT_EQ(std::count(d->body.begin(), d->body.end(), '\n'), 40);
  q.json_lines = false;
  q.filter.text = "line 99";
  d = read_download(journal, Selector{"orders", {}}, q, DownloadLimits{});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->entries, 1u);
  EXPECT_FALSE(d->truncated);
  EXPECT_NE(d->body.find(" info [42] line 99\n"), std::string::npos);
}

TEST_F(LogsHub, DownloadIsStreamedInBoundedPiecesInOrder) {
  for (int i = 1; i <= 3000; ++i) journal.append("orders", "line " + std::to_string(i));
  DownloadQuery q;
  DownloadLimits limits;
  limits.chunk_bytes = 4096;
  auto reader = open_download(journal, orders, q);
  ASSERT_TRUE(reader);
  std::vector<std::string> pieces;
  DownloadSink sink;
  sink.chunk = [&](std::string piece) {
    pieces.push_back(std::move(piece));
    return true;
  };
  int alive_calls = 0;
  sink.alive = [&] { return ++alive_calls > 0; };
  auto d = stream_download(**reader, q, limits, sink);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->entries, 3000u);
  EXPECT_FALSE(d->truncated);
  EXPECT_FALSE(d->cancelled);
  EXPECT_GT(alive_calls, 0);
  ASSERT_GT(pieces.size(), 10u);
  std::string all;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    // Each piece is handed over once it reaches chunk_bytes: at most one line over.
    EXPECT_LT(pieces[i].size(), limits.chunk_bytes + 200);
    if (i + 1 < pieces.size()) {
      EXPECT_GE(pieces[i].size(), limits.chunk_bytes);
    }
    EXPECT_EQ(pieces[i].back(), '\n');  // whole lines only
    all += pieces[i];
  }
  EXPECT_EQ(d->bytes, all.size());
  std::size_t pos = 0;
  for (int i = 1; i <= 3000; ++i) {
    auto at = all.find(" line " + std::to_string(i) + "\n", pos);
    ASSERT_NE(at, std::string::npos) << i;
    pos = at + 1;
  }
}

TEST_F(LogsHub, DownloadStopsWhenTheSinkWantsNoMore) {
  for (int i = 1; i <= 5000; ++i) journal.append("orders", "line " + std::to_string(i));
  DownloadQuery q;
  DownloadLimits limits;
  limits.chunk_bytes = 1024;
  auto reader = open_download(journal, orders, q);
  ASSERT_TRUE(reader);
  int taken = 0;
  DownloadSink sink;
  sink.chunk = [&](std::string) { return ++taken < 3; };  // the client leaves at the third piece
  auto d = stream_download(**reader, q, limits, sink);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->cancelled);
  EXPECT_EQ(taken, 3);
  EXPECT_LT(d->entries, 200u);

  // A scan that matches nothing notices the departure through `alive`.
  reader = open_download(journal, orders, q);
  ASSERT_TRUE(reader);
  q.filter.text = "no such text";
  int asked = 0;
  sink.chunk = [](std::string) { return true; };
  sink.alive = [&] { return ++asked < 2; };
  d = stream_download(**reader, q, limits, sink);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->cancelled);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(d->entries, 0u);
}

}  // namespace
}  // namespace siax::logs
