#include <systemd/sd-bus.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "adapters/linux/sdbus_systemd.h"
#include "adapters/linux/sdbus_util.h"

// SdbusSystemd's reads: a unit's status (its properties), unit lists, a unit's processes,
// the capability probe. The verbs and jobs are in sdbus_systemd.cpp.

namespace siax::adapters {
namespace {

using namespace sdbus;  // NOLINT: the adapter's own helpers
using Clock = std::chrono::steady_clock;

}  // namespace

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
  if (k == "StateChangeTimestampMonotonic") return sd_bus_message_read(m, "v", "t", &st.state_change_mono_usec);
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
  // StateChangeTimestampMonotonic first: the Gets are answered one by one and a state
  // change can land between two of them; read first, it is never newer than the rest of
  // the read, so a read torn by a restart is dropped by the store as older (not taken as
  // new with a half-old state).
  static constexpr std::array<std::pair<const char*, const char*>, 16> kProperties = {{
      {kUnitIface, "StateChangeTimestampMonotonic"},
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
  {
    // One property of a unit that always exists: whether the bus policy lets us read unit
    // status (not the 16 Gets of a whole status read: this probe runs every resync interval).
    BusError err;
    char* active = nullptr;
    const int r = sd_bus_get_property_string(bus_, kDest, unit_object_path("systemd-journald.service").c_str(),
                                             kUnitIface, "ActiveState", &err.e, &active);
    std::free(active);
    caps.read_status = r >= 0;
  }
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
