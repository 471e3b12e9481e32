#pragma once
/// The agent's HTTP(S) server: Boost.Beast over one caller-owned io_context.
///
/// Threading. Every connection lives on its own strand of the io_context; the acceptor
/// has one too. Parsing, routing, middleware and handler invocation happen on the
/// connection's strand, i.e. on whichever thread runs the io_context. With one io thread
/// (what the agent does) handlers are never concurrent; with several, handlers of
/// different connections may run concurrently and must be thread-safe. Handlers must not
/// block: they reply through `Responder::send`, from any thread, or stream a body with
/// `Responder::stream` (the head, then chunks from a producer thread through a
/// BodyWriter; see "Streamed responses" below). `stop()` and `stats()`
/// may be called from any thread; routes, WebSocket routes and middleware must be
/// registered before `start()` and are read-only afterwards.
///
/// Limits and what happens when they are hit (every one is counted in `ServerStats`):
///   - max_connections: the connection is accepted and, for plain HTTP, answered at once
///     with 503 {"code": "too_many_connections"} + `Retry-After: 1` + `Connection: close`
///     (the request is not read; the socket is drained for up to a second so the client
///     sees the 503 instead of a reset). Over TLS, or when more than 32 such rejections
///     are already in progress, it is closed at once (no handshake spent on overload).
///   - max_header_bytes: 431 {"code": "headers_too_large"}, connection closed.
///   - max_body_bytes: 413 {"code": "body_too_large"}, the handler is not called,
///     connection closed. A declared Content-Length is checked before any body is read.
///     The close lingers: the rest of the body is read and discarded (up to
///     max_linger_bytes, for up to linger_timeout) so that the client gets the 413.
///   - read_timeout: from the first byte of a request (for a connection's first request:
///     from accept, TLS handshake included) to its last body byte. Expiry (slowloris,
///     stalled upload) closes the connection without a response.
///   - max_connections_per_address: as max_connections, for the connections of one client
///     address (an IPv6 address counts as its /64).
///   - idle_timeout: a keep-alive connection with no request in progress is closed;
///     anonymous_idle_timeout (shorter) until the connection sent an authenticated request.
///   - write_timeout: a response not written in time (client not reading) closes the
///     connection. For a streamed body: each chunk (and the head, and the last chunk).
///   - handler_timeout: a handler that has not replied in time gets the client a
///     504 {"code": "handler_timeout"}; a later `send` or `stream` is ignored (a late
///     stream is cancelled). For a streamed body, once its head is the response being
///     sent, it is a stall timeout instead: the connection is closed (and counted in
///     `handler_timeouts`) only when nothing happened for that long (no chunk written,
///     no producer write or heartbeat); a long body that makes progress is never cut.
///   - max_pipelined_requests: requests read ahead on one connection while earlier
///     responses are pending; at the limit the server stops reading that connection
///     until a response has been written (TCP backpressure, nothing is dropped).
///   - malformed requests: 400 {"code": "malformed_request"}, connection closed; bad
///     targets (see `parse_target`): 400 with the specific code, connection kept.
///   - unknown path 404 {"code": "not_found"}; known path, other method:
///     405 {"code": "method_not_allowed"} with `Allow`.
///   - during stop(): requests that arrive get 503 {"code": "server_stopping"}.
///   - allowed_hosts: a `Host` that is not allowed gets 421 {"code": "host_not_allowed"}.
///
/// Streamed responses (`Responder::stream`). Sent in request order like any response,
/// with `Transfer-Encoding: chunked` (Beast's chunk encoder; trailers on the last chunk)
/// to HTTP/1.1 clients, unframed to HTTP/1.0 clients (the connection then closes after
/// the body). The producer runs on its own thread and blocks in `BodyWriter::write`
/// while `max_in_flight` chunks are queued or being written (flow control: the memory a
/// stream holds is bounded whatever the client does). The connection takes one chunk at
/// a time on its strand and writes it. When the connection ends (client gone, a
/// timeout, stop() past its grace) the stream is cancelled: the producer's blocked or
/// next `write` returns false. A producer that fails (or drops its writer) after the
/// head was sent gets the connection closed without the last chunk (a warning is
/// logged), so clients see a truncated body, never a complete-looking one. A client
/// that only half-closes keeps getting the body, as for any pending response. Stats
/// count a streamed response once, by its head's status.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "common/result.h"
#include "http/message.h"
#include "http/router.h"

namespace siax::http {

/// Whether `host_header` ("name[:port]", "[v6]:port") names an IP literal, "localhost" or
/// one of `allowed` (case-insensitive). Pure.
[[nodiscard]] bool host_allowed(std::string_view host_header, const std::vector<std::string>& allowed);

namespace detail {
struct ServerCore;  // the implementation, shared with live connections
}  // namespace detail

/// Certificate and key for HTTPS. When set, the server speaks HTTPS only (TLS >= 1.2).
struct TlsOptions {
  std::string certificate_chain_file;  ///< PEM, leaf first
  std::string private_key_file;        ///< PEM, unencrypted
};

struct ServerOptions {
  std::string address = "127.0.0.1";  ///< IPv4 or IPv6 literal
  std::uint16_t port = 8080;          ///< 0: the kernel picks one; see `Server::bound_port`
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 8 * 1024;  ///< request line + fields
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds handler_timeout{60'000};
  /// How long a closing connection waits for the client after our last byte (to drain
  /// unread input so the client gets the response instead of a reset; TLS close_notify).
  std::chrono::milliseconds linger_timeout{1'000};
  /// At most this many bytes are read and discarded while lingering (e.g. the rest of a
  /// body refused with 413, so that clients that send it all before reading get the 413).
  std::size_t max_linger_bytes = 16 * 1024 * 1024;
  std::size_t max_connections = 256;  ///< includes connections handed over to WebSockets
  /// At most this many connections from one client address (IPv6: one /64) at once, so
  /// that one client cannot take every slot; over it, the same 503 as max_connections.
  /// 0: no per-address limit.
  std::size_t max_connections_per_address = 32;
  /// The idle keep-alive of a connection that has sent no authenticated request yet
  /// (no middleware set `Request::auth`): strangers do not get to hold slots for long.
  std::chrono::milliseconds anonymous_idle_timeout{2'000};
  std::size_t max_pipelined_requests = 8;
  /// Against DNS rebinding: when set, a request whose `Host` names something else than an
  /// IP literal, "localhost" or one of these names (case-insensitive, port ignored) gets
  /// 421 {"code": "host_not_allowed"}. A request without `Host` (HTTP/1.0) passes.
  /// Unset: any Host.
  std::optional<std::vector<std::string>> allowed_hosts;
  TargetLimits target_limits{};
  std::optional<TlsOptions> tls;
  std::string server_header = "siax-agent";
  /// Receives warnings (accept failures, handler exceptions). Called on io threads;
  /// must be thread-safe and not block. May be empty.
  std::function<void(std::string_view)> log_warning;
};

/// A snapshot of the server's counters (a value: read it from any thread via
/// `Server::stats()`).
struct ServerStats {
  /// Route label of responses to requests that matched no route: bad targets, 404, 405,
  /// protocol errors (400/413/431). Over-limit connections answered 503 are counted in
  /// `rejected_connections`, not here.
  static constexpr std::string_view kNoRoute = "-";

  struct RouteStatusCount {
    std::string route;  ///< the pattern, e.g. "/api/apps/:name", or kNoRoute
    unsigned status = 0;
    std::uint64_t count = 0;
  };

  std::uint64_t active_connections = 0;    ///< open now (WebSockets included)
  std::uint64_t accepted_connections = 0;  ///< ever accepted, rejected ones included
  std::uint64_t rejected_connections = 0;  ///< over max_connections or max_connections_per_address
  std::uint64_t rejected_per_address = 0;  ///< of those, over max_connections_per_address
  std::uint64_t timed_out_connections = 0; ///< closed by read_timeout or write_timeout
  std::uint64_t handler_timeouts = 0;
  std::uint64_t websocket_upgrades = 0;
  std::vector<RouteStatusCount> requests;  ///< responses sent, by route and status; sorted

  [[nodiscard]] std::uint64_t requests_for(std::string_view route, unsigned status) const noexcept;
  [[nodiscard]] std::uint64_t requests_total() const noexcept;
};

/// Runs after routing, before the handler (and before a WebSocket hand-over), on the
/// connection's strand. Return a response to reject the request (e.g. 401), or
/// `std::nullopt` to continue; it may annotate the request (`request.auth`). It must not
/// block. `request.route` is set (the matched pattern). 404/405 are answered before any
/// middleware runs.
using Middleware = std::function<std::optional<Response>(Request&)>;

/// The transport of an upgraded connection: plain TCP or TLS.
using WebSocketStream =
    std::variant<boost::beast::tcp_stream, boost::beast::ssl_stream<boost::beast::tcp_stream>>;

/// What a WebSocket handler receives: the connection, with nothing pending on it, bound
/// to its strand. The handler owns it from then on (accept, frames, close, timeouts).
struct WebSocketUpgrade {
  Request request;  ///< parsed and routed (params, query, auth from middleware)
  /// The original upgrade request, for `websocket::stream::async_accept(req)`.
  boost::beast::http::request<boost::beast::http::string_body> upgrade_request;
  WebSocketStream stream;
  /// Keep alive as long as the connection lives: it counts toward max_connections and
  /// `active_connections`.
  std::shared_ptr<void> connection_slot;
};

/// Receives upgraded connections; runs on the connection's strand, must not block.
using WebSocketHandler = std::function<void(WebSocketUpgrade)>;

/// An HTTP/1.1 server (HTTPS when `options.tls` is set) with asynchronous handlers.
///
/// Lifecycle: construct, register routes/middleware, `start()`, run the io_context (the
/// caller owns it and its threads), `stop()`. Not restartable. The Server must be
/// destroyed before the io_context; destroying it stops it with no grace. Connections
/// keep the shared internals alive until they finish, so they never touch a destroyed
/// Server.
class Server {
 public:
  Server(boost::asio::io_context& ioc, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Registers a handler. Before `start()` only. Errors: see `RouteTable::add`;
  /// Conflict "server_started" after start.
  [[nodiscard]] Status route(Method method, std::string_view pattern, Handler handler);
  /// Registers where `Upgrade: websocket` GET requests are handed over. A request that
  /// asks for an upgrade on a path without a WebSocket route is routed as plain HTTP.
  /// Data the client sends after its upgrade request and before the 101 is discarded.
  [[nodiscard]] Status on_websocket(std::string_view pattern, WebSocketHandler handler);
  /// Appends a middleware; they run in registration order. Before `start()` only.
  [[nodiscard]] Status use(Middleware middleware);

  /// Loads the TLS material, binds, listens and starts accepting (the accept loop runs
  /// once the io_context runs). Errors: InvalidInput "invalid_server_options" (bad
  /// address or limits), "tls_setup_failed" (unreadable certificate or key, or they do
  /// not match); Unavailable "listen_failed" (port in use, no permission);
  /// Conflict "server_started" when called twice.
  [[nodiscard]] Status start();

  /// The port actually bound (useful with port 0). 0 before a successful `start()`.
  [[nodiscard]] std::uint16_t bound_port() const noexcept;

  /// Graceful stop, from any thread, returns at once: stops accepting, closes idle
  /// connections, lets connections with requests in progress finish their responses
  /// (sent with `Connection: close`) for up to `grace`, then closes whatever is left.
  /// Once every connection is closed the io_context runs out of work on its own (unless
  /// the caller keeps other work on it). Connections already handed over to a WebSocket
  /// handler are not touched: their owner closes them. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  /// Thread-safe snapshot of the counters.
  [[nodiscard]] ServerStats stats() const;

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace siax::http
