#pragma once
/// ASCII string helpers shared by every module (header names, config booleans, roles,
/// HTTP header values). ASCII only on purpose: protocol tokens are ASCII, and a
/// locale-dependent comparison would make the agent's answers depend on its environment.
#include <string_view>

namespace siax {

/// 'A'..'Z' to 'a'..'z'; every other byte unchanged.
[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Equal ignoring ASCII case.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

/// `s` without the leading and trailing bytes found in `chars` (spaces and tabs unless
/// told otherwise).
[[nodiscard]] constexpr std::string_view trim(std::string_view s, std::string_view chars = " \t") noexcept {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

/// `s` without the leading bytes found in `chars`.
[[nodiscard]] constexpr std::string_view ltrim(std::string_view s, std::string_view chars = " \t") noexcept {
  const auto first = s.find_first_not_of(chars);
  return first == std::string_view::npos ? std::string_view{} : s.substr(first);
}

/// True when `s` begins with `prefix`, ASCII case-insensitively.
[[nodiscard]] constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace siax
