// MonitorService over fakes: a fake registry, a scripted process table and scripted
// unit statuses. Cycles are run by hand (run_cycle); one test checks that trigger()
// wakes the thread.
#include "agent/monitor_service.h"

#include <algorithm>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fakes/fake_registry.h"

namespace siax::agent {
namespace {

using namespace std::chrono_literals;

class ScriptedProcesses final : public procscan::ProcessSource {
 public:
  std::vector<core::ProcessInfo> table;
  std::optional<Error> fail;
  int scans = 0;
  Result<std::vector<core::ProcessInfo>> scan(std::chrono::steady_clock::time_point) override {
    ++scans;
    if (fail) return tl::unexpected(*fail);
    return table;
  }
};

core::AppDefinition node_app(const std::string& name) {
  core::AppDefinition d;
  d.name = name;
  d.runtime = core::Runtime::NodeScript;
  d.script_path = "/srv/" + name + "/server.js";
  d.working_directory = "/srv/" + name;
  d.user = "app";
  d.port = 3000;
  return d;
}

core::ProcessInfo node_process(int pid, const std::string& app, const std::string& unit) {
  core::ProcessInfo p;
  p.pid = pid;
  p.ppid = 1;
  p.user = "app";
  p.comm = "node";
  p.cmdline = {"/usr/bin/node", "/srv/" + app + "/server.js"};
  p.exe = "/usr/bin/node";
  p.cwd = "/srv/" + app;
  p.state = 'S';
  p.kind = core::ProcessKind::Node;
  p.unit = unit;
  p.rss_bytes = 10 * 1024 * 1024;
  p.start_time_usec = 1'000'000;
  return p;
}

core::UnitStatus unit(const std::string& app, const std::string& active, const std::string& sub, std::uint32_t pid) {
  core::UnitStatus u;
  u.unit = core::unit_name_for(app);
  u.load_state = "loaded";
  u.active_state = active;
  u.sub_state = sub;
  u.main_pid = pid;
  u.result = "success";
  return u;
}

class MonitorServiceTest : public ::testing::Test {
 protected:
  MonitorServiceTest() {
    MonitorDeps deps{registry, processes, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    deps.unit_status = [this](const std::string& app) -> Result<core::UnitStatus> {
      ++status_reads;
      auto it = units.find(app);
      if (it == units.end()) return fail(ErrorKind::Unavailable, "systemd_unavailable", "systemd is not reachable");
      return it->second;
    };
    deps.last_log_lines = [](const std::string&) { return std::vector<std::string>{"Error: Cannot find module 'x'"}; };
    deps.probe = [this](const core::HealthCheck&, std::uint16_t port, std::function<void(ProbeOutcome)> done) {
      probed_ports.push_back(port);
      done(next_probe);
    };
    deps.restart_app = [this](const std::string& app) {
      restarted.push_back(app);
      return std::string("restarted");
    };
    deps.on_state = [this](const monitor::AppState& s) { reported.push_back(s); };
    deps.on_event = [this](const monitor::Event& e) { cloud_events.push_back(e); };
    deps.on_removed = [this](const std::string& app) { removed.push_back(app); };
    deps.now_usec = [this] { return now; };
    deps.unit_states = [this]() -> Result<std::map<std::string, ports::UnitListEntry>> {
      if (!list_works) return fail(ErrorKind::Unavailable, "systemd_unavailable", "no list");
      std::map<std::string, ports::UnitListEntry> out;
      for (const auto& [app, u] : units) {
        if (unloaded.count(app) == 0) out[app] = {u.unit, u.load_state, u.active_state, u.sub_state};
      }
      return out;
    };
    saved_deps.emplace(deps);
    service = std::make_unique<MonitorService>(std::move(deps), MonitorOptions{});
  }

  /// "api" (pid 100) and "web" (pid 200), both running.
  void two_running_apps() {
    add_app(node_app("api"));
    add_app(node_app("web"));
    units["api"] = unit("api", "active", "running", 100);
    units["web"] = unit("web", "active", "running", 200);
    processes.table = {node_process(100, "api", "siax-app-api.service"),
                       node_process(200, "web", "siax-app-web.service")};
  }

  /// Starts over with other options (same fakes).
  void with_options(MonitorOptions o) { service = std::make_unique<MonitorService>(*saved_deps, o); }

  void add_app(const core::AppDefinition& def) { registry.apps[def.name] = registry::AppRecord{def, false, 1, 1}; }
  std::vector<std::string> event_kinds() const {
    std::vector<std::string> kinds;
    for (const auto& e : registry.events) kinds.push_back(e.app + ":" + e.kind);
    return kinds;
  }

  fakes::FakeRegistry registry;
  ScriptedProcesses processes;
  std::map<std::string, core::UnitStatus> units;
  ProbeOutcome next_probe{true, 5ms, ""};
  std::vector<std::uint16_t> probed_ports;
  std::vector<std::string> restarted;
  std::vector<monitor::AppState> reported;
  std::vector<monitor::Event> cloud_events;
  std::vector<std::string> removed;
  std::int64_t now = 10'000'000;
  int status_reads = 0;
  bool list_works = true;
  std::set<std::string> unloaded;  ///< units systemd does not list (it unloaded them)
  std::optional<MonitorDeps> saved_deps;
  std::unique_ptr<MonitorService> service;
};

TEST_F(MonitorServiceTest, ARunningAppIsRunningAndReportedOnceWhileNothingChanges) {
  add_app(node_app("api"));
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  service->run_cycle();
  auto st = service->state("api");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, monitor::AppStatus::Running) << st->reason;
  EXPECT_EQ(st->main_pid, 100);
  EXPECT_EQ(st->memory_bytes, 10u * 1024 * 1024);
  ASSERT_EQ(reported.size(), 1u);
  now += 5'000'000;
  service->run_cycle();
  EXPECT_EQ(reported.size(), 1u) << "an unchanged state is not reported again";
  EXPECT_TRUE(registry.events.empty());
  EXPECT_EQ(service->stats().cycles, 2u);
  EXPECT_EQ(service->stats().processes, 1u);
}

TEST_F(MonitorServiceTest, AStoppedUnloadedUnitIsNotReadAgainOnItsOwnEcho) {
  // Reading a stopped unit makes systemd load it (UnitNew), then unload it (UnitRemoved):
  // each signal triggers a re-read of that app, which must not read it again.
  add_app(node_app("api"));
  units["api"] = unit("api", "inactive", "dead", 0);
  unloaded.insert("api");
  service->run_cycle();
  const int reads = status_reads;
  service->run_partial({"api"});
  service->run_partial({"api"});
  EXPECT_EQ(status_reads, reads);
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Stopped);
  // Loaded again (someone started it): read at once.
  unloaded.clear();
  units["api"] = unit("api", "activating", "start", 0);
  service->run_partial({"api"});
  EXPECT_EQ(status_reads, reads + 1);
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Starting);
}

TEST_F(MonitorServiceTest, ReadsAUnitAgainOnlyWhenNamedOrItsMainProcessVanished) {
  // A long re-sync: its next list is far away (the first, full cycle stands in for it).
  int lists = 0;
  saved_deps->unit_states = [&lists]() -> Result<std::map<std::string, ports::UnitListEntry>> {
    ++lists;
    return std::map<std::string, ports::UnitListEntry>{};
  };
  with_options(MonitorOptions{.scan_interval = 5s, .resync_interval = 5000s});
  two_running_apps();
  service->run_cycle();
  EXPECT_EQ(status_reads, 2) << "the first cycle reads every unit";
  service->run_cycle();
  service->run_cycle();
  EXPECT_EQ(status_reads, 2) << "nothing moved: systemd is not asked";
  EXPECT_EQ(service->stats().unit_reads_saved, 4u);

  units["api"] = unit("api", "failed", "failed", 0);  // unannounced: seen on a signal or by the safety net
  service->run_cycle();
  EXPECT_EQ(status_reads, 2);
  service->trigger("api");  // the signal
  service->run_cycle();
  EXPECT_EQ(status_reads, 3);
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Failed);
  EXPECT_EQ(service->state("web")->status, monitor::AppStatus::Running);

  processes.table = {};  // web's main process is gone although systemd still says running
  units["web"].main_pid = 201;
  service->run_cycle();
  EXPECT_EQ(status_reads, 4);
  EXPECT_EQ(service->state("web")->main_pid, 201);
  EXPECT_EQ(service->stats().unit_reads, 4u);
  EXPECT_EQ(lists, 0) << "no list of units per cycle";
}

TEST_F(MonitorServiceTest, TriggersAndTheSafetyNetResyncReadUnitsAgain) {
  with_options(MonitorOptions{.scan_interval = 5s, .resync_interval = 30s});  // a list every 6 cycles
  two_running_apps();
  service->run_cycle();
  ASSERT_EQ(status_reads, 2);
  units["api"].restart_count = 1;  // a change only a signal tells
  service->trigger("api");
  service->run_cycle();
  EXPECT_EQ(status_reads, 3) << "trigger(app) re-reads that app only";
  EXPECT_EQ(service->state("api")->restart_count, 1u);
  service->trigger();
  service->run_cycle();
  EXPECT_EQ(status_reads, 5) << "trigger() re-reads every app";
  // Quiet cycles: one list per period, and no unit read while the list shows nothing moved.
  for (int i = 0; i < 12; ++i) service->run_cycle();
  EXPECT_EQ(status_reads, 5);
  EXPECT_EQ(service->stats().resync_lists, 2u);
  // A change whose signal was lost: the next list shows it, and only that unit is read.
  units["web"] = unit("web", "failed", "failed", 0);
  std::vector<int> per_cycle;
  for (int i = 0; i < 6; ++i) {
    const int before = status_reads;
    service->run_cycle();
    per_cycle.push_back(status_reads - before);
  }
  EXPECT_EQ(std::accumulate(per_cycle.begin(), per_cycle.end(), 0), 1);
  EXPECT_EQ(service->state("web")->status, monitor::AppStatus::Failed);
  // Without the list (systemd refused it), the units take turns instead: each read once
  // in six cycles, never both at once.
  list_works = false;
  per_cycle.clear();
  for (int i = 0; i < 12; ++i) {
    const int before = status_reads;
    service->run_cycle();
    per_cycle.push_back(status_reads - before);
  }
  EXPECT_EQ(std::count(per_cycle.begin(), per_cycle.end(), 1), 4) << "2 apps x 2 rounds";
  EXPECT_EQ(std::count(per_cycle.begin(), per_cycle.end(), 2), 0);
}

TEST(MonitorResync, SpreadsEveryUnitOverTheInterval) {
  EXPECT_EQ(resync_period(300s, 5s), 60u);
  EXPECT_EQ(resync_period(5s, 5s), 1u);
  EXPECT_EQ(resync_period(1s, 5s), 1u) << "shorter than a cycle: every unit every cycle";
  EXPECT_EQ(resync_period(300s, 0s), 1u);
  // 200 apps over 60 cycles: each read exactly once, at most 4 in one cycle.
  std::vector<int> reads_per_cycle(60, 0);
  for (std::size_t phase = 0; phase < 60; ++phase) {
    for (std::size_t app = 0; app < 200; ++app) reads_per_cycle[phase] += resync_turn(app, phase, 60) ? 1 : 0;
  }
  EXPECT_EQ(std::accumulate(reads_per_cycle.begin(), reads_per_cycle.end(), 0), 200);
  EXPECT_EQ(*std::max_element(reads_per_cycle.begin(), reads_per_cycle.end()), 4);
  EXPECT_TRUE(resync_turn(7, 3, 1));
}

TEST_F(MonitorServiceTest, AnAppBeingDeletedRaisesNoEventAndKeepsItsLastState) {
  add_app(node_app("api"));
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  service->run_cycle();
  const auto events_before = registry.events.size();
  service->hold("api");
  units["api"] = unit("api", "inactive", "dead", 0);  // the delete stopped it and removed its unit
  units["api"].load_state = "not-found";
  processes.table = {};
  service->run_cycle();
  EXPECT_EQ(registry.events.size(), events_before);
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Running) << "the last state is kept";
  registry.apps.erase("api");  // the delete went through
  service->run_cycle();
  EXPECT_FALSE(service->state("api"));
  EXPECT_EQ(removed, std::vector<std::string>{"api"});
  EXPECT_EQ(registry.events.size(), events_before);
  add_app(node_app("api"));  // registered again: watched again (no hold left behind)
  service->run_cycle();
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Unknown);
}

TEST_F(MonitorServiceTest, ReleasingAHoldAfterAFailedDeleteWatchesTheAppAgain) {
  add_app(node_app("api"));
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  service->run_cycle();
  service->hold("api");
  units["api"] = unit("api", "failed", "failed", 0);
  processes.table = {};
  service->run_cycle();
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Running);
  service->release("api");
  service->run_cycle();
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Failed);
}

TEST_F(MonitorServiceTest, KeepsTheUnitStatusItReadWhileItIsRecent) {
  add_app(node_app("api"));
  EXPECT_FALSE(service->unit_status("api")) << "nothing before the first cycle";
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  service->run_cycle();
  auto u = service->unit_status("api");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->main_pid, 100u);
  EXPECT_FALSE(service->unit_status("other"));
  now += 3 * 5'000'000 + 1;  // three scan intervals without a cycle: too old to show
  EXPECT_FALSE(service->unit_status("api"));
  units.erase("api");  // systemd unreachable: no status to keep
  service->trigger();   // (what the unit watcher does when it loses the bus)
  service->run_cycle();
  EXPECT_FALSE(service->unit_status("api"));
}

TEST_F(MonitorServiceTest, AFailureBecomesOneEventWithItsReasonAndLastLogLines) {
  add_app(node_app("api"));
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  service->run_cycle();
  auto failed = unit("api", "failed", "failed", 0);
  failed.result = "exit-code";
  failed.exec_main_code = core::ExitCode::Exited;
  failed.exec_main_status = 1;
  units["api"] = failed;
  processes.table.clear();
  service->run_cycle();
  service->run_cycle();
  ASSERT_EQ(event_kinds(), (std::vector<std::string>{"api:failed"}));
  EXPECT_NE(registry.events[0].message.find("status 1"), std::string::npos) << registry.events[0].message;
  EXPECT_NE(registry.events[0].message.find("Cannot find module"), std::string::npos) << registry.events[0].message;
  EXPECT_EQ(registry.events[0].severity, "error");
  ASSERT_EQ(cloud_events.size(), 1u);
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Failed);
  EXPECT_EQ(reported.back().status, monitor::AppStatus::Failed);
}

TEST_F(MonitorServiceTest, ACopyOutsideTheUnitIsAZombie) {
  add_app(node_app("api"));
  units["api"] = unit("api", "inactive", "dead", 0);
  processes.table = {node_process(4242, "api", "session-1.scope")};
  service->run_cycle();
  auto st = service->state("api");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, monitor::AppStatus::Zombie);
  EXPECT_EQ(st->stray_pids, std::vector<int>{4242});
  EXPECT_EQ(event_kinds(), (std::vector<std::string>{"api:zombie"}));
}

TEST_F(MonitorServiceTest, SystemdUnreachableIsUnknownNotAnError) {
  add_app(node_app("api"));
  service->run_cycle();
  auto st = service->state("api");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, monitor::AppStatus::Unknown);
  EXPECT_TRUE(registry.events.empty());
}

TEST_F(MonitorServiceTest, FailingHealthChecksMakeTheAppUnhealthyAndRestartItWhenAsked) {
  auto def = node_app("api");
  core::HealthCheck check;
  check.port = 3100;
  check.failures_before_unhealthy = 2;
  check.restart_when_unhealthy = true;
  check.interval = 1000ms;
  def.health_check = check;
  add_app(def);
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  next_probe = ProbeOutcome{false, 0ms, "timed out after 2000 ms"};

  service->run_cycle();  // running; first probe fails (1 of 2)
  EXPECT_EQ(probed_ports, std::vector<std::uint16_t>{3100});
  now += 1'500'000;
  service->run_cycle();  // second probe fails: unhealthy from the next cycle on
  now += 100'000;
  service->run_cycle();
  auto st = service->state("api");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, monitor::AppStatus::Unhealthy) << st->reason;
  ASSERT_TRUE(st->health);
  EXPECT_EQ(st->health->last_error, "timed out after 2000 ms");
  EXPECT_EQ(restarted, std::vector<std::string>{"api"});
  auto kinds = event_kinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "api:health_restart"), kinds.end());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "api:unhealthy"), kinds.end());
  EXPECT_EQ(service->stats().probe_failures, 2u);
}

TEST_F(MonitorServiceTest, PassingHealthChecksKeepTheAppRunning) {
  auto def = node_app("api");
  def.health_check = core::HealthCheck{};
  add_app(def);
  units["api"] = unit("api", "active", "running", 100);
  processes.table = {node_process(100, "api", "siax-app-api.service")};
  service->run_cycle();
  service->run_cycle();
  EXPECT_EQ(probed_ports, std::vector<std::uint16_t>{3000}) << "the app's own port; the interval not yet over";
  EXPECT_EQ(service->state("api")->status, monitor::AppStatus::Running);
  EXPECT_TRUE(restarted.empty());
}

TEST_F(MonitorServiceTest, MonitoredProcessesAreRunningThenGoneWithAnEvent) {
  const std::vector<std::string> argv = {"/usr/bin/python3", "worker.py"};
  registry.monitored["k"] = registry::MonitoredProcess{"k", "worker", monitored_command(argv), "app", 1};
  core::ProcessInfo p;
  p.pid = 77;
  p.user = "app";
  p.cmdline = argv;
  p.kind = core::ProcessKind::Python;
  p.state = 'S';
  p.rss_bytes = 4096;
  processes.table = {p};
  service->run_cycle();
  auto m = service->monitored();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].status, monitor::AppStatus::Running);
  EXPECT_EQ(m[0].pid, 77);
  processes.table.clear();
  service->run_cycle();
  m = service->monitored();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].status, monitor::AppStatus::Stopped);
  ASSERT_EQ(registry.events.size(), 1u);
  EXPECT_EQ(registry.events[0].kind, "monitored_gone");
}

TEST_F(MonitorServiceTest, AFailedScanIsReportedInTheStatsAndTheCycleGoesOn) {
  add_app(node_app("api"));
  units["api"] = unit("api", "active", "running", 100);
  processes.fail = Error{ErrorKind::Unavailable, "proc_unreadable", "cannot read /proc", {}};
  service->run_cycle();
  EXPECT_NE(service->stats().last_error.find("cannot read /proc"), std::string::npos);
  ASSERT_TRUE(service->state("api"));
}

TEST_F(MonitorServiceTest, RemovedAppsAreForgotten) {
  add_app(node_app("api"));
  units["api"] = unit("api", "active", "running", 100);
  service->run_cycle();
  ASSERT_TRUE(service->state("api"));
  registry.apps.clear();
  service->run_cycle();
  EXPECT_FALSE(service->state("api"));
  EXPECT_TRUE(service->states().empty());
  EXPECT_EQ(removed, std::vector<std::string>{"api"});
  service->run_cycle();
  EXPECT_EQ(removed.size(), 1u) << "told once";
}

TEST(MonitoredCommand, RoundTripsAndRefusesWhatItDidNotWrite) {
  const std::vector<std::string> argv = {"node", "a b.js", "--x=\"y\""};
  EXPECT_EQ(monitored_argv(monitored_command(argv)), argv);
  EXPECT_TRUE(monitored_argv("node app.js").empty());
  EXPECT_TRUE(monitored_argv("[1, 2]").empty());
}

TEST_F(MonitorServiceTest, TriggerWakesTheThreadBeforeTheInterval) {
  // A long interval: only trigger() can cause the second cycle within the wait below.
  MonitorDeps deps{registry, processes, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  deps.unit_status = [](const std::string&) -> Result<core::UnitStatus> { return core::UnitStatus{}; };
  deps.now_usec = [] { return std::int64_t{1}; };
  MonitorService slow(std::move(deps), MonitorOptions{std::chrono::hours(1), 1ms});
  slow.start();
  auto wait_for_cycles = [&](std::uint64_t n) {
    for (int i = 0; i < 1000 && slow.stats().cycles < n; ++i) std::this_thread::sleep_for(10ms);
    return slow.stats().cycles >= n;
  };
  ASSERT_TRUE(wait_for_cycles(1));
  slow.trigger();
  EXPECT_TRUE(wait_for_cycles(2));
  slow.stop();
  EXPECT_EQ(slow.stats().triggered_cycles, 1u);
}

}  // namespace
}  // namespace siax::agent
