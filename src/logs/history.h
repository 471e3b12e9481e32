#pragma once
/// Reads what a viewer gets before the live stream, and downloads. Blocking (reads the
/// journal): run on a worker thread (or inline for small reads); uses its own reader.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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
  /// A tail that ends inside an unfinished traceback (LineFolder::incomplete: the app is
  /// writing it right now) is read again, every `settle_step`, until it is finished or
  /// `settle_max` has passed, so that the history does not cut it in two (the live stream
  /// would then deliver its end as separate lines); one that ends with an error line (a
  /// traceback may follow) for up to 5 steps. Runs on a worker: it may sleep.
  std::chrono::milliseconds settle_step{50};
  std::chrono::milliseconds settle_max{2'000};
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
  /// Output bytes. Downloads are streamed, so memory does not grow with this.
  std::size_t max_bytes = 256 * 1024 * 1024;
  /// Output is handed over in pieces of about this size (one is passed once it reaches
  /// it; the last may be smaller).
  std::size_t chunk_bytes = 64 * 1024;
  /// Pieces queued or being written per download; the reader waits beyond that.
  std::size_t chunks_in_flight = 4;
  /// Downloads at once (each holds a worker thread while it streams; 503 beyond).
  std::size_t max_concurrent = 2;
  FolderOptions folder;
};

struct Download {
  std::string body;
  std::size_t entries = 0;
  bool truncated = false;  ///< stopped at a limit before `until`/the end
};

struct DownloadSummary {
  std::size_t entries = 0;
  std::uint64_t bytes = 0;
  bool truncated = false;  ///< stopped at a limit before `until`/the end
  bool cancelled = false;  ///< the sink wanted no more (client gone): stopped early
};

/// Where a download's output goes. `chunk` takes the next piece of output and returns
/// false when nobody wants more (the download then stops); it may block (flow control).
/// `alive`, if set, is asked after each batch of journal records read (a long scan that
/// matches nothing still notices a departed client); false stops the download.
struct DownloadSink {
  std::function<bool(std::string)> chunk;
  std::function<bool()> alive;
};

/// A reader positioned where the download starts (`since`, else the oldest record).
/// Errors here come before any output: Unavailable "journal_unavailable", ...
[[nodiscard]] Result<std::unique_ptr<JournalReader>> open_download(JournalSource& source, const Selector& selector,
                                                                   const DownloadQuery& query);

/// Reads forward from `reader`, folds, filters (time range, level, text) and renders
/// (text or JSON lines), handing the output to `sink` in pieces of about
/// `limits.chunk_bytes`; stops at `until`, the end of the journal or a limit. Memory:
/// one piece plus one batch of records, whatever the size of the download.
[[nodiscard]] Result<DownloadSummary> stream_download(JournalReader& reader, const DownloadQuery& query,
                                                      const DownloadLimits& limits, const DownloadSink& sink);

/// The whole download in one string (tests and small reads).
[[nodiscard]] Result<Download> read_download(JournalSource& source, const Selector& selector,
                                             const DownloadQuery& query, const DownloadLimits& limits);

}  // namespace siax::logs
