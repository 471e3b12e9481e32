#pragma once
/// Reading what a client sent: the JSON body (depth-checked before parsing), flags taken
/// out of it, integer query parameters, the Content-Type. Every failure is an error value
/// with a stable code and a message saying what to send instead. Pure; any thread.
#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/message.h"

namespace siax::api {

/// Definitions nest 3 levels at most; anything deeper is refused before parsing, so no
/// recursive code (a dump in an error message, a destructor) ever sees it on the io thread.
inline constexpr std::size_t kMaxJsonDepth = 16;

/// How deeply arrays and objects nest in a JSON text (strings skipped); a linear scan,
/// no recursion, stops counting past `limit`.
[[nodiscard]] std::size_t json_depth(std::string_view text, std::size_t limit);

/// The body as JSON. Errors: InvalidInput "json_too_deep", "invalid_json".
[[nodiscard]] Result<nlohmann::json> parse_body(const http::Request& req);

/// Takes a boolean flag out of the body (it is not part of the definition); false when
/// absent. Errors: InvalidInput "invalid_field".
[[nodiscard]] Result<bool> take_flag(nlohmann::json& body, const char* key);

/// `?key=123`; nullopt when absent or not a whole number.
[[nodiscard]] std::optional<std::int64_t> query_int(const http::Request& req, const char* key);

/// Whether the header names application/json (parameters ignored, case-insensitive).
[[nodiscard]] bool is_json_content_type(std::optional<std::string_view> value);

}  // namespace siax::api
