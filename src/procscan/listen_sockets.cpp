#include "procscan/listen_sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "procscan/proc_parsers.h"

namespace siax::procscan {
namespace {

constexpr std::size_t kMaxSockets = 65536;  ///< a bound on what one answer may hold

/// One dump request for `family`'s TCP sockets in LISTEN; false on any error.
bool dump_family(int fd, std::uint8_t family, ListenMap& out) {
  struct Request {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } request{};
  request.nlh.nlmsg_len = sizeof(request);
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.req.sdiag_family = family;
  request.req.sdiag_protocol = IPPROTO_TCP;
  request.req.idiag_states = 1U << TCP_LISTEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    return false;
  }
  alignas(nlmsghdr) std::array<char, 32768> buf{};
  while (true) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return false;
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, static_cast<unsigned>(len));
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) return false;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (msg->idiag_state != TCP_LISTEN || msg->idiag_inode == 0) continue;
      if (out.size() >= kMaxSockets) continue;  // full: keep draining to NLMSG_DONE, so the next dump starts clean
      out.emplace(msg->idiag_inode, ntohs(msg->id.idiag_sport));
    }
  }
}

/// Calls `on_line` for each line of a file (chunked: a busy server's net/tcp never sits
/// whole in memory; lines over 4 KiB are dropped). Returns 0 or the errno.
template <class F>
int for_each_line(int dirfd, const char* name, F&& on_line) {
  const int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return errno;
  constexpr std::size_t kMaxLine = 4096;
  std::string pending;
  std::array<char, 65536> buf{};
  bool skipping = false;
  int error = 0;
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      const auto nl = chunk.find('\n');
      const auto part = chunk.substr(0, nl);
      if (!skipping && pending.size() + part.size() > kMaxLine) {
        skipping = true;
        pending.clear();
      } else if (!skipping) {
        pending.append(part);
      }
      if (nl == std::string_view::npos) break;
      if (!skipping) on_line(std::string_view(pending));
      pending.clear();
      skipping = false;
      chunk.remove_prefix(nl + 1);
    }
  }
  if (error == 0 && !pending.empty() && !skipping) on_line(std::string_view(pending));
  ::close(fd);
  return error;
}

}  // namespace

std::optional<ListenMap> listen_sockets_netlink() {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  ListenMap out;
  const bool ok = dump_family(fd, AF_INET, out) && dump_family(fd, AF_INET6, out);
  ::close(fd);
  if (!ok) return std::nullopt;
  return out;
}

ListenMap listen_sockets_proc(int root_fd) {
  ListenMap out;
  for (const char* name : {"net/tcp", "net/tcp6"}) {
    (void)for_each_line(root_fd, name, [&](std::string_view line) {
      if (out.size() >= kMaxSockets) return;
      if (auto entry = parse_proc_net_tcp_line(line)) out.insert(*entry);
    });
  }
  return out;
}

ListenMap listen_sockets(const std::string& proc_root, int root_fd) {
  if (proc_root == "/proc") {
    if (auto m = listen_sockets_netlink()) return std::move(*m);
  }
  return listen_sockets_proc(root_fd);
}

}  // namespace siax::procscan
