#pragma once
/// A SystemdManager for when the system bus cannot be reached: every call fails with
/// Unavailable and the reason, so the agent keeps serving (health, the panel's banner)
/// and says why operations fail instead of crashing. Thread: any.
#include "ports/systemd_manager.h"

namespace siax::units {

class UnavailableSystemd final : public ports::SystemdManager {
 public:
  explicit UnavailableSystemd(Error why) : why_(std::move(why)) {}
  Status daemon_reload() override { return tl::unexpected(why_); }
  Status start(const std::string&) override { return tl::unexpected(why_); }
  Status stop(const std::string&) override { return tl::unexpected(why_); }
  Status restart(const std::string&) override { return tl::unexpected(why_); }
  Status enable(const std::string&) override { return tl::unexpected(why_); }
  Status disable(const std::string&) override { return tl::unexpected(why_); }
  Status reset_failed(const std::string&) override { return tl::unexpected(why_); }
  Result<core::UnitStatus> status(const std::string&) override { return tl::unexpected(why_); }
  Result<std::vector<std::string>> list_units(const std::string&) override { return tl::unexpected(why_); }
  Result<std::vector<ports::UnitListEntry>> list_unit_states(const std::string&) override {
    return tl::unexpected(why_);
  }
  Result<std::vector<std::uint32_t>> unit_processes(const std::string&) override { return tl::unexpected(why_); }
  ports::Capabilities probe_capabilities() override { return {false, false, false, why_.message}; }

 private:
  Error why_;
};

}  // namespace siax::units
