#include "adapters/linux/fs_secret_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "adapters/linux/atomic_file.h"
#include "core/validation.h"

namespace siax::adapters {
namespace {

constexpr std::size_t kMaxSecretFile = 256 * 1024;

Error io_failure(int err, std::string_view what, const std::string& path) {
  if (err == EACCES || err == EPERM || err == EROFS) {
    return Error{ErrorKind::PermissionDenied, "permission_denied",
                 fmt::format("cannot {} {}: {}. The agent needs to own its secret directory: run it as root",
                             what, path, std::strerror(err)),
                 {{"missing_right", "write_secret_files"}}};
  }
  return Error{ErrorKind::Internal, "io_error", fmt::format("cannot {} {}: {}", what, path, std::strerror(err)), {}};
}

Status check_app(const std::string& app) {
  if (auto s = core::validate_app_name(app); !s) return s;
  return ok();
}

std::string file_name(const std::string& app) { return app + ".env"; }

}  // namespace

std::string default_secrets_directory(const std::string& state_dir) {
  return ::geteuid() == 0 ? std::string(kRootSecretsDirectory) : state_dir + "/secrets";
}

FsSecretStore::FsSecretStore(std::string directory) : dir_(std::move(directory)) {}

std::string FsSecretStore::path_of(const std::string& app) const { return dir_ + "/" + file_name(app); }

Result<int> FsSecretStore::open_dir(bool create) const {
  if (create) {
    std::error_code ec;
    // The parents (e.g. /etc/siax-agent) as usual; the directory itself 0700 from the start.
    std::filesystem::create_directories(std::filesystem::path(dir_).parent_path(), ec);
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
      return tl::unexpected(io_failure(errno, "create the secret directory", dir_));
    }
  }
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(io_failure(errno, "open the secret directory", dir_));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return tl::unexpected(io_failure(err, "inspect", dir_));
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    ::close(fd);
    return fail(ErrorKind::Internal, "secret_directory_not_private",
                fmt::format("the secret directory {} must be owned by the agent's user (uid {}) with mode 0700 "
                            "(it is uid {}, mode {:04o}): fix it with chown and chmod 700, then retry",
                            dir_, ::geteuid(), st.st_uid, st.st_mode & 07777));
  }
  return fd;
}

Status FsSecretStore::write(const std::string& app, const std::string& content) {
  if (auto s = check_app(app); !s) return s;
  const std::string path = path_of(app);
  auto dir = open_dir(true);
  if (!dir) return tl::unexpected(dir.error());
  UniqueFd dirfd(*dir);
  if (auto failed = write_file_atomically(dirfd.fd, file_name(app), content, 0600)) {
    return tl::unexpected(io_failure(failed->err, failed->step, path));
  }
  return ok();
}

Status FsSecretStore::remove(const std::string& app) {
  if (auto s = check_app(app); !s) return s;
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0 && errno == ENOENT) return ok();  // no directory, no file
  auto dir = open_dir(false);
  if (!dir) return tl::unexpected(dir.error());
  UniqueFd dirfd(*dir);
  if (::unlinkat(dirfd.fd, file_name(app).c_str(), 0) != 0 && errno != ENOENT) {
    return tl::unexpected(io_failure(errno, "remove", path_of(app)));
  }
  ::fsync(dirfd.fd);
  return ok();
}

Result<std::optional<std::string>> FsSecretStore::read(const std::string& app) const {
  if (auto s = check_app(app); !s) return tl::unexpected(s.error());
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0 && errno == ENOENT) return std::optional<std::string>{};
  auto dir = open_dir(false);
  if (!dir) return tl::unexpected(dir.error());
  UniqueFd dirfd(*dir);
  const std::string path = path_of(app);
  UniqueFd fd(::openat(dirfd.fd, file_name(app).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return tl::unexpected(io_failure(errno, "read", path));
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(io_failure(errno, "read", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxSecretFile) {
      return fail(ErrorKind::Internal, "secret_file_too_large", fmt::format("{} is larger than 256 KiB", path));
    }
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace siax::adapters
