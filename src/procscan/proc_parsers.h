#pragma once
/// The functional core of the /proc scanner: parsers of the texts the kernel writes under
/// /proc, the runtime classification and the CPU arithmetic. Pure functions over strings
/// and values, no I/O; callable from any thread.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "core/process_info.h"

namespace siax::procscan {

/// PF_KTHREAD in /proc/<pid>/stat's flags field (include/linux/sched.h).
inline constexpr std::uint64_t kPfKthread = 0x00200000;

/// The fields of /proc/<pid>/stat the scanner uses (proc(5) numbering in comments).
struct StatFields {
  int pid = 0;                     ///< (1)
  std::string comm;                ///< (2) without the parentheses; may contain spaces and ')'
  char state = '?';                ///< (3)
  int ppid = 0;                    ///< (4)
  std::uint64_t flags = 0;         ///< (9)
  std::uint64_t utime = 0;         ///< (14) clock ticks
  std::uint64_t stime = 0;         ///< (15) clock ticks
  std::uint64_t starttime = 0;     ///< (22) clock ticks after boot
  std::uint64_t rss_pages = 0;     ///< (24)

  friend bool operator==(const StatFields&, const StatFields&) = default;
};

/// Parses one /proc/<pid>/stat line. The name is everything between the first '(' and the
/// LAST ')', so "1 (x) y) S 0 ..." yields comm "x) y". Error (InvalidInput,
/// "invalid_proc_stat") when the line is truncated or a number does not parse.
[[nodiscard]] Result<StatFields> parse_stat_line(std::string_view line);

/// The fields of /proc/<pid>/status the scanner uses.
struct StatusFields {
  std::optional<std::uint32_t> uid;      ///< effective uid (second number of "Uid:"), as ps shows it
  std::optional<std::uint64_t> rss_kb;   ///< "VmRSS:"; absent for kernel threads and zombies
};

/// Parses /proc/<pid>/status; lines it does not know are ignored.
[[nodiscard]] StatusFields parse_status(std::string_view content);

/// Resident pages from /proc/<pid>/statm (second number), nullopt when malformed.
[[nodiscard]] std::optional<std::uint64_t> parse_statm_resident(std::string_view content);

/// The process' cgroup path and the systemd unit it belongs to.
struct CgroupInfo {
  std::string cgroup;  ///< e.g. "/system.slice/siax-app-x.service"; "" when unknown
  std::string unit;    ///< e.g. "siax-app-x.service"; "" when not in a service or scope

  friend bool operator==(const CgroupInfo&, const CgroupInfo&) = default;
};

/// Parses /proc/<pid>/cgroup. Uses the "name=systemd" hierarchy when present (cgroup v1
/// and hybrid hosts, where it is the one systemd tracks units in), else the unified
/// "0::" line (cgroup v2). The unit is the last path component ending in ".service" or
/// ".scope", so a delegated sub-cgroup ("/system.slice/a.service/worker") still maps to
/// "a.service".
[[nodiscard]] CgroupInfo parse_cgroup_unit(std::string_view content);

/// The unit of a cgroup path: its last component ending in ".service" or ".scope", or "".
[[nodiscard]] std::string unit_of_cgroup_path(std::string_view path);

/// One line of /proc/net/tcp or /proc/net/tcp6: {inode, local port} when the socket is in
/// state LISTEN (0A), nullopt for any other state, the header, or a malformed line.
[[nodiscard]] std::optional<std::pair<std::uint64_t, std::uint16_t>> parse_proc_net_tcp_line(std::string_view line);

/// A whole /proc/net/tcp or tcp6 file: socket inode -> port, LISTEN sockets only.
[[nodiscard]] std::unordered_map<std::uint64_t, std::uint16_t> parse_proc_net_tcp(std::string_view content);

/// The inode of an fd link target "socket:[12345]", nullopt for anything else.
[[nodiscard]] std::optional<std::uint64_t> parse_socket_link(std::string_view target);

/// The boot time ("btime", seconds since the epoch) from /proc/stat, nullopt when absent.
[[nodiscard]] std::optional<std::int64_t> parse_btime(std::string_view proc_stat);

/// Splits /proc/<pid>/cmdline at NULs (a trailing NUL does not add an empty argument).
[[nodiscard]] std::vector<std::string> split_cmdline(std::string_view content);

/// The runtime family of a process from its executable path (readlink of exe, may be ""
/// or end in " (deleted)") and its argv. Node: basename node, nodejs, npm, npx, ts-node,
/// tsx, nodemon, pm2, or a process title whose first word is one of them ("npm start",
/// "PM2 v5.3.0: God Daemon"). Python: python, python3, python3.X, uvicorn, gunicorn,
/// hypercorn (and titles such as "gunicorn: master [app:app]").
[[nodiscard]] core::ProcessKind classify(std::string_view exe, const std::vector<std::string>& cmdline);

/// CPU use between two samples of one process: (ticks - prev_ticks) / clk_tck seconds of
/// CPU over `elapsed` of wall time, x100 (100 = one core busy). 0 when elapsed <= 0,
/// clk_tck == 0 or the counter went backwards.
[[nodiscard]] double cpu_percent(std::uint64_t prev_ticks, std::uint64_t ticks, std::chrono::nanoseconds elapsed,
                                 long clk_tck) noexcept;

}  // namespace siax::procscan
