#pragma once
/// The agent's local socket: a Unix stream socket in the state dir through which the local
/// CLI reaches the agent's HTTP(S) server without sending its token to "whatever listens
/// on the port". Only the agent can create a file in its state dir, so
/// a client that connects to the socket knows it talks to the agent.
///
/// Each accepted connection is checked (SO_PEERCRED: the peer's uid must be one of
/// `allowed_uids`, normally root and the agent's own user) and then relayed, byte for byte,
/// to the server's TCP endpoint: HTTP, TLS (when the server serves HTTPS), authentication
/// and roles are exactly those of a TCP client; the token is still required. A refused
/// peer gets a 403 (JSON envelope) and the connection is closed; so does a client over
/// `max_connections` (503).
///
/// Threads: everything runs on the io_context given to `open` (the agent's io thread);
/// nothing blocks it. `stop()` may be called from any thread; destroy the relay before
/// the io_context.
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace siax::http {

struct LocalSocketOptions {
  /// The socket's path (at most 107 bytes). A stale socket there is replaced; any other
  /// kind of file there is an error and is left alone.
  std::string path;
  /// The agent's HTTP(S) server.
  boost::asio::ip::tcp::endpoint target;
  /// Peers allowed to connect (their uid as the kernel reports it).
  std::vector<uid_t> allowed_uids;
  /// The socket file's mode (the state dir, 0750, already keeps others out).
  unsigned mode = 0660;
  std::size_t max_connections = 32;
  std::size_t buffer_size = 16 * 1024;  ///< per direction and connection
  /// Warnings (refused peers, relay failures). Called on the io thread; must not block.
  std::function<void(std::string_view)> log_warning;
};

struct LocalSocketStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_peers = 0;  ///< uid not allowed (or credentials unreadable)
  std::uint64_t refused_full = 0;   ///< over max_connections
  std::uint64_t active = 0;
};

namespace detail {
struct LocalSocketCore;
}

class LocalSocketRelay {
 public:
  /// Creates, binds and listens on the socket (mode `options.mode`); accepting starts once
  /// the io_context runs. Errors: InvalidInput "invalid_socket_path"; Conflict
  /// "socket_path_taken" (a file that is not a socket is there); Unavailable
  /// "listen_failed".
  [[nodiscard]] static Result<std::unique_ptr<LocalSocketRelay>> open(boost::asio::io_context& ioc,
                                                                      LocalSocketOptions options);
  ~LocalSocketRelay();
  LocalSocketRelay(const LocalSocketRelay&) = delete;
  LocalSocketRelay& operator=(const LocalSocketRelay&) = delete;

  /// Stops accepting, closes every relayed connection and removes the socket file.
  /// Idempotent; any thread.
  void stop();

  [[nodiscard]] LocalSocketStats stats() const;
  [[nodiscard]] const std::string& path() const noexcept;

 private:
  explicit LocalSocketRelay(std::shared_ptr<detail::LocalSocketCore> core);
  std::shared_ptr<detail::LocalSocketCore> core_;
};

}  // namespace siax::http
