// Tests of the shared SQLite helper: transactions, statements, user_version migrations
// with a legacy version. The stores' own tests cover their schemas.
#include "storage/sqlite.h"

#include <gtest/gtest.h>

namespace siax::storage {
namespace {

Naming test_naming() {
  return Naming{"test store", "test_store", "(test)", "move it away",
                [](const Failure& f, std::string_view path, std::string_view what) {
                  return Error{f.is_unique_violation() ? ErrorKind::Conflict : ErrorKind::Internal, "test_store_error",
                               std::string(path) + ": " + std::string(what) + ": " + f.message};
                }};
}

Database memory_db() {
  auto db = Database::open(":memory:", {}, test_naming());
  EXPECT_TRUE(db) << db.error().message;
  return std::move(*db);
}

TEST(StorageSqlite, ATransactionNotCommittedIsRolledBack) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY) STRICT", "create"));
  {
    auto tx = Transaction::begin(db);
    ASSERT_TRUE(tx);
    auto ins = db.prepare("INSERT INTO t(x) VALUES (?1)", "insert");
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->bind(1, std::int64_t{1}).run());
  }
  EXPECT_EQ(*db.scalar("SELECT COUNT(*) FROM t", "count"), 0);
  {
    auto tx = Transaction::begin(db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db.exec("INSERT INTO t(x) VALUES (2)", "insert"));
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(*db.scalar("SELECT COUNT(*) FROM t", "count"), 1);
}

TEST(StorageSqlite, ACachedStatementIsResetAndReusedAndNeverSharedWhileInUse) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY) STRICT", "create"));
  ASSERT_TRUE(db.exec("INSERT INTO t(x) VALUES (1), (2), (3)", "insert"));
  const char* sql = "SELECT x FROM t WHERE x >= ?1 ORDER BY x";
  {
    auto outer = db.prepare_cached(sql, "select");
    ASSERT_TRUE(outer);
    outer->bind(1, std::int64_t{2});
    ASSERT_TRUE(*outer->step());
    EXPECT_EQ(outer->int64(0), 2);
    // The cached one is in use (mid-rows, bound): the same SQL now gets its own statement.
    auto inner = db.prepare_cached(sql, "select");
    ASSERT_TRUE(inner);
    inner->bind(1, std::int64_t{1});
    ASSERT_TRUE(*inner->step());
    EXPECT_EQ(inner->int64(0), 1);
    ASSERT_TRUE(*outer->step());
    EXPECT_EQ(outer->int64(0), 3);
  }
  // Handed back reset, bindings cleared: it starts from the first row, with NULL bound.
  auto again = db.prepare_cached(sql, "select");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again->step());  // x >= NULL matches nothing
  // A write between uses is seen (the statement's read ended when it was handed back).
  auto count = db.scalar_cached("SELECT COUNT(*) FROM t", "count");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 3);
  ASSERT_TRUE(db.exec("INSERT INTO t(x) VALUES (4)", "insert"));
  EXPECT_EQ(*db.scalar_cached("SELECT COUNT(*) FROM t", "count"), 4);
  // Bad SQL is an error, and is not cached.
  EXPECT_FALSE(db.prepare_cached("SELEKT", "bad"));
  EXPECT_FALSE(db.prepare_cached("SELEKT", "bad"));
}

TEST(StorageSqlite, FailuresGoThroughTheStoresMapper) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY) STRICT", "create"));
  ASSERT_TRUE(db.exec("INSERT INTO t(x) VALUES (1)", "insert"));
  auto again = db.prepare("INSERT INTO t(x) VALUES (?1)", "insert again");
  ASSERT_TRUE(again);
  auto r = again->bind(1, std::int64_t{1}).run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Conflict);
  EXPECT_NE(r.error().message.find("insert again"), std::string::npos) << r.error().message;
  // A bind error (index out of range) is reported by the step, not lost.
  auto bad = db.prepare("SELECT ?1", "bad bind");
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->bind(5, std::int64_t{1}).step());
}

MigrationPlan plan(std::vector<Migration> migrations, int legacy) {
  return MigrationPlan{std::move(migrations), [legacy](const Database&) -> Result<int> { return legacy; },
                       [](int found, int) { return Error{ErrorKind::Conflict, "too_new", std::to_string(found)}; },
                       "test_migration_failed"};
}

TEST(StorageSqlite, MigrationsRecordTheirVersionInUserVersion) {
  auto db = memory_db();
  auto v = migrate(db, plan({{1, "CREATE TABLE a (x INTEGER)"}, {2, "CREATE TABLE b (x INTEGER)"}}, 0));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 2);
  EXPECT_EQ(*db.scalar("PRAGMA user_version", "read"), 2);
  // Re-running does nothing (a re-run of 1 would fail: the table exists).
  EXPECT_EQ(migrate(db, plan({{1, "CREATE TABLE a (x INTEGER)"}, {2, "CREATE TABLE b (x INTEGER)"}}, 0)), 2);
}

TEST(StorageSqlite, ALegacyVersionSkipsTheMigrationsItHad) {
  auto db = memory_db();
  ASSERT_TRUE(db.exec("CREATE TABLE a (x INTEGER)", "legacy schema"));
  auto v = migrate(db, plan({{1, "CREATE TABLE a (x INTEGER)"}, {2, "CREATE TABLE b (x INTEGER)"}}, 1));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 2);
  EXPECT_EQ(*db.scalar("PRAGMA user_version", "read"), 2);
}

TEST(StorageSqlite, AFailedMigrationKeepsThePreviousVersionAndUnknownVersionsAreRefused) {
  auto db = memory_db();
  ASSERT_TRUE(migrate(db, plan({{1, "CREATE TABLE a (x INTEGER)"}}, 0)));
  auto failed = migrate(db, plan({{1, "CREATE TABLE a (x INTEGER)"}, {2, "CREATE TABLE c (x); NOT SQL"}}, 0));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "test_migration_failed");
  EXPECT_EQ(*db.scalar("PRAGMA user_version", "read"), 1);
  EXPECT_EQ(*db.scalar("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'c'", "read"), 0);
  ASSERT_TRUE(db.exec("PRAGMA user_version = 9", "set"));
  auto refused = migrate(db, plan({{1, "CREATE TABLE a (x INTEGER)"}}, 0));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "too_new");
  EXPECT_FALSE(migrate(db, plan({}, 0)));  // an empty list is refused
}

}  // namespace
}  // namespace siax::storage
