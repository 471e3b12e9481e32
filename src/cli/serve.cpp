// `siax-agent serve`: builds the agent from the configuration and runs it.
// Threads: the main thread runs the io_context (HTTP server, timers, middleware); a
// WorkerPool of 4 threads runs everything that blocks (systemd jobs, SQLite writes,
// password hashing), each worker with its own D-Bus connection.
#include "cli/serve.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "agent/app_service.h"
#include "agent/http_api.h"
#include "panel/panel.h"
#include "agent/live_state.h"
#include "agent/monitor_service.h"
#include "agent/state_stream.h"
#include "procscan/cgroup_procs.h"
#include "state/state_store.h"
#include "cloud/cloud_config.h"
#include "cloud/cloud_reporter.h"
#include "cloud/curl_transport.h"
#include "monitor/state_json.h"
#include "adapters/linux/unit_watcher.h"
#include "core/unit_renderer.h"
#include "monitor/http_prober.h"
#include "procscan/proc_scanner.h"
#include "auth/passwords.h"
#include "auth/tokens.h"
#include "logs/endpoint.h"  // live logs (issue 5)
#include "logs/sd_journal_source.h"  // live logs (issue 5)
#include "orchestrator/clock.h"
#include "registry/sqlite_registry.h"
#include "units/unavailable_systemd.h"

namespace siax::cli {
namespace {

std::int64_t now_usec() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

/// The first start creates an admin: a panel user with a generated password (shown once)
/// and a token for the local CLI in <state_dir>/cli-token (mode 0600, root only).
Status bootstrap_credentials(registry::Registry& reg, const std::string& state_dir) {
  auto users = reg.list_users();
  auto tokens = reg.list_tokens();
  if (!users) return tl::unexpected(users.error());
  if (!tokens) return tl::unexpected(tokens.error());
  if (!users->empty() || !tokens->empty()) return ok();

  auto password = auth::generate_password();
  if (!password) return tl::unexpected(password.error());
  auto hash = auth::hash_password(*password);
  if (!hash) return tl::unexpected(hash.error());
  if (auto s = reg.put_user({"admin", *hash, registry::Role::Admin, now_usec()}); !s) return s;

  auto token = auth::generate_token();
  if (!token) return tl::unexpected(token.error());
  auto token_hash = auth::hash_token(*token);
  if (!token_hash) return tl::unexpected(token_hash.error());
  if (auto id = reg.add_token("local-cli", registry::Role::Admin, *token_hash, now_usec()); !id) {
    return tl::unexpected(id.error());
  }
  const std::string token_file = state_dir + "/cli-token";
  {
    std::ofstream out(token_file, std::ios::trunc);
    out << *token << "\n";
  }
  ::chmod(token_file.c_str(), 0600);
  std::printf(
      "\n"
      "siax-agent: first start, an admin was created. This is shown once:\n"
      "  panel login:  user 'admin', password '%s'\n"
      "  local CLI:    an admin token is in %s (root only); 'siax-agent apps list' uses it\n"
      "  programs:     create scoped tokens with 'siax-agent token create NAME --role viewer|operator|admin'\n\n",
      password->c_str(), token_file.c_str());
  std::fflush(stdout);
  return ok();
}

}  // namespace

int serve(const config::Config& cfg) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(cfg.log.level)));

  std::error_code ec;
  std::filesystem::create_directories(cfg.paths.state_dir, ec);
  ::chmod(cfg.paths.state_dir.c_str(), 0750);
  registry::SqliteRegistry::Options reg_opts;
  auto reg = registry::SqliteRegistry::open(cfg.paths.state_dir + "/registry.db", reg_opts);
  if (!reg) {
    spdlog::critical("{}", reg.error().message);
    return 1;
  }
  auto& registry = **reg;
  if (auto s = bootstrap_credentials(registry, cfg.paths.state_dir); !s) {
    spdlog::critical("cannot create the first admin: {}", s.error().message);
    return 1;
  }

  adapters::FsUnitStore store(cfg.paths.unit_dir);
  adapters::LinuxHost host;
  units::PreflightSettings settings;
  settings.allow_root = cfg.apps.allow_root_apps;
  settings.interpreters = {cfg.runtimes.node, cfg.runtimes.npm, cfg.runtimes.python};
  adapters::SdbusSystemd::Options bus_opts;
  bus_opts.job_timeout = cfg.apps.job_timeout;
  bus_opts.start_settle = cfg.apps.start_settle;

  // One AppUnits (and D-Bus connection) per worker thread, reconnected when lost.
  auto units_for_thread = [&]() -> units::AppUnits& {
    struct PerThread {
      std::unique_ptr<ports::SystemdManager> systemd;
      adapters::SdbusSystemd* bus = nullptr;
      std::unique_ptr<units::AppUnits> units;
      std::chrono::steady_clock::time_point made;
    };
    thread_local PerThread t;
    const auto now = std::chrono::steady_clock::now();
    const bool lost = t.units && (t.bus == nullptr ? now - t.made > std::chrono::seconds(5) : !t.bus->is_open());
    if (!t.units || lost) {
      t.units.reset();
      auto bus = adapters::SdbusSystemd::connect(bus_opts);
      if (bus) {
        t.bus = bus->get();
        t.systemd = std::move(*bus);
      } else {
        spdlog::warn("systemd is not reachable: {}", bus.error().message);
        t.bus = nullptr;
        t.systemd = std::make_unique<units::UnavailableSystemd>(bus.error());
      }
      t.units = std::make_unique<units::AppUnits>(*t.systemd, store, host, settings);
      t.made = now;
    }
    return *t.units;
  };

  agent::AppService apps(registry, store, units_for_thread, now_usec);
  orchestrator::SystemClock clock;
  orchestrator::RateLimiterOptions rl_opts;
  rl_opts.interval = cfg.apps.rate_limit_interval;
  orchestrator::RateLimiter limiter(clock, rl_opts);
  orchestrator::OpSerializer ops(clock);
  auth::SessionStore sessions(auth::steady_now());
  auth::LoginLimiter logins(auth::steady_now());
  agent::Metrics metrics;

  boost::asio::io_context ioc(1);
  http::ServerOptions http_opts;
  http_opts.address = cfg.server.listen_address;
  http_opts.port = cfg.server.port;
  http_opts.max_body_bytes = cfg.limits.max_body_bytes;
  http_opts.max_connections = cfg.limits.max_connections;
  http_opts.read_timeout = cfg.limits.request_timeout;
  http_opts.log_warning = [](std::string_view m) { spdlog::warn("http: {}", m); };
  if (cfg.server.tls_enabled()) http_opts.tls = http::TlsOptions{*cfg.server.tls_cert_file, *cfg.server.tls_key_file};
  http::Server server(ioc, http_opts);

  {
    agent::WorkerPool workers(4, 64);

    // ---- the live state (issue 12): one store, fed by the monitor, the signals and the API ----
    std::atomic<agent::StateStream*> stream_ptr{nullptr};
    state::StoreOptions store_opts;
    store_opts.usage_interval_ms = cfg.apps.usage_interval.count();
    store_opts.max_subscribers = cfg.limits.max_streams;
    state::StateStore live_store(store_opts, [&stream_ptr] {
      if (auto* st = stream_ptr.load()) st->notify();
    });
    agent::LiveFeed live(live_store);
    agent::StateStream state_stream(live_store, {});
    stream_ptr = &state_stream;
    // systemd's reachability and the agent's rights, for the stream's "system" messages.
    auto refresh_system = [&] {
      (void)workers.try_post([&] {
        auto p = units_for_thread().permissions();
        live_store.set_system(
            {{"systemd_reachable", p.systemd_reachable}, {"degraded", !p.missing.empty()}, {"missing", p.missing}});
      });
    };
    // ---- end live state ----

    // ---- the monitor (issue 4): /proc scans + systemd, reconciled every scan_interval ----
    procscan::ProcScanner scanner;
    monitor::HttpProber prober(ioc);
    agent::MonitorDeps mon_deps{registry, scanner, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                now_usec};
    mon_deps.unit_status = [&](const std::string& app) { return units_for_thread().status(app); };
    mon_deps.unit_states = [&] { return units_for_thread().loaded_states(); };
    mon_deps.unit_file_state = [&](const std::string& app) -> std::string {
      auto files = apps.unit_files(app);
      if (!files) return "";
      if (!files->first) return "missing";
      return core::to_string(core::classify_unit_file(*files->first, files->second));
    };
    mon_deps.probe = [&prober](const core::HealthCheck& check, std::uint16_t port,
                               std::function<void(agent::ProbeOutcome)> done) {
      prober.probe(check, port, [done = std::move(done)](monitor::ProbeResult r) {
        done(agent::ProbeOutcome{r.ok, r.latency, r.error});
      });
    };
    // Restarts for failed health checks go through the same rate limit and serializer as
    // the API's, and are audited as the monitor's.
    mon_deps.restart_app = [&](const std::string& app) -> std::string {
      auto lease = ops.try_begin(app, "restart");
      if (!lease) return "skipped: another operation is running";
      if (!limiter.try_acquire(app)) return "skipped: rate limited";
      auto s = apps.run(app, agent::Verb::Restart);
      metrics.count_operation(app, "restart", s ? "ok" : s.error().code);
      (void)registry.append_audit({0, now_usec(), "monitor", "operator", "restart", app, "", s ? "ok" : s.error().code,
                                   s ? "health check failed" : s.error().message});
      return s ? "ok" : s.error().message;
    };
    // The last lines an app wrote (not systemd's own messages about it), for failure events.
    logs::SdJournalSource event_journal;
    mon_deps.last_log_lines = [&event_journal](const std::string& app) {
      std::vector<std::string> lines;
      auto reader = event_journal.open(logs::app_selector(app));
      if (!reader || !(*reader)->seek_tail()) return lines;
      std::vector<logs::RawLine> raw;
      if (!(*reader)->read_backward(20, raw)) return lines;
      for (const auto& l : raw) {  // newest first
        if (l.pid == 1 || l.message.empty()) continue;
        lines.insert(lines.begin(), l.message);
        if (lines.size() == 3) break;
      }
      return lines;
    };
    // The cloud link (off without an API key): fed by the monitor's thread, delivered by
    // the reporter's own thread through a durable outbox; never on the io thread.
    const std::string cloud_server = cloud::resolve_server_id(cfg.cloud, cloud::local_host_name());
    std::unique_ptr<cloud::CloudReporter> cloud_reporter;
    mon_deps.on_state = [&cloud_reporter](const monitor::AppState& st) {
      if (!cloud_reporter) return;
      if (auto r = cloud_reporter->report_state(monitor::to_json(st)); !r) spdlog::warn("cloud: {}", r.error().message);
    };
    mon_deps.on_app_view = [&live](const registry::AppRecord& r, const Result<core::UnitStatus>& u,
                                   const monitor::AppState& st) { live.app(r, u, st); };
    mon_deps.on_monitored_view = [&live](const registry::MonitoredProcess& m, const monitor::MonitoredState& st) {
      live.monitored(m, st);
    };
    mon_deps.on_full_cycle = [&live](const std::vector<std::string>& a, const std::vector<std::string>& m) {
      live.full_cycle(a, m);
    };
    mon_deps.unit_pids = [](const std::string& cg) { return procscan::read_cgroup_procs(cg); };
    mon_deps.on_event = [&cloud_reporter, &live](const monitor::Event& e) {
      live.event(e);
      spdlog::log(e.severity == monitor::Severity::Error ? spdlog::level::err : spdlog::level::warn, "event: {}: {}",
                  e.kind, e.message);
      if (!cloud_reporter) return;
      if (auto r = cloud_reporter->report_event(monitor::to_json(e)); !r) spdlog::warn("cloud: {}", r.error().message);
    };
    mon_deps.on_removed = [&cloud_reporter, &live](const std::string& app) {
      live.app_removed(app);
      if (!cloud_reporter) return;
      if (auto r = cloud_reporter->retire_app({{"name", app}, {"status", "removed"}}); !r) {
        spdlog::warn("cloud: {}", r.error().message);
      }
    };
    agent::MonitorOptions mon_opts;
    mon_opts.scan_interval = cfg.apps.scan_interval;
    agent::MonitorService monitor_service(std::move(mon_deps), mon_opts);
    if (cfg.cloud.enabled()) {
      auto transport = cloud::CurlTransport::create({.base_url = cfg.cloud.base_url, .api_key = cfg.cloud.api_key});
      if (!transport) {
        spdlog::critical("{}", transport.error().message);
        return 1;
      }
      auto outbox = cloud::CloudOutbox::open(cfg.paths.state_dir + "/cloud.db", {});
      if (!outbox) {
        spdlog::error("cloud reporting disabled: {}", outbox.error().message);  // the agent keeps serving
      } else {
        cloud::CloudReporter::Options o;
        o.server_id = cloud_server;
        o.heartbeat_interval = cfg.cloud.heartbeat_interval;
        o.notify = [](cloud::CloudReporter::NoticeLevel l, const std::string& m) {
          if (l == cloud::CloudReporter::NoticeLevel::Warn) {
            spdlog::warn("cloud: {}", m);
          } else {
            spdlog::info("cloud: {}", m);
          }
        };
        o.current_states = [&monitor_service] {
          std::vector<nlohmann::json> all;
          for (const auto& st : monitor_service.states()) all.push_back(monitor::to_json(st));
          return all;
        };
        auto r = cloud::CloudReporter::create(std::move(*outbox), std::move(*transport), std::move(o));
        if (!r) {
          spdlog::critical("{}", r.error().message);
          return 1;
        }
        cloud_reporter = std::move(*r);
      }
    }
    adapters::UnitWatcher unit_watcher(
        [&monitor_service](const std::string& app) {
          if (app.empty()) {
            monitor_service.trigger();  // a daemon reload, unit files changed: re-read every unit
          } else {
            monitor_service.trigger(app);  // only this app's unit and processes, at once
          }
        },
        [&monitor_service, &refresh_system](const std::string& why) {
          // (Re)subscribed: signals may have been missed; re-read everything and say so.
          if (!why.empty()) {
            monitor_service.note(monitor::Event{now_usec(), "", "systemd_resync", monitor::Severity::Warning, why});
          }
          monitor_service.trigger();
          refresh_system();
        });
    // ---- end monitor ----

    agent::ApiContext ctx{apps,     registry, limiter, ops, sessions, logins, workers, metrics, server,
                          [&] { return units_for_thread().permissions(); }, now_usec, SIAX_VERSION, host_name(),
                          cfg.server.tls_enabled(), &monitor_service, nullptr, nullptr};
    ctx.live = &live;
    ctx.stream = &state_stream;
    ctx.system_extra = [&cloud_reporter] {
      return nlohmann::json{
          {"cloud", cloud_reporter ? cloud::stats_to_json(cloud_reporter->stats()) : nlohmann::json(nullptr)}};
    };
    if (auto s = agent::install_api(ctx); !s) {
      spdlog::critical("cannot set up the API: {}", s.error().message);
      return 1;
    }
    // ---- live logs (issue 5, module src/logs): WS /logs[/:app_name], GET /api/apps/:name/logs ----
    logs::SdJournalSource log_journal;
    logs::LogEndpointDeps log_deps;
    log_deps.app_exists = [&registry](const std::string& name) {
      auto app = registry.get_app(name);
      return app && app->has_value();
    };
    log_deps.run_blocking = [&workers](std::function<void()> task) { return workers.try_post(std::move(task)); };
    logs::LogEndpointOptions log_opts;
    log_opts.hub.max_viewers_per_stream = cfg.limits.log_viewers_per_app;
    log_opts.hub.max_viewers_total = cfg.limits.log_viewers_total;
    logs::LogEndpoint log_endpoint(ioc, log_journal, logs::agent_selector(), std::move(log_deps), log_opts);
    if (auto s = log_endpoint.install(server); !s) {
      spdlog::critical("cannot set up the logs endpoints: {}", s.error().message);
      return 1;
    }
    ctx.metrics_extra = [&log_endpoint, &cloud_reporter] {
      return log_endpoint.render_metrics() +
             (cloud_reporter ? cloud::stats_to_prometheus(cloud_reporter->stats()) : std::string());
    };
    boost::asio::signal_set log_signals(ioc, SIGINT, SIGTERM);  // viewers are closed on stop
    log_signals.async_wait([&log_endpoint](boost::system::error_code e, int) {
      if (!e) log_endpoint.stop();
    });
    // ---- end live logs ----
    if (auto s = panel::install(server); !s) {  // the web panel (issue 13), web/ compiled in
      spdlog::critical("cannot set up the panel: {}", s.error().message);
      return 1;
    }
    if (auto s = server.start(); !s) {
      spdlog::critical("{}", s.error().message);
      return 1;
    }
    spdlog::info("siax-agent {} listening on {}://{}:{}", SIAX_VERSION, cfg.server.tls_enabled() ? "https" : "http",
                 cfg.server.listen_address, server.bound_port());
    spdlog::info("panel: open {}://{}:{}/ in a browser", cfg.server.tls_enabled() ? "https" : "http",
                 cfg.server.listen_address, server.bound_port());
    spdlog::info("{}", cloud::describe(cfg.cloud, cloud_server));
    monitor_service.start();
    state_stream.start();
    refresh_system();
    if (cloud_reporter) cloud_reporter->start();
    unit_watcher.start();

    // Recovery at start-up and every minute: never starts, stops or restarts an app.
    boost::asio::steady_timer recovery_timer(ioc);
    std::function<void()> schedule_recovery = [&] {
      (void)workers.try_post([&] {
        for (const auto& f : apps.recover()) {
          spdlog::warn("recovery: {}: {}: {}", f.app, f.kind, f.detail);
        }
      });
      refresh_system();
      recovery_timer.expires_after(std::chrono::minutes(1));
      recovery_timer.async_wait([&](boost::system::error_code e) {
        if (!e) schedule_recovery();
      });
    };
    schedule_recovery();

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int sig) {
      spdlog::info("stopping on signal {}", sig);
      recovery_timer.cancel();
      unit_watcher.stop();
      state_stream.stop();  // ends the streams so that the server can stop
      monitor_service.stop();  // waits for the cycle in progress
      if (cloud_reporter) cloud_reporter->stop();  // cancels the request in flight; the outbox keeps the rest
      server.stop(std::chrono::seconds(5));
    });
    ioc.run();
    workers.stop();
  }
  spdlog::info("siax-agent stopped");
  return 0;
}

}  // namespace siax::cli
