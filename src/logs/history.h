#pragma once
/// Reads what a viewer gets before the live stream, and downloads. Blocking (reads the
/// journal): run on a worker thread (or inline for small reads); uses its own reader.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "logs/cursor.h"
#include "logs/encode.h"
#include "logs/filter.h"
#include "logs/folder.h"
#include "logs/journal.h"

namespace siax::logs {

struct HistoryLimits {
  std::size_t max_replay_entries = 10'000;  ///< a reconnect or `since` replays at most this many
  std::size_t max_scan_lines = 200'000;     ///< lines read looking for `tail` matching entries
  FolderOptions folder;
};

struct History {
  std::vector<SharedEntry> entries;       ///< in journal order
  std::optional<CursorKey> end;           ///< the last record read; live entries up to it are dropped
  std::uint64_t missed = 0;               ///< entries skipped over the replay bound (a gap before `entries`)
};

/// The entries a viewer starts with: after `start.after_cursor`, or since
/// `start.since_usec`, or the last `start.tail` entries; filtered.
[[nodiscard]] Result<History> read_history(JournalSource& source, const Selector& selector, const StreamQuery& query,
                                           const HistoryLimits& limits);

struct DownloadLimits {
  std::size_t max_entries = 50'000;
  std::size_t max_bytes = 16 * 1024 * 1024;
  FolderOptions folder;
};

struct Download {
  std::string body;
  std::size_t entries = 0;
  bool truncated = false;  ///< stopped at a limit before `until`/the end
};

/// A time range, filtered, as text lines or JSON lines.
[[nodiscard]] Result<Download> read_download(JournalSource& source, const Selector& selector,
                                             const DownloadQuery& query, const DownloadLimits& limits);

}  // namespace siax::logs
