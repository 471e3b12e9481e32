// One live viewer of WS /logs and /logs/:app_name: the WebSocket, its filter (a user's
// regex on a worker), its bounded queue, history then live frames (docs/LOGS.md).
#include "logs/endpoint_core.h"

#include <deque>
#include <optional>
#include <type_traits>
#include <variant>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

#include "logs/cursor.h"

namespace siax::logs {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace {

using Core = LogEndpoint::Core;

std::string error_frame(const Error& e) {
  nlohmann::json j = {{"type", "error"}, {"code", e.code}, {"message", e.message}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

websocket::close_code close_code_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::RateLimited:
      return websocket::close_code::try_again_later;
    case ErrorKind::InvalidInput:
      return websocket::close_code::policy_error;
    case ErrorKind::Conflict:
      return websocket::close_code::going_away;
    case ErrorKind::NotFound:
      return websocket::close_code::policy_error;
    default:
      return websocket::close_code::internal_error;
  }
}

/// A close reason fits in 123 bytes.
std::string reason_of(const Error& e) {
  std::string r = e.code + ": " + e.message;
  if (r.size() > 123) r.resize(123);
  return r;
}

/// One viewer: a WebSocket connection, its filter, its bounded queue, its history.
/// Lives on the io thread (the connection's strand); kept alive by its pending
/// operations.
template <class Stream>
class Session final : public HubViewer, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<Core> core, Stream&& stream, std::shared_ptr<void> slot)
      : core_(std::move(core)),
        ws_(std::move(stream)),
        batch_timer_(ws_.get_executor()),
        match_retry_(ws_.get_executor()),
        queue_(core_->options.queue),
        slot_(std::move(slot)) {
    ++core_->counters.sessions_open;
    ++core_->counters.sessions_total;
  }
  ~Session() override { --core_->counters.sessions_open; }

  void run(http::Request request, beast::http::request<beast::http::string_body> upgrade) {
    request_ = std::move(request);
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = core_->options.handshake_timeout;
    t.idle_timeout = core_->options.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "siax-agent"); }));
    ws_.read_message_max(core_->options.max_client_message);
    ws_.async_accept(upgrade, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void on_entries(const std::vector<SharedEntry>& entries) override {
    if (closing_) return;
    if (!query_.filter.regex) {
      for (const auto& e : entries) {
        if (query_.filter.matches(e->entry)) accept(e);
      }
      return schedule();
    }
    // A user's regex runs on a worker, never here; entries wait in a bounded list (the
    // oldest dropped and reported as a gap, like a slow viewer's) and come back in order.
    for (const auto& e : entries) {
      if (!query_.filter.matches_cheap(e->entry)) continue;
      to_match_.push_back(e);
      if (to_match_.size() > core_->options.queue.max_entries) {
        to_match_.pop_front();
        ++match_missed_;
      }
    }
    match_next();
  }

  void on_stream_closed(const Error& why) override { close_with(why); }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return teardown();
    auto q = parse_stream_query(request_.query, core_->options.max_tail);
    if (!q) return close_with(q.error());
    query_ = std::move(*q);
    if (query_.filter.regex_source.empty()) return start_streaming();
    // Compiling a user's regex is bounded (Regex) but not free: on a worker. The job holds
    // the session (nothing else is pending on it yet).
    auto self = this->shared_from_this();
    auto ex = ws_.get_executor();
    const bool posted = core_->run_blocking([self, ex, filter = query_.filter]() mutable {
      auto compiled = compile_regex(filter);
      net::post(ex, [self, filter = std::move(filter), compiled = std::move(compiled)]() mutable {
        if (self->closing_) return;
        if (!compiled) return self->close_with(compiled.error());
        self->query_.filter = std::move(filter);
        self->start_streaming();
      });
    });
    if (!posted) close_with(Error{ErrorKind::RateLimited, "busy", "the agent is busy: retry in a moment"});
  }

  void start_streaming() {
    if (core_->stopped) return close_with(Error{ErrorKind::Conflict, "agent_stopping", "the agent is stopping"});
    auto sub = core_->hub.subscribe(core_->selector_for(request_), *this);
    if (!sub) {
      if (sub.error().code == "too_many_viewers") ++core_->counters.viewers_refused;
      return close_with(sub.error());
    }
    subscription_ = std::move(*sub);
    read_loop();
    load_history();
  }

  void load_history() {
    std::weak_ptr<Session> weak = this->shared_from_this();
    auto ex = ws_.get_executor();
    auto core = core_;
    auto selector = core_->selector_for(request_);
    auto query = query_;
    const bool posted = core_->run_blocking([weak, ex, core, selector, query] {
      auto h = read_history(core->source, selector, query, core->options.history);
      net::post(ex, [weak, h = std::move(h)]() mutable {
        if (auto self = weak.lock()) self->on_history(std::move(h));
      });
    });
    if (!posted) {
      close_with(Error{ErrorKind::RateLimited, "busy", "the agent is busy: retry in a moment"});
    }
  }

  /// Queues an entry that passed the filter (after what the history already sent).
  void accept(const SharedEntry& e) {
    if (skip_until_) {
      auto key = parse_cursor(e->entry.cursor);
      if (key && !after(*key, *skip_until_)) return;
      skip_until_.reset();
    }
    queue_.push(e);
  }

  /// Matches the waiting entries against the regex on a worker, one batch at a time (so
  /// they stay in order); a refused post is retried after the batch delay.
  void match_next() {
    if (matching_ || closing_ || to_match_.empty()) return;
    matching_ = true;
    auto batch = std::make_shared<std::vector<SharedEntry>>(std::make_move_iterator(to_match_.begin()),
                                                            std::make_move_iterator(to_match_.end()));
    to_match_.clear();
    std::weak_ptr<Session> weak = this->shared_from_this();
    auto ex = ws_.get_executor();
    const bool posted = core_->run_blocking([weak, ex, batch, regex = query_.filter.regex] {
      std::vector<SharedEntry> kept;
      for (auto& e : *batch) {
        if (regex->search(e->entry.message)) kept.push_back(std::move(e));
      }
      net::post(ex, [weak, kept = std::move(kept)] {
        auto self = weak.lock();
        if (!self) return;
        self->matching_ = false;
        if (self->closing_) return;
        for (const auto& e : kept) self->accept(e);
        if (self->match_missed_ > 0) self->report_match_missed();
        self->schedule();
        self->match_next();
      });
    });
    if (posted) return;
    // The pool is full: put the batch back (still bounded) and try again shortly.
    to_match_.insert(to_match_.begin(), std::make_move_iterator(batch->begin()), std::make_move_iterator(batch->end()));
    while (to_match_.size() > core_->options.queue.max_entries) {
      to_match_.pop_front();
      ++match_missed_;
    }
    match_retry_.expires_after(core_->options.batch_delay * 5);
    match_retry_.async_wait([weak](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->matching_ = false;
      self->match_next();
    });
  }

  /// Entries dropped before their regex match reach the viewer as a gap.
  void report_match_missed() {
    core_->counters.entries_dropped += match_missed_;
    pending_gap_ += match_missed_;
    match_missed_ = 0;
  }

  void on_history(Result<History> h) {
    if (closing_) return;
    if (!h) return close_with(h.error());
    history_missed_ = h->missed;
    history_.assign(std::make_move_iterator(h->entries.begin()), std::make_move_iterator(h->entries.end()));
    if (h->end) {
      const CursorKey end = *h->end;
      queue_.drop_front_while([&](const EncodedEntry& e) {
        auto key = parse_cursor(e.entry.cursor);
        return key && !after(*key, end);
      });
      if (queue_.size() == 0) skip_until_ = end;
    }
    history_done_ = true;
    write_next();
  }

  void read_loop() {
    ws_.async_read(read_buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->teardown();
      // Client messages carry nothing yet; read them to see pongs and the close.
      self->read_buffer_.consume(self->read_buffer_.size());
      self->read_loop();
    });
  }

  /// Sends now when a full batch waits, else after the batch delay.
  void schedule() {
    if (writing_ || closing_ || !history_done_) return;
    if (queue_.batch_ready() || (live_sent_ && pending_gap_ > 0)) return write_next();
    if (timer_armed_ || queue_.empty()) return;
    timer_armed_ = true;
    batch_timer_.expires_after(core_->options.batch_delay);
    batch_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      self->timer_armed_ = false;
      if (!ec) self->write_next();
    });
  }

  std::optional<std::string> next_frame() {
    if (!history_done_) return std::nullopt;
    if (history_missed_ > 0) {
      auto f = gap_frame(history_missed_);
      history_missed_ = 0;
      return f;
    }
    if (!history_.empty()) {
      std::string frame = R"({"type":"entries","entries":[)";
      std::size_t n = 0, bytes = 0;
      while (!history_.empty() && n < core_->options.queue.batch_max_entries &&
             (n == 0 || bytes + history_.front()->json.size() <= core_->options.queue.batch_max_bytes)) {
        if (n > 0) frame += ',';
        frame += history_.front()->json;
        bytes += history_.front()->json.size();
        history_.pop_front();
        ++n;
      }
      frame += "]}";
      return frame;
    }
    if (!live_sent_) {
      live_sent_ = true;
      return std::string(kLiveFrame);
    }
    if (pending_gap_ > 0) {
      auto f = gap_frame(pending_gap_);
      pending_gap_ = 0;
      return f;
    }
    const auto missed = queue_.missed_pending();
    auto f = queue_.take_frame();
    if (f && missed > 0) core_->counters.entries_dropped += missed;
    return f;
  }

  void write_next() {
    if (writing_ || closing_) return;
    auto frame = next_frame();
    if (!frame) return;
    if (timer_armed_) batch_timer_.cancel();
    writing_ = true;
    write_buffer_ = std::move(*frame);
    ws_.text(true);
    ws_.async_write(net::buffer(write_buffer_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->teardown();
      ++self->core_->counters.frames_sent;
      if (self->closing_) return;
      // Behind (entries waited while we wrote): send on at once, no batch delay.
      if (!self->history_.empty() || !self->live_sent_ || !self->queue_.empty() || self->pending_gap_ > 0) {
        return self->write_next();
      }
      self->write_buffer_.clear();
      self->write_buffer_.shrink_to_fit();
    });
  }

  /// Tells the client why (an error frame), then closes with a code and reason.
  void close_with(const Error& why) {
    if (closing_) return;
    closing_ = true;
    release();
    websocket::close_reason reason(close_code_for(why), reason_of(why));
    if (writing_ || !ws_.is_open()) {
      ws_.async_close(reason, [self = this->shared_from_this()](beast::error_code) { self->teardown(); });
      return;
    }
    write_buffer_ = error_frame(why);
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(write_buffer_),
                    [self = this->shared_from_this(), reason](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) return self->teardown();
                      self->ws_.async_close(reason, [self](beast::error_code) { self->teardown(); });
                    });
  }

  /// Gives back what this viewer holds: its place in the hub, its buffers, its timer.
  void release() {
    subscription_.reset();
    batch_timer_.cancel();
    match_retry_.cancel();
    to_match_.clear();
    queue_.clear();
    history_.clear();
  }

  void teardown() {
    if (torn_down_) return;
    torn_down_ = true;
    closing_ = true;
    release();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    slot_.reset();
  }

  std::shared_ptr<Core> core_;
  websocket::stream<Stream> ws_;
  net::steady_timer batch_timer_;
  net::steady_timer match_retry_;
  std::deque<SharedEntry> to_match_;  ///< waiting for the regex (on a worker), oldest first
  std::uint64_t match_missed_ = 0;    ///< dropped from to_match_, not yet counted
  std::uint64_t pending_gap_ = 0;     ///< dropped before matching, for the next gap frame
  bool matching_ = false;
  ViewerQueue queue_;
  std::shared_ptr<void> slot_;
  http::Request request_;
  StreamQuery query_;
  std::unique_ptr<LogHub::Subscription> subscription_;
  std::deque<SharedEntry> history_;
  std::uint64_t history_missed_ = 0;
  std::optional<CursorKey> skip_until_;
  beast::flat_buffer read_buffer_;
  std::string write_buffer_;
  bool history_done_ = false;
  bool live_sent_ = false;
  bool writing_ = false;
  bool timer_armed_ = false;
  bool closing_ = false;
  bool torn_down_ = false;
};

}  // namespace

void start_session(const std::shared_ptr<LogEndpoint::Core>& core, http::WebSocketUpgrade up) {
  std::visit(
      [&](auto& stream) {
        using S = std::decay_t<decltype(stream)>;
        auto session = std::make_shared<Session<S>>(core, std::move(stream), std::move(up.connection_slot));
        session->run(std::move(up.request), std::move(up.upgrade_request));
      },
      up.stream);
}

}  // namespace siax::logs
