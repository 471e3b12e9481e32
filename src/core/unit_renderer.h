#pragma once
/// Renders an app definition into the text of its systemd unit. Pure.
///
/// Every value is validated (core/validation.h) and then escaped for systemd's
/// unit-file syntax: '%' specifiers doubled everywhere, C escapes and double
/// quotes in ExecStart=/Environment=, '$' doubled in ExecStart= (no variable
/// substitution). A value that cannot be represented safely is rejected, never
/// written.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/app_definition.h"

namespace siax::core {

/// The first line of every rendered unit; identifies files the agent owns.
inline constexpr std::string_view kManagedMarker = "# Managed by siax-agent: do not edit.";

/// The largest unit text render_unit produces (the unit store reads back at most 256 KiB).
inline constexpr std::size_t kMaxRenderedUnitBytes = 128 * 1024;

/// The unit text (InvalidInput "unit_too_large" over kMaxRenderedUnitBytes). Its second line is a checksum of everything after it
/// ("# siax-checksum: fnv1a64:<16 hex digits>"), so that a file edited by hand can be
/// told apart from one the agent wrote from an older definition (see classify_unit_file).
///
/// `environment_file` is where the app's secret environment file is (ports::SecretFileStore::path_of);
/// when the definition has secret names the unit gets `EnvironmentFile=<path>` ('%' doubled),
/// and an empty path is refused then.
[[nodiscard]] Result<std::string> render_unit(const AppDefinition& def, const Interpreters& interpreters,
                                              std::string_view environment_file = {});

/// The largest secret environment file render_environment_file produces.
inline constexpr std::size_t kMaxEnvironmentFileBytes = 128 * 1024;

/// The text of a systemd environment file (systemd.exec, EnvironmentFile=) for the
/// secret values: a comment line, then one `NAME="value"` line per variable, the value
/// double-quoted with `\`, `"`, `` ` `` and `$` backslash-escaped (systemd reads
/// them back verbatim; no variable expansion). Validates with validate_secret_environment
/// first; InvalidInput "secret_environment_too_large" over kMaxEnvironmentFileBytes.
[[nodiscard]] Result<std::string> render_environment_file(const AppDefinition& def);
/// One value of an environment file: double-quoted, `\ " ` $` backslash-escaped.
[[nodiscard]] std::string quote_environment_file_value(std::string_view value);

/// How a unit file on disk compares with what the agent would render now.
enum class UnitFileState {
  Current,  ///< identical
  Stale,    ///< written by the agent (checksum intact) from another definition or version: safe to rewrite
  Edited,   ///< carries the agent's marker but its checksum no longer matches: someone edited it by hand
  Foreign,  ///< not written by the agent at all
};
[[nodiscard]] UnitFileState classify_unit_file(std::string_view on_disk, std::string_view rendered);
[[nodiscard]] const char* to_string(UnitFileState state) noexcept;
/// The state as the API and the live state name it: "missing" when there is no file on
/// disk, else to_string(classify_unit_file(...)).
[[nodiscard]] const char* unit_file_state_name(const std::optional<std::string>& on_disk, std::string_view rendered);
/// FNV-1a, 64 bits: detects edits, it is not a security measure.
[[nodiscard]] std::uint64_t fnv1a64(std::string_view data) noexcept;

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
