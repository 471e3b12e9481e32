#pragma once
/// Reading /proc's files for the scanner (proc_scanner.cpp): owned descriptors and
/// directories, whole-file reads relative to a directory fd, readlink. Internal to procscan.
#include <dirent.h>
#include <unistd.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace siax::procscan::detail {

/// An owned file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

/// Outcome of reading one file: the content, or the errno that stopped it.
struct ReadResult {
  std::string content;
  int error = 0;
};

/// How a file is read to its end.
enum class Ends {
  AtZero,       ///< a read that returns 0 (cmdline: the kernel may return less than asked mid-file)
  AtShortRead,  ///< a read that returns less than asked: the seq_file texts the kernel writes whole at
                ///< the first read (stat, status, statm, cgroup); saves the read that returns 0
};

/// Reads `name` under `dirfd`, up to `max_bytes`.
ReadResult read_at(int dirfd, const char* name, std::size_t max_bytes, Ends ends = Ends::AtZero);
/// readlinkat into a string; "" on any error (EACCES for other users' processes, ENOENT
/// for kernel threads and zombies).
std::string readlink_at(int dirfd, const char* name);
/// The errno of a process that is gone.
bool is_gone(int err);
/// A /proc entry that names a process (digits only).
bool is_pid_name(const char* name);

}  // namespace siax::procscan::detail
