#pragma once
/// The unit helper's socket framing, both ends (HelperSocketClient in the agent, the helper
/// in cli/unit_helper.cpp): one request or reply per connection, sent whole, then read up to
/// the peer's shutdown, each bounded in size and by a deadline. docs/DEPLOY.md.
///
/// Thread: any; every call blocks its caller at most until the deadline (never call it on
/// the io thread).
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace siax::adapters {

using SteadyTime = std::chrono::steady_clock::time_point;

/// Owns a file descriptor and closes it.
struct UniqueFd {
  int fd = -1;
  explicit UniqueFd(int f) : fd(f) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd >= 0) ::close(fd);
  }
};

/// Milliseconds left until `deadline` (0 when past), for poll().
[[nodiscard]] int remaining_ms(SteadyTime deadline);

/// Waits for `events` (POLLIN, POLLOUT) on `fd` until the deadline: false on timeout or error.
[[nodiscard]] bool wait_for(int fd, short events, SteadyTime deadline);

/// How a send or a read ended; `error` is the errno of an Error.
struct IoEnd {
  enum Kind { Done, TooLarge, Timeout, Error } kind = Done;
  int error = 0;
};

/// Sends all of `text` (no SIGPIPE), waiting while the socket is full, until the deadline.
[[nodiscard]] IoEnd send_all(int fd, std::string_view text, SteadyTime deadline);

/// Reads into `out` until the peer shuts down its side (Done), more than `max` bytes arrived
/// (TooLarge: `out` holds max + 1 bytes, no more is read), the deadline (Timeout) or an error.
[[nodiscard]] IoEnd read_to_end(int fd, std::size_t max, SteadyTime deadline, std::string& out);

}  // namespace siax::adapters
