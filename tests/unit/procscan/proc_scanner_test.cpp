#include "procscan/proc_scanner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <gtest/gtest.h>

#include "fake_proc.h"
#include "procscan/proc_parsers.h"

namespace siax::procscan {
namespace {

using namespace std::chrono_literals;
using core::ProcessInfo;
using core::ProcessKind;
using testing::FakeProc;
using testing::FakeProcess;

constexpr std::int64_t kBtime = 1'700'000'000;  // 2023-11-14T22:13:20Z

std::string fake_user(std::uint32_t uid) {
  switch (uid) {
    case 0: return "root";
    case 998: return "siaxapp";
    default: return "";
  }
}

ProcScannerOptions options_for(const FakeProc& proc) {
  ProcScannerOptions o;
  o.proc_root = proc.root().string();
  o.clk_tck = 100;
  o.page_size = 4096;
  o.user_name = fake_user;
  return o;
}

const ProcessInfo* find(const std::vector<ProcessInfo>& ps, int pid) {
  auto it = std::find_if(ps.begin(), ps.end(), [&](const ProcessInfo& p) { return p.pid == pid; });
  return it == ps.end() ? nullptr : &*it;
}

std::vector<int> pids(const std::vector<ProcessInfo>& ps) {
  std::vector<int> out;
  for (const auto& p : ps) out.push_back(p.pid);
  return out;
}

const auto t0 = std::chrono::steady_clock::time_point(1000h);

FakeProcess node_app() {
  FakeProcess p;
  p.pid = 4321;
  p.comm = "node";
  p.ppid = 1;
  p.uid = 998;
  p.utime = 700;
  p.stime = 300;
  p.starttime = 250;  // 2.5 s after boot
  p.vmrss_kb = 51200;
  p.cmdline = {"node", "/srv/orders/server.js"};
  p.exe = "/usr/bin/node";
  p.cwd = "/srv/orders";
  p.cgroup = "0::/system.slice/siax-app-orders.service\n";
  p.socket_inodes = {12345, 476363, 476361};  // LISTEN v4 :8000, ESTABLISHED v4, LISTEN v6 :59301
  return p;
}

class ProcScannerTest : public ::testing::Test {
 protected:
  ProcScannerTest() : proc(kBtime) {
    proc.set_net_tcp(testing::read_fixture("net_tcp"));
    proc.set_net_tcp6(testing::read_fixture("net_tcp6"));
  }
  FakeProc proc;
};

TEST_F(ProcScannerTest, FillsEveryField) {
  proc.add(node_app());
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value()) << ps.error().message;
  ASSERT_EQ(ps->size(), 1u);
  ProcessInfo expected;
  expected.pid = 4321;
  expected.ppid = 1;
  expected.uid = 998;
  expected.user = "siaxapp";
  expected.comm = "node";
  expected.cmdline = {"node", "/srv/orders/server.js"};
  expected.exe = "/usr/bin/node";
  expected.cwd = "/srv/orders";
  expected.state = 'S';
  expected.start_time_usec = kBtime * 1'000'000 + 2'500'000;
  expected.cpu_ticks = 1000;
  expected.cpu_percent = 0.0;  // first sight
  expected.rss_bytes = 51200ull * 1024;
  expected.unit = "siax-app-orders.service";
  expected.cgroup = "/system.slice/siax-app-orders.service";
  expected.listen_ports = {8000, 59301};
  expected.kind = ProcessKind::Node;
  expected.kernel_thread = false;
  EXPECT_EQ(ps->front(), expected);
  EXPECT_EQ(scanner.last_stats().reported, 1u);
  EXPECT_EQ(scanner.last_stats().listen_sockets, 5u);
}

TEST_F(ProcScannerTest, OddNames) {
  int pid = 100;
  for (std::string name : {"my (weird) app", "a b", "x)y"}) {
    FakeProcess p;
    p.pid = pid++;
    p.comm = name;
    p.utime = 5;
    proc.add(p);
  }
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  ASSERT_EQ(pids(*ps), (std::vector<int>{100, 101, 102}));
  EXPECT_EQ((*ps)[0].comm, "my (weird) app");
  EXPECT_EQ((*ps)[1].comm, "a b");
  EXPECT_EQ((*ps)[2].comm, "x)y");
  for (const auto& p : *ps) {
    EXPECT_EQ(p.state, 'S');
    EXPECT_EQ(p.cpu_ticks, 5u);
  }
}

TEST_F(ProcScannerTest, VanishedProcessesAreSkippedSilently) {
  proc.add(node_app());
  FakeProcess no_status;
  no_status.pid = 500;
  proc.add(no_status);
  proc.remove_file(500, "status");
  std::filesystem::create_directories(proc.dir(501));  // listed, then gone: no files at all
  FakeProcess ok;
  ok.pid = 502;
  proc.add(ok);

  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value()) << ps.error().message;
  EXPECT_EQ(pids(*ps), (std::vector<int>{502, 4321}));
  EXPECT_EQ(scanner.last_stats().vanished, 2u);
  EXPECT_EQ(scanner.last_stats().listed, 4u);
}

TEST_F(ProcScannerTest, MalformedStatIsSkippedAndCounted) {
  FakeProcess p;
  p.pid = 600;
  proc.add(p);
  proc.write_file(600, "stat", "600 (broken\n");
  FakeProcess ok;
  ok.pid = 601;
  proc.add(ok);
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(pids(*ps), (std::vector<int>{601}));
  EXPECT_EQ(scanner.last_stats().malformed, 1u);
}

TEST_F(ProcScannerTest, KernelThreads) {
  FakeProcess kthreadd;
  kthreadd.pid = 2;
  kthreadd.ppid = 0;
  kthreadd.comm = "kthreadd";
  kthreadd.flags = 2129984;  // captured: has PF_KTHREAD
  kthreadd.uid = 0;
  kthreadd.vmrss_kb = std::nullopt;
  kthreadd.statm_resident_pages = 0;
  kthreadd.cmdline = {};
  kthreadd.cgroup = "0::/\n";
  proc.add(kthreadd);
  FakeProcess worker = kthreadd;  // no PF_KTHREAD in this fixture, but a child of kthreadd
  worker.pid = 30;
  worker.ppid = 2;
  worker.flags = 0x04208060 & ~kPfKthread;
  worker.comm = "kworker/0:1-events";
  proc.add(worker);

  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  ASSERT_EQ(ps->size(), 2u);
  for (const auto& p : *ps) {
    EXPECT_TRUE(p.kernel_thread) << p.comm;
    EXPECT_TRUE(p.cmdline.empty());
    EXPECT_EQ(p.exe, "");
    EXPECT_EQ(p.rss_bytes, 0u);
    EXPECT_EQ(p.user, "root");
    EXPECT_EQ(p.kind, ProcessKind::Other);
    EXPECT_EQ(p.unit, "");
  }
}

TEST_F(ProcScannerTest, Zombie) {
  FakeProcess z;
  z.pid = 700;
  z.state = 'Z';
  z.comm = "node";
  z.vmrss_kb = std::nullopt;
  z.statm_resident_pages = 0;
  z.cmdline = {};
  proc.add(z);
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  ASSERT_EQ(ps->size(), 1u);
  EXPECT_EQ(ps->front().state, 'Z');
  EXPECT_TRUE(ps->front().cmdline.empty());
  EXPECT_EQ(ps->front().exe, "");
  EXPECT_FALSE(ps->front().kernel_thread);
  EXPECT_EQ(ps->front().kind, ProcessKind::Other);  // nothing left to classify it by
}

TEST_F(ProcScannerTest, RssFallsBackToStatm) {
  FakeProcess p;
  p.pid = 800;
  p.vmrss_kb = std::nullopt;
  p.statm_resident_pages = 300;
  proc.add(p);
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  ASSERT_EQ(ps->size(), 1u);
  EXPECT_EQ(ps->front().rss_bytes, 300u * 4096);
}

TEST_F(ProcScannerTest, CpuPercentBetweenScans) {
  auto app = node_app();
  app.utime = 1000;
  app.stime = 0;
  proc.add(app);
  ProcScanner scanner(options_for(proc));
  auto first = scanner.scan(t0);
  ASSERT_TRUE(first.has_value());
  EXPECT_DOUBLE_EQ(first->front().cpu_percent, 0.0);

  // +150 ticks (1.5 s of CPU at 100 Hz) in 2 s of wall time = 75 %.
  app.utime = 1100;
  app.stime = 50;
  proc.write_file(app.pid, "stat", FakeProc::stat_line(app));
  auto second = scanner.scan(t0 + 2s);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->front().cpu_ticks, 1150u);
  EXPECT_DOUBLE_EQ(second->front().cpu_percent, 75.0);

  // No progress: 0 %.
  auto third = scanner.scan(t0 + 3s);
  ASSERT_TRUE(third.has_value());
  EXPECT_DOUBLE_EQ(third->front().cpu_percent, 0.0);
}

TEST_F(ProcScannerTest, ReusedPidStartsFromZero) {
  auto app = node_app();
  proc.add(app);
  ProcScanner scanner(options_for(proc));
  ASSERT_TRUE(scanner.scan(t0).has_value());

  // The process exits and a new one gets the same pid with a later starttime and more
  // ticks than the old one had: its CPU must not be computed against the old ticks.
  app.starttime = 90'000;
  app.utime = 5000;
  proc.write_file(app.pid, "stat", FakeProc::stat_line(app));
  auto next = scanner.scan(t0 + 1s);
  ASSERT_TRUE(next.has_value());
  EXPECT_DOUBLE_EQ(next->front().cpu_percent, 0.0);

  // From then on the new process is tracked: +100 ticks in 1 s = 100 %.
  app.utime = 5100;
  proc.write_file(app.pid, "stat", FakeProc::stat_line(app));
  auto after = scanner.scan(t0 + 2s);
  ASSERT_TRUE(after.has_value());
  EXPECT_DOUBLE_EQ(after->front().cpu_percent, 100.0);
}

TEST_F(ProcScannerTest, ProcessMissingFromOneScanIsFirstSightAgain) {
  auto app = node_app();
  proc.add(app);
  ProcScanner scanner(options_for(proc));
  ASSERT_TRUE(scanner.scan(t0).has_value());
  proc.remove_process(app.pid);
  auto empty = scanner.scan(t0 + 1s);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
  app.utime += 100;
  proc.add(app);
  auto back = scanner.scan(t0 + 2s);
  ASSERT_TRUE(back.has_value());
  EXPECT_DOUBLE_EQ(back->front().cpu_percent, 0.0);  // previous ticks were dropped with the process
}

TEST_F(ProcScannerTest, ListenPortsOnlyForListeningSockets) {
  FakeProcess client;
  client.pid = 900;
  client.socket_inodes = {476363, 476364};  // both ends ESTABLISHED
  proc.add(client);
  FakeProcess server;
  server.pid = 901;
  server.socket_inodes = {12346, 12345, 12345, 24};  // v6 :3000, v4 :8000 (twice), v4 :2024
  proc.add(server);
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  EXPECT_TRUE(find(*ps, 900)->listen_ports.empty());
  EXPECT_EQ(find(*ps, 901)->listen_ports, (std::vector<std::uint16_t>{2024, 3000, 8000}));
}

TEST_F(ProcScannerTest, NoNetFilesMeansNoPorts) {
  FakeProc bare(kBtime);  // no net/tcp, net/tcp6
  bare.add(node_app());
  ProcScanner scanner(options_for(bare));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value()) << ps.error().message;
  ASSERT_EQ(ps->size(), 1u);
  EXPECT_TRUE(ps->front().listen_ports.empty());
}

TEST_F(ProcScannerTest, CgroupV1AndClassification) {
  FakeProcess py;
  py.pid = 1000;
  py.comm = "uvicorn";
  py.exe = "/usr/bin/python3.11";
  py.cmdline = {"/srv/api/.venv/bin/python", "-m", "uvicorn", "main:app"};
  py.cgroup = testing::read_fixture("cgroup_hybrid");
  proc.add(py);
  FakeProcess npm;
  npm.pid = 1001;
  npm.comm = "npm start";
  npm.cmdline = {"npm start"};  // title; exe unreadable (no link)
  npm.cgroup = "1:name=systemd:/user.slice/user-1000.slice/session-3.scope\n0::/\n";
  proc.add(npm);
  FakeProcess other;
  other.pid = 1002;
  other.exe = "/usr/sbin/nginx";
  other.cmdline = {"nginx: master process /usr/sbin/nginx"};
  proc.add(other);

  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(find(*ps, 1000)->kind, ProcessKind::Python);
  EXPECT_EQ(find(*ps, 1000)->unit, "siax-app-api.service");
  EXPECT_EQ(find(*ps, 1001)->kind, ProcessKind::Node);
  EXPECT_EQ(find(*ps, 1001)->unit, "session-3.scope");
  EXPECT_EQ(find(*ps, 1001)->cgroup, "/user.slice/user-1000.slice/session-3.scope");
  EXPECT_EQ(find(*ps, 1002)->kind, ProcessKind::Other);
  EXPECT_EQ(find(*ps, 1002)->user, "");  // uid 1000 has no name in fake_user
}

TEST_F(ProcScannerTest, AtMostMaxProcesses) {
  for (int pid = 10; pid < 15; ++pid) {
    FakeProcess p;
    p.pid = pid;
    proc.add(p);
  }
  auto options = options_for(proc);
  options.max_processes = 3;
  ProcScanner scanner(options);
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->size(), 3u);
  EXPECT_TRUE(std::is_sorted(ps->begin(), ps->end(),
                             [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; }));
  EXPECT_TRUE(scanner.last_stats().truncated);
}

TEST_F(ProcScannerTest, NonPidEntriesAreIgnored) {
  proc.add(node_app());
  std::filesystem::create_directories(proc.root() / "sys");
  std::filesystem::create_directories(proc.root() / "12a");
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(pids(*ps), (std::vector<int>{4321}));
  EXPECT_EQ(scanner.last_stats().listed, 1u);
}

TEST_F(ProcScannerTest, UnreadableRootIsAnError) {
  auto options = options_for(proc);
  options.proc_root = (proc.root() / "does-not-exist").string();
  ProcScanner scanner(options);
  auto ps = scanner.scan(t0);
  ASSERT_FALSE(ps.has_value());
  EXPECT_EQ(ps.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(ps.error().code, "proc_unreadable");
  EXPECT_NE(ps.error().message.find("does-not-exist"), std::string::npos);
}

TEST_F(ProcScannerTest, RootWithoutBtimeIsAnError) {
  std::ofstream(proc.root() / "stat", std::ios::trunc) << "cpu 1 2 3\n";
  ProcScanner scanner(options_for(proc));
  auto ps = scanner.scan(t0);
  ASSERT_FALSE(ps.has_value());
  EXPECT_EQ(ps.error().code, "proc_unreadable");
  EXPECT_NE(ps.error().message.find("btime"), std::string::npos);
}

TEST_F(ProcScannerTest, LongCommandLineIsCut) {
  FakeProcess p;
  p.pid = 1200;
  p.cmdline = {"node", std::string(10'000, 'x')};
  proc.add(p);
  auto options = options_for(proc);
  options.max_cmdline_bytes = 100;
  ProcScanner scanner(options);
  auto ps = scanner.scan(t0);
  ASSERT_TRUE(ps.has_value());
  ASSERT_EQ(ps->front().cmdline.size(), 2u);
  EXPECT_EQ(ps->front().cmdline[1].size(), 95u);  // 100 - "node\0"
}

// The real /proc: finds this test process with its command line and a port it listens on.
TEST(ProcScannerRealProc, FindsItselfAndItsListeningPort) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin_port);

  ProcScanner scanner;
  auto ps = scanner.scan(std::chrono::steady_clock::now());
  ::close(fd);
  ASSERT_TRUE(ps.has_value()) << ps.error().message;
  const ProcessInfo* self = find(*ps, static_cast<int>(::getpid()));
  ASSERT_NE(self, nullptr);
  ASSERT_FALSE(self->cmdline.empty());
  EXPECT_NE(self->cmdline.front().find("siax_unit_tests"), std::string::npos) << self->cmdline.front();
  EXPECT_EQ(self->ppid, static_cast<int>(::getppid()));
  EXPECT_EQ(self->uid, ::geteuid());
  EXPECT_EQ(self->state, 'R');
  EXPECT_FALSE(self->kernel_thread);
  EXPECT_GT(self->rss_bytes, 0u);
  EXPECT_NE(self->exe.find("siax_unit_tests"), std::string::npos);
  EXPECT_EQ(self->cwd, std::filesystem::current_path().string());
  EXPECT_NE(std::find(self->listen_ports.begin(), self->listen_ports.end(), port), self->listen_ports.end())
      << "port " << port;
  // Started within the last day, by the wall clock.
  auto now_usec = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  EXPECT_LE(self->start_time_usec, now_usec + 5'000'000);
  EXPECT_GT(self->start_time_usec, now_usec - 86'400'000'000LL);
}


// --- incremental mode (issue 12): new processes in full, known ones by their stat line ---

class IncrementalScanTest : public ProcScannerTest {
 protected:
  ProcScannerOptions incremental(int full_every = 100) {
    auto o = options_for(proc);
    o.incremental = true;
    o.full_every = full_every;
    return o;
  }
  static FakeProcess other(int pid, std::vector<std::string> argv) {
    FakeProcess p;
    p.pid = pid;
    p.comm = "bash";
    p.cmdline = std::move(argv);
    p.cgroup = "0::/user.slice/session-1.scope\n";
    return p;
  }
};

TEST_F(IncrementalScanTest, ReadsNewProcessesInFullTwiceThenOnlyTheHotOnesStatLine) {
  proc.add(node_app());  // in siax-app-orders.service: hot
  proc.add(other(700, {"bash"}));
  ProcScanner scanner(incremental());
  auto s1 = scanner.scan(t0);
  ASSERT_TRUE(s1.has_value()) << s1.error().message;
  EXPECT_EQ(pids(*s1), (std::vector<int>{700, 4321}));
  EXPECT_EQ(scanner.last_stats().full_reads, 2u);
  // Second sight: read in full once more (a process may have been caught mid fork/exec).
  auto s2 = scanner.scan(t0 + 5s);
  ASSERT_TRUE(s2.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 2u);
  EXPECT_EQ(scanner.last_stats().stat_reads, 0u);

  // The hot process used 2 s of CPU in 5 s; the cold one changed its cmdline (not seen).
  auto app = node_app();
  app.utime += 150;
  app.stime += 50;
  app.statm_resident_pages = 1000;
  app.state = 'R';
  proc.write_file(4321, "stat", FakeProc::stat_line(app));
  proc.write_file(700, "cmdline", std::string("changed\0", 8));
  auto s3 = scanner.scan(t0 + 10s);
  ASSERT_TRUE(s3.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 0u);
  EXPECT_EQ(scanner.last_stats().stat_reads, 1u);
  EXPECT_EQ(scanner.last_stats().kept, 1u);
  const auto* hot = find(*s3, 4321);
  ASSERT_NE(hot, nullptr);
  EXPECT_NEAR(hot->cpu_percent, 40.0, 0.01);
  EXPECT_EQ(hot->cpu_ticks, 1200u);
  EXPECT_EQ(hot->rss_bytes, 1000u * 4096);
  EXPECT_EQ(hot->state, 'R');
  EXPECT_EQ(hot->cmdline, node_app().cmdline);  // kept from the full read
  EXPECT_EQ(hot->listen_ports, (std::vector<std::uint16_t>{8000, 59301}));
  const auto* cold = find(*s3, 700);
  ASSERT_NE(cold, nullptr);
  EXPECT_EQ(cold->cmdline, (std::vector<std::string>{"bash"}));
  EXPECT_EQ(cold->cpu_percent, 0.0);

  // A new process (a copy of the app outside its unit) is read at once, in full.
  auto stray = other(800, {"node", "/srv/orders/server.js"});
  stray.comm = "node";
  proc.add(stray);
  proc.remove_process(700);
  auto s4 = scanner.scan(t0 + 15s);
  ASSERT_TRUE(s4.has_value());
  EXPECT_EQ(pids(*s4), (std::vector<int>{800, 4321}));
  EXPECT_EQ(scanner.last_stats().full_reads, 1u);
  ASSERT_NE(find(*s4, 800), nullptr);
  EXPECT_EQ(find(*s4, 800)->cmdline, stray.cmdline);
}

TEST_F(IncrementalScanTest, APidReusedOrAnExecIsReadAgainInFull) {
  proc.add(node_app());
  ProcScanner scanner(incremental());
  ASSERT_TRUE(scanner.scan(t0).has_value());
  ASSERT_TRUE(scanner.scan(t0 + 5s).has_value());
  // exec: same pid and start time, another name and argv.
  auto app = node_app();
  app.comm = "python3";
  app.cmdline = {"python3", "-m", "http.server"};
  proc.remove_process(4321);
  proc.add(app);
  auto s = scanner.scan(t0 + 10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 1u);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ(s->front().cmdline, app.cmdline);
  // A pid reused: another start time.
  app.comm = "node";
  app.starttime = 9000;
  app.cmdline = {"node", "other.js"};
  proc.remove_process(4321);
  proc.add(app);
  s = scanner.scan(t0 + 15s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 1u);
  EXPECT_EQ(s->front().cmdline, app.cmdline);
  EXPECT_EQ(s->front().cpu_percent, 0.0);  // a new process: no previous sample
}

TEST_F(IncrementalScanTest, HotPidsAPortChangeAndThePeriodicFullRead) {
  auto watched = other(900, {"redis-server", "*:6379"});
  proc.add(watched);
  proc.add(other(901, {"bash"}));
  ProcScanner scanner(incremental(4));
  ASSERT_TRUE(scanner.scan(t0).has_value());       // full (first)
  ASSERT_TRUE(scanner.scan(t0 + 5s).has_value());  // second sight: full
  scanner.set_hot_pids({900});
  watched.utime = 100;
  proc.write_file(900, "stat", FakeProc::stat_line(watched));
  auto s = scanner.scan(t0 + 10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().stat_reads, 1u);
  EXPECT_EQ(scanner.last_stats().kept, 1u);
  EXPECT_NEAR(find(*s, 900)->cpu_percent, 20.0, 0.01);
  // A socket starts listening: every process's fds are looked at again.
  proc.write_file(901, "stat", FakeProc::stat_line(other(901, {"bash"})));
  std::filesystem::create_symlink("socket:[12345]", proc.dir(901) / "fd" / "9");
  auto tcp = testing::read_fixture("net_tcp");
  proc.set_net_tcp(tcp + "   9: 00000000:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 55555 1 0 100 0 0 10 0\n");
  s = scanner.scan(t0 + 15s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().kept, 0u);
  EXPECT_EQ(find(*s, 901)->listen_ports, (std::vector<std::uint16_t>{8000}));
  // The fourth scan since the full one reads everything again (the safety net).
  proc.write_file(901, "cmdline", std::string("zsh\0", 4));
  s = scanner.scan(t0 + 20s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 2u);
  EXPECT_EQ(find(*s, 901)->cmdline, (std::vector<std::string>{"zsh"}));
  // full_scan always reads everything.
  s = scanner.full_scan(t0 + 25s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 2u);
}

TEST_F(IncrementalScanTest, AHotProcessWhoseStatVanishesIsDroppedAndReadInFullIfItComesBack) {
  proc.add(node_app());
  ProcScanner scanner(incremental());
  ASSERT_TRUE(scanner.scan(t0).has_value());
  ASSERT_TRUE(scanner.scan(t0 + 5s).has_value());
  // Listed but its stat gone (it exited between the listing and the read): not reported.
  proc.remove_file(4321, "stat");
  auto s = scanner.scan(t0 + 10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->empty());
  EXPECT_EQ(scanner.last_stats().vanished, 1u);
  EXPECT_EQ(scanner.last_stats().stat_reads, 0u);
  // An empty stat line (an exiting process) is the same.
  proc.write_file(4321, "stat", "");
  s = scanner.scan(t0 + 15s);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->empty());
  // Back (the same start time): the cache forgot it, so it is read in full as new, twice.
  proc.write_file(4321, "stat", FakeProc::stat_line(node_app()));
  s = scanner.scan(t0 + 20s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 1u);
  EXPECT_EQ(scanner.last_stats().stat_reads, 0u);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ(s->front().cpu_percent, 0.0);
  EXPECT_EQ(s->front().cmdline, node_app().cmdline);
  ASSERT_TRUE(scanner.scan(t0 + 25s).has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 1u);
  ASSERT_TRUE(scanner.scan(t0 + 30s).has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 0u);
  EXPECT_EQ(scanner.last_stats().stat_reads, 1u);
}

TEST_F(IncrementalScanTest, AProcessGoneFromTheListingIsForgotten) {
  proc.add(node_app());
  proc.add(other(700, {"bash"}));
  ProcScanner scanner(incremental());
  ASSERT_TRUE(scanner.scan(t0).has_value());
  ASSERT_TRUE(scanner.scan(t0 + 5s).has_value());
  proc.remove_process(4321);
  proc.remove_process(700);
  auto s = scanner.scan(t0 + 10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->empty());
  // The same pids and start times again: nothing of the old ones is trusted.
  proc.add(node_app());
  proc.add(other(700, {"bash"}));
  s = scanner.scan(t0 + 15s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(pids(*s), (std::vector<int>{700, 4321}));
  EXPECT_EQ(scanner.last_stats().full_reads, 2u);
  EXPECT_EQ(scanner.last_stats().kept, 0u);
}

TEST_F(IncrementalScanTest, AReusedPidWhileThePortsMovedIsReadInFullWithItsPorts) {
  auto app = node_app();  // listens on 8000 and 59301 (fixture net_tcp)
  proc.add(app);
  ProcScanner scanner(incremental());
  ASSERT_TRUE(scanner.scan(t0).has_value());
  ASSERT_TRUE(scanner.scan(t0 + 5s).has_value());
  // The app died, its pid went to a new process (another start time) that listens on a
  // new socket only: the listening set changed, so the fd links are read as well.
  proc.remove_process(4321);
  app.starttime = 7777;
  app.cmdline = {"node", "/srv/other/index.js"};
  app.socket_inodes = {55555};
  proc.add(app);
  auto tcp = testing::read_fixture("net_tcp");
  proc.set_net_tcp(tcp + "   9: 00000000:1F45 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 55555 1 0 100 0 0 10 0\n");
  auto s = scanner.scan(t0 + 10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().full_reads, 1u);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ(s->front().cmdline, app.cmdline);
  EXPECT_EQ(s->front().listen_ports, (std::vector<std::uint16_t>{8005}));
  EXPECT_EQ(s->front().cpu_percent, 0.0);
  // Settled, hot, the ports unchanged: the stat line alone, the ports kept.
  ASSERT_TRUE(scanner.scan(t0 + 15s).has_value());
  s = scanner.scan(t0 + 20s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(scanner.last_stats().stat_reads, 1u);
  EXPECT_EQ(s->front().listen_ports, (std::vector<std::uint16_t>{8005}));
}

}  // namespace
}  // namespace siax::procscan
