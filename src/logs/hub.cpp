#include "logs/hub.h"

#include <algorithm>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

namespace siax::logs {

namespace net = boost::asio;

struct LogHub::Stream : std::enable_shared_from_this<LogHub::Stream> {
  Stream(net::any_io_executor ex, std::string n, std::unique_ptr<JournalReader> r, const HubOptions& o,
         std::shared_ptr<HubStats> c)
      : name(std::move(n)),
        reader(std::move(r)),
        hold_timer(ex),
        poll_timer(ex),
        folder(o.folder),
        options(o),
        counters(std::move(c)),
        executor(std::move(ex)) {}

  std::string name;
  std::unique_ptr<JournalReader> reader;
  std::optional<net::posix::stream_descriptor> fd;
  net::steady_timer hold_timer;
  net::steady_timer poll_timer;
  LineFolder folder;
  HubOptions options;
  std::shared_ptr<HubStats> counters;
  net::any_io_executor executor;
  std::vector<HubViewer*> viewers;
  bool closed = false;
  bool waiting = false;
  bool turn_posted = false;
  bool hold_armed = false;
  bool hold_long = false;     ///< the armed hold is the long one (an unfinished traceback)
  std::uint64_t hold_gen = 0; ///< which arm the pending wait belongs to
  std::uint64_t hold_mark = 0;
  std::chrono::steady_clock::time_point last_data{};
  std::vector<RawLine> lines;
  std::vector<LogEntry> done;

  void start() {
    if (int native = reader->wait_fd(); native >= 0) fd.emplace(executor, native);
    arm_wait();
    arm_poll();
  }

  void arm_wait() {
    if (closed || waiting || !fd) return;
    waiting = true;
    fd->async_wait(net::posix::stream_descriptor::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      self->waiting = false;
      if (ec || self->closed) return;
      self->read_turn();
    });
  }

  void arm_poll() {
    if (closed) return;
    const bool busy = std::chrono::steady_clock::now() - last_data < options.busy_window;
    poll_timer.expires_after(busy ? options.busy_poll_interval : options.poll_interval);
    poll_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed) return;
      if (!self->turn_posted) self->read_turn();
      self->arm_poll();
    });
  }

  void arm_hold() {
    if (closed || !folder.holding()) return;
    const bool long_hold = folder.incomplete();
    if (hold_armed) {
      if (!hold_long || long_hold) return;  // armed with a fitting delay
      // The entry became complete (its exception line came): the short hold from now on,
      // not the rest of the long one.
    }
    hold_armed = true;
    hold_long = long_hold;
    hold_mark = folder.pushed();
    const std::uint64_t gen = ++hold_gen;
    hold_timer.expires_after(long_hold ? options.incomplete_hold_delay : options.hold_delay);
    hold_timer.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (gen != self->hold_gen) return;  // replaced by a later arm
      self->hold_armed = false;
      if (ec || self->closed) return;
      if (self->folder.pushed() == self->hold_mark) {
        self->folder.flush(self->done);
        self->deliver();
      } else {
        self->arm_hold();  // still growing
      }
    });
  }

  void read_turn() {
    if (closed) return;
    reader->process();
    lines.clear();
    auto n = reader->read_forward(options.read_budget, lines);
    if (!n) return fail_all(n.error());
    counters->lines_read += *n;
    if (*n > 0 && last_data + options.busy_window / 2 < std::chrono::steady_clock::now()) {
      // Became busy: poll fast from now on rather than at the end of a slow poll period.
      last_data = std::chrono::steady_clock::now();
      arm_poll();  // replaces the pending (slow) wait
    } else if (*n > 0) {
      last_data = std::chrono::steady_clock::now();
    }
    for (auto& l : lines) folder.push(std::move(l), done);
    deliver();
    arm_hold();
    if (*n >= options.read_budget) {
      // More is waiting: yield to other handlers, then go on.
      turn_posted = true;
      net::post(executor, [self = shared_from_this()] {
        self->turn_posted = false;
        self->read_turn();
      });
    } else {
      arm_wait();
    }
  }

  void deliver() {
    if (done.empty()) return;
    std::vector<SharedEntry> batch;
    batch.reserve(done.size());
    for (auto& e : done) batch.push_back(make_shared_entry(std::move(e)));
    done.clear();
    counters->entries_emitted += batch.size();
    const auto targets = viewers;  // a viewer may leave while we call the others
    for (auto* v : targets) {
      if (std::find(viewers.begin(), viewers.end(), v) != viewers.end()) v->on_entries(batch);
    }
  }

  void fail_all(const Error& why) {
    const auto targets = viewers;
    close();
    for (auto* v : targets) v->on_stream_closed(why);
  }

  void close() {
    if (closed) return;
    closed = true;
    hold_timer.cancel();
    poll_timer.cancel();
    if (fd) {
      fd->cancel();
      (void)fd->release();  // the reader owns the descriptor and closes it
      fd.reset();
    }
    reader.reset();
  }
};

LogHub::LogHub(net::any_io_executor executor, JournalSource& source, HubOptions options)
    : executor_(std::move(executor)), source_(source), options_(options), counters_(std::make_shared<HubStats>()) {}

LogHub::~LogHub() {
  for (auto& [name, s] : streams_) s->close();
}

Result<std::unique_ptr<LogHub::Subscription>> LogHub::subscribe(const Selector& selector, HubViewer& viewer) {
  if (stopped_) return fail(ErrorKind::Conflict, "hub_stopped", "the agent is stopping");
  if (viewers_ >= options_.max_viewers_total) {
    return fail(ErrorKind::RateLimited, "too_many_viewers",
                fmt::format("the agent already serves {} log viewers (the limit is {}): close a viewer and retry",
                            viewers_, options_.max_viewers_total),
                {{"limit", std::to_string(options_.max_viewers_total)}, {"scope", "agent"}});
  }
  auto it = streams_.find(selector.name);
  if (it != streams_.end() && it->second->viewers.size() >= options_.max_viewers_per_stream) {
    return fail(ErrorKind::RateLimited, "too_many_viewers",
                fmt::format("'{}' already has {} log viewers (the limit is {}): close a viewer and retry",
                            selector.name, it->second->viewers.size(), options_.max_viewers_per_stream),
                {{"limit", std::to_string(options_.max_viewers_per_stream)}, {"scope", "app"}});
  }
  if (it == streams_.end() || it->second->closed) {
    auto reader = source_.open(selector);
    if (!reader) return tl::unexpected(reader.error());
    // Ask for the notification descriptor before positioning (sd_journal_get_fd's advice).
    (void)(*reader)->wait_fd();
    if (auto s = (*reader)->seek_tail(); !s) return tl::unexpected(s.error());
    auto stream = std::make_shared<Stream>(executor_, selector.name, std::move(*reader), options_, counters_);
    std::vector<HubViewer*> keep;
    if (it != streams_.end()) keep = it->second->viewers;  // viewers of a failed stream stay counted
    stream->viewers = std::move(keep);
    stream->start();
    it = streams_.insert_or_assign(selector.name, std::move(stream)).first;
  }
  it->second->viewers.push_back(&viewer);
  ++viewers_;
  return std::make_unique<Subscription>(*this, selector.name, &viewer);
}

void LogHub::unsubscribe(const std::string& name, HubViewer* viewer) {
  auto it = streams_.find(name);
  if (it == streams_.end()) return;
  auto& vs = it->second->viewers;
  auto pos = std::find(vs.begin(), vs.end(), viewer);
  if (pos == vs.end()) return;
  vs.erase(pos);
  --viewers_;
  if (vs.empty()) {
    it->second->close();
    streams_.erase(it);
  }
}

void LogHub::stop() {
  if (stopped_) return;
  stopped_ = true;
  const Error why{ErrorKind::Unavailable, "agent_stopping", "the agent is stopping"};
  // Viewers unsubscribe from within on_stream_closed, which erases from streams_.
  std::vector<std::shared_ptr<Stream>> streams;
  for (auto& [name, s] : streams_) streams.push_back(s);
  for (auto& s : streams) {
    const auto targets = s->viewers;
    s->close();
    for (auto* v : targets) v->on_stream_closed(why);
  }
}

HubStats LogHub::stats() const {
  HubStats s = *counters_;
  s.streams = 0;
  for (const auto& [name, st] : streams_) s.streams += st->closed ? 0 : 1;
  s.viewers = viewers_;
  return s;
}

std::size_t LogHub::viewers_of(const std::string& stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second->viewers.size();
}

}  // namespace siax::logs
