#include "cloud/outbox.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace siax::cloud {
namespace {

using siax::test::TempDir;

std::unique_ptr<CloudOutbox> open_or_die(const std::string& path, CloudOutbox::Options o = {}) {
  auto r = CloudOutbox::open(path, o);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}

std::vector<std::string> event_bodies(CloudOutbox& box) {
  std::vector<std::string> out;
  const auto events = box.oldest_events(1000);  // kept alive: the loop refers into it
  for (const auto& e : events.value()) out.push_back(e.body);
  return out;
}

TEST(CloudOutbox, StatesCoalesceToTheLatestPerApp) {
  auto box = open_or_die(":memory:");
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->put_state("api", R"({"v":1})", true));
  ASSERT_TRUE(box->put_state("api", R"({"v":2})", true));
  ASSERT_TRUE(box->put_state("web", R"({"v":1})", true));
  ASSERT_TRUE(box->put_state("api", R"({"v":3})", false));
  auto pending = box->pending_states(10).value();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].name, "api");
  EXPECT_EQ(pending[0].body, R"({"v":3})");
  EXPECT_EQ(pending[0].seq, 3);
  EXPECT_EQ(pending[1].name, "web");
  EXPECT_EQ(box->counts().apps, 2u);
  EXPECT_EQ(box->counts().pending_states, 2u);
}

TEST(CloudOutbox, DeliveryOfAnOlderVersionKeepsTheNewerPending) {
  auto box = open_or_die(":memory:");
  ASSERT_TRUE(box->put_state("api", "1", true));
  const auto sent = box->pending_states(1).value().at(0);
  ASSERT_TRUE(box->put_state("api", "2", true));  // arrives while "1" is on the wire
  ASSERT_TRUE(box->state_delivered("api", sent.seq));
  auto pending = box->pending_states(10).value();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].body, "2");
  ASSERT_TRUE(box->state_delivered("api", pending[0].seq));
  EXPECT_TRUE(box->pending_states(10).value().empty());
  EXPECT_EQ(box->counts().pending_states, 0u);
  EXPECT_EQ(box->counts().apps, 1u);  // still known for the heartbeat
}

TEST(CloudOutbox, NotPendingUntilTheHeartbeatMarksAll) {
  auto box = open_or_die(":memory:");
  ASSERT_TRUE(box->put_state("api", "1", false));
  EXPECT_TRUE(box->pending_states(10).value().empty());
  ASSERT_TRUE(box->mark_all_pending());
  EXPECT_EQ(box->pending_states(10).value().size(), 1u);
}

TEST(CloudOutbox, RetiredAppLeavesOnceDelivered) {
  auto box = open_or_die(":memory:");
  ASSERT_TRUE(box->put_state("api", "1", true));
  ASSERT_TRUE(box->retire_state("api", "removed"));
  const auto st = box->state("api").value();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->retire);
  EXPECT_TRUE(st->pending);
  ASSERT_TRUE(box->state_delivered("api", st->seq));
  EXPECT_FALSE(box->state("api").value());
  EXPECT_EQ(box->counts().apps, 0u);
}

TEST(CloudOutbox, EventsKeepTheirOrder) {
  auto box = open_or_die(":memory:");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(box->add_event(i % 2 ? "a" : "b", std::to_string(i)));
  EXPECT_EQ(event_bodies(*box), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  const auto first = box->oldest_events(1).value().at(0);
  ASSERT_TRUE(box->remove_event(first.seq));
  EXPECT_EQ(event_bodies(*box), (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(box->counts().events, 4u);
}

TEST(CloudOutbox, EventBoundDropsTheOldestAndCountsThem) {
  auto box = open_or_die(":memory:", {.max_events = 3});
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(box->add_event("a", std::to_string(i)));
  EXPECT_EQ(event_bodies(*box), (std::vector<std::string>{"4", "5", "6"}));
  EXPECT_EQ(box->counts().events, 3u);
  EXPECT_EQ(box->counts().dropped_events, 4u);
}

TEST(CloudOutbox, AddEventRemembersTheLastEventOfAKnownApp) {
  auto box = open_or_die(":memory:");
  ASSERT_TRUE(box->put_state("api", "{}", true));
  ASSERT_TRUE(box->add_event("api", R"({"type":"crashed"})"));
  ASSERT_TRUE(box->add_event("other", R"({"type":"x"})"));
  EXPECT_EQ(box->state("api").value()->last_event, R"({"type":"crashed"})");
}

TEST(CloudOutbox, AppBoundRefusesNewAppsOnly) {
  auto box = open_or_die(":memory:", {.max_apps = 2});
  ASSERT_TRUE(box->put_state("a", "1", true));
  ASSERT_TRUE(box->put_state("b", "1", true));
  auto third = box->put_state("c", "1", true);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, "cloud_outbox_full");
  EXPECT_TRUE(box->put_state("a", "2", true));  // an existing app is updated
  EXPECT_EQ(box->counts().dropped_states, 1u);
}

TEST(CloudOutbox, OversizedReportsAreRefused) {
  auto box = open_or_die(":memory:", {.max_body_bytes = 10});
  auto r = box->put_state("a", std::string(11, 'x'), true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "cloud_report_too_large");
  EXPECT_EQ(box->add_event("a", std::string(11, 'x')).error().code, "cloud_report_too_large");
  EXPECT_EQ(box->counts().apps, 0u);
}

TEST(CloudOutbox, CloudIdsAndCreateMarks) {
  auto box = open_or_die(":memory:");
  EXPECT_FALSE(box->cloud_id("api", "s1").value().id);
  ASSERT_TRUE(box->mark_create_started("api", "s1", 1234));
  auto rec = box->cloud_id("api", "s1").value();
  EXPECT_FALSE(rec.id);
  EXPECT_EQ(rec.create_started_usec, std::optional<std::int64_t>(1234));
  ASSERT_TRUE(box->set_cloud_id("api", "s1", 77));
  rec = box->cloud_id("api", "s1").value();
  EXPECT_EQ(rec.id, std::optional<std::int64_t>(77));
  EXPECT_FALSE(rec.create_started_usec);
  EXPECT_FALSE(box->cloud_id("api", "s2").value().id);  // ids are per server
  ASSERT_TRUE(box->forget_cloud_id("api", "s1"));
  EXPECT_FALSE(box->cloud_id("api", "s1").value().id);
}

TEST(CloudOutbox, EverythingSurvivesARestart) {
  TempDir dir;
  const auto path = dir.file("cloud.db");
  {
    auto box = open_or_die(path, {.max_events = 2});
    ASSERT_TRUE(box->put_state("api", R"({"v":1})", true));
    ASSERT_TRUE(box->put_state("web", R"({"v":1})", false));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(box->add_event("api", std::to_string(i)));
    ASSERT_TRUE(box->set_cloud_id("api", "s", 5));
    ASSERT_TRUE(box->mark_create_started("web", "s", 99));
  }
  auto box = open_or_die(path, {.max_events = 2});
  ASSERT_TRUE(box);
  const auto pending = box->pending_states(10).value();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].name, "api");
  EXPECT_EQ(pending[0].body, R"({"v":1})");
  EXPECT_EQ(event_bodies(*box), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(box->counts().dropped_events, 1u);
  EXPECT_EQ(box->counts().apps, 2u);
  EXPECT_EQ(box->cloud_id("api", "s").value().id, std::optional<std::int64_t>(5));
  EXPECT_EQ(box->cloud_id("web", "s").value().create_started_usec, std::optional<std::int64_t>(99));
  // Sequence numbers are never reused after a restart.
  ASSERT_TRUE(box->add_event("api", "3"));
  const auto events = box->oldest_events(10).value();
  EXPECT_LT(events[0].seq, events[1].seq);
}

TEST(CloudOutbox, FileIsPrivate) {
  TempDir dir;
  const auto path = dir.file("cloud.db");
  ASSERT_TRUE(open_or_die(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(CloudOutbox, ClearErrorsForBadPaths) {
  TempDir dir;
  auto missing = CloudOutbox::open(dir.file("nope/cloud.db"), {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "cloud_outbox_dir_missing");
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);

  const auto garbage = dir.file("garbage.db");
  std::ofstream(garbage) << "this is not a database, not at all, really not; it is long enough to have a header";
  auto bad = CloudOutbox::open(garbage, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "cloud_outbox_path_invalid");

  auto zero = CloudOutbox::open(":memory:", {.max_events = 0});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, "invalid_cloud_outbox_options");
}

/// The outbox as the agent wrote it before user_version: the version in meta.
void write_old_outbox(const std::string& path, int version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string sql =
      "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) STRICT;"
      "CREATE TABLE app_ids (name TEXT NOT NULL, server TEXT NOT NULL, cloud_id INTEGER, create_started_usec "
      "INTEGER, PRIMARY KEY (name, server)) STRICT;"
      "CREATE TABLE latest_state (name TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL, seq INTEGER NOT NULL, "
      "pending INTEGER NOT NULL CHECK (pending IN (0, 1)), retire INTEGER NOT NULL DEFAULT 0 CHECK (retire IN (0, "
      "1)), last_event TEXT NOT NULL DEFAULT '') STRICT;"
      "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, body TEXT NOT NULL) STRICT;"
      "INSERT INTO meta(key, value) VALUES ('schema_version', " +
      std::to_string(version) +
      "), ('dropped_events', 4), ('dropped_states', 0);"
      "INSERT INTO latest_state(name, body, seq, pending) VALUES ('api', '{\"s\":1}', 3, 1);"
      "INSERT INTO events(name, body) VALUES ('api', '{\"e\":1}');"
      "INSERT INTO app_ids VALUES ('api', 'https://cloud', 17, NULL);";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(CloudOutbox, AnOutboxOfTheOldSchemeOpensWithItsData) {
  TempDir dir;
  const auto path = dir.file("cloud.db");
  write_old_outbox(path, 1);
  auto box = open_or_die(path);
  ASSERT_TRUE(box);
  EXPECT_EQ(box->counts().apps, 1u);
  EXPECT_EQ(box->counts().events, 1u);
  EXPECT_EQ(box->counts().dropped_events, 4u);
  auto st = box->state("api");
  ASSERT_TRUE(st && *st);
  EXPECT_EQ((*st)->seq, 3);
  EXPECT_EQ(box->cloud_id("api", "https://cloud")->id, 17);
  box.reset();
  box = open_or_die(path);  // again, now through user_version
  ASSERT_TRUE(box);
  EXPECT_EQ(box->counts().events, 1u);
}

TEST(CloudOutbox, RefusesAnOutboxFromANewerAgent) {
  TempDir dir;
  const auto path = dir.file("cloud.db");
  write_old_outbox(path, 2);
  auto old_scheme = CloudOutbox::open(path, {});
  ASSERT_FALSE(old_scheme);
  EXPECT_EQ(old_scheme.error().code, "cloud_outbox_schema_unknown");

  const auto newer = dir.file("newer.db");
  ASSERT_TRUE(CloudOutbox::open(newer, {}));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(newer.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "PRAGMA user_version = 5", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto refused = CloudOutbox::open(newer, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "cloud_outbox_schema_unknown");
  EXPECT_NE(refused.error().message.find("version 5"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace siax::cloud
