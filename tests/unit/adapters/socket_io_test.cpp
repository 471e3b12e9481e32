// The unit helper's socket framing (adapters/linux/socket_io.h) over a real socketpair:
// a whole message up to the peer's shutdown, the size bound, the deadline.
#include "adapters/linux/socket_io.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

namespace siax::adapters {
namespace {

struct Pair {
  UniqueFd a{-1}, b{-1};
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    a.fd = fds[0];
    b.fd = fds[1];
  }
};

SteadyTime in_ms(int ms) { return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms); }

TEST(SocketIo, SendsAllAndReadsUpToTheShutdown) {
  Pair p;
  const std::string text(20000, 'x');  // more than one read buffer
  ASSERT_EQ(send_all(p.a.fd, text, in_ms(1000)).kind, IoEnd::Done);
  ::shutdown(p.a.fd, SHUT_WR);
  std::string got;
  EXPECT_EQ(read_to_end(p.b.fd, text.size(), in_ms(1000), got).kind, IoEnd::Done);
  EXPECT_EQ(got, text);
}

TEST(SocketIo, MoreThanTheLimitIsTooLargeAndReadsOneByteMore) {
  Pair p;
  ASSERT_EQ(send_all(p.a.fd, std::string(100, 'y'), in_ms(1000)).kind, IoEnd::Done);
  ::shutdown(p.a.fd, SHUT_WR);
  std::string got;
  EXPECT_EQ(read_to_end(p.b.fd, 10, in_ms(1000), got).kind, IoEnd::TooLarge);
  EXPECT_EQ(got.size(), 11u);
}

TEST(SocketIo, NoShutdownIsATimeout) {
  Pair p;
  ASSERT_EQ(send_all(p.a.fd, "partial", in_ms(1000)).kind, IoEnd::Done);
  std::string got;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_end(p.b.fd, 100, in_ms(50), got).kind, IoEnd::Timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  EXPECT_EQ(got, "partial");
}

TEST(SocketIo, APeerThatNeverReadsIsASendTimeoutAndAClosedOneAnError) {
  Pair p;
  const std::string big(8 << 20, 'z');  // beyond the socket buffers
  EXPECT_EQ(send_all(p.a.fd, big, in_ms(50)).kind, IoEnd::Timeout);
  ::close(p.b.fd);
  p.b.fd = -1;
  const IoEnd closed = send_all(p.a.fd, "more", in_ms(50));
  EXPECT_EQ(closed.kind, IoEnd::Error);
  EXPECT_EQ(closed.error, EPIPE);
}

}  // namespace
}  // namespace siax::adapters
