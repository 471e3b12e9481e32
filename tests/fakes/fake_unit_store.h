#pragma once
// In-memory UnitFileStore for unit tests.
#include <map>
#include <optional>
#include <string>

#include "ports/unit_file_store.h"

namespace siax::fakes {

class FakeUnitStore final : public ports::UnitFileStore {
 public:
  std::map<std::string, std::string> files;
  bool is_writable = true;
  int writes = 0;

  Status write(const std::string& unit, const std::string& content) override {
    if (!is_writable) return fail(ErrorKind::PermissionDenied, "permission_denied", "read-only");
    ++writes;
    files[unit] = content;
    return ok();
  }
  Status remove(const std::string& unit) override {
    if (!is_writable) return fail(ErrorKind::PermissionDenied, "permission_denied", "read-only");
    files.erase(unit);
    return ok();
  }
  Result<std::optional<std::string>> read(const std::string& unit) const override {
    auto it = files.find(unit);
    if (it == files.end()) return std::optional<std::string>{};
    return std::optional<std::string>(it->second);
  }
  Result<std::vector<std::string>> list() const override {
    std::vector<std::string> out;
    for (const auto& [name, content] : files) out.push_back(name);
    return out;
  }
  std::string path_of(const std::string& unit) const override { return "/etc/systemd/system/" + unit; }
  bool writable() const override { return is_writable; }
};

}  // namespace siax::fakes
