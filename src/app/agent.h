#pragma once
/// The composition root of `siax-agent serve`: builds every module from the
/// configuration, wires them together, runs them until SIGINT/SIGTERM, stops them.
///
///     auto agent = app::Agent::create(cfg);   // opens the registry, first-run bootstrap
///     if (!agent) ...;                        // error: what failed, exit 1
///     return (*agent)->run();                 // 0 after a clean stop, 1 on a start-up error
///
/// Threads: the caller's thread runs the io_context (HTTP server, WebSockets, timers,
/// middleware); a WorkerPool of 4 threads runs everything that blocks (systemd jobs,
/// SQLite writes, password hashing), each worker with its own D-Bus connection
/// (worker_bus.h); the monitor, the state stream, the cloud reporter and the unit watcher
/// have a thread each.
///
/// Members are declared in the order they are built; they are destroyed in reverse, so
/// that nothing outlives what it refers to.
#include <atomic>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/linux/fs_secret_store.h"
#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/helper_socket_client.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/unit_watcher.h"
#include "agent/app_service.h"
#include "agent/live_state.h"
#include "agent/monitor_service.h"
#include "agent/reload_coalescer.h"
#include "agent/state_stream.h"
#include "agent/token_sync.h"
#include "agent/webhook.h"
#include "agent/worker_pool.h"
#include "api/context.h"
#include "app/worker_bus.h"
#include "auth/login_limiter.h"
#include "auth/sessions.h"
#include "auth/token_cache.h"
#include "cloud/cloud_reporter.h"
#include "config/config.h"
#include "http/local_socket.h"
#include "http/server.h"
#include "logs/endpoint.h"
#include "logs/sd_journal_source.h"
#include "monitor/http_prober.h"
#include "common/clock.h"
#include "procscan/proc_scanner.h"
#include "registry/sqlite_registry.h"
#include "state/state_store.h"

namespace siax::app {

class Agent {
 public:
  /// Checks the listen policy, opens the registry (creating the state directory), creates
  /// the first credentials on the first start, builds and wires every module. Nothing
  /// runs yet. Errors name the setting or file at fault.
  [[nodiscard]] static Result<std::unique_ptr<Agent>> create(const config::Config& cfg);

  Agent(const config::Config& cfg, std::unique_ptr<registry::SqliteRegistry> registry);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Starts the server and the modules, runs the io_context on this thread until
  /// SIGINT/SIGTERM, then stops everything. 0 after a clean stop, 1 when it cannot start.
  int run();

 private:
  // Building (agent.cpp, agent_wiring.cpp).
  [[nodiscard]] Status wire();
  [[nodiscard]] agent::MonitorDeps monitor_deps();
  [[nodiscard]] Status make_cloud();
  [[nodiscard]] Status make_webhook();
  [[nodiscard]] Status make_tokens();
  void make_api_context();
  [[nodiscard]] Status make_logs();
  // What the monitor is given.
  [[nodiscard]] std::string restart_unhealthy(const std::string& app);
  [[nodiscard]] std::vector<std::string> last_log_lines(const std::string& app);
  [[nodiscard]] std::string unit_file_state(const std::string& app);
  void on_full_cycle(const std::vector<std::string>& apps, const std::vector<std::string>& monitored);
  void on_event(const monitor::Event& e);
  void on_removed(const std::string& app);
  void on_state(const monitor::AppState& st);
  // Running (agent_run.cpp).
  void open_local_socket();
  void start_modules();
  void refresh_system();
  void schedule_recovery();
  void schedule_users_check();
  void stop_modules();

  const config::Config& cfg_;
  std::unique_ptr<registry::SqliteRegistry> registry_;
  adapters::FsUnitStore unit_store_;
  /// User mode with the root unit helper: the helper writes the units and their secret
  /// files (root's directory, named in EnvironmentFile=); without one, the agent does.
  const bool use_helper_;
  adapters::HelperSocketClient unit_helper_;
  adapters::FsSecretStore secrets_;
  adapters::LinuxHost host_;
  agent::ReloadCoalescer reloads_;  ///< daemon-reloads shared by the writes queued before them
  WorkerBus bus_;
  agent::AppService apps_;
  SteadyClock clock_;  ///< the one monotonic clock (rate limits, serialization, sessions, logins)
  orchestrator::RateLimiter limiter_;
  orchestrator::OpSerializer ops_;
  auth::SessionStore sessions_;
  auth::LoginLimiter logins_;
  api::Metrics metrics_;
  boost::asio::io_context ioc_{1};
  http::Server server_;
  agent::WorkerPool workers_{4, 64};
  api::AuditLog audit_log_;
  api::Admission admission_;
  // The live state: one store, fed by the monitor, the signals and the API.
  std::atomic<agent::StateStream*> stream_ptr_{nullptr};
  state::StateStore live_store_;
  agent::LiveFeed live_;
  agent::StateStream state_stream_;
  // The monitor: /proc scans + systemd, reconciled every scan_interval.
  procscan::ProcScanner scanner_;
  monitor::HttpProber prober_;
  logs::SdJournalSource event_journal_;
  std::string cloud_server_;
  std::unique_ptr<cloud::CloudReporter> cloud_reporter_;
  std::unique_ptr<agent::MonitorService> monitor_;
  std::unique_ptr<adapters::UnitWatcher> unit_watcher_;
  std::unique_ptr<agent::webhook::Verifier> webhook_;
  std::optional<api::ApiContext> api_;
  // API tokens in memory (docs/SECURITY.md): the io thread never reads the registry to
  // authenticate.
  auth::TokenCache token_cache_;
  std::unique_ptr<agent::TokenSync> token_sync_;
  // Live logs: WS /logs[/:app_name], GET /api/apps/:name/logs, GET /api/agent/logs.
  logs::SdJournalSource log_journal_;
  std::unique_ptr<logs::LogEndpoint> log_endpoint_;
  std::unique_ptr<http::LocalSocketRelay> local_socket_;
  boost::asio::steady_timer recovery_timer_{ioc_};
  bool recovered_once_ = false;  ///< io thread: the first recovery pass also lists unknown units
  boost::asio::steady_timer users_timer_{ioc_};
};

}  // namespace siax::app
