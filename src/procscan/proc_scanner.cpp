#include "procscan/proc_scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include "core/app_definition.h"
#include "procscan/listen_sockets.h"
#include "procscan/proc_files.h"
#include "procscan/proc_parsers.h"

namespace siax::procscan {
namespace {

using namespace detail;  // proc_files.h

std::int64_t ticks_to_usec(std::uint64_t ticks, long clk_tck) {
  auto clk = static_cast<std::uint64_t>(clk_tck);
  return static_cast<std::int64_t>((ticks / clk) * 1'000'000ULL + (ticks % clk) * 1'000'000ULL / clk);
}

auto proc_unreadable(const std::string& what, int err) {
  return fail(ErrorKind::Unavailable, "proc_unreadable",
              fmt::format("cannot read {}: {}; check that procfs is mounted there and readable by the agent",
                          what, std::strerror(err)),
              {{"path", what}});
}

enum class Outcome { Ok, Vanished, Unreadable, Malformed };

struct ProcessRead {
  Outcome outcome = Outcome::Ok;
  core::ProcessInfo info;
  std::uint64_t starttime = 0;
};

/// The TCP ports in LISTEN that a process holds (its fd links matched against `listening`),
/// sorted and unique. Empty when its fds cannot be read (EACCES for other users'
/// processes unless the agent has CAP_SYS_PTRACE).
std::vector<std::uint16_t> read_ports(int pid_fd, const ListenMap& listening,
                                      std::size_t max_fds) {
  std::vector<std::uint16_t> ports;
  if (listening.empty()) return ports;
  UniqueFd fd_dir_fd(::openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueDir fd_dir(fd_dir_fd ? ::fdopendir(fd_dir_fd.get()) : nullptr);
  if (!fd_dir) return ports;
  (void)fd_dir_fd.release();  // owned by fd_dir now
  const int fds = ::dirfd(fd_dir.get());
  std::size_t seen = 0;
  while (dirent* e = ::readdir(fd_dir.get())) {
    if (e->d_name[0] == '.') continue;
    if (++seen > max_fds) break;
    std::array<char, 64> target{};
    ssize_t n = ::readlinkat(fds, e->d_name, target.data(), target.size());
    if (n <= 0) continue;
    auto inode = parse_socket_link(std::string_view(target.data(), static_cast<std::size_t>(n)));
    if (!inode) continue;
    if (auto it = listening.find(*inode); it != listening.end()) ports.push_back(it->second);
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

/// Reads one process in full (stat, status, cmdline, exe, cwd, cgroup, fd links).
ProcessRead read_process(int root_fd, const std::string& pid_name, std::int64_t btime,
                         const ListenMap& listening,
                         const ProcScannerOptions& options) {
  ProcessRead r;
  auto fail_with = [&](int err) {
    r.outcome = is_gone(err) ? Outcome::Vanished : Outcome::Unreadable;
    return r;
  };
  // All reads go through this directory fd: if the pid dies and is reused meanwhile,
  // reads fail (ESRCH) instead of mixing two processes.
  UniqueFd pid_fd(::openat(root_fd, pid_name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pid_fd) return fail_with(errno);

  auto stat = read_at(pid_fd.get(), "stat", 4096, Ends::AtShortRead);
  if (stat.error != 0) return fail_with(stat.error);
  auto fields = parse_stat_line(stat.content);
  if (!fields) {
    // An exiting process can yield an empty read; anything else is a kernel we do not know.
    r.outcome = stat.content.empty() ? Outcome::Vanished : Outcome::Malformed;
    return r;
  }
  auto status = read_at(pid_fd.get(), "status", 64 * 1024, Ends::AtShortRead);
  if (status.error != 0) return fail_with(status.error);
  auto status_fields = parse_status(status.content);

  core::ProcessInfo& p = r.info;
  p.pid = fields->pid;
  p.ppid = fields->ppid;
  p.comm = std::move(fields->comm);
  p.state = fields->state;
  p.cpu_ticks = fields->utime + fields->stime;
  p.kernel_thread = (fields->flags & kPfKthread) != 0 || fields->ppid == 2;
  p.start_time_usec = btime * 1'000'000 + ticks_to_usec(fields->starttime, options.clk_tck);
  r.starttime = fields->starttime;

  if (status_fields.uid) {
    p.uid = *status_fields.uid;
  } else {
    struct stat st {};
    if (::fstat(pid_fd.get(), &st) == 0) p.uid = st.st_uid;
  }

  if (status_fields.rss_kb) {
    p.rss_bytes = *status_fields.rss_kb * 1024;
  } else if (auto statm = read_at(pid_fd.get(), "statm", 1024, Ends::AtShortRead); statm.error == 0) {
    p.rss_bytes = parse_statm_resident(statm.content).value_or(0) * static_cast<std::uint64_t>(options.page_size);
  } else if (statm.error == ESRCH) {
    return fail_with(statm.error);
  }

  if (!p.kernel_thread) {
    auto cmdline = read_at(pid_fd.get(), "cmdline", options.max_cmdline_bytes);
    if (is_gone(cmdline.error)) return fail_with(cmdline.error);
    p.cmdline = split_cmdline(cmdline.content);
    p.exe = readlink_at(pid_fd.get(), "exe");
    p.cwd = readlink_at(pid_fd.get(), "cwd");
  }

  auto cgroup = read_at(pid_fd.get(), "cgroup", 64 * 1024, Ends::AtShortRead);
  if (cgroup.error == ESRCH) return fail_with(cgroup.error);
  auto cg = parse_cgroup_unit(cgroup.content);
  p.cgroup = std::move(cg.cgroup);
  p.unit = std::move(cg.unit);

  if (!p.kernel_thread) p.listen_ports = read_ports(pid_fd.get(), listening, options.max_fds_per_process);

  p.kind = p.kernel_thread ? core::ProcessKind::Other : classify(p.exe, p.cmdline);
  p.user = options.user_name(p.uid);
  return r;
}

/// The boot time from <root>/stat ("btime"), which start times are relative to.
Result<std::int64_t> read_btime(const std::string& root, int root_fd) {
  auto proc_stat = read_at(root_fd, "stat", 1 << 20);
  if (proc_stat.error != 0) return proc_unreadable(root + "/stat", proc_stat.error);
  auto btime = parse_btime(proc_stat.content);
  if (!btime) {
    return fail(ErrorKind::Unavailable, "proc_unreadable",
                fmt::format("{}/stat has no 'btime' line; is a procfs mounted at {}?", root, root),
                {{"path", root + "/stat"}});
  }
  return *btime;
}

/// The pid directories under the root, sorted (at most `max`; `truncated` when more).
std::vector<int> list_pids(DIR* dir, std::size_t max, bool& truncated) {
  std::vector<int> pids;
  while (dirent* entry = ::readdir(dir)) {
    if (!is_pid_name(entry->d_name)) continue;
    if (pids.size() >= max) {
      truncated = true;
      break;
    }
    pids.push_back(std::atoi(entry->d_name));
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace

std::optional<ProcScanner::FullRead> ProcScanner::read_full(int root_fd, int pid, std::int64_t btime,
                                                            const ListenMap& listening) {
  ProcessRead r = read_process(root_fd, std::to_string(pid), btime, listening, options_);
  switch (r.outcome) {
    case Outcome::Vanished: ++stats_.vanished; return std::nullopt;
    case Outcome::Unreadable: ++stats_.unreadable; return std::nullopt;
    case Outcome::Malformed: ++stats_.malformed; return std::nullopt;
    case Outcome::Ok: break;
  }
  ++stats_.full_reads;
  return FullRead{std::move(r.info), r.starttime};
}

ProcScanner::ProcScanner(ProcScannerOptions options) : options_(std::move(options)) {
  if (options_.clk_tck <= 0) options_.clk_tck = ::sysconf(_SC_CLK_TCK);
  if (options_.clk_tck <= 0) options_.clk_tck = 100;
  if (options_.page_size <= 0) options_.page_size = ::sysconf(_SC_PAGESIZE);
  if (options_.page_size <= 0) options_.page_size = 4096;
  if (!options_.user_name) options_.user_name = make_passwd_user_resolver();
}

Result<std::vector<core::ProcessInfo>> ProcScanner::scan(std::chrono::steady_clock::time_point now) {
  if (options_.incremental) return scan_incremental(now);
  return scan_impl(now, nullptr);
}

Result<std::vector<core::ProcessInfo>> ProcScanner::read_pids(const std::vector<int>& pids,
                                                              std::chrono::steady_clock::time_point now) {
  auto r = scan_impl(now, &pids);
  if (r && options_.incremental) remember(*r, now, false);
  return r;
}

Result<std::vector<core::ProcessInfo>> ProcScanner::full_scan(std::chrono::steady_clock::time_point now) {
  auto r = scan_impl(now, nullptr);
  if (r && options_.incremental) remember(*r, now, true);
  return r;
}

void ProcScanner::set_hot_pids(std::vector<int> pids) {
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  if (pids.size() > options_.max_processes) pids.resize(options_.max_processes);
  hot_pids_ = std::move(pids);
}

bool ProcScanner::is_hot(const core::ProcessInfo& p) const {
  if (p.kernel_thread) return false;
  if (p.unit.starts_with(core::kUnitPrefix)) return true;
  return std::binary_search(hot_pids_.begin(), hot_pids_.end(), p.pid);
}

void ProcScanner::remember(std::vector<core::ProcessInfo>& processes, std::chrono::steady_clock::time_point now,
                           bool complete) {
  std::unordered_map<int, Known> next;
  if (!complete) next = std::move(known_);
  for (auto& p : processes) {
    const auto sample = last_samples_.find(p.pid);
    if (sample == last_samples_.end()) continue;
    const std::uint64_t start = sample->second.starttime;
    p.cpu_percent = 0.0;
    bool young = true;
    const auto* before = complete ? (known_.count(p.pid) ? &known_.at(p.pid) : nullptr)
                                  : (next.count(p.pid) ? &next.at(p.pid) : nullptr);
    if (before != nullptr && before->starttime == start) {
      young = false;
      p.cpu_percent = cpu_percent(before->info.cpu_ticks, p.cpu_ticks,
                                  std::chrono::duration_cast<std::chrono::nanoseconds>(now - before->sampled_at),
                                  options_.clk_tck);
    }
    Known k{p, start, now, young, 0};
    next[p.pid] = std::move(k);
  }
  known_ = std::move(next);
  if (complete) {
    cache_complete_ = true;
    scans_since_full_ = 0;
  }
}

Result<std::vector<core::ProcessInfo>> ProcScanner::scan_incremental(std::chrono::steady_clock::time_point now) {
  if (!cache_complete_ || ++scans_since_full_ >= std::max(1, options_.full_every)) return full_scan(now);
  stats_ = ScanStats{};
  const std::string& root = options_.proc_root;
  UniqueDir dir(::opendir(root.c_str()));
  if (!dir) return proc_unreadable(root, errno);
  const int root_fd = ::dirfd(dir.get());
  if (!btime_) {
    auto btime = read_btime(root, root_fd);
    if (!btime) return tl::unexpected(btime.error());
    btime_ = *btime;
  }
  // The listening sockets: when they are the ones of the last scan, nobody's ports moved
  // (a socket that is opened, closed, or passed on changes the set or is a new process).
  const ListenMap listening = listen_sockets(root, root_fd);
  stats_.listen_sockets = listening.size();
  std::vector<std::pair<std::uint64_t, std::uint16_t>> listen_now(listening.begin(), listening.end());
  std::sort(listen_now.begin(), listen_now.end());
  const bool ports_moved = listen_now != listen_seen_;
  listen_seen_ = std::move(listen_now);
  const std::vector<int> pids = list_pids(dir.get(), options_.max_processes, stats_.truncated);
  stats_.listed = pids.size();

  // The cache is updated in place: the processes met in this scan are stamped with its
  // serial, the others (gone, or beyond max_processes) are dropped at the end.
  const std::uint64_t serial = ++scan_serial_;
  std::vector<core::ProcessInfo> processes;
  processes.reserve(pids.size());
  for (int pid : pids) {
    auto it = known_.find(pid);
    const bool known = it != known_.end() && !it->second.young;
    if (known && (is_hot(it->second.info) || ports_moved)) {
      const StatRefresh r = refresh_from_stat(root_fd, it->second, now, ports_moved ? &listening : nullptr);
      if (r == StatRefresh::Gone) continue;
      if (r == StatRefresh::Refreshed) {
        it->second.seen = serial;
        processes.push_back(it->second.info);
        continue;
      }
      // StatRefresh::Changed: another process under the same pid, or it ran exec: read it again
    } else if (known) {
      ++stats_.kept;
      it->second.seen = serial;
      it->second.info.cpu_percent = 0.0;  // not measured: only hot processes are
      processes.push_back(it->second.info);
      continue;
    }
    auto r = read_full(root_fd, pid, *btime_, listening);
    if (!r) continue;
    bool young = true;
    if (it != known_.end() && it->second.starttime == r->starttime) {
      young = false;  // its second full read: settled
      r->info.cpu_percent = cpu_percent(it->second.info.cpu_ticks, r->info.cpu_ticks,
                                        std::chrono::duration_cast<std::chrono::nanoseconds>(now - it->second.sampled_at),
                                        options_.clk_tck);
    }
    processes.push_back(r->info);
    Known k{std::move(r->info), r->starttime, now, young, serial};
    if (it != known_.end()) {
      it->second = std::move(k);
    } else {
      known_.emplace(pid, std::move(k));
    }
  }
  std::erase_if(known_, [serial](const auto& entry) { return entry.second.seen != serial; });
  stats_.reported = processes.size();
  return processes;
}

ProcScanner::StatRefresh ProcScanner::refresh_from_stat(int root_fd, Known& k, std::chrono::steady_clock::time_point now,
                                                        const ListenMap* listening) {
  const bool read_fds = listening != nullptr && !k.info.kernel_thread;
  // "<pid>" or "<pid>/stat": 20 digits at most, then "/stat" and the NUL.
  std::array<char, 32> path{};
  char* const end = std::to_chars(path.data(), path.data() + 20, k.info.pid).ptr;
  UniqueFd pid_fd;  // only to read the fd links: they and the stat line then come from one process
  UniqueFd stat_fd;
  if (read_fds) {
    pid_fd = UniqueFd(::openat(root_fd, path.data(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (pid_fd) stat_fd = UniqueFd(::openat(pid_fd.get(), "stat", O_RDONLY | O_CLOEXEC | O_NOCTTY));
  } else {
    // The stat line straight from the root: one open, one read, one close. A pid reused
    // since the last scan is told by the start time in the line itself.
    std::memcpy(end, "/stat", sizeof("/stat"));
    stat_fd = UniqueFd(::openat(root_fd, path.data(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  }
  if (!stat_fd) {
    ++(is_gone(errno) ? stats_.vanished : stats_.unreadable);
    return StatRefresh::Gone;
  }
  // The kernel writes the whole line at the first read (a seq_file), a few hundred bytes.
  std::array<char, 4096> buf;  // NOLINT: filled by read()
  ssize_t n = 0;
  do {
    n = ::read(stat_fd.get(), buf.data(), buf.size());
  } while (n < 0 && errno == EINTR);
  std::optional<StatFields> fields;
  if (n > 0) {
    if (auto f = parse_stat_line(std::string_view(buf.data(), static_cast<std::size_t>(n)))) fields = std::move(*f);
  }
  if (!fields) {
    ++stats_.vanished;
    return StatRefresh::Gone;
  }
  if (fields->starttime != k.starttime || fields->comm != k.info.comm) return StatRefresh::Changed;
  ++stats_.stat_reads;
  core::ProcessInfo& p = k.info;
  const std::uint64_t ticks = fields->utime + fields->stime;
  p.cpu_percent = cpu_percent(p.cpu_ticks, ticks, std::chrono::duration_cast<std::chrono::nanoseconds>(now - k.sampled_at),
                              options_.clk_tck);
  p.cpu_ticks = ticks;
  k.sampled_at = now;
  p.state = fields->state;
  p.ppid = fields->ppid;
  p.rss_bytes = fields->rss_pages * static_cast<std::uint64_t>(options_.page_size);
  if (listening != nullptr && !p.kernel_thread) {
    p.listen_ports = read_ports(pid_fd.get(), *listening, options_.max_fds_per_process);
  }
  return StatRefresh::Refreshed;
}

Result<std::vector<core::ProcessInfo>> ProcScanner::scan_impl(std::chrono::steady_clock::time_point now,
                                                              const std::vector<int>* only) {
  stats_ = ScanStats{};
  const std::string& root = options_.proc_root;

  UniqueDir dir(::opendir(root.c_str()));
  if (!dir) return proc_unreadable(root, errno);
  const int root_fd = ::dirfd(dir.get());

  auto btime = read_btime(root, root_fd);
  if (!btime) return tl::unexpected(btime.error());
  // Socket inode -> port of every TCP socket in LISTEN, read once per scan.
  const ListenMap listening = listen_sockets(root, root_fd);
  stats_.listen_sockets = listening.size();
  std::vector<int> pids;
  if (only != nullptr) {
    for (int pid : *only) {
      if (pid > 0 && pids.size() < options_.max_processes) pids.push_back(pid);
    }
  } else {
    pids = list_pids(dir.get(), options_.max_processes, stats_.truncated);
  }
  stats_.listed = pids.size();

  std::vector<core::ProcessInfo> processes;
  processes.reserve(pids.size());
  std::unordered_map<int, Sample> current;
  current.reserve(pids.size());
  const auto elapsed = previous_time_ ? now - *previous_time_ : std::chrono::steady_clock::duration::zero();
  for (int pid : pids) {
    auto r = read_full(root_fd, pid, *btime, listening);
    if (!r) continue;
    core::ProcessInfo& p = r->info;
    // Same pid AND same start time: a pid reused by a new process starts from zero.
    if (auto it = previous_.find(p.pid); it != previous_.end() && it->second.starttime == r->starttime) {
      p.cpu_percent = cpu_percent(it->second.ticks, p.cpu_ticks,
                                  std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed), options_.clk_tck);
    }
    current[p.pid] = Sample{r->starttime, p.cpu_ticks};
    processes.push_back(std::move(p));
  }

  std::sort(processes.begin(), processes.end(),
            [](const core::ProcessInfo& a, const core::ProcessInfo& b) { return a.pid < b.pid; });
  stats_.reported = processes.size();
  if (only != nullptr || options_.incremental) {
    // A partial read: the full scans keep the CPU baseline (the incremental cache keeps
    // its own, per process).
    last_samples_ = std::move(current);
    return processes;
  }
  previous_ = std::move(current);
  previous_time_ = now;
  stats_.reported = processes.size();
  return processes;
}

}  // namespace siax::procscan
