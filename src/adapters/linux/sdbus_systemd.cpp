#include "adapters/linux/sdbus_systemd.h"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "adapters/linux/sdbus_util.h"

namespace siax::adapters {
namespace {

using namespace sdbus;  // NOLINT: the adapter's own helpers
using Clock = std::chrono::steady_clock;

}  // namespace

Result<std::unique_ptr<SdbusSystemd>> SdbusSystemd::connect(Options options) {
  sd_bus* bus = nullptr;
  int r = sd_bus_open_system(&bus);
  if (r < 0) {
    return fail(ErrorKind::Unavailable, "systemd_unavailable",
                fmt::format("cannot connect to the system bus ({}): is systemd running as PID 1 with D-Bus? "
                            "On a host without it, use the sandbox (scripts/run.sh)",
                            std::strerror(-r)));
  }
  std::unique_ptr<SdbusSystemd> self(new SdbusSystemd(bus, options));
  // JobRemoved tells us when a job ends; Subscribe makes systemd emit it to us.
  r = sd_bus_match_signal(bus, &self->job_removed_slot_, kDest, kPath, kManager, "JobRemoved",
                          &SdbusSystemd::on_job_removed, self.get());
  if (r < 0) {
    return fail(ErrorKind::Unavailable, "systemd_unavailable",
                fmt::format("cannot subscribe to systemd's job signals: {}", std::strerror(-r)));
  }
  BusError err;
  r = sd_bus_call_method(bus, kDest, kPath, kManager, "Subscribe", &err.e, nullptr, "");
  if (r < 0) {
    auto e = bus_failure(err, r, "subscribe to", "systemd");
    if (e.kind != ErrorKind::PermissionDenied) {
      e.kind = ErrorKind::Unavailable;
      e.code = "systemd_unavailable";
      return tl::unexpected(e);
    }
    // An unprivileged caller may be refused Subscribe on old systemd; job signals are still broadcast.
  }
  return self;
}

SdbusSystemd::SdbusSystemd(sd_bus* bus, Options options) : bus_(bus), options_(options) {}

bool SdbusSystemd::is_open() const {
  // A connection the bus closed while this thread was idle (dbus restarted) still reads as
  // open until something is read from it: take in what is pending first (non-blocking).
  for (int i = 0; i < 64 && sd_bus_process(bus_, nullptr) > 0; ++i) {
  }
  return sd_bus_is_open(bus_) > 0;
}

bool SdbusSystemd::answers() const {
  if (!is_open()) return false;
  // GetId of the bus daemon itself: every client may call it, and it does not touch
  // systemd. (Peer.Ping to the daemon is refused by the policy of Debian's dbus: that
  // made this false every time, and every idle thread opened a new connection, with
  // systemd's Subscribe, on each use: once per monitor cycle.)
  sd_bus_error err = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  const int r = sd_bus_call_method(bus_, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "GetId", &err, &reply, "");
  sd_bus_message_unref(reply);
  // Any answer of the daemon (even a refusal) proves the connection alive.
  const bool answered = r >= 0 || (sd_bus_error_is_set(&err) && !sd_bus_error_has_name(&err, SD_BUS_ERROR_NO_REPLY) &&
                                   !sd_bus_error_has_name(&err, SD_BUS_ERROR_DISCONNECTED) &&
                                   !sd_bus_error_has_name(&err, SD_BUS_ERROR_TIMEOUT));
  sd_bus_error_free(&err);
  return answered && is_open();
}

SdbusSystemd::~SdbusSystemd() {
  sd_bus_slot_unref(job_removed_slot_);
  sd_bus_flush_close_unref(bus_);
}

int SdbusSystemd::on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error* /*ret_error*/) {
  auto* self = static_cast<SdbusSystemd*>(userdata);
  std::uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
  if (path != nullptr && self->awaited_job_ == path) {
    self->awaited_job_done_ = true;
    self->awaited_job_result_ = result != nullptr ? result : "";
  }
  return 0;
}

Result<std::string> SdbusSystemd::wait_for_job(const std::string& job_path, const std::string& unit) {
  awaited_job_ = job_path;
  awaited_job_done_ = false;
  const auto deadline = Clock::now() + options_.job_timeout;
  while (!awaited_job_done_) {
    int r = sd_bus_process(bus_, nullptr);
    if (r < 0) {
      awaited_job_.clear();
      return fail(ErrorKind::Unavailable, "systemd_unavailable",
                  fmt::format("lost the system bus while waiting for {}'s job: {}", unit, std::strerror(-r)));
    }
    if (r > 0) continue;  // more to process before waiting
    auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      awaited_job_.clear();
      return fail(ErrorKind::Timeout, "job_timeout",
                  fmt::format("systemd's job for {} did not finish within {} ms; it goes on in the background: "
                              "check the unit's status and log",
                              unit, options_.job_timeout.count()));
    }
    r = sd_bus_wait(bus_, static_cast<std::uint64_t>(remaining.count()));
    if (r < 0 && r != -EINTR) {
      awaited_job_.clear();
      return fail(ErrorKind::Unavailable, "systemd_unavailable",
                  fmt::format("lost the system bus while waiting for {}'s job: {}", unit, std::strerror(-r)));
    }
  }
  awaited_job_.clear();
  return awaited_job_result_;
}

namespace {

Error start_failure(const std::string& unit, const core::UnitStatus& st, const std::string& job_result) {
  std::vector<std::pair<std::string, std::string>> details = {
      {"job_result", job_result},
      {"active_state", st.active_state},
      {"sub_state", st.sub_state},
      {"result", st.result},
      {"exit_code", core::to_string(st.exec_main_code)},
      {"exit_status", std::to_string(st.exec_main_status)},
  };
  return Error{ErrorKind::OperationFailed, "start_failed",
               fmt::format("{} failed to start: {}. Its log: journalctl -u {} -n 50", unit, st.failure_summary(),
                           unit),
               std::move(details)};
}

}  // namespace

Status SdbusSystemd::watch_start(const std::string& unit) {
  const auto deadline = Clock::now() + options_.start_settle;
  while (true) {
    auto st = status(unit);
    if (!st) return tl::unexpected(st.error());
    auto phase = st->phase();
    bool exited_badly = phase == core::UnitPhase::Inactive && st->exec_main_code != core::ExitCode::None &&
                        !(st->exec_main_code == core::ExitCode::Exited && st->exec_main_status == 0);
    if (phase == core::UnitPhase::Failed || phase == core::UnitPhase::AutoRestart || exited_badly) {
      return tl::unexpected(start_failure(unit, *st, "done"));
    }
    if (Clock::now() >= deadline) return ok();
    // Polling is bounded by the settle window (0.5 s by default): 20 status reads at most.
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

Status SdbusSystemd::run_job(const char* method, const char* verb, const std::string& unit, bool settle) {
  BusError err;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call_method(bus_, kDest, kPath, kManager, method, &err.e, &raw, "ss", unit.c_str(), "replace");
  MessagePtr reply(raw);
  if (r < 0) return tl::unexpected(bus_failure(err, r, verb, unit));
  const char* job = nullptr;
  if ((r = sd_bus_message_read(reply.get(), "o", &job)) < 0) {
    return fail(ErrorKind::Internal, "bus_protocol", fmt::format("unexpected reply to {}: {}", method, std::strerror(-r)));
  }
  auto result = wait_for_job(job, unit);
  if (!result) return tl::unexpected(result.error());
  if (*result != "done") {
    auto st = status(unit);
    if (!st) return tl::unexpected(st.error());
    auto e = start_failure(unit, *st, *result);
    e.code = fmt::format("{}_failed", verb);
    e.message = fmt::format("systemd's {} job for {} ended with '{}': {}. Its log: journalctl -u {} -n 50", verb,
                            unit, *result, st->failure_summary(), unit);
    return tl::unexpected(e);
  }
  // With no settle window, one status read still reports a process that already died.
  if (settle) return watch_start(unit);
  return ok();
}

Status SdbusSystemd::start(const std::string& unit) { return run_job("StartUnit", "start", unit, true); }
Status SdbusSystemd::stop(const std::string& unit) {
  auto s = run_job("StopUnit", "stop", unit, false);
  // Stopping what is not loaded is already done.
  if (!s && s.error().kind == ErrorKind::NotFound) return ok();
  return s;
}
Status SdbusSystemd::restart(const std::string& unit) { return run_job("RestartUnit", "restart", unit, true); }

Status SdbusSystemd::daemon_reload() {
  BusError err;
  int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "Reload", &err.e, nullptr, "");
  if (r < 0) {
    auto e = bus_failure(err, r, "reload", "systemd's unit files");
    if (e.kind == ErrorKind::PermissionDenied) e.details = {{"missing_right", "reload"}};
    return tl::unexpected(e);
  }
  return ok();
}

Status SdbusSystemd::enable(const std::string& unit) {
  BusError err;
  sd_bus_message* call_raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call_raw, kDest, kPath, kManager, "EnableUnitFiles");
  MessagePtr call(call_raw);
  if (r >= 0) r = sd_bus_message_append(call.get(), "as", 1, unit.c_str());
  if (r >= 0) r = sd_bus_message_append(call.get(), "bb", 0, 1);  // runtime=false, force=true
  if (r < 0) return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  sd_bus_message* reply = nullptr;
  r = sd_bus_call(bus_, call.get(), 0, &err.e, &reply);
  MessagePtr reply_ptr(reply);
  if (r < 0) {
    auto e = bus_failure(err, r, "enable", unit);
    if (e.kind == ErrorKind::PermissionDenied) e.details = {{"missing_right", "manage_unit_files"}};
    return tl::unexpected(e);
  }
  return ok();
}

Status SdbusSystemd::disable(const std::string& unit) {
  BusError err;
  sd_bus_message* call_raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call_raw, kDest, kPath, kManager, "DisableUnitFiles");
  MessagePtr call(call_raw);
  if (r >= 0) r = sd_bus_message_append(call.get(), "as", 1, unit.c_str());
  if (r >= 0) r = sd_bus_message_append(call.get(), "b", 0);
  if (r < 0) return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  sd_bus_message* reply = nullptr;
  r = sd_bus_call(bus_, call.get(), 0, &err.e, &reply);
  MessagePtr reply_ptr(reply);
  if (r < 0) {
    auto e = bus_failure(err, r, "disable", unit);
    if (e.kind == ErrorKind::PermissionDenied) e.details = {{"missing_right", "manage_unit_files"}};
    if (e.kind == ErrorKind::NotFound) return ok();  // no unit file: nothing to disable
    return tl::unexpected(e);
  }
  return ok();
}

Status SdbusSystemd::reset_failed(const std::string& unit) {
  BusError err;
  int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "ResetFailedUnit", &err.e, nullptr, "s", unit.c_str());
  if (r < 0) {
    auto e = bus_failure(err, r, "reset the failed state of", unit);
    if (e.kind == ErrorKind::NotFound) return ok();
    return tl::unexpected(e);
  }
  return ok();
}


}  // namespace siax::adapters
