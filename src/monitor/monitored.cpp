// The watched processes that are not apps (POST /api/monitored): their key and their state
// from the process table. docs/API.md, "Monitor".
#include <algorithm>
#include <set>
#include <string_view>

#include "monitor/reconcile.h"

namespace siax::monitor {

using core::ProcessInfo;

std::string monitored_key(const std::string& user, const std::vector<std::string>& cmdline) {
  auto safe = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
  };
  std::string key = user + ":";
  for (std::size_t i = 0; i < cmdline.size(); ++i) {
    if (i) key += ' ';
    const std::string& a = cmdline[i];
    if (!a.empty() && std::all_of(a.begin(), a.end(), safe)) {
      key += a;
      continue;
    }
    key += '\'';
    for (char c : a) {
      if (c == '\'') {
        key += "'\\''";
      } else {
        key += c;
      }
    }
    key += '\'';
  }
  return key;
}

MonitorSpec monitor_spec_for(const ProcessInfo& process, std::string name) {
  MonitorSpec spec;
  spec.user = process.user;
  spec.cmdline = process.cmdline;
  spec.key = monitored_key(spec.user, spec.cmdline);
  spec.name = std::move(name);
  return spec;
}

MonitoredState reconcile_monitored(const MonitorSpec& spec, const std::vector<ProcessInfo>& processes,
                                   std::int64_t now_usec) {
  MonitoredState m;
  m.key = spec.key;
  m.name = spec.name.empty() ? spec.key : spec.name;
  m.updated_usec = now_usec;
  const ProcessInfo* oldest = nullptr;
  std::set<std::uint16_t> ports;
  for (const auto& p : processes) {
    if (spec.cmdline.empty() || !is_live_process(p) || p.cmdline != spec.cmdline) continue;
    if (!spec.user.empty() && p.user != spec.user) continue;
    m.pids.push_back(p.pid);
    m.cpu_percent += p.cpu_percent;
    m.memory_bytes += p.rss_bytes;
    ports.insert(p.listen_ports.begin(), p.listen_ports.end());
    if (!oldest || p.start_time_usec < oldest->start_time_usec ||
        (p.start_time_usec == oldest->start_time_usec && p.pid < oldest->pid)) {
      oldest = &p;
    }
  }
  std::sort(m.pids.begin(), m.pids.end());
  m.listen_ports.assign(ports.begin(), ports.end());
  if (oldest) {
    m.status = AppStatus::Running;
    m.pid = oldest->pid;
    if (oldest->start_time_usec > 0)
      m.uptime_seconds = std::max<std::int64_t>(0, (now_usec - oldest->start_time_usec) / 1'000'000);
  }
  return m;
}

}  // namespace siax::monitor
