#pragma once
/// The /proc process scanner: the adapter that turns a proc root (the real "/proc", or a
/// directory tree a test builds) into `core::ProcessInfo` values.
///
/// Threading: a `ProcScanner` is NOT thread-safe. One scanner is used by one thread at a
/// time (it keeps the previous scan's CPU ticks); scans do blocking file I/O, so run them
/// on a worker or the monitor's thread, never on the io thread. The default user-name
/// resolver is thread-safe and may be shared.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "core/process_info.h"

namespace siax::procscan {

/// uid -> user name ("" when the uid has no name). Must not throw.
using UserNameResolver = std::function<std::string(std::uint32_t)>;

/// getpwuid_r behind a cache of at most `max_entries` uids (emptied when full; unknown
/// uids are cached as ""). Thread-safe (a mutex).
[[nodiscard]] UserNameResolver make_passwd_user_resolver(std::size_t max_entries = 1024);

/// The port the monitor depends on: "give me the process table now". Implemented by
/// ProcScanner; tests of the monitor use a fake.
class ProcessSource {
 public:
  virtual ~ProcessSource() = default;
  /// A snapshot of the processes, sorted by pid. `now` is the monotonic time of the scan
  /// (CPU % is computed over the time since the previous call). Errors: Unavailable when
  /// the proc root cannot be read.
  [[nodiscard]] virtual Result<std::vector<core::ProcessInfo>> scan(std::chrono::steady_clock::time_point now) = 0;
  /// Only the processes with these pids (those that exist), sorted by pid: what the
  /// monitor reads when one unit changed, instead of the whole table. CPU % is over the
  /// time since the last full scan. The default filters a full scan.
  [[nodiscard]] virtual Result<std::vector<core::ProcessInfo>> read_pids(const std::vector<int>& pids,
                                                                         std::chrono::steady_clock::time_point now) {
    auto all = scan(now);
    if (!all) return all;
    std::vector<core::ProcessInfo> out;
    for (auto& p : *all) {
      for (int pid : pids) {
        if (p.pid == pid) {
          out.push_back(std::move(p));
          break;
        }
      }
    }
    return out;
  }
  /// A walk of every process, read in full whatever scan() does (for GET /api/scan).
  /// The default is scan().
  [[nodiscard]] virtual Result<std::vector<core::ProcessInfo>> full_scan(std::chrono::steady_clock::time_point now) {
    return scan(now);
  }
  /// Processes outside our units whose figures the caller wants fresh at every scan (the
  /// strays and monitored processes it tracks). Replaces the previous set. Default: ignored.
  virtual void set_hot_pids(std::vector<int> pids) { (void)pids; }
};

struct ProcScannerOptions {
  std::string proc_root = "/proc";
  std::size_t max_processes = 32768;        ///< per scan; the rest is left out (stats().truncated)
  std::size_t max_fds_per_process = 16384;  ///< fd links examined per process for listening sockets
  std::size_t max_cmdline_bytes = 64 * 1024;  ///< longer command lines are cut
  long clk_tck = 0;                         ///< ticks per second; 0 = sysconf(_SC_CLK_TCK)
  long page_size = 0;                       ///< bytes; 0 = sysconf(_SC_PAGESIZE)
  UserNameResolver user_name;               ///< empty = make_passwd_user_resolver()
  /// scan() remembers processes by (pid, start time) and reads in full only the new ones
  /// (see ProcScanner). false: every scan reads every process in full.
  bool incremental = false;
  /// With `incremental`: every this many scans, one reads every process in full (a safety
  /// net for what a known process may change without a new pid: exec, chdir, cgroup).
  /// 60 scans: 5 min at the default 5 s (it was 12: a full walk each minute was a tenth of
  /// the idle agent's CPU with 200 apps).
  int full_every = 60;
};

/// What the last scan met, for metrics and logs.
struct ScanStats {
  std::size_t listed = 0;      ///< pid directories read (at most max_processes)
  std::size_t reported = 0;    ///< processes returned
  std::size_t vanished = 0;    ///< gone between listing and reading (normal)
  std::size_t unreadable = 0;  ///< hidden from us (hidepid, EACCES)
  std::size_t malformed = 0;   ///< a stat line that did not parse
  std::size_t listen_sockets = 0;  ///< LISTEN entries in net/tcp + net/tcp6
  bool truncated = false;      ///< more than max_processes pids existed
  std::size_t full_reads = 0;  ///< processes read in full (all of them without `incremental`)
  std::size_t stat_reads = 0;  ///< known processes whose stat line alone was read
  std::size_t kept = 0;        ///< known processes not read at all (cold)
};

/// With options.incremental, scan() keeps every process it has read, keyed by pid and
/// start time, and per scan: lists the pid directories; reads in full only the pids it
/// has not seen (and each of them once more at the next scan, in case it was caught
/// between fork and exec); reads only the stat line of the known processes that are hot
/// (in one of our units, "siax-app-*", or named by set_hot_pids): state, CPU ticks, RSS
/// (one open of "<root>/<pid>/stat", one read, one close; through the pid directory only
/// when its fd links are read too), and re-reads one in full when its start time or name
/// changed (pid reused, exec);
/// keeps the others as they were (cpu_percent 0); re-reads every process's sockets when
/// the set of listening sockets changed; and reads everything in full every full_every
/// scans. full_scan() always reads everything.
class ProcScanner final : public ProcessSource {
 public:
  explicit ProcScanner(ProcScannerOptions options = {});

  /// Reads every pid directory under the root (at most max_processes), skipping silently
  /// the ones that vanish while being read. Fills every field of ProcessInfo; exe/cwd are
  /// "" and listen_ports empty where the agent lacks the right to read them.
  /// Errors: Unavailable "proc_unreadable" when the root or <root>/stat cannot be read.
  [[nodiscard]] Result<std::vector<core::ProcessInfo>> scan(std::chrono::steady_clock::time_point now) override;
  /// Reads only these pids (no directory listing); keeps the last full scan's CPU ticks.
  [[nodiscard]] Result<std::vector<core::ProcessInfo>> read_pids(const std::vector<int>& pids,
                                                                 std::chrono::steady_clock::time_point now) override;
  /// Every process read in full (and, when incremental, the cache refreshed with them).
  [[nodiscard]] Result<std::vector<core::ProcessInfo>> full_scan(std::chrono::steady_clock::time_point now) override;
  void set_hot_pids(std::vector<int> pids) override;

  [[nodiscard]] const ScanStats& last_stats() const noexcept { return stats_; }

 private:
  struct Sample {
    std::uint64_t starttime = 0;  ///< identifies the process together with the pid
    std::uint64_t ticks = 0;
  };

  /// A process as the incremental scan remembers it.
  struct Known {
    core::ProcessInfo info;
    std::uint64_t starttime = 0;
    std::chrono::steady_clock::time_point sampled_at{};  ///< when info.cpu_ticks was read
    bool young = true;  ///< seen once: read in full again at the next scan (it may have been mid fork/exec)
    std::uint64_t seen = 0;  ///< the serial of the last incremental scan that met it
  };

  [[nodiscard]] Result<std::vector<core::ProcessInfo>> scan_impl(std::chrono::steady_clock::time_point now,
                                                                 const std::vector<int>* only);
  [[nodiscard]] Result<std::vector<core::ProcessInfo>> scan_incremental(std::chrono::steady_clock::time_point now);
  /// One process read in full, counted in stats_ (nullopt when it vanished or was unreadable).
  struct FullRead {
    core::ProcessInfo info;
    std::uint64_t starttime = 0;
  };
  [[nodiscard]] std::optional<FullRead> read_full(int root_fd, int pid, std::int64_t btime,
                                                  const std::unordered_map<std::uint64_t, std::uint16_t>& listening);
  enum class StatRefresh { Refreshed, Changed, Gone };
  /// A known process's figures from its stat line alone (and its ports when `listening` is
  /// given); Changed when it is another process now (start time or name moved).
  [[nodiscard]] StatRefresh refresh_from_stat(int root_fd, Known& k, std::chrono::steady_clock::time_point now,
                                              const std::unordered_map<std::uint64_t, std::uint16_t>* listening);
  /// Whether a known process is read at every scan: in one of our units, or named hot.
  [[nodiscard]] bool is_hot(const core::ProcessInfo& p) const;
  /// Puts a full read's results (scan_impl's, with its start times in last_samples_) into
  /// the cache, and sets their CPU % from the cache's previous sample of each.
  void remember(std::vector<core::ProcessInfo>& processes, std::chrono::steady_clock::time_point now, bool complete);

  ProcScannerOptions options_;
  ScanStats stats_;
  /// The previous scan's ticks, only for the processes it saw (bounded by max_processes).
  std::unordered_map<int, Sample> previous_;
  std::optional<std::chrono::steady_clock::time_point> previous_time_;
  std::unordered_map<int, Sample> last_samples_;  ///< scan_impl's last result's start times and ticks

  // --- incremental mode ---
  std::unordered_map<int, Known> known_;
  std::vector<int> hot_pids_;  ///< sorted
  std::vector<std::pair<std::uint64_t, std::uint16_t>> listen_seen_;  ///< sorted: the last scan's LISTEN sockets
  std::optional<std::int64_t> btime_;
  int scans_since_full_ = 0;
  std::uint64_t scan_serial_ = 0;  ///< incremental scans so far (Known::seen)
  bool cache_complete_ = false;  ///< known_ holds a full walk (else the next scan is one)
};

}  // namespace siax::procscan
