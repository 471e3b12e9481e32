#include "state/state_store.h"

#include <gtest/gtest.h>

namespace siax::state {
namespace {

using nlohmann::json;

json app(const std::string& name, const std::string& status, double cpu = 0.0) {
  return json{{"name", name}, {"status", status}, {"cpu_usage", cpu}, {"pid", 10}};
}

TEST(StateStore, VersionGrowsOnlyOnChange) {
  StateStore store;
  EXPECT_EQ(store.version(), 0u);
  EXPECT_TRUE(store.put_app("a", app("a", "running"), {}, 0));
  EXPECT_EQ(store.version(), 1u);
  EXPECT_FALSE(store.put_app("a", app("a", "running"), {}, 10));  // same object
  EXPECT_EQ(store.version(), 1u);
  EXPECT_TRUE(store.put_app("a", app("a", "failed"), {}, 20));
  EXPECT_EQ(store.version(), 2u);
  EXPECT_TRUE(store.remove_app("a"));
  EXPECT_FALSE(store.remove_app("a"));
  EXPECT_EQ(store.version(), 3u);
  EXPECT_EQ(store.stats().unchanged, 1u);
}

TEST(StateStore, UsageOnlyUpdatesAreCoalescedPerInterval) {
  StoreOptions o;
  o.usage_interval_ms = 1000;
  StateStore store(o);
  ASSERT_TRUE(store.put_app("a", app("a", "running", 1.0), {}, 0));
  EXPECT_FALSE(store.put_app("a", app("a", "running", 2.0), {}, 500));  // usage only, too soon
  EXPECT_EQ((*store.app("a"))["cpu_usage"], 1.0);
  EXPECT_TRUE(store.put_app("a", app("a", "running", 3.0), {}, 1000));  // interval passed
  EXPECT_EQ((*store.app("a"))["cpu_usage"], 3.0);
  // A status change is never held back, even within the interval.
  EXPECT_TRUE(store.put_app("a", app("a", "crashed", 3.5), {}, 1001));
  EXPECT_EQ((*store.app("a"))["status"], "crashed");
  EXPECT_EQ(store.stats().coalesced, 1u);
}

TEST(StateStore, PutUsagePatchesOnlyUsageFieldsAndIsCoalesced) {
  StoreOptions o;
  o.usage_interval_ms = 1000;
  StateStore store(o);
  EXPECT_FALSE(store.put_usage("a", json{{"cpu_usage", 1.0}}, 0)) << "not held: nothing to patch";
  ASSERT_TRUE(store.put_app("a", app("a", "running", 1.0), {}, 0));
  const auto v = store.version();
  EXPECT_FALSE(store.put_usage("a", json{{"cpu_usage", 1.0}}, 5000)) << "same figures: no change";
  EXPECT_FALSE(store.put_usage("a", json{{"cpu_usage", 2.0}}, 500)) << "within the interval";
  EXPECT_EQ(store.version(), v);
  EXPECT_TRUE(store.put_usage("a", json{{"cpu_usage", 2.5}, {"status", "crashed"}, {"uptime_seconds", 7}}, 1000));
  EXPECT_EQ(store.version(), v + 1);
  const auto held = *store.app("a");
  EXPECT_EQ(held["cpu_usage"], 2.5);
  EXPECT_EQ(held["uptime_seconds"], 7);
  EXPECT_EQ(held["status"], "running") << "only usage fields are patched";
  EXPECT_EQ(held["pid"], 10);
  auto changes = store.changes_since(v);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_NE(changes->front()->data.find("\"cpu_usage\":2.5"), std::string::npos) << changes->front()->data;
  EXPECT_NE(store.apps().json->find("2.5"), std::string::npos) << "the cached list follows";
}

TEST(StateStore, AnAppChangeIsTheAppAndItsVersionAsOneJsonLine) {
  StateStore store;
  json a = app("a", "running", 1.25);
  a["description"] = "caf\u00e9 \"quoted\" \\ line\nnext";
  a["pids"] = json::array({1, 2});
  a["failure"] = nullptr;
  ASSERT_TRUE(store.put_app("a", a, {}, 0));
  ASSERT_TRUE(store.put_usage("a", json{{"cpu_usage", 2.0}}, 10'000));
  auto changes = store.changes_since(0);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ(changes->at(0)->data, (json{{"app", a}, {"version", 1}}).dump());
  a["cpu_usage"] = 2.0;
  EXPECT_EQ(changes->at(1)->data, (json{{"app", a}, {"version", 2}}).dump());
  EXPECT_EQ(changes->at(1)->type, "app");
}

TEST(StateStore, ExtraIsKeptWithoutMakingAChange) {
  StateStore store;
  ASSERT_TRUE(store.put_app("a", app("a", "running"), json{{"active_state", "active"}}, 0));
  EXPECT_FALSE(store.put_app("a", app("a", "running"), json{{"active_state", "x"}}, 1));
  EXPECT_EQ((*store.app_extra("a"))["active_state"], "x");
  EXPECT_EQ(store.version(), 1u);
}

TEST(StateStore, AppListIsCachedUntilAnAppChanges) {
  StateStore store;
  store.put_app("b", app("b", "running"), {}, 0);
  store.put_app("a", app("a", "stopped"), {}, 0);
  auto l1 = store.apps();
  EXPECT_EQ(l1.version, 2u);
  EXPECT_EQ(json::parse(*l1.json).size(), 2u);
  EXPECT_EQ(json::parse(*l1.json)[0]["name"], "a");  // sorted by name
  store.add_event(json{{"kind", "x"}});  // not an app: the list stays the same object
  auto l2 = store.apps();
  EXPECT_EQ(l2.json.get(), l1.json.get());
  EXPECT_EQ(l2.version, 2u);
  store.put_app("a", app("a", "running"), {}, 0);
  auto l3 = store.apps();
  EXPECT_NE(l3.json.get(), l1.json.get());
  EXPECT_EQ(l3.version, 4u);
}

TEST(StateStore, SnapshotPlusDeltasRebuildsTheState) {
  StateStore store;
  store.put_app("a", app("a", "running"), {}, 0);
  store.put_monitored("k", json{{"key", "k"}, {"status", "running"}});
  store.set_system(json{{"systemd_reachable", true}, {"degraded", false}, {"missing", json::array()}});
  const auto snap = store.snapshot();
  const json s = json::parse(snap.data);
  EXPECT_EQ(s["version"], 3);
  EXPECT_EQ(s["apps"].size(), 1u);
  EXPECT_EQ(s["monitored"].size(), 1u);
  EXPECT_EQ(s["system"]["systemd_reachable"], true);

  store.put_app("b", app("b", "starting"), {}, 0);
  store.remove_app("a");
  store.remove_monitored("k");
  auto changes = store.changes_since(snap.version);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0]->type, "app");
  EXPECT_EQ((*changes)[0]->version, 4u);
  EXPECT_EQ(json::parse((*changes)[0]->data)["app"]["name"], "b");
  EXPECT_EQ(json::parse((*changes)[0]->data)["version"], 4);
  EXPECT_EQ((*changes)[1]->type, "app_removed");
  EXPECT_EQ(json::parse((*changes)[1]->data)["name"], "a");
  EXPECT_EQ((*changes)[2]->type, "monitored_removed");
  EXPECT_EQ(json::parse((*changes)[2]->data)["id"], "k");
  // Nothing after the latest; a version from the future needs a snapshot.
  EXPECT_TRUE(store.changes_since(store.version())->empty());
  EXPECT_FALSE(store.changes_since(store.version() + 1));
}

TEST(StateStore, ResumeFromAVersionNoLongerKeptNeedsASnapshot) {
  StoreOptions o;
  o.history = 3;
  StateStore store(o);
  for (int i = 0; i < 5; ++i) store.add_event(json{{"n", i}});
  EXPECT_FALSE(store.changes_since(0));
  EXPECT_FALSE(store.changes_since(1));
  auto from2 = store.changes_since(2);  // 3, 4, 5 are kept
  ASSERT_TRUE(from2);
  EXPECT_EQ(from2->size(), 3u);
  EXPECT_EQ(from2->front()->version, 3u);
}

TEST(StateStore, SubscribersGetEveryChangeInOrder) {
  int notified = 0;
  StateStore store({}, [&] { ++notified; });
  auto sub = store.subscribe();
  ASSERT_TRUE(sub);
  store.put_app("a", app("a", "running"), {}, 0);
  store.put_app("a", app("a", "failed"), {}, 0);
  EXPECT_EQ(notified, 2);
  EXPECT_TRUE((*sub)->pending());
  auto b = (*sub)->take();
  EXPECT_FALSE(b.snapshot);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0]->version, 1u);
  EXPECT_EQ(b.changes[1]->version, 2u);
  EXPECT_FALSE((*sub)->pending());
}

TEST(StateStore, ASlowSubscriberIsBoundedAndToldToStartOver) {
  StoreOptions o;
  o.max_queue = 4;
  StateStore store(o);
  auto sub = store.subscribe();
  ASSERT_TRUE(sub);
  for (int i = 0; i < 1000; ++i) {
    store.add_event(json{{"n", i}});
    EXPECT_LE((*sub)->queued(), 4u);
  }
  auto b = (*sub)->take();
  EXPECT_TRUE(b.snapshot);
  EXPECT_TRUE(b.changes.empty());
  EXPECT_EQ((*sub)->overflows(), 1u);
  EXPECT_EQ(store.stats().subscriber_overflows, 1u);
  // After the snapshot it follows again.
  store.add_event(json{{"n", "next"}});
  auto b2 = (*sub)->take();
  EXPECT_FALSE(b2.snapshot);
  ASSERT_EQ(b2.changes.size(), 1u);
  EXPECT_EQ(b2.changes[0]->version, 1001u);
}

TEST(StateStore, SubscribersAreLimitedAndReleasedWhenDropped) {
  StoreOptions o;
  o.max_subscribers = 2;
  StateStore store(o);
  auto a = store.subscribe();
  auto b = store.subscribe();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  auto c = store.subscribe();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "too_many_streams");
  a->reset();
  EXPECT_TRUE(store.subscribe());
}

TEST(StateStore, RetainRemovesTheOthers) {
  StateStore store;
  store.put_app("a", app("a", "running"), {}, 0);
  store.put_app("b", app("b", "running"), {}, 0);
  store.put_monitored("k1", json{{"key", "k1"}});
  store.put_monitored("k2", json{{"key", "k2"}});
  store.retain_apps({"b"});
  store.retain_monitored({"k1"});
  EXPECT_FALSE(store.app("a"));
  EXPECT_TRUE(store.app("b"));
  EXPECT_EQ(store.all_monitored().size(), 1u);
  auto ch = store.changes_since(4);
  ASSERT_TRUE(ch);
  ASSERT_EQ(ch->size(), 2u);
  EXPECT_EQ((*ch)[0]->type, "app_removed");
  EXPECT_EQ((*ch)[1]->type, "monitored_removed");
}

TEST(StateStore, SystemChangesOnlyWhenItDiffers) {
  StateStore store;
  EXPECT_TRUE(store.set_system(json{{"systemd_reachable", true}}));
  EXPECT_FALSE(store.set_system(json{{"systemd_reachable", true}}));
  EXPECT_TRUE(store.set_system(json{{"systemd_reachable", false}}));
  EXPECT_EQ(store.version(), 2u);
}


TEST(StateStore, AnOlderReadNeverOverwritesANewerOne) {
  StateStore store;
  const std::uint64_t t1 = 1'700'000'000;  // systemd's state change times, µs since boot
  const std::uint64_t t2 = t1 + 30'000;            // the restart's, 30 ms later
  // The API puts the restart's outcome (fresh read, t2)...
  ASSERT_TRUE(store.put_app("a", app("a", "running"), {{"pid", 20}}, 0, t2));
  // ... then the monitor's re-read begun before the restart lands: dropped, extra too.
  EXPECT_FALSE(store.put_app("a", app("a", "stopping"), {{"pid", 10}}, 1, t1));
  EXPECT_EQ((*store.app("a"))["status"], "running");
  EXPECT_EQ((*store.app_extra("a"))["pid"], 20);
  const auto both = store.app_with_extra("a");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->first["status"], "running");
  EXPECT_EQ(both->second["pid"], 20);
  EXPECT_FALSE(store.app_with_extra("b"));
  EXPECT_EQ(store.stats().stale, 1u);
  EXPECT_EQ(store.version(), 1u);
  // The same state read again (usage, pids may differ) and newer reads are taken.
  EXPECT_TRUE(store.put_app("a", app("a", "running", 5.0), {}, 10'000, t2));
  EXPECT_TRUE(store.put_app("a", app("a", "crashed"), {}, 10'001, t2 + 1));
  // Unknown order (systemd unreachable) on either side is taken.
  EXPECT_TRUE(store.put_app("a", app("a", "unknown"), {}, 10'002, 0));
  // An unknown order does not lower what the store holds: t1 is still older than t2 + 1.
  EXPECT_FALSE(store.put_app("a", app("a", "failed"), {}, 10'003, t1));
  EXPECT_EQ((*store.app("a"))["status"], "unknown");
  EXPECT_EQ(store.stats().stale, 2u);
}

TEST(StateStore, StaleOrderRule) {
  EXPECT_FALSE(is_stale(0, 100));
  EXPECT_FALSE(is_stale(100, 0));
  EXPECT_FALSE(is_stale(100, 100));
  EXPECT_FALSE(is_stale(200, 100));
  EXPECT_TRUE(is_stale(99, 100));
  // Orders are systemd's monotonic clock: any distance back is stale (no wall clock set back).
  EXPECT_TRUE(is_stale(1, 3'600'000'000ULL * 24));
}

TEST(StateStore, AReadOfAnAppUpForHoursNeverOverwritesItsRestart) {
  // The monitor's full cycle reuses a view read before a restart (the app up for hours: its
  // state changed 5 h before the restart), and lands after the API put the restart's outcome.
  StateStore store;
  const std::uint64_t started = 1'000'000;                         // µs since boot
  const std::uint64_t restarted = started + 5ULL * 3'600'000'000;  // 5 h later
  ASSERT_TRUE(store.put_app("a", app("a", "running"), {}, 0, started));
  json fresh = app("a", "running");
  fresh["pid"] = 20;
  ASSERT_TRUE(store.put_app("a", fresh, {}, 1, restarted));
  EXPECT_FALSE(store.put_app("a", app("a", "running"), {}, 2, started));  // pid 10: the old one
  EXPECT_EQ((*store.app("a"))["pid"], 20);
  EXPECT_EQ(store.stats().stale, 1u);
}

TEST(StateStore, DetailExtrasAreKeptSerializedAndReadBackWhole) {
  StateStore store;
  const json extra = {{"systemd", {{"active_state", "active"}, {"pid", 42}, {"memory_usage", nullptr}}},
                      {"definition", {{"env", {{"A", "1"}}}, {"args", {"x", "y"}}}}};
  ASSERT_TRUE(store.put_app("a", app("a", "running"), extra, 0));
  EXPECT_EQ(*store.app_extra("a"), extra);
  // A string that is not UTF-8 (e.g. from a unit's description) is replaced, never a throw.
  ASSERT_TRUE(store.put_app("a", app("a", "crashed"), {{"description", std::string("bad \xff byte")}}, 1));
  const auto both = store.app_with_extra("a");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->first["status"], "crashed");
  EXPECT_EQ(both->second["description"], "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace siax::state
