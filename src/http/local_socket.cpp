#include "http/local_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace siax::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;

namespace detail {

class Pipe;

struct LocalSocketCore : std::enable_shared_from_this<LocalSocketCore> {
  LocalSocketCore(net::io_context& io, LocalSocketOptions o) : ioc(io), options(std::move(o)), acceptor(io) {}

  net::io_context& ioc;
  LocalSocketOptions options;
  local::acceptor acceptor;
  bool stopped = false;                   // io thread only
  std::list<std::weak_ptr<Pipe>> pipes;   // io thread only
  std::atomic<std::uint64_t> accepted{0}, refused_peers{0}, refused_full{0}, active{0};

  void warn(std::string_view text) const {
    if (options.log_warning) options.log_warning(text);
  }
  void accept();
  void on_accept(const boost::system::error_code& ec, local::socket socket);
  void refuse(local::socket socket, unsigned status, std::string_view code, std::string message);
  void close_all();
};

/// One relayed connection: the CLI's Unix socket and a TCP connection to the server,
/// copied in both directions; the first end of either side closes both.
class Pipe : public std::enable_shared_from_this<Pipe> {
 public:
  Pipe(std::shared_ptr<LocalSocketCore> core, local::socket client)
      : core_(std::move(core)), client_(std::move(client)), server_(core_->ioc),
        up_(core_->options.buffer_size), down_(core_->options.buffer_size) {
    ++core_->active;
  }
  ~Pipe() { --core_->active; }

  void start() {
    server_.async_connect(core_->options.target, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) {
        self->core_->warn(fmt::format("local socket: cannot reach the agent's server at {}:{}: {}",
                                      self->core_->options.target.address().to_string(),
                                      self->core_->options.target.port(), ec.message()));
        self->close();
        return;
      }
      self->read_client();
      self->read_server();
    });
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
  }

 private:
  void read_client() {
    client_.async_read_some(net::buffer(up_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                          std::size_t n) {
      if (ec) return self->close();
      net::async_write(self->server_, net::buffer(self->up_.data(), n),
                       [self](const boost::system::error_code& wec, std::size_t) {
                         if (wec) return self->close();
                         self->read_client();
                       });
    });
  }
  void read_server() {
    server_.async_read_some(net::buffer(down_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                            std::size_t n) {
      if (ec) return self->close();
      net::async_write(self->client_, net::buffer(self->down_.data(), n),
                       [self](const boost::system::error_code& wec, std::size_t) {
                         if (wec) return self->close();
                         self->read_server();
                       });
    });
  }

  std::shared_ptr<LocalSocketCore> core_;
  local::socket client_;
  tcp::socket server_;
  std::vector<char> up_;    // client -> server
  std::vector<char> down_;  // server -> client
};

void LocalSocketCore::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, local::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void LocalSocketCore::on_accept(const boost::system::error_code& ec, local::socket socket) {
  if (stopped || ec == net::error::operation_aborted) return;
  if (ec) {
    warn(fmt::format("local socket: accept failed: {}", ec.message()));
    accept();
    return;
  }
  ++accepted;
  ucred cred{};
  socklen_t len = sizeof cred;
  const bool known = ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
  const auto& uids = options.allowed_uids;
  if (!known || std::find(uids.begin(), uids.end(), cred.uid) == uids.end()) {
    ++refused_peers;
    warn(known ? fmt::format("local socket: refused a client running as uid {} (pid {})", cred.uid, cred.pid)
               : std::string("local socket: refused a client whose credentials cannot be read"));
    refuse(std::move(socket), 403, "forbidden",
           "only root and the agent's own user may use the agent's local socket; other users reach the agent "
           "over HTTP with a token of their own");
  } else {
    // Forget the pipes that have ended, then count the live ones.
    pipes.remove_if([](const std::weak_ptr<Pipe>& p) { return p.expired(); });
    if (pipes.size() >= options.max_connections) {
      ++refused_full;
      refuse(std::move(socket), 503, "too_many_connections",
             fmt::format("the agent's local socket serves at most {} connections at once; retry",
                         options.max_connections));
    } else {
      auto pipe = std::make_shared<Pipe>(shared_from_this(), std::move(socket));
      pipes.push_back(pipe);
      pipe->start();
    }
  }
  accept();
}

void LocalSocketCore::refuse(local::socket socket, unsigned status, std::string_view code, std::string message) {
  nlohmann::json body = {{"success", false},
                         {"data", nullptr},
                         {"error", {{"code", std::string(code)}, {"message", std::move(message)}}}};
  const std::string text = body.dump();
  auto out = std::make_shared<std::string>(
      fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                  status, status == 403 ? "Forbidden" : "Service Unavailable", text.size(), text));
  auto sock = std::make_shared<local::socket>(std::move(socket));
  net::async_write(*sock, net::buffer(*out), [sock, out](const boost::system::error_code&, std::size_t) {
    boost::system::error_code ignored;
    sock->shutdown(local::socket::shutdown_both, ignored);
    sock->close(ignored);
  });
}

void LocalSocketCore::close_all() {
  for (auto& weak : pipes) {
    if (auto p = weak.lock()) p->close();
  }
  pipes.clear();
}

}  // namespace detail

namespace {

bool is_socket_file(const std::string& path, bool& exists) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    exists = false;
    return false;
  }
  exists = true;
  return S_ISSOCK(st.st_mode);
}

}  // namespace

LocalSocketRelay::LocalSocketRelay(std::shared_ptr<detail::LocalSocketCore> core) : core_(std::move(core)) {}

Result<std::unique_ptr<LocalSocketRelay>> LocalSocketRelay::open(net::io_context& ioc, LocalSocketOptions options) {
  const std::string path = options.path;
  if (path.empty() || path.front() != '/' || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return fail(ErrorKind::InvalidInput, "invalid_socket_path",
                fmt::format("the local socket path '{}' must be absolute and shorter than {} bytes", path,
                            sizeof(sockaddr_un{}.sun_path)));
  }
  bool exists = false;
  if (is_socket_file(path, exists)) {
    // A socket left by an earlier run (the server's port is ours, so no other agent of
    // this state dir is running).
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail(ErrorKind::Unavailable, "listen_failed",
                  fmt::format("cannot remove the stale socket {}: {}", path, std::strerror(errno)));
    }
  } else if (exists) {
    return fail(ErrorKind::Conflict, "socket_path_taken",
                fmt::format("{} exists and is not a socket; move it away so the agent can create its local socket",
                            path));
  }
  auto core = std::make_shared<detail::LocalSocketCore>(ioc, std::move(options));
  boost::system::error_code ec;
  core->acceptor.open(local(), ec);
  if (!ec) core->acceptor.bind(local::endpoint(path), ec);
  // The socket is created with the umask's mode; the state dir (0750) keeps everybody but
  // the agent's user and group away until the chmod.
  if (!ec && ::chmod(path.c_str(), core->options.mode) != 0) ec.assign(errno, boost::system::system_category());
  if (!ec) core->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    core->acceptor.close(ignored);
    return fail(ErrorKind::Unavailable, "listen_failed",
                fmt::format("cannot listen on the local socket {}: {}", path, ec.message()));
  }
  net::post(ioc, [core] { core->accept(); });
  return std::unique_ptr<LocalSocketRelay>(new LocalSocketRelay(std::move(core)));
}

LocalSocketRelay::~LocalSocketRelay() {
  // The io_context may no longer run: close directly (the caller destroys the relay on the
  // io thread or after the io_context stopped).
  if (!core_->stopped) {
    core_->stopped = true;
    boost::system::error_code ignored;
    core_->acceptor.close(ignored);
    core_->close_all();
    ::unlink(core_->options.path.c_str());
  }
}

void LocalSocketRelay::stop() {
  net::dispatch(core_->ioc, [core = core_] {
    if (core->stopped) return;
    core->stopped = true;
    boost::system::error_code ignored;
    core->acceptor.close(ignored);
    core->close_all();
    ::unlink(core->options.path.c_str());
  });
}

LocalSocketStats LocalSocketRelay::stats() const {
  return {core_->accepted.load(), core_->refused_peers.load(), core_->refused_full.load(), core_->active.load()};
}

const std::string& LocalSocketRelay::path() const noexcept { return core_->options.path; }

}  // namespace siax::http
