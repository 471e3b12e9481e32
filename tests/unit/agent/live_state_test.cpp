// LiveFeed: the usage patch the monitor sends each cycle must be the same fields, with
// the same values, as the whole object app_summary_json builds.
#include "agent/live_state.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace siax::agent {
namespace {

using nlohmann::json;

registry::AppRecord record_of(const std::string& name) {
  registry::AppRecord r;
  r.definition.name = name;
  r.definition.runtime = core::Runtime::Custom;
  return r;
}

core::UnitStatus running(std::uint32_t pid) {
  core::UnitStatus u;
  u.unit = "siax-app-a.service";
  u.load_state = "loaded";
  u.active_state = "active";
  u.sub_state = "running";
  u.main_pid = pid;
  u.state_change_mono_usec = 100;
  return u;
}

monitor::AppState seen(std::uint32_t pid, double cpu, std::uint64_t mem, std::int64_t uptime) {
  monitor::AppState s;
  s.name = "a";
  s.status = monitor::AppStatus::Running;
  s.active_state = "active";
  s.sub_state = "running";
  s.main_pid = static_cast<int>(pid);
  s.cpu_percent = cpu;
  s.memory_bytes = mem;
  s.uptime_seconds = uptime;
  s.updated_usec = 1234;
  return s;
}

TEST(LiveUsage, UsageJsonIsWhatTheSummaryHolds) {
  const auto summary = app_summary_json(record_of("a"), running(42), "", seen(42, 1.5, 4096, 9));
  const auto usage = usage_json(seen(42, 1.5, 4096, 9));
  for (const auto& f : state::StateStore::usage_fields()) {
    ASSERT_TRUE(usage.contains(f)) << f;
    EXPECT_EQ(summary.at(f), usage.at(f)) << f;
  }
}

TEST(LiveUsage, AUsageOnlyMoveIsPatchedAndEqualsAWholeRebuild) {
  state::StateStore patched(state::StoreOptions{.usage_interval_ms = 1000});
  state::StateStore rebuilt(state::StoreOptions{.usage_interval_ms = 1000});
  LiveFeed feed(patched);
  const auto rec = record_of("a");
  feed.app(rec, running(42), seen(42, 0.0, 4096, 1));
  (void)rebuilt.put_app("a", app_summary_json(rec, running(42), "", seen(42, 0.0, 4096, 1)), json(), 0);
  EXPECT_EQ(*patched.app("a"), *rebuilt.app("a"));
  // Later, only the figures moved: the feed patches; the result is the whole object rebuilt.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto v = patched.version();
  feed.app(rec, running(42), seen(42, 3.0, 8192, 7));
  EXPECT_EQ(patched.version(), v + 1);
  EXPECT_EQ(*patched.app("a"), app_summary_json(rec, running(42), "", seen(42, 3.0, 8192, 7)));
  // Within the usage interval nothing is put; a status change always is.
  feed.app(rec, running(42), seen(42, 5.0, 8192, 8));
  EXPECT_EQ(patched.version(), v + 1);
  auto crashed = seen(42, 5.0, 8192, 8);
  crashed.status = monitor::AppStatus::Crashed;
  feed.app(rec, running(42), crashed);
  EXPECT_EQ(patched.version(), v + 2);
  EXPECT_EQ((*patched.app("a"))["status"], "crashed");
}

TEST(LiveUsage, AnIdleAppsUptimeAloneIsNotAChangeEveryCycle) {
  // An app whose CPU and memory stand still: its uptime and timestamp move every cycle,
  // which must not make a change (and a stream event) per app per cycle; they go out
  // once a minute (LiveFeed::kIdleUsageRefreshMs), or with the next real move.
  state::StateStore store(state::StoreOptions{.usage_interval_ms = 1000});
  LiveFeed feed(store);
  const auto rec = record_of("a");
  feed.app(rec, running(42), seen(42, 0.0, 4096, 1));
  const auto v = store.version();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto later = seen(42, 0.0, 4096, 7);
  later.updated_usec = 99'999;
  feed.app(rec, running(42), later);
  EXPECT_EQ(store.version(), v);
  EXPECT_EQ((*store.app("a"))["uptime_seconds"], 1);
  // Memory moved: the figures go out, with the uptime of that cycle.
  feed.app(rec, running(42), seen(42, 0.0, 8192, 8));
  EXPECT_EQ(store.version(), v + 1);
  EXPECT_EQ((*store.app("a"))["uptime_seconds"], 8);
}

/// Puts that reached the store: recorded, unchanged, or held back by the usage interval.
/// (Within the tests' 60 s interval the feed sends no usage patch: only whole puts count.)
std::uint64_t whole_puts(const state::StateStore& store) {
  const auto st = store.stats();
  return st.changes + st.unchanged + st.coalesced;
}

TEST(LiveUsage, AnyMoveButUsageIsPutWholeAtOnce) {
  // The feed holds digests of what it last put, not copies: every field of the state and of
  // systemd's view but the usage figures must still make a whole put (within the interval).
  using Mutation = void (*)(core::UnitStatus&, monitor::AppState&);
  const std::vector<std::pair<const char*, Mutation>> moves = {
      {"reason", [](core::UnitStatus&, monitor::AppState& s) { s.reason = "other"; }},
      {"status", [](core::UnitStatus&, monitor::AppState& s) { s.status = monitor::AppStatus::Unhealthy; }},
      {"pids",
       [](core::UnitStatus&, monitor::AppState& s) {
         s.pids = {42, 43};
       }},
      {"stray_pids", [](core::UnitStatus&, monitor::AppState& s) { s.stray_pids = {77}; }},
      {"memory source", [](core::UnitStatus&, monitor::AppState& s) { s.memory_from_systemd = true; }},
      {"restarts", [](core::UnitStatus&, monitor::AppState& s) { s.restart_count = 3; }},
      {"last_exit", [](core::UnitStatus&, monitor::AppState& s) { s.last_exit = "exited 1"; }},
      {"ports", [](core::UnitStatus&, monitor::AppState& s) { s.listen_ports = {8080}; }},
      {"health", [](core::UnitStatus&, monitor::AppState& s) { s.health = monitor::HealthView{}; }},
      {"health error",
       [](core::UnitStatus&, monitor::AppState& s) {
         s.health = monitor::HealthView{};
         s.health->last_error = "timeout";
       }},
      {"unit description", [](core::UnitStatus& u, monitor::AppState&) { u.description = "changed"; }},
      {"unit result", [](core::UnitStatus& u, monitor::AppState&) { u.result = "exit-code"; }},
      {"unit restarts", [](core::UnitStatus& u, monitor::AppState&) { u.restart_count = 2; }},
  };
  for (const auto& [what, move] : moves) {
    state::StateStore store(state::StoreOptions{.usage_interval_ms = 60'000});
    LiveFeed feed(store);
    const auto rec = record_of("a");
    feed.app(rec, running(42), seen(42, 0.0, 4096, 1));
    // Within the 60 s interval only a whole put reaches the store (recorded, unchanged, or
    // held back when what moved shows only among the usage fields, e.g. memory_source).
    const auto before = whole_puts(store);
    feed.app(rec, running(42), seen(42, 0.0, 4096, 2));  // the uptime alone: nothing
    EXPECT_EQ(whole_puts(store), before) << what;
    auto unit = running(42);
    auto state = seen(42, 0.0, 4096, 3);
    move(unit, state);
    feed.app(rec, unit, state);
    EXPECT_EQ(whole_puts(store), before + 1) << what;
  }
}

TEST(LiveUsage, AnyChangeOfTheRecordIsPutWholeAtOnce) {
  // The feed holds a digest of the registry's record, not a copy: a change of any field of
  // the definition, of enabled or of a timestamp must still make a whole put.
  using Mutation = void (*)(registry::AppRecord&);
  const std::vector<std::pair<const char*, Mutation>> moves = {
      {"runtime", [](registry::AppRecord& r) { r.definition.runtime = core::Runtime::NodeScript; }},
      {"script", [](registry::AppRecord& r) { r.definition.script_path = "/srv/b.js"; }},
      {"module", [](registry::AppRecord& r) { r.definition.module = "m:app"; }},
      {"host", [](registry::AppRecord& r) { r.definition.host = "::1"; }},
      {"port", [](registry::AppRecord& r) { r.definition.port = 8081; }},
      {"args", [](registry::AppRecord& r) { r.definition.args = {"--x"}; }},
      {"user", [](registry::AppRecord& r) { r.definition.user = "other"; }},
      {"directory", [](registry::AppRecord& r) { r.definition.working_directory = "/srv"; }},
      {"environment", [](registry::AppRecord& r) { r.definition.environment["A"] = "1"; }},
      {"secret names", [](registry::AppRecord& r) { r.definition.secret_names = {"TOKEN"}; }},
      {"restart policy", [](registry::AppRecord& r) { r.definition.restart_policy = core::RestartPolicy::No; }},
      {"restart sec", [](registry::AppRecord& r) { r.definition.restart_sec = 9; }},
      {"memory max", [](registry::AppRecord& r) { r.definition.memory_max_bytes = 1 << 20; }},
      {"cpu quota", [](registry::AppRecord& r) { r.definition.cpu_quota_percent = 50; }},
      {"description", [](registry::AppRecord& r) { r.definition.description = "changed"; }},
      {"health check", [](registry::AppRecord& r) { r.definition.health_check = core::HealthCheck{}; }},
      {"health path",
       [](registry::AppRecord& r) {
         r.definition.health_check = core::HealthCheck{};
         r.definition.health_check->path = "/ready";
       }},
      {"enabled", [](registry::AppRecord& r) { r.enabled = true; }},
      {"updated", [](registry::AppRecord& r) { r.updated_at_usec = 99; }},
  };
  for (const auto& [what, move] : moves) {
    state::StateStore store(state::StoreOptions{.usage_interval_ms = 60'000});
    LiveFeed feed(store);
    auto rec = record_of("a");
    feed.app(rec, running(42), seen(42, 0.0, 4096, 1));
    const auto before = whole_puts(store);
    feed.app(rec, running(42), seen(42, 0.0, 4096, 2));  // the same record: nothing
    EXPECT_EQ(whole_puts(store), before) << what;
    move(rec);
    feed.app(rec, running(42), seen(42, 0.0, 4096, 3));
    EXPECT_EQ(whole_puts(store), before + 1) << what;
  }
}

}  // namespace
}  // namespace siax::agent
