#pragma once
/// The one SQLite helper of the agent: every store (the registry, the cloud outbox)
/// opens its database, runs statements, transactions and schema migrations through it.
/// No sqlite3 type appears here: stores do not include <sqlite3.h>.
///
/// - Database::open(): checks the path first (SQLite says "unable to open database
///   file" for every problem), creates a missing file with mode 0600, opens it with the
///   pragmas every store uses (WAL, synchronous=NORMAL, a busy timeout, optionally
///   foreign keys).
/// - Statement: a prepared statement; bind errors are remembered and reported by the
///   first step(), so that call sites read as one chain. SQL is always a constant of the
///   calling store: values are bound, never formatted in.
/// - Transaction: BEGIN IMMEDIATE (the write lock up front, so that a transaction never
///   fails half-way on a lock upgrade); rolled back unless commit() succeeded.
/// - migrate(): the schema version is SQLite's `PRAGMA user_version`. Each migration
///   runs in its own transaction; a database whose version this code does not know
///   (written by a newer agent) is refused: there is no downgrade. Databases written
///   before user_version was used report their version through `legacy_version`.
///
/// Thread: a Database is not thread-safe; each store serializes its use with a mutex.
/// Errors: every failure goes through the store's Naming::map_error, so that each store
/// keeps its own error codes and messages.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace siax::storage {

/// A SQLite failure before it becomes an Error: the extended result code and SQLite's
/// own message.
struct Failure {
  int code = 0;
  std::string message;

  [[nodiscard]] bool is_busy() const noexcept;              ///< BUSY or LOCKED: another process holds the lock
  [[nodiscard]] bool is_unique_violation() const noexcept;  ///< UNIQUE or PRIMARY KEY constraint
  [[nodiscard]] bool is_io() const noexcept;                ///< FULL, IOERR, READONLY, CANTOPEN
  [[nodiscard]] bool is_not_a_database() const noexcept;    ///< the file is not a SQLite database
};

/// How a store names itself in errors.
struct Naming {
  std::string noun;         ///< "registry", "cloud outbox": in messages
  std::string code_prefix;  ///< "registry", "cloud_outbox": codes are <prefix>_path_invalid, ...
  std::string missing_dir_hint;     ///< appended to "the directory X does not exist; create it"
  std::string not_a_database_hint;  ///< appended to "the file is not a SQLite database; "
  /// Maps a failure of `what` (e.g. "store the app") on the database at `path`.
  std::function<Error(const Failure&, std::string_view path, std::string_view what)> map_error;
};

struct OpenOptions {
  /// How long a statement waits for another process's lock.
  std::chrono::milliseconds busy_timeout{5000};
  bool foreign_keys = false;
};

class Database;

/// A prepared statement. Lives shorter than its Database.
class Statement {
 public:
  struct Cached;  ///< a statement kept by Database::prepare_cached (sqlite.cpp)
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  Statement& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }
  Statement& bind_null(int index);

  /// true when a row is available, false when the statement is done.
  [[nodiscard]] Result<bool> step();
  /// Runs a statement that returns no rows.
  [[nodiscard]] Result<void> run();

  [[nodiscard]] std::string text(int col) const;
  [[nodiscard]] std::int64_t int64(int col) const;
  [[nodiscard]] bool is_null(int col) const;
  [[nodiscard]] std::optional<std::int64_t> optional_int64(int col) const;

 private:
  friend class Database;
  struct Finalizer {
    /// A statement of Database::prepare_cached: reset and handed back, not finalized.
    Finalizer() noexcept : cached(nullptr) {}  // (no member initializer: usable before Statement is complete)
    Cached* cached;
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };
  Statement(const Database& db, sqlite3_stmt* stmt, std::string_view what);
  Statement& check(int rc);

  const Database* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  std::string what_;
  int bind_rc_ = 0;
};

/// One connection.
class Database {
 public:
  /// Opens (creating with mode 0600 if needed) the database at `path`, or an in-memory
  /// database for ":memory:". The parent directory is not created. Errors, with codes
  /// from `naming.code_prefix`: NotFound "<p>_dir_missing"; InvalidInput
  /// "<p>_path_invalid" (empty path, a parent that is not a directory, a file that is not
  /// a regular file or not a database); PermissionDenied "<p>_not_writable"; anything
  /// else through naming.map_error.
  [[nodiscard]] static Result<Database> open(const std::string& path, OpenOptions options, Naming naming);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  /// `sql` is a constant of the caller (values are bound, never formatted in).
  [[nodiscard]] Result<Statement> prepare(std::string_view sql, std::string_view what) const;
  /// The same, kept prepared on this connection for the next call (the hot reads: a
  /// statement's parse costs more than the read itself). Falls back to a fresh statement
  /// while the cached one is still in use.
  [[nodiscard]] Result<Statement> prepare_cached(std::string_view sql, std::string_view what) const;
  /// Runs constant SQL without values: pragmas, DDL, transaction control.
  [[nodiscard]] Result<void> exec(const std::string& sql, std::string_view what) const;
  /// The first column of the first row as an integer, 0 when there is no row.
  [[nodiscard]] Result<std::int64_t> scalar(std::string_view sql, std::string_view what) const;
  /// scalar() with a statement kept prepared (prepare_cached).
  [[nodiscard]] Result<std::int64_t> scalar_cached(std::string_view sql, std::string_view what) const;
  /// Rows changed by the last statement.
  [[nodiscard]] int changes() const noexcept;
  [[nodiscard]] std::int64_t last_insert_rowid() const noexcept;
  /// Whether a table of that name exists.
  [[nodiscard]] Result<bool> has_table(std::string_view name) const;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const Naming& naming() const noexcept { return *naming_; }
  /// The store's error for a SQLite result code `rc` of `what`.
  [[nodiscard]] Error error(int rc, std::string_view what) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept;
  };
  Database(std::string path, std::unique_ptr<sqlite3, Closer> handle, std::unique_ptr<Naming> naming);

  std::string path_;
  std::unique_ptr<sqlite3, Closer> handle_;
  std::unique_ptr<Naming> naming_;  ///< stable address: statements keep a pointer to the Database only
  /// prepare_cached's statements, by SQL (after handle_: finalized before it closes).
  mutable std::map<std::string, std::unique_ptr<Statement::Cached>, std::less<>> cached_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolled back on destruction unless committed.
class Transaction {
 public:
  [[nodiscard]] static Result<Transaction> begin(const Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  [[nodiscard]] Result<void> commit();

 private:
  explicit Transaction(const Database& db) : db_(&db), open_(true) {}
  const Database* db_;
  bool open_;
};

/// One schema step: SQL (one or more statements, no values) that moves the database
/// from the previous version to `version`.
struct Migration {
  int version = 0;
  std::string sql;
};

struct MigrationPlan {
  /// Strictly increasing versions starting at 1 (validate_migrations()).
  std::vector<Migration> migrations;
  /// For a database with user_version 0: the version an older scheme recorded (0 for a
  /// new database). Runs inside the first migration's transaction.
  std::function<Result<int>(const Database&)> legacy_version;
  /// The error for a database at `found`, a version this code does not know (`known` is
  /// the newest it knows).
  std::function<Error(int found, int known)> too_new;
  /// The code of a failed migration (kind Internal; a busy database stays Unavailable).
  std::string failed_code;
};

/// Empty when `migrations` is a valid list, else what is wrong with it.
[[nodiscard]] std::optional<std::string> validate_migrations(const std::vector<Migration>& migrations);

/// Brings the schema up to date; returns the resulting version.
[[nodiscard]] Result<int> migrate(const Database& db, const MigrationPlan& plan);

}  // namespace siax::storage

/// `auto var = expr;` and return its error if it failed: the stores' Result chains.
#define SIAX_STORAGE_TRY(var, expr) \
  auto var = (expr);                \
  if (!var) return tl::unexpected<::siax::Error>(std::move(var.error()))
