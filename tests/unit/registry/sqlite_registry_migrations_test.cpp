// Tests of SqliteRegistry's schema migrations: a fresh database, re-opening, refusing a
// newer database, upgrading a hand-made v1 database, a failing migration.
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "appdef/app_json.h"
#include "registry/sqlite_registry.h"
#include "support/temp_dir.h"

namespace siax::registry {
namespace {

namespace fs = std::filesystem;
using siax::test::TempDir;

/// A raw connection for building and inspecting databases behind the registry's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << (message != nullptr ? message : "") << "\n" << sql;
    sqlite3_free(message);
  }
  /// The first column of the first row as text ("" when there is no row).
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

SqliteRegistry::Options with(std::vector<Migration> migrations) {
  SqliteRegistry::Options options;
  options.migrations = std::move(migrations);
  return options;
}

std::vector<Migration> builtin_plus(std::vector<Migration> more) {
  auto all = builtin_migrations();
  for (auto& m : more) all.push_back(std::move(m));
  return all;
}

core::AppDefinition node_app(const std::string& name) {
  core::AppDefinition d;
  d.name = name;
  d.script_path = "/srv/" + name + "/server.js";
  d.user = "app";
  d.working_directory = "/srv/" + name;
  return d;
}

const int kBuiltinVersion = builtin_migrations().back().version;
const int kNext = kBuiltinVersion + 1;  // the first version a test may add

TEST(SqliteRegistryMigrations, BuiltinListIsVersionOneOnwards) {
  ASSERT_FALSE(builtin_migrations().empty());
  EXPECT_EQ(builtin_migrations().front().version, 1);
}

TEST(SqliteRegistryMigrations, AnEmptyDatabaseGetsEveryMigration) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  auto reg = SqliteRegistry::open(path, with(builtin_migrations()));
  ASSERT_TRUE(reg) << reg.error().message;
  EXPECT_EQ((*reg)->schema_version(), kBuiltinVersion);
  reg->reset();

  RawDb raw(path);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(kBuiltinVersion));
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'schema_migrations'"), "0");
  for (const char* table : {"apps", "monitored_processes", "api_tokens", "users", "audit_log", "settings", "events"}) {
    EXPECT_EQ(raw.scalar(std::string("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '") + table +
                         "'"),
              "1")
        << table;
  }
}

TEST(SqliteRegistryMigrations, InMemoryDatabasesAreMigratedToo) {
  auto reg = SqliteRegistry::open(":memory:");
  ASSERT_TRUE(reg) << reg.error().message;
  EXPECT_EQ((*reg)->schema_version(), kBuiltinVersion);
}

TEST(SqliteRegistryMigrations, ReopeningKeepsDataAndDoesNotRerunMigrations) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  // Migration kNext cannot run twice (the table would already exist), so a re-run fails.
  const auto migrations = builtin_plus({{kNext, "CREATE TABLE extra (x INTEGER) STRICT;"}});
  {
    auto reg = SqliteRegistry::open(path, with(migrations));
    ASSERT_TRUE(reg) << reg.error().message;
    ASSERT_TRUE((*reg)->put_app({node_app("api"), true, 1, 2}));
  }
  auto reg = SqliteRegistry::open(path, with(migrations));
  ASSERT_TRUE(reg) << reg.error().message;
  EXPECT_EQ((*reg)->schema_version(), kNext);
  EXPECT_TRUE(*(*reg)->get_app("api"));
  reg->reset();

  RawDb raw(path);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(kNext));
}

TEST(SqliteRegistryMigrations, RefusesADatabaseFromANewerAgent) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  ASSERT_TRUE(SqliteRegistry::open(path));
  {
    RawDb raw(path);
    raw.exec("PRAGMA user_version = 99");
  }
  auto reg = SqliteRegistry::open(path);
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(reg.error().code, "registry_schema_too_new");
  for (const std::string& needle : {path, std::string("99"), std::string("newer")}) {
    EXPECT_NE(reg.error().message.find(needle), std::string::npos) << reg.error().message;
  }
  RawDb raw(path);  // untouched
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), "99");
}

TEST(SqliteRegistryMigrations, RefusesALegacyDatabaseFromANewerAgent) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at_usec INTEGER);");
    raw.exec("INSERT INTO schema_migrations VALUES (1, 1), (99, 5);");
  }
  auto reg = SqliteRegistry::open(path);
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code, "registry_schema_too_new");
  EXPECT_NE(reg.error().message.find("99"), std::string::npos) << reg.error().message;
  RawDb raw(path);  // untouched
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), "0");
}

/// A database as the agent wrote it before user_version (schema_migrations rows for
/// every builtin migration) opens without re-running a migration and keeps its data.
TEST(SqliteRegistryMigrations, ADatabaseOfTheOldSchemeOpens) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at_usec INTEGER NOT NULL);");
    for (const auto& m : builtin_migrations()) {
      raw.exec(m.sql);
      raw.exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 7);");
    }
    raw.exec("INSERT INTO users VALUES ('admin', 'h', 'admin', 3);");
  }
  auto reg = SqliteRegistry::open(path);
  ASSERT_TRUE(reg) << reg.error().message;
  EXPECT_EQ((*reg)->schema_version(), kBuiltinVersion);
  auto admin = (*reg)->get_user("admin");
  ASSERT_TRUE(admin && *admin);
  EXPECT_EQ((*admin)->role, Role::Admin);
  reg->reset();
  RawDb raw(path);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(kBuiltinVersion));
  // Opened again: now through user_version.
  EXPECT_TRUE(SqliteRegistry::open(path));
}

TEST(SqliteRegistryMigrations, DoesNotDowngrade) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  ASSERT_TRUE(SqliteRegistry::open(path, with(builtin_plus({{kNext, "CREATE TABLE extra (x INTEGER) STRICT;"}}))));
  auto older = SqliteRegistry::open(path, with(builtin_migrations()));
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().code, "registry_schema_too_new");
  RawDb raw(path);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'extra'"), "1");
}

TEST(SqliteRegistryMigrations, AHandMadeV1DatabaseUpgradesCleanly) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  const std::string app_json = appdef::definition_to_json(node_app("api")).dump();
  {
    // A v1 database as an agent of version 1 left it, data included.
    RawDb raw(path);
    raw.exec("CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at_usec INTEGER);");
    raw.exec(builtin_migrations().front().sql);
    raw.exec("INSERT INTO schema_migrations VALUES (1, 42);");
    raw.exec("INSERT INTO apps VALUES ('api', '" + app_json + "', 1, 10, 20);");
    raw.exec("INSERT INTO api_tokens(name, role, hash, created_at_usec) VALUES ('bot', 'admin', 'h1', 5);");
    raw.exec("INSERT INTO audit_log(at_usec, actor, role, action, target, source, result, detail) "
             "VALUES (7, 'cli', 'admin', 'register', 'api', '', 'ok', '');");
  }
  const auto migrations = builtin_plus({
      {kNext, "ALTER TABLE apps ADD COLUMN notes TEXT NOT NULL DEFAULT '';"
          "CREATE TABLE app_events (id INTEGER PRIMARY KEY, app TEXT NOT NULL REFERENCES apps(name) "
          "ON DELETE CASCADE, at_usec INTEGER NOT NULL) STRICT;"},
      {kNext + 1, "CREATE INDEX app_events_by_app ON app_events(app, id);"},
  });
  auto reg = SqliteRegistry::open(path, with(migrations));
  ASSERT_TRUE(reg) << reg.error().message;
  EXPECT_EQ((*reg)->schema_version(), kNext + 1);

  auto api = (*reg)->get_app("api");
  ASSERT_TRUE(api && *api);
  EXPECT_EQ((*api)->definition, node_app("api"));
  EXPECT_TRUE((*api)->enabled);
  EXPECT_EQ((*api)->updated_at_usec, 20);
  EXPECT_EQ((*(*reg)->find_token_by_hash("h1"))->name, "bot");
  EXPECT_EQ((*reg)->query_audit({})->size(), 1u);
  // Writing through the new schema works, and updating an app does not cascade-delete
  // rows that reference it (put_app is an upsert, not a delete + insert).
  {
    RawDb raw(path);
    raw.exec("INSERT INTO app_events(app, at_usec) VALUES ('api', 1);");
  }
  ASSERT_TRUE((*reg)->put_app({node_app("api"), false, 10, 30}));
  reg->reset();

  RawDb raw(path);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(kNext + 1));
  // The old scheme's table is left as it was (an older agent's record).
  EXPECT_EQ(raw.scalar("SELECT GROUP_CONCAT(version || ':' || applied_at_usec, ',') FROM schema_migrations"), "1:42");
  EXPECT_EQ(raw.scalar("SELECT notes FROM apps WHERE name = 'api'"), "");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM app_events"), "1");
}

TEST(SqliteRegistryMigrations, AFailingMigrationLeavesThePreviousVersion) {
  TempDir dir;
  const auto path = dir.file("registry.db");
  ASSERT_TRUE(SqliteRegistry::open(path));
  auto reg = SqliteRegistry::open(path, with(builtin_plus({{kNext, "CREATE TABLE half_done (x INTEGER); NOT SQL AT ALL;"}})));
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().kind, ErrorKind::Internal);
  EXPECT_EQ(reg.error().code, "registry_migration_failed");
  EXPECT_NE(reg.error().message.find("migration " + std::to_string(kNext)), std::string::npos) << reg.error().message;
  EXPECT_NE(reg.error().message.find("syntax error"), std::string::npos) << reg.error().message;
  EXPECT_NE(reg.error().message.find(path), std::string::npos) << reg.error().message;
  {
    RawDb raw(path);
    EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(kBuiltinVersion));
    EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half_done'"), "0");
  }
  EXPECT_TRUE(SqliteRegistry::open(path));  // the current code still opens it
}

TEST(SqliteRegistryMigrations, RefusesBadMigrationLists) {
  for (const auto& list : std::vector<std::vector<Migration>>{
           {},
           {{0, "SELECT 1;"}},
           {{1, "SELECT 1;"}, {1, "SELECT 1;"}},
           {{2, "SELECT 1;"}, {1, "SELECT 1;"}},
           {{1, ""}},
       }) {
    auto reg = SqliteRegistry::open(":memory:", with(list));
    ASSERT_FALSE(reg) << list.size();
    EXPECT_EQ(reg.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(reg.error().code, "invalid_registry_options");
  }
}

}  // namespace
}  // namespace siax::registry
