#pragma once
/// A /proc tree in a temporary directory, for ProcScanner tests: <root>/stat (btime),
/// <root>/net/tcp{,6}, and per pid stat, status, statm, cmdline, cgroup, exe/cwd links and
/// fd/N links ("socket:[inode]"). Removed on destruction. Single-threaded, test use only.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace siax::procscan::testing {

#ifndef SIAX_PROCSCAN_FIXTURES_DIR
#error "SIAX_PROCSCAN_FIXTURES_DIR must point at tests/unit/procscan/fixtures"
#endif

inline std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(SIAX_PROCSCAN_FIXTURES_DIR) + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct FakeProcess {
  int pid = 0;
  std::string comm = "app";
  char state = 'S';
  int ppid = 1;
  std::uint64_t flags = 0x00400100;  // PF_FORKNOEXEC | PF_RANDOMIZE-ish, not a kernel thread
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  std::uint64_t starttime = 1000;     ///< ticks after boot
  std::uint32_t uid = 1000;
  std::optional<std::uint64_t> vmrss_kb = 2048;  ///< nullopt: no VmRSS line (kernel thread, zombie)
  std::uint64_t statm_resident_pages = 512;
  std::vector<std::string> cmdline = {"app"};
  std::optional<std::string> exe;  ///< link target; nullopt: no link (kernel thread, EACCES)
  std::optional<std::string> cwd;
  std::string cgroup = "0::/user.slice\n";
  std::vector<std::uint64_t> socket_inodes;  ///< fd/3, fd/4, ... -> socket:[inode]
};

class FakeProc {
 public:
  explicit FakeProc(std::int64_t btime = 1700000000) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "siax-fakeproc-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    write(root_ / "stat", fmt::format("cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\nctxt 42\nbtime {}\nprocesses 99\n", btime));
    std::filesystem::create_directories(root_ / "net");
  }
  ~FakeProc() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  [[nodiscard]] std::filesystem::path dir(int pid) const { return root_ / std::to_string(pid); }

  void set_net_tcp(const std::string& content) { write(root_ / "net" / "tcp", content); }
  void set_net_tcp6(const std::string& content) { write(root_ / "net" / "tcp6", content); }

  /// A full stat line as the kernel writes it (52 fields).
  static std::string stat_line(const FakeProcess& p) {
    return fmt::format(
        "{} ({}) {} {} {} {} 0 -1 {} 100 0 0 0 {} {} 0 0 20 0 1 0 {} 123456789 {} 18446744073709551615 1 1 0 0 0 0 0 "
        "4096 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        p.pid, p.comm, p.state, p.ppid, p.pid, p.pid, p.flags, p.utime, p.stime, p.starttime, p.statm_resident_pages);
  }

  void add(const FakeProcess& p) {
    auto d = dir(p.pid);
    std::filesystem::create_directories(d / "fd");
    write(d / "stat", stat_line(p));
    std::string status = fmt::format("Name:\t{}\nUmask:\t0022\nState:\t{} (sleeping)\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\n"
                                      "Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\n",
                                      p.comm.substr(0, 15), p.state, p.pid, p.pid, p.ppid, p.uid, p.uid, p.uid, p.uid,
                                      p.uid, p.uid, p.uid, p.uid);
    if (p.vmrss_kb) status += fmt::format("VmPeak:\t  999999 kB\nVmRSS:\t{:8} kB\nRssAnon:\t     100 kB\n", *p.vmrss_kb);
    status += "Threads:\t1\n";
    write(d / "status", status);
    write(d / "statm", fmt::format("1000 {} 100 5 0 200 0\n", p.statm_resident_pages));
    std::string cmdline;
    for (const auto& arg : p.cmdline) {
      cmdline += arg;
      cmdline.push_back('\0');
    }
    write(d / "cmdline", cmdline);
    write(d / "cgroup", p.cgroup);
    if (p.exe) std::filesystem::create_symlink(*p.exe, d / "exe");
    if (p.cwd) std::filesystem::create_symlink(*p.cwd, d / "cwd");
    std::filesystem::create_symlink("/dev/null", d / "fd" / "0");
    std::filesystem::create_symlink("pipe:[777]", d / "fd" / "1");
    int fd = 3;
    for (auto inode : p.socket_inodes) {
      std::filesystem::create_symlink(fmt::format("socket:[{}]", inode), d / "fd" / std::to_string(fd++));
    }
  }

  /// Rewrites one file of a pid, e.g. to advance its ticks between scans.
  void write_file(int pid, const std::string& name, const std::string& content) { write(dir(pid) / name, content); }
  void remove_file(int pid, const std::string& name) { std::filesystem::remove(dir(pid) / name); }
  void remove_process(int pid) { std::filesystem::remove_all(dir(pid)); }

 private:
  static void write(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }

  std::filesystem::path root_;
};

}  // namespace siax::procscan::testing
