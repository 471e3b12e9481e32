#include "cli/unit_helper.h"

#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "adapters/linux/fs_secret_store.h"
#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "adapters/linux/socket_io.h"
#include "appdef/helper_protocol.h"
#include "core/unit_renderer.h"
#include "units/app_units.h"
#include "units/unavailable_systemd.h"

namespace siax::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto kConnectionDeadline = std::chrono::seconds(5);  ///< to send the whole request

/// Reads the request until the peer shuts down its side, at most kHelperMaxRequest bytes,
/// until the deadline.
Result<std::string> read_request(int fd, Clock::time_point deadline) {
  std::string text;
  const adapters::IoEnd end = adapters::read_to_end(fd, appdef::kHelperMaxRequest, deadline, text);
  switch (end.kind) {
    case adapters::IoEnd::Done:
      return text;
    case adapters::IoEnd::Timeout:
      return fail(ErrorKind::Timeout, "request_timeout",
                  "the request did not arrive in full within 5 s (send it, then shut down the sending side)");
    case adapters::IoEnd::TooLarge:
      return fail(ErrorKind::InvalidInput, "request_too_large",
                  fmt::format("the request has more than {} bytes; an app definition is far smaller",
                              appdef::kHelperMaxRequest));
    case adapters::IoEnd::Error:
      break;
  }
  return fail(ErrorKind::InvalidInput, "request_unreadable",
              fmt::format("cannot read the request: {}", std::strerror(end.error)));
}

/// Best effort: a peer that is gone or does not read within the deadline misses the reply.
void send_reply(int fd, const std::string& text, Clock::time_point deadline) {
  (void)adapters::send_all(fd, text, deadline);
}

/// The root-owned configuration decides apps.allow_root_apps: refuse one another user could edit.
Status check_config_file(const std::string& path) {
  if (path.empty()) {
    return fail(ErrorKind::InvalidInput, "helper_config",
                "the unit helper needs --config: its root-owned configuration decides whether apps may run as root");
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorKind::InvalidInput, "helper_config", fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  }
  if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
    return fail(ErrorKind::PermissionDenied, "helper_config",
                fmt::format("{} must be owned by root and not writable by group or others (it is uid {}, mode {:04o}): "
                            "chown root {} && chmod go-w {}",
                            path, st.st_uid, st.st_mode & 07777, path, path));
  }
  return ok();
}

class Handler {
 public:
  Handler(const config::Config& cfg) : store_(cfg.paths.unit_dir),
                                       secrets_(adapters::default_secrets_directory(cfg.paths.state_dir)) {
    settings_.allow_root = cfg.apps.allow_root_apps;
    settings_.interpreters = {cfg.runtimes.node, cfg.runtimes.npm, cfg.runtimes.python};
    bus_opts_.job_timeout = cfg.apps.job_timeout;
    bus_opts_.start_settle = cfg.apps.start_settle;
  }

  Result<json> handle(const appdef::HelperRequest& req) {
    if (req.op == appdef::HelperOp::Ping) return json{{"helper", "siax-agent unit-helper"}, {"version", SIAX_VERSION}};
    auto& units = this->units();
    switch (req.op) {
      case appdef::HelperOp::Install: {
        auto out = units.install(req.definition);
        if (!out) return tl::unexpected(out.error());
        return json{{"unit", out->unit}, {"path", out->path}, {"changed", out->changed}, {"content", out->content}};
      }
      case appdef::HelperOp::Remove: {
        // Only what the agent wrote: a unit an operator wrote by hand (no marker) stays.
        auto on_disk = store_.read(core::unit_name_for(req.app));
        if (!on_disk) return tl::unexpected(on_disk.error());
        if (*on_disk && !(*on_disk)->starts_with(core::kManagedMarker)) {
          return fail(ErrorKind::Conflict, "unit_foreign",
                      fmt::format("{} was not written by siax-agent: the helper does not remove it (remove it as "
                                  "root by hand)",
                                  store_.path_of(core::unit_name_for(req.app))));
        }
        if (auto s = units.remove(req.app); !s) return tl::unexpected(s.error());
        return json{{"app", req.app}};
      }
      case appdef::HelperOp::Enable:
      case appdef::HelperOp::Disable: {
        auto s = req.op == appdef::HelperOp::Enable ? units.enable(req.app) : units.disable(req.app);
        if (!s) return tl::unexpected(s.error());
        return json{{"app", req.app}};
      }
      case appdef::HelperOp::Ping: break;
    }
    return json::object();
  }

 private:
  units::AppUnits& units() {
    if (units_ && bus_ != nullptr && bus_->answers()) return *units_;
    units_.reset();
    auto bus = adapters::SdbusSystemd::connect(bus_opts_);
    if (bus) {
      bus_ = bus->get();
      systemd_ = std::move(*bus);
    } else {
      spdlog::warn("systemd is not reachable: {}", bus.error().message);
      bus_ = nullptr;
      systemd_ = std::make_unique<units::UnavailableSystemd>(bus.error());
    }
    units_ = std::make_unique<units::AppUnits>(*systemd_, store_, host_, settings_, &secrets_);
    return *units_;
  }

  adapters::FsUnitStore store_;
  adapters::FsSecretStore secrets_;
  adapters::LinuxHost host_;
  units::PreflightSettings settings_;
  adapters::SdbusSystemd::Options bus_opts_;
  std::unique_ptr<ports::SystemdManager> systemd_;
  adapters::SdbusSystemd* bus_ = nullptr;
  std::unique_ptr<units::AppUnits> units_;
};

void serve_connection(int fd, std::uint32_t agent_uid, Handler& handler) {
  const auto deadline = Clock::now() + kConnectionDeadline;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    spdlog::warn("refused a connection: cannot read its credentials: {}", std::strerror(errno));
    return;
  }
  const auto who = fmt::format("uid {} pid {}", cred.uid, cred.pid);
  if (!appdef::helper_peer_allowed(cred.uid, agent_uid)) {
    spdlog::warn("{}: refused: only root and uid {} (the agent) may use the unit helper", who, agent_uid);
    send_reply(fd,
               appdef::encode_helper_reply(fail(ErrorKind::PermissionDenied, "peer_not_allowed",
                                             "only the agent's user and root may use the unit helper")),
               deadline);
    return;
  }
  auto text = read_request(fd, deadline);
  Result<appdef::HelperRequest> req = text ? appdef::parse_helper_request(*text) : tl::unexpected(text.error());
  if (!req) {
    spdlog::warn("{}: refused request: {}: {}", who, req.error().code, req.error().message);
    send_reply(fd, appdef::encode_helper_reply(tl::unexpected(req.error())), deadline);
    return;
  }
  const auto what = appdef::describe_helper_request(*req);
  auto result = handler.handle(*req);
  if (result) {
    const bool changed = result->is_object() && result->value("changed", true);
    if (req->op != appdef::HelperOp::Ping) spdlog::info("{}: {}: done{}", who, what, changed ? "" : " (unchanged)");
  } else {
    spdlog::warn("{}: {}: failed: {}: {}", who, what, result.error().code, result.error().message);
  }
  // The reply may take a while (a stop on remove); give it its own short deadline.
  send_reply(fd, appdef::encode_helper_reply(result), Clock::now() + kConnectionDeadline);
}

}  // namespace

int run_unit_helper(const config::Config& cfg, const UnitHelperOptions& options) {
  spdlog::set_pattern("%^%l%$ %v");  // the journal adds the time
  if (::geteuid() != 0) {
    spdlog::critical("the unit helper runs as root (siax-agent-helper.service); the agent talks to it");
    return 2;
  }
  if (auto s = check_config_file(options.config_path); !s) {
    spdlog::critical("{}", s.error().message);
    return 2;
  }
  const passwd* pw = ::getpwnam(options.peer_user.c_str());
  if (pw == nullptr) {
    spdlog::critical("no user '{}' (--peer-user): the unit helper serves the agent's user", options.peer_user);
    return 2;
  }
  const std::uint32_t agent_uid = pw->pw_uid;
  const int fds = sd_listen_fds(1);
  if (fds != 1) {
    spdlog::critical("the unit helper takes its socket from systemd (siax-agent-helper.socket); got {} sockets", fds);
    return 2;
  }
  const int listen_fd = SD_LISTEN_FDS_START;
  Handler handler(cfg);
  spdlog::info("unit helper {} ready: serving uid {} ({}) and root; apps as root {}", SIAX_VERSION, agent_uid,
               options.peer_user, cfg.apps.allow_root_apps ? "allowed (apps.allow_root_apps)" : "refused");
  const int idle_ms = static_cast<int>(std::chrono::milliseconds(options.idle_exit).count());
  while (true) {
    pollfd p{listen_fd, POLLIN, 0};
    const int n = ::poll(&p, 1, idle_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      spdlog::critical("poll on the socket failed: {}", std::strerror(errno));
      return 1;
    }
    if (n == 0) {
      spdlog::info("idle for {} s: exiting (the socket starts the helper again)", options.idle_exit.count());
      return 0;
    }
    adapters::UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      spdlog::critical("accept failed: {}", std::strerror(errno));
      return 1;
    }
    serve_connection(conn.fd, agent_uid, handler);
  }
}

}  // namespace siax::cli
