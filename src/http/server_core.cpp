// Connection limits and accounting: the accept loop, the per-address limit, the 503 to
// over-limit connections (Rejector), and the helpers the session shares.
#include "http/server_core.h"

#include <algorithm>
#include <array>

#include <boost/asio/write.hpp>
#include <fmt/format.h>

namespace siax::http::detail {

namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

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

namespace {

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

std::string address_key(const net::ip::address& a) {
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    auto bytes = a.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);  // one /64: what one host usually gets
    return net::ip::address_v6(bytes).to_string() + "/64";
  }
  if (a.is_v6()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

}  // namespace

// --- accept loop (on the acceptor's strand) ----------------------------------------

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
  auto session = make_session(shared_from_this(), std::move(socket),
                              std::make_shared<ConnectionSlot>(shared_from_this(), std::move(key)), remote);
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

}  // namespace siax::http::detail
