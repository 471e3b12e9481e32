// The LISTEN socket sources: sock_diag netlink and the /proc/net files must agree on a
// socket this test opens (the real kernel; the host's other sockets may come and go).
#include "procscan/listen_sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace siax::procscan {
namespace {

struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  std::uint64_t inode = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd, 1) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port = ntohs(a.sin_port);
    struct stat st {};
    if (::fstat(fd, &st) == 0) inode = st.st_ino;
  }
  ~Listener() { ::close(fd); }
};

TEST(ListenSockets, NetlinkAndProcFilesBothSeeAListeningSocket) {
  Listener l;
  ASSERT_NE(l.port, 0);
  ASSERT_NE(l.inode, 0u);
  auto netlink = listen_sockets_netlink();
  ASSERT_TRUE(netlink) << "sock_diag is available on Linux";
  ASSERT_EQ(netlink->count(l.inode), 1u);
  EXPECT_EQ(netlink->at(l.inode), l.port);
  const int root = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  const ListenMap files = listen_sockets_proc(root);
  ::close(root);
  ASSERT_EQ(files.count(l.inode), 1u);
  EXPECT_EQ(files.at(l.inode), l.port);
}

TEST(ListenSockets, AConnectedSocketIsNotListening) {
  Listener l;
  ASSERT_NE(l.port, 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(l.port);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  struct stat st {};
  ASSERT_EQ(::fstat(client, &st), 0);
  auto netlink = listen_sockets_netlink();
  ASSERT_TRUE(netlink);
  EXPECT_EQ(netlink->count(st.st_ino), 0u) << "only LISTEN sockets";
  EXPECT_EQ(netlink->count(l.inode), 1u);
  ::close(client);
}

}  // namespace
}  // namespace siax::procscan
