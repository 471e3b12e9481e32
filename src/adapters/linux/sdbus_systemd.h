#pragma once
/// The real SystemdManager: systemd's D-Bus API over sd-bus.
///
/// Thread: one instance per thread; it owns a system-bus connection that must not
/// be shared. Each call blocks its thread until systemd answers (and, for jobs,
/// until the job finishes or the timeout passes). Nothing is started as a process:
/// no systemctl, no shell.
#include <chrono>
#include <memory>
#include <string>

#include "ports/systemd_manager.h"

#include <systemd/sd-bus.h>

namespace siax::adapters {

class SdbusSystemd final : public ports::SystemdManager {
 public:
  struct Options {
    /// How long a start/stop/restart job may take before the call gives up
    /// (the job keeps running in systemd). Above the units' TimeoutStopSec (15 s).
    std::chrono::milliseconds job_timeout{30'000};
    /// After a start job is done, how long the unit is watched: a main process that
    /// exits within this window makes the start fail with its exit status.
    std::chrono::milliseconds start_settle{500};
  };

  /// Connects to the system bus. Unavailable when there is no bus or no systemd on it.
  [[nodiscard]] static Result<std::unique_ptr<SdbusSystemd>> connect(Options options);
  ~SdbusSystemd() override;
  SdbusSystemd(const SdbusSystemd&) = delete;
  SdbusSystemd& operator=(const SdbusSystemd&) = delete;

  [[nodiscard]] Status daemon_reload() override;
  [[nodiscard]] Status start(const std::string& unit) override;
  [[nodiscard]] Status stop(const std::string& unit) override;
  [[nodiscard]] Status restart(const std::string& unit) override;
  [[nodiscard]] Status enable(const std::string& unit) override;
  [[nodiscard]] Status disable(const std::string& unit) override;
  [[nodiscard]] Status reset_failed(const std::string& unit) override;
  [[nodiscard]] Result<core::UnitStatus> status(const std::string& unit) override;
  [[nodiscard]] Result<std::vector<std::string>> list_units(const std::string& pattern) override;
  [[nodiscard]] Result<std::vector<ports::UnitListEntry>> list_unit_states(const std::string& pattern) override;
  [[nodiscard]] Result<std::vector<std::uint32_t>> unit_processes(const std::string& unit) override;
  [[nodiscard]] ports::Capabilities probe_capabilities() override;
  /// Whether the bus connection is still open (false after systemd or D-Bus went away).
  [[nodiscard]] bool is_open() const;
  /// is_open() and the bus daemon answers GetId (one round trip, systemd not involved): catches a connection the bus
  /// daemon dropped (dbus restarted) before an operation fails on it.
  [[nodiscard]] bool answers() const;

 private:
  SdbusSystemd(sd_bus* bus, Options options);
  [[nodiscard]] Status run_job(const char* method, const char* verb, const std::string& unit, bool settle);
  [[nodiscard]] Result<std::string> wait_for_job(const std::string& job_path, const std::string& unit);
  [[nodiscard]] Status watch_start(const std::string& unit);
  static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error* ret_error);

  sd_bus* bus_;
  sd_bus_slot* job_removed_slot_ = nullptr;
  Options options_;
  std::string awaited_job_;         ///< the job path wait_for_job() waits for
  std::string awaited_job_result_;  ///< filled by on_job_removed
  bool awaited_job_done_ = false;
};

}  // namespace siax::adapters
