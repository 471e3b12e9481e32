#include "adapters/linux/socket_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace siax::adapters {

int remaining_ms(SteadyTime deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

bool wait_for(int fd, short events, SteadyTime deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

IoEnd send_all(int fd, std::string_view text, SteadyTime deadline) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {IoEnd::Error, errno};
    if (!wait_for(fd, POLLOUT, deadline)) return {IoEnd::Timeout};
  }
  return {};
}

IoEnd read_to_end(int fd, std::size_t max, SteadyTime deadline, std::string& out) {
  char buf[8192];
  while (out.size() <= max) {
    const std::size_t want = std::min(sizeof buf, max + 1 - out.size());
    const ssize_t got = ::recv(fd, buf, want, MSG_DONTWAIT);
    if (got == 0) return {};
    if (got > 0) {
      out.append(buf, static_cast<std::size_t>(got));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {IoEnd::Error, errno};
    if (!wait_for(fd, POLLIN, deadline)) return {IoEnd::Timeout};
  }
  return {IoEnd::TooLarge};
}

}  // namespace siax::adapters
