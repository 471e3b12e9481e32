// Integration tests of the systemd layer against a real systemd: they run inside the
// sandbox (tools/sandbox/siax-sandbox), as root, started by scripts/test.sh. Real
// Node.js and FastAPI/uvicorn apps, real unit files, real D-Bus.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "adapters/linux/unit_watcher.h"
#include "units/app_units.h"

namespace siax {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kApps = std::string(SIAX_FIXTURES_DIR) + "/apps";
constexpr const char* kUser = "siaxapp";  // created by scripts/test.sh inside the sandbox

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// GET http://127.0.0.1:port/path, retried until `deadline`; "" when nothing answered.
std::string http_get(std::uint16_t port, const std::string& path, std::chrono::milliseconds wait = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
        std::string resp;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(n));
        ::close(fd);
        auto body = resp.find("\r\n\r\n");
        if (resp.starts_with("HTTP/1.") && body != std::string::npos) return resp.substr(body + 4);
      } else {
        ::close(fd);
      }
    } else {
      ::close(fd);
    }
    std::this_thread::sleep_for(50ms);
  }
  return "";
}

bool pid_alive(std::uint32_t pid) { return pid != 0 && fs::exists("/proc/" + std::to_string(pid)); }

/// Waits until `pred` holds or `wait` passes (for effects that systemd completes asynchronously).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds wait = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class SystemdLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "run inside the sandbox as root (scripts/test.sh)";
    auto bus = adapters::SdbusSystemd::connect({});
    ASSERT_TRUE(bus) << bus.error().message;
    systemd = std::move(*bus);
    units = std::make_unique<units::AppUnits>(*systemd, store, host, units::PreflightSettings{});
  }
  void TearDown() override {
    for (const auto& name : created) (void)units->remove(name);
  }

  core::AppDefinition node_app(const std::string& name, std::uint16_t port) {
    created.push_back(name);
    core::AppDefinition d;
    d.name = name;
    d.runtime = core::Runtime::NodeScript;
    d.script_path = kApps + "/node-http/server.js";
    d.working_directory = kApps + "/node-http";
    d.user = kUser;
    d.environment["PORT"] = std::to_string(port);
    return d;
  }

  std::unique_ptr<adapters::SdbusSystemd> systemd;
  adapters::FsUnitStore store;
  adapters::LinuxHost host;
  std::unique_ptr<units::AppUnits> units;
  std::vector<std::string> created;
};

TEST_F(SystemdLayer, NodeAppWholeLifecycle) {
  const auto port = free_port();
  auto installed = units->install(node_app("it-node", port));
  ASSERT_TRUE(installed) << installed.error().message;
  EXPECT_TRUE(fs::exists("/etc/systemd/system/siax-app-it-node.service"));

  auto st = units->status("it-node");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->load_state, "loaded");
  EXPECT_EQ(st->phase(), core::UnitPhase::Inactive);

  // start: main PID alive, app answering on its port
  ASSERT_TRUE(units->start("it-node"));
  st = units->status("it-node");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->phase(), core::UnitPhase::Active);
  EXPECT_EQ(st->sub_state, "running");
  const auto pid = st->main_pid;
  ASSERT_TRUE(pid_alive(pid));
  EXPECT_EQ(st->control_group, "/system.slice/siax-app-it-node.service");
  auto body = http_get(port, "/");
  EXPECT_THAT(body, ::testing::HasSubstr("\"pid\":" + std::to_string(pid)));
  // the app runs as the configured user
  struct stat proc_st {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &proc_st), 0);
  EXPECT_EQ(proc_st.st_uid, host.find_user(kUser)->uid);

  // restart: a new PID, the old one gone
  ASSERT_TRUE(units->restart("it-node"));
  st = units->status("it-node");
  ASSERT_TRUE(st);
  const auto pid2 = st->main_pid;
  EXPECT_NE(pid2, pid);
  EXPECT_TRUE(pid_alive(pid2));
  // the one-call list of states agrees with the unit's own status
  auto loaded = units->loaded_states();
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->contains("it-node"));
  EXPECT_EQ(loaded->at("it-node").unit, "siax-app-it-node.service");
  EXPECT_EQ(loaded->at("it-node").load_state, "loaded");
  EXPECT_EQ(loaded->at("it-node").active_state, "active");
  EXPECT_EQ(loaded->at("it-node").sub_state, "running");
  EXPECT_TRUE(eventually([&] { return !pid_alive(pid); }));
  EXPECT_THAT(http_get(port, "/"), ::testing::HasSubstr("\"pid\":" + std::to_string(pid2)));

  // stop: PID gone, unit inactive
  ASSERT_TRUE(units->stop("it-node"));
  st = units->status("it-node");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->phase(), core::UnitPhase::Inactive);
  EXPECT_EQ(st->main_pid, 0u);
  EXPECT_FALSE(pid_alive(pid2));

  // enable / disable: the WantedBy link comes and goes
  const char* link = "/etc/systemd/system/multi-user.target.wants/siax-app-it-node.service";
  ASSERT_TRUE(units->enable("it-node"));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(units->status("it-node")->unit_file_state, "enabled");
  ASSERT_TRUE(units->enable("it-node"));  // idempotent
  ASSERT_TRUE(units->disable("it-node"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(link)));
  EXPECT_EQ(units->status("it-node")->unit_file_state, "disabled");

  // remove (while running and enabled): unit file, link, unit and every process gone
  ASSERT_TRUE(units->enable("it-node"));
  ASSERT_TRUE(units->start("it-node"));
  const auto pid3 = units->status("it-node")->main_pid;
  ASSERT_TRUE(pid_alive(pid3));
  auto removed = units->remove("it-node");
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_FALSE(fs::exists("/etc/systemd/system/siax-app-it-node.service"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(link)));
  EXPECT_FALSE(pid_alive(pid3));
  st = units->status("it-node");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->load_state, "not-found");
  EXPECT_EQ(st->phase(), core::UnitPhase::NotFound);
  auto procs = systemd->unit_processes("siax-app-it-node.service");
  ASSERT_TRUE(procs);
  EXPECT_TRUE(procs->empty());
  auto listed = units->list_installed();
  ASSERT_TRUE(listed);
  EXPECT_THAT(*listed, ::testing::Not(::testing::Contains("it-node")));
  ASSERT_TRUE(units->remove("it-node"));  // safe to repeat
}

TEST_F(SystemdLayer, FastApiAppUnderUvicorn) {
  const auto port = free_port();
  core::AppDefinition d;
  d.name = "it-fastapi";
  created.push_back(d.name);
  d.runtime = core::Runtime::Uvicorn;
  d.module = "main:app";
  d.port = port;
  d.working_directory = kApps + "/fastapi";
  d.user = kUser;
  d.environment["GREETING"] = "hola";
  auto installed = units->install(d);
  ASSERT_TRUE(installed) << installed.error().message;
  ASSERT_TRUE(units->start("it-fastapi"));
  auto st = units->status("it-fastapi");
  ASSERT_TRUE(st);
  ASSERT_TRUE(pid_alive(st->main_pid));
  auto body = http_get(port, "/health", 20s);
  EXPECT_THAT(body, ::testing::HasSubstr("\"pid\":" + std::to_string(st->main_pid)));
  EXPECT_THAT(body, ::testing::HasSubstr("\"greeting\":\"hola\""));
  const auto pid = st->main_pid;
  ASSERT_TRUE(units->restart("it-fastapi"));
  EXPECT_NE(units->status("it-fastapi")->main_pid, pid);
  ASSERT_TRUE(units->stop("it-fastapi"));
  EXPECT_EQ(units->status("it-fastapi")->phase(), core::UnitPhase::Inactive);
  ASSERT_TRUE(units->remove("it-fastapi"));
  EXPECT_FALSE(fs::exists("/etc/systemd/system/siax-app-it-fastapi.service"));
}

TEST_F(SystemdLayer, NpmStartRuns) {
  const auto port = free_port();
  auto d = node_app("it-npm", port);
  d.runtime = core::Runtime::NpmStart;
  d.script_path.clear();
  d.environment["HOME"] = "/tmp";  // npm wants a writable home for its cache
  ASSERT_TRUE(units->install(d));
  auto started = units->start("it-npm");
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_THAT(http_get(port, "/", 20s), ::testing::HasSubstr("\"ok\":true"));
}

TEST_F(SystemdLayer, HostileValuesReachTheAppExactly) {
  const auto port = free_port();
  auto d = node_app("it-hostile", port);
  const std::string greeting = R"(say "hi" \ to 50% of $HOME and ${USER} %n)";
  d.environment["GREETING"] = greeting;
  d.args = {"$PATH", "a b", "back\\slash", "%i", "quote\"d"};
  d.description = "100% hostile %i";
  ASSERT_TRUE(units->install(d));
  ASSERT_TRUE(units->start("it-hostile"));
  auto body = http_get(port, "/");
  EXPECT_THAT(body, ::testing::HasSubstr(R"("greeting":"say \"hi\" \\ to 50% of $HOME and ${USER} %n")"));
  EXPECT_THAT(body, ::testing::HasSubstr(R"("argv":["$PATH","a b","back\\slash","%i","quote\"d"])"));
  EXPECT_EQ(units->status("it-hostile")->description, "100% hostile %i");
}

TEST_F(SystemdLayer, AppThatExitsAtOnceIsAFailedStartWithItsExitStatus) {
  // The settle window must outlast the interpreter's start-up, or the exit falls after it:
  // Debian 13's node took 0.8-0.95 s to run exit1.js on the loaded CI machine (Debian 12's
  // 0.25 s), more than the default 0.5 s. The app fails within the window, so a long one
  // costs nothing here.
  auto slow_bus = adapters::SdbusSystemd::connect({.start_settle = 10s});
  ASSERT_TRUE(slow_bus) << slow_bus.error().message;
  units::AppUnits settled(**slow_bus, store, host, units::PreflightSettings{});
  for (auto policy : {core::RestartPolicy::No, core::RestartPolicy::Always}) {
    core::AppDefinition d;
    d.name = policy == core::RestartPolicy::No ? "it-fail-no" : "it-fail-always";
    created.push_back(d.name);
    d.runtime = core::Runtime::NodeScript;
    d.script_path = kApps + "/failing/exit1.js";
    d.working_directory = kApps + "/failing";
    d.user = kUser;
    d.restart_policy = policy;
    d.restart_sec = 30;  // stays in auto-restart while we look
    ASSERT_TRUE(settled.install(d));
    auto s = settled.start(d.name);
    ASSERT_FALSE(s) << d.name << " started although it exits 1";
    EXPECT_EQ(s.error().kind, ErrorKind::OperationFailed);
    EXPECT_EQ(s.error().code, "start_failed");
    ASSERT_NE(s.error().detail("exit_status"), nullptr);
    EXPECT_EQ(*s.error().detail("exit_status"), "1");
    EXPECT_EQ(*s.error().detail("exit_code"), "exited");
    EXPECT_EQ(*s.error().detail("result"), "exit-code");
    EXPECT_THAT(s.error().message, ::testing::HasSubstr("exited with status 1"));
    auto st = settled.status(d.name);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->phase(),
              policy == core::RestartPolicy::No ? core::UnitPhase::Failed : core::UnitPhase::AutoRestart);
    ASSERT_TRUE(settled.remove(d.name));
    EXPECT_EQ(settled.status(d.name)->phase(), core::UnitPhase::NotFound);
  }
}

TEST_F(SystemdLayer, LifecycleOfAnUnknownAppIsNotFound) {
  auto s = units->start("it-never-registered");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::NotFound);
  // The adapter itself, asked for a unit systemd does not know:
  auto direct = systemd->start("siax-app-it-never-registered.service");
  ASSERT_FALSE(direct);
  EXPECT_EQ(direct.error().kind, ErrorKind::NotFound);
}

TEST_F(SystemdLayer, ChecksBeforeActingChangeNothing) {
  auto d = node_app("it-bad", free_port());
  d.script_path = kApps + "/node-http/missing.js";
  auto out = units->install(d);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "file_not_found");
  d = node_app("it-bad", free_port());
  d.user = "no-such-user";
  out = units->install(d);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "user_not_found");
  d = node_app("it-bad", free_port());
  d.user = "root";
  out = units->install(d);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "root_not_allowed");
  EXPECT_FALSE(fs::exists("/etc/systemd/system/siax-app-it-bad.service"));
}

TEST_F(SystemdLayer, StatusOfManyUnitsAndPermissionsAsRoot) {
  auto p = units->permissions();
  EXPECT_TRUE(p.systemd_reachable);
  EXPECT_TRUE(p.read_status);
  EXPECT_TRUE(p.manage_units);
  EXPECT_TRUE(p.write_unit_files);
  EXPECT_TRUE(p.read_journal);
  EXPECT_TRUE(p.missing.empty());
}

/// Runs the CLI (the same layer) as an unprivileged user; returns its exit code and output.
std::pair<int, std::string> run_as(const std::string& user, const std::string& args) {
  std::string cmd = "runuser -u " + user + " -- " + SIAX_AGENT_BIN + " --json " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(SystemdLayer, UnprivilegedUserGetsPermissionErrorsAndChangesNothing) {
  const auto port = free_port();
  ASSERT_TRUE(units->install(node_app("it-priv", port)));
  ASSERT_TRUE(units->start("it-priv"));
  const auto pid = units->status("it-priv")->main_pid;

  // what it is allowed to do
  auto [pcode, perms] = run_as(kUser, "permissions");
  EXPECT_EQ(pcode, 0) << perms;
  EXPECT_THAT(perms, ::testing::HasSubstr("\"manage_units\": false"));
  EXPECT_THAT(perms, ::testing::HasSubstr("\"write_unit_files\": false"));
  EXPECT_THAT(perms, ::testing::HasSubstr("\"read_status\": true"));

  // lifecycle: refused by systemd/polkit, with a permission error naming the right
  for (const char* verb : {"stop", "restart", "disable"}) {
    auto [code, out] = run_as(kUser, std::string("unit ") + verb + " it-priv");
    EXPECT_EQ(code, 4) << verb << ": " << out;
    EXPECT_THAT(out, ::testing::HasSubstr("permission_denied")) << verb;
    EXPECT_THAT(out, ::testing::HasSubstr("docs/SECURITY.md")) << verb;
  }
  EXPECT_EQ(units->status("it-priv")->main_pid, pid) << "the app must keep running";

  // install: refused before anything is written
  std::ofstream("/run/it-priv2.json")
      << R"({"app_name":"it-priv2","script_path":")" << kApps << R"(/node-http/server.js","working_directory":")"
      << kApps << R"(/node-http","user":"siaxapp"})";
  ::chmod("/run/it-priv2.json", 0644);
  auto [icode, iout] = run_as(kUser, "unit install /run/it-priv2.json");
  EXPECT_EQ(icode, 4) << iout;
  EXPECT_THAT(iout, ::testing::HasSubstr("write_unit_files"));
  EXPECT_FALSE(fs::exists("/etc/systemd/system/siax-app-it-priv2.service"));

  // remove: refused, the unit file stays, the app keeps running
  auto [rcode, rout] = run_as(kUser, "unit remove it-priv");
  EXPECT_EQ(rcode, 4) << rout;
  EXPECT_TRUE(fs::exists("/etc/systemd/system/siax-app-it-priv.service"));
  EXPECT_EQ(units->status("it-priv")->main_pid, pid);
  EXPECT_TRUE(pid_alive(pid));
}

TEST_F(SystemdLayer, PolkitRuleGrantsExactlyTheSiaxUnits) {
  ASSERT_TRUE(units->install(node_app("it-granted", free_port())));
  ASSERT_TRUE(units->start("it-granted"));
  const auto pid = units->status("it-granted")->main_pid;

  // Install the project's rule (and its unit check) for the test user, as the deploy script does.
  const std::string installer = std::string(SIAX_SOURCE_DIR) + "/packaging/polkit/install-polkit-rule.sh";
  ASSERT_EQ(::system((installer + " --user " + kUser + " >/dev/null").c_str()), 0);
  // polkitd reloads its rules on change; restarting it makes that immediate.
  ASSERT_TRUE(systemd->restart("polkit.service"));

  // polkitd compiles the rules in the background after a restart: wait until they apply.
  std::string perms;
  EXPECT_TRUE(eventually(
      [&] {
        perms = run_as(kUser, "permissions").second;
        return perms.find("\"manage_units\": true") != std::string::npos;
      },
      15s))
      << perms;

  auto [code, out] = run_as(kUser, "unit restart it-granted");
  EXPECT_EQ(code, 0) << out;
  const auto pid2 = units->status("it-granted")->main_pid;
  EXPECT_NE(pid2, pid);
  EXPECT_TRUE(pid_alive(pid2));
  auto [scode, sout] = run_as(kUser, "unit stop it-granted");
  EXPECT_EQ(scode, 0) << sout;
  EXPECT_EQ(units->status("it-granted")->phase(), core::UnitPhase::Inactive);

  // Still not allowed: other units, and unit files (enable/disable, writing units).
  auto other = ::system("runuser -u siaxapp -- systemctl stop systemd-journald.service >/dev/null 2>&1");
  EXPECT_NE(WEXITSTATUS(other), 0);
  EXPECT_EQ(units->status("it-granted")->load_state, "loaded");
  auto [dcode, dout] = run_as(kUser, "unit disable it-granted");
  EXPECT_EQ(dcode, 4) << dout;

  ASSERT_EQ(::system((installer + " --remove >/dev/null").c_str()), 0);
  ASSERT_TRUE(systemd->restart("polkit.service"));
}

}  // namespace
}  // namespace siax

namespace siax {
namespace {

TEST_F(SystemdLayer, UnitWatcherHearsOfChangesToOurUnitsOnly) {
  std::mutex mutex;
  std::vector<std::string> heard;
  adapters::UnitWatcher watcher([&](const std::string& app) {
    std::lock_guard lock(mutex);
    heard.push_back(app);
  });
  watcher.start();
  ASSERT_TRUE(eventually([&] { return watcher.connected(); }));
  const auto port = free_port();
  ASSERT_TRUE(units->install(node_app("it-watch", port)));
  ASSERT_TRUE(units->start("it-watch"));
  auto heard_of = [&](const std::string& app) {
    std::lock_guard lock(mutex);
    return std::find(heard.begin(), heard.end(), app) != heard.end();
  };
  EXPECT_TRUE(eventually([&] { return heard_of("it-watch"); })) << "no signal for siax-app-it-watch.service";
  // A unit that is not ours is not reported as an app.
  {
    std::lock_guard lock(mutex);
    heard.clear();
  }
  ASSERT_EQ(std::system("systemctl start systemd-tmpfiles-clean.service >/dev/null 2>&1 || true"), 0);
  ASSERT_TRUE(units->stop("it-watch"));
  EXPECT_TRUE(eventually([&] { return heard_of("it-watch"); }));
  std::lock_guard lock(mutex);
  for (const auto& app : heard) EXPECT_TRUE(app.empty() || app == "it-watch") << app;
}

}  // namespace
}  // namespace siax
