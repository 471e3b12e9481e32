#include "http/server.h"

#include <algorithm>
#include <cctype>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include "http/body_stream.h"

namespace siax::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

/// Bytes asked of the socket per read; the read buffer holds the header limit plus this.
constexpr std::size_t kReadChunk = 16 * 1024;
/// Over-limit connections answered 503 at once; beyond this they are closed unanswered.
constexpr std::size_t kMaxRejecting = 32;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A handler-supplied field that cannot split the response or break its framing.
bool acceptable_field(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  // Framing and connection management belong to the server.
  for (std::string_view reserved : {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}) {
    if (iequals(name, reserved)) return false;
  }
  return true;
}

bool body_forbidden(StatusCode status) {
  auto code = static_cast<unsigned>(status);
  return (code >= 100 && code < 200) || code == 204 || code == 304;
}

Response stopping_response() {
  auto res = json_failure(StatusCode::service_unavailable, "server_stopping", "the agent is shutting down; retry shortly",
                          std::chrono::seconds(1));
  res.close_connection = true;
  return res;
}

Response internal_error_response() {
  return json_failure(StatusCode::internal_server_error, "internal", "the request handler failed unexpectedly");
}

}  // namespace

namespace detail {

/// Counters behind `ServerStats`; any thread.
class StatsRecorder {
 public:
  std::atomic<std::uint64_t> active{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> rejected_per_address{0};
  std::atomic<std::uint64_t> timed_out{0};
  std::atomic<std::uint64_t> handler_timeouts{0};
  std::atomic<std::uint64_t> websocket_upgrades{0};

  /// Route labels are registered patterns or kNoRoute, statuses a few dozen: bounded.
  void count_request(std::string_view route, unsigned status) {
    std::lock_guard lock(mu_);
    ++requests_[{std::string(route), status}];
  }

  [[nodiscard]] ServerStats snapshot() const {
    ServerStats out;
    out.active_connections = active.load();
    out.accepted_connections = accepted.load();
    out.rejected_connections = rejected.load();
    out.rejected_per_address = rejected_per_address.load();
    out.timed_out_connections = timed_out.load();
    out.handler_timeouts = handler_timeouts.load();
    out.websocket_upgrades = websocket_upgrades.load();
    std::lock_guard lock(mu_);
    for (const auto& [key, count] : requests_) out.requests.push_back({key.first, key.second, count});
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
};

/// What `Server::stop` needs from a connection; implemented by Session<Stream>.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  /// Starts the session on its strand; `id` is its key in the registry.
  virtual void start(std::uint64_t id) = 0;
  /// From any thread: begin a graceful close that ends by `deadline` at the latest.
  virtual void shutdown(Clock::time_point deadline) = 0;
};

/// State shared by the Server object, the acceptor and every live connection.
/// Options, routers, middleware and the TLS context are immutable once started.
struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(net::io_context& io, ServerOptions opts)
      : ioc(io), options(std::move(opts)), acceptor(net::make_strand(io)), retry_timer(acceptor.get_executor()) {}

  net::io_context& ioc;
  ServerOptions options;
  Router router;
  BasicRouter<WebSocketHandler> ws_router;
  std::vector<Middleware> middleware;
  std::optional<ssl::context> tls;
  StatsRecorder stats;

  // On the acceptor's strand.
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;

  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> started{false};
  std::atomic<std::size_t> rejecting{0};
  /// The whole 503 answer to over-limit connections; built by start().
  std::string reject_payload;

  // Session registry, for stop(); guarded by mu.
  std::mutex mu;
  bool stopping = false;
  std::uint64_t next_session_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;

  // Open connections per client address key (address_key); guarded by per_address_mu.
  std::mutex per_address_mu;
  std::unordered_map<std::string, std::size_t> per_address;

  /// Takes a place for a connection from `key`; false when that address is at its limit.
  bool take_address(const std::string& key) {
    if (options.max_connections_per_address == 0) return true;
    std::lock_guard lock(per_address_mu);
    auto& n = per_address[key];
    if (n >= options.max_connections_per_address) {
      if (n == 0) per_address.erase(key);
      return false;
    }
    ++n;
    return true;
  }
  void release_address(const std::string& key) {
    if (options.max_connections_per_address == 0) return;
    std::lock_guard lock(per_address_mu);
    auto it = per_address.find(key);
    if (it == per_address.end()) return;
    if (--it->second == 0) per_address.erase(it);
  }

  void warn(std::string_view message) const {
    if (!options.log_warning) return;
    try {
      options.log_warning(message);
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging must not take the server down
    }
  }

  std::optional<std::uint64_t> register_session(std::weak_ptr<SessionBase> session) {
    std::lock_guard lock(mu);
    if (stopping) return std::nullopt;
    auto id = next_session_id++;
    sessions.emplace(id, std::move(session));
    return id;
  }

  void unregister_session(std::uint64_t id) {
    std::lock_guard lock(mu);
    sessions.erase(id);
  }

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void start_session(tcp::socket socket);
  void reject(tcp::socket socket);
};

}  // namespace detail

namespace {

using detail::ServerCore;

/// Holds one unit of `active_connections` for as long as the connection lives
/// (including after a WebSocket hand-over).
class ConnectionSlot {
 public:
  /// `address_key`: the place taken with ServerCore::take_address, given back here.
  ConnectionSlot(std::shared_ptr<ServerCore> core, std::string address_key)
      : core_(std::move(core)), address_key_(std::move(address_key)) {
    ++core_->stats.active;
  }
  ~ConnectionSlot() {
    core_->release_address(address_key_);
    --core_->stats.active;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  std::shared_ptr<ServerCore> core_;
  std::string address_key_;
};

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

  // --- reading ---------------------------------------------------------------------

  void begin() {
    if constexpr (kTls) {
      phase_ = Phase::Handshake;
      reading_ = true;
      arm_read_timer(started_at_ + opts().read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = shared()](beast::error_code ec) { self->on_handshake(ec); });
    } else {
      do_read();
    }
  }

  void on_handshake(beast::error_code ec) {
    reading_ = false;
    phase_ = Phase::None;
    if (closed_) return;
    if (ec) return close_now();  // not TLS, bad client hello, ...: nothing to answer
    disarm_read_timer();
    do_read();
  }

  void do_read() {
    if (reading_ || closing_ || closed_ || upgrade_ || queue_.size() >= opts().max_pipelined_requests) return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(opts().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(opts().max_body_bytes));
    reading_ = true;
    if (buffer_.size() > 0) return read_request();  // pipelined bytes already here
    phase_ = Phase::Idle;
    update_idle_timer();
    const auto n = std::min(kReadChunk, buffer_.max_size() - buffer_.size());
    stream_.async_read_some(buffer_.prepare(n), [self = shared()](beast::error_code ec, std::size_t bytes) {
      self->on_first_bytes(ec, bytes);
    });
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    reading_ = false;
    if (closed_) return;
    if (close_started_) return finish_close();
    if (ec) return on_read_error(ec);
    buffer_.commit(bytes);
    reading_ = true;
    read_request();
  }

  /// From the first byte of a request to its last body byte: one read_timeout.
  void read_request() {
    phase_ = Phase::Request;
    arm_read_timer(first_request_ ? started_at_ + opts().read_timeout : Clock::now() + opts().read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    reading_ = false;
    if (closed_) return;
    if (close_started_) return finish_close();
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    // The client waits for "100 Continue" before the body. It may only be sent when
    // every earlier response is out, or the client would take it for theirs; otherwise
    // the client sends the body after its own short delay.
    const auto expect = parser_->get()[bhttp::field::expect];
    if (iequals(expect, "100-continue") && queue_.empty() && !writing_) send_continue();
    reading_ = true;
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared()](beast::error_code ec2, std::size_t) { self->on_body(ec2); });
  }

  void on_body(beast::error_code ec) {
    reading_ = false;
    if (closed_) return;
    if (close_started_) return finish_close();
    if (ec) return on_read_error(ec);
    on_request();
  }

  void on_read_error(beast::error_code ec) {
    phase_ = Phase::None;
    disarm_read_timer();
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
        ec == ssl::error::stream_truncated) {
      // The client closed its side. Responses still pending are written (it may have
      // half-closed and still read); then the connection closes.
      closing_ = true;
      if (queue_.empty() && !writing_) close_now();
      return;
    }
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return protocol_error(StatusCode::request_header_fields_too_large, "headers_too_large",
                            fmt::format("the request headers exceed {} bytes", opts().max_header_bytes));
    }
    if (ec == bhttp::error::body_limit) {
      return protocol_error(StatusCode::payload_too_large, "body_too_large",
                            fmt::format("the request body exceeds {} bytes", opts().max_body_bytes));
    }
    if (ec.category() == beast::error_code(bhttp::error::bad_target).category()) {
      return protocol_error(StatusCode::bad_request, "malformed_request",
                            fmt::format("the request is not valid HTTP/1.1: {}", ec.message()));
    }
    close_now();  // reset, aborted, TLS failure: nobody to answer
  }

  /// Queues a final error response after any pending ones; the connection closes once
  /// it is written (the rest of the input cannot be trusted to frame a next request).
  void protocol_error(StatusCode status, std::string_view code, std::string_view message) {
    closing_ = true;
    Pending entry;
    entry.seq = next_seq_++;
    entry.keep_alive = false;
    queue_.push_back(std::move(entry));
    auto res = json_failure(status, code, message);
    res.close_connection = true;
    complete(queue_.back().seq, std::move(res));
  }

  void on_request() {
    phase_ = Phase::None;
    disarm_read_timer();
    auto req = parser_->release();
    parser_.reset();
    first_request_ = false;

    Pending entry;
    entry.seq = next_seq_++;
    entry.version = req.version();
    entry.keep_alive = req.keep_alive();
    entry.head = req.method() == bhttp::verb::head;
    entry.deadline = Clock::now() + opts().handler_timeout;
    if (!entry.keep_alive) closing_ = true;
    const auto seq = entry.seq;
    queue_.push_back(std::move(entry));

    if (stopping_) {
      complete(seq, stopping_response());
    } else {
      dispatch(std::move(req), seq);
    }
    if (closed_) return;  // handed over to a WebSocket handler
    update_handler_timer();
    do_read();  // read ahead (pipelining) while the handler works
  }

  // --- routing and handlers --------------------------------------------------------

  Request to_request(bhttp::request<bhttp::string_body>& req) {
    Request r;
    r.method = req.method();
    r.method_text = std::string(req.method_string());
    r.target = std::string(req.target());
    r.version = req.version();
    r.keep_alive = req.keep_alive();
    for (const auto& field : req) r.headers.add(std::string(field.name_string()), std::string(field.value()));
    r.body = std::move(req.body());
    r.remote_address = remote_address_;
    r.remote_port = remote_port_;
    r.tls = kTls;
    return r;
  }

  Pending* find(std::uint64_t seq) {
    for (auto& entry : queue_) {
      if (entry.seq == seq) return &entry;
    }
    return nullptr;
  }

  std::optional<Response> run_middleware(Request& request) {
    for (const auto& middleware : core_->middleware) {
      try {
        if (auto rejected = middleware(request)) return rejected;
      } catch (const std::exception& e) {
        core_->warn(fmt::format("middleware threw on {} {}: {}", request.method_text, request.route, e.what()));
        return internal_error_response();
      } catch (...) {
        core_->warn(fmt::format("middleware threw on {} {}", request.method_text, request.route));
        return internal_error_response();
      }
    }
    return std::nullopt;
  }

  void dispatch(bhttp::request<bhttp::string_body> req, std::uint64_t seq) {
    Request request = to_request(req);
    if (opts().allowed_hosts) {
      if (auto host = request.header("Host"); host && !host_allowed(*host, *opts().allowed_hosts)) {
        return complete(seq, json_failure(StatusCode::misdirected_request, "host_not_allowed",
                                          "this agent does not answer to that Host name: use its address, or add "
                                          "the name to server.allowed_hosts"));
      }
    }
    auto target = parse_target(request.target, opts().target_limits);
    if (!target) return complete(seq, error_response(target.error()));
    request.path = std::move(target->path);
    request.query = std::move(target->query);

    if (!core_->ws_router.empty() && beast::websocket::is_upgrade(req)) {
      auto ws = core_->ws_router.match(Method::get, target->segments);
      if (ws.outcome == RouteOutcome::Found) {
        request.route = std::string(ws.pattern);
        request.params = std::move(ws.params);
        find(seq)->route = request.route;
        if (auto rejected = run_middleware(request)) return complete(seq, std::move(*rejected));
        upgrade_.emplace(PendingUpgrade{seq, std::move(request), std::move(req), ws.handler});
        maybe_hand_over();
        return;
      }
    }

    auto match = core_->router.match(request.method, target->segments);
    if (match.outcome == RouteOutcome::NotFound) {
      return complete(seq, json_failure(StatusCode::not_found, "not_found",
                                        fmt::format("there is no resource at {}", request.path)));
    }
    if (match.outcome == RouteOutcome::MethodNotAllowed) {
      auto res = json_failure(StatusCode::method_not_allowed, "method_not_allowed",
                              fmt::format("{} is not allowed on {}", request.method_text, request.path));
      res.headers.set("Allow", allow_header_value(match.allowed));
      return complete(seq, std::move(res));
    }
    request.route = std::string(match.pattern);
    request.params = std::move(match.params);
    find(seq)->route = request.route;
    if (auto rejected = run_middleware(request)) return complete(seq, std::move(*rejected));
    if (request.auth.has_value()) authenticated_ = true;

    Responder responder([weak = this->weak_from_this(), seq](Response res) {
      if (auto self = weak.lock()) {
        net::post(self->ex_, [self, seq, res = std::move(res)]() mutable { self->complete(seq, std::move(res)); });
      }
    });
    const auto route = request.route;
    try {
      (*match.handler)(std::move(request), responder);
    } catch (const std::exception& e) {
      core_->warn(fmt::format("handler for {} threw: {}", route, e.what()));
      responder.send(internal_error_response());
    } catch (...) {
      core_->warn(fmt::format("handler for {} threw", route));
      responder.send(internal_error_response());
    }
  }

  /// Hands the connection to the WebSocket handler once every earlier response is out
  /// and nothing is pending on the stream.
  void maybe_hand_over() {
    if (!upgrade_ || writing_ || reading_ || closed_ || close_started_) return;
    if (queue_.size() != 1 || queue_.front().seq != upgrade_->seq) return;
    auto up = std::move(*upgrade_);
    upgrade_.reset();
    queue_.clear();
    disarm_all();
    closed_ = true;  // from now on this session owns nothing; the stream is moved out
    ++core_->stats.websocket_upgrades;
    core_->stats.count_request(up.request.route, 101);
    const auto route = up.request.route;
    WebSocketUpgrade handed{std::move(up.request), std::move(up.raw), WebSocketStream(std::in_place_type<Stream>, std::move(stream_)),
                            slot_};
    try {
      (*up.handler)(std::move(handed));
    } catch (const std::exception& e) {
      core_->warn(fmt::format("WebSocket handler for {} threw: {}", route, e.what()));
    } catch (...) {
      core_->warn(fmt::format("WebSocket handler for {} threw", route));
    }
  }

  // --- writing ---------------------------------------------------------------------

  /// Server, Content-Type and the handler's fields (those that are safe).
  void fill_head(bhttp::response_header<>& out, const Pending& entry, const Response& res) {
    out.set(bhttp::field::server, opts().server_header);
    if (!res.content_type.empty() && !body_forbidden(res.status) && !res.headers.contains("Content-Type")) {
      out.set(bhttp::field::content_type, res.content_type);
    }
    for (const auto& [name, value] : res.headers.fields()) {
      if (!acceptable_field(name, value)) {
        core_->warn(fmt::format("dropped response header '{}' on {}: not allowed or not valid", name, entry.route));
        continue;
      }
      out.insert(name, value);
    }
  }

  bhttp::response<bhttp::string_body> build(const Pending& entry, Response res) {
    bhttp::response<bhttp::string_body> out{res.status, entry.version};
    fill_head(out, entry, res);
    const bool no_body = body_forbidden(res.status);
    if (no_body) res.body.clear();
    out.keep_alive(entry.keep_alive && !res.close_connection && !stopping_);
    out.body() = std::move(res.body);
    out.prepare_payload();
    if (entry.head && !no_body) {
      const auto length = out.body().size();
      out.body().clear();
      out.content_length(length);
    }
    return out;
  }

  /// Records the response for request `seq` (ignored if it was already answered, e.g.
  /// by the handler timeout, or if the connection is gone) and writes what is ready.
  /// Dropping `res` (and with it `res.stream`) cancels a streamed body that is not used.
  void complete(std::uint64_t seq, Response res) {
    if (closed_) return;
    auto* entry = find(seq);
    if (entry == nullptr || entry->answered()) return;
    if (res.stream && body_forbidden(res.status)) res.stream.reset();
    try {
      if (res.stream) {
        entry->stream = build_stream(*entry, std::move(res));
      } else {
        entry->response.emplace(build(*entry, std::move(res)));
      }
    } catch (const std::exception& e) {
      core_->warn(fmt::format("could not build the response for {}: {}", entry->route, e.what()));
      entry->stream.reset();
      entry->response.emplace(build(*entry, internal_error_response()));
    }
    core_->stats.count_request(entry->route, entry->stream ? entry->stream->head.result_int()
                                                           : entry->response->result_int());
    update_handler_timer();
    do_write();
  }

  void begin_write() {
    writing_ = true;
    arm(write_timer_, write_gen_, Clock::now() + opts().write_timeout, &Session::on_write_timeout);
  }

  void do_write() {
    if (writing_ || closed_ || close_started_ || queue_.empty()) return;
    if (queue_.front().stream) return write_stream();
    if (!queue_.front().response) return;
    begin_write();
    // The message lives in the queue's front entry until on_write pops it (deque
    // push_back does not move existing elements).
    bhttp::async_write(stream_, *queue_.front().response,
                       [self = shared()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    disarm(write_timer_, write_gen_);
    if (closed_) return;
    if (ec) return close_now();
    pop_front_response(queue_.front().response->keep_alive());
  }

  // --- streamed bodies ---------------------------------------------------------------
  // On the strand like everything else. The producer (any thread) only touches the
  // BodyChannel; it wakes this connection through `on_stream_wake` (a post) when it
  // adds to a stream the connection found empty. One write at a time, as for whole
  // responses: head, chunk, chunk, ..., last chunk. Each write is bounded by
  // write_timeout; the gaps between them by the stall timeout (update_handler_timer).

  std::unique_ptr<StreamOut> build_stream(const Pending& entry, Response res) {
    auto out = std::make_unique<StreamOut>();
    out->chunked = entry.version >= 11;
    out->head = bhttp::response<bhttp::empty_body>{res.status, entry.version};
    fill_head(out->head, entry, res);
    // HTTP/1.0 has no chunked encoding: the end of the connection ends the body.
    out->head.keep_alive(out->chunked && entry.keep_alive && !res.close_connection && !stopping_);
    if (out->chunked) out->head.chunked(true);
    out->serializer.emplace(out->head);
    out->progress = Clock::now();
    out->body = std::move(res.stream);
    out->body->channel->attach([weak = this->weak_from_this()] {
      if (auto self = weak.lock()) net::post(self->ex_, [self] { self->on_stream_wake(); });
    });
    return out;
  }

  void on_stream_wake() {
    if (!closed_) do_write();
  }

  void write_stream() {
    auto& entry = queue_.front();
    auto& out = *entry.stream;
    auto done = [self = shared()](StreamStep step) {
      return [self, step](beast::error_code ec, std::size_t) { self->on_stream_write(ec, step); };
    };
    if (!out.head_sent) {
      begin_write();
      bhttp::async_write_header(stream_, *out.serializer, done(StreamStep::Head));
      return;
    }
    auto next = out.body->channel->take();
    switch (next.kind) {
      case detail::BodyChannel::Kind::Nothing:
        return;  // the producer wakes us when it adds something
      case detail::BodyChannel::Kind::Chunk:
        out.chunk = std::move(next.data);
        begin_write();
        if (out.chunked) {
          net::async_write(stream_, bhttp::make_chunk(net::buffer(out.chunk)), done(StreamStep::Chunk));
        } else {
          net::async_write(stream_, net::buffer(out.chunk), done(StreamStep::Chunk));
        }
        return;
      case detail::BodyChannel::Kind::Finished:
        if (!out.chunked) return pop_front_response(false);
        for (const auto& [name, value] : next.trailers.fields()) {
          if (acceptable_field(name, value)) out.trailers.insert(name, value);
        }
        begin_write();
        net::async_write(stream_, bhttp::make_chunk_last(out.trailers), done(StreamStep::Last));
        return;
      case detail::BodyChannel::Kind::Failed:
        core_->warn(fmt::format("streamed response for {} failed after its head was sent: {}", entry.route,
                                next.reason));
        return close_now();
      case detail::BodyChannel::Kind::Cancelled:
        return close_now();
    }
  }

  void on_stream_write(beast::error_code ec, StreamStep step) {
    writing_ = false;
    disarm(write_timer_, write_gen_);
    if (closed_) return;
    if (ec) return close_now();  // the client went away: close_now cancels the producer
    auto& out = *queue_.front().stream;
    out.progress = Clock::now();
    switch (step) {
      case StreamStep::Head:
        out.head_sent = true;
        if (queue_.front().head) return pop_front_response(out.head.keep_alive());  // HEAD: no body
        break;
      case StreamStep::Chunk:
        out.chunk.clear();
        out.body->channel->written();
        break;
      case StreamStep::Last:
        return pop_front_response(out.head.keep_alive());
    }
    after_write();
  }

  /// The front response is completely written (or given up on, for HEAD): next one.
  void pop_front_response(bool keep) {
    queue_.pop_front();
    if (!keep) {
      // Anything read after this request is dropped with the connection.
      closing_ = true;
      queue_.clear();
      upgrade_.reset();
      return begin_close();
    }
    after_write();
  }

  void send_continue() {
    writing_ = true;
    arm(write_timer_, write_gen_, Clock::now() + opts().write_timeout, &Session::on_write_timeout);
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       disarm(self->write_timer_, self->write_gen_);
                       if (self->closed_) return;
                       if (ec) return self->close_now();
                       self->after_write();
                     });
  }

  void after_write() {
    update_handler_timer();
    if (queue_.empty() && !upgrade_ && (closing_ || stopping_)) return begin_close();
    maybe_hand_over();
    if (closed_) return;
    update_idle_timer();
    do_read();
    do_write();
  }

  // --- closing ---------------------------------------------------------------------

  void on_shutdown(Clock::time_point deadline) {
    if (closed_ || stopping_) return;
    stopping_ = true;
    closing_ = true;
    arm_close_deadline(deadline);
    if (phase_ == Phase::Handshake) return close_now();
    if (upgrade_) {
      const auto seq = upgrade_->seq;
      upgrade_.reset();
      complete(seq, stopping_response());
    }
    if (queue_.empty() && !writing_) begin_close();
  }

  /// Graceful close; no write may be pending. Plain: FIN, then drain the client's
  /// leftover input until it closes (so our last response is not destroyed by a reset).
  /// TLS: close_notify. Bounded by linger_timeout (and by the stop deadline).
  void begin_close() {
    if (close_started_ || closed_) return;
    close_started_ = true;
    closing_ = true;
    disarm_read_timer();
    disarm(handler_timer_, handler_gen_);
    arm_close_deadline(Clock::now() + opts().linger_timeout);
    if (reading_) {
      beast::error_code ignored;
      socket().cancel(ignored);  // the read completes, sees close_started_, calls finish_close
      return;
    }
    finish_close();
  }

  void finish_close() {
    if (closed_) return;
    if constexpr (kTls) {
      reading_ = true;
      stream_.async_shutdown([self = shared()](beast::error_code) {
        self->reading_ = false;
        self->close_now();
      });
    } else {
      beast::error_code ec;
      socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return close_now();
      drain();
    }
  }

  void drain() {
    buffer_.clear();
    reading_ = true;
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared()](beast::error_code ec, std::size_t n) {
      self->reading_ = false;
      if (self->closed_) return;
      self->drained_ += n;
      // Lingering close: a client that writes its whole body before it reads (Python's
      // http.client, requests) must get our 413, not a reset; bounded by bytes and by
      // linger_timeout.
      if (ec || self->drained_ > self->opts().max_linger_bytes) return self->close_now();
      self->drain();
    });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    disarm_all();
    for (auto& entry : queue_) {
      if (entry.stream) entry.stream->body->channel->cancel();  // wake blocked producers now
    }
    beast::error_code ignored;
    socket().close(ignored);  // pending operations complete with operation_aborted
  }

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

/// Answers an over-limit connection with a fixed 503 and closes it, all within
/// linger_timeout (the tcp_stream's own timeout covers write and drain together).
class Rejector : public std::enable_shared_from_this<Rejector> {
 public:
  Rejector(std::shared_ptr<ServerCore> core, tcp::socket socket) : core_(std::move(core)), stream_(std::move(socket)) {
    ++core_->rejecting;
  }
  ~Rejector() { --core_->rejecting; }
  Rejector(const Rejector&) = delete;
  Rejector& operator=(const Rejector&) = delete;

  void start() {
    stream_.expires_after(core_->options.linger_timeout);
    net::async_write(stream_, net::buffer(core_->reject_payload), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->drain();
    });
  }

 private:
  void drain() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > 64 * 1024) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  std::shared_ptr<ServerCore> core_;
  beast::tcp_stream stream_;
  std::array<char, 4096> scratch_{};
  std::size_t drained_ = 0;
};

}  // namespace

// --- accept loop (on the acceptor's strand) ----------------------------------------

namespace detail {

void ServerCore::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void ServerCore::on_accept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor.is_open()) return;  // stopped
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // EMFILE and friends: do not spin; try again shortly.
    warn(fmt::format("accept failed: {}", ec.message()));
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && self->acceptor.is_open()) self->do_accept();
    });
    return;
  }
  ++stats.accepted;
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (stats.active.load() >= options.max_connections) {
    ++stats.rejected;
    reject(std::move(socket));
  } else {
    start_session(std::move(socket));
  }
  do_accept();
}

std::string address_key(const net::ip::address& a) {
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    auto bytes = a.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);  // one /64: what one host usually gets
    return net::ip::address_v6(bytes).to_string() + "/64";
  }
  if (a.is_v6()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

void ServerCore::start_session(tcp::socket socket) {
  beast::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  auto key = address_key(remote.address());
  if (!take_address(key)) {
    ++stats.rejected;
    ++stats.rejected_per_address;
    reject(std::move(socket));
    return;
  }
  auto slot = std::make_shared<ConnectionSlot>(shared_from_this(), std::move(key));
  std::shared_ptr<SessionBase> session;
  if (tls) {
    session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(shared_from_this(), std::move(socket),
                                                                            std::move(slot), remote);
  } else {
    session = std::make_shared<Session<beast::tcp_stream>>(shared_from_this(), std::move(socket), std::move(slot), remote);
  }
  auto id = register_session(session);
  if (!id) return;  // stopping: dropping the session closes the socket
  session->start(*id);
}

void ServerCore::reject(tcp::socket socket) {
  if (tls || rejecting.load() >= kMaxRejecting) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<Rejector>(shared_from_this(), std::move(socket))->start();
}

}  // namespace detail

// --- Host allow-list ----------------------------------------------------------------

bool host_allowed(std::string_view host_header, const std::vector<std::string>& allowed) {
  std::string_view name = host_header;
  if (name.starts_with('[')) {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    name = name.substr(1, close - 1);
  } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.ends_with('.')) lower.pop_back();  // "localhost." is localhost
  if (lower.empty()) return false;
  // An IP literal cannot be rebound by DNS.
  beast::error_code ec;
  (void)net::ip::make_address(lower, ec);
  if (!ec) return true;
  if (lower == "localhost") return true;
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
    return a.size() == lower.size() && std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  });
}

// --- ServerStats --------------------------------------------------------------------

std::uint64_t ServerStats::requests_for(std::string_view route, unsigned status) const noexcept {
  for (const auto& r : requests) {
    if (r.route == route && r.status == status) return r.count;
  }
  return 0;
}

std::uint64_t ServerStats::requests_total() const noexcept {
  std::uint64_t total = 0;
  for (const auto& r : requests) total += r.count;
  return total;
}

// --- Server -------------------------------------------------------------------------

Server::Server(net::io_context& ioc, ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>(ioc, std::move(options))) {}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

namespace {
Status too_late(std::string_view what) {
  return fail(ErrorKind::Conflict, "server_started", fmt::format("{} must be registered before start()", what));
}
}  // namespace

Status Server::route(Method method, std::string_view pattern, Handler handler) {
  if (core_->started) return too_late("routes");
  if (!handler) return fail(ErrorKind::InvalidInput, "invalid_handler", fmt::format("route '{}': empty handler", pattern));
  return core_->router.add(method, pattern, std::move(handler));
}

Status Server::on_websocket(std::string_view pattern, WebSocketHandler handler) {
  if (core_->started) return too_late("WebSocket routes");
  if (!handler) return fail(ErrorKind::InvalidInput, "invalid_handler", fmt::format("route '{}': empty handler", pattern));
  return core_->ws_router.add(Method::get, pattern, std::move(handler));
}

Status Server::use(Middleware middleware) {
  if (core_->started) return too_late("middleware");
  if (!middleware) return fail(ErrorKind::InvalidInput, "invalid_handler", "empty middleware");
  core_->middleware.push_back(std::move(middleware));
  return ok();
}

Status Server::start() {
  auto& core = *core_;
  if (core.started) return fail(ErrorKind::Conflict, "server_started", "start() was already called");
  {
    std::lock_guard lock(core.mu);
    if (core.stopping) return fail(ErrorKind::Conflict, "server_stopped", "the server was stopped; it cannot restart");
  }
  const auto& o = core.options;
  auto bad_option = [](std::string message) {
    return fail(ErrorKind::InvalidInput, "invalid_server_options", std::move(message));
  };
  using std::chrono::milliseconds;
  if (o.max_connections == 0) return bad_option("max_connections must be at least 1");
  if (o.max_pipelined_requests == 0) return bad_option("max_pipelined_requests must be at least 1");
  if (o.max_header_bytes < 256) return bad_option("max_header_bytes must be at least 256");
  if (o.target_limits.max_target_bytes == 0) return bad_option("max_target_bytes must be at least 1");
  for (auto [name, value] : {std::pair{"read_timeout", o.read_timeout}, {"idle_timeout", o.idle_timeout},
                             {"write_timeout", o.write_timeout}, {"handler_timeout", o.handler_timeout},
                             {"linger_timeout", o.linger_timeout},
                             {"anonymous_idle_timeout", o.anonymous_idle_timeout}}) {
    if (value <= milliseconds(0)) return bad_option(fmt::format("{} must be positive", name));
  }

  if (o.tls) {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    beast::error_code ec;
    ctx.use_certificate_chain_file(o.tls->certificate_chain_file, ec);
    if (ec) {
      return fail(ErrorKind::InvalidInput, "tls_setup_failed",
                  fmt::format("cannot load the certificate chain '{}': {}", o.tls->certificate_chain_file, ec.message()));
    }
    ctx.use_private_key_file(o.tls->private_key_file, ssl::context::pem, ec);
    if (ec) {
      return fail(ErrorKind::InvalidInput, "tls_setup_failed",
                  fmt::format("cannot load the private key '{}': {}", o.tls->private_key_file, ec.message()));
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return fail(ErrorKind::InvalidInput, "tls_setup_failed",
                  fmt::format("the private key '{}' does not match the certificate '{}'", o.tls->private_key_file,
                              o.tls->certificate_chain_file));
    }
    core.tls.emplace(std::move(ctx));
  }

  beast::error_code ec;
  auto address = net::ip::make_address(o.address, ec);
  if (ec) return bad_option(fmt::format("'{}' is not an IP address", o.address));
  const tcp::endpoint endpoint(address, o.port);
  auto listen_failed = [&](std::string_view step, const beast::error_code& err) {
    beast::error_code ignored;
    core.acceptor.close(ignored);
    return fail(ErrorKind::Unavailable, "listen_failed",
                fmt::format("cannot listen on {}:{} ({}): {}", o.address, o.port, step, err.message()));
  };
  if (core.acceptor.open(endpoint.protocol(), ec); ec) return listen_failed("open", ec);
  if (core.acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) return listen_failed("reuse_address", ec);
  if (core.acceptor.bind(endpoint, ec); ec) return listen_failed("bind", ec);
  if (core.acceptor.listen(net::socket_base::max_listen_connections, ec); ec) return listen_failed("listen", ec);
  const auto local = core.acceptor.local_endpoint(ec);
  if (ec) return listen_failed("local_endpoint", ec);
  core.port = local.port();
  {
    auto res = json_failure(StatusCode::service_unavailable, "too_many_connections",
                            fmt::format("the agent serves at most {} connections at once; retry shortly",
                                        o.max_connections),
                            std::chrono::seconds(1));
    core.reject_payload = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nServer: {}\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
        o.server_header, res.body.size(), res.body);
  }
  core.started = true;
  net::post(core.acceptor.get_executor(), [c = core_] { c->do_accept(); });
  return ok();
}

std::uint16_t Server::bound_port() const noexcept { return core_->port.load(); }

void Server::stop(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<detail::SessionBase>> live;
  {
    std::lock_guard lock(core_->mu);
    if (core_->stopping) return;
    core_->stopping = true;
    for (const auto& [id, weak] : core_->sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  net::post(core_->acceptor.get_executor(), [c = core_] {
    beast::error_code ignored;
    c->acceptor.close(ignored);
    c->retry_timer.cancel();
  });
  const auto deadline = Clock::now() + grace;
  for (const auto& session : live) session->shutdown(deadline);
}

ServerStats Server::stats() const { return core_->stats.snapshot(); }

}  // namespace siax::http
