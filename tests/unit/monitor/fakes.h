#pragma once
// Hand-built inputs for the monitor's tests: an app definition, systemd's unit status and
// process-table rows, as the real adapters would fill them.
#include <cstdint>
#include <string>
#include <vector>

#include "core/app_definition.h"
#include "core/process_info.h"
#include "core/unit_status.h"

namespace siax::monitor::testing {

inline constexpr std::int64_t kNow = 1'800'000'000'000'000;  // µs since the epoch
inline const std::string kUnit = "siax-app-api.service";

inline core::AppDefinition node_app() {
  core::AppDefinition d;
  d.name = "api";
  d.runtime = core::Runtime::NodeScript;
  d.script_path = "/srv/api/app.js";
  d.working_directory = "/srv/api";
  d.user = "siaxapp";
  d.port = 3000;
  return d;
}

inline core::UnitStatus unit(std::string active, std::string sub, std::uint32_t main_pid = 0) {
  core::UnitStatus u;
  u.unit = kUnit;
  u.load_state = "loaded";
  u.active_state = std::move(active);
  u.sub_state = std::move(sub);
  u.main_pid = main_pid;
  u.result = "success";
  return u;
}

inline core::UnitStatus failed_unit(std::string result, core::ExitCode code, int status, std::uint32_t restarts = 0) {
  core::UnitStatus u = unit("failed", "failed");
  u.result = std::move(result);
  u.exec_main_code = code;
  u.exec_main_status = status;
  u.restart_count = restarts;
  return u;
}

inline core::ProcessInfo proc(int pid, std::string unit_name, std::vector<std::string> argv, std::string cwd = "/srv/api",
                              core::ProcessKind kind = core::ProcessKind::Node) {
  core::ProcessInfo p;
  p.pid = pid;
  p.ppid = 1;
  p.uid = 1001;
  p.user = "siaxapp";
  p.comm = argv.empty() ? "kworker/0:1" : argv.front();
  p.cmdline = std::move(argv);
  p.exe = kind == core::ProcessKind::Node ? "/usr/bin/node" : kind == core::ProcessKind::Python ? "/usr/bin/python3.11" : "";
  p.cwd = std::move(cwd);
  p.state = 'S';
  p.start_time_usec = kNow - 90'000'000;  // started 90 s ago
  p.unit = unit_name;
  p.cgroup = unit_name.empty() ? "/user.slice/user-1001.slice/session-3.scope" : "/system.slice/" + unit_name;
  p.kind = kind;
  return p;
}

/// The app's main process, in its unit: `node /srv/api/app.js`.
inline core::ProcessInfo app_main(int pid = 100) { return proc(pid, kUnit, {"/usr/bin/node", "/srv/api/app.js"}); }

/// A leftover `nohup node app.js` from a shell in /srv/api, outside the unit.
inline core::ProcessInfo stray(int pid = 4321) {
  core::ProcessInfo p = proc(pid, "session-3.scope", {"node", "app.js"});
  p.user = "bob";
  return p;
}

}  // namespace siax::monitor::testing
