#pragma once
/// Values of the logs module: a raw journal line, a (possibly folded) log entry, syslog
/// priorities and their names. Plain values; no threading concerns.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace siax::logs {

/// syslog priorities (RFC 5424): 0 emerg .. 7 debug. journald files whatever an app
/// writes to stdout/stderr at kDefaultPriority unless the line carries a `<N>` prefix.
inline constexpr int kDefaultPriority = 6;

/// One journal record as read (one line of the app's output).
struct RawLine {
  std::int64_t time_usec = 0;  ///< __REALTIME_TIMESTAMP
  int priority = kDefaultPriority;
  std::string message;
  std::int64_t pid = 0;  ///< _PID, 0 when absent
  std::string cursor;    ///< the journal cursor of this record
};

/// One entry as shown to viewers: a line, or several lines folded into one (a Python
/// traceback, a Node.js stack trace). `cursor` is the cursor of its LAST line, so that
/// resuming "after this cursor" never repeats a folded line.
struct LogEntry {
  std::int64_t time_usec = 0;  ///< of the first line
  int priority = kDefaultPriority;
  std::string message;  ///< lines joined with '\n'
  std::int64_t pid = 0;
  std::string cursor;
  bool folded = false;       ///< built from more than one line
  std::uint32_t lines = 1;   ///< how many journal lines it covers
};

/// "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug".
[[nodiscard]] std::string_view level_name(int priority) noexcept;

/// Parses a level given by a client: a name above (also "err", "warn", "critical",
/// "fatal", "emergency", "information", any case) or a digit 0-7.
[[nodiscard]] std::optional<int> parse_level(std::string_view text) noexcept;

}  // namespace siax::logs
