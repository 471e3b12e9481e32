#pragma once
/// Internal to the sd-bus adapter (sdbus_systemd*.cpp): RAII over sd-bus, the error
/// mapping and names. Not a port.
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/result.h"

namespace siax::adapters::sdbus {

inline constexpr const char* kDest = "org.freedesktop.systemd1";
inline constexpr const char* kPath = "/org/freedesktop/systemd1";
inline constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

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

inline constexpr const char* kGrantHint =
    "run the agent as root, or grant its service user the management of siax-app-* units "
    "(the polkit rule in docs/SECURITY.md)";

/// Turns a failed bus call into an error a person can act on.
inline Error bus_failure(const BusError& err, int r, std::string_view verb, const std::string& unit) {
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

inline std::string unit_object_path(const std::string& unit) {
  char* path = nullptr;
  if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path) < 0) return {};
  std::string out(path);
  std::free(path);  // NOLINT: allocated by sd-bus with malloc
  return out;
}

}  // namespace siax::adapters::sdbus
