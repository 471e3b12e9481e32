#pragma once
/// The Host port over libc (getpwnam_r, getgrouplist, stat). Thread: any.
#include "ports/host.h"

namespace siax::adapters {

class LinuxHost final : public ports::Host {
 public:
  [[nodiscard]] std::optional<ports::UserInfo> find_user(const std::string& name) const override;
  [[nodiscard]] ports::FileInfo stat(const std::string& path) const override;
  [[nodiscard]] bool journal_readable() const override;
  [[nodiscard]] std::uint32_t effective_uid() const override;
};

}  // namespace siax::adapters
