#pragma once
/// One systemd daemon-reload for every unit-file write queued before it (issue 12).
///
/// Registering an app writes its unit file and then needs systemd to reload its unit files
/// before the unit can be started. A reload costs systemd time that grows with the number
/// of units (about 0.1-0.5 s with 200 units in the sandbox), and systemd runs one at a
/// time, so registrations from several clients each waiting for their own reload queue
/// behind each other. ReloadCoalescer lets them share: a caller asks for a reload after its
/// write; if none is running, it runs one; if one is running, that one may have started
/// before the write, so the caller waits for it to end and then for (or runs) the next,
/// which serves every caller that asked meanwhile. Every caller returns only after a
/// reload that *started after its request* has finished, with that reload's outcome: a
/// start after a register always sees the unit.
///
/// CoalescingSystemd is the SystemdManager decorator that routes daemon_reload() of one
/// thread's connection through a ReloadCoalescer shared by all threads (the reload runs
/// on the connection of whichever caller runs it); every other call is passed through.
///
/// Threading: ReloadCoalescer is thread-safe; reload() blocks its caller for up to two
/// reloads. A CoalescingSystemd is used by one thread at a time, like the manager it wraps.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "common/result.h"
#include "ports/systemd_manager.h"

namespace siax::agent {

class ReloadCoalescer {
 public:
  /// Returns once a call of `do_reload` (this caller's or another's) that began after this
  /// call began has returned, with its result.
  [[nodiscard]] Status reload(const std::function<Status()>& do_reload);

  struct Stats {
    std::uint64_t requests = 0;  ///< reload() calls
    std::uint64_t reloads = 0;   ///< reloads run
  };
  [[nodiscard]] Stats stats() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::uint64_t requested_ = 0;  ///< tickets handed out
  std::uint64_t covered_ = 0;    ///< every ticket up to this one was served by a finished reload
  bool running_ = false;
  Status last_ = ok();
  std::uint64_t reloads_ = 0;
};

class CoalescingSystemd final : public ports::SystemdManager {
 public:
  CoalescingSystemd(std::unique_ptr<ports::SystemdManager> inner, ReloadCoalescer& reloads)
      : inner_(std::move(inner)), reloads_(reloads) {}

  [[nodiscard]] Status daemon_reload() override {
    return reloads_.reload([this] { return inner_->daemon_reload(); });
  }
  [[nodiscard]] Status start(const std::string& unit) override { return inner_->start(unit); }
  [[nodiscard]] Status stop(const std::string& unit) override { return inner_->stop(unit); }
  [[nodiscard]] Status restart(const std::string& unit) override { return inner_->restart(unit); }
  [[nodiscard]] Status enable(const std::string& unit) override { return inner_->enable(unit); }
  [[nodiscard]] Status disable(const std::string& unit) override { return inner_->disable(unit); }
  [[nodiscard]] Status reset_failed(const std::string& unit) override { return inner_->reset_failed(unit); }
  [[nodiscard]] Result<core::UnitStatus> status(const std::string& unit) override { return inner_->status(unit); }
  [[nodiscard]] Result<std::vector<std::string>> list_units(const std::string& pattern) override {
    return inner_->list_units(pattern);
  }
  [[nodiscard]] Result<std::vector<ports::UnitListEntry>> list_unit_states(const std::string& pattern) override {
    return inner_->list_unit_states(pattern);
  }
  [[nodiscard]] Result<std::vector<std::uint32_t>> unit_processes(const std::string& unit) override {
    return inner_->unit_processes(unit);
  }
  [[nodiscard]] ports::Capabilities probe_capabilities() override { return inner_->probe_capabilities(); }

 private:
  std::unique_ptr<ports::SystemdManager> inner_;
  ReloadCoalescer& reloads_;
};

}  // namespace siax::agent
