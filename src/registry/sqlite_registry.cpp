#include "registry/sqlite_registry.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <filesystem>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "appdef/app_json.h"

namespace siax::registry {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMemoryPath = ":memory:";

// Version 1: everything the agent stores. STRICT tables so that a type mix-up is an
// error rather than a silent conversion. Never edit once shipped: add a migration.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE apps (
  name            TEXT PRIMARY KEY NOT NULL,
  definition_json TEXT NOT NULL,
  enabled         INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
  created_at_usec INTEGER NOT NULL,
  updated_at_usec INTEGER NOT NULL
) STRICT;

CREATE TABLE monitored_processes (
  key           TEXT PRIMARY KEY NOT NULL,
  name          TEXT NOT NULL,
  command       TEXT NOT NULL,
  user          TEXT NOT NULL,
  added_at_usec INTEGER NOT NULL
) STRICT;

-- AUTOINCREMENT: a revoked token's id is never given to a new token.
CREATE TABLE api_tokens (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  name              TEXT NOT NULL,
  role              TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  hash              TEXT NOT NULL UNIQUE,
  created_at_usec   INTEGER NOT NULL,
  last_used_at_usec INTEGER,
  revoked_at_usec   INTEGER
) STRICT;
-- Names are unique among live tokens only: a revoked name can be reused.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(name) WHERE revoked_at_usec IS NULL;

CREATE TABLE users (
  username        TEXT PRIMARY KEY NOT NULL,
  password_hash   TEXT NOT NULL,
  role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at_usec INTEGER NOT NULL
) STRICT;

-- AUTOINCREMENT: ids keep increasing after the oldest entries are pruned, so that
-- paging by before_id and the bound (which prunes by id) stay correct.
CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at_usec INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  role    TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT NOT NULL,
  source  TEXT NOT NULL,
  result  TEXT NOT NULL,
  detail  TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_by_target ON audit_log(target, id);
CREATE INDEX audit_log_by_actor ON audit_log(actor, id);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT;
)sql";

// Version 2: the monitor's events (issue 4).
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  at_usec  INTEGER NOT NULL,
  app      TEXT NOT NULL,
  kind     TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
  message  TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_app ON events(app, id);
)sql";

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, applied_at_usec INTEGER NOT NULL)";

std::int64_t system_now_usec() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Maps a SQLite failure to the module's errors. The raw SQLite message is kept in the
/// details so that callers (add_token) can tell constraints apart without parsing ours.
Error sqlite_error(sqlite3* db, int rc, std::string_view path, std::string_view what) {
  std::string raw = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::vector<std::pair<std::string, std::string>> details = {{"sqlite_code", std::to_string(rc)},
                                                              {"sqlite_message", raw}};
  const int primary = rc & 0xff;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error{ErrorKind::Conflict, "registry_conflict",
                 fmt::format("registry {}: {}: {}", path, what, raw), std::move(details)};
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Error{ErrorKind::Unavailable, "registry_busy",
                 fmt::format("registry {}: {}: the database is locked by another process ({}); retry later", path,
                             what, raw),
                 std::move(details)};
  }
  return Error{ErrorKind::Internal, "registry_error", fmt::format("registry {}: {}: {}", path, what, raw),
               std::move(details)};
}

tl::unexpected<Error> unexpected(Error e) { return tl::unexpected<Error>(std::move(e)); }

// ---------------------------------------------------------------------------------------
// RAII over the C API
// ---------------------------------------------------------------------------------------

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};

/// A prepared statement with bound parameters. Bind errors are remembered and reported
/// by the first step(), so that call sites read as one chain.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string_view path, std::string_view what)
      : db_(db), stmt_(stmt), path_(path), what_(what) {}

  Statement& bind(int index, std::string_view text) {
    return check(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value) {
    return check(sqlite3_bind_int64(stmt_.get(), index, static_cast<sqlite3_int64>(value)));
  }
  Statement& bind(int index, const std::optional<std::int64_t>& value) {
    return value ? bind(index, *value) : check(sqlite3_bind_null(stmt_.get(), index));
  }
  Statement& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }

  /// true when a row is available, false when the statement is done.
  [[nodiscard]] Result<bool> step() {
    if (bind_rc_ != SQLITE_OK) return unexpected(sqlite_error(db_, bind_rc_, path_, what_));
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return unexpected(sqlite_error(db_, rc, path_, what_));
  }
  /// Runs a statement that returns no rows.
  [[nodiscard]] Result<void> run() {
    auto r = step();
    if (!r) return unexpected(std::move(r.error()));
    return {};
  }

  [[nodiscard]] std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
    if (p == nullptr) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)));
  }
  [[nodiscard]] std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  [[nodiscard]] std::optional<std::int64_t> optional_int64(int col) const {
    if (sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL) return std::nullopt;
    return int64(col);
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
  std::string_view path_;
  std::string_view what_;
  int bind_rc_ = SQLITE_OK;
};

/// The connection plus the path, for messages. Valid while the caller holds the mutex.
struct Conn {
  sqlite3* db;
  std::string_view path;

  /// `sql` is a constant of this file (values are always bound, never formatted in).
  [[nodiscard]] Result<Statement> prepare(std::string_view sql, std::string_view what) const {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return unexpected(sqlite_error(db, rc, path, what));
    }
    return Statement(db, stmt, path, what);
  }

  /// Runs constant SQL without values: pragmas, DDL, transaction control.
  [[nodiscard]] Result<void> exec(const char* sql, std::string_view what) const {
    // On failure sqlite3_exec leaves the message on the connection (its own out-parameter
    // is a copy of sqlite3_errmsg), so sqlite_error() reads it from there.
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return {};
    return unexpected(sqlite_error(db, rc, path, what));
  }

  [[nodiscard]] int changes() const { return sqlite3_changes(db); }
};

/// BEGIN IMMEDIATE (take the write lock up front, so that a transaction never fails
/// half-way on a lock upgrade); rolled back unless commit() succeeded.
class Transaction {
 public:
  [[nodiscard]] static Result<Transaction> begin(const Conn& conn) {
    auto r = conn.exec("BEGIN IMMEDIATE", "begin transaction");
    if (!r) return unexpected(std::move(r.error()));
    return Transaction(conn);
  }
  Transaction(Transaction&& other) noexcept : conn_(other.conn_), open_(std::exchange(other.open_, false)) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (open_) {
      // Nothing useful to do if the rollback fails: the connection reports it on next use.
      sqlite3_exec(conn_.db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  [[nodiscard]] Result<void> commit() {
    auto r = conn_.exec("COMMIT", "commit");
    if (r) open_ = false;
    return r;
  }

 private:
  explicit Transaction(const Conn& conn) : conn_(conn), open_(true) {}
  Conn conn_;
  bool open_;
};

/// `auto var = expr;` and return its error if it failed. Local to this file.
#define SIAX_TRY(var, expr)                              \
  auto var = (expr);                                     \
  if (!var) return unexpected(std::move(var.error()))

// ---------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------

Result<void> validate_options(const SqliteRegistry::Options& options) {
  auto invalid = [](std::string message) {
    return fail(ErrorKind::InvalidInput, "invalid_registry_options", std::move(message));
  };
  if (options.audit_max_entries == 0) return invalid("audit_max_entries must be at least 1");
  if (options.events_max_entries == 0 ||
      options.events_max_entries > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
    return invalid("events_max_entries must be at least 1");
  }
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > std::numeric_limits<int>::max()) {
    return invalid("busy_timeout must be between 0 and INT_MAX milliseconds");
  }
  if (options.migrations.empty()) return invalid("the migration list is empty: the registry needs a schema");
  int previous = 0;
  for (const auto& m : options.migrations) {
    if (m.version <= previous) {
      return invalid(fmt::format("migration versions must start at 1 and strictly increase; {} follows {}", m.version,
                                 previous));
    }
    if (m.sql.empty()) return invalid(fmt::format("migration {} has no SQL", m.version));
    previous = m.version;
  }
  return {};
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

bool is_missing(const std::error_code& ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

/// Checks the things SQLite reports badly (it says "unable to open database file" for
/// all of them) before opening, and creates a missing file with mode 0600.
Result<void> check_path(const std::string& path) {
  if (path.empty()) {
    return fail(ErrorKind::InvalidInput, "registry_path_invalid", "the registry path is empty: give a file path");
  }
  const fs::path file(path);
  fs::path dir = file.parent_path();
  if (dir.empty()) dir = ".";

  std::error_code ec;
  const auto dir_status = fs::status(dir, ec);
  if (ec && !is_missing(ec)) {
    return fail(ErrorKind::PermissionDenied, "registry_not_writable",
                fmt::format("cannot open the registry {}: cannot inspect the directory {}: {}", path, dir.string(),
                            ec.message()));
  }
  if (!fs::exists(dir_status)) {
    return fail(ErrorKind::NotFound, "registry_dir_missing",
                fmt::format("cannot open the registry {}: the directory {} does not exist; create it (the agent "
                            "does not create it for you)",
                            path, dir.string()));
  }
  if (!fs::is_directory(dir_status)) {
    return fail(ErrorKind::InvalidInput, "registry_path_invalid",
                fmt::format("cannot open the registry {}: {} is not a directory", path, dir.string()));
  }
  // WAL needs to create <file>-wal and <file>-shm next to the database.
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fail(ErrorKind::PermissionDenied, "registry_not_writable",
                fmt::format("cannot open the registry {}: the directory {} is not writable by the agent ({}); fix "
                            "its owner or mode",
                            path, dir.string(), errno_text(errno)));
  }

  const auto file_status = fs::status(file, ec);
  if (ec && !is_missing(ec)) {
    return fail(ErrorKind::PermissionDenied, "registry_not_writable",
                fmt::format("cannot open the registry {}: {}", path, ec.message()));
  }
  if (fs::exists(file_status)) {
    if (!fs::is_regular_file(file_status)) {
      return fail(ErrorKind::InvalidInput, "registry_path_invalid",
                  fmt::format("cannot open the registry {}: it exists and is not a regular file", path));
    }
    if (::access(file.c_str(), R_OK | W_OK) != 0) {
      return fail(ErrorKind::PermissionDenied, "registry_not_writable",
                  fmt::format("cannot open the registry {}: the file is not readable and writable by the agent ({}); "
                              "fix its owner or mode",
                              path, errno_text(errno)));
    }
    return {};
  }
  // It holds token and password hashes: not world-readable. SQLite gives the -wal and
  // -shm files the mode of the database file.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST) {
    return fail(ErrorKind::PermissionDenied, "registry_not_writable",
                fmt::format("cannot create the registry {}: {}", path, errno_text(errno)));
  }
  if (fd >= 0) ::close(fd);
  return {};
}

Result<int> current_version(const Conn& conn) {
  SIAX_TRY(stmt, conn.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "read the schema version"));
  SIAX_TRY(row, stmt->step());
  return static_cast<int>(stmt->int64(0));
}

Error schema_too_new(std::string_view path, int version, int known) {
  return Error{ErrorKind::Conflict, "registry_schema_too_new",
               fmt::format("the registry {} has schema version {}, which this siax-agent does not know (it knows up "
                           "to version {}): it was written by a newer agent. Run that agent again, or restore a "
                           "backup made by this one; the agent never downgrades a database",
                           path, version, known)};
}

bool is_known(const std::vector<Migration>& migrations, int version) {
  for (const auto& m : migrations) {
    if (m.version == version) return true;
  }
  return false;
}

/// Brings the schema up to date; returns the resulting version.
Result<int> migrate(const Conn& conn, const std::vector<Migration>& migrations,
                    const std::function<std::int64_t()>& now_usec) {
  SIAX_TRY(created, conn.exec(kCreateMigrationsTable, "create schema_migrations"));
  SIAX_TRY(version, current_version(conn));
  const int known = migrations.back().version;
  if (*version != 0 && !is_known(migrations, *version)) return unexpected(schema_too_new(conn.path, *version, known));

  for (const auto& m : migrations) {
    if (m.version <= *version) continue;
    auto applied = [&]() -> Result<int> {
      SIAX_TRY(tx, Transaction::begin(conn));
      // Another process may have migrated between our read and our lock.
      SIAX_TRY(now_version, current_version(conn));
      if (*now_version >= m.version) return *now_version;
      SIAX_TRY(ran, conn.exec(m.sql.c_str(), fmt::format("migration {} failed", m.version)));
      SIAX_TRY(stmt, conn.prepare("INSERT INTO schema_migrations(version, applied_at_usec) VALUES (?1, ?2)",
                                  "record the migration"));
      SIAX_TRY(recorded, stmt->bind(1, std::int64_t{m.version}).bind(2, now_usec()).run());
      SIAX_TRY(committed, tx->commit());
      return m.version;
    }();
    if (!applied) {
      Error e = std::move(applied.error());
      if (e.kind != ErrorKind::Unavailable) {
        e.kind = ErrorKind::Internal;
        e.code = "registry_migration_failed";
        e.message = fmt::format("{}; the database stays at schema version {}", e.message, *version);
      }
      return unexpected(std::move(e));
    }
    *version = *applied;
  }
  SIAX_TRY(final_version, current_version(conn));
  if (!is_known(migrations, *final_version)) return unexpected(schema_too_new(conn.path, *final_version, known));
  return *final_version;
}

// ---------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------

Error corrupt(std::string_view path, std::string message) {
  return Error{ErrorKind::Internal, "registry_error", fmt::format("registry {}: {}", path, std::move(message))};
}

Result<Role> role_column(const Statement& stmt, int col, std::string_view path, std::string_view what) {
  const std::string text = stmt.text(col);
  auto role = role_from_string(text);
  if (!role) return unexpected(corrupt(path, fmt::format("{} has an unknown role '{}'", what, text)));
  return *role;
}

/// The definition as stored text; refuses what definition_from_json could not read back,
/// so that every stored row stays readable.
Result<std::string> definition_text(const core::AppDefinition& def) {
  try {
    std::string text = appdef::definition_to_json(def).dump();
    auto back = appdef::definition_from_json(nlohmann::json::parse(text));
    if (!back) {
      return fail(ErrorKind::InvalidInput, "invalid_app_record",
                  fmt::format("the app '{}' cannot be stored: {}", def.name, back.error().message));
    }
    return text;
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorKind::InvalidInput, "invalid_app_record",
                fmt::format("the app '{}' cannot be stored as JSON: {}", def.name, e.what()));
  }
}

Result<AppRecord> app_row(const Statement& stmt, std::string_view path) {
  // Columns: name, definition_json, enabled, created_at_usec, updated_at_usec.
  const std::string name = stmt.text(0);
  AppRecord record;
  try {
    auto json = nlohmann::json::parse(stmt.text(1), nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return unexpected(corrupt(path, fmt::format("the app '{}' is not valid JSON", name)));
    auto def = appdef::definition_from_json(json);
    if (!def) {
      return unexpected(corrupt(path, fmt::format("the app '{}' cannot be read: {}", name, def.error().message)));
    }
    record.definition = std::move(*def);
    record.definition.secret_values.reset();  // stored as names with "***": the values are in the secret file
  } catch (const nlohmann::json::exception& e) {
    return unexpected(corrupt(path, fmt::format("the app '{}' cannot be read: {}", name, e.what())));
  }
  record.enabled = stmt.int64(2) != 0;
  record.created_at_usec = stmt.int64(3);
  record.updated_at_usec = stmt.int64(4);
  return record;
}

constexpr const char* kAppColumns = "name, definition_json, enabled, created_at_usec, updated_at_usec";

Result<TokenRecord> token_row(const Statement& stmt, std::string_view path) {
  // Columns: id, name, role, hash, created_at_usec, last_used_at_usec, revoked_at_usec.
  TokenRecord t;
  t.id = stmt.int64(0);
  t.name = stmt.text(1);
  SIAX_TRY(role, role_column(stmt, 2, path, fmt::format("token {}", t.id)));
  t.role = *role;
  t.hash = stmt.text(3);
  t.created_at_usec = stmt.int64(4);
  t.last_used_at_usec = stmt.optional_int64(5);
  t.revoked_at_usec = stmt.optional_int64(6);
  return t;
}

Result<UserRecord> user_row(const Statement& stmt, std::string_view path) {
  // Columns: username, password_hash, role, created_at_usec.
  UserRecord u;
  u.username = stmt.text(0);
  u.password_hash = stmt.text(1);
  SIAX_TRY(role, role_column(stmt, 2, path, fmt::format("user '{}'", u.username)));
  u.role = *role;
  u.created_at_usec = stmt.int64(3);
  return u;
}

/// Reads every row of `stmt` through `row`.
template <class T, class RowFn>
Result<std::vector<T>> collect(Statement& stmt, RowFn row) {
  std::vector<T> out;
  while (true) {
    SIAX_TRY(has_row, stmt.step());
    if (!*has_row) return out;
    auto item = row(stmt);
    if (!item) return unexpected(std::move(item.error()));
    out.push_back(std::move(*item));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// SqliteRegistry
// ---------------------------------------------------------------------------------------

const std::vector<Migration>& builtin_migrations() {
  static const std::vector<Migration> migrations = {
      {1, kSchemaV1},
      {2, kSchemaV2},
  };
  return migrations;
}

void SqliteRegistry::DbCloser::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

SqliteRegistry::SqliteRegistry(std::string path, DbHandle db, std::size_t audit_max_entries,
                               std::size_t events_max_entries, int schema_version)
    : path_(std::move(path)),
      db_(std::move(db)),
      audit_max_entries_(audit_max_entries),
      events_max_entries_(events_max_entries),
      schema_version_(schema_version) {}

SqliteRegistry::~SqliteRegistry() = default;

Result<std::unique_ptr<SqliteRegistry>> SqliteRegistry::open(const std::string& path) { return open(path, Options{}); }

Result<std::unique_ptr<SqliteRegistry>> SqliteRegistry::open(const std::string& path, Options options) {
  SIAX_TRY(valid, validate_options(options));
  if (path != kMemoryPath) {
    SIAX_TRY(checked, check_path(path));
  }
  if (!options.now_usec) options.now_usec = system_now_usec;

  sqlite3* raw = nullptr;
  // NOMUTEX: the registry's own mutex serializes every use of the connection.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);  // sqlite3_open_v2 may return a handle even on failure: close it too
  if (rc != SQLITE_OK) return unexpected(sqlite_error(db.get(), rc, path, "open"));

  const Conn conn{db.get(), path};
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
  // The first statement reads the file header: a file that is not a database fails here.
  if (const int wal_rc = sqlite3_exec(db.get(), "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
      wal_rc != SQLITE_OK) {
    if ((wal_rc & 0xff) == SQLITE_NOTADB) {
      return fail(ErrorKind::InvalidInput, "registry_path_invalid",
                  fmt::format("cannot open the registry {}: the file is not a SQLite database; move it away or "
                              "point the agent at another path",
                              path));
    }
    return unexpected(sqlite_error(db.get(), wal_rc, path, "set the journal mode"));
  }
  SIAX_TRY(sync, conn.exec("PRAGMA synchronous = NORMAL", "set synchronous"));
  SIAX_TRY(fk, conn.exec("PRAGMA foreign_keys = ON", "enable foreign keys"));

  SIAX_TRY(version, migrate(conn, options.migrations, options.now_usec));
  return std::unique_ptr<SqliteRegistry>(
      new SqliteRegistry(path, std::move(db), options.audit_max_entries, options.events_max_entries, *version));
}

// --- Apps ------------------------------------------------------------------------------

Result<void> SqliteRegistry::put_app(const AppRecord& app) {
  if (app.definition.name.empty()) {
    return fail(ErrorKind::InvalidInput, "invalid_app_record", "the app has no name");
  }
  SIAX_TRY(text, definition_text(app.definition));
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  // An upsert rather than INSERT OR REPLACE: REPLACE deletes the row first, which would
  // fire ON DELETE actions of tables that later reference apps.
  SIAX_TRY(stmt, conn.prepare("INSERT INTO apps(name, definition_json, enabled, created_at_usec, updated_at_usec) "
                              "VALUES (?1, ?2, ?3, ?4, ?5) "
                              "ON CONFLICT(name) DO UPDATE SET definition_json = excluded.definition_json, "
                              "enabled = excluded.enabled, created_at_usec = excluded.created_at_usec, "
                              "updated_at_usec = excluded.updated_at_usec",
                              "store the app"));
  return stmt->bind(1, app.definition.name)
      .bind(2, *text)
      .bind(3, app.enabled)
      .bind(4, app.created_at_usec)
      .bind(5, app.updated_at_usec)
      .run();
}

Result<std::optional<AppRecord>> SqliteRegistry::get_app(const std::string& name) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare(fmt::format("SELECT {} FROM apps WHERE name = ?1", kAppColumns), "read the app"));
  SIAX_TRY(has_row, stmt->bind(1, name).step());
  if (!*has_row) return std::optional<AppRecord>();
  SIAX_TRY(record, app_row(*stmt, path_));
  return std::optional<AppRecord>(std::move(*record));
}

Result<std::vector<AppRecord>> SqliteRegistry::list_apps() {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare(fmt::format("SELECT {} FROM apps ORDER BY name", kAppColumns), "list the apps"));
  return collect<AppRecord>(*stmt, [&](const Statement& s) { return app_row(s, path_); });
}

Result<bool> SqliteRegistry::remove_app(const std::string& name) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("DELETE FROM apps WHERE name = ?1", "remove the app"));
  SIAX_TRY(done, stmt->bind(1, name).run());
  return conn.changes() > 0;
}

// --- Monitored processes ---------------------------------------------------------------

Result<void> SqliteRegistry::put_monitored(const MonitoredProcess& process) {
  if (process.key.empty()) {
    return fail(ErrorKind::InvalidInput, "invalid_monitored_process", "the monitored process has no key");
  }
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("INSERT INTO monitored_processes(key, name, command, user, added_at_usec) "
                              "VALUES (?1, ?2, ?3, ?4, ?5) "
                              "ON CONFLICT(key) DO UPDATE SET name = excluded.name, command = excluded.command, "
                              "user = excluded.user, added_at_usec = excluded.added_at_usec",
                              "store the monitored process"));
  return stmt->bind(1, process.key)
      .bind(2, process.name)
      .bind(3, process.command)
      .bind(4, process.user)
      .bind(5, process.added_at_usec)
      .run();
}

Result<std::vector<MonitoredProcess>> SqliteRegistry::list_monitored() {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("SELECT key, name, command, user, added_at_usec FROM monitored_processes ORDER BY key",
                              "list the monitored processes"));
  return collect<MonitoredProcess>(*stmt, [](const Statement& s) -> Result<MonitoredProcess> {
    return MonitoredProcess{s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4)};
  });
}

Result<bool> SqliteRegistry::remove_monitored(const std::string& key) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("DELETE FROM monitored_processes WHERE key = ?1", "remove the monitored process"));
  SIAX_TRY(done, stmt->bind(1, key).run());
  return conn.changes() > 0;
}

// --- API tokens ------------------------------------------------------------------------

Result<std::int64_t> SqliteRegistry::add_token(const std::string& name, Role role, const std::string& hash,
                                               std::int64_t now_usec) {
  if (name.empty()) return fail(ErrorKind::InvalidInput, "invalid_token", "the token has no name");
  if (hash.empty()) return fail(ErrorKind::InvalidInput, "invalid_token", "the token has no hash");
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("INSERT INTO api_tokens(name, role, hash, created_at_usec) VALUES (?1, ?2, ?3, ?4)",
                              "store the token"));
  auto inserted = stmt->bind(1, name).bind(2, to_string(role)).bind(3, hash).bind(4, now_usec).run();
  if (!inserted) {
    if (inserted.error().kind == ErrorKind::Conflict) {
      const auto* raw = inserted.error().detail("sqlite_message");
      if (raw != nullptr && raw->find("api_tokens.name") != std::string::npos) {
        return fail(ErrorKind::Conflict, "token_name_taken",
                    fmt::format("a token named '{}' already exists: revoke it first or pick another name", name));
      }
      return fail(ErrorKind::Conflict, "token_hash_taken",
                  "a token with this secret already exists: generate a new secret");
    }
    return unexpected(std::move(inserted.error()));
  }
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_.get()));
}

Result<std::optional<TokenRecord>> SqliteRegistry::find_token_by_hash(const std::string& hash) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("SELECT id, name, role, hash, created_at_usec, last_used_at_usec, revoked_at_usec "
                              "FROM api_tokens WHERE hash = ?1",
                              "find the token"));
  SIAX_TRY(has_row, stmt->bind(1, hash).step());
  if (!*has_row) return std::optional<TokenRecord>();
  SIAX_TRY(token, token_row(*stmt, path_));
  return std::optional<TokenRecord>(std::move(*token));
}

Result<std::vector<TokenRecord>> SqliteRegistry::list_tokens() {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("SELECT id, name, role, hash, created_at_usec, last_used_at_usec, revoked_at_usec "
                              "FROM api_tokens ORDER BY id",
                              "list the tokens"));
  return collect<TokenRecord>(*stmt, [&](const Statement& s) { return token_row(s, path_); });
}

Result<bool> SqliteRegistry::revoke_token(std::int64_t id, std::int64_t now_usec) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("UPDATE api_tokens SET revoked_at_usec = ?2 WHERE id = ?1 AND revoked_at_usec IS NULL",
                              "revoke the token"));
  SIAX_TRY(done, stmt->bind(1, id).bind(2, now_usec).run());
  return conn.changes() > 0;
}

Result<void> SqliteRegistry::touch_token(std::int64_t id, std::int64_t now_usec) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("UPDATE api_tokens SET last_used_at_usec = ?2 WHERE id = ?1", "record the token's use"));
  SIAX_TRY(done, stmt->bind(1, id).bind(2, now_usec).run());
  if (conn.changes() == 0) {
    return fail(ErrorKind::NotFound, "token_not_found", fmt::format("there is no token with id {}", id));
  }
  return {};
}

// --- Panel users -----------------------------------------------------------------------

Result<void> SqliteRegistry::put_user(const UserRecord& user) {
  if (user.username.empty()) return fail(ErrorKind::InvalidInput, "invalid_user", "the user has no username");
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("INSERT INTO users(username, password_hash, role, created_at_usec) "
                              "VALUES (?1, ?2, ?3, ?4) "
                              "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, "
                              "role = excluded.role, created_at_usec = excluded.created_at_usec",
                              "store the user"));
  return stmt->bind(1, user.username)
      .bind(2, user.password_hash)
      .bind(3, to_string(user.role))
      .bind(4, user.created_at_usec)
      .run();
}

Result<std::optional<UserRecord>> SqliteRegistry::get_user(const std::string& username) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("SELECT username, password_hash, role, created_at_usec FROM users WHERE username = ?1",
                              "read the user"));
  SIAX_TRY(has_row, stmt->bind(1, username).step());
  if (!*has_row) return std::optional<UserRecord>();
  SIAX_TRY(user, user_row(*stmt, path_));
  return std::optional<UserRecord>(std::move(*user));
}

Result<std::vector<UserRecord>> SqliteRegistry::list_users() {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("SELECT username, password_hash, role, created_at_usec FROM users ORDER BY username",
                              "list the users"));
  return collect<UserRecord>(*stmt, [&](const Statement& s) { return user_row(s, path_); });
}

// --- Audit log -------------------------------------------------------------------------

Result<std::int64_t> SqliteRegistry::append_audit(const AuditEntry& entry) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(tx, Transaction::begin(conn));
  SIAX_TRY(insert, conn.prepare("INSERT INTO audit_log(at_usec, actor, role, action, target, source, result, detail) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                "append to the audit log"));
  SIAX_TRY(inserted, insert->bind(1, entry.at_usec)
                         .bind(2, entry.actor)
                         .bind(3, entry.role)
                         .bind(4, entry.action)
                         .bind(5, entry.target)
                         .bind(6, entry.source)
                         .bind(7, entry.result)
                         .bind(8, entry.detail)
                         .run());
  const auto id = static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_.get()));
  // Ids are consecutive (AUTOINCREMENT, only this code deletes), so everything at or
  // below id - bound is older than the newest `bound` entries. A range delete on the
  // primary key: cheap, no counting.
  const auto bound = static_cast<std::int64_t>(
      std::min<std::size_t>(audit_max_entries_, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
  if (id > bound) {
    SIAX_TRY(prune, conn.prepare("DELETE FROM audit_log WHERE id <= ?1", "prune the audit log"));
    SIAX_TRY(pruned, prune->bind(1, id - bound).run());
  }
  SIAX_TRY(committed, tx->commit());
  return id;
}

Result<std::vector<AuditEntry>> SqliteRegistry::query_audit(const AuditQuery& query) {
  const std::size_t limit = std::min(query.limit, kMaxAuditPage);
  if (limit == 0) return std::vector<AuditEntry>();

  // The SQL is assembled from constant fragments only; every value is bound.
  std::string sql = "SELECT id, at_usec, actor, role, action, target, source, result, detail FROM audit_log WHERE 1";
  if (query.target) sql += " AND target = ?";
  if (query.actor) sql += " AND actor = ?";
  if (query.action) sql += " AND action = ?";
  if (query.since_usec) sql += " AND at_usec >= ?";
  if (query.until_usec) sql += " AND at_usec < ?";
  if (query.before_id) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";

  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare(sql, "query the audit log"));
  int index = 0;
  if (query.target) stmt->bind(++index, *query.target);
  if (query.actor) stmt->bind(++index, *query.actor);
  if (query.action) stmt->bind(++index, *query.action);
  if (query.since_usec) stmt->bind(++index, *query.since_usec);
  if (query.until_usec) stmt->bind(++index, *query.until_usec);
  if (query.before_id) stmt->bind(++index, *query.before_id);
  stmt->bind(++index, static_cast<std::int64_t>(limit));
  return collect<AuditEntry>(*stmt, [](const Statement& s) -> Result<AuditEntry> {
    return AuditEntry{s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4),
                      s.text(5),  s.text(6),  s.text(7), s.text(8)};
  });
}

// --- Events --------------------------------------------------------------------------

Result<std::int64_t> SqliteRegistry::append_event(const EventRecord& event) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(tx, Transaction::begin(conn));
  SIAX_TRY(insert, conn.prepare("INSERT INTO events(at_usec, app, kind, severity, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                                "append an event"));
  SIAX_TRY(inserted,
           insert->bind(1, event.at_usec).bind(2, event.app).bind(3, event.kind).bind(4, event.severity)
               .bind(5, event.message).run());
  const auto id = static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_.get()));
  const auto bound = static_cast<std::int64_t>(events_max_entries_);
  if (id > bound) {
    SIAX_TRY(prune, conn.prepare("DELETE FROM events WHERE id <= ?1", "prune the events"));
    SIAX_TRY(pruned, prune->bind(1, id - bound).run());
  }
  SIAX_TRY(committed, tx->commit());
  return id;
}

Result<std::vector<EventRecord>> SqliteRegistry::query_events(const EventQuery& query) {
  const std::size_t limit = std::min(query.limit, kMaxEventPage);
  if (limit == 0) return std::vector<EventRecord>();
  std::string sql = "SELECT id, at_usec, app, kind, severity, message FROM events WHERE 1";
  if (query.app) sql += " AND app = ?";
  if (query.since_usec) sql += " AND at_usec >= ?";
  if (query.before_id) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare(sql, "query the events"));
  int index = 0;
  if (query.app) stmt->bind(++index, *query.app);
  if (query.since_usec) stmt->bind(++index, *query.since_usec);
  if (query.before_id) stmt->bind(++index, *query.before_id);
  stmt->bind(++index, static_cast<std::int64_t>(limit));
  return collect<EventRecord>(*stmt, [](const Statement& s) -> Result<EventRecord> {
    return EventRecord{s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4), s.text(5)};
  });
}

// --- Settings --------------------------------------------------------------------------

Result<std::optional<std::string>> SqliteRegistry::get_setting(const std::string& key) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("SELECT value FROM settings WHERE key = ?1", "read the setting"));
  SIAX_TRY(has_row, stmt->bind(1, key).step());
  if (!*has_row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->text(0));
}

Result<void> SqliteRegistry::put_setting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  const Conn conn{db_.get(), path_};
  SIAX_TRY(stmt, conn.prepare("INSERT INTO settings(key, value) VALUES (?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                              "store the setting"));
  return stmt->bind(1, key).bind(2, value).run();
}

#undef SIAX_TRY

}  // namespace siax::registry
