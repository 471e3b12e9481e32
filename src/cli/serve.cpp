// `siax-agent serve`: builds the agent from the configuration and runs it.
// Threads: the main thread runs the io_context (HTTP server, timers, middleware); a
// WorkerPool of 4 threads runs everything that blocks (systemd jobs, SQLite writes,
// password hashing), each worker with its own D-Bus connection.
#include "cli/serve.h"

#include <malloc.h>

#include <cstdlib>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <fstream>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "adapters/linux/fs_secret_store.h"
#include "adapters/linux/helper_socket_client.h"
#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "agent/app_service.h"
#include "agent/http_api.h"
#include "panel/panel.h"
#include "agent/live_state.h"
#include "agent/monitor_service.h"
#include "agent/reload_coalescer.h"
#include "agent/webhook.h"
#include "agent/webhook_route.h"
#include "agent/state_stream.h"
#include "agent/token_sync.h"
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
#include "http/local_socket.h"  // the local CLI socket (issue 10, item 7)
#include "cli/systemd_notify.h"  // Type=notify and WatchdogSec= (desplegar_agent.sh)

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

/// Writes a secret to a new file that is 0600 from its creation (O_EXCL: never an
/// existing file or a planted symlink).
Status write_secret_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(ErrorKind::Internal, "secret_file",
                fmt::format("cannot create {}: {} (remove it if it is left over, then start again)", path,
                            std::strerror(errno)));
  }
  const std::string data = content + "\n";
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return fail(ErrorKind::Internal, "secret_file", fmt::format("cannot write {}: {}", path, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return fail(ErrorKind::Internal, "secret_file", fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return ok();
}

/// The first start creates an admin: a panel user with a generated password, written to
/// <state_dir>/initial-admin-password, and a token for the local CLI in
/// <state_dir>/cli-token (both 0600 from creation, root only). Only the paths are printed:
/// stdout lands in the journal, which is not a place for secrets.
Status bootstrap_credentials(registry::Registry& reg, const std::string& state_dir) {
  auto users = reg.list_users();
  auto tokens = reg.list_tokens();
  if (!users) return tl::unexpected(users.error());
  if (!tokens) return tl::unexpected(tokens.error());
  if (!users->empty() || !tokens->empty()) return ok();

  auto password = auth::generate_password();
  if (!password) return tl::unexpected(password.error());
  const std::string password_file = state_dir + "/initial-admin-password";
  const std::string token_file = state_dir + "/cli-token";
  // Left over from a start that failed half-way: stale secrets, not ours to trust.
  ::unlink(password_file.c_str());
  ::unlink(token_file.c_str());
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
  if (auto s = write_secret_file(password_file, *password); !s) return s;
  if (auto s = write_secret_file(token_file, *token); !s) return s;
  std::printf(
      "\n"
      "siax-agent: first start, an admin was created (no secret is printed):\n"
      "  panel login:  user 'admin'; the first password is in %s (root only).\n"
      "                Set your own now: 'siax-agent user set-password admin', then delete that file.\n"
      "  local CLI:    an admin token is in %s (root only); 'siax-agent apps list' uses it\n"
      "  programs:     create scoped tokens with 'siax-agent token create NAME --role viewer|operator|admin'\n\n",
      password_file.c_str(), token_file.c_str());
  std::fflush(stdout);
  return ok();
}

}  // namespace

int serve(const config::Config& cfg) {
  // Two malloc arenas instead of one per thread (glibc's default, up to 8 per core): about
  // 1.7 MB less resident memory with 8 threads (docs/PERFORMANCE.md); an explicit
  // MALLOC_ARENA_MAX in the environment still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) (void)::mallopt(M_ARENA_MAX, 2);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(cfg.log.level)));

  // Plain HTTP beyond this host sends tokens and passwords in clear text: only when asked.
  {
    boost::system::error_code bad;
    const auto listen = boost::asio::ip::make_address(cfg.server.listen_address, bad);
    const bool loopback = !bad && listen.is_loopback();
    if (!loopback && !cfg.server.tls_enabled()) {
      if (!cfg.server.allow_plain_http_remote) {
        spdlog::critical("server.listen = {} is not a loopback address and TLS is off: set server.tls_cert and "
                         "server.tls_key, or listen on 127.0.0.1, or set server.allow_plain_http_remote = true "
                         "(tokens and passwords would cross the network in clear text)",
                         cfg.server.listen_address);
        return 1;
      }
      spdlog::warn("serving plain HTTP on {} (server.allow_plain_http_remote = true): tokens and passwords cross "
                   "the network in clear text; use TLS",
                   cfg.server.listen_address);
    }
  }
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
  // User mode with the root unit helper: the helper writes the units and their secret files
  // (root's directory, named in EnvironmentFile=); without one, the agent writes them itself.
  const bool use_helper = !cfg.paths.unit_helper_socket.empty();
  adapters::HelperSocketClient unit_helper(cfg.paths.unit_helper_socket, 2 * cfg.apps.job_timeout + std::chrono::seconds(15));
  adapters::FsSecretStore secrets(use_helper ? std::string(adapters::kRootSecretsDirectory)
                                             : adapters::default_secrets_directory(cfg.paths.state_dir));
  if (use_helper) spdlog::info("unit files: written through the unit helper at {}", cfg.paths.unit_helper_socket);
  adapters::LinuxHost host;
  units::PreflightSettings settings;
  settings.allow_root = cfg.apps.allow_root_apps;
  settings.interpreters = {cfg.runtimes.node, cfg.runtimes.npm, cfg.runtimes.python};
  adapters::SdbusSystemd::Options bus_opts;
  bus_opts.job_timeout = cfg.apps.job_timeout;
  bus_opts.start_settle = cfg.apps.start_settle;

  agent::ReloadCoalescer reloads;  // issue 12: daemon-reloads shared by the writes queued before them
  // One AppUnits (and D-Bus connection) per worker thread, reconnected when lost.
  auto units_for_thread = [&]() -> units::AppUnits& {
    struct PerThread {
      std::unique_ptr<ports::SystemdManager> systemd;
      adapters::SdbusSystemd* bus = nullptr;
      std::unique_ptr<units::AppUnits> units;
      std::chrono::steady_clock::time_point made;
      std::chrono::steady_clock::time_point used;
    };
    thread_local PerThread t;
    const auto now = std::chrono::steady_clock::now();
    // A bus idle for a second is pinged first (one round trip): the daemon may have dropped
    // it meanwhile (dbus restarted), and an operation must not be the one to find out.
    const bool idle = now - t.used > std::chrono::seconds(1);
    const bool lost = t.units && (t.bus == nullptr ? now - t.made > std::chrono::seconds(5)
                                                   : !(idle ? t.bus->answers() : t.bus->is_open()));
    t.used = now;
    if (!t.units || lost) {
      t.units.reset();
      auto bus = adapters::SdbusSystemd::connect(bus_opts);
      if (bus) {
        t.bus = bus->get();
        t.systemd = std::make_unique<agent::CoalescingSystemd>(std::move(*bus), reloads);  // one reload for many writes
      } else {
        spdlog::warn("systemd is not reachable: {}", bus.error().message);
        t.bus = nullptr;
        t.systemd = std::make_unique<units::UnavailableSystemd>(bus.error());
      }
      t.units = std::make_unique<units::AppUnits>(*t.systemd, store, host, settings, &secrets);
      if (use_helper) t.units->use_helper(&unit_helper);
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
  http_opts.max_connections_per_address = cfg.limits.max_connections_per_address;
  // Against DNS rebinding: IP literals, localhost, this host's name and the configured names.
  http_opts.allowed_hosts = cfg.server.allowed_hosts;
  http_opts.allowed_hosts->push_back(host_name());
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
    procscan::ProcScannerOptions scan_opts;
    scan_opts.incremental = true;  // issue 12: new processes in full, known ones by their stat line
    procscan::ProcScanner scanner(scan_opts);
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
    mon_deps.on_full_cycle = [&live, &registry](const std::vector<std::string>& a, const std::vector<std::string>& m) {
      // An app registered while the cycle ran is not in `a` but is already in the store
      // (the API fed it): keep whatever the registry holds now.
      std::vector<std::string> keep = a;
      if (auto now = registry.list_apps()) {
        for (const auto& r : *now) keep.push_back(r.definition.name);
      }
      std::vector<std::string> keep_m = m;  // likewise a process added to the monitored list meanwhile
      if (auto now = registry.list_monitored()) {
        for (const auto& p : *now) keep_m.push_back(p.key);
      }
      live.full_cycle(keep, keep_m);
    };
    mon_deps.unit_pids = [](const std::string& cg) { return procscan::read_cgroup_procs(cg); };
    mon_deps.unit_usage = [](const std::string& cg, procscan::CgroupUsageFiles& f) {
      return procscan::read_cgroup_usage(cg, "/sys/fs/cgroup", &f);
    };
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
    ctx.warn = [](std::string_view m) { spdlog::warn("{}", m); };
    // ---- API tokens in memory (docs/SECURITY.md): the io thread never reads the registry to authenticate ----
    auth::TokenCache token_cache;
    agent::TokenSync token_sync(ioc, workers, registry, token_cache, cfg.paths.state_dir + "/registry.db", {},
                                [](std::string_view m) { spdlog::warn("{}", m); });
    if (auto s = token_sync.load_now(); !s) {
      spdlog::critical("cannot read the API tokens: {}", s.error().message);
      return 1;
    }
    token_sync.start();
    ctx.tokens = &token_cache;
    if (auto s = token_sync.install_reload_route(server); !s) {
      spdlog::critical("cannot set up the token routes: {}", s.error().message);
      return 1;
    }
    boost::asio::signal_set token_signals(ioc, SIGINT, SIGTERM);
    token_signals.async_wait([&token_sync](boost::system::error_code e, int) {
      if (!e) token_sync.stop();
    });
    // ---- end API tokens ----
    ctx.live = &live;
    ctx.stream = &state_stream;
    ctx.system_extra = [&cloud_reporter] {
      return nlohmann::json{
          {"cloud", cloud_reporter ? cloud::stats_to_json(cloud_reporter->stats()) : nlohmann::json(nullptr)}};
    };
    // ---- the signed webhook (issue 15): off without a secret; the secret is never logged ----
    auto webhook = agent::make_webhook_verifier({cfg.webhook.secret_file, cfg.webhook.secret, cfg.webhook.max_age,
                                                 cfg.webhook.allow, cfg.webhook.allow_body_secret});
    if (!webhook) {
      spdlog::critical("{}", webhook.error().message);
      return 1;
    }
    ctx.webhook = webhook->get();
    if (ctx.webhook == nullptr) {
      spdlog::info("webhook: off (no webhook.secret_file)");
    } else {
      const auto& allow = ctx.webhook->settings().allow;
      spdlog::info("webhook: on, POST {}; allows {}; max age {} s", agent::kWebhookRoute,
                   allow.empty() ? std::string("nothing (set webhook.allow)") : allow.describe(),
                   cfg.webhook.max_age.count());
      if (cfg.webhook.allow_body_secret) {
        spdlog::warn("webhook: webhook.allow_body_secret is on: unsigned requests with the secret in the body are "
                     "accepted (weaker: prefer signed requests)");
      }
    }
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
    // The agent's own log is for admins (it tells about every app and every refusal);
    // an app's log for every role.
    log_deps.authorized = [](const http::Request& req) {
      if (req.route != "/logs" && req.route != "/api/agent/logs") return true;
      const auto* id = std::any_cast<agent::Identity>(&req.auth);
      return id != nullptr && id->role == auth::Role::Admin;
    };
    logs::LogEndpointOptions log_opts;
    log_opts.hub.max_viewers_per_stream = cfg.limits.log_viewers_per_app;
    log_opts.hub.max_viewers_total = cfg.limits.log_viewers_total;
    logs::LogEndpoint log_endpoint(ioc, log_journal, logs::agent_selector(), std::move(log_deps), log_opts);
    if (auto s = log_endpoint.install(server); !s) {
      spdlog::critical("cannot set up the logs endpoints: {}", s.error().message);
      return 1;
    }
    ctx.metrics_extra = [&log_endpoint, &cloud_reporter, &token_sync] {
      return log_endpoint.render_metrics() + token_sync.render_metrics() +
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
    // ---- the local CLI's socket (docs/SECURITY.md): <state_dir>/agent.sock, root and our own user ----
    std::unique_ptr<http::LocalSocketRelay> local_socket;
    {
      http::LocalSocketOptions lo;
      lo.path = cfg.paths.state_dir + "/agent.sock";
      boost::system::error_code aec;
      auto address = boost::asio::ip::make_address(cfg.server.listen_address, aec);
      if (aec || address.is_unspecified()) {
        address = (!aec && address.is_v6()) ? boost::asio::ip::address(boost::asio::ip::address_v6::loopback())
                                             : boost::asio::ip::address(boost::asio::ip::address_v4::loopback());
      }
      lo.target = boost::asio::ip::tcp::endpoint(address, server.bound_port());
      lo.allowed_uids = {0, ::geteuid()};
      lo.log_warning = [](std::string_view w) { spdlog::warn("{}", w); };
      if (auto relay = http::LocalSocketRelay::open(ioc, std::move(lo))) {
        local_socket = std::move(*relay);
        spdlog::info("local CLI socket: {}", local_socket->path());
      } else {
        spdlog::error("{} (the CLI needs --tcp until this is fixed)", relay.error().message);
      }
    }
    boost::asio::signal_set local_socket_signals(ioc, SIGINT, SIGTERM);
    local_socket_signals.async_wait([&local_socket](boost::system::error_code e, int) {
      if (!e && local_socket) local_socket->stop();
    });
    // ---- end local CLI socket ----
    SystemdNotifier notifier(ioc);
    notifier.ready(fmt::format("siax-agent {} listening on port {}", SIAX_VERSION, server.bound_port()));
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

    // Sessions end when their user's password or role changes or the user goes
    // ('siax-agent user set-password' writes the registry from another process): every
    // 2 s, on a worker, each session's login stamp is compared with the user's current one.
    boost::asio::steady_timer users_timer(ioc);
    std::function<void()> schedule_users_check = [&] {
      users_timer.expires_after(std::chrono::seconds(2));
      users_timer.async_wait([&](boost::system::error_code e) {
        if (e) return;
        (void)workers.try_post([&] {
          auto users = registry.list_users();
          if (!users) return;
          std::map<std::string, std::string> stamps;
          for (const auto& u : *users) stamps.emplace(u.username, registry::credential_stamp(u));
          auto ended = sessions.retain_current([&](const std::string& user) -> std::optional<std::string> {
            auto it = stamps.find(user);
            if (it == stamps.end()) return std::nullopt;
            return it->second;
          });
          if (ended > 0) spdlog::info("ended {} session(s) whose user changed or was removed", ended);
        });
        schedule_users_check();
      });
    };
    schedule_users_check();

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int sig) {
      spdlog::info("stopping on signal {}", sig);
      notifier.stopping();
      recovery_timer.cancel();
      users_timer.cancel();
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
