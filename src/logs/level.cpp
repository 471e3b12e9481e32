#include "logs/level.h"

#include <array>
#include <cctype>

#include "common/strings.h"
#include "logs/log_entry.h"

namespace siax::logs {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

/// Spaces, tabs and a stray carriage return before a value.
std::string_view ltrim(std::string_view s) { return siax::ltrim(s, " \t\r"); }

/// pino/bunyan numeric levels.
int from_numeric(long n) {
  if (n >= 60) return 2;
  if (n >= 50) return 3;
  if (n >= 40) return 4;
  if (n >= 30) return 6;
  return 7;
}

/// A level word at the start of `s` (case-insensitive), followed by a non-letter.
std::optional<int> leading_word(std::string_view s) {
  struct Word {
    std::string_view text;
    int priority;
  };
  static constexpr std::array<Word, 13> kWords = {{{"critical", 2},
                                                   {"fatal", 2},
                                                   {"error", 3},
                                                   {"err", 3},
                                                   {"warning", 4},
                                                   {"warn", 4},
                                                   {"notice", 5},
                                                   {"information", 6},
                                                   {"info", 6},
                                                   {"debug", 7},
                                                   {"trace", 7},
                                                   {"emerg", 0},
                                                   {"alert", 1}}};
  for (const auto& w : kWords) {
    if (istarts_with(s, w.text) &&
        (s.size() == w.text.size() || !std::isalpha(static_cast<unsigned char>(s[w.text.size()])))) {
      return w.priority;
    }
  }
  return std::nullopt;
}

std::optional<int> json_level(std::string_view line) {
  static constexpr std::array<std::string_view, 3> kKeys = {"\"level\"", "\"severity\"", "\"levelname\""};
  std::size_t best = std::string_view::npos;
  std::size_t best_len = 0;
  for (auto key : kKeys) {
    auto at = line.find(key);
    if (at < best) {
      best = at;
      best_len = key.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  auto rest = ltrim(line.substr(best + best_len));
  if (rest.empty() || rest.front() != ':') return std::nullopt;
  rest = ltrim(rest.substr(1));
  if (rest.empty()) return std::nullopt;
  if (rest.front() == '"') return leading_word(rest.substr(1));
  if (std::isdigit(static_cast<unsigned char>(rest.front()))) {
    long n = 0;
    for (std::size_t i = 0; i < rest.size() && i < 4 && std::isdigit(static_cast<unsigned char>(rest[i])); ++i) {
      n = n * 10 + (rest[i] - '0');
    }
    return from_numeric(n);
  }
  return std::nullopt;
}

/// Python logging / uvicorn: an UPPERCASE level then ':' (`ERROR:root:x`, `INFO:     x`).
std::optional<int> python_prefix(std::string_view line) {
  static constexpr std::array<std::pair<std::string_view, int>, 7> kPrefixes = {{{"CRITICAL:", 2},
                                                                                 {"FATAL:", 2},
                                                                                 {"ERROR:", 3},
                                                                                 {"WARNING:", 4},
                                                                                 {"WARN:", 4},
                                                                                 {"INFO:", 6},
                                                                                 {"DEBUG:", 7}}};
  for (const auto& [p, prio] : kPrefixes) {
    if (line.starts_with(p)) return prio;
  }
  return std::nullopt;
}

/// `[ERROR]`, `[warn]`, ` - ERROR - `, `level=error` within the first 120 bytes.
std::optional<int> tagged(std::string_view line) {
  auto head = line.substr(0, 120);
  for (std::size_t at = head.find('['); at != std::string_view::npos; at = head.find('[', at + 1)) {
    auto close = head.find(']', at);
    if (close == std::string_view::npos) break;
    auto inner = head.substr(at + 1, close - at - 1);
    if (inner.size() >= 3 && inner.size() <= 8) {
      if (auto w = leading_word(inner); w && inner.size() <= 8) {
        // only the whole tag: "[ERROR]", not "[error-handler]"
        bool whole = true;
        for (char c : inner) whole = whole && std::isalpha(static_cast<unsigned char>(c));
        if (whole) return w;
      }
    }
  }
  for (std::size_t at = head.find(" - "); at != std::string_view::npos; at = head.find(" - ", at + 1)) {
    auto rest = head.substr(at + 3);
    auto end = rest.find(" - ");
    if (end == std::string_view::npos) break;
    auto word = rest.substr(0, end);
    bool upper = !word.empty();
    for (char c : word) upper = upper && std::isupper(static_cast<unsigned char>(c));
    if (upper) {
      if (auto w = leading_word(word); w) return w;
    }
  }
  if (auto at = head.find("level="); at != std::string_view::npos && (at == 0 || is_space(head[at - 1]))) {
    auto rest = head.substr(at + 6);
    if (!rest.empty() && rest.front() == '"') rest.remove_prefix(1);
    return leading_word(rest);
  }
  return std::nullopt;
}

/// `TypeError: x`, `Error: x`, `ZeroDivisionError: x`, `MyException` alone on a line.
bool exception_header(std::string_view line) {
  if (line.empty() || !std::isupper(static_cast<unsigned char>(line.front()))) return false;
  std::size_t i = 0;
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == '.')) {
    ++i;
  }
  auto name = line.substr(0, i);
  if (!(name.ends_with("Error") || name.ends_with("Exception"))) return false;
  return i == line.size() || line[i] == ':' || (line[i] == ' ' && line.substr(i).starts_with(" [")) ;
}

}  // namespace

bool is_python_traceback_start(std::string_view line) noexcept {
  auto t = ltrim(line);
  while (!t.empty() && (t.front() == '|' || t.front() == '+' || is_space(t.front()))) t.remove_prefix(1);
  return t.starts_with("Traceback (most recent call last):") ||
         t.starts_with("Exception Group Traceback (most recent call last):");
}

bool is_node_stack_frame(std::string_view line) noexcept {
  if (line.empty() || !is_space(line.front())) return false;
  return ltrim(line).starts_with("at ");
}

std::optional<int> detect_level(std::string_view line) noexcept {
  auto t = ltrim(line);
  if (t.empty()) return std::nullopt;
  if (t.front() == '{') {
    if (auto j = json_level(t)) return j;
    return std::nullopt;
  }
  if (auto p = python_prefix(t)) return p;
  if (is_python_traceback_start(t)) return 3;
  if (exception_header(t)) return 3;
  if (auto tag = tagged(t)) return tag;
  if (t.find("Warning: ") != std::string_view::npos) {
    // Python's warnings module: "/app/x.py:3: DeprecationWarning: ..."
    auto at = t.find("Warning: ");
    auto before = t.substr(0, at);
    auto colon = before.rfind(": ");
    if (colon != std::string_view::npos) {
      auto name = before.substr(colon + 2);
      bool word = !name.empty() && std::isupper(static_cast<unsigned char>(name.front()));
      for (char c : name) word = word && std::isalnum(static_cast<unsigned char>(c));
      if (word) return 4;
    }
  }
  return std::nullopt;
}

int effective_priority(int journal_priority, std::string_view line) noexcept {
  if (journal_priority != kDefaultPriority) return journal_priority;
  return detect_level(line).value_or(journal_priority);
}

}  // namespace siax::logs
