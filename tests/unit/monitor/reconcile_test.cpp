// Tests for monitor/reconcile.h: every row of the status table in docs/STATUS.md (the
// test names carry the row numbers), the "matches the app" rules, usage and monitored
// processes.
#include "monitor/reconcile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/monitor/fakes.h"

namespace siax::monitor {
namespace {

using namespace siax::monitor::testing;
using core::ExitCode;
using core::ProcessKind;
using ::testing::HasSubstr;

AppState run(const std::optional<core::UnitStatus>& u, const std::vector<core::ProcessInfo>& ps,
             const std::optional<HealthView>& health = std::nullopt, const core::AppDefinition& def = node_app()) {
  return reconcile(def, u, ps, health, kNow);
}

HealthView unhealthy_view() { return HealthView{HealthState::Unhealthy, 3, "timed out after 2000 ms", kNow - 1, -1}; }

// --- The table, in precedence order ----------------------------------------------------

TEST(ReconcileTable, Row01_SystemdUnreachableIsUnknown) {
  const AppState s = run(std::nullopt, {app_main()});
  EXPECT_EQ(s.status, AppStatus::Unknown);
  EXPECT_THAT(s.reason, HasSubstr("systemd is unreachable"));
  EXPECT_EQ(s.pids, (std::vector<int>{100}));  // the process table still counts
  EXPECT_EQ(s.active_state, "");
}

TEST(ReconcileTable, Row01_SystemdUnreachableWithStrayIsUnknownAndNamesTheStray) {
  const AppState s = run(std::nullopt, {stray(4321)});
  EXPECT_EQ(s.status, AppStatus::Unknown);
  EXPECT_THAT(s.reason, HasSubstr("4321"));
  EXPECT_EQ(s.stray_pids, (std::vector<int>{4321}));
}

TEST(ReconcileTable, Row02_LeftoverCopyWhileUnitInactiveIsZombie) {
  const AppState s = run(unit("inactive", "dead"), {stray(4321)});
  EXPECT_EQ(s.status, AppStatus::Zombie);
  EXPECT_EQ(s.stray_pids, (std::vector<int>{4321}));
  EXPECT_THAT(s.reason, HasSubstr("pid 4321"));
  EXPECT_THAT(s.reason, HasSubstr("user bob"));
  EXPECT_THAT(s.reason, HasSubstr("the unit is stopped"));
}

TEST(ReconcileTable, Row02_LeftoverCopyWhileUnitFailedIsZombieAndSaysWhyTheUnitFailed) {
  const AppState s = run(failed_unit("exit-code", ExitCode::Exited, 1), {stray(4321), stray(4322)});
  EXPECT_EQ(s.status, AppStatus::Zombie);
  EXPECT_EQ(s.stray_pids, (std::vector<int>{4321, 4322}));
  EXPECT_THAT(s.reason, HasSubstr("2 copies of the app run"));
  EXPECT_THAT(s.reason, HasSubstr("pids 4321, 4322"));
  EXPECT_THAT(s.reason, HasSubstr("exited with status 1"));
}

TEST(ReconcileTable, Row02_SecondCopyWhileUnitRunsIsZombie) {
  const AppState s = run(unit("active", "running", 100), {app_main(100), stray(4321)});
  EXPECT_EQ(s.status, AppStatus::Zombie);
  EXPECT_EQ(s.main_pid, 100);
  EXPECT_EQ(s.pids, (std::vector<int>{100}));
  EXPECT_EQ(s.stray_pids, (std::vector<int>{4321}));
  EXPECT_THAT(s.reason, HasSubstr("the unit runs pid 100"));
}

TEST(ReconcileTable, Row02_StrayWhileUnitNotFoundIsZombie) {
  core::UnitStatus u = unit("inactive", "dead");
  u.load_state = "not-found";
  EXPECT_EQ(run(u, {stray()}).status, AppStatus::Zombie);
}

TEST(ReconcileTable, Row03_UnitNotFoundIsUnknown) {
  core::UnitStatus u = unit("inactive", "dead");
  u.load_state = "not-found";
  const AppState s = run(u, {});
  EXPECT_EQ(s.status, AppStatus::Unknown);
  EXPECT_THAT(s.reason, HasSubstr("not-found"));
}

TEST(ReconcileTable, Row04_MaskedUnitIsUnknown) {
  core::UnitStatus u = unit("inactive", "dead");
  u.load_state = "masked";
  const AppState s = run(u, {});
  EXPECT_EQ(s.status, AppStatus::Unknown);
  EXPECT_THAT(s.reason, HasSubstr("masked"));
  EXPECT_THAT(s.reason, HasSubstr("systemctl unmask siax-app-api.service"));
}

TEST(ReconcileTable, Row04_UnitWithBadSettingIsUnknown) {
  core::UnitStatus u = unit("inactive", "dead");
  u.load_state = "bad-setting";
  const AppState s = run(u, {});
  EXPECT_EQ(s.status, AppStatus::Unknown);
  EXPECT_THAT(s.reason, HasSubstr("bad-setting"));
}

TEST(ReconcileTable, Row05_StateSystemdMayAddLaterIsUnknown) {
  const AppState s = run(unit("maintenance", "cleaning"), {});
  EXPECT_EQ(s.status, AppStatus::Unknown);
  EXPECT_THAT(s.reason, HasSubstr("maintenance (cleaning)"));
}

TEST(ReconcileTable, Row06_InactiveWithoutProcessIsStopped) {
  const AppState s = run(unit("inactive", "dead"), {});
  EXPECT_EQ(s.status, AppStatus::Stopped);
  EXPECT_EQ(s.reason, "stopped");
  EXPECT_FALSE(s.uptime_seconds);
}

TEST(ReconcileTable, Row06_StoppedSaysHowTheLastRunEnded) {
  core::UnitStatus u = unit("inactive", "dead");
  u.exec_main_code = ExitCode::Killed;
  u.exec_main_status = 15;
  const AppState s = run(u, {});
  EXPECT_EQ(s.status, AppStatus::Stopped);
  EXPECT_EQ(s.last_exit, "killed by SIGTERM");
  EXPECT_THAT(s.reason, HasSubstr("killed by signal 15 (SIGTERM)"));
}

struct FailedCase {
  const char* result;
  ExitCode code;
  int status;
  const char* reason;
  const char* last_exit;
};

class ReconcileFailed : public ::testing::TestWithParam<FailedCase> {};

TEST_P(ReconcileFailed, Row07_FailedUnitSaysWhy) {
  const FailedCase& c = GetParam();
  const AppState s = run(failed_unit(c.result, c.code, c.status), {});
  EXPECT_EQ(s.status, AppStatus::Failed);
  EXPECT_EQ(s.reason, c.reason);
  EXPECT_EQ(s.last_exit, c.last_exit);
  EXPECT_EQ(s.result, c.result);
}

INSTANTIATE_TEST_SUITE_P(
    Results, ReconcileFailed,
    ::testing::Values(
        FailedCase{"exit-code", ExitCode::Exited, 1, "exited with status 1 (exit-code)", "exited 1"},
        FailedCase{"signal", ExitCode::Killed, 9, "killed by signal 9 (SIGKILL)", "killed by SIGKILL"},
        FailedCase{"core-dump", ExitCode::Dumped, 11, "dumped core on signal 11 (SIGSEGV)", "dumped core (SIGSEGV)"},
        FailedCase{"oom-kill", ExitCode::Killed, 9, "out of memory (oom-kill): killed by signal 9 (SIGKILL)",
                   "killed by SIGKILL"},
        FailedCase{"start-limit-hit", ExitCode::Exited, 1,
                   "start limit hit: restarted too often; last run exited with status 1", "exited 1"},
        FailedCase{"start-limit-hit", ExitCode::None, 0, "start limit hit: restarted too often", ""},
        FailedCase{"timeout", ExitCode::Killed, 9,
                   "timeout: the unit did not start or stop in time (killed by signal 9 (SIGKILL))", "killed by SIGKILL"},
        FailedCase{"exit-code", ExitCode::Exited, 203,
                   "exited with status 203 (exit-code): systemd could not start the program (203/EXEC: the program "
                   "could not be executed (missing, not executable, or a bad interpreter))",
                   "exited 203"},
        FailedCase{"exit-code", ExitCode::Exited, 217,
                   "exited with status 217 (exit-code): systemd could not start the program (217/USER: the user does "
                   "not exist)",
                   "exited 217"},
        FailedCase{"resources", ExitCode::None, 0, "resources", ""}));

TEST(ReconcileTable, Row07_FailedReasonCountsRestarts) {
  const AppState s = run(failed_unit("exit-code", ExitCode::Exited, 1, 3), {});
  EXPECT_EQ(s.reason, "exited with status 1 (exit-code) after 3 restarts");
  EXPECT_EQ(s.restart_count, 3u);
}

TEST(ReconcileTable, Row08_ActivatingIsStarting) {
  for (const char* sub : {"start", "start-pre", "start-post"}) {
    const AppState s = run(unit("activating", sub), {});
    EXPECT_EQ(s.status, AppStatus::Starting) << sub;
    EXPECT_THAT(s.reason, HasSubstr(sub));
  }
}

TEST(ReconcileTable, Row09_AutoRestartIsRestartingWithCountAndLastExit) {
  core::UnitStatus u = unit("activating", "auto-restart");
  u.result = "exit-code";
  u.exec_main_code = ExitCode::Exited;
  u.exec_main_status = 1;
  u.restart_count = 4;
  const AppState s = run(u, {});
  EXPECT_EQ(s.status, AppStatus::Restarting);
  EXPECT_THAT(s.reason, HasSubstr("exited with status 1"));
  EXPECT_THAT(s.reason, HasSubstr("4 restarts so far"));
  EXPECT_EQ(s.restart_count, 4u);
}

TEST(ReconcileTable, Row10_DeactivatingIsStopping) {
  const AppState s = run(unit("deactivating", "stop-sigterm", 100), {app_main(100)});
  EXPECT_EQ(s.status, AppStatus::Stopping);
  EXPECT_THAT(s.reason, HasSubstr("stop-sigterm"));
}

TEST(ReconcileTable, Row11_ActiveWithoutMainPidIsCrashed) {
  const AppState s = run(unit("active", "running", 0), {});
  EXPECT_EQ(s.status, AppStatus::Crashed);
  EXPECT_THAT(s.reason, HasSubstr("no main process"));
}

TEST(ReconcileTable, Row12_ActiveWithMainPidGoneIsCrashed) {
  const AppState s = run(unit("active", "running", 100), {proc(7, "", {"/sbin/init"}, "/", ProcessKind::Other)});
  EXPECT_EQ(s.status, AppStatus::Crashed);
  EXPECT_THAT(s.reason, HasSubstr("main process 100 is gone"));
}

TEST(ReconcileTable, Row13_ActiveWithDefunctMainIsCrashed) {
  core::ProcessInfo z = app_main(100);
  z.state = 'Z';
  z.cmdline.clear();
  const AppState s = run(unit("active", "running", 100), {z});
  EXPECT_EQ(s.status, AppStatus::Crashed);
  EXPECT_THAT(s.reason, HasSubstr("defunct"));
}

TEST(ReconcileTable, Row14_ActiveWithMainOutsideTheUnitIsCrashed) {
  core::ProcessInfo p = app_main(100);
  p.unit = "other.service";
  p.cgroup = "/system.slice/other.service";
  const AppState s = run(unit("active", "running", 100), {p});
  EXPECT_EQ(s.status, AppStatus::Crashed);
  EXPECT_THAT(s.reason, HasSubstr("outside the unit (cgroup /system.slice/other.service)"));
  EXPECT_TRUE(s.stray_pids.empty());  // the main pid is reported here, not as a stray
}

TEST(ReconcileTable, Row14b_ActiveWithMainStillInSystemdsOwnCgroupIsStarting) {
  // Right after a Type=simple start under load: forked by systemd, not moved into the unit yet.
  core::ProcessInfo p = app_main(100);
  p.unit = "";
  p.cgroup = "/init.scope";
  const AppState s = run(unit("active", "running", 100), {p});
  EXPECT_EQ(s.status, AppStatus::Starting);
  EXPECT_THAT(s.reason, HasSubstr("being moved into the unit"));
}

TEST(ReconcileTable, Row15_ActiveWithMainThatIsNotTheAppIsCrashed) {
  const AppState s = run(unit("active", "running", 100),
                         {proc(100, kUnit, {"/usr/bin/python3", "other.py"}, "/srv/api", ProcessKind::Python)});
  EXPECT_EQ(s.status, AppStatus::Crashed);
  EXPECT_THAT(s.reason, HasSubstr("is not the app: it runs '/usr/bin/python3 other.py'"));
  EXPECT_THAT(s.reason, HasSubstr("expected node /srv/api/app.js"));
}

TEST(ReconcileTable, Row16_ActiveAndHealthCheckFailingIsUnhealthy) {
  const AppState s = run(unit("active", "running", 100), {app_main(100)}, unhealthy_view());
  EXPECT_EQ(s.status, AppStatus::Unhealthy);
  EXPECT_EQ(s.reason, "health check failed 3 times in a row: timed out after 2000 ms");
  ASSERT_TRUE(s.health);
  EXPECT_EQ(s.health->state, HealthState::Unhealthy);
}

TEST(ReconcileTable, Row17_ActiveWithTheAppAsMainIsRunning) {
  const AppState s = run(unit("active", "running", 100), {app_main(100)});
  EXPECT_EQ(s.status, AppStatus::Running);
  EXPECT_EQ(s.reason, "running (pid 100)");
  EXPECT_FALSE(s.health);
}

TEST(ReconcileTable, Row17_HealthUnknownOrHealthyIsStillRunning) {
  EXPECT_EQ(run(unit("active", "running", 100), {app_main(100)}, HealthView{}).status, AppStatus::Running);
  EXPECT_EQ(run(unit("active", "running", 100), {app_main(100)}, HealthView{HealthState::Healthy, 0, "", kNow, 3}).status,
            AppStatus::Running);
}

TEST(ReconcileTable, Row17_ReloadingCountsAsActive) {
  EXPECT_EQ(run(unit("reloading", "reload", 100), {app_main(100)}).status, AppStatus::Running);
}

// Precedence: zombie beats unhealthy and crashed too.
TEST(ReconcileTable, ZombieTakesPrecedenceOverUnhealthyAndCrashed) {
  EXPECT_EQ(run(unit("active", "running", 100), {app_main(100), stray()}, unhealthy_view()).status, AppStatus::Zombie);
  EXPECT_EQ(run(unit("active", "running", 0), {stray()}).status, AppStatus::Zombie);
  EXPECT_EQ(run(unit("activating", "auto-restart"), {stray()}).status, AppStatus::Zombie);
}

// --- Strays: who is one and who is not ------------------------------------------------

TEST(ReconcileStrays, ChildrenInsideTheUnitAreNotStrays) {
  core::ProcessInfo worker = proc(101, kUnit, {"/usr/bin/node", "/srv/api/app.js", "--worker"});
  worker.ppid = 100;
  const AppState s = run(unit("active", "running", 100), {app_main(100), worker});
  EXPECT_EQ(s.status, AppStatus::Running);
  EXPECT_EQ(s.pids, (std::vector<int>{100, 101}));
  EXPECT_EQ(s.reason, "running (pid 100, 2 processes)");
}

TEST(ReconcileStrays, ChildWhoseCgroupWasUnreadableIsGivenTheBenefitOfTheDoubt) {
  core::ProcessInfo child = proc(101, "", {"/usr/bin/node", "/srv/api/app.js"});
  child.cgroup = "";
  child.ppid = 100;
  EXPECT_EQ(run(unit("active", "running", 100), {app_main(100), child}).status, AppStatus::Running);
  child.ppid = 1;  // not a child of the unit: a stray
  EXPECT_EQ(run(unit("active", "running", 100), {app_main(100), child}).status, AppStatus::Zombie);
}

TEST(ReconcileStrays, OtherAppsAndUnrelatedProcessesAreNotStrays) {
  const std::vector<core::ProcessInfo> ps = {
      app_main(100),
      proc(200, "siax-app-web.service", {"/usr/bin/node", "/srv/web/app.js"}, "/srv/web"),
      proc(201, "", {"node", "app.js"}, "/srv/web"),                                     // another app.js
      proc(202, "", {"/usr/bin/python3", "/srv/api/app.js"}, "/srv/api", ProcessKind::Python),  // wrong kind
      proc(203, "", {}, "", ProcessKind::Other)};                                       // kernel thread
  const AppState s = run(unit("active", "running", 100), ps);
  EXPECT_EQ(s.status, AppStatus::Running);
  EXPECT_TRUE(s.stray_pids.empty());
}

TEST(ReconcileStrays, AnotherInstanceOfTheSameProgramUnderItsOwnUnitIsNotAStray) {
  // api and api-2 run the same script from the same directory (different PORT): each
  // unit's process belongs to its own app.
  const std::vector<core::ProcessInfo> ps = {
      app_main(100), proc(300, "siax-app-api-2.service", {"/usr/bin/node", "/srv/api/app.js"}, "/srv/api")};
  const AppState s = run(unit("active", "running", 100), ps);
  EXPECT_EQ(s.status, AppStatus::Running) << s.reason;
  EXPECT_TRUE(s.stray_pids.empty());
  // The same copy in a login session or under another service manager is a stray.
  const std::vector<core::ProcessInfo> leftover = {
      app_main(100), proc(301, "session-3.scope", {"/usr/bin/node", "/srv/api/app.js"}, "/srv/api"),
      proc(302, "pm2-root.service", {"/usr/bin/node", "/srv/api/app.js"}, "/srv/api")};
  EXPECT_EQ(run(unit("active", "running", 100), leftover).stray_pids, (std::vector<int>{301, 302}));
}

// --- Strays with many apps running one command, and the per-cycle index ------------------

/// A custom app running `/usr/bin/sleep infinity` (issue 12's idle bench: 200 of them).
core::AppDefinition sleeper(const std::string& name) {
  core::AppDefinition d;
  d.name = name;
  d.runtime = core::Runtime::Custom;
  d.script_path = "/usr/bin/sleep";
  d.args = {"infinity"};
  d.working_directory = "/";
  d.user = "siaxapp";
  return d;
}

core::ProcessInfo sleeping(int pid, const std::string& unit_name) {
  core::ProcessInfo p = proc(pid, unit_name, {"/usr/bin/sleep", "infinity"}, "/", ProcessKind::Other);
  p.exe = "/usr/bin/sleep";
  p.comm = "sleep";
  if (unit_name.empty()) p.cgroup = "/";
  return p;
}

core::UnitStatus sleeper_unit(const std::string& name, std::uint32_t main_pid) {
  core::UnitStatus u = unit("active", "running", main_pid);
  u.unit = core::unit_name_for(name);
  return u;
}

/// reconcile() without and with a ProcessIndex: the same state, or the test fails.
AppState both_ways(const core::AppDefinition& def, const std::optional<core::UnitStatus>& u,
                   const std::vector<core::ProcessInfo>& ps) {
  const AppState plain = reconcile(def, u, ps, std::nullopt, kNow);
  const ProcessIndex index(ps);
  EXPECT_TRUE(index.covers(ps));
  const AppState indexed = reconcile(def, u, ps, std::nullopt, kNow, &index);
  EXPECT_EQ(plain, indexed) << def.name << ": " << plain.reason << " | " << indexed.reason;
  return plain;
}

TEST(ReconcileStrays, TheSameCommandInAnotherAppsUnitIsNotAStray) {
  std::vector<core::ProcessInfo> ps;
  for (int i = 1; i <= 5; ++i) ps.push_back(sleeping(100 + i, core::unit_name_for("b" + std::to_string(i))));
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "b" + std::to_string(i);
    const AppState s = both_ways(sleeper(name), sleeper_unit(name, 100 + i), ps);
    EXPECT_EQ(s.status, AppStatus::Running) << name << ": " << s.reason;
    EXPECT_EQ(s.pids, (std::vector<int>{100 + i}));
    EXPECT_TRUE(s.stray_pids.empty()) << name;
  }
}

TEST(ReconcileStrays, ACopyOutsideAnyUnitIsAStrayOfEveryAppRunningThatCommand) {
  std::vector<core::ProcessInfo> ps = {sleeping(101, core::unit_name_for("b1")),
                                       sleeping(102, core::unit_name_for("b2")), sleeping(4000, "")};
  for (int i = 1; i <= 2; ++i) {
    const std::string name = "b" + std::to_string(i);
    const AppState s = both_ways(sleeper(name), sleeper_unit(name, 100 + i), ps);
    EXPECT_EQ(s.status, AppStatus::Zombie) << name;
    EXPECT_EQ(s.stray_pids, (std::vector<int>{4000}));
    EXPECT_THAT(s.reason, HasSubstr("pid 4000 (first: '/usr/bin/sleep infinity', user siaxapp)"));
  }
  // In a service that is not an app's, or a login session: a stray too.
  ps[2].unit = "cron.service";
  ps[2].cgroup = "/system.slice/cron.service";
  EXPECT_EQ(both_ways(sleeper("b1"), sleeper_unit("b1", 101), ps).stray_pids, (std::vector<int>{4000}));
}

TEST(ReconcileStrays, ACopyAsAnotherUserIsAStrayAndTheReasonNamesTheUser) {
  core::ProcessInfo other = sleeping(4001, "session-7.scope");
  other.uid = 1002;
  other.user = "carol";
  const AppState s = both_ways(sleeper("b1"), sleeper_unit("b1", 101),
                               {sleeping(101, core::unit_name_for("b1")), other});
  EXPECT_EQ(s.status, AppStatus::Zombie);
  EXPECT_EQ(s.stray_pids, (std::vector<int>{4001}));
  EXPECT_THAT(s.reason, HasSubstr("user carol"));
  other.user = "";  // a uid without a name: the number
  EXPECT_THAT(both_ways(sleeper("b1"), sleeper_unit("b1", 101), {sleeping(101, core::unit_name_for("b1")), other}).reason,
              HasSubstr("user 1002"));
}

TEST(ReconcileStrays, AChildOfTheMainProcessIsTheUnitsUnlessItLeftTheUnit) {
  const std::string u1 = core::unit_name_for("b1");
  core::ProcessInfo child = sleeping(102, u1);
  child.ppid = 101;
  AppState s = both_ways(sleeper("b1"), sleeper_unit("b1", 101), {sleeping(101, u1), child});
  EXPECT_EQ(s.status, AppStatus::Running);
  EXPECT_EQ(s.pids, (std::vector<int>{101, 102}));
  // Its cgroup unreadable (it raced with the scan): given the benefit of the doubt.
  child.unit = "";
  child.cgroup = "";
  s = both_ways(sleeper("b1"), sleeper_unit("b1", 101), {sleeping(101, u1), child});
  EXPECT_EQ(s.status, AppStatus::Running) << s.reason;
  EXPECT_EQ(s.pids, (std::vector<int>{101}));
  // Moved out of the unit (its cgroup is readable and elsewhere): a stray.
  child.unit = "session-3.scope";
  child.cgroup = "/user.slice/user-1001.slice/session-3.scope";
  s = both_ways(sleeper("b1"), sleeper_unit("b1", 101), {sleeping(101, u1), child});
  EXPECT_EQ(s.status, AppStatus::Zombie);
  EXPECT_EQ(s.stray_pids, (std::vector<int>{102}));
  // The main process itself is never its own stray, wherever it runs.
  core::ProcessInfo outside_main = sleeping(101, "");
  s = both_ways(sleeper("b1"), sleeper_unit("b1", 101), {outside_main});
  EXPECT_TRUE(s.stray_pids.empty());
  EXPECT_EQ(s.status, AppStatus::Crashed);
}

TEST(ReconcileIndex, SameStateAsTheTableForEveryRow) {
  // A mixed table: the node app, its worker, strays, other apps, kernel threads, zombies,
  // a duplicate pid (the first one is the one found).
  core::ProcessInfo worker = proc(101, kUnit, {"/usr/bin/node", "/srv/api/app.js", "--worker"});
  worker.ppid = 100;
  worker.listen_ports = {3000, 9229};
  worker.cpu_percent = 1.25;
  core::ProcessInfo main = app_main(100);
  main.listen_ports = {3000};
  main.cpu_percent = 0.5;
  main.rss_bytes = 4096;
  core::ProcessInfo zombie = stray(4400);
  zombie.state = 'Z';
  core::ProcessInfo kthread = proc(2, "", {}, "", ProcessKind::Other);
  kthread.kernel_thread = true;
  const std::vector<core::ProcessInfo> tables[] = {
      {main, worker},
      {kthread, main, worker, stray(4321), zombie, proc(200, "siax-app-web.service", {"/usr/bin/node", "/srv/web/app.js"})},
      {main, app_main(100), stray(4321), stray(4322)},
      {},
      {stray(4321)},
  };
  const std::optional<core::UnitStatus> units[] = {std::nullopt, unit("active", "running", 100),
                                                   unit("active", "running", 999), unit("inactive", "dead"),
                                                   failed_unit("exit-code", ExitCode::Exited, 1)};
  for (const auto& table : tables) {
    for (const auto& u : units) (void)both_ways(node_app(), u, table);
  }
}

TEST(ReconcileIndex, StraysDesignatingThePathInOddWaysAreFoundThroughTheIndex) {
  // The index narrows the candidates by the last component of argv elements and exe: the
  // spellings lexical normalization rewrites ("/.", "/..", a trailing '/') must still match.
  core::ProcessInfo dot = proc(501, "", {"node", "/srv/api/app.js/."});
  core::ProcessInfo slash = proc(502, "session-3.scope", {"node", "app.js/"}, "/srv/api");
  core::ProcessInfo dotdot = proc(503, "", {"node", "/srv/api/app.js/x/.."});
  core::ProcessInfo relative = proc(504, "", {"node", "../api/./app.js"}, "/srv/web");
  core::ProcessInfo unrelated = proc(505, "", {"node", "/srv/api/other.js"});
  const std::vector<core::ProcessInfo> ps = {app_main(100), dot, slash, dotdot, relative, unrelated};
  const AppState s = both_ways(node_app(), unit("active", "running", 100), ps);
  EXPECT_EQ(s.stray_pids, (std::vector<int>{501, 502, 503, 504}));
  const ProcessIndex index(ps);
  // Candidates: 501..505 (pid 100 is in an app's unit); other.js (505, at 4) cannot match.
  EXPECT_EQ(index.candidates_by_tail("app.js"), (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(ReconcileIndex, SameStateForEveryRuntime) {
  auto custom = node_app();
  custom.runtime = core::Runtime::Custom;
  custom.script_path = "/opt/tool/bin/server";
  auto npm = node_app();
  npm.runtime = core::Runtime::NpmStart;
  auto python = node_app();
  python.runtime = core::Runtime::PythonScript;
  python.script_path = "/srv/api/main.py";
  auto uvicorn = node_app();
  uvicorn.runtime = core::Runtime::Uvicorn;
  uvicorn.module = "main:app";
  auto odd_path = node_app();
  odd_path.script_path = "/srv/api/../api/app.js";  // not lexically normal: every candidate is tried
  core::ProcessInfo by_exe = proc(601, "", {"server"}, "/", ProcessKind::Other);
  by_exe.exe = "/opt/tool/bin/../bin/server";
  core::ProcessInfo exe_dot = proc(602, "", {"x"}, "/", ProcessKind::Other);
  exe_dot.exe = "/opt/tool/bin/server/.";
  const std::vector<core::ProcessInfo> ps = {
      app_main(100),
      stray(4321),
      by_exe,
      exe_dot,
      proc(603, "", {"/usr/bin/python3", "/srv/api/main.py"}, "/srv/api", ProcessKind::Python),
      proc(604, "", {"python3", "-m", "uvicorn", "main:app"}, "/srv/api", ProcessKind::Python),
      proc(605, "", {"npm", "start"}, "/srv/api/", ProcessKind::Node),
      proc(606, "", {"node", "/srv/web/app.js"}, "/srv/web"),
  };
  for (const auto& def : {node_app(), custom, npm, python, uvicorn, odd_path}) {
    for (const auto& u : {unit("active", "running", 100), unit("inactive", "dead")}) (void)both_ways(def, u, ps);
  }
  EXPECT_EQ(both_ways(custom, unit("inactive", "dead"), ps).stray_pids, (std::vector<int>{601, 602}));
  EXPECT_EQ(both_ways(python, unit("inactive", "dead"), ps).stray_pids, (std::vector<int>{603}));
  EXPECT_EQ(both_ways(uvicorn, unit("inactive", "dead"), ps).stray_pids, (std::vector<int>{604}));
  EXPECT_EQ(both_ways(odd_path, unit("active", "running", 100), ps).stray_pids, (std::vector<int>{4321}));
}

TEST(ReconcileIndex, AnIndexOfAnotherOrAChangedTableIsIgnored) {
  std::vector<core::ProcessInfo> ps = {app_main(100)};
  ps.reserve(8);  // the insertion below keeps the data pointer: only the size tells
  const ProcessIndex index(ps);
  ps.push_back(stray(4321));
  EXPECT_FALSE(index.covers(ps));
  const AppState s = reconcile(node_app(), unit("active", "running", 100), ps, std::nullopt, kNow, &index);
  EXPECT_EQ(s.stray_pids, (std::vector<int>{4321}));  // the table was read, not the stale index
  const std::vector<core::ProcessInfo> other = {app_main(100)};
  EXPECT_FALSE(index.covers(other));
  EXPECT_EQ(reconcile(node_app(), unit("active", "running", 100), other, std::nullopt, kNow, nullptr).status,
            AppStatus::Running);
}

// --- Usage -----------------------------------------------------------------------------

TEST(ReconcileUsage, SumsCpuAndRssOverTheUnitAndCollectsPorts) {
  core::ProcessInfo main = app_main(100);
  main.cpu_percent = 12.5;
  main.rss_bytes = 30'000'000;
  main.listen_ports = {3000};
  core::ProcessInfo helper = proc(101, kUnit, {"/bin/sh", "-c", "sleep 1"}, "/srv/api", ProcessKind::Other);
  helper.cpu_percent = 2.5;
  helper.rss_bytes = 1'000'000;
  helper.listen_ports = {3000, 9229};
  core::ProcessInfo outsider = proc(300, "", {"/usr/bin/top"}, "/", ProcessKind::Other);
  outsider.cpu_percent = 50;
  outsider.rss_bytes = 999;
  const AppState s = run(unit("active", "running", 100), {main, helper, outsider});
  EXPECT_DOUBLE_EQ(s.cpu_percent, 15.0);
  EXPECT_EQ(s.memory_bytes, 31'000'000u);
  EXPECT_FALSE(s.memory_from_systemd);
  EXPECT_EQ(s.listen_ports, (std::vector<std::uint16_t>{3000, 9229}));
}

TEST(ReconcileUsage, MemoryComesFromSystemdWhenItAccountsIt) {
  core::UnitStatus u = unit("active", "running", 100);
  u.memory_current_bytes = 52'000'000;
  core::ProcessInfo main = app_main(100);
  main.rss_bytes = 30'000'000;
  const AppState s = run(u, {main});
  EXPECT_EQ(s.memory_bytes, 52'000'000u);
  EXPECT_TRUE(s.memory_from_systemd);
}

TEST(ReconcileUsage, UptimeFromTheMainProcessElseFromTheStateChange) {
  core::UnitStatus u = unit("active", "running", 100);
  u.state_change_usec = kNow - 600'000'000;
  EXPECT_EQ(run(u, {app_main(100)}).uptime_seconds, 90);  // the main process started 90 s ago
  u.main_pid = 0;
  EXPECT_EQ(run(u, {}).uptime_seconds, 600);
  EXPECT_FALSE(run(unit("inactive", "dead"), {}).uptime_seconds);
}

TEST(ReconcileUsage, CopiesSystemdFields) {
  core::UnitStatus u = unit("active", "running", 100);
  u.restart_count = 2;
  const AppState s = run(u, {app_main(100)});
  EXPECT_EQ(s.name, "api");
  EXPECT_EQ(s.unit, kUnit);
  EXPECT_EQ(s.restart_count, 2u);
  EXPECT_EQ(s.load_state, "loaded");
  EXPECT_EQ(s.active_state, "active");
  EXPECT_EQ(s.sub_state, "running");
  EXPECT_EQ(s.updated_usec, kNow);
}

// --- Matching the app -------------------------------------------------------------------

TEST(MatchesApp, NodeScriptAbsoluteOrRelativeToCwd) {
  const auto def = node_app();
  EXPECT_TRUE(matches_app(def, proc(1, "", {"/usr/bin/node", "/srv/api/app.js"})));
  EXPECT_TRUE(matches_app(def, proc(1, "", {"node", "app.js"}, "/srv/api")));
  EXPECT_TRUE(matches_app(def, proc(1, "", {"node", "./app.js"}, "/srv/api/")));
  EXPECT_TRUE(matches_app(def, proc(1, "", {"node", "api/app.js"}, "/srv")));
  EXPECT_TRUE(matches_app(def, proc(1, "", {"node", "../api/lib/../app.js"}, "/srv/api")));
  EXPECT_TRUE(matches_app(def, proc(1, "", {"node", "--inspect", "app.js", "--port", "3000"}, "/srv/api")));
  EXPECT_FALSE(matches_app(def, proc(1, "", {"node", "app.js"}, "/srv/web")));
  EXPECT_FALSE(matches_app(def, proc(1, "", {"node", "app.js"}, "")));  // cwd unreadable: cannot resolve
  EXPECT_FALSE(matches_app(def, proc(1, "", {"node", "/srv/api/app.json"})));
}

TEST(MatchesApp, NodeScriptNeedsTheNodeKind) {
  EXPECT_FALSE(matches_app(node_app(), proc(1, "", {"vim", "/srv/api/app.js"}, "/srv/api", ProcessKind::Other)));
  EXPECT_FALSE(matches_app(node_app(), proc(1, "", {"python3", "/srv/api/app.js"}, "/srv/api", ProcessKind::Python)));
}

TEST(MatchesApp, PythonScript) {
  auto def = node_app();
  def.runtime = core::Runtime::PythonScript;
  def.script_path = "/srv/api/main.py";
  EXPECT_TRUE(matches_app(def, proc(1, "", {"/usr/bin/python3", "-u", "main.py"}, "/srv/api", ProcessKind::Python)));
  EXPECT_FALSE(matches_app(def, proc(1, "", {"node", "main.py"}, "/srv/api", ProcessKind::Node)));
}

TEST(MatchesApp, NpmStartIsANodeProcessInTheWorkingDirectory) {
  auto def = node_app();
  def.runtime = core::Runtime::NpmStart;
  def.script_path.clear();
  EXPECT_TRUE(matches_app(def, proc(1, "", {"npm", "start"}, "/srv/api")));
  EXPECT_TRUE(matches_app(def, proc(1, "", {"node", "server.js"}, "/srv/api/")));
  EXPECT_FALSE(matches_app(def, proc(1, "", {"node", "server.js"}, "/srv/web")));
  EXPECT_FALSE(matches_app(def, proc(1, "", {"sh", "-c", "node server.js"}, "/srv/api", ProcessKind::Other)));
}

TEST(MatchesApp, UvicornModuleWithPythonAndWorkingDirectory) {
  auto def = node_app();
  def.runtime = core::Runtime::Uvicorn;
  def.module = "orders.main:app";
  def.script_path.clear();
  const std::vector<std::string> argv = {"/usr/bin/python3", "-m", "uvicorn", "orders.main:app", "--port", "8000"};
  EXPECT_TRUE(matches_app(def, proc(1, "", argv, "/srv/api", ProcessKind::Python)));
  EXPECT_TRUE(matches_app(def, proc(1, "", argv, "", ProcessKind::Python)));  // cwd unreadable: module decides
  EXPECT_FALSE(matches_app(def, proc(1, "", argv, "/srv/other", ProcessKind::Python)));
  EXPECT_FALSE(matches_app(def, proc(1, "", argv, "/srv/api", ProcessKind::Node)));
  EXPECT_FALSE(matches_app(def, proc(1, "", {"/usr/bin/python3", "-m", "uvicorn", "orders.main:api"}, "/srv/api",
                                     ProcessKind::Python)));
}

TEST(MatchesApp, CustomByExeOrArgv) {
  auto def = node_app();
  def.runtime = core::Runtime::Custom;
  def.script_path = "/opt/tool/bin/server";
  core::ProcessInfo by_exe = proc(1, "", {"server", "--serve"}, "/", ProcessKind::Other);
  by_exe.exe = "/opt/tool/bin/server";
  EXPECT_TRUE(matches_app(def, by_exe));
  core::ProcessInfo by_argv0 = proc(1, "", {"/opt/tool/bin/server"}, "/", ProcessKind::Other);
  by_argv0.exe = "";  // not readable (another user's process)
  EXPECT_TRUE(matches_app(def, by_argv0));
  core::ProcessInfo shebang = proc(1, "", {"/bin/sh", "/opt/tool/bin/server"}, "/", ProcessKind::Other);
  shebang.exe = "/usr/bin/dash";
  EXPECT_TRUE(matches_app(def, shebang));
  core::ProcessInfo other = proc(1, "", {"/opt/tool/bin/client"}, "/", ProcessKind::Other);
  other.exe = "/opt/tool/bin/client";
  EXPECT_FALSE(matches_app(def, other));
}

TEST(MatchesApp, KernelThreadsAndZombiesNeverMatch) {
  auto def = node_app();
  def.runtime = core::Runtime::NpmStart;  // the loosest rule
  core::ProcessInfo kthread = proc(2, "", {}, "/srv/api");
  EXPECT_FALSE(matches_app(def, kthread));
  core::ProcessInfo zombie = proc(3, "", {"node", "app.js"}, "/srv/api");
  zombie.state = 'Z';
  EXPECT_FALSE(matches_app(def, zombie));
  core::ProcessInfo flagged = proc(4, "", {"node", "app.js"}, "/srv/api");
  flagged.kernel_thread = true;
  EXPECT_FALSE(matches_app(def, flagged));
}

// --- Helpers ----------------------------------------------------------------------------

TEST(ReconcileHelpers, SignalNamesAndShortExits) {
  EXPECT_EQ(signal_name(9), "SIGKILL");
  EXPECT_EQ(signal_name(15), "SIGTERM");
  EXPECT_EQ(signal_name(64), "signal 64");
  EXPECT_EQ(short_exit(ExitCode::Exited, 0), "exited 0");
  EXPECT_EQ(short_exit(ExitCode::None, 0), "");
}

// --- Monitored (unmanaged) processes -----------------------------------------------------

TEST(ReconcileMonitored, KeyIsUserAndQuotedArgv) {
  EXPECT_EQ(monitored_key("www", {"/usr/bin/python3", "worker.py", "--queue=a"}), "www:/usr/bin/python3 worker.py --queue=a");
  EXPECT_EQ(monitored_key("www", {"sh", "-c", "echo it's"}), "www:sh -c 'echo it'\\''s'");
  EXPECT_EQ(monitored_key("", {"x", ""}), ":x ''");
  // Different argv splits give different keys.
  EXPECT_NE(monitored_key("u", {"a b"}), monitored_key("u", {"a", "b"}));
}

TEST(ReconcileMonitored, RunningWithUsageThenStopped) {
  core::ProcessInfo a = proc(500, "", {"/usr/bin/python3", "worker.py"}, "/srv/w", ProcessKind::Python);
  a.user = "www";
  a.cpu_percent = 5;
  a.rss_bytes = 1000;
  a.start_time_usec = kNow - 10'000'000;
  core::ProcessInfo b = a;
  b.pid = 501;
  b.cpu_percent = 1;
  b.rss_bytes = 500;
  b.start_time_usec = kNow - 20'000'000;  // the older one
  core::ProcessInfo other_user = a;
  other_user.pid = 502;
  other_user.user = "bob";
  const MonitorSpec spec = monitor_spec_for(a, "worker");
  EXPECT_EQ(spec.key, "www:/usr/bin/python3 worker.py");

  const MonitoredState m = reconcile_monitored(spec, {a, b, other_user}, kNow);
  EXPECT_EQ(m.status, AppStatus::Running);
  EXPECT_EQ(m.pid, 501);
  EXPECT_EQ(m.pids, (std::vector<int>{500, 501}));
  EXPECT_DOUBLE_EQ(m.cpu_percent, 6.0);
  EXPECT_EQ(m.memory_bytes, 1500u);
  EXPECT_EQ(m.uptime_seconds, 20);
  EXPECT_EQ(m.name, "worker");

  const MonitoredState gone = reconcile_monitored(spec, {other_user}, kNow);
  EXPECT_EQ(gone.status, AppStatus::Stopped);
  EXPECT_EQ(gone.pid, 0);
  EXPECT_TRUE(gone.pids.empty());
}

}  // namespace
}  // namespace siax::monitor
