#pragma once
/// Renders an app definition into the text of its systemd unit. Pure.
///
/// Every value is validated (core/validation.h) and then escaped for systemd's
/// unit-file syntax: '%' specifiers doubled everywhere, C escapes and double
/// quotes in ExecStart=/Environment=, '$' doubled in ExecStart= (no variable
/// substitution). A value that cannot be represented safely is rejected, never
/// written.
#include <string>
#include <string_view>

#include "common/result.h"
#include "core/app_definition.h"

namespace siax::core {

/// The first line of every rendered unit; identifies files the agent owns.
inline constexpr std::string_view kManagedMarker = "# Managed by siax-agent: do not edit.";

[[nodiscard]] Result<std::string> render_unit(const AppDefinition& def, const Interpreters& interpreters);

/// The absolute executable and arguments of the app's main process.
[[nodiscard]] std::vector<std::string> exec_command(const AppDefinition& def, const Interpreters& interpreters);

/// One ExecStart= word: double-quoted, with '\\', '"', control characters C-escaped,
/// '%' as "%%" and '$' as "$$".
[[nodiscard]] std::string quote_exec_word(std::string_view word);
/// One Environment= assignment, double-quoted: "NAME=value" with C escapes and "%%".
[[nodiscard]] std::string quote_environment(std::string_view name, std::string_view value);
/// A raw value (paths, description): '%' doubled. Callers have rejected control characters.
[[nodiscard]] std::string escape_specifiers(std::string_view value);

}  // namespace siax::core
