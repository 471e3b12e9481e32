#pragma once
/// Requests, responses and the asynchronous reply handle of the HTTP server.
///
/// A handler answers with one whole `Response` (`Responder::send`) or with a streamed
/// body (`Responder::stream`: the head now, then chunks through a `BodyWriter`).
///
/// These are plain values: a handler receives a `Request` by value and answers through
/// a `Responder`, from the io thread or from any other thread. The JSON helpers build the
/// envelope every local API response uses:
///   success: {"success": true,  "data": ..., "error": null}
///   failure: {"success": false, "data": null, "error": {"code": "...", "message": "...",
///                                                       "details": {...}   (only if any)}}
#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "common/strings.h"

namespace siax::http {

namespace detail {
class BodyChannel;  // the state shared by a BodyWriter and its connection (body_stream.h)
/// The connection's end of a streamed body. When the last copy goes (the connection
/// closed, the response was dropped), the stream is cancelled: the producer's next
/// `BodyWriter::write` returns false.
struct StreamConsumer {
  explicit StreamConsumer(std::shared_ptr<BodyChannel> c) : channel(std::move(c)) {}
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;
  std::shared_ptr<BodyChannel> channel;
};
}  // namespace detail

using Method = boost::beast::http::verb;
using StatusCode = boost::beast::http::status;

/// Case-insensitive comparison of ASCII header names (the shared helper).
using ::siax::iequals;

/// An ordered list of header fields with case-insensitive lookup by name.
/// Duplicates are kept in arrival order; `get` returns the first.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  /// Appends a field (keeps existing fields of the same name).
  void add(std::string name, std::string value);
  /// Replaces every field named `name` by one field.
  void set(std::string name, std::string value);
  /// Removes every field named `name`.
  void erase(std::string_view name);
  /// The value of the first field named `name`, if any. The view lives as long as `*this`.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  [[nodiscard]] bool contains(std::string_view name) const { return get(name).has_value(); }
  [[nodiscard]] const std::vector<Field>& fields() const noexcept { return fields_; }
  [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }

 private:
  std::vector<Field> fields_;
};

/// Path parameters (`:name` in the route pattern -> percent-decoded segment) and query
/// parameters (percent-decoded, `+` as space). Heterogeneous lookup: `params.find("name")`.
using ParamMap = std::map<std::string, std::string, std::less<>>;

/// One HTTP request as a handler sees it: fully read (headers and body within the
/// server's limits), its target parsed and routed.
struct Request {
  Method method = Method::unknown;
  std::string method_text;  ///< as sent (useful when `method` is `unknown`)
  std::string target;       ///< raw request-target, e.g. "/api/apps/web%20ui?x=1"
  std::string path;         ///< raw path part of the target (before '?'), not decoded
  std::string route;        ///< the pattern that matched, e.g. "/api/apps/:name"; empty if none
  ParamMap params;          ///< path parameters, decoded
  ParamMap query;           ///< query parameters, decoded
  Headers headers;
  std::string body;
  unsigned version = 11;  ///< 10 or 11
  bool keep_alive = true;
  std::string remote_address;
  std::uint16_t remote_port = 0;
  bool tls = false;
  /// Opaque slot for middleware (e.g. the authenticated principal). Empty by default.
  std::any auth;

  /// The first header named `name` (case-insensitive).
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  /// The path parameter `name`, or nullptr.
  [[nodiscard]] const std::string* param(std::string_view name) const;
  /// The query parameter `name`, or nullptr.
  [[nodiscard]] const std::string* query_param(std::string_view name) const;
};

/// A response built by a handler. The server adds Content-Length, `Server` and
/// `Connection`, and strips the body of responses to HEAD.
struct Response {
  StatusCode status = StatusCode::ok;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;  ///< extra fields (e.g. Retry-After, Allow, Cache-Control)
  /// Close the connection after this response (the server also closes on its own when
  /// the client asked for it or after protocol errors).
  bool close_connection = false;
  /// Set by `Responder::stream` (handlers leave it empty): the body is not `body` but
  /// the chunks of a BodyWriter, sent with `Transfer-Encoding: chunked`.
  std::shared_ptr<detail::StreamConsumer> stream{};
};

/// Key of `siax::Error::details` that carries a retry delay in whole seconds
/// ("1", "30"); `error_response` turns it into a `Retry-After` header.
inline constexpr std::string_view kRetryAfterDetail = "retry_after_seconds";

/// HTTP status for an error kind:
///   InvalidInput 400, NotFound 404, PermissionDenied 403, Conflict 409, RateLimited 429,
///   Unavailable 503, Timeout 504, OperationFailed 500, Internal 500.
/// OperationFailed is a 500 (not 4xx: the request was valid, the host operation failed);
/// clients tell it from a bug by `error.code` (e.g. "start_failed" vs "internal").
[[nodiscard]] StatusCode status_for(ErrorKind kind) noexcept;

/// `{"success": true, "data": data, "error": null}` with the given status.
[[nodiscard]] Response json_success(const nlohmann::json& data, StatusCode status = StatusCode::ok);

/// `{"success": false, "data": null, "error": {"code", "message"}}`; a `Retry-After`
/// header when `retry_after` is set (rounded up to whole seconds, at least 1).
[[nodiscard]] Response json_failure(StatusCode status, std::string_view code, std::string_view message,
                                    std::optional<std::chrono::seconds> retry_after = std::nullopt);

/// The failure envelope for a `siax::Error`: status from `status_for(error.kind)`,
/// `error.details` as an object under "details" when present, `Retry-After` from
/// `retry_after` or else from the `kRetryAfterDetail` detail.
[[nodiscard]] Response error_response(const Error& error, std::optional<std::chrono::seconds> retry_after = std::nullopt);

/// The producer's end of a streamed response body (see `Responder::stream`).
///
/// Threading: meant for a worker thread; `write` blocks. Use it from one thread at a
/// time. Copies share one stream. Flow control: at most `max_in_flight` chunks are
/// queued or being written to the socket; `write` waits (condition variable) while the
/// client is slower than the producer, so the memory a stream holds is bounded by
/// `max_in_flight` times the producer's chunk size, whatever the client does. When the
/// connection goes away (client disconnect, write timeout, stall timeout, server stop)
/// the stream is cancelled and every call returns at once. If the last copy is
/// destroyed before `finish`, the stream fails (the connection is closed, so the client
/// sees a truncated body rather than a complete-looking one).
class BodyWriter {
 public:
  /// Queues one chunk (empty ones are skipped); blocks while the stream is full.
  /// False once the stream is cancelled or ended: stop producing.
  bool write(std::string chunk) const;  // NOLINT(modernize-use-nodiscard)
  /// Ends the body: the last chunk, with these trailer fields (HTTP/1.1 only; fields
  /// that could break the framing are dropped). Announce them in a `Trailer` header.
  void finish(Headers trailers = {}) const;
  /// Ends the stream abnormally after the head was sent: the server logs `reason`
  /// (`ServerOptions::log_warning`) and closes the connection without the last chunk.
  void fail(std::string reason) const;
  /// Says the producer is still working although it has nothing to send yet (resets the
  /// server's stall timeout, see `Server`); false if the stream was cancelled.
  bool heartbeat() const;  // NOLINT(modernize-use-nodiscard)
  [[nodiscard]] bool cancelled() const;
  /// Chunks queued or being written now (never above the bound; for tests and metrics).
  [[nodiscard]] std::size_t in_flight() const;

 private:
  friend class Responder;
  struct Producer;
  explicit BodyWriter(std::shared_ptr<Producer> producer) : producer_(std::move(producer)) {}
  std::shared_ptr<Producer> producer_;
};

/// The one-shot, thread-safe reply handle given to every handler.
///
/// Copyable and movable; all copies share one state. The first `send` wins, later calls
/// are ignored and return false. `send` may be called from any thread: the server's
/// delivery callback posts the response to the connection's strand, and drops it if the
/// client has gone away. If every copy is destroyed without `send`, a
/// 500 `{"code": "no_response"}` is delivered instead, so a connection never hangs on a
/// forgotten reply. Constraint: the io_context must outlive the Responders handed out by
/// a Server (standard Asio lifetime rule).
class Responder {
 public:
  using Deliver = std::function<void(Response)>;

  /// Wraps a delivery callback (the server passes one that posts to the connection;
  /// tests of handlers can pass one that records the response). `deliver` is invoked at
  /// most once, on the thread that calls `send` (or drops the last copy).
  explicit Responder(Deliver deliver);

  /// Delivers `response` if no response was delivered yet. Returns whether it was.
  bool send(Response response) const;  // NOLINT(modernize-use-nodiscard): callers may ignore it
  /// Answers with a streamed body: `head` (status, content type, headers; its `body` is
  /// ignored) is delivered like `send` delivers a response, then the body is whatever
  /// the returned writer writes, sent with `Transfer-Encoding: chunked` (HTTP/1.0: no
  /// framing, the connection closes after it). nullopt if a response was already
  /// delivered. Decide errors before calling this: once the head is out, a failure can
  /// only cut the connection. `max_in_flight` (at least 1): see BodyWriter.
  [[nodiscard]] std::optional<BodyWriter> stream(Response head, std::size_t max_in_flight = 4) const;
  /// Whether a response was already delivered (or is being delivered).
  [[nodiscard]] bool sent() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

/// An asynchronous route handler. Runs on the connection's strand (an io_context thread);
/// it must not block: hand slow work to another thread and reply through the Responder.
/// Exceptions thrown by a handler are caught and answered with 500 `internal`.
using Handler = std::function<void(Request, Responder)>;

}  // namespace siax::http
