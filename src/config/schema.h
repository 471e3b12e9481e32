#pragma once
/// Internal to src/config: the schema (one entry per key) and the lookups config.cpp's
/// loader uses. One table drives the TOML file, the environment, the validation and the
/// example file (render_default_config), so they stay in step. Not part of the API.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.h"

namespace siax::config::detail {

// The schema: one entry per key. Each entry parses, checks and stores its value, and
// renders the value for render_default_config(). Keeping all of that in one table keeps
// the file format, the environment table, the validation and the example file in step.

enum class Type { String, Integer, Boolean };
using Value = std::variant<std::string, std::int64_t, bool>;
/// Stores the value, or returns what is wrong with it (without location or key).
using ApplyFn = std::optional<std::string> (*)(Config&, const Value&);
/// The value as a TOML literal.
using RenderFn = std::string (*)(const Config&);

struct KeyDef {
  std::string_view section;
  std::string_view name;
  std::string_view env;
  Type type;
  std::string_view doc;
  ApplyFn apply;
  RenderFn render;
  /// Rendered as a commented-out example instead of a setting (optional keys).
  std::string_view example = {};
};

/// Every key of the configuration (the table is in schema_keys.cpp).
extern const std::array<KeyDef, 36> kKeys;  // NOLINT(readability-identifier-naming): a constant
inline constexpr std::array<std::string_view, 8> kSections = {"server",   "limits", "paths", "apps",
                                                              "runtimes", "log",    "cloud", "webhook"};

/// "section.name".
[[nodiscard]] std::string dotted(const KeyDef& k);
[[nodiscard]] const KeyDef* find_key(std::string_view section, std::string_view name);
/// By "section.name"; nullptr when there is no such key.
[[nodiscard]] const KeyDef* find_dotted(std::string_view key);
/// " (did you mean 'x.y'?)" for a near miss, else "".
[[nodiscard]] std::string suggest_key(std::string_view section, std::string_view name);
/// " (did you mean [x]?)" for a near miss, else "".
[[nodiscard]] std::string suggest_section(std::string_view section);
/// "a string", "an integer", ...
[[nodiscard]] std::string_view type_name(Type t);
/// `s` quoted for a message, shortened and with control characters escaped.
[[nodiscard]] std::string shown(std::string_view s);
/// A value from the environment or the command line, by the key's type; the error text
/// otherwise.
[[nodiscard]] std::variant<Value, std::string> value_from_text(Type type, std::string_view text);

}  // namespace siax::config::detail
