// Tests of SqliteRegistry's data operations: CRUD of each entity, tokens, the audit log,
// concurrency, durability and bad paths. Schema migrations: sqlite_registry_migrations_test.cpp.
#include "registry/sqlite_registry.h"
#include "support/temp_dir.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace siax::registry {
namespace {

namespace fs = std::filesystem;
using siax::test::TempDir;

/// A fresh directory under /var/tmp, removed with everything in it.
std::unique_ptr<SqliteRegistry> open_or_die(const std::string& path, SqliteRegistry::Options options = {}) {
  auto reg = SqliteRegistry::open(path, std::move(options));
  EXPECT_TRUE(reg) << (reg ? "" : reg.error().message);
  return reg ? std::move(*reg) : nullptr;
}

core::AppDefinition node_app(const std::string& name) {
  core::AppDefinition d;
  d.name = name;
  d.runtime = core::Runtime::NodeScript;
  d.script_path = "/srv/" + name + "/server.js";
  d.user = "app";
  d.working_directory = "/srv/" + name;
  d.environment = {{"PORT", "3000"}, {"NODE_ENV", "production"}};
  d.args = {"--verbose"};
  d.port = 3000;
  return d;
}

AppRecord app_record(const std::string& name, bool enabled = true, std::int64_t at = 1000) {
  return AppRecord{node_app(name), enabled, at, at};
}

AuditEntry audit(std::int64_t at, std::string actor, std::string action, std::string target,
                 std::string result = "ok") {
  return AuditEntry{0, at, std::move(actor), "operator", std::move(action), std::move(target), "10.0.0.1",
                    std::move(result), ""};
}

std::vector<std::int64_t> ids_of(const std::vector<AuditEntry>& entries) {
  std::vector<std::int64_t> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

class SqliteRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteRegistry> reg = open_or_die(":memory:");
};

// --- Roles -----------------------------------------------------------------------------

TEST(RegistryRole, RoundTripsThroughStrings) {
  for (Role r : {Role::Viewer, Role::Operator, Role::Admin}) {
    EXPECT_EQ(role_from_name(to_string(r)), r);
  }
  EXPECT_EQ(to_string(Role::Operator), "operator");
  EXPECT_EQ(role_from_name("Admin"), std::nullopt);
  EXPECT_EQ(role_from_name(""), std::nullopt);
}

// --- Apps ------------------------------------------------------------------------------

TEST_F(SqliteRegistryTest, AppsCrud) {
  EXPECT_EQ(*reg->get_app("api"), std::nullopt);
  ASSERT_TRUE(reg->put_app(app_record("web", false, 10)));
  ASSERT_TRUE(reg->put_app(app_record("api", true, 20)));

  auto api = reg->get_app("api");
  ASSERT_TRUE(api && *api);
  EXPECT_EQ(**api, app_record("api", true, 20));

  auto all = reg->list_apps();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].definition.name, "api");  // sorted by name
  EXPECT_EQ((*all)[1].definition.name, "web");

  // Replace keeps one row and every new field.
  auto changed = app_record("api", false, 20);
  changed.updated_at_usec = 99;
  changed.definition.environment["EXTRA"] = "1";
  changed.definition.memory_max_bytes = 512ULL << 20;
  ASSERT_TRUE(reg->put_app(changed));
  EXPECT_EQ(**reg->get_app("api"), changed);
  EXPECT_EQ(reg->list_apps()->size(), 2u);

  EXPECT_EQ(reg->remove_app("api"), true);
  EXPECT_EQ(reg->remove_app("api"), false);
  EXPECT_EQ(*reg->get_app("api"), std::nullopt);
  EXPECT_EQ(reg->list_apps()->size(), 1u);
}

TEST_F(SqliteRegistryTest, EveryRuntimeRoundTrips) {
  auto uvicorn = node_app("fast");
  uvicorn.runtime = core::Runtime::Uvicorn;
  uvicorn.script_path.clear();
  uvicorn.module = "main:app";
  uvicorn.host = "0.0.0.0";
  uvicorn.port = 8000;
  uvicorn.cpu_quota_percent = 150;
  uvicorn.restart_policy = core::RestartPolicy::OnFailure;
  uvicorn.restart_sec = 7;
  uvicorn.description = "quotes \" and 'ünïcode' and\nnewlines";
  auto npm = node_app("npm");
  npm.runtime = core::Runtime::NpmStart;
  npm.script_path.clear();
  auto custom = node_app("custom");
  custom.runtime = core::Runtime::Custom;
  custom.script_path = "/srv/custom/bin/run";
  auto python = node_app("py");
  python.runtime = core::Runtime::PythonScript;
  python.script_path = "/srv/py/main.py";

  for (const auto& def : {uvicorn, npm, custom, python}) {
    AppRecord rec{def, true, 1, 2};
    ASSERT_TRUE(reg->put_app(rec)) << def.name;
    auto back = reg->get_app(def.name);
    ASSERT_TRUE(back && *back) << def.name;
    EXPECT_EQ(**back, rec) << def.name;
  }
}

TEST_F(SqliteRegistryTest, RefusesAppsThatCouldNotBeReadBack) {
  auto nameless = app_record("x");
  nameless.definition.name.clear();
  auto no_user = app_record("x");
  no_user.definition.user.clear();
  auto bad_utf8 = app_record("x");
  bad_utf8.definition.description = "\xff\xfe";
  for (const auto& rec : {nameless, no_user, bad_utf8}) {
    auto r = reg->put_app(rec);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(r.error().code, "invalid_app_record");
  }
  EXPECT_TRUE(reg->list_apps()->empty());
}

TEST_F(SqliteRegistryTest, NamesAreBoundNotFormattedIntoSql) {
  const std::string hostile = "x'); DROP TABLE apps; --";
  EXPECT_EQ(*reg->get_app(hostile), std::nullopt);
  EXPECT_EQ(*reg->remove_app(hostile), false);
  ASSERT_TRUE(reg->put_setting(hostile, hostile));
  EXPECT_EQ(*reg->get_setting(hostile), hostile);
  ASSERT_TRUE(reg->put_app(app_record("api")));
  EXPECT_EQ(reg->list_apps()->size(), 1u);
}

// --- Monitored processes ---------------------------------------------------------------

TEST_F(SqliteRegistryTest, MonitoredCrud) {
  MonitoredProcess redis{"redis:/usr/bin/redis-server", "redis", "/usr/bin/redis-server *:6379", "redis", 5};
  MonitoredProcess nginx{"nginx:/usr/sbin/nginx", "nginx", "nginx: master process", "root", 6};
  ASSERT_TRUE(reg->put_monitored(redis));
  ASSERT_TRUE(reg->put_monitored(nginx));
  EXPECT_EQ(*reg->list_monitored(), (std::vector<MonitoredProcess>{nginx, redis}));

  redis.command = "/usr/bin/redis-server 127.0.0.1:6379";
  ASSERT_TRUE(reg->put_monitored(redis));
  EXPECT_EQ(*reg->list_monitored(), (std::vector<MonitoredProcess>{nginx, redis}));

  EXPECT_EQ(*reg->remove_monitored(nginx.key), true);
  EXPECT_EQ(*reg->remove_monitored(nginx.key), false);
  EXPECT_EQ(*reg->list_monitored(), (std::vector<MonitoredProcess>{redis}));

  auto empty_key = reg->put_monitored(MonitoredProcess{});
  ASSERT_FALSE(empty_key);
  EXPECT_EQ(empty_key.error().kind, ErrorKind::InvalidInput);
}

// --- List cache ------------------------------------------------------------------------

TEST_F(SqliteRegistryTest, AnUnchangedDatabaseServesTheListsFromTheCache) {
  ASSERT_TRUE(reg->put_app(app_record("api")));
  ASSERT_TRUE(reg->put_monitored(MonitoredProcess{"redis:/r", "redis", "/r", "redis", 1}));
  const auto before = reg->list_reads();
  auto first = reg->list_apps();
  auto first_m = reg->list_monitored();
  EXPECT_EQ(reg->list_reads(), before + 2);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(*reg->list_apps(), *first);
    EXPECT_EQ(*reg->list_monitored(), *first_m);
  }
  EXPECT_EQ(reg->list_reads(), before + 2);  // no re-read, no re-parse
  // Writes to other tables do not drop the lists.
  ASSERT_TRUE(reg->put_setting("k", "v"));
  EXPECT_EQ(reg->list_apps()->size(), 1u);
  EXPECT_EQ(reg->list_reads(), before + 2);
}

TEST_F(SqliteRegistryTest, ItsOwnWritesShowInTheNextList) {
  ASSERT_TRUE(reg->put_app(app_record("api", true, 1)));
  EXPECT_EQ(reg->list_apps()->size(), 1u);
  ASSERT_TRUE(reg->put_app(app_record("web")));
  EXPECT_EQ(reg->list_apps()->size(), 2u);
  auto changed = app_record("api", false, 1);
  ASSERT_TRUE(reg->put_app(changed));
  EXPECT_EQ(reg->list_apps()->front(), changed);
  ASSERT_TRUE(*reg->remove_app("api"));
  ASSERT_EQ(reg->list_apps()->size(), 1u);
  EXPECT_EQ(reg->list_apps()->front().definition.name, "web");

  MonitoredProcess redis{"redis:/r", "redis", "/r", "redis", 1};
  EXPECT_TRUE(reg->list_monitored()->empty());
  ASSERT_TRUE(reg->put_monitored(redis));
  EXPECT_EQ(*reg->list_monitored(), (std::vector<MonitoredProcess>{redis}));
  ASSERT_TRUE(*reg->remove_monitored(redis.key));
  EXPECT_TRUE(reg->list_monitored()->empty());
}

TEST(SqliteRegistryCache, AnotherConnectionsCommitShowsInTheNextList) {
  TempDir dir;
  const std::string path = (dir.path() / "registry.db").string();
  auto agent = open_or_die(path);
  auto cli = open_or_die(path);
  ASSERT_TRUE(agent && cli);
  ASSERT_TRUE(agent->put_app(app_record("api")));
  EXPECT_EQ(agent->list_apps()->size(), 1u);
  EXPECT_TRUE(agent->list_monitored()->empty());
  const auto reads = agent->list_reads();
  EXPECT_EQ(agent->list_apps()->size(), 1u);
  EXPECT_EQ(agent->list_reads(), reads);  // cached

  ASSERT_TRUE(cli->put_app(app_record("web")));
  ASSERT_TRUE(cli->put_monitored(MonitoredProcess{"redis:/r", "redis", "/r", "redis", 1}));
  auto apps = agent->list_apps();
  ASSERT_EQ(apps->size(), 2u);
  EXPECT_EQ((*apps)[1].definition.name, "web");
  EXPECT_EQ(agent->list_monitored()->size(), 1u);
  EXPECT_EQ(agent->list_reads(), reads + 2);

  ASSERT_TRUE(*cli->remove_app("api"));
  ASSERT_EQ(agent->list_apps()->size(), 1u);
  EXPECT_EQ(agent->list_apps()->front().definition.name, "web");
}

// --- Tokens ----------------------------------------------------------------------------

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');
const std::string kHashC(64, 'c');

TEST_F(SqliteRegistryTest, TokensAddFindList) {
  auto deploy = reg->add_token("deploy-bot", Role::Operator, kHashA, 100);
  auto viewer = reg->add_token("grafana", Role::Viewer, kHashB, 200);
  ASSERT_TRUE(deploy && viewer);
  EXPECT_NE(*deploy, *viewer);

  auto found = reg->find_token_by_hash(kHashA);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ(**found, (TokenRecord{*deploy, "deploy-bot", Role::Operator, kHashA, 100, std::nullopt, std::nullopt}));
  EXPECT_EQ(*reg->find_token_by_hash(kHashC), std::nullopt);

  auto all = reg->list_tokens();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "deploy-bot");
  EXPECT_EQ((*all)[1].role, Role::Viewer);
}

TEST_F(SqliteRegistryTest, TokenNameConflictsWhileLive) {
  ASSERT_TRUE(reg->add_token("deploy-bot", Role::Operator, kHashA, 100));
  auto dup = reg->add_token("deploy-bot", Role::Admin, kHashB, 200);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(dup.error().code, "token_name_taken");
  EXPECT_NE(dup.error().message.find("deploy-bot"), std::string::npos);

  auto same_secret = reg->add_token("other", Role::Viewer, kHashA, 200);
  ASSERT_FALSE(same_secret);
  EXPECT_EQ(same_secret.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(same_secret.error().code, "token_hash_taken");
  EXPECT_EQ(reg->list_tokens()->size(), 1u);

  for (auto [name, hash] : {std::pair{"", kHashB}, std::pair{"n", std::string()}}) {
    auto bad = reg->add_token(name, Role::Viewer, hash, 1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, ErrorKind::InvalidInput);
  }
}

TEST_F(SqliteRegistryTest, RevokeKeepsTheTokenAndFreesTheName) {
  auto id = reg->add_token("deploy-bot", Role::Operator, kHashA, 100);
  ASSERT_TRUE(id);
  EXPECT_EQ(reg->revoke_token(*id, 500), true);
  EXPECT_EQ(reg->revoke_token(*id, 600), false);  // already revoked: keeps 500
  EXPECT_EQ(reg->revoke_token(*id + 100, 600), false);

  auto found = reg->find_token_by_hash(kHashA);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->revoked_at_usec, 500);

  // The name is free again; the new token gets a new id.
  auto again = reg->add_token("deploy-bot", Role::Operator, kHashB, 700);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_GT(*again, *id);
  EXPECT_EQ(reg->list_tokens()->size(), 2u);
}

TEST_F(SqliteRegistryTest, TouchRecordsLastUse) {
  auto id = reg->add_token("deploy-bot", Role::Operator, kHashA, 100);
  ASSERT_TRUE(id);
  ASSERT_TRUE(reg->touch_token(*id, 150));
  ASSERT_TRUE(reg->touch_token(*id, 175));
  EXPECT_EQ((*reg->find_token_by_hash(kHashA))->last_used_at_usec, 175);

  auto missing = reg->touch_token(*id + 1, 200);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(missing.error().code, "token_not_found");
}

// --- Users -----------------------------------------------------------------------------

TEST_F(SqliteRegistryTest, UsersCrud) {
  UserRecord admin{"admin", "$argon2id$v=19$...", Role::Admin, 10};
  UserRecord bob{"bob", "$argon2id$v=19$bob", Role::Viewer, 20};
  EXPECT_EQ(*reg->get_user("admin"), std::nullopt);
  ASSERT_TRUE(reg->put_user(bob));
  ASSERT_TRUE(reg->put_user(admin));
  EXPECT_EQ(**reg->get_user("admin"), admin);
  EXPECT_EQ(*reg->list_users(), (std::vector<UserRecord>{admin, bob}));

  bob.role = Role::Operator;
  bob.password_hash = "new";
  ASSERT_TRUE(reg->put_user(bob));
  EXPECT_EQ(**reg->get_user("bob"), bob);
  EXPECT_EQ(reg->list_users()->size(), 2u);

  auto nameless = reg->put_user(UserRecord{});
  ASSERT_FALSE(nameless);
  EXPECT_EQ(nameless.error().kind, ErrorKind::InvalidInput);
}

// --- Settings --------------------------------------------------------------------------

TEST_F(SqliteRegistryTest, Settings) {
  EXPECT_EQ(*reg->get_setting("cloud.agent_id"), std::nullopt);
  ASSERT_TRUE(reg->put_setting("cloud.agent_id", "a-1"));
  ASSERT_TRUE(reg->put_setting("cloud.agent_id", "a-2"));
  ASSERT_TRUE(reg->put_setting("empty", ""));
  EXPECT_EQ(*reg->get_setting("cloud.agent_id"), "a-2");
  EXPECT_EQ(*reg->get_setting("empty"), "");
}

// --- Audit log -------------------------------------------------------------------------

TEST_F(SqliteRegistryTest, AuditIsNewestFirstWithIncreasingIds) {
  auto first = reg->append_audit(audit(100, "user:admin", "register", "api"));
  auto second = reg->append_audit(audit(200, "token:deploy-bot", "start", "api", "start_failed"));
  ASSERT_TRUE(first && second);
  EXPECT_LT(*first, *second);

  auto all = reg->query_audit({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  auto expected = audit(200, "token:deploy-bot", "start", "api", "start_failed");
  expected.id = *second;
  EXPECT_EQ((*all)[0], expected);
  EXPECT_EQ((*all)[1].id, *first);
}

TEST_F(SqliteRegistryTest, AuditFilters) {
  ASSERT_TRUE(reg->append_audit(audit(100, "user:admin", "register", "api")));       // 1
  ASSERT_TRUE(reg->append_audit(audit(200, "token:bot", "start", "api")));           // 2
  ASSERT_TRUE(reg->append_audit(audit(300, "token:bot", "stop", "web")));            // 3
  ASSERT_TRUE(reg->append_audit(audit(400, "cli", "start", "web")));                 // 4
  ASSERT_TRUE(reg->append_audit(audit(500, "user:admin", "token_create", "")));      // 5

  auto q = [&](AuditQuery query) { return ids_of(*reg->query_audit(query)); };
  using Ids = std::vector<std::int64_t>;
  EXPECT_EQ(q({.target = "api"}), (Ids{2, 1}));
  EXPECT_EQ(q({.target = ""}), (Ids{5}));
  EXPECT_EQ(q({.actor = "token:bot"}), (Ids{3, 2}));
  EXPECT_EQ(q({.action = "start"}), (Ids{4, 2}));
  EXPECT_EQ(q({.target = "web", .action = "start"}), (Ids{4}));
  EXPECT_EQ(q({.since_usec = 200, .until_usec = 400}), (Ids{3, 2}));  // [since, until)
  EXPECT_EQ(q({.since_usec = 450}), (Ids{5}));
  EXPECT_EQ(q({.until_usec = 150}), (Ids{1}));
  EXPECT_EQ(q({.actor = "nobody"}), Ids{});
  EXPECT_EQ(q({.limit = 0}), Ids{});
  EXPECT_EQ(q({.limit = 2}), (Ids{5, 4}));
}

TEST_F(SqliteRegistryTest, AuditPagesWithBeforeId) {
  for (int i = 1; i <= 25; ++i) ASSERT_TRUE(reg->append_audit(audit(i, "cli", "start", "api")));
  std::vector<std::int64_t> seen;
  std::optional<std::int64_t> before;
  int pages = 0;
  while (true) {
    auto page = reg->query_audit({.target = "api", .before_id = before, .limit = 10});
    ASSERT_TRUE(page);
    if (page->empty()) break;
    ++pages;
    for (const auto& e : *page) seen.push_back(e.id);
    before = page->back().id;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], static_cast<std::int64_t>(25 - i));
}

TEST_F(SqliteRegistryTest, AuditPageIsCapped) {
  for (std::size_t i = 0; i < kMaxAuditPage + 5; ++i) {
    ASSERT_TRUE(reg->append_audit(audit(static_cast<std::int64_t>(i), "cli", "start", "api")));
  }
  auto page = reg->query_audit({.limit = 5000});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->size(), kMaxAuditPage);
  EXPECT_EQ(page->front().id, static_cast<std::int64_t>(kMaxAuditPage + 5));
}

TEST(SqliteRegistryAudit, KeepsAtMostTheBoundDeletingTheOldest) {
  SqliteRegistry::Options options;
  options.audit_max_entries = 5;
  auto reg = open_or_die(":memory:", std::move(options));
  ASSERT_TRUE(reg);
  for (int i = 1; i <= 12; ++i) {
    auto id = reg->append_audit(audit(i * 10, "cli", "start", "api"));
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, i);
    EXPECT_EQ(reg->query_audit({})->size(), static_cast<std::size_t>(std::min(i, 5)));
  }
  EXPECT_EQ(ids_of(*reg->query_audit({})), (std::vector<std::int64_t>{12, 11, 10, 9, 8}));
}

TEST(SqliteRegistryAudit, ALowerBoundOnReopenPrunesOnNextAppend) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  {
    auto reg = open_or_die(path);
    ASSERT_TRUE(reg);
    for (int i = 1; i <= 20; ++i) ASSERT_TRUE(reg->append_audit(audit(i, "cli", "start", "api")));
  }
  SqliteRegistry::Options options;
  options.audit_max_entries = 3;
  auto reg = open_or_die(path, std::move(options));
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->append_audit(audit(21, "cli", "start", "api")));
  EXPECT_EQ(ids_of(*reg->query_audit({})), (std::vector<std::int64_t>{21, 20, 19}));
}

// --- Events ----------------------------------------------------------------------------

EventRecord event(std::int64_t at, const std::string& app, const std::string& kind, const std::string& severity = "error") {
  return EventRecord{0, at, app, kind, severity, app + " " + kind};
}

TEST_F(SqliteRegistryTest, EventsAreNewestFirstAndFilterByApp) {
  ASSERT_TRUE(reg->append_event(event(100, "api", "failed")));
  ASSERT_TRUE(reg->append_event(event(200, "web", "zombie", "warning")));
  ASSERT_TRUE(reg->append_event(event(300, "api", "recovered", "info")));
  auto all = reg->query_events({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].kind, "recovered");
  EXPECT_EQ((*all)[0].message, "api recovered");
  EXPECT_EQ((*all)[2].at_usec, 100);
  auto api = reg->query_events({.app = "api"});
  ASSERT_TRUE(api);
  ASSERT_EQ(api->size(), 2u);
  EXPECT_EQ((*api)[1].kind, "failed");
  auto page = reg->query_events({.before_id = (*all)[0].id, .limit = 1});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].app, "web");
  EXPECT_EQ(reg->query_events({.since_usec = 150})->size(), 2u);
}

TEST_F(SqliteRegistryTest, AnEventWithAnUnknownSeverityIsRefusedAndNotStored) {
  EXPECT_FALSE(reg->append_event(event(1, "api", "failed", "fatal")));
  EXPECT_TRUE(reg->query_events({})->empty());
}

TEST(SqliteRegistryEvents, KeepsAtMostTheBoundDeletingTheOldest) {
  SqliteRegistry::Options options;
  options.events_max_entries = 4;
  auto reg = open_or_die(":memory:", std::move(options));
  ASSERT_TRUE(reg);
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(reg->append_event(event(i, "api", "failed")));
  auto all = reg->query_events({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->front().at_usec, 10);
  EXPECT_EQ(all->back().at_usec, 7);
}

TEST(SqliteRegistryOptions, RefusesAZeroAuditBound) {
  SqliteRegistry::Options options;
  options.audit_max_entries = 0;
  auto reg = SqliteRegistry::open(":memory:", std::move(options));
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code, "invalid_registry_options");
}

// --- Files, durability, concurrency ----------------------------------------------------

TEST(SqliteRegistryFile, ReopenKeepsEverything) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  std::int64_t token_id = 0;
  {
    auto reg = open_or_die(path);
    ASSERT_TRUE(reg);
    ASSERT_TRUE(reg->put_app(app_record("api")));
    ASSERT_TRUE(reg->put_monitored({"k", "n", "c", "u", 1}));
    auto id = reg->add_token("bot", Role::Admin, kHashA, 1);
    ASSERT_TRUE(id);
    token_id = *id;
    ASSERT_TRUE(reg->put_user({"admin", "h", Role::Admin, 1}));
    ASSERT_TRUE(reg->append_audit(audit(1, "cli", "register", "api")));
    ASSERT_TRUE(reg->put_setting("k", "v"));
  }
  auto reg = open_or_die(path);
  ASSERT_TRUE(reg);
  EXPECT_EQ(**reg->get_app("api"), app_record("api"));
  EXPECT_EQ(reg->list_monitored()->size(), 1u);
  EXPECT_EQ((*reg->find_token_by_hash(kHashA))->id, token_id);
  EXPECT_TRUE(*reg->get_user("admin"));
  EXPECT_EQ(reg->query_audit({})->size(), 1u);
  EXPECT_EQ(*reg->get_setting("k"), "v");
}

TEST(SqliteRegistryFile, UsesWalAndAPrivateFile) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  auto reg = open_or_die(path);
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->put_app(app_record("api")));

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

TEST(SqliteRegistryDeathTest, ACommittedAppSurvivesAKill) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  // The child writes and is killed without closing anything: no destructor, no
  // checkpoint. What put_app() returned must be there for the next agent.
  EXPECT_EXIT(
      {
        auto reg = SqliteRegistry::open(path);
        if (!reg || !(*reg)->put_app(app_record("api"))) std::_Exit(1);
        std::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  auto reg = open_or_die(path);
  ASSERT_TRUE(reg);
  auto api = reg->get_app("api");
  ASSERT_TRUE(api);
  EXPECT_TRUE(*api);
}

/// Each thread writes its own apps, tokens, audit entries and settings while reading.
void hammer(Registry& reg, int thread, int rounds, std::atomic<int>& failures) {
  for (int i = 0; i < rounds; ++i) {
    const std::string suffix = std::to_string(thread) + "-" + std::to_string(i);
    bool ok = reg.put_app(app_record("app-" + suffix, i % 2 == 0, i)).has_value();
    ok = ok && reg.add_token("tok-" + suffix, Role::Viewer, "hash-" + suffix, i).has_value();
    ok = ok && reg.append_audit(audit(i, "thread:" + std::to_string(thread), "start", "app-" + suffix)).has_value();
    ok = ok && reg.put_setting("last-" + std::to_string(thread), suffix).has_value();
    ok = ok && reg.get_app("app-" + suffix).value_or(std::nullopt).has_value();
    if (i % 10 == 0) {
      ok = ok && reg.list_apps().has_value() && reg.query_audit({.limit = 50}).has_value();
    }
    if (!ok) ++failures;
  }
}

void expect_consistent(SqliteRegistry& reg, int threads, int rounds) {
  const auto n = static_cast<std::size_t>(threads * rounds);
  auto apps = reg.list_apps();
  ASSERT_TRUE(apps);
  EXPECT_EQ(apps->size(), n);
  auto tokens = reg.list_tokens();
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->size(), n);
  std::set<std::int64_t> token_ids;
  for (const auto& t : *tokens) token_ids.insert(t.id);
  EXPECT_EQ(token_ids.size(), n);
  std::set<std::int64_t> audit_ids;
  std::optional<std::int64_t> before;
  while (true) {
    auto page = reg.query_audit({.before_id = before, .limit = kMaxAuditPage});
    ASSERT_TRUE(page);
    if (page->empty()) break;
    for (const auto& e : *page) audit_ids.insert(e.id);
    before = page->back().id;
  }
  EXPECT_EQ(audit_ids.size(), n);
  for (int t = 0; t < threads; ++t) {
    EXPECT_EQ(*reg.get_setting("last-" + std::to_string(t)), std::to_string(t) + "-" + std::to_string(rounds - 1));
  }
}

bool integrity_ok(const std::string& path) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return false;
  sqlite3_stmt* stmt = nullptr;
  bool ok = sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
            sqlite3_step(stmt) == SQLITE_ROW &&
            std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "ok";
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return ok;
}

TEST(SqliteRegistryConcurrency, FourThreadsOnOneRegistry) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  auto reg = open_or_die(path);
  ASSERT_TRUE(reg);
  constexpr int kThreads = 4;
  constexpr int kRounds = 50;
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { hammer(*reg, t, kRounds, failures); });
  }
  EXPECT_EQ(failures.load(), 0);
  expect_consistent(*reg, kThreads, kRounds);
  EXPECT_TRUE(integrity_ok(path));
}

TEST(SqliteRegistryConcurrency, TwoConnectionsOnOneFile) {
  // Two registries on the same file (as the agent and a CLI would be): SQLite's locks
  // and the busy timeout arbitrate between the connections.
  TempDir dir;
  const auto path = dir.file("registry.db");
  auto a = open_or_die(path);
  auto b = open_or_die(path);
  ASSERT_TRUE(a && b);
  constexpr int kRounds = 50;
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      Registry& reg = t % 2 == 0 ? static_cast<Registry&>(*a) : static_cast<Registry&>(*b);
      threads.emplace_back([&reg, t, &failures] { hammer(reg, t, kRounds, failures); });
    }
  }
  EXPECT_EQ(failures.load(), 0);
  expect_consistent(*a, 4, kRounds);
  EXPECT_TRUE(integrity_ok(path));
}

// --- Bad paths -------------------------------------------------------------------------

void expect_open_fails(const std::string& path, ErrorKind kind, const std::string& code,
                       const std::string& mentions) {
  auto reg = SqliteRegistry::open(path);
  ASSERT_FALSE(reg) << path;
  EXPECT_EQ(reg.error().kind, kind) << reg.error().message;
  EXPECT_EQ(reg.error().code, code) << reg.error().message;
  EXPECT_NE(reg.error().message.find(mentions), std::string::npos) << reg.error().message;
}

TEST(SqliteRegistryPath, MissingDirectory) {
  TempDir dir;
  const auto path = dir.file("no-such-dir/registry.db");
  expect_open_fails(path, ErrorKind::NotFound, "registry_dir_missing", path);
  EXPECT_FALSE(fs::exists(dir.file("no-such-dir")));  // not created
}

TEST(SqliteRegistryPath, ParentIsAFile) {
  TempDir dir;
  std::ofstream(dir.file("plain")) << "x";
  expect_open_fails(dir.file("plain/registry.db"), ErrorKind::InvalidInput, "registry_path_invalid", "not a directory");
}

TEST(SqliteRegistryPath, PathIsADirectory) {
  TempDir dir;
  fs::create_directory(dir.file("sub"));
  expect_open_fails(dir.file("sub"), ErrorKind::InvalidInput, "registry_path_invalid", dir.file("sub"));
}

TEST(SqliteRegistryPath, NotADatabase) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  std::ofstream(path) << std::string(4096, 'x');
  expect_open_fails(path, ErrorKind::InvalidInput, "registry_path_invalid", "not a SQLite database");
}

TEST(SqliteRegistryPath, EmptyPath) {
  expect_open_fails("", ErrorKind::InvalidInput, "registry_path_invalid", "empty");
}

TEST(SqliteRegistryPath, UnwritableDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
  TempDir dir;
  fs::create_directory(dir.file("ro"));
  fs::permissions(dir.file("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  expect_open_fails(dir.file("ro/registry.db"), ErrorKind::PermissionDenied, "registry_not_writable", dir.file("ro"));
}

}  // namespace
}  // namespace siax::registry
