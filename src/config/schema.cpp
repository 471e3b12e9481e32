// The lookups over the configuration's keys (the table itself is in schema_keys.cpp):
// by name, near-miss suggestions, values from text.
#include "config/schema.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"

namespace siax::config::detail {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::size_t typo_budget(std::string_view word) { return word.size() >= 8 ? 3 : 2; }

}  // namespace

std::string dotted(const KeyDef& k) { return fmt::format("{}.{}", k.section, k.name); }

const KeyDef* find_key(std::string_view section, std::string_view name) {
  for (const auto& k : kKeys) {
    if (k.section == section && k.name == name) return &k;
  }
  return nullptr;
}

const KeyDef* find_dotted(std::string_view key) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos) return nullptr;
  return find_key(key.substr(0, dot), key.substr(dot + 1));
}

/// " (did you mean 'server.port'?)" for a key that is close to a known one, else "".
std::string suggest_key(std::string_view section, std::string_view name) {
  const KeyDef* best = nullptr;
  std::size_t best_score = std::numeric_limits<std::size_t>::max();
  for (const auto& k : kKeys) {
    std::size_t score = edit_distance(name, k.name);
    // A shortened or extended name ("allow_root" for "allow_root_apps") is a near miss too.
    if (name.size() >= 4 && (k.name.starts_with(name) || name.starts_with(k.name)))
      score = std::min<std::size_t>(score, 1);
    score += k.section == section ? 0 : 1;  // a key in the wrong section costs one edit
    if (score < best_score) {
      best_score = score;
      best = &k;
    }
  }
  if (best && best_score <= typo_budget(name)) return fmt::format(" (did you mean '{}'?)", dotted(*best));
  return {};
}

std::string suggest_section(std::string_view section) {
  for (auto s : kSections) {
    if (edit_distance(section, s) <= 2) return fmt::format(" (did you mean [{}]?)", s);
  }
  return {};
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::String: return "a string";
    case Type::Integer: return "an integer";
    case Type::Boolean: return "a boolean (true or false)";
  }
  return "a value";
}

/// A value from the environment or the command line, by the key's type.
std::variant<Value, std::string> value_from_text(Type type, std::string_view text) {
  switch (type) {
    case Type::String: return Value{std::string(text)};
    case Type::Integer: {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        return fmt::format("must be an integer, got {}", shown(text));
      }
      return Value{v};
    }
    case Type::Boolean:
      for (auto t : {"true", "1", "yes", "on"}) {
        if (iequals(text, t)) return Value{true};
      }
      for (auto f : {"false", "0", "no", "off"}) {
        if (iequals(text, f)) return Value{false};
      }
      return fmt::format("must be a boolean (true/false, 1/0, yes/no, on/off), got {}", shown(text));
  }
  return std::string("unsupported type");
}

}  // namespace siax::config::detail
