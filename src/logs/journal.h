#pragma once
/// The journal port: what the logs module needs from systemd-journald, behind a narrow
/// interface (one Linux implementation in sd_journal_source.h, fakes in the tests).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "logs/log_entry.h"

namespace siax::logs {

/// Which records belong to a stream: a disjunction of terms, each term a conjunction of
/// FIELD=value matches (sd_journal_add_match / add_disjunction).
struct Selector {
  std::string name;  ///< the app's name, or "agent"
  std::vector<std::vector<std::pair<std::string, std::string>>> terms;
};

/// What `journalctl -u siax-app-<name>.service` shows: the app's own output
/// (_SYSTEMD_UNIT) and systemd's messages about the unit (UNIT=, _PID=1).
[[nodiscard]] Selector app_selector(const std::string& app_name);

/// A positioned reader over the records of one Selector. Not thread-safe: one thread
/// at a time (sd_journal handles must not be shared between threads).
class JournalReader {
 public:
  virtual ~JournalReader() = default;
  /// A descriptor that becomes readable when the journal changes (inotify); -1 if the
  /// reader cannot tell (then poll). Owned by the reader.
  [[nodiscard]] virtual int wait_fd() = 0;
  /// Call after `wait_fd()` became readable (or on a poll tick) before reading.
  virtual void process() = 0;
  /// Next lines forward, up to `max`; appended to `out`; how many (0: at the end).
  [[nodiscard]] virtual Result<std::size_t> read_forward(std::size_t max, std::vector<RawLine>& out) = 0;
  /// Previous lines, newest first, up to `max`; appended to `out`; 0 at the beginning.
  [[nodiscard]] virtual Result<std::size_t> read_backward(std::size_t max, std::vector<RawLine>& out) = 0;
  /// After this, read_forward returns only records added later and read_backward the
  /// newest records.
  [[nodiscard]] virtual Status seek_tail() = 0;
  /// After this, read_forward returns the records after `cursor` (the record itself
  /// excluded). Errors: InvalidInput "invalid_cursor".
  [[nodiscard]] virtual Status seek_after_cursor(const std::string& cursor) = 0;
  /// After this, read_forward returns the records at or after `usec` (realtime).
  [[nodiscard]] virtual Status seek_time(std::int64_t usec) = 0;
};

/// Opens readers. `open` may be called from any thread; each reader is then used by
/// one thread at a time.
class JournalSource {
 public:
  virtual ~JournalSource() = default;
  /// Errors: Unavailable "journal_unavailable" (cannot open the journal).
  [[nodiscard]] virtual Result<std::unique_ptr<JournalReader>> open(const Selector& selector) = 0;
};

}  // namespace siax::logs
