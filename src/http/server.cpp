#include "http/server.h"

#include <algorithm>
#include <cctype>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "http/server_core.h"

namespace siax::http {

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
/// The whole 503 answer to over-limit connections, written before any request is read.
std::string reject_payload(const ServerOptions& o) {
  auto res = json_failure(StatusCode::service_unavailable, "too_many_connections",
                          fmt::format("the agent serves at most {} connections at once; retry shortly",
                                      o.max_connections),
                          std::chrono::seconds(1));
  return fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nServer: {}\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
      o.server_header, res.body.size(), res.body);
}

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
    auto ctx = detail::make_tls_context(*o.tls);
    if (!ctx) return tl::unexpected(ctx.error());
    core.tls.emplace(std::move(*ctx));
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
  core.reject_payload = reject_payload(o);
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
