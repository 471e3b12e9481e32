#pragma once
/// What a viewer or a download asks for: a minimum level, a text or regular-expression
/// filter, where to start, how much history. Parsed from query parameters into a value
/// with a clear error for bad input. Thread: values; `EntryFilter::matches` is const and
/// may be called from any thread.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "logs/log_entry.h"

namespace siax::logs {

/// A compiled POSIX extended regular expression (glibc regexec: no stack blow-up on long
/// lines, unlike std::regex). Case-sensitive unless the pattern starts with "(?i)".
class Regex {
 public:
  /// Errors: InvalidInput "invalid_regex" (with the compiler's message), "regex_too_long"
  /// (over 512 bytes).
  [[nodiscard]] static Result<std::shared_ptr<const Regex>> compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  [[nodiscard]] bool search(std::string_view text) const;

 private:
  Regex() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct EntryFilter {
  int max_priority = 7;                       ///< keep entries with priority <= this
  std::string text;                           ///< case-insensitive substring; empty: any
  std::shared_ptr<const Regex> regex;         ///< null: any

  [[nodiscard]] bool matches(const LogEntry& e) const;
  [[nodiscard]] bool empty() const noexcept { return max_priority >= 7 && text.empty() && !regex; }
};

/// Where a stream starts.
struct StartPoint {
  std::optional<std::string> after_cursor;   ///< entries after this cursor (a reconnect)
  std::optional<std::int64_t> since_usec;    ///< entries at or after this time
  std::size_t tail = 100;                    ///< otherwise: the last `tail` entries
};

struct StreamQuery {
  EntryFilter filter;
  StartPoint start;
};

using QueryParams = std::map<std::string, std::string, std::less<>>;

/// Parses a viewer's query: `level` (name or 0-7), `q` (text), `regex`, `cursor`,
/// `since` (microseconds since the epoch, or an ISO-8601 UTC time "2024-05-01T12:00:00Z"),
/// `tail` (0..max_tail). Errors: InvalidInput with codes "invalid_level",
/// "invalid_regex", "invalid_cursor", "invalid_time", "invalid_tail".
[[nodiscard]] Result<StreamQuery> parse_stream_query(const QueryParams& query, std::size_t max_tail);

/// A download: time range, filter, format, limits.
struct DownloadQuery {
  EntryFilter filter;
  std::optional<std::int64_t> since_usec;
  std::optional<std::int64_t> until_usec;
  bool json_lines = false;  ///< format=json (JSON lines) or text (default)
  std::size_t limit = 0;    ///< max entries (clamped to the server's bound)
};

/// Parses `since`, `until`, `level`, `q`, `regex`, `format` (text|json), `limit`.
[[nodiscard]] Result<DownloadQuery> parse_download_query(const QueryParams& query, std::size_t max_entries);

/// "1714564800000000" or "2024-05-01T12:00:00Z" (also with fractional seconds).
[[nodiscard]] std::optional<std::int64_t> parse_time_usec(std::string_view text) noexcept;

}  // namespace siax::logs
