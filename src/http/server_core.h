#pragma once
/// Internals of http::Server shared by its translation units (not a public header):
/// the counters, the connection registry and per-address accounting (`ServerCore`),
/// the slot that holds a connection's place, and the helpers the session uses.
/// Threading: as stated on each type; see server.h for the whole picture.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "http/server.h"

namespace siax::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace detail {

/// Bytes asked of the socket per read; the read buffer holds the header limit plus this.
inline constexpr std::size_t kReadChunk = 16 * 1024;
/// Over-limit connections answered 503 at once; beyond this they are closed unanswered.
inline constexpr std::size_t kMaxRejecting = 32;
inline constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

/// A handler-supplied field that cannot split the response or break its framing.
bool acceptable_field(std::string_view name, std::string_view value);
bool body_forbidden(StatusCode status);
Response stopping_response();
Response internal_error_response();
/// The TLS context for `tls` (certificate chain, key, TLS 1.2+); tls_setup_failed when a
/// file cannot be loaded or the key does not match.
Result<ssl::context> make_tls_context(const TlsOptions& tls);

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

/// A new connection's session (TLS when the core has a TLS context); session.cpp.
std::shared_ptr<SessionBase> make_session(std::shared_ptr<ServerCore> core, tcp::socket socket,
                                          std::shared_ptr<ConnectionSlot> slot, const tcp::endpoint& remote);

}  // namespace detail

}  // namespace siax::http
