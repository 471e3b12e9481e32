#pragma once
/// A temporary directory removed with its contents at the end of the test (its owner
/// permissions are restored first, so tests may make it unwritable). Under $TMPDIR, else
/// /var/tmp (a disk: SQLite's WAL tests want one).
#include <cstdlib>
#include <filesystem>
#include <string>

namespace siax::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "siax-test") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = (std::filesystem::path(base != nullptr && *base != '\0' ? base : "/var/tmp") /
                        (prefix + "-XXXXXX"))
                           .string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace siax::test
