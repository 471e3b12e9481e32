#pragma once
/// One HTTP connection (`Session<Stream>`, plain or TLS): the class, its timers and its
/// state. The reading, routing and WebSocket hand-over half is in session_read.ipp, the
/// writing, streamed-body and closing half in session_write.ipp; session.cpp compiles
/// them. Private to src/http.

#include <deque>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "http/body_stream.h"
#include "http/server_core.h"

namespace siax::http::detail {

/// One connection: reads requests (pipelined up to a limit), routes them, runs
/// middleware and handlers, writes responses in request order, enforces the timeouts and
/// closes gracefully. Everything runs on the connection's strand (`ex_`); the only entry
/// points from other threads are `shutdown` and the Responder's delivery callback, which
/// both post to the strand.
template <class Stream>
class Session final : public detail::SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;

  Session(std::shared_ptr<ServerCore> core, tcp::socket socket, std::shared_ptr<ConnectionSlot> slot,
          const tcp::endpoint& remote)
      : core_(std::move(core)),
        slot_(std::move(slot)),
        ex_(socket.get_executor()),
        stream_(make_stream(std::move(socket))),
        buffer_(core_->options.max_header_bytes + kReadChunk),
        read_timer_(ex_),
        write_timer_(ex_),
        handler_timer_(ex_),
        close_timer_(ex_),
        remote_address_(remote.address().to_string()),
        remote_port_(remote.port()),
        started_at_(Clock::now()) {}

  ~Session() override {
    if (id_) core_->unregister_session(*id_);
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start(std::uint64_t id) override {
    id_ = id;
    net::dispatch(ex_, [self = this->shared_from_this()] { self->begin(); });
  }

  void shutdown(Clock::time_point deadline) override {
    net::post(ex_, [self = this->shared_from_this(), deadline] { self->on_shutdown(deadline); });
  }

 private:
  enum class Phase { None, Handshake, Idle, Request };

  /// A streamed response (Responder::stream) on its way out: the head, then the
  /// producer's chunks one at a time, then the last chunk with the trailers.
  struct StreamOut {
    std::shared_ptr<detail::StreamConsumer> body;  // dropping it cancels the producer
    bhttp::response<bhttp::empty_body> head;
    std::optional<bhttp::response_serializer<bhttp::empty_body>> serializer;  // refers to `head`
    bool head_sent = false;
    bool chunked = true;   // HTTP/1.1; HTTP/1.0: raw bytes, the close ends the body
    std::string chunk;     // the chunk being written
    bhttp::fields trailers;  // the last chunk's, while it is written
    Clock::time_point progress;  // last write completed (for the stall timeout)
  };
  enum class StreamStep { Head, Chunk, Last };

  /// A request read and accepted, waiting for (or holding) its response. Responses leave
  /// in this order, whatever order handlers reply in.
  struct Pending {
    std::uint64_t seq = 0;
    std::string route{ServerStats::kNoRoute};
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;
    Clock::time_point deadline;  // for handler_timeout
    std::optional<bhttp::response<bhttp::string_body>> response;
    std::unique_ptr<StreamOut> stream;  // instead of `response` for a streamed body
    [[nodiscard]] bool answered() const { return response.has_value() || stream != nullptr; }
  };

  struct PendingUpgrade {
    std::uint64_t seq = 0;
    Request request;
    bhttp::request<bhttp::string_body> raw;
    const WebSocketHandler* handler = nullptr;
  };

  using Timer = net::steady_timer;
  using Expiry = void (Session::*)();

  Stream make_stream(tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *core_->tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  const ServerOptions& opts() const { return core_->options; }
  std::shared_ptr<Session> shared() { return this->shared_from_this(); }
  auto& socket() { return beast::get_lowest_layer(stream_).socket(); }

  // --- timers ----------------------------------------------------------------------
  // Each wait carries a generation so that a wait that completed just as it was
  // cancelled or re-armed does nothing.

  void arm(Timer& timer, std::uint64_t& generation, Clock::time_point when, Expiry on_expiry) {
    const auto g = ++generation;
    timer.expires_at(when);
    timer.async_wait([self = shared(), &generation, g, on_expiry](beast::error_code ec) {
      if (ec || generation != g || self->closed_) return;
      ((*self).*on_expiry)();
    });
  }

  static void disarm(Timer& timer, std::uint64_t& generation) {
    ++generation;
    timer.cancel();
  }

  void arm_read_timer(Clock::time_point when) { arm(read_timer_, read_gen_, when, &Session::on_read_timeout); }
  void disarm_read_timer() { disarm(read_timer_, read_gen_); }

  void arm_close_deadline(Clock::time_point when) {
    if (close_deadline_ && *close_deadline_ <= when) return;
    close_deadline_ = when;
    arm(close_timer_, close_gen_, when, &Session::close_now);
  }

  void disarm_all() {
    disarm(read_timer_, read_gen_);
    disarm(write_timer_, write_gen_);
    disarm(handler_timer_, handler_gen_);
    disarm(close_timer_, close_gen_);
  }

  void on_read_timeout() {
    // A keep-alive connection waiting for its next request simply expired; anything
    // else (handshake, a request being dribbled in, a first request that never came)
    // is a client holding a connection without making progress.
    const bool idle_keep_alive = phase_ == Phase::Idle && !first_request_;
    if (!idle_keep_alive) ++core_->stats.timed_out;
    close_now();
  }

  void on_write_timeout() {
    ++core_->stats.timed_out;
    close_now();
  }

  /// In the Idle phase: a first request must arrive within read_timeout of accept; a
  /// keep-alive connection may idle for idle_timeout once every response is out; while
  /// responses are pending the wait is bounded by the handler and write timeouts instead.
  void update_idle_timer() {
    if (phase_ != Phase::Idle) return;
    if (first_request_) {
      arm_read_timer(started_at_ + opts().read_timeout);
    } else if (queue_.empty()) {
      arm_read_timer(Clock::now() + (authenticated_ ? opts().idle_timeout
                                                    : std::min(opts().idle_timeout, opts().anonymous_idle_timeout)));
    } else {
      disarm_read_timer();
    }
  }

  /// Before a response: handler_timeout from the request. During a streamed body at the
  /// front: a stall timeout, handler_timeout since the last sign of progress (a chunk
  /// written, or the producer's last write/heartbeat), so a long download that moves is
  /// never cut.
  void update_handler_timer() {
    if (queue_.empty() || (upgrade_ && upgrade_->seq == queue_.front().seq)) {
      disarm(handler_timer_, handler_gen_);
      return;
    }
    const auto& front = queue_.front();
    if (front.stream) {
      arm(handler_timer_, handler_gen_, front.stream->progress + opts().handler_timeout, &Session::on_handler_timeout);
    } else if (front.response) {
      disarm(handler_timer_, handler_gen_);
    } else {
      arm(handler_timer_, handler_gen_, front.deadline, &Session::on_handler_timeout);
    }
  }

  void on_handler_timeout() {
    if (queue_.empty()) return;
    if (auto& front = queue_.front(); front.stream) {
      auto& out = *front.stream;
      // A write in progress is bounded by write_timeout; the producer may be working.
      out.progress = writing_ ? Clock::now() : std::max(out.progress, out.body->channel->last_activity());
      if (Clock::now() < out.progress + opts().handler_timeout) return update_handler_timer();
      ++core_->stats.handler_timeouts;
      core_->warn(fmt::format("streamed response for {} made no progress for {} ms: connection closed", front.route,
                              opts().handler_timeout.count()));
      return close_now();
    }
    if (queue_.front().response) return;
    ++core_->stats.handler_timeouts;
    complete(queue_.front().seq,
             json_failure(StatusCode::gateway_timeout, "handler_timeout",
                          fmt::format("the request was not answered within {} ms", opts().handler_timeout.count())));
  }

  // --- reading, routing, WebSocket hand-over (session_read.ipp) ----------------------
  void begin();
  void on_handshake(beast::error_code ec);
  void do_read();
  void on_first_bytes(beast::error_code ec, std::size_t bytes);
  void read_request();
  void on_header(beast::error_code ec);
  void on_body(beast::error_code ec);
  void on_read_error(beast::error_code ec);
  void protocol_error(StatusCode status, std::string_view code, std::string_view message);
  void on_request();
  Request to_request(bhttp::request<bhttp::string_body>& req);
  Pending* find(std::uint64_t seq);
  std::optional<Response> run_middleware(Request& request);
  void dispatch(bhttp::request<bhttp::string_body> req, std::uint64_t seq);
  void maybe_hand_over();

  // --- writing, streamed bodies, closing (session_write.ipp) -------------------------
  void fill_head(bhttp::response_header<>& out, const Pending& entry, const Response& res);
  bhttp::response<bhttp::string_body> build(const Pending& entry, Response res);
  void complete(std::uint64_t seq, Response res);
  void begin_write();
  void do_write();
  void on_write(beast::error_code ec);
  std::unique_ptr<StreamOut> build_stream(const Pending& entry, Response res);
  void on_stream_wake();
  void write_stream();
  void on_stream_write(beast::error_code ec, StreamStep step);
  void pop_front_response(bool keep);
  void send_continue();
  void after_write();
  void on_shutdown(Clock::time_point deadline);
  void begin_close();
  void finish_close();
  void drain();
  void close_now();

  std::shared_ptr<ServerCore> core_;
  std::shared_ptr<ConnectionSlot> slot_;
  net::any_io_executor ex_;  // the connection's strand
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::deque<Pending> queue_;
  std::optional<PendingUpgrade> upgrade_;

  Timer read_timer_;
  Timer write_timer_;
  Timer handler_timer_;
  Timer close_timer_;
  std::uint64_t read_gen_ = 0;
  std::uint64_t write_gen_ = 0;
  std::uint64_t handler_gen_ = 0;
  std::uint64_t close_gen_ = 0;
  std::optional<Clock::time_point> close_deadline_;

  std::string remote_address_;
  bool authenticated_ = false;  ///< a request on this connection passed authentication
  std::uint16_t remote_port_ = 0;
  Clock::time_point started_at_;
  std::optional<std::uint64_t> id_;
  std::uint64_t next_seq_ = 0;
  std::size_t drained_ = 0;
  Phase phase_ = Phase::None;
  bool first_request_ = true;
  bool reading_ = false;        // a read (or handshake/shutdown) is pending on the stream
  bool writing_ = false;        // a write is pending on the stream
  bool closing_ = false;        // no further request will be read
  bool close_started_ = false;  // graceful close under way
  bool closed_ = false;         // socket closed or handed over: touch nothing
  bool stopping_ = false;       // Server::stop was called
};

}  // namespace siax::http::detail
