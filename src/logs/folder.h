#pragma once
/// Folds multi-line errors into one entry, and assigns every entry its level.
///
/// What is folded (lines of the same PID, in order):
///   - a Python traceback: `Traceback (most recent call last):`, its indented frames, the
///     exception line, and chained tracebacks ("During handling of the above exception,
///     another exception occurred:" / "The above exception was the direct cause ...");
///   - a Node.js stack trace: an error line (`TypeError: x`) and the indented `at ...`
///     lines that follow;
///   - an error-level line immediately followed by one of those (Python's
///     `logger.exception()`: `ERROR:root:failed` then the traceback).
/// A folded entry has at least error priority, the time of its first line and the cursor
/// of its last line.
///
/// Latency: an entry that may still grow (an error line, a traceback after its exception
/// line) is held until the next line decides or until the owner calls `flush()` (the hub
/// does so after a short hold delay). Every other line passes straight through, and
/// entries always come out in journal order.
///
/// Bounds: a folded entry stops growing at `max_lines` lines or `max_bytes` bytes (the
/// next line starts a new entry). Single-threaded: the owner's thread only.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "logs/log_entry.h"

namespace siax::logs {

struct FolderOptions {
  std::size_t max_lines = 500;
  std::size_t max_bytes = 64 * 1024;
};

class LineFolder {
 public:
  explicit LineFolder(FolderOptions options = {}) : options_(options) {}

  /// Feeds one journal line; appends the entries it completes to `out`.
  void push(RawLine line, std::vector<LogEntry>& out);
  /// Emits whatever is held (hold delay over, or end of a history read).
  void flush(std::vector<LogEntry>& out);
  /// Whether an entry is held, waiting for a possible continuation.
  [[nodiscard]] bool holding() const noexcept { return state_ != State::Idle; }
  /// Whether the held entry is known to be unfinished: a Python traceback before its
  /// exception line, or after a chain sentence before the next traceback. The hub holds
  /// such an entry longer (its next line is certain to come, only late under load).
  [[nodiscard]] bool incomplete() const noexcept { return state_ == State::PyFrames || state_ == State::PyChain; }
  /// Lines pushed so far (lets a timer tell whether the held entry is still growing).
  [[nodiscard]] std::uint64_t pushed() const noexcept { return pushed_; }

 private:
  enum class State { Idle, ErrorLine, PyFrames, PyAfterException, PyChain, NodeStack };

  void start(RawLine line, std::vector<LogEntry>& out);
  void append(RawLine line);
  void close(std::vector<LogEntry>& out);
  [[nodiscard]] bool full() const noexcept;

  FolderOptions options_;
  State state_ = State::Idle;
  LogEntry current_;
  std::vector<RawLine> blanks_;  ///< blank lines after an exception (at most 2)
  std::uint64_t pushed_ = 0;
};

/// Folds a whole sequence (history reads, tests): push every line, then flush.
[[nodiscard]] std::vector<LogEntry> fold_all(std::vector<RawLine> lines, FolderOptions options = {});

}  // namespace siax::logs
