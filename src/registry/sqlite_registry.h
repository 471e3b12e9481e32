#pragma once
/// Adapter: the Registry port over one SQLite database file.
///
/// Thread: any. One connection, guarded by a std::mutex: every public method takes the
/// mutex for its whole duration, so calls are serialized (SQLite work is short; callers
/// keep it off the io_context thread anyway). Other processes may open the same file;
/// SQLite's file locks and the busy timeout arbitrate between them.
///
/// Storage: WAL journal, synchronous=NORMAL, foreign keys on. A call that returns
/// success has committed: the data survives a crash of the agent (a power loss may lose
/// the last commits, never consistency). The database file is created with mode 0600
/// (it holds token and password hashes). App definitions are stored as the JSON of
/// appdef::definition_to_json().
///
/// Schema: versioned by SQLite's `PRAGMA user_version` (storage::migrate). open() applies
/// every migration newer than the database, each in its own transaction, and refuses a
/// database whose version this code does not know (written by a newer agent): there is
/// no downgrade. A database written before user_version was used keeps its version in
/// `schema_migrations(version, applied_at_usec)`; open() reads it from there (the table
/// is left in place). To change the schema, append a migration to builtin_migrations();
/// never edit one that has shipped.
///
/// Cache: list_apps() and list_monitored() keep the last list read (the monitor asks for
/// the apps every cycle; parsing 200 definitions from JSON each time was a quarter of the
/// idle agent's CPU). A cached list is returned (as a copy) while `PRAGMA data_version`
/// is unchanged, i.e. no other connection (the CLI, another process) has committed to the
/// file since it was read; this connection's own writes to apps/monitored_processes drop
/// it (data_version does not move for them). Guarded by the same mutex.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "storage/sqlite.h"

namespace siax::registry {

using Migration = storage::Migration;

/// The migrations this agent ships, in order. Version 1 creates every table.
[[nodiscard]] const std::vector<Migration>& builtin_migrations();

class SqliteRegistry final : public Registry {
 public:
  struct Options {
    /// The audit log keeps at most this many entries (the oldest go first). At least 1.
    std::size_t audit_max_entries = 100'000;
    /// The event list keeps at most this many events (the oldest go first). At least 1.
    std::size_t events_max_entries = 10'000;
    /// How long a statement waits for another process's lock before failing with
    /// "registry_busy".
    std::chrono::milliseconds busy_timeout{5000};
    /// The schema steps, strictly increasing versions starting at 1. Injectable for
    /// tests of upgrades; production uses the default.
    std::vector<Migration> migrations = builtin_migrations();
  };

  /// Opens (creating if needed) the database at `path`, or an in-memory database for
  /// ":memory:", and brings its schema up to date. The parent directory is not created.
  /// Errors: NotFound ("registry_dir_missing") when the directory does not exist;
  /// InvalidInput ("registry_path_invalid") when the path or its parent is not what it
  /// should be (a directory where the file should be, a file as parent, not a database);
  /// PermissionDenied ("registry_not_writable") when the directory or file is not
  /// writable; InvalidInput ("invalid_registry_options") for bad options;
  /// Conflict ("registry_schema_too_new") when the database was written by a newer agent;
  /// Internal ("registry_migration_failed") when a migration fails (the database stays at
  /// the previous version). Every message names the path.
  [[nodiscard]] static Result<std::unique_ptr<SqliteRegistry>> open(const std::string& path, Options options);
  /// open() with default options.
  [[nodiscard]] static Result<std::unique_ptr<SqliteRegistry>> open(const std::string& path);

  ~SqliteRegistry() override;
  SqliteRegistry(const SqliteRegistry&) = delete;
  SqliteRegistry& operator=(const SqliteRegistry&) = delete;

  /// The schema version after open() (the highest applied migration).
  [[nodiscard]] int schema_version() const noexcept { return schema_version_; }
  /// The path given to open().
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// How many times list_apps()/list_monitored() read their rows from the database rather
  /// than from the cache (for tests and diagnostics).
  [[nodiscard]] std::uint64_t list_reads() const noexcept { return list_reads_.load(std::memory_order_relaxed); }

  [[nodiscard]] Result<void> put_app(const AppRecord& app) override;
  [[nodiscard]] Result<std::optional<AppRecord>> get_app(const std::string& name) override;
  [[nodiscard]] Result<std::vector<AppRecord>> list_apps() override;
  [[nodiscard]] Result<bool> remove_app(const std::string& name) override;

  [[nodiscard]] Result<void> put_monitored(const MonitoredProcess& process) override;
  [[nodiscard]] Result<std::vector<MonitoredProcess>> list_monitored() override;
  [[nodiscard]] Result<bool> remove_monitored(const std::string& key) override;

  [[nodiscard]] Result<std::int64_t> add_token(const std::string& name, Role role, const std::string& hash,
                                               std::int64_t now_usec) override;
  [[nodiscard]] Result<std::optional<TokenRecord>> find_token_by_hash(const std::string& hash) override;
  [[nodiscard]] Result<std::vector<TokenRecord>> list_tokens() override;
  [[nodiscard]] Result<bool> revoke_token(std::int64_t id, std::int64_t now_usec) override;
  [[nodiscard]] Result<void> touch_token(std::int64_t id, std::int64_t now_usec) override;

  [[nodiscard]] Result<void> put_user(const UserRecord& user) override;
  [[nodiscard]] Result<std::optional<UserRecord>> get_user(const std::string& username) override;
  [[nodiscard]] Result<std::vector<UserRecord>> list_users() override;

  [[nodiscard]] Result<std::int64_t> append_audit(const AuditEntry& entry) override;
  [[nodiscard]] Result<std::vector<AuditEntry>> query_audit(const AuditQuery& query) override;
  [[nodiscard]] Result<std::int64_t> append_event(const EventRecord& event) override;
  [[nodiscard]] Result<std::vector<EventRecord>> query_events(const EventQuery& query) override;

  [[nodiscard]] Result<std::optional<std::string>> get_setting(const std::string& key) override;
  [[nodiscard]] Result<void> put_setting(const std::string& key, const std::string& value) override;

 private:
  SqliteRegistry(std::string path, storage::Database db, std::size_t audit_max_entries,
                 std::size_t events_max_entries, int schema_version);

  /// The database's `PRAGMA data_version` now, or nullopt when it cannot be read (then
  /// nothing is served from the cache). Caller holds mutex_.
  [[nodiscard]] std::optional<std::int64_t> data_version_locked();
  /// Drops the cached lists; caller holds mutex_ (every write to apps/monitored does).
  void invalidate_lists_locked() noexcept;

  std::mutex mutex_;  ///< serializes every use of db_ and the cached lists
  const std::string path_;
  storage::Database db_;
  const std::size_t audit_max_entries_;
  const std::size_t events_max_entries_;
  const int schema_version_;
  std::optional<std::vector<AppRecord>> apps_cache_;  ///< guarded by mutex_
  std::int64_t apps_cache_version_ = 0;
  std::optional<std::vector<MonitoredProcess>> monitored_cache_;  ///< guarded by mutex_
  std::int64_t monitored_cache_version_ = 0;
  std::atomic<std::uint64_t> list_reads_{0};
};

}  // namespace siax::registry
