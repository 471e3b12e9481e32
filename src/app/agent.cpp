// Building the agent: every module from the configuration, in dependency order
// (agent.h). The monitor's wiring is in agent_monitor.cpp, running in agent_run.cpp.
#include "app/agent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/api.h"
#include "api/logs_routes.h"
#include "api/webhook_routes.h"
#include "app/bootstrap.h"
#include "panel/panel.h"
#include "app/wall_clock.h"
#include "cloud/cloud_config.h"
#include "cloud/curl_transport.h"
#include "monitor/state_json.h"

namespace siax::app {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

/// Plain HTTP beyond this host sends tokens and passwords in clear text: only when asked.
Status check_listen_policy(const config::ServerConfig& server) {
  boost::system::error_code bad;
  const auto listen = boost::asio::ip::make_address(server.listen_address, bad);
  const bool loopback = !bad && listen.is_loopback();
  if (loopback || server.tls_enabled()) return ok();
  if (!server.allow_plain_http_remote) {
    return fail(ErrorKind::InvalidInput, "plain_http_remote",
                fmt::format("server.listen = {} is not a loopback address and TLS is off: set server.tls_cert and "
                            "server.tls_key, or listen on 127.0.0.1, or set server.allow_plain_http_remote = true "
                            "(tokens and passwords would cross the network in clear text)",
                            server.listen_address));
  }
  spdlog::warn("serving plain HTTP on {} (server.allow_plain_http_remote = true): tokens and passwords cross the "
               "network in clear text; use TLS",
               server.listen_address);
  return ok();
}

http::ServerOptions server_options(const config::Config& cfg) {
  http::ServerOptions o;
  o.address = cfg.server.listen_address;
  o.port = cfg.server.port;
  o.max_body_bytes = cfg.limits.max_body_bytes;
  o.max_connections = cfg.limits.max_connections;
  o.max_connections_per_address = cfg.limits.max_connections_per_address;
  // Against DNS rebinding: IP literals, localhost, this host's name and the configured names.
  o.allowed_hosts = cfg.server.allowed_hosts;
  o.allowed_hosts->push_back(host_name());
  o.read_timeout = cfg.limits.request_timeout;
  o.log_warning = [](std::string_view m) { spdlog::warn("http: {}", m); };
  if (cfg.server.tls_enabled()) o.tls = http::TlsOptions{*cfg.server.tls_cert_file, *cfg.server.tls_key_file};
  return o;
}

adapters::SdbusSystemd::Options bus_options(const config::Config& cfg) {
  adapters::SdbusSystemd::Options o;
  o.job_timeout = cfg.apps.job_timeout;
  o.start_settle = cfg.apps.start_settle;
  return o;
}

procscan::ProcScannerOptions scanner_options() {
  procscan::ProcScannerOptions o;
  o.incremental = true;  // new processes in full, known ones by their stat line
  return o;
}

units::PreflightSettings preflight_settings(const config::Config& cfg) {
  units::PreflightSettings s;
  s.allow_root = cfg.apps.allow_root_apps;
  s.interpreters = {cfg.runtimes.node, cfg.runtimes.npm, cfg.runtimes.python};
  return s;
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::create(const config::Config& cfg) {
  if (auto s = check_listen_policy(cfg.server); !s) return tl::unexpected(s.error());
  std::error_code ec;
  std::filesystem::create_directories(cfg.paths.state_dir, ec);
  ::chmod(cfg.paths.state_dir.c_str(), 0750);
  auto reg = registry::SqliteRegistry::open(cfg.paths.state_dir + "/registry.db", {});
  if (!reg) return tl::unexpected(reg.error());
  if (auto s = bootstrap_credentials(**reg, cfg.paths.state_dir); !s) {
    return fail(s.error().kind, s.error().code, "cannot create the first admin: " + s.error().message);
  }
  auto agent = std::make_unique<Agent>(cfg, std::move(*reg));
  if (auto s = agent->wire(); !s) return tl::unexpected(s.error());
  return agent;
}

Agent::Agent(const config::Config& cfg, std::unique_ptr<registry::SqliteRegistry> registry)
    : cfg_(cfg),
      registry_(std::move(registry)),
      unit_store_(cfg.paths.unit_dir),
      use_helper_(!cfg.paths.unit_helper_socket.empty()),
      unit_helper_(cfg.paths.unit_helper_socket, 2 * cfg.apps.job_timeout + std::chrono::seconds(15)),
      secrets_(use_helper_ ? std::string(adapters::kRootSecretsDirectory)
                           : adapters::default_secrets_directory(cfg.paths.state_dir)),
      bus_(bus_options(cfg), reloads_, unit_store_, host_, preflight_settings(cfg), &secrets_,
           use_helper_ ? &unit_helper_ : nullptr),
      apps_(*registry_, unit_store_, [this]() -> units::AppUnits& { return bus_.units(); }, now_usec),
      limiter_(clock_, orchestrator::RateLimiterOptions{.interval = cfg.apps.rate_limit_interval}),
      ops_(clock_),
      sessions_(clock_),
      logins_(clock_),
      server_(ioc_, server_options(cfg)),
      audit_log_(*registry_, workers_, metrics_),
      admission_(ops_, limiter_, metrics_, audit_log_, now_usec),
      live_store_(state::StoreOptions{.usage_interval_ms = cfg.apps.usage_interval.count(),
                                      .max_subscribers = cfg.limits.max_streams},
                  [this] {
                    if (auto* st = stream_ptr_.load()) st->notify();
                  }),
      live_(live_store_),
      state_stream_(live_store_, {}),
      scanner_(scanner_options()),
      prober_(ioc_),
      cloud_server_(cloud::resolve_server_id(cfg.cloud, cloud::local_host_name())) {
  stream_ptr_ = &state_stream_;
  if (use_helper_) spdlog::info("unit files: written through the unit helper at {}", cfg.paths.unit_helper_socket);
}

Agent::~Agent() = default;

Status Agent::wire() {
  if (auto s = make_cloud(); !s) return s;
  agent::MonitorOptions mon_opts;
  mon_opts.scan_interval = cfg_.apps.scan_interval;
  mon_opts.resync_interval = cfg_.apps.resync_interval;
  monitor_ = std::make_unique<agent::MonitorService>(monitor_deps(), mon_opts);
  unit_watcher_ = std::make_unique<adapters::UnitWatcher>(
      [this](const std::string& app) {
        if (app.empty()) {
          monitor_->trigger();  // a daemon reload, unit files changed: re-read every unit
        } else {
          monitor_->trigger(app);  // only this app's unit and processes, at once
        }
      },
      [this](const std::string& why) {
        // (Re)subscribed: signals may have been missed; re-read everything and say so.
        if (!why.empty()) {
          monitor_->note(monitor::Event{.at_usec = now_usec(),
                                        .app = "",
                                        .kind = "systemd_resync",
                                        .severity = monitor::Severity::Warning,
                                        .message = why});
        }
        monitor_->trigger();
        refresh_system();
      });
  if (auto s = make_webhook(); !s) return s;
  if (auto s = make_tokens(); !s) return s;
  make_api_context();
  if (auto s = api::install_api(*api_); !s) {
    return fail(s.error().kind, s.error().code, "cannot set up the API: " + s.error().message);
  }
  if (auto s = make_logs(); !s) return s;
  if (auto s = panel::install(server_); !s) {  // the web panel, web/ compiled in
    return fail(s.error().kind, s.error().code, "cannot set up the panel: " + s.error().message);
  }
  return ok();
}

void Agent::make_api_context() {
  api_.emplace(api::ApiContext{
      .apps = apps_,
      .registry = *registry_,
      .admission = admission_,
      .audit_log = audit_log_,
      .sessions = sessions_,
      .logins = logins_,
      .workers = workers_,
      .metrics = metrics_,
      .server = server_,
      .permissions = [this] { return bus_.units().permissions(); },
      .now_usec = now_usec,
      .version = SIAX_VERSION,
      .hostname = host_name(),
      .tls = cfg_.server.tls_enabled(),
      .monitor = monitor_.get(),
      .system_extra =
          [this] {
            return nlohmann::json{{"cloud", cloud_reporter_ ? cloud::stats_to_json(cloud_reporter_->stats())
                                                            : nlohmann::json(nullptr)}};
          },
      .metrics_extra =
          [this] {
            return log_endpoint_->render_metrics() + token_sync_->render_metrics() +
                   (cloud_reporter_ ? cloud::stats_to_prometheus(cloud_reporter_->stats()) : std::string());
          },
      .webhook = webhook_.get(),
      .warn = [](std::string_view m) { spdlog::warn("{}", m); },
      .live = &live_,
      .stream = &state_stream_,
      .tokens = &token_cache_,
      .token_sync = token_sync_.get(),
  });
}

Status Agent::make_tokens() {
  token_sync_ = std::make_unique<agent::TokenSync>(ioc_, workers_, *registry_, token_cache_,
                                                   cfg_.paths.state_dir + "/registry.db", agent::TokenSyncOptions{},
                                                   [](std::string_view m) { spdlog::warn("{}", m); });
  if (auto s = token_sync_->load_now(); !s) {
    return fail(s.error().kind, s.error().code, "cannot read the API tokens: " + s.error().message);
  }
  token_sync_->start();
  return ok();
}

/// The signed webhook: off without a secret; the secret is never logged.
Status Agent::make_webhook() {
  const auto& w = cfg_.webhook;
  auto verifier = api::make_webhook_verifier(api::WebhookOptions{.secret_file = w.secret_file,
                                                                 .secret = w.secret,
                                                                 .max_age = w.max_age,
                                                                 .allow = w.allow,
                                                                 .allow_body_secret = w.allow_body_secret});
  if (!verifier) return tl::unexpected(verifier.error());
  webhook_ = std::move(*verifier);
  if (webhook_ == nullptr) {
    spdlog::info("webhook: off (no webhook.secret_file)");
    return ok();
  }
  const auto& allow = webhook_->settings().allow;
  spdlog::info("webhook: on, POST {}; allows {}; max age {} s", api::kWebhookRoute,
               allow.empty() ? std::string("nothing (set webhook.allow)") : allow.describe(), w.max_age.count());
  if (w.allow_body_secret) {
    spdlog::warn("webhook: webhook.allow_body_secret is on: unsigned requests with the secret in the body are "
                 "accepted (weaker: prefer signed requests)");
  }
  return ok();
}

Status Agent::make_logs() {
  logs::LogEndpointOptions opts;
  opts.hub.max_viewers_per_stream = cfg_.limits.log_viewers_per_app;
  opts.hub.max_viewers_total = cfg_.limits.log_viewers_total;
  log_endpoint_ = std::make_unique<logs::LogEndpoint>(ioc_, log_journal_, logs::agent_selector(),
                                                      api::log_endpoint_deps(*api_), opts);
  if (auto s = api::install_logs_routes(*api_, *log_endpoint_); !s) {
    return fail(s.error().kind, s.error().code, "cannot set up the logs endpoints: " + s.error().message);
  }
  return ok();
}

/// The cloud link (off without an API key): fed by the monitor's thread, delivered by the
/// reporter's own thread through a durable outbox; never on the io thread.
Status Agent::make_cloud() {
  if (!cfg_.cloud.enabled()) return ok();
  auto transport = cloud::CurlTransport::create({.base_url = cfg_.cloud.base_url, .api_key = cfg_.cloud.api_key});
  if (!transport) return tl::unexpected(transport.error());
  auto outbox = cloud::CloudOutbox::open(cfg_.paths.state_dir + "/cloud.db", {});
  if (!outbox) {
    spdlog::error("cloud reporting disabled: {}", outbox.error().message);  // the agent keeps serving
    return ok();
  }
  cloud::CloudReporter::Options o;
  o.server_id = cloud_server_;
  o.heartbeat_interval = cfg_.cloud.heartbeat_interval;
  o.notify = [](cloud::CloudReporter::NoticeLevel l, const std::string& m) {
    if (l == cloud::CloudReporter::NoticeLevel::Warn) {
      spdlog::warn("cloud: {}", m);
    } else {
      spdlog::info("cloud: {}", m);
    }
  };
  o.current_states = [this] {
    std::vector<nlohmann::json> all;
    for (const auto& st : monitor_->states()) all.push_back(monitor::to_json(st));
    return all;
  };
  auto r = cloud::CloudReporter::create(std::move(*outbox), std::move(*transport), std::move(o));
  if (!r) return tl::unexpected(r.error());
  cloud_reporter_ = std::move(*r);
  return ok();
}

}  // namespace siax::app
