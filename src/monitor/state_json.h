#pragma once
/// JSON for the monitor's states and events (API, WebSocket, cloud reports). Field names
/// follow the previous agent where they fit (name, status, pid, cpu_usage, memory_usage,
/// systemd_status, last_updated). Pure functions.
#include <nlohmann/json_fwd.hpp>

#include "monitor/app_state.h"
#include "monitor/events.h"

namespace siax::monitor {

/// {"name", "status", "reason", "pid" (null when none), "pids", "stray_pids",
///  "cpu_usage" (percent, 100 = one core), "memory_usage" (bytes), "memory_source"
///  ("systemd"|"proc"), "uptime_seconds" (null when not active), "restart_count",
///  "last_exit" (null when none), "result", "systemd_status" ("active (running)", null when
///  systemd is unreachable), "load_state", "active_state", "sub_state", "health" (null
///  without a check: {"state", "consecutive_failures", "last_error", "last_checked",
///  "latency_ms"}), "ports", "last_updated" (µs since the epoch)}
[[nodiscard]] nlohmann::json to_json(const AppState& state);
[[nodiscard]] nlohmann::json to_json(const HealthView& health);
/// {"key", "name", "status", "pid", "pids", "cpu_usage", "memory_usage", "uptime_seconds",
///  "ports", "last_updated"}
[[nodiscard]] nlohmann::json to_json(const MonitoredState& state);
/// {"at" (µs since the epoch), "app", "kind", "severity", "message"}
[[nodiscard]] nlohmann::json to_json(const Event& event);

}  // namespace siax::monitor
