#include "appdef/redact.h"

namespace siax::appdef {

nlohmann::json redact_definition(nlohmann::json definition) {
  if (!definition.is_object()) return definition;
  auto it = definition.find("environment");
  if (it == definition.end() || !it->is_object()) return definition;
  for (auto& [name, value] : it->items()) value = std::string(kMaskedValue);
  return definition;
}

namespace {

/// `"NAME=value" "OTHER=v2"` or `NAME=value` (systemd's forms) with the values masked.
std::string redact_assignments(std::string_view rest) {
  std::string out;
  std::size_t i = 0;
  while (i < rest.size()) {
    if (rest[i] == ' ' || rest[i] == '\t') {
      out += rest[i++];
      continue;
    }
    const bool quoted = rest[i] == '"' || rest[i] == '\'';
    const char quote = quoted ? rest[i] : ' ';
    std::size_t j = quoted ? i + 1 : i;
    // The word ends at its closing quote (past backslash escapes) or the next blank.
    while (j < rest.size()) {
      if (quoted && rest[j] == '\\' && j + 1 < rest.size()) {
        j += 2;
        continue;
      }
      if (quoted ? rest[j] == quote : (rest[j] == ' ' || rest[j] == '\t')) break;
      ++j;
    }
    std::string_view word = rest.substr(quoted ? i + 1 : i, j - (quoted ? i + 1 : i));
    const auto eq = word.find('=');
    std::string masked = eq == std::string_view::npos ? std::string(word)
                                                      : std::string(word.substr(0, eq + 1)) + std::string(kMaskedValue);
    if (quoted) {
      out += quote;
      out += masked;
      out += quote;
      i = j < rest.size() ? j + 1 : j;
    } else {
      out += masked;
      i = j;
    }
  }
  return out;
}

}  // namespace

std::string redact_unit_text(std::string_view unit) {
  std::string out;
  out.reserve(unit.size());
  constexpr std::string_view kKey = "Environment=";
  while (!unit.empty()) {
    const auto nl = unit.find('\n');
    std::string_view line = unit.substr(0, nl);
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    if (trimmed.starts_with(kKey)) {
      out += line.substr(0, line.size() - trimmed.size());
      out += kKey;
      out += redact_assignments(trimmed.substr(kKey.size()));
    } else {
      out += line;
    }
    if (nl == std::string_view::npos) break;
    out += '\n';
    unit.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace siax::appdef
