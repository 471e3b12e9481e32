#include "adapters/linux/helper_socket_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "appdef/helper_protocol.h"

namespace siax::adapters {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// The helper cannot be reached: the right stays missing (the API answers 403).
Error unreachable(const std::string& path, std::string_view why) {
  return Error{ErrorKind::PermissionDenied, "permission_denied",
               fmt::format("cannot write unit files: the unit helper at {} does not answer ({}). Install it with "
                           "desplegar_agent.sh (user mode), or check `systemctl status siax-agent-helper.socket`",
                           path, why),
               {{"missing_right", "write_unit_files"}}};
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

/// Waits for `events` on fd until the deadline: false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

Result<nlohmann::json> call(const std::string& path, std::chrono::milliseconds timeout, const appdef::HelperRequest& req) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) return tl::unexpected(unreachable(path, "bad socket path"));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.fd < 0) return tl::unexpected(unreachable(path, std::strerror(errno)));
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return tl::unexpected(unreachable(path, std::strerror(errno)));
    if (!wait_for(sock.fd, POLLOUT, deadline)) return tl::unexpected(unreachable(path, "connect timed out"));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return tl::unexpected(unreachable(path, std::strerror(err)));
  }
  const std::string text = appdef::encode_helper_request(req);
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(sock.fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && wait_for(sock.fd, POLLOUT, deadline)) continue;
      return tl::unexpected(unreachable(path, errno == EAGAIN ? "sending timed out" : std::strerror(errno)));
    }
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(sock.fd, SHUT_WR);
  std::string reply;
  char buf[8192];
  while (true) {
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
      if (reply.size() > appdef::kHelperMaxReply) break;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && wait_for(sock.fd, POLLIN, deadline)) continue;
    if (errno == EAGAIN) {
      return fail(ErrorKind::Timeout, "helper_timeout",
                  fmt::format("the unit helper at {} did not answer within {} ms; the operation may still complete: "
                              "look at `journalctl -u siax-agent-helper`",
                              path, timeout.count()));
    }
    return tl::unexpected(unreachable(path, std::strerror(errno)));
  }
  if (reply.empty()) return tl::unexpected(unreachable(path, "it closed the connection without a reply"));
  return appdef::parse_helper_reply(reply);
}

Status call_status(const std::string& path, std::chrono::milliseconds timeout, appdef::HelperOp op,
                   const std::string& app) {
  appdef::HelperRequest req;
  req.op = op;
  req.app = app;
  auto r = call(path, timeout, req);
  if (!r) return tl::unexpected(r.error());
  return ok();
}

}  // namespace

HelperSocketClient::HelperSocketClient(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

Result<ports::HelperInstalled> HelperSocketClient::install(const core::AppDefinition& def) {
  appdef::HelperRequest req;
  req.op = appdef::HelperOp::Install;
  req.app = def.name;
  req.definition = def;
  auto r = call(path_, timeout_, req);
  if (!r) return tl::unexpected(r.error());
  ports::HelperInstalled out;
  try {
    out.unit = r->at("unit").get<std::string>();
    out.path = r->at("path").get<std::string>();
    out.content = r->at("content").get<std::string>();
    out.changed = r->at("changed").get<bool>();
  } catch (const nlohmann::json::exception&) {
    return fail(ErrorKind::Internal, "bad_helper_reply", "the unit helper's install reply lacks unit, path, content or changed");
  }
  return out;
}

Status HelperSocketClient::remove(const std::string& app) { return call_status(path_, timeout_, appdef::HelperOp::Remove, app); }
Status HelperSocketClient::enable(const std::string& app) { return call_status(path_, timeout_, appdef::HelperOp::Enable, app); }
Status HelperSocketClient::disable(const std::string& app) {
  return call_status(path_, timeout_, appdef::HelperOp::Disable, app);
}
Status HelperSocketClient::ping() { return call_status(path_, timeout_, appdef::HelperOp::Ping, ""); }

}  // namespace siax::adapters
