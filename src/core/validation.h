#pragma once
/// Syntactic checks of an app definition: what can be decided without looking at
/// the host. Each error names the field, what is wrong and how to fix it.
/// (Host checks — the user exists, the script is readable — are in units/preflight.h.)
#include <string>
#include <string_view>

#include "common/result.h"
#include "core/app_definition.h"

namespace siax::core {

/// App names: 1-64 characters from [A-Za-z0-9_-], starting with a letter or digit.
/// No dots, slashes or spaces: the name becomes part of a unit name and of paths.
[[nodiscard]] Status validate_app_name(std::string_view name);
/// Unix user names as useradd accepts them: [a-z_][a-z0-9_-]{0,31} (a trailing $ allowed).
[[nodiscard]] Status validate_user_name(std::string_view name);
/// Environment variable names: [A-Za-z_][A-Za-z0-9_]*, at most 128 characters.
[[nodiscard]] Status validate_env_name(std::string_view name);
/// An absolute, normalized path without control characters or backslashes
/// (no "." or ".." segments), at most 4096 bytes. `field` names it in the message.
[[nodiscard]] Status validate_absolute_path(std::string_view field, std::string_view path);
/// Free text that goes into a unit file: no control characters (newlines!), bounded.
[[nodiscard]] Status validate_unit_text(std::string_view field, std::string_view text, std::size_t max_len);
/// A Python "package.module:attribute" reference for uvicorn.
[[nodiscard]] Status validate_asgi_module(std::string_view module);

/// The secret environment (names and, when given, values): names as validate_env_name,
/// at most kMaxEnvVars, none also in `environment`; values valid UTF-8 without control
/// characters but tab, without U+FEFF or Unicode noncharacters, at most kMaxEnvValue bytes,
/// not the mask "***"; `secret_names` equal to the keys of `secret_values` when given.
/// Messages name the variable, never its value.
[[nodiscard]] Status validate_secret_environment(const AppDefinition& def);
/// The path of a secret environment file as the unit names it (EnvironmentFile=): absolute,
/// normalized, and none of the characters systemd would treat as a glob or a separator
/// (`*?[]`, blanks) nor a backslash or quote.
[[nodiscard]] Status validate_environment_file_path(std::string_view path);

/// Every syntactic rule for the definition, the first failure reported.
[[nodiscard]] Status validate_definition(const AppDefinition& def);

inline constexpr std::size_t kMaxArgs = 64;
inline constexpr std::size_t kMaxEnvVars = 128;
inline constexpr std::size_t kMaxEnvValue = 32 * 1024;
inline constexpr std::size_t kMaxArgLength = 4096;
inline constexpr std::size_t kMaxDescription = 256;
/// The mask the API shows for secret values; refused as a value so that a definition read
/// back from the API and sent again cannot overwrite a secret with it.
inline constexpr std::string_view kSecretMask = "***";

}  // namespace siax::core
