#include "adapters/linux/sdbus_systemd.h"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace siax::adapters {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

using Clock = std::chrono::steady_clock;

/// RAII for sd_bus_error and sd_bus_message.
struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  BusError() = default;
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  ~BusError() { sd_bus_error_free(&e); }
  [[nodiscard]] std::string text(int r) const {
    if (e.name != nullptr) return fmt::format("{}: {}", e.name, e.message != nullptr ? e.message : "");
    return std::strerror(-r);
  }
};
struct MessageDeleter {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageDeleter>;

const char* kGrantHint =
    "run the agent as root, or grant its service user the management of siax-app-* units "
    "(the polkit rule in docs/SECURITY.md)";

/// Turns a failed bus call into an error a person can act on.
Error bus_failure(const BusError& err, int r, std::string_view verb, const std::string& unit) {
  const char* name = err.e.name;
  auto has = [&](const char* n) { return name != nullptr && std::strcmp(name, n) == 0; };
  if (has(SD_BUS_ERROR_ACCESS_DENIED) || has(SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) || r == -EACCES ||
      r == -EPERM) {
    return Error{ErrorKind::PermissionDenied, "permission_denied",
                 fmt::format("the agent is not allowed to {} {} ({}): {}", verb, unit, err.text(r), kGrantHint),
                 {{"missing_right", "manage_units"}}};
  }
  if (has("org.freedesktop.systemd1.NoSuchUnit") || has(SD_BUS_ERROR_FILE_NOT_FOUND) || r == -ENOENT) {
    return Error{ErrorKind::NotFound, "unit_not_found",
                 fmt::format("cannot {} {}: systemd knows no such unit ({})", verb, unit, err.text(r)),
                 {}};
  }
  if (r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED || r == -ETIMEDOUT || has(SD_BUS_ERROR_NO_REPLY) ||
      has(SD_BUS_ERROR_SERVICE_UNKNOWN) || has(SD_BUS_ERROR_DISCONNECTED)) {
    return Error{ErrorKind::Unavailable, "systemd_unavailable",
                 fmt::format("cannot {} {}: systemd did not answer on the system bus ({})", verb, unit, err.text(r)),
                 {}};
  }
  return Error{ErrorKind::OperationFailed, "systemd_error",
               fmt::format("systemd refused to {} {}: {}", verb, unit, err.text(r)), {}};
}

std::string unit_object_path(const std::string& unit) {
  char* path = nullptr;
  if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path) < 0) return {};
  std::string out(path);
  std::free(path);  // NOLINT: allocated by sd-bus with malloc
  return out;
}

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
  sd_bus_error err = SD_BUS_ERROR_NULL;
  const int r = sd_bus_call_method(bus_, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Peer",
                                   "Ping", &err, nullptr, "");
  sd_bus_error_free(&err);
  return r >= 0 && is_open();
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

namespace {

/// One property of a pipelined status read: where it lives and where it goes.
struct PropertyCall {
  const char* interface = nullptr;
  const char* name = nullptr;
  core::UnitStatus* status = nullptr;
  int* outstanding = nullptr;
  int error = 0;              ///< negative errno of a failed reply
  std::string error_name;     ///< D-Bus error name of a failed reply
};

constexpr const char* kUnitIface = "org.freedesktop.systemd1.Unit";
constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";

int store_property(sd_bus_message* m, const char* name, core::UnitStatus& st) {
  std::string_view k(name);
  auto read_string = [&](std::string& out) {
    const char* v = nullptr;
    int r = sd_bus_message_read(m, "v", "s", &v);
    if (r >= 0 && v != nullptr) out = v;
    return r;
  };
  auto read_optional_u64 = [&](std::optional<std::uint64_t>& out) {
    std::uint64_t v = 0;
    int r = sd_bus_message_read(m, "v", "t", &v);
    if (r >= 0 && v != UINT64_MAX) out = v;
    return r;
  };
  if (k == "Id") return read_string(st.unit);
  if (k == "Description") return read_string(st.description);
  if (k == "LoadState") return read_string(st.load_state);
  if (k == "ActiveState") return read_string(st.active_state);
  if (k == "SubState") return read_string(st.sub_state);
  if (k == "UnitFileState") return read_string(st.unit_file_state);
  if (k == "Result") return read_string(st.result);
  if (k == "ControlGroup") return read_string(st.control_group);
  if (k == "StateChangeTimestamp") return sd_bus_message_read(m, "v", "t", &st.state_change_usec);
  if (k == "MainPID") return sd_bus_message_read(m, "v", "u", &st.main_pid);
  if (k == "NRestarts") return sd_bus_message_read(m, "v", "u", &st.restart_count);
  if (k == "ExecMainStatus") return sd_bus_message_read(m, "v", "i", &st.exec_main_status);
  if (k == "MemoryCurrent") return read_optional_u64(st.memory_current_bytes);
  if (k == "CPUUsageNSec") return read_optional_u64(st.cpu_usage_nsec);
  if (k == "ExecMainCode") {
    int code = 0;
    int r = sd_bus_message_read(m, "v", "i", &code);
    // waitid(2) si_code: CLD_EXITED=1, CLD_KILLED=2, CLD_DUMPED=3
    st.exec_main_code = code == 1   ? core::ExitCode::Exited
                        : code == 2 ? core::ExitCode::Killed
                        : code == 3 ? core::ExitCode::Dumped
                                    : core::ExitCode::None;
    return r;
  }
  return 0;
}

int on_property(sd_bus_message* m, void* userdata, sd_bus_error* /*ret_error*/) {
  auto* call = static_cast<PropertyCall*>(userdata);
  --*call->outstanding;
  if (const sd_bus_error* e = sd_bus_message_get_error(m); e != nullptr) {
    call->error = -sd_bus_message_get_errno(m);
    call->error_name = e->name != nullptr ? e->name : "";
    if (call->error == 0) call->error = -EIO;
    return 0;
  }
  int r = store_property(m, call->name, *call->status);
  if (r < 0) call->error = r;
  return 0;
}

}  // namespace

Result<core::UnitStatus> SdbusSystemd::status(const std::string& unit) {
  const std::string path = unit_object_path(unit);
  if (path.empty()) return fail(ErrorKind::InvalidInput, "invalid_unit", fmt::format("'{}' is not a unit name", unit));
  core::UnitStatus st;
  st.unit = unit;
  // Only the properties the model needs, asked all at once: GetAll on a service returns
  // some 250 properties and costs systemd milliseconds per unit (docs/PERFORMANCE.md).
  int outstanding = 0;
  static constexpr std::array<std::pair<const char*, const char*>, 15> kProperties = {{
      {kUnitIface, "Id"}, {kUnitIface, "Description"}, {kUnitIface, "LoadState"}, {kUnitIface, "ActiveState"},
      {kUnitIface, "SubState"}, {kUnitIface, "UnitFileState"}, {kUnitIface, "StateChangeTimestamp"},
      {kServiceIface, "Result"}, {kServiceIface, "ControlGroup"}, {kServiceIface, "MainPID"},
      {kServiceIface, "NRestarts"}, {kServiceIface, "ExecMainCode"}, {kServiceIface, "ExecMainStatus"},
      {kServiceIface, "MemoryCurrent"}, {kServiceIface, "CPUUsageNSec"},
  }};
  std::array<PropertyCall, kProperties.size()> calls{};
  // Each pending call holds a slot; dropping the slots on return cancels any reply still
  // in flight, so no callback can touch `st` after this function returns.
  struct Slots {
    std::array<sd_bus_slot*, kProperties.size()> s{};
    ~Slots() {
      for (auto* slot : s) sd_bus_slot_unref(slot);
    }
  } slots;
  int r = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    auto& c = calls[i];
    c.interface = kProperties[i].first;
    c.name = kProperties[i].second;
    c.status = &st;
    c.outstanding = &outstanding;
    r = sd_bus_call_method_async(bus_, &slots.s[i], kDest, path.c_str(), "org.freedesktop.DBus.Properties", "Get",
                                 on_property, &c, "ss", c.interface, c.name);
    if (r < 0) break;
    ++outstanding;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(25);
  while (outstanding > 0 && r >= 0) {
    r = sd_bus_process(bus_, nullptr);
    if (r != 0) continue;
    auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      r = -ETIMEDOUT;
      break;
    }
    r = sd_bus_wait(bus_, static_cast<std::uint64_t>(remaining.count()));
    if (r == -EINTR) r = 0;
  }
  if (r < 0) {
    return fail(ErrorKind::Unavailable, "systemd_unavailable",
                fmt::format("lost the system bus while reading {}'s status: {}", unit, std::strerror(-r)));
  }
  for (const auto& c : calls) {
    if (c.error == 0) continue;
    // Not a service (a socket, a target): only the Unit properties exist.
    if (std::string_view(c.interface) == kServiceIface &&
        (c.error_name == SD_BUS_ERROR_UNKNOWN_INTERFACE || c.error_name == SD_BUS_ERROR_UNKNOWN_PROPERTY)) {
      continue;
    }
    BusError err;
    sd_bus_error_set(&err.e, c.error_name.empty() ? nullptr : c.error_name.c_str(), std::strerror(-c.error));
    auto e = bus_failure(err, c.error, "read the status of", unit);
    if (e.kind == ErrorKind::PermissionDenied) e.details = {{"missing_right", "read_status"}};
    return tl::unexpected(e);
  }
  return st;
}

namespace {

/// Calls a Manager method taking (states: as = any, patterns: as = {pattern}); its reply.
Result<MessagePtr> call_by_pattern(sd_bus* bus, const char* method, const std::string& pattern, const char* verb) {
  BusError err;
  sd_bus_message* call_raw = nullptr;
  int r = sd_bus_message_new_method_call(bus, &call_raw, kDest, kPath, kManager, method);
  MessagePtr call(call_raw);
  if (r >= 0) r = sd_bus_message_append(call.get(), "as", 0);  // any state
  if (r >= 0) r = sd_bus_message_append(call.get(), "as", 1, pattern.c_str());
  if (r < 0) return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  sd_bus_message* raw = nullptr;
  r = sd_bus_call(bus, call.get(), 0, &err.e, &raw);
  MessagePtr reply(raw);
  if (r < 0) return tl::unexpected(bus_failure(err, r, verb, pattern));
  return reply;
}

}  // namespace

Result<std::vector<ports::UnitListEntry>> SdbusSystemd::list_unit_states(const std::string& pattern) {
  auto reply = call_by_pattern(bus_, "ListUnitsByPatterns", pattern, "list");
  if (!reply) return tl::unexpected(reply.error());
  int r = 0;
  if ((r = sd_bus_message_enter_container(reply->get(), 'a', "(ssssssouso)")) < 0) {
    return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  }
  std::vector<ports::UnitListEntry> out;
  const char* name = nullptr;
  const char* load = nullptr;
  const char* active = nullptr;
  const char* sub = nullptr;
  while ((r = sd_bus_message_read(reply->get(), "(ssssssouso)", &name, nullptr, &load, &active, &sub, nullptr, nullptr,
                                  nullptr, nullptr, nullptr)) > 0) {
    out.push_back({name, load, active, sub});
  }
  if (r < 0) return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  return out;
}

Result<std::vector<std::string>> SdbusSystemd::list_units(const std::string& pattern) {
  std::vector<std::string> names;
  {
    auto loaded = list_unit_states(pattern);
    if (!loaded) return tl::unexpected(loaded.error());
    for (auto& e : *loaded) names.push_back(std::move(e.unit));
  }
  {
    auto reply = call_by_pattern(bus_, "ListUnitFilesByPatterns", pattern, "list the unit files");
    if (!reply) return tl::unexpected(reply.error());
    int r = 0;
    if ((r = sd_bus_message_enter_container(reply->get(), 'a', "(ss)")) < 0) {
      return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
    }
    const char* file = nullptr;
    const char* state = nullptr;
    while ((r = sd_bus_message_read(reply->get(), "(ss)", &file, &state)) > 0) {
      std::string_view f(file);
      auto slash = f.rfind('/');
      names.emplace_back(slash == std::string_view::npos ? f : f.substr(slash + 1));
    }
    if (r < 0) return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<std::vector<std::uint32_t>> SdbusSystemd::unit_processes(const std::string& unit) {
  BusError err;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "GetUnitProcesses", &err.e, &raw, "s", unit.c_str());
  MessagePtr reply(raw);
  std::vector<std::uint32_t> pids;
  if (r < 0) {
    auto e = bus_failure(err, r, "list the processes of", unit);
    if (e.kind == ErrorKind::NotFound) return pids;  // not loaded: no processes
    return tl::unexpected(e);
  }
  if ((r = sd_bus_message_enter_container(reply.get(), 'a', "(sus)")) < 0) {
    return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  }
  const char* cgroup = nullptr;
  std::uint32_t pid = 0;
  const char* cmdline = nullptr;
  while ((r = sd_bus_message_read(reply.get(), "(sus)", &cgroup, &pid, &cmdline)) > 0) pids.push_back(pid);
  if (r < 0) return fail(ErrorKind::Internal, "bus_protocol", std::strerror(-r));
  return pids;
}

ports::Capabilities SdbusSystemd::probe_capabilities() {
  ports::Capabilities caps;
  {
    BusError err;
    sd_bus_message* raw = nullptr;
    int r = sd_bus_get_property(bus_, kDest, kPath, kManager, "Version", &err.e, &raw, "s");
    MessagePtr reply(raw);
    caps.systemd_reachable = r >= 0;
    if (!caps.systemd_reachable) {
      caps.manage_units_reason = fmt::format("systemd does not answer on the system bus: {}", err.text(r));
      return caps;
    }
  }
  caps.read_status = status("systemd-journald.service").has_value();
  if (geteuid() == 0) {
    caps.manage_units = true;
    caps.manage_units_reason = "running as root";
    return caps;
  }
  // Ask systemd itself, so that polkit rules scoped to siax-app-* units are honoured:
  // stopping a unit that cannot exist (".probe" is not a valid app name) passes the
  // authorization check first and then fails with "no such unit" when we are allowed;
  // without the right, systemd refuses before looking the unit up. Nothing stops. (Not a
  // start: the rule allows starts only of units with a file, see docs/SECURITY.md.)
  BusError err;
  int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "StopUnit", &err.e, nullptr, "ss",
                             "siax-app-.probe.service", "replace");
  auto e = bus_failure(err, r, "stop", "siax-app-* units");
  if (r >= 0 || e.kind == ErrorKind::NotFound) {
    caps.manage_units = true;
    caps.manage_units_reason = "granted (polkit rule for siax-app-* units)";
  } else if (e.kind == ErrorKind::PermissionDenied) {
    caps.manage_units_reason = fmt::format("systemd refuses ({}): {}", err.text(r), kGrantHint);
  } else {
    caps.manage_units_reason = fmt::format("cannot tell: {}", e.message);
  }
  return caps;
}

}  // namespace siax::adapters
