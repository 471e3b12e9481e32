#pragma once
/// UnitFileStore over a directory of the filesystem (default /etc/systemd/system).
/// Thread: any; stateless apart from the directory path.
#include <string>

#include "ports/unit_file_store.h"

namespace siax::adapters {

class FsUnitStore final : public ports::UnitFileStore {
 public:
  explicit FsUnitStore(std::string directory = "/etc/systemd/system");

  [[nodiscard]] Status write(const std::string& unit, const std::string& content) override;
  [[nodiscard]] Status remove(const std::string& unit) override;
  [[nodiscard]] Result<std::optional<std::string>> read(const std::string& unit) const override;
  [[nodiscard]] Result<std::vector<std::string>> list() const override;
  [[nodiscard]] std::string path_of(const std::string& unit) const override;
  [[nodiscard]] bool writable() const override;

 private:
  std::string dir_;
};

}  // namespace siax::adapters
