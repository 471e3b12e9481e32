#pragma once
/// What a caller below admin sees of an app (issue 10, item 6): environment values can be
/// secrets (API keys, database passwords), so viewers and operators see their names with
/// the values masked, in the definition and in the unit file's `Environment=` lines.
/// Admins see everything (they can set them anyway). Pure functions; any thread.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace siax::appdef {

inline constexpr std::string_view kMaskedValue = "***";

/// The definition JSON (definition_to_json) with every `environment` value replaced by
/// "***" (names kept).
[[nodiscard]] nlohmann::json redact_definition(nlohmann::json definition);

/// A unit file's text with the value of every `Environment=` assignment replaced by
/// "***": `Environment="NAME=value"` becomes `Environment="NAME=***"`. Other lines
/// unchanged (also `EnvironmentFile=`, which names a file only root can read).
[[nodiscard]] std::string redact_unit_text(std::string_view unit);

}  // namespace siax::appdef
