#include "monitor/state_json.h"

#include <nlohmann/json.hpp>

namespace siax::monitor {

using nlohmann::json;

json to_json(const HealthView& h) {
  return json{{"state", to_string(h.state)},
              {"consecutive_failures", h.consecutive_failures},
              {"last_error", h.last_error.empty() ? json(nullptr) : json(h.last_error)},
              {"last_checked", h.last_checked_usec == 0 ? json(nullptr) : json(h.last_checked_usec)},
              {"latency_ms", h.last_latency_ms < 0 ? json(nullptr) : json(h.last_latency_ms)}};
}

json to_json(const AppState& s) {
  const bool reachable = !s.active_state.empty();
  return json{{"name", s.name},
              {"unit", s.unit},
              {"status", to_string(s.status)},
              {"reason", s.reason},
              {"pid", s.main_pid == 0 ? json(nullptr) : json(s.main_pid)},
              {"pids", s.pids},
              {"stray_pids", s.stray_pids},
              {"cpu_usage", s.cpu_percent},
              {"memory_usage", s.memory_bytes},
              {"memory_source", s.memory_from_systemd ? "systemd" : "proc"},
              {"uptime_seconds", s.uptime_seconds ? json(*s.uptime_seconds) : json(nullptr)},
              {"restart_count", s.restart_count},
              {"last_exit", s.last_exit.empty() ? json(nullptr) : json(s.last_exit)},
              {"result", s.result},
              {"systemd_status", reachable ? json(s.active_state + " (" + s.sub_state + ")") : json(nullptr)},
              {"load_state", s.load_state},
              {"active_state", s.active_state},
              {"sub_state", s.sub_state},
              {"health", s.health ? to_json(*s.health) : json(nullptr)},
              {"ports", s.listen_ports},
              {"last_updated", s.updated_usec}};
}

json to_json(const MonitoredState& m) {
  return json{{"key", m.key},
              {"name", m.name},
              {"status", to_string(m.status)},
              {"pid", m.pid == 0 ? json(nullptr) : json(m.pid)},
              {"pids", m.pids},
              {"cpu_usage", m.cpu_percent},
              {"memory_usage", m.memory_bytes},
              {"uptime_seconds", m.uptime_seconds ? json(*m.uptime_seconds) : json(nullptr)},
              {"ports", m.listen_ports},
              {"last_updated", m.updated_usec}};
}

json to_json(const Event& e) {
  return json{{"at", e.at_usec},
              {"app", e.app},
              {"kind", e.kind},
              {"severity", to_string(e.severity)},
              {"message", e.message}};
}

}  // namespace siax::monitor
