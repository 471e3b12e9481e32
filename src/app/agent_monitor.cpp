// What the monitor is given (agent.h): systemd's view through the worker bus, health
// probes, health restarts through the one admission point, and where its results go
// (the live state, the cloud link, the agent's log).
#include <spdlog/spdlog.h>

#include "app/agent.h"
#include "app/wall_clock.h"
#include "core/unit_renderer.h"
#include "monitor/state_json.h"
#include "procscan/cgroup_procs.h"

namespace siax::app {

agent::MonitorDeps Agent::monitor_deps() {
  return agent::MonitorDeps{
      .registry = *registry_,
      .processes = scanner_,
      .unit_status = [this](const std::string& app) { return bus_.units().status(app); },
      .unit_file_state = [this](const std::string& app) { return unit_file_state(app); },
      .last_log_lines = [this](const std::string& app) { return last_log_lines(app); },
      .probe =
          [this](const core::HealthCheck& check, std::uint16_t port, std::function<void(agent::ProbeOutcome)> done) {
            prober_.probe(check, port, [done = std::move(done)](monitor::ProbeResult r) {
              done(agent::ProbeOutcome{r.ok, r.latency, r.error});
            });
          },
      .restart_app = [this](const std::string& app) { return restart_unhealthy(app); },
      .on_state = [this](const monitor::AppState& st) { on_state(st); },
      .on_event = [this](const monitor::Event& e) { on_event(e); },
      .now_usec = now_usec,
      .on_removed = [this](const std::string& app) { on_removed(app); },
      .unit_states = [this] { return bus_.units().loaded_states(); },
      .on_app_view = [this](const registry::AppRecord& r, const Result<core::UnitStatus>& u,
                            const monitor::AppState& st) { live_.app(r, u, st); },
      .on_monitored_view = [this](const registry::MonitoredProcess& m,
                                  const monitor::MonitoredState& st) { live_.monitored(m, st); },
      .on_full_cycle = [this](const std::vector<std::string>& a,
                              const std::vector<std::string>& m) { on_full_cycle(a, m); },
      .unit_pids = [](const std::string& cg) { return procscan::read_cgroup_procs(cg); },
      .unit_usage = [](const std::string& cg,
                       procscan::CgroupUsageFiles& f) { return procscan::read_cgroup_usage(cg, "/sys/fs/cgroup", &f); },
  };
}

/// A restart for a failed health check: through the same admission as the API's (the
/// serializer, the rate limit, the audit of a refusal), audited as the monitor's.
std::string Agent::restart_unhealthy(const std::string& app) {
  const api::Caller monitor_caller{.actor = "monitor", .role = "operator", .source = "", .detail = "health check failed"};
  auto admitted = admission_.admit(app, "restart", monitor_caller);
  if (!admitted) {
    return admitted.error().result == "operation_in_progress" ? "skipped: another operation is running"
                                                                : "skipped: rate limited";
  }
  auto s = apps_.run(app, agent::Verb::Restart);
  (*admitted)->release();
  metrics_.count_operation(app, "restart", s ? "ok" : s.error().code);
  audit_log_.append({.at_usec = now_usec(),
                     .actor = "monitor",
                     .role = "operator",
                     .action = "restart",
                     .target = app,
                     .source = "",
                     .result = s ? "ok" : s.error().code,
                     .detail = s ? "health check failed" : s.error().message});
  return s ? "ok" : s.error().message;
}

/// The last lines an app wrote (not systemd's own messages about it), for failure events.
std::vector<std::string> Agent::last_log_lines(const std::string& app) {
  std::vector<std::string> lines;
  auto reader = event_journal_.open(logs::app_selector(app));
  if (!reader || !(*reader)->seek_tail()) return lines;
  std::vector<logs::RawLine> raw;
  if (!(*reader)->read_backward(20, raw)) return lines;
  for (const auto& l : raw) {  // newest first
    if (l.pid == 1 || l.message.empty()) continue;
    lines.insert(lines.begin(), l.message);
    if (lines.size() == 3) break;
  }
  return lines;
}

std::string Agent::unit_file_state(const std::string& app) {
  auto files = apps_.unit_files(app);
  if (!files) return "";
  return core::unit_file_state_name(files->first, files->second);
}

void Agent::on_full_cycle(const std::vector<std::string>& apps, const std::vector<std::string>& monitored) {
  // An app registered while the cycle ran is not in `apps` but is already in the store
  // (the API fed it): keep whatever the registry holds now.
  std::vector<std::string> keep = apps;
  if (auto now = registry_->list_apps()) {
    for (const auto& r : *now) keep.push_back(r.definition.name);
  }
  std::vector<std::string> keep_m = monitored;  // likewise a process added to the monitored list meanwhile
  if (auto now = registry_->list_monitored()) {
    for (const auto& p : *now) keep_m.push_back(p.key);
  }
  live_.full_cycle(keep, keep_m);
}

void Agent::on_state(const monitor::AppState& st) {
  if (!cloud_reporter_) return;
  if (auto r = cloud_reporter_->report_state(monitor::to_json(st)); !r) spdlog::warn("cloud: {}", r.error().message);
}

void Agent::on_event(const monitor::Event& e) {
  live_.event(e);
  spdlog::log(e.severity == monitor::Severity::Error ? spdlog::level::err : spdlog::level::warn, "event: {}: {}",
              e.kind, e.message);
  if (!cloud_reporter_) return;
  if (auto r = cloud_reporter_->report_event(monitor::to_json(e)); !r) spdlog::warn("cloud: {}", r.error().message);
}

void Agent::on_removed(const std::string& app) {
  live_.app_removed(app);
  if (!cloud_reporter_) return;
  if (auto r = cloud_reporter_->retire_app({{"name", app}, {"status", "removed"}}); !r) {
    spdlog::warn("cloud: {}", r.error().message);
  }
}

}  // namespace siax::app
