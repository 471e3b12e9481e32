#pragma once
// In-memory SecretFileStore for unit tests.
#include <map>
#include <optional>
#include <string>

#include "ports/secret_file_store.h"

namespace siax::fakes {

class FakeSecretStore final : public ports::SecretFileStore {
 public:
  std::map<std::string, std::string> files;  ///< by app name
  int writes = 0;
  bool fail_writes = false;

  Status write(const std::string& app, const std::string& content) override {
    if (fail_writes) return fail(ErrorKind::Internal, "io_error", "disk full");
    ++writes;
    files[app] = content;
    return ok();
  }
  Status remove(const std::string& app) override {
    files.erase(app);
    return ok();
  }
  Result<std::optional<std::string>> read(const std::string& app) const override {
    auto it = files.find(app);
    if (it == files.end()) return std::optional<std::string>{};
    return std::optional<std::string>(it->second);
  }
  std::string path_of(const std::string& app) const override { return "/etc/siax-agent/secrets/" + app + ".env"; }
};

}  // namespace siax::fakes
