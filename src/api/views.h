#pragma once
/// The JSON shapes the API answers with (docs/API.md has an example of each). Pure
/// functions of what the routes read; the envelope ({success, data, error}) is added by
/// http::json_success / json_failure.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/context.h"
#include "core/process_info.h"

namespace siax::api {

[[nodiscard]] nlohmann::json iso_or_null(std::int64_t usec);
/// An app as GET /api/apps lists it: systemd's view with the monitor's reconciled state.
[[nodiscard]] nlohmann::json summary_json(const ApiContext& ctx, const agent::AppView& v);
/// GET /api/apps/:name: the summary plus the definition, the unit and systemd's fields.
[[nodiscard]] nlohmann::json detail_json(const ApiContext& ctx, const agent::AppView& v);
/// GET /api/apps/:name/status before the live state is ready: systemd's view, with the
/// reconciled fields over it when the monitor has them.
[[nodiscard]] nlohmann::json status_json(const ApiContext& ctx, const agent::AppView& v);
/// The unit file as on disk and as rendered, with its drift state; values of
/// Environment= masked unless `admin`.
[[nodiscard]] nlohmann::json unit_file_json(const std::optional<std::string>& on_disk, const std::string& rendered,
                                            bool admin);

[[nodiscard]] nlohmann::json system_json(const ApiContext& ctx, const units::Permissions& p);
[[nodiscard]] nlohmann::json monitor_stats_json(const agent::MonitorStats& m);
[[nodiscard]] nlohmann::json audit_entry_json(const registry::AuditEntry& e);
[[nodiscard]] nlohmann::json event_json(const registry::EventRecord& e);
/// A process of GET /api/scan, with the app it belongs to and whether it is watched.
[[nodiscard]] nlohmann::json scanned_process_json(const core::ProcessInfo& p, const std::set<std::string>& monitored_keys);
/// A watched process of GET /api/monitored, with its last state when the monitor has one.
[[nodiscard]] nlohmann::json monitored_json(const registry::MonitoredProcess& m,
                                           const monitor::MonitoredState* state);

}  // namespace siax::api
