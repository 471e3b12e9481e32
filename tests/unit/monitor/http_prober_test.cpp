// Tests for monitor/http_prober.h against real loopback servers started here with
// Boost.Asio: 200, 500, a server that accepts and never answers (timeout), nothing
// listening (refused), garbage. The io_context runs until the probe's callback stops it;
// only the kind of result is asserted, never durations.
#include "monitor/http_prober.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace siax::monitor {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

/// Accepts one connection at a time; answers every request with `reply` after reading
/// its header, or holds the connection open without answering when `reply` is nullopt.
class TestServer {
 public:
  TestServer(asio::io_context& io, std::optional<std::string> reply)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply_(std::move(reply)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string last_request;

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    asio::streambuf buf;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto conn = std::make_shared<Conn>(std::move(socket));
      held_.push_back(conn);  // kept open until the test ends
      asio::async_read_until(conn->socket, conn->buf, "\r\n\r\n", [this, conn](boost::system::error_code e, std::size_t n) {
        if (e) return;
        last_request.assign(asio::buffers_begin(conn->buf.data()), asio::buffers_begin(conn->buf.data()) + n);
        if (!reply_) return;  // a stuck app: accepted, read, never answers
        asio::async_write(conn->socket, asio::buffer(*reply_), [conn](boost::system::error_code, std::size_t) {
          boost::system::error_code ignored;
          conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
        });
      });
      accept();
    });
  }

  tcp::acceptor acceptor_;
  std::optional<std::string> reply_;
  std::vector<std::shared_ptr<Conn>> held_;
};

core::HealthCheck short_check(std::string path = "/health") {
  core::HealthCheck c;
  c.path = std::move(path);
  c.timeout = 200ms;
  c.interval = 1000ms;
  return c;
}

/// Runs one probe to completion.
ProbeResult probe_once(asio::io_context& io, const core::HealthCheck& check, std::uint16_t port) {
  std::optional<ProbeResult> result;
  int calls = 0;
  HttpProber prober(io);
  prober.probe(check, port, [&](ProbeResult r) {
    ++calls;
    result = std::move(r);
    io.stop();
  });
  EXPECT_FALSE(result) << "done must not be called inside probe()";
  io.run();
  io.restart();
  io.poll();  // a second call would be queued by now
  EXPECT_EQ(calls, 1);
  return result.value_or(ProbeResult{});
}

TEST(HttpProber, Answer200IsOk) {
  asio::io_context io;
  TestServer server(io, std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
  const ProbeResult r = probe_once(io, short_check("/health?x=1"), server.port());
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.outcome, ProbeOutcome::Ok);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.error, "");
  EXPECT_THAT(server.last_request, HasSubstr("GET /health?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(server.last_request, HasSubstr("Host: 127.0.0.1:"));
}

TEST(HttpProber, Answer500IsABadStatus) {
  asio::io_context io;
  TestServer server(io, std::string("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"));
  const ProbeResult r = probe_once(io, short_check(), server.port());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, ProbeOutcome::BadStatus);
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.error, "status 500, expected 200");
}

TEST(HttpProber, ExpectedStatusOtherThan200) {
  asio::io_context io;
  TestServer server(io, std::string("HTTP/1.1 204 No Content\r\n\r\n"));
  core::HealthCheck c = short_check();
  c.expected_status = 204;
  EXPECT_EQ(probe_once(io, c, server.port()).outcome, ProbeOutcome::Ok);
}

TEST(HttpProber, AcceptedButNeverAnsweredTimesOut) {
  asio::io_context io;
  TestServer server(io, std::nullopt);
  const ProbeResult r = probe_once(io, short_check(), server.port());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, ProbeOutcome::Timeout);
  EXPECT_EQ(r.error, "timed out after 200 ms");
}

TEST(HttpProber, NothingListeningIsRefused) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: the port is free again
  const ProbeResult r = probe_once(io, short_check(), port);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, ProbeOutcome::Refused);
  EXPECT_EQ(r.error, "connection refused");
}

TEST(HttpProber, GarbageIsAnError) {
  asio::io_context io;
  TestServer server(io, std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
  const ProbeResult r = probe_once(io, short_check(), server.port());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, ProbeOutcome::Error);
  EXPECT_THAT(r.error, HasSubstr("not an HTTP response"));
}

TEST(HttpProber, LargeBodyIsBoundedAndTheStatusStillCounts) {
  asio::io_context io;
  const std::string body(HttpProber::kMaxBodyBytes * 2, 'x');
  TestServer server(io, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  const ProbeResult r = probe_once(io, short_check(), server.port());
  EXPECT_EQ(r.outcome, ProbeOutcome::Ok) << r.error;
}

TEST(HttpProber, ClosedWithoutAnswerIsAnError) {
  asio::io_context io;
  TestServer server(io, std::string(""));
  const ProbeResult r = probe_once(io, short_check(), server.port());
  EXPECT_EQ(r.outcome, ProbeOutcome::Error);
  EXPECT_EQ(r.error, "connection closed without an answer");
}

}  // namespace
}  // namespace siax::monitor
