#include "agent/state_stream.h"

#include <gtest/gtest.h>

#include <thread>

#include "http/body_stream.h"

namespace siax::agent {
namespace {

using nlohmann::json;

/// Polls `pred` for up to 5 s (the pump runs on its own thread).
template <class P>
bool eventually(P pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

struct Opened {
  http::Response head;
  std::shared_ptr<http::detail::BodyChannel> channel() const { return head.stream->channel; }
  /// Takes what the connection would write now.
  std::string drain() const {
    std::string out;
    while (true) {
      auto next = channel()->take();
      if (next.kind != http::detail::BodyChannel::Kind::Chunk) break;
      out += next.data;
      channel()->written();
    }
    return out;
  }
};

TEST(StateStreamMessage, IsOneSseEvent) {
  EXPECT_EQ(sse_message(7, "app", "{\"a\":1}"), "id: 7\nevent: app\ndata: {\"a\":1}\n\n");
}

TEST(StateStream, SnapshotThenEveryChangeWithItsVersion) {
  state::StateStore store;
  store.put_app("a", json{{"name", "a"}, {"status", "running"}}, {}, 0);
  StateStream stream(store, {});
  stream.start();
  Opened o;
  stream.open(http::Responder([&](http::Response r) { o.head = std::move(r); }), std::nullopt);
  ASSERT_TRUE(o.head.stream);
  EXPECT_EQ(o.head.content_type, "text/event-stream");
  std::string got;
  ASSERT_TRUE(eventually([&] { return (got += o.drain()).find("event: snapshot") != std::string::npos; }));
  EXPECT_NE(got.find("id: 1\nevent: snapshot\ndata: {\"version\":1,\"apps\":[{\"name\":\"a\""), std::string::npos) << got;
  store.put_app("a", json{{"name", "a"}, {"status", "crashed"}}, {}, 0);
  stream.notify();
  ASSERT_TRUE(eventually([&] { return (got += o.drain()).find("id: 2\nevent: app\n") != std::string::npos; })) << got;
  stream.stop();
}

TEST(StateStream, ResumeSendsOnlyWhatWasMissed) {
  state::StateStore store;
  for (int i = 0; i < 5; ++i) store.add_event(json{{"n", i}});
  StateStream stream(store, {});
  stream.start();
  Opened o;
  stream.open(http::Responder([&](http::Response r) { o.head = std::move(r); }), 3);
  std::string got;
  ASSERT_TRUE(eventually([&] { return (got += o.drain()).find("id: 5\n") != std::string::npos; })) << got;
  EXPECT_EQ(got.find("snapshot"), std::string::npos) << got;
  EXPECT_EQ(got.find("id: 3\n"), std::string::npos) << got;
  EXPECT_NE(got.find("id: 4\nevent: event\n"), std::string::npos) << got;
  EXPECT_EQ(stream.stats().resumed, 1u);
  stream.stop();
}

TEST(StateStream, AClientThatStopsReadingIsBoundedAndGetsASnapshotLater) {
  state::StoreOptions so;
  so.max_queue = 16;
  state::StateStore store(so);
  StateStreamOptions opts;
  opts.max_in_flight = 2;
  StateStream stream(store, opts);
  store.put_app("a", json{{"name", "a"}}, {}, 0);
  stream.start();
  Opened o;
  stream.open(http::Responder([&](http::Response r) { o.head = std::move(r); }), std::nullopt);
  // The client reads nothing: the chunks in flight stop at the bound, the queue overflows.
  for (int i = 0; i < 2000; ++i) {
    store.add_event(json{{"n", i}});
    stream.notify();
    ASSERT_LE(o.channel()->in_flight(), 2u);
  }
  ASSERT_TRUE(eventually([&] { return store.stats().subscriber_overflows >= 1; }));
  EXPECT_LE(o.channel()->in_flight(), 2u);
  // It reads again: what it gets next starts with a fresh snapshot at the latest version.
  std::string got;
  ASSERT_TRUE(eventually([&] {
    got += o.drain();
    stream.notify();
    return got.find("id: 2001\nevent: snapshot") != std::string::npos;
  })) << got.substr(0, 300);
  stream.stop();
}

TEST(StateStream, StreamsAreLimited) {
  state::StoreOptions so;
  so.max_subscribers = 1;
  state::StateStore store(so);
  StateStream stream(store, {});
  stream.start();
  Opened first;
  stream.open(http::Responder([&](http::Response r) { first.head = std::move(r); }), std::nullopt);
  http::Response refused;
  stream.open(http::Responder([&](http::Response r) { refused = std::move(r); }), std::nullopt);
  EXPECT_EQ(refused.status, http::StatusCode::too_many_requests);
  EXPECT_NE(refused.body.find("too_many_streams"), std::string::npos);
  EXPECT_EQ(stream.stats().refused, 1u);
  stream.stop();
}

}  // namespace
}  // namespace siax::agent
