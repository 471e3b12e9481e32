#pragma once
/// The wire contract with the cloud, as pure functions: request paths, request bodies,
/// and the parsing of replies. docs/CLOUD.md documents every request and payload; keep
/// the two in step.
///
/// Known from the cloud (BRIEF.md): GET/POST /api/apps_servcs/apps, PUT
/// /api/apps_servcs/apps/:id/status, header x-api-key, integer ids, a record is
/// identified by app name + server. Field names are ours (the previous agent's names
/// where they fit). The events endpoint is our proposal.
///
/// Threading: pure functions.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace siax::cloud {

inline constexpr std::string_view kAppsPath = "/api/apps_servcs/apps";
/// App names longer than this are refused before they reach the outbox.
inline constexpr std::size_t kMaxAppNameBytes = 256;

/// RFC 3986 percent-encoding: everything but ALPHA / DIGIT / "-" / "." / "_" / "~".
[[nodiscard]] std::string url_encode(std::string_view text);

/// "/api/apps_servcs/apps?name=<name>&server=<server>" (both encoded).
[[nodiscard]] std::string lookup_path(std::string_view name, std::string_view server);
/// "/api/apps_servcs/apps/<id>/status".
[[nodiscard]] std::string status_path(std::int64_t id);
/// "/api/apps_servcs/apps/<id>/events" (our proposal).
[[nodiscard]] std::string events_path(std::int64_t id);

/// The "name" of a state or event: a non-empty string of at most kMaxAppNameBytes.
/// InvalidInput "invalid_cloud_report" otherwise.
[[nodiscard]] Result<std::string> app_name_of(const nlohmann::json& report);

/// "2024-05-01T12:00:00Z" (UTC, second precision).
[[nodiscard]] std::string iso8601_utc(std::chrono::system_clock::time_point t);

/// Whether `after` differs from `before` in what the cloud must hear at once: status,
/// pid, systemd_status, restart_count, reason/failure. CPU, memory and uptime move all
/// the time and wait for the heartbeat.
[[nodiscard]] bool significant_change(const nlohmann::json& before, const nlohmann::json& after);

/// Body of POST /api/apps_servcs/apps, from the agent's state of the app.
[[nodiscard]] nlohmann::json create_body(const nlohmann::json& state, std::string_view server);

/// Body of PUT .../:id/status. `now` becomes last_updated; `last_event` (null when
/// none) is the app's most recent event.
[[nodiscard]] nlohmann::json status_body(const nlohmann::json& state, std::string_view server,
                                         std::chrono::system_clock::time_point now,
                                         const nlohmann::json& last_event);

/// Body of POST .../:id/events: the event as reported, plus "server".
[[nodiscard]] nlohmann::json event_body(const nlohmann::json& event, std::string_view server);

/// The id of the record named `name` on `server` in a lookup reply; nullopt when there
/// is none. Accepts a JSON array of records, {"data": [...]}, {"data": {record}},
/// {"apps": [...]} or a single record. When several records match (duplicates left by
/// the previous agent) the smallest id wins, so every agent picks the same one.
/// InvalidInput "cloud_reply_invalid" when the body is none of these.
[[nodiscard]] Result<std::optional<std::int64_t>> parse_lookup(std::string_view body, std::string_view name,
                                                               std::string_view server);

/// The id in a create reply: {"id": N}, {"data": {"id": N}} ("app_id" is accepted too,
/// and ids as digit strings). nullopt when the reply has none (the caller looks up).
[[nodiscard]] std::optional<std::int64_t> parse_created_id(std::string_view body);

}  // namespace siax::cloud
