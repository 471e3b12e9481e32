#pragma once
/// The live side: one journal reader per stream (an app, or the agent itself), shared by
/// all of that stream's viewers, driven by the io_context through the journal's file
/// descriptor; opened with the first viewer and closed (reader, descriptor, timers) when
/// the last one leaves.
///
/// Each batch of journal lines is folded and levelled once (LineFolder), encoded once
/// (SharedEntry) and handed to every viewer of the stream; viewers filter and queue on
/// their own (bounded, see ViewerQueue). The hub never waits on a viewer: a slow viewer
/// loses entries in its own queue, the reader goes on.
///
/// Limits: viewers per stream and overall; over them `subscribe` fails with
/// RateLimited "too_many_viewers" and a message saying which limit.
///
/// Threading: everything runs on the io_context's thread (the agent has one): construct,
/// subscribe, unsubscribe (destroy the Subscription) and `stop` there. Reading is bounded
/// per turn (`read_budget` lines), then the hub yields to other handlers.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/result.h"
#include "logs/encode.h"
#include "logs/folder.h"
#include "logs/journal.h"

namespace siax::logs {

struct HubOptions {
  std::size_t max_viewers_per_stream = 10;
  std::size_t max_viewers_total = 100;
  std::size_t read_budget = 2'048;  ///< lines read per turn before yielding
  /// How long a possibly-growing entry (an error line, a traceback) is held waiting for
  /// its next line.
  std::chrono::milliseconds hold_delay{250};
  /// The same for an entry known to be unfinished (LineFolder::incomplete: a traceback
  /// without its exception line yet). Its next line is certain; on a loaded machine
  /// journald stored a traceback's lines more than 250 ms apart (a CI run split one).
  std::chrono::milliseconds incomplete_hold_delay{2'000};
  /// Poll of a quiet stream: the first line after a quiet spell would otherwise wait for
  /// journald's (coalesced, up to 250 ms) change notification. A poll costs a few
  /// microseconds (sd_journal_process + one sd_journal_next), and streams exist only
  /// while someone watches.
  std::chrono::milliseconds poll_interval{50};
  /// journald announces changes (inotify) at most every 250 ms; while a stream is busy
  /// (lines read within `busy_window`), it is polled this often instead, so that a line
  /// reaches its viewers well within 100 ms.
  std::chrono::milliseconds busy_poll_interval{20};
  std::chrono::milliseconds busy_window{5'000};
  FolderOptions folder;
};

/// Receives a stream's entries. Called on the io thread; must not block.
class HubViewer {
 public:
  virtual ~HubViewer() = default;
  virtual void on_entries(const std::vector<SharedEntry>& entries) = 0;
  /// The stream failed (journal unreadable) or the hub stops: the viewer should close
  /// (it may destroy its Subscription from within this call; not from on_entries).
  virtual void on_stream_closed(const Error& why) = 0;
};

struct HubStats {
  std::size_t streams = 0;  ///< open journal readers
  std::size_t viewers = 0;
  std::uint64_t lines_read = 0;
  std::uint64_t entries_emitted = 0;
};

class LogHub {
 public:
  class Subscription;  ///< RAII: destroying it unsubscribes

  LogHub(boost::asio::any_io_executor executor, JournalSource& source, HubOptions options = {});
  ~LogHub();
  LogHub(const LogHub&) = delete;
  LogHub& operator=(const LogHub&) = delete;

  /// Adds `viewer` to the stream `selector.name` (opening its reader at the journal's
  /// tail if it is the first). `viewer` must outlive the Subscription. Errors:
  /// RateLimited "too_many_viewers"; Unavailable "journal_unavailable"; Conflict
  /// "hub_stopped".
  [[nodiscard]] Result<std::unique_ptr<Subscription>> subscribe(const Selector& selector, HubViewer& viewer);

  /// Closes every stream and tells every viewer (`on_stream_closed`). Idempotent.
  void stop();

  [[nodiscard]] HubStats stats() const;
  [[nodiscard]] std::size_t viewers_of(const std::string& stream) const;

  struct Stream;  // internal

 private:
  friend class Subscription;
  void unsubscribe(const std::string& name, HubViewer* viewer);

  boost::asio::any_io_executor executor_;
  JournalSource& source_;
  HubOptions options_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;
  std::size_t viewers_ = 0;
  bool stopped_ = false;
  std::shared_ptr<HubStats> counters_;
};

class LogHub::Subscription {
 public:
  Subscription(LogHub& hub, std::string name, HubViewer* viewer) : hub_(&hub), name_(std::move(name)), viewer_(viewer) {}
  ~Subscription() {
    if (hub_ != nullptr) hub_->unsubscribe(name_, viewer_);
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  LogHub* hub_;
  std::string name_;
  HubViewer* viewer_;
};

}  // namespace siax::logs
