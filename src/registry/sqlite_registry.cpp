#include "registry/sqlite_registry.h"

#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "appdef/app_json.h"
#include "registry/sqlite_rows.h"

// The SqliteRegistry's schema, opening, apps, monitored processes and settings; tokens and
// users are in sqlite_registry_auth.cpp, the audit log and events in sqlite_registry_log.cpp.

namespace siax::registry {
namespace {

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

// Version 2: the monitor's events.
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

/// Maps a SQLite failure to the module's errors. The raw SQLite message is kept in the
/// details so that callers (add_token) can tell constraints apart without parsing ours.
Error registry_error(const storage::Failure& f, std::string_view path, std::string_view what) {
  std::vector<std::pair<std::string, std::string>> details = {{"sqlite_code", std::to_string(f.code)},
                                                              {"sqlite_message", f.message}};
  if (f.is_unique_violation()) {
    return Error{ErrorKind::Conflict, "registry_conflict", fmt::format("registry {}: {}: {}", path, what, f.message),
                 std::move(details)};
  }
  if (f.is_busy()) {
    return Error{ErrorKind::Unavailable, "registry_busy",
                 fmt::format("registry {}: {}: the database is locked by another process ({}); retry later", path,
                             what, f.message),
                 std::move(details)};
  }
  return Error{ErrorKind::Internal, "registry_error", fmt::format("registry {}: {}: {}", path, what, f.message),
               std::move(details)};
}

storage::Naming registry_naming() {
  return storage::Naming{"registry", "registry", "(the agent does not create it for you)",
                         "move it away or point the agent at another path", registry_error};
}

Result<void> validate_options(const SqliteRegistry::Options& options) {
  auto invalid = [](std::string message) {
    return fail(ErrorKind::InvalidInput, "invalid_registry_options", std::move(message));
  };
  if (options.audit_max_entries == 0) return invalid("audit_max_entries must be at least 1");
  if (options.events_max_entries == 0 ||
      options.events_max_entries > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
    return invalid("events_max_entries must be at least 1");
  }
  if (auto bad = storage::validate_migrations(options.migrations)) return invalid(*bad);
  return {};
}

/// Databases written before user_version was used: the highest row of schema_migrations.
Result<int> legacy_version(const storage::Database& db) {
  SIAX_STORAGE_TRY(has, db.has_table("schema_migrations"));
  if (!*has) return 0;
  SIAX_STORAGE_TRY(v, db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "read the schema version"));
  return static_cast<int>(*v);
}

Error schema_too_new(const std::string& path, int version, int known) {
  return Error{ErrorKind::Conflict, "registry_schema_too_new",
               fmt::format("the registry {} has schema version {}, which this siax-agent does not know (it knows up "
                           "to version {}): it was written by a newer agent. Run that agent again, or restore a "
                           "backup made by this one; the agent never downgrades a database",
                           path, version, known)};
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

Result<AppRecord> app_row(const storage::Statement& stmt, std::string_view path) {
  // Columns: name, definition_json, enabled, created_at_usec, updated_at_usec.
  const std::string name = stmt.text(0);
  AppRecord record;
  try {
    auto json = nlohmann::json::parse(stmt.text(1), nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return tl::unexpected<Error>(detail::corrupt(path, fmt::format("the app '{}' is not valid JSON", name)));
    auto def = appdef::definition_from_json(json);
    if (!def) {
      return tl::unexpected<Error>(detail::corrupt(path, fmt::format("the app '{}' cannot be read: {}", name, def.error().message)));
    }
    record.definition = std::move(*def);
    record.definition.secret_values.reset();  // stored as names with "***": the values are in the secret file
  } catch (const nlohmann::json::exception& e) {
    return tl::unexpected<Error>(detail::corrupt(path, fmt::format("the app '{}' cannot be read: {}", name, e.what())));
  }
  record.enabled = stmt.int64(2) != 0;
  record.created_at_usec = stmt.int64(3);
  record.updated_at_usec = stmt.int64(4);
  return record;
}

constexpr const char* kAppColumns = "name, definition_json, enabled, created_at_usec, updated_at_usec";

}  // namespace

const std::vector<Migration>& builtin_migrations() {
  static const std::vector<Migration> migrations = {
      {1, kSchemaV1},
      {2, kSchemaV2},
  };
  return migrations;
}

SqliteRegistry::SqliteRegistry(std::string path, storage::Database db, std::size_t audit_max_entries,
                               std::size_t events_max_entries, int schema_version)
    : path_(std::move(path)),
      db_(std::move(db)),
      audit_max_entries_(audit_max_entries),
      events_max_entries_(events_max_entries),
      schema_version_(schema_version) {}

SqliteRegistry::~SqliteRegistry() = default;

Result<std::unique_ptr<SqliteRegistry>> SqliteRegistry::open(const std::string& path) { return open(path, Options{}); }

Result<std::unique_ptr<SqliteRegistry>> SqliteRegistry::open(const std::string& path, Options options) {
  SIAX_STORAGE_TRY(valid, validate_options(options));
  SIAX_STORAGE_TRY(db, storage::Database::open(path, {options.busy_timeout, /*foreign_keys=*/true}, registry_naming()));
  storage::MigrationPlan plan{std::move(options.migrations), legacy_version,
                              [&path](int found, int known) { return schema_too_new(path, found, known); },
                              "registry_migration_failed"};
  SIAX_STORAGE_TRY(version, storage::migrate(*db, plan));
  return std::unique_ptr<SqliteRegistry>(
      new SqliteRegistry(path, std::move(*db), options.audit_max_entries, options.events_max_entries, *version));
}

// --- List cache ------------------------------------------------------------------------

std::optional<std::int64_t> SqliteRegistry::data_version_locked() {
  auto v = db_.scalar_cached("PRAGMA data_version", "read the database's change counter");
  if (!v) return std::nullopt;
  return *v;
}

void SqliteRegistry::invalidate_lists_locked() noexcept {
  apps_cache_.reset();
  monitored_cache_.reset();
}

// --- Apps ------------------------------------------------------------------------------

Result<void> SqliteRegistry::put_app(const AppRecord& app) {
  if (app.definition.name.empty()) {
    return fail(ErrorKind::InvalidInput, "invalid_app_record", "the app has no name");
  }
  SIAX_STORAGE_TRY(text, definition_text(app.definition));
  std::lock_guard lock(mutex_);
  invalidate_lists_locked();
  // An upsert rather than INSERT OR REPLACE: REPLACE deletes the row first, which would
  // fire ON DELETE actions of tables that later reference apps.
  SIAX_STORAGE_TRY(stmt, db_.prepare("INSERT INTO apps(name, definition_json, enabled, created_at_usec, updated_at_usec) "
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
  SIAX_STORAGE_TRY(stmt, db_.prepare_cached(fmt::format("SELECT {} FROM apps WHERE name = ?1", kAppColumns), "read the app"));
  return detail::first_row<AppRecord>(stmt->bind(1, name),
                                      [&](const storage::Statement& s) { return app_row(s, path_); });
}

Result<std::vector<AppRecord>> SqliteRegistry::list_apps() {
  std::lock_guard lock(mutex_);
  const auto version = data_version_locked();
  if (version && apps_cache_ && apps_cache_version_ == *version) return *apps_cache_;
  list_reads_.fetch_add(1, std::memory_order_relaxed);
  SIAX_STORAGE_TRY(stmt, db_.prepare_cached(fmt::format("SELECT {} FROM apps ORDER BY name", kAppColumns), "list the apps"));
  auto apps = detail::collect<AppRecord>(*stmt, [&](const storage::Statement& s) { return app_row(s, path_); });
  if (apps && version) {
    apps_cache_ = *apps;
    apps_cache_version_ = *version;
  }
  return apps;
}

Result<bool> SqliteRegistry::remove_app(const std::string& name) {
  std::lock_guard lock(mutex_);
  invalidate_lists_locked();
  SIAX_STORAGE_TRY(stmt, db_.prepare("DELETE FROM apps WHERE name = ?1", "remove the app"));
  SIAX_STORAGE_TRY(done, stmt->bind(1, name).run());
  return db_.changes() > 0;
}

// --- Monitored processes ---------------------------------------------------------------

Result<void> SqliteRegistry::put_monitored(const MonitoredProcess& process) {
  if (process.key.empty()) {
    return fail(ErrorKind::InvalidInput, "invalid_monitored_process", "the monitored process has no key");
  }
  std::lock_guard lock(mutex_);
  invalidate_lists_locked();
  SIAX_STORAGE_TRY(stmt, db_.prepare("INSERT INTO monitored_processes(key, name, command, user, added_at_usec) "
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
  const auto version = data_version_locked();
  if (version && monitored_cache_ && monitored_cache_version_ == *version) return *monitored_cache_;
  list_reads_.fetch_add(1, std::memory_order_relaxed);
  SIAX_STORAGE_TRY(stmt, db_.prepare_cached("SELECT key, name, command, user, added_at_usec FROM monitored_processes ORDER BY key",
                              "list the monitored processes"));
  auto processes = detail::collect<MonitoredProcess>(*stmt, [](const storage::Statement& s) -> Result<MonitoredProcess> {
    return MonitoredProcess{s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4)};
  });
  if (processes && version) {
    monitored_cache_ = *processes;
    monitored_cache_version_ = *version;
  }
  return processes;
}

Result<bool> SqliteRegistry::remove_monitored(const std::string& key) {
  std::lock_guard lock(mutex_);
  invalidate_lists_locked();
  SIAX_STORAGE_TRY(stmt, db_.prepare("DELETE FROM monitored_processes WHERE key = ?1", "remove the monitored process"));
  SIAX_STORAGE_TRY(done, stmt->bind(1, key).run());
  return db_.changes() > 0;
}

// --- Settings --------------------------------------------------------------------------

Result<std::optional<std::string>> SqliteRegistry::get_setting(const std::string& key) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("SELECT value FROM settings WHERE key = ?1", "read the setting"));
  return detail::first_row<std::string>(stmt->bind(1, key),
                                        [](const storage::Statement& s) -> Result<std::string> { return s.text(0); });
}

Result<void> SqliteRegistry::put_setting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("INSERT INTO settings(key, value) VALUES (?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                              "store the setting"));
  return stmt->bind(1, key).bind(2, value).run();
}

}  // namespace siax::registry
