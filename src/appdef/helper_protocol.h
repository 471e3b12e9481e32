#pragma once
/// The unit helper's wire protocol (docs/SECURITY.md, "The unit helper"): what the agent in
/// user mode sends to the root helper over its Unix socket, and what comes back. Pure: no I/O.
///
/// One request per connection: one JSON object (at most kHelperMaxRequest bytes), then the
/// client shuts down its sending side; one JSON reply, then the helper closes.
///
///   {"op": "ping"}
///   {"op": "install", "definition": {...}, "secret_environment": {"NAME": "value"}}
///   {"op": "install", "definition": {...}, "secret_names": ["NAME"]}
///   {"op": "remove" | "enable" | "disable", "app": "NAME"}
///
/// `definition` is the API's app definition (appdef::definition_from_json: unknown fields are
/// refused) without `secret_environment`. Secret values travel in `secret_environment` (an
/// empty object removes the app's secret file); without it, `secret_names` lists the names
/// the unit's EnvironmentFile= holds and the file stays as it is. Never unit text: the helper
/// validates and renders the definition itself.
///
/// Reply: {"ok": true, "result": {...}} or {"ok": false, "error": {"kind", "code", "message",
/// "details"}}; an install's result is {"unit", "path", "changed", "content"}.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/app_definition.h"

namespace siax::appdef {

inline constexpr std::size_t kHelperMaxRequest = 64 * 1024;
inline constexpr std::size_t kHelperMaxReply = 512 * 1024;  ///< an install's reply carries the unit text

enum class HelperOp { Ping, Install, Remove, Enable, Disable };
[[nodiscard]] const char* to_string(HelperOp op) noexcept;

struct HelperRequest {
  HelperOp op = HelperOp::Ping;
  core::AppDefinition definition;  ///< Install: validated (core::validate_definition)
  std::string app;                 ///< every op but Ping: a valid app name
};

/// The request as one line of JSON (with the secret values: never log it).
[[nodiscard]] std::string encode_helper_request(const HelperRequest& request);
/// Parses and validates a request: size, JSON, known op and fields only, a valid app name,
/// and for Install a definition that passes core::validate_definition. InvalidInput otherwise.
[[nodiscard]] Result<HelperRequest> parse_helper_request(std::string_view text);

[[nodiscard]] std::string encode_helper_reply(const Result<nlohmann::json>& reply);
/// The reply's result, or the error it carries (kind, code, message, details as sent). A reply
/// that is not one (too long, not JSON, wrong shape) is an Internal error.
[[nodiscard]] Result<nlohmann::json> parse_helper_reply(std::string_view text);

/// Whether a peer (SO_PEERCRED) with `uid` may use the helper: root or the agent's user.
[[nodiscard]] bool helper_peer_allowed(std::uint32_t uid, std::uint32_t agent_uid) noexcept;

/// What may be logged about a request: the op, the app, the definition's user and the
/// number of secret values (never the values).
[[nodiscard]] std::string describe_helper_request(const HelperRequest& request);

}  // namespace siax::appdef
