#include "adapters/linux/fs_unit_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "adapters/linux/atomic_file.h"
#include "core/app_definition.h"
#include "core/validation.h"

namespace siax::adapters {
namespace {

constexpr std::size_t kMaxUnitFile = 256 * 1024;

Status check_unit_name(const std::string& unit) {
  auto app = core::app_name_from_unit(unit);
  if (!app || !core::validate_app_name(*app)) {
    return fail(ErrorKind::InvalidInput, "invalid_unit",
                fmt::format("'{}' is not a siax-app-<name>.service unit; the agent only touches its own units", unit));
  }
  return ok();
}

Error io_failure(int err, std::string_view what, const std::string& path) {
  if (err == EACCES || err == EPERM || err == EROFS) {
    return Error{ErrorKind::PermissionDenied, "permission_denied",
                 fmt::format("cannot {} {}: {}. The agent needs write access to the unit directory: run it as root, "
                             "or use the unit helper described in docs/SECURITY.md",
                             what, path, std::strerror(err)),
                 {{"missing_right", "write_unit_files"}}};
  }
  return Error{ErrorKind::Internal, "io_error", fmt::format("cannot {} {}: {}", what, path, std::strerror(err)), {}};
}

}  // namespace

FsUnitStore::FsUnitStore(std::string directory) : dir_(std::move(directory)) {}

std::string FsUnitStore::path_of(const std::string& unit) const { return dir_ + "/" + unit; }

bool FsUnitStore::writable() const { return ::faccessat(AT_FDCWD, dir_.c_str(), W_OK | X_OK, AT_EACCESS) == 0; }

Status FsUnitStore::write(const std::string& unit, const std::string& content) {
  if (auto s = check_unit_name(unit); !s) return s;
  const std::string path = path_of(unit);
  UniqueFd dirfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.fd < 0) return tl::unexpected(io_failure(errno, "write", path));
  if (auto failed = write_file_atomically(dirfd.fd, unit, content, 0644)) {
    return tl::unexpected(io_failure(failed->err, failed->step, path));
  }
  return ok();
}

Status FsUnitStore::remove(const std::string& unit) {
  if (auto s = check_unit_name(unit); !s) return s;
  const std::string path = path_of(unit);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return tl::unexpected(io_failure(errno, "remove", path));
  return ok();
}

Result<std::optional<std::string>> FsUnitStore::read(const std::string& unit) const {
  if (auto s = check_unit_name(unit); !s) return tl::unexpected(s.error());
  const std::string path = path_of(unit);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
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
    if (out.size() > kMaxUnitFile) {
      return fail(ErrorKind::Internal, "unit_too_large", fmt::format("{} is larger than 256 KiB", path));
    }
  }
  return std::optional<std::string>(std::move(out));
}

Result<std::vector<std::string>> FsUnitStore::list() const {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return tl::unexpected(io_failure(errno, "list", dir_));
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (core::app_name_from_unit(name)) names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace siax::adapters
