#pragma once
/// Filesystem helpers shared by the file-backed adapters (unit files, secret files).
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace siax::adapters {

/// Closes a file descriptor on scope exit.
struct UniqueFd {
  int fd = -1;
  explicit UniqueFd(int f) : fd(f) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
};

/// Why an atomic write failed: errno and the step ("write", "set the mode of", "flush",
/// "replace"), for the caller's own error message.
struct WriteFailure {
  int err = 0;
  std::string_view step;
};

/// Replaces `name` in the directory open as `dirfd` with `content`, atomically: readers
/// see the old file or the new one, never a mix. A temporary file in the same directory
/// (created with O_EXCL and O_NOFOLLOW, mode 0600 until written) gets the content and
/// `mode`, is flushed, renamed over `name`, then the directory is flushed so that the
/// rename reaches the disk. On failure the temporary file is removed and the old file
/// is untouched. Thread: any (temporary names are unique per process and call).
[[nodiscard]] std::optional<WriteFailure> write_file_atomically(int dirfd, const std::string& name,
                                                                std::string_view content, mode_t mode);

}  // namespace siax::adapters
