#pragma once
/// Level detection: the syslog priority an app meant, derived from the text of a line.
///
/// journald files everything an app writes to stdout/stderr at priority 6 (info), so a
/// level filter finds nothing for most Node.js and Python apps. When a line came in at
/// the default priority, its level is derived from the line itself:
///   - JSON loggers: pino and bunyan numeric `"level":50` (10 trace, 20 debug, 30 info,
///     40 warn, 50 error, 60 fatal), winston/bunyan/structlog `"level":"error"`, and the
///     keys `"severity"` and `"levelname"` (the first of those keys in the line wins);
///   - Python logging's default format and uvicorn: `ERROR:root:...`, `WARNING:  ...`,
///     `CRITICAL:...`, `INFO:     ...`; `[ERROR]`/`[warn]` tags and ` - ERROR - ` near the
///     start (gunicorn, common logging formats); logfmt `level=error`;
///   - `Traceback (most recent call last):`, `SomethingError: ...` (an uncaught exception's
///     header), `...: DeprecationWarning: ...` (Python's warnings module).
/// A line that carried a `<N>` prefix (systemd strips it, SyslogLevelPrefix=yes) has an
/// explicit priority and keeps it.
/// Pure functions; thread-safe.
#include <optional>
#include <string_view>

namespace siax::logs {

/// The priority the text of `line` states, or nullopt if it states none.
[[nodiscard]] std::optional<int> detect_level(std::string_view line) noexcept;

/// The priority to show: `journal_priority` unless it is the default (6), in which case
/// the detected one if any.
[[nodiscard]] int effective_priority(int journal_priority, std::string_view line) noexcept;

/// `Traceback (most recent call last):` (Python), possibly indented by an exception group.
[[nodiscard]] bool is_python_traceback_start(std::string_view line) noexcept;

/// A Node.js stack frame line: whitespace then `at `.
[[nodiscard]] bool is_node_stack_frame(std::string_view line) noexcept;

}  // namespace siax::logs
