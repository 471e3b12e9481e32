#pragma once
/// JSON for the process table (`/scan`, the panel, the cloud reports). Pure, any thread.
///
/// Shape: {"pid", "ppid", "user", "uid", "name" (comm), "cmdline" (array), "command"
/// (argv joined by spaces), "exe", "cwd", "state" ("S"), "started_at" (ISO-8601 UTC,
/// "2026-01-31T08:00:00Z", null when unknown), "cpu_percent" (1 decimal), "memory_bytes",
/// "unit", "ports" (array), "kind" ("node" | "python" | "other")}.
/// Strings from /proc are arbitrary bytes: invalid UTF-8 is replaced by U+FFFD so that
/// serialising the result never throws.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/process_info.h"

namespace siax::procscan {

[[nodiscard]] nlohmann::json to_json(const core::ProcessInfo& process);
[[nodiscard]] nlohmann::json to_json(const std::vector<core::ProcessInfo>& processes);

/// "2026-01-31T08:00:00Z" from microseconds since the epoch (sub-second part dropped).
[[nodiscard]] std::string format_utc_iso8601(std::int64_t usec_since_epoch);

/// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
[[nodiscard]] std::string sanitize_utf8(std::string_view text);

}  // namespace siax::procscan
