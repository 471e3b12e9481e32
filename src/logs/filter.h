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

/// A user's regular expression, compiled by RE2: RE2 syntax (no back-references, no
/// look-around), matched in time linear in the text, with a memory budget for the
/// compiled program and the matcher's cache. Case-sensitive unless the pattern starts
/// with the flag "(?i)". Untrusted patterns cost bounded work:
///   - at most kMaxPatternBytes bytes; counted repeats at most {1000} (RE2's own limit,
///     also on nested repeats, so `(a{1,1000}){1,200}` is refused);
///   - the compiled program gets at most kMaxMemBytes, and at most kMaxProgramSize
///     instructions (refused as "regex_too_complex");
///   - `search` looks at the first kMaxMatchedBytes bytes of a message only.
/// Compiling and searching may take milliseconds: call them off the io thread.
/// Thread: a compiled Regex is immutable and `search` may run on several threads at once.
class Regex {
 public:
  static constexpr std::size_t kMaxPatternBytes = 512;
  static constexpr std::int64_t kMaxMemBytes = 1 << 20;
  static constexpr int kMaxProgramSize = 5000;
  static constexpr std::size_t kMaxMatchedBytes = 8 * 1024;

  /// Errors: InvalidInput "invalid_regex" (what is wrong or unsupported, e.g.
  /// back-references), "regex_too_long" (over kMaxPatternBytes), "regex_too_complex"
  /// (over the memory or program budget).
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
  /// The longest `q` accepted (longer: InvalidInput "text_too_long").
  static constexpr std::size_t kMaxTextBytes = 256;

  int max_priority = 7;                       ///< keep entries with priority <= this
  std::string text;                           ///< case-insensitive (ASCII) substring; empty: any
  std::string regex_source;                   ///< the `regex` parameter; empty: none
  std::shared_ptr<const Regex> regex;         ///< compiled by compile_regex; null: any

  /// Whether an entry passes the level and text filters (cheap: fine on the io thread).
  [[nodiscard]] bool matches_cheap(const LogEntry& e) const;

  [[nodiscard]] bool matches(const LogEntry& e) const;
  [[nodiscard]] bool empty() const noexcept { return max_priority >= 7 && text.empty() && !regex; }
};

/// Whether `hay` contains `needle`, ASCII case-insensitively. Linear in both (KMP), so a
/// long `q` against long lines stays cheap on the io thread.
[[nodiscard]] bool icontains(std::string_view hay, std::string_view needle);

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

/// Compiles `filter.regex_source` into `filter.regex` (nothing to do when empty). Off the
/// io thread (see Regex). Errors: those of Regex::compile.
[[nodiscard]] Status compile_regex(EntryFilter& filter);

/// Parses a viewer's query: `level` (name or 0-7), `q` (text), `regex`, `cursor`,
/// `since` (microseconds since the epoch, or an ISO-8601 UTC time "2024-05-01T12:00:00Z"),
/// `tail` (0..max_tail). Does not compile the regex (only checks its length): call
/// compile_regex off the io thread. Errors: InvalidInput with codes "invalid_level",
/// "text_too_long" (`q` over EntryFilter::kMaxTextBytes), "regex_too_long", "invalid_cursor",
/// "invalid_time", "invalid_tail".
[[nodiscard]] Result<StreamQuery> parse_stream_query(const QueryParams& query, std::size_t max_tail);

/// A download: time range, filter, format, limits.
struct DownloadQuery {
  EntryFilter filter;
  std::optional<std::int64_t> since_usec;
  std::optional<std::int64_t> until_usec;
  bool json_lines = false;  ///< format=json (JSON lines) or text (default)
  std::size_t limit = 0;    ///< max entries (clamped to the server's bound)
};

/// Parses `since`, `until`, `level`, `q`, `regex`, `format` (text|json), `limit`. Like
/// parse_stream_query, leaves the regex to compile_regex.
[[nodiscard]] Result<DownloadQuery> parse_download_query(const QueryParams& query, std::size_t max_entries);

/// "1714564800000000" or "2024-05-01T12:00:00Z" (also with fractional seconds).
[[nodiscard]] std::optional<std::int64_t> parse_time_usec(std::string_view text) noexcept;

}  // namespace siax::logs
