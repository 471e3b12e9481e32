#pragma once
/// The CLI's one way to connect to the agent, for calls (client.cpp) and streams
/// (stream_client.cpp): its local socket or host:port, plain or TLS pinned to the agent's
/// own certificate (pinned_tls_context). Header-only: the stream type is a template.
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "cli/client.h"

namespace siax::cli {

struct ConnectOptions {
  /// Bounds the connection and the whole exchange; none: no bound (a stream).
  std::optional<std::chrono::seconds> timeout;
  /// Shut the connection down cleanly after `use` (TLS close_notify); only with a timeout,
  /// since a TLS shutdown waits for the peer.
  bool shutdown = false;
};

namespace detail {

/// `Lowest` is the plain stream (beast::tcp_stream or basic_stream<local>); `connect`
/// connects it.
template <class Lowest, class Connect, class Use>
auto over_stream(boost::asio::io_context& ioc, const Endpoint& ep, const ConnectOptions& options, Connect&& connect,
                 Use&& use) {
  namespace beast = boost::beast;
  if (!ep.tls_cert_file) {
    Lowest stream(ioc);
    if (options.timeout) stream.expires_after(*options.timeout);
    connect(stream);
    auto result = use(stream);
    if (options.shutdown) {
      beast::error_code ec;
      stream.socket().shutdown(Lowest::socket_type::shutdown_both, ec);
    }
    return result;
  }
  auto tls = pinned_tls_context(*ep.tls_cert_file);
  beast::ssl_stream<Lowest> stream(ioc, tls);
  if (options.timeout) beast::get_lowest_layer(stream).expires_after(*options.timeout);
  connect(beast::get_lowest_layer(stream));
  stream.handshake(boost::asio::ssl::stream_base::client);
  auto result = use(stream);
  if (options.shutdown) {
    beast::error_code ec;
    stream.shutdown(ec);  // the agent may just close: not an error for us
  }
  return result;
}

}  // namespace detail

/// Connects to the agent as `ep` says and returns `use(stream)` (`use` is called with the
/// connected stream, whatever its type). Throws on a connection, TLS or I/O failure:
/// callers catch and report that the agent is unreachable.
template <class Use>
auto with_agent_connection(const Endpoint& ep, const ConnectOptions& options, Use&& use) {
  namespace beast = boost::beast;
  boost::asio::io_context ioc;
  if (ep.unix_socket) {
    // The agent's local socket: the same HTTP (or HTTPS, when the agent serves it) as over
    // TCP, relayed by the agent to its server; the token never goes to the port.
    using local = boost::asio::local::stream_protocol;
    return detail::over_stream<beast::basic_stream<local>>(
        ioc, ep, options, [&](auto& s) { s.connect(local::endpoint(*ep.unix_socket)); }, use);
  }
  using tcp = boost::asio::ip::tcp;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(ep.host, std::to_string(ep.port));
  return detail::over_stream<beast::tcp_stream>(ioc, ep, options, [&](auto& s) { s.connect(addresses); }, use);
}

}  // namespace siax::cli
