#pragma once
/// JSON <-> core::HealthCheck: the "health_check" object of an app definition.
///
///   {"port": 3000, "path": "/health", "expected_status": 200, "interval_ms": 10000,
///    "timeout_ms": 2000, "failures_before_unhealthy": 3, "restart_when_unhealthy": false,
///    "host": "127.0.0.1"}
///
/// or, instead of host/port/path, "url": "http://127.0.0.1:3000/health". Every field is
/// optional (defaults in core/health_check.h). Unknown fields are refused so that a typo
/// is not silently ignored. Pure functions.
#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "core/health_check.h"

namespace siax::monitor {

/// InvalidInput errors, code "invalid_health_check" (or "unknown_field"), with a
/// {"field", name} detail and a message saying what is allowed.
[[nodiscard]] Result<core::HealthCheck> parse_health_check(const nlohmann::json& body);
[[nodiscard]] nlohmann::json to_json(const core::HealthCheck& check);

/// Whether `host` is a loopback name or address: localhost, ::1, 127.x.y.z.
[[nodiscard]] bool is_loopback_host(const std::string& host);

}  // namespace siax::monitor
