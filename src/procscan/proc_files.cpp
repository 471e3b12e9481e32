#include "procscan/proc_files.h"

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace siax::procscan::detail {

ReadResult read_at(int dirfd, const char* name, std::size_t max_bytes, Ends ends) {
  ReadResult r;
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    r.error = errno;
    return r;
  }
  std::array<char, 4096> buf{};
  while (r.content.size() < max_bytes) {
    std::size_t want = std::min(buf.size(), max_bytes - r.content.size());
    ssize_t n = ::read(fd.get(), buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.error = errno;
      return r;
    }
    if (n == 0) break;
    r.content.append(buf.data(), static_cast<std::size_t>(n));
    if (ends == Ends::AtShortRead && static_cast<std::size_t>(n) < want) break;
  }
  return r;
}

std::string readlink_at(int dirfd, const char* name) {
  std::array<char, 4096> buf{};
  ssize_t n = ::readlinkat(dirfd, name, buf.data(), buf.size());
  if (n <= 0) return {};
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

bool is_gone(int err) { return err == ENOENT || err == ESRCH; }

bool is_pid_name(const char* name) {
  if (*name == '\0') return false;
  for (const char* p = name; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
  }
  return true;
}

}  // namespace siax::procscan::detail
