// Running the agent (agent.h): start, the periodic jobs, the stop on SIGINT/SIGTERM.
#include <unistd.h>

#include <map>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/agent.h"
#include "app/systemd_notify.h"
#include "cloud/cloud_config.h"

namespace siax::app {

int Agent::run() {
  if (auto s = server_.start(); !s) {
    spdlog::critical("{}", s.error().message);
    return 1;
  }
  const char* scheme = cfg_.server.tls_enabled() ? "https" : "http";
  spdlog::info("siax-agent {} listening on {}://{}:{}", SIAX_VERSION, scheme, cfg_.server.listen_address,
               server_.bound_port());
  spdlog::info("panel: open {}://{}:{}/ in a browser", scheme, cfg_.server.listen_address, server_.bound_port());
  spdlog::info("{}", cloud::describe(cfg_.cloud, cloud_server_));
  open_local_socket();
  SystemdNotifier notifier(ioc_);
  notifier.ready(fmt::format("siax-agent {} listening on port {}", SIAX_VERSION, server_.bound_port()));
  start_modules();
  boost::asio::signal_set signals(ioc_, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int sig) {
    spdlog::info("stopping on signal {}", sig);
    notifier.stopping();
    stop_modules();
  });
  ioc_.run();
  workers_.stop();
  spdlog::info("siax-agent stopped");
  return 0;
}

/// The local CLI's socket (docs/SECURITY.md): <state_dir>/agent.sock, for root and the
/// agent's own user, relayed to the server's loopback address.
void Agent::open_local_socket() {
  http::LocalSocketOptions lo;
  lo.path = cfg_.paths.state_dir + "/agent.sock";
  boost::system::error_code aec;
  auto address = boost::asio::ip::make_address(cfg_.server.listen_address, aec);
  if (aec || address.is_unspecified()) {
    address = (!aec && address.is_v6()) ? boost::asio::ip::address(boost::asio::ip::address_v6::loopback())
                                         : boost::asio::ip::address(boost::asio::ip::address_v4::loopback());
  }
  lo.target = boost::asio::ip::tcp::endpoint(address, server_.bound_port());
  lo.allowed_uids = {0, ::geteuid()};
  lo.log_warning = [](std::string_view w) { spdlog::warn("{}", w); };
  if (auto relay = http::LocalSocketRelay::open(ioc_, std::move(lo))) {
    local_socket_ = std::move(*relay);
    spdlog::info("local CLI socket: {}", local_socket_->path());
  } else {
    spdlog::error("{} (the CLI needs --tcp until this is fixed)", relay.error().message);
  }
}

void Agent::start_modules() {
  monitor_->start();
  state_stream_.start();
  refresh_system();
  if (cloud_reporter_) cloud_reporter_->start();
  unit_watcher_->start();
  schedule_recovery();
  schedule_users_check();
}

/// In reverse: the viewers and the local socket first, the server last (it waits for the
/// responses in progress, then the io_context runs out of work).
void Agent::stop_modules() {
  log_endpoint_->stop();  // closes the log viewers
  token_sync_->stop();
  if (local_socket_) local_socket_->stop();
  recovery_timer_.cancel();
  users_timer_.cancel();
  unit_watcher_->stop();
  state_stream_.stop();  // ends the streams so that the server can stop
  monitor_->stop();      // waits for the cycle in progress
  if (cloud_reporter_) cloud_reporter_->stop();  // cancels the request in flight; the outbox keeps the rest
  server_.stop(std::chrono::seconds(5));
}

/// systemd's reachability and the agent's rights, for the stream's "system" messages.
void Agent::refresh_system() {
  (void)workers_.try_post([this] {
    auto p = bus_.units().permissions();
    live_store_.set_system(
        {{"systemd_reachable", p.systemd_reachable}, {"degraded", !p.missing.empty()}, {"missing", p.missing}});
  });
}

/// Recovery at start-up and every apps.resync_interval_ms (5 min; it lists our units and
/// unit files from systemd, part of the safety net): never starts, stops or restarts an app.
void Agent::schedule_recovery() {
  const bool first = !recovered_once_;
  recovered_once_ = true;
  (void)workers_.try_post([this, first] {
    for (const auto& f : apps_.recover(first)) spdlog::warn("recovery: {}: {}: {}", f.app, f.kind, f.detail);
  });
  refresh_system();
  recovery_timer_.expires_after(cfg_.apps.resync_interval);
  recovery_timer_.async_wait([this](boost::system::error_code e) {
    if (!e) schedule_recovery();
  });
}

/// Sessions end when their user's password or role changes or the user goes ('siax-agent
/// user set-password' writes the registry from another process): every 2 s, on a worker,
/// each session's login stamp is compared with the user's current one.
void Agent::schedule_users_check() {
  users_timer_.expires_after(std::chrono::seconds(2));
  users_timer_.async_wait([this](boost::system::error_code e) {
    if (e) return;
    (void)workers_.try_post([this] {
      auto users = registry_->list_users();
      if (!users) return;
      std::map<std::string, std::string> stamps;
      for (const auto& u : *users) stamps.emplace(u.username, registry::credential_stamp(u));
      auto ended = sessions_.retain_current([&](const std::string& user) -> std::optional<std::string> {
        auto it = stamps.find(user);
        if (it == stamps.end()) return std::nullopt;
        return it->second;
      });
      if (ended > 0) spdlog::info("ended {} session(s) whose user changed or was removed", ended);
    });
    schedule_users_check();
  });
}

}  // namespace siax::app
