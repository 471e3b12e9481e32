#pragma once
/// A viewer's bounded queue of entries waiting to be sent, and the batching of frames.
///
/// Bounds: at most `max_entries` entries and `max_bytes` bytes of their JSON. When a push
/// would exceed either, the OLDEST entries are dropped and counted; the next frame taken is
/// then a gap marker with that count, before the entries that follow. Entries are shared
/// (`SharedEntry`), so one line fanned out to many viewers is stored once; the bound on
/// the agent's memory is max_bytes per viewer (plus the entry's own copy), whatever the
/// viewers do. Single-threaded: the owning session's strand.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "logs/encode.h"

namespace siax::logs {

struct QueueOptions {
  std::size_t max_entries = 10'000;
  std::size_t max_bytes = 4 * 1024 * 1024;
  std::size_t batch_max_bytes = 256 * 1024;  ///< one frame carries at most this much JSON
  std::size_t batch_max_entries = 2'000;
};

class ViewerQueue {
 public:
  explicit ViewerQueue(QueueOptions options = {}) : options_(options) {}

  /// Queues an entry, dropping the oldest ones over the bounds.
  void push(SharedEntry entry);
  /// The next frame to send: a gap marker if entries were dropped since the last frame,
  /// else a batch of the oldest entries (up to the batch limits; at least one entry), or
  /// nullopt when empty.
  [[nodiscard]] std::optional<std::string> take_frame();

  /// Whether a full batch is waiting (send now rather than after the batch delay).
  [[nodiscard]] bool batch_ready() const noexcept {
    return missed_ > 0 || bytes_ >= options_.batch_max_bytes || queue_.size() >= options_.batch_max_entries;
  }
  [[nodiscard]] bool empty() const noexcept { return queue_.empty() && missed_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return queue_.size(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  /// Entries dropped and not yet reported (the next gap marker's count).
  [[nodiscard]] std::uint64_t missed_pending() const noexcept { return missed_; }
  /// Entries dropped since construction.
  [[nodiscard]] std::uint64_t dropped_total() const noexcept { return dropped_total_; }
  void clear() noexcept;
  /// Removes entries from the front while `pred(entry)` holds (not counted as missed:
  /// used to drop what the viewer already got from its history). Returns how many.
  template <class Pred>
  std::size_t drop_front_while(Pred pred) {
    std::size_t n = 0;
    while (!queue_.empty() && pred(*queue_.front())) {
      bytes_ -= queue_.front()->json.size();
      queue_.pop_front();
      ++n;
    }
    return n;
  }

 private:
  QueueOptions options_;
  std::deque<SharedEntry> queue_;
  std::size_t bytes_ = 0;
  std::uint64_t missed_ = 0;
  std::uint64_t dropped_total_ = 0;
};

}  // namespace siax::logs
