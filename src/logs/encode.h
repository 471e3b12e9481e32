#pragma once
/// Wire formats of log entries. Pure; thread-safe.
///
/// An entry as JSON (one object; also one line of a JSON-lines download):
///   {"time_usec":1714564800123456,"priority":3,"level":"error","message":"...",
///    "pid":1234,"cursor":"s=...","folded":true,"lines":5}
/// A WebSocket text frame carries a batch, or a gap marker:
///   {"type":"entries","entries":[<entry>,...]}
///   {"type":"gap","missed":N}            N entries were dropped here (viewer too slow)
/// and once after the history: {"type":"live"} (what follows is live).
/// Invalid UTF-8 in messages is replaced by U+FFFD; control characters are escaped.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "logs/log_entry.h"

namespace siax::logs {

/// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

/// The entry's JSON object.
[[nodiscard]] std::string encode_entry(const LogEntry& e);

/// An entry together with its JSON, built once and shared by every viewer.
struct EncodedEntry {
  LogEntry entry;
  std::string json;
};
using SharedEntry = std::shared_ptr<const EncodedEntry>;

[[nodiscard]] SharedEntry make_shared_entry(LogEntry e);

[[nodiscard]] std::string gap_frame(std::uint64_t missed);
inline constexpr std::string_view kLiveFrame = R"({"type":"live"})";

/// One line of a text download: "2024-05-01T12:00:00.123456Z error [1234] message"
/// (a folded entry's later lines are indented by two spaces).
[[nodiscard]] std::string text_line(const LogEntry& e);

}  // namespace siax::logs
