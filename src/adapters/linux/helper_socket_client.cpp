#include "adapters/linux/helper_socket_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "adapters/linux/socket_io.h"
#include "appdef/helper_protocol.h"

namespace siax::adapters {
namespace {

using Clock = std::chrono::steady_clock;

/// The helper cannot be reached: the right stays missing (the API answers 403).
Error unreachable(const std::string& path, std::string_view why) {
  return Error{ErrorKind::PermissionDenied, "permission_denied",
               fmt::format("cannot write unit files: the unit helper at {} does not answer ({}). Install it with "
                           "desplegar_agent.sh (user mode), or check `systemctl status siax-agent-helper.socket`",
                           path, why),
               {{"missing_right", "write_unit_files"}}};
}

Result<nlohmann::json> call(const std::string& path, std::chrono::milliseconds timeout, const appdef::HelperRequest& req) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) return tl::unexpected(unreachable(path, "bad socket path"));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.fd < 0) return tl::unexpected(unreachable(path, std::strerror(errno)));
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return tl::unexpected(unreachable(path, std::strerror(errno)));
    if (!wait_for(sock.fd, POLLOUT, deadline)) return tl::unexpected(unreachable(path, "connect timed out"));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return tl::unexpected(unreachable(path, std::strerror(err)));
  }
  switch (const IoEnd sent = send_all(sock.fd, appdef::encode_helper_request(req), deadline); sent.kind) {
    case IoEnd::Timeout:
      return tl::unexpected(unreachable(path, "sending timed out"));
    case IoEnd::Error:
      return tl::unexpected(unreachable(path, std::strerror(sent.error)));
    default:
      break;
  }
  ::shutdown(sock.fd, SHUT_WR);
  std::string reply;  // more than kHelperMaxReply: parse_helper_reply refuses it
  const IoEnd read = read_to_end(sock.fd, appdef::kHelperMaxReply, deadline, reply);
  if (read.kind == IoEnd::Timeout) {
    return fail(ErrorKind::Timeout, "helper_timeout",
                fmt::format("the unit helper at {} did not answer within {} ms; the operation may still complete: "
                            "look at `journalctl -u siax-agent-helper`",
                            path, timeout.count()));
  }
  if (read.kind == IoEnd::Error) return tl::unexpected(unreachable(path, std::strerror(read.error)));
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
