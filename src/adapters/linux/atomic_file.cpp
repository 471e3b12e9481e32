#include "adapters/linux/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <fmt/format.h>

namespace siax::adapters {

UniqueFd::~UniqueFd() {
  if (fd >= 0) ::close(fd);
}

std::optional<WriteFailure> write_file_atomically(int dirfd, const std::string& name, std::string_view content,
                                                  mode_t mode) {
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int raw = -1;
  for (int attempt = 0; attempt < 16 && raw < 0; ++attempt) {
    tmp = fmt::format(".{}.{}.{}.tmp", name, ::getpid(), counter.fetch_add(1));
    raw = ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0 && errno != EEXIST) return WriteFailure{errno, "write"};
  }
  if (raw < 0) return WriteFailure{EEXIST, "write"};
  UniqueFd fd(raw);
  auto abandon = [&](int err, std::string_view step) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return WriteFailure{err, step};
  };
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return abandon(errno, "write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd.fd, mode) != 0) return abandon(errno, "set the mode of");
  if (::fsync(fd.fd) != 0) return abandon(errno, "flush");
  if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) return abandon(errno, "replace");
  ::fsync(dirfd);  // the rename itself reaches the disk
  return std::nullopt;
}

}  // namespace siax::adapters
