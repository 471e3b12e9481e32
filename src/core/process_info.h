#pragma once
/// What the monitor knows about one process, as the /proc scanner reports it. Pure value
/// types shared by the scanner (adapter), the reconciliation (functional core) and the
/// API. No I/O here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace siax::core {

/// The runtime family a process belongs to (from its executable and command line).
enum class ProcessKind { Node, Python, Other };

[[nodiscard]] constexpr const char* to_string(ProcessKind kind) noexcept {
  switch (kind) {
    case ProcessKind::Node: return "node";
    case ProcessKind::Python: return "python";
    case ProcessKind::Other: return "other";
  }
  return "other";
}

/// One process at the time of a scan.
struct ProcessInfo {
  int pid = 0;
  int ppid = 0;
  std::uint32_t uid = 0;
  std::string user;                  ///< name of uid ("" if it has none), e.g. "siaxapp"
  std::string comm;                  ///< /proc/<pid>/stat's name, may contain spaces and ')'
  std::vector<std::string> cmdline;  ///< argv; empty for kernel threads and zombies
  std::string exe;                   ///< readlink /proc/<pid>/exe; "" when not readable
  std::string cwd;                   ///< readlink /proc/<pid>/cwd; "" when not readable
  char state = '?';                  ///< R, S, D, Z, T, ...
  std::int64_t start_time_usec = 0;  ///< wall clock (Unix epoch, UTC) the process started
  std::uint64_t cpu_ticks = 0;       ///< utime + stime, in clock ticks
  double cpu_percent = 0.0;          ///< since the previous scan (100 = one core); 0 on first sight
  std::uint64_t rss_bytes = 0;       ///< resident memory
  std::string unit;                  ///< systemd unit from the cgroup ("siax-app-x.service"), or ""
  std::string cgroup;                ///< the cgroup path, e.g. "/system.slice/siax-app-x.service"
  std::vector<std::uint16_t> listen_ports;  ///< TCP ports it listens on (v4 and v6), sorted, unique
  ProcessKind kind = ProcessKind::Other;
  bool kernel_thread = false;

  friend bool operator==(const ProcessInfo&, const ProcessInfo&) = default;
};

}  // namespace siax::core
