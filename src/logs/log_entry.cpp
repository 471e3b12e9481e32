#include "logs/log_entry.h"

#include <array>
#include <cctype>

namespace siax::logs {

std::string_view level_name(int priority) noexcept {
  static constexpr std::array<std::string_view, 8> kNames = {"emerg",   "alert",  "crit", "error",
                                                             "warning", "notice", "info", "debug"};
  if (priority < 0) priority = 0;
  if (priority > 7) priority = 7;
  return kNames[static_cast<std::size_t>(priority)];
}

std::optional<int> parse_level(std::string_view text) noexcept {
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') return text[0] - '0';
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Alias {
    std::string_view name;
    int priority;
  };
  static constexpr std::array<Alias, 16> kAliases = {{{"emerg", 0},
                                                      {"emergency", 0},
                                                      {"panic", 0},
                                                      {"alert", 1},
                                                      {"crit", 2},
                                                      {"critical", 2},
                                                      {"fatal", 2},
                                                      {"err", 3},
                                                      {"error", 3},
                                                      {"warning", 4},
                                                      {"warn", 4},
                                                      {"notice", 5},
                                                      {"info", 6},
                                                      {"information", 6},
                                                      {"debug", 7},
                                                      {"trace", 7}}};
  for (const auto& a : kAliases) {
    if (a.name == lower) return a.priority;
  }
  return std::nullopt;
}

}  // namespace siax::logs
