#include "procscan/proc_parsers.h"

#include <gtest/gtest.h>

#include "fake_proc.h"

namespace siax::procscan {
namespace {

using core::ProcessKind;
using namespace std::chrono_literals;

// ---- stat ---------------------------------------------------------------------------

TEST(ProcParsersStat, ParsesARealLine) {
  // Captured from `cat /proc/self/stat`.
  auto f = parse_stat_line(
      "13160 (cat) R 13158 13158 7417 0 -1 4194304 99 0 0 0 3 5 0 0 20 0 1 0 2497421 3133440 380 "
      "18446744073709551615 94311558881280 94311558901161 140725550857040 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
      "94311558917168 94311558918784 94312279760896 140725550860741 140725550860761 140725550860761 "
      "140725550862315 0\n");
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_EQ(f->pid, 13160);
  EXPECT_EQ(f->comm, "cat");
  EXPECT_EQ(f->state, 'R');
  EXPECT_EQ(f->ppid, 13158);
  EXPECT_EQ(f->flags, 4194304u);
  EXPECT_EQ(f->utime, 3u);
  EXPECT_EQ(f->stime, 5u);
  EXPECT_EQ(f->starttime, 2497421u);
  EXPECT_EQ(f->rss_pages, 380u);
}

TEST(ProcParsersStat, KernelThreadFlag) {
  // Captured from /proc/2/stat (kthreadd): flags 2129984 = 0x208040 has PF_KTHREAD.
  auto f = parse_stat_line(
      "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 20 0 0 18446744073709551615 0 0 0 0 0 0 0 "
      "2147483647 0 1 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0");
  ASSERT_TRUE(f.has_value());
  EXPECT_NE(f->flags & kPfKthread, 0u);
  EXPECT_EQ(f->ppid, 0);
}

TEST(ProcParsersStat, NamesWithSpacesAndParentheses) {
  for (std::string name : {"my (weird) app", "a b", "x)y", ") S 1 2", "(", ""}) {
    testing::FakeProcess p;
    p.pid = 42;
    p.comm = name;
    p.ppid = 7;
    p.utime = 11;
    p.stime = 22;
    p.starttime = 3333;
    auto f = parse_stat_line(testing::FakeProc::stat_line(p));
    ASSERT_TRUE(f.has_value()) << name << ": " << f.error().message;
    EXPECT_EQ(f->comm, name);
    EXPECT_EQ(f->pid, 42);
    EXPECT_EQ(f->ppid, 7);
    EXPECT_EQ(f->state, 'S');
    EXPECT_EQ(f->utime, 11u);
    EXPECT_EQ(f->stime, 22u);
    EXPECT_EQ(f->starttime, 3333u);
  }
}

TEST(ProcParsersStat, RefusesMalformedLines) {
  for (std::string_view line : {"", "12 cat R 1", "12 (cat) R 1 2 3", "x (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0",
                                "12 (cat) R one 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"}) {
    auto f = parse_stat_line(line);
    ASSERT_FALSE(f.has_value()) << line;
    EXPECT_EQ(f.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(f.error().code, "invalid_proc_stat");
  }
}

// ---- status, statm, btime, cmdline --------------------------------------------------

TEST(ProcParsersStatus, UidAndVmRss) {
  auto s = parse_status("Name:\tnode\nUid:\t1001\t1002\t1002\t1002\nGid:\t5\t5\t5\t5\nVmRSS:\t   51234 kB\n");
  EXPECT_EQ(s.uid, 1002u);  // effective uid, as ps shows it
  EXPECT_EQ(s.rss_kb, 51234u);
  auto kthread = parse_status("Name:\tkthreadd\nUid:\t0\t0\t0\t0\nThreads:\t1\n");
  EXPECT_EQ(kthread.uid, 0u);
  EXPECT_FALSE(kthread.rss_kb.has_value());
}

TEST(ProcParsersStatus, StatmAndBtime) {
  EXPECT_EQ(parse_statm_resident("765 441 413 5 0 123 0\n"), 441u);
  EXPECT_FALSE(parse_statm_resident("765").has_value());
  EXPECT_EQ(parse_btime("cpu 1 2 3\nbtime 1795710863\nprocesses 3\n"), 1795710863);
  EXPECT_FALSE(parse_btime("cpu 1 2 3\n").has_value());
}

TEST(ProcParsersCmdline, SplitsAtNul) {
  using namespace std::string_literals;
  EXPECT_EQ(split_cmdline("node\0/srv/app/server.js\0--port\0\0"s),
            (std::vector<std::string>{"node", "/srv/app/server.js", "--port", ""}));
  EXPECT_EQ(split_cmdline("npm start"s), (std::vector<std::string>{"npm start"}));  // a rewritten title
  EXPECT_TRUE(split_cmdline("").empty());
}

// ---- cgroup -------------------------------------------------------------------------

TEST(ProcParsersCgroup, V2Service) {
  auto info = parse_cgroup_unit(testing::read_fixture("cgroup_v2_service"));
  EXPECT_EQ(info.cgroup, "/system.slice/siax-app-orders.service");
  EXPECT_EQ(info.unit, "siax-app-orders.service");
}

TEST(ProcParsersCgroup, HybridUsesNameSystemd) {
  auto info = parse_cgroup_unit(testing::read_fixture("cgroup_hybrid"));
  EXPECT_EQ(info.cgroup, "/system.slice/siax-app-api.service");
  EXPECT_EQ(info.unit, "siax-app-api.service");
  // v1 where name=systemd and the unified line disagree: name=systemd wins.
  auto v1 = parse_cgroup_unit("1:name=systemd:/system.slice/cron.service\n0::/\n");
  EXPECT_EQ(v1.unit, "cron.service");
}

TEST(ProcParsersCgroup, NoUnit) {
  auto dev = parse_cgroup_unit(testing::read_fixture("cgroup_v1_dev_host"));  // captured: "9:name=systemd:/"
  EXPECT_EQ(dev.cgroup, "/");
  EXPECT_EQ(dev.unit, "");
  EXPECT_EQ(parse_cgroup_unit("0::/user.slice/user-1000.slice\n").unit, "");
  EXPECT_EQ(parse_cgroup_unit("").cgroup, "");
  EXPECT_EQ(parse_cgroup_unit("garbage\n").cgroup, "");
}

TEST(ProcParsersCgroup, LastServiceOrScopeComponent) {
  EXPECT_EQ(unit_of_cgroup_path("/system.slice/siax-app-x.service/worker"), "siax-app-x.service");
  EXPECT_EQ(unit_of_cgroup_path("/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-x-123.scope"),
            "app-gnome-x-123.scope");
  EXPECT_EQ(unit_of_cgroup_path("/init.scope"), "init.scope");
  EXPECT_EQ(unit_of_cgroup_path("/system.slice"), "");
  EXPECT_EQ(unit_of_cgroup_path("/.service"), "");
  // A cgroup path may contain ':'.
  EXPECT_EQ(parse_cgroup_unit("0::/system.slice/a:b.service\n").unit, "a:b.service");
}

// ---- net/tcp ------------------------------------------------------------------------

TEST(ProcParsersNetTcp, ListenOnlyV4) {
  auto m = parse_proc_net_tcp(testing::read_fixture("net_tcp"));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at(24), 2024);
  EXPECT_EQ(m.at(476360), 48323);
  EXPECT_EQ(m.at(12345), 8000);
  EXPECT_FALSE(m.contains(476363));  // ESTABLISHED (01)
  EXPECT_FALSE(m.contains(476364));
}

TEST(ProcParsersNetTcp, ListenOnlyV6) {
  auto m = parse_proc_net_tcp(testing::read_fixture("net_tcp6"));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at(476361), 59301);
  EXPECT_EQ(m.at(12346), 3000);  // the TIME_WAIT (06) line with inode 0 is not a listener
}

TEST(ProcParsersNetTcp, LinesAndSocketLinks) {
  EXPECT_FALSE(parse_proc_net_tcp_line("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when").has_value());
  EXPECT_FALSE(parse_proc_net_tcp_line("   0: 00000000:ZZZZ 00000000:0000 0A 0:0 00:0 0 0 0 99").has_value());
  auto e = parse_proc_net_tcp_line("   0: 00000000:0050 00000000:0000 0A 0:0 00:0 0 0 0 99 1");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->first, 99u);
  EXPECT_EQ(e->second, 80);
  EXPECT_EQ(parse_socket_link("socket:[476360]"), 476360u);
  EXPECT_FALSE(parse_socket_link("pipe:[476360]").has_value());
  EXPECT_FALSE(parse_socket_link("socket:[]").has_value());
  EXPECT_FALSE(parse_socket_link("/dev/null").has_value());
}

// ---- classify -----------------------------------------------------------------------

struct ClassifyCase {
  std::string exe;
  std::vector<std::string> cmdline;
  ProcessKind expected;
};

TEST(ProcParsersClassify, Table) {
  const std::vector<ClassifyCase> cases = {
      {"/usr/bin/node", {"node", "/srv/app/server.js"}, ProcessKind::Node},
      {"/home/u/.nvm/versions/node/v20.11.0/bin/node", {"node", "index.js"}, ProcessKind::Node},
      {"/usr/bin/nodejs", {}, ProcessKind::Node},
      {"/usr/bin/node (deleted)", {"node", "x.js"}, ProcessKind::Node},
      {"", {"npm start"}, ProcessKind::Node},  // npm's process title, exe unreadable
      {"", {"/usr/local/bin/npx", "tsx", "src/main.ts"}, ProcessKind::Node},
      {"", {"ts-node", "src/app.ts"}, ProcessKind::Node},
      {"", {"tsx", "watch"}, ProcessKind::Node},
      {"", {"nodemon", "app.js"}, ProcessKind::Node},
      {"", {"PM2 v5.3.0: God Daemon (/root/.pm2)"}, ProcessKind::Node},
      {"", {"node /srv/app/server.js"}, ProcessKind::Node},
      {"/usr/bin/python3.11", {"/usr/bin/python3", "-m", "uvicorn", "main:app"}, ProcessKind::Python},
      {"/usr/bin/python3", {"python3", "app.py"}, ProcessKind::Python},
      {"/usr/bin/python", {"python"}, ProcessKind::Python},
      {"", {"/srv/app/.venv/bin/python3.12", "-m", "uvicorn", "main:app"}, ProcessKind::Python},
      {"", {"/srv/app/.venv/bin/uvicorn", "main:app"}, ProcessKind::Python},
      {"", {"gunicorn: master [app:app]"}, ProcessKind::Python},
      {"", {"hypercorn", "app:app"}, ProcessKind::Python},
      {"/usr/sbin/nginx", {"nginx: master process /usr/sbin/nginx"}, ProcessKind::Other},
      {"/usr/bin/bash", {"bash", "-c", "node server.js"}, ProcessKind::Other},
      {"/usr/bin/nodeenv", {"nodeenv"}, ProcessKind::Other},
      {"/usr/bin/python-config", {"python-config"}, ProcessKind::Other},
      {"/usr/bin/python3.x", {"python3.x"}, ProcessKind::Other},
      {"/usr/bin/pythonista", {}, ProcessKind::Other},
      {"", {}, ProcessKind::Other},
  };
  for (const auto& c : cases) {
    std::string argv0 = c.cmdline.empty() ? "" : c.cmdline.front();
    EXPECT_EQ(classify(c.exe, c.cmdline), c.expected) << "exe='" << c.exe << "' argv0='" << argv0 << "'";
  }
}

// ---- cpu ----------------------------------------------------------------------------

TEST(ProcParsersCpu, Arithmetic) {
  // 50 ticks at 100 Hz = 0.5 s of CPU in 1 s of wall time = 50 %.
  EXPECT_DOUBLE_EQ(cpu_percent(100, 150, 1s, 100), 50.0);
  // Two cores busy for 2 s: 400 ticks over 2 s = 200 %.
  EXPECT_DOUBLE_EQ(cpu_percent(0, 400, 2s, 100), 200.0);
  EXPECT_DOUBLE_EQ(cpu_percent(0, 25, 500ms, 100), 50.0);
  EXPECT_DOUBLE_EQ(cpu_percent(0, 250, 1s, 250), 100.0);  // CLK_TCK is not always 100
  EXPECT_DOUBLE_EQ(cpu_percent(100, 100, 1s, 100), 0.0);
  EXPECT_DOUBLE_EQ(cpu_percent(150, 100, 1s, 100), 0.0);  // counter went backwards
  EXPECT_DOUBLE_EQ(cpu_percent(0, 100, 0s, 100), 0.0);
  EXPECT_DOUBLE_EQ(cpu_percent(0, 100, -1s, 100), 0.0);
  EXPECT_DOUBLE_EQ(cpu_percent(0, 100, 1s, 0), 0.0);
}

}  // namespace
}  // namespace siax::procscan
