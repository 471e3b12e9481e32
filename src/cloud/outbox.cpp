#include "cloud/outbox.h"

#include <chrono>
#include <utility>

#include <fmt/format.h>

namespace siax::cloud {
namespace {

// Never edit a shipped schema: append a migration to migration_plan().
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS app_ids (
  name                TEXT NOT NULL,
  server              TEXT NOT NULL,
  cloud_id            INTEGER,
  create_started_usec INTEGER,
  PRIMARY KEY (name, server)
) STRICT;
CREATE TABLE IF NOT EXISTS latest_state (
  name       TEXT PRIMARY KEY NOT NULL,
  body       TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  pending    INTEGER NOT NULL CHECK (pending IN (0, 1)),
  retire     INTEGER NOT NULL DEFAULT 0 CHECK (retire IN (0, 1)),
  last_event TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE IF NOT EXISTS events (
  seq  INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  body TEXT NOT NULL
) STRICT;
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', 1), ('dropped_events', 0), ('dropped_states', 0);
)sql";

Error outbox_error(const storage::Failure& f, std::string_view path, std::string_view what) {
  if (f.is_busy()) {
    return Error{ErrorKind::Unavailable, "cloud_outbox_busy",
                 fmt::format("the cloud outbox {} is locked by another process ({}: {}); stop the other agent",
                             path, what, f.message)};
  }
  if (f.is_io()) {
    return Error{ErrorKind::Unavailable, "cloud_outbox_io",
                 fmt::format("the cloud outbox {} cannot be written ({}: {}); check the disk and the directory's "
                             "permissions",
                             path, what, f.message)};
  }
  return Error{ErrorKind::Internal, "cloud_outbox_error", fmt::format("cloud outbox {}: {}: {}", path, what, f.message)};
}

/// Outboxes written before user_version was used: meta's schema_version row.
Result<int> legacy_version(const storage::Database& db) {
  SIAX_STORAGE_TRY(has, db.has_table("meta"));
  if (!*has) return 0;
  SIAX_STORAGE_TRY(v, db.scalar("SELECT value FROM meta WHERE key = 'schema_version'", "read the schema version"));
  return static_cast<int>(*v);
}

storage::MigrationPlan migration_plan(const std::string& path) {
  return storage::MigrationPlan{
      {{1, kSchemaV1}},
      legacy_version,
      [path](int found, int known) {
        return Error{ErrorKind::Conflict, "cloud_outbox_schema_unknown",
                     fmt::format("the cloud outbox {} has schema version {}, which this agent does not know (it "
                                 "knows {}); it was written by a newer agent: run that agent, or move the file away",
                                 path, found, known)};
      },
      "cloud_outbox_migration_failed"};
}

#define SIAX_CLOUD_TRY(expr)                             \
  do {                                                   \
    if (auto siax_r_ = (expr); !siax_r_) {               \
      return tl::unexpected(std::move(siax_r_.error())); \
    }                                                    \
  } while (false)

/// `sql` prepared, with `args` bound to ?1, ?2, ... in order.
template <class... Args>
Result<storage::Statement> bound(const storage::Database& db, std::string_view sql, std::string_view what,
                                 const Args&... args) {
  auto s = db.prepare(sql, what);
  if (!s) return s;
  int index = 0;
  (s->bind(++index, args), ...);
  return s;
}

/// Runs a statement that returns no rows.
template <class... Args>
Result<void> run_bound(const storage::Database& db, std::string_view sql, std::string_view what, const Args&... args) {
  SIAX_STORAGE_TRY(s, bound(db, sql, what, args...));
  return s->run();
}

/// Runs a query and calls `read(statement)` on each row.
template <class Read, class... Args>
Result<void> for_each_row(const storage::Database& db, std::string_view sql, std::string_view what, Read&& read,
                          const Args&... args) {
  SIAX_STORAGE_TRY(s, bound(db, sql, what, args...));
  for (;;) {
    auto row = s->step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return {};
    read(*s);
  }
}

}  // namespace

CloudOutbox::CloudOutbox(std::string path, storage::Database db, Options options)
    : path_(std::move(path)), db_(std::move(db)), options_(options) {}

CloudOutbox::~CloudOutbox() = default;

Result<std::unique_ptr<CloudOutbox>> CloudOutbox::open(const std::string& path, Options options) {
  if (options.max_events == 0 || options.max_apps == 0 || options.max_body_bytes == 0) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_outbox_options",
                "the cloud outbox bounds (max_events, max_apps, max_body_bytes) must be at least 1");
  }
  storage::Naming naming{"cloud outbox", "cloud_outbox", "(it is paths.state_dir)",
                         "move it away (the agent recreates it; queued reports are lost)", outbox_error};
  SIAX_STORAGE_TRY(db, storage::Database::open(path, {std::chrono::milliseconds(2000), false}, std::move(naming)));
  SIAX_STORAGE_TRY(version, storage::migrate(*db, migration_plan(path)));
  std::unique_ptr<CloudOutbox> outbox(new CloudOutbox(path, std::move(*db), options));
  {
    std::lock_guard lock(outbox->mutex_);
    SIAX_CLOUD_TRY(outbox->refresh_counts_locked());
  }
  return outbox;
}

Result<void> CloudOutbox::refresh_counts_locked() {
  auto apps = db_.scalar("SELECT COUNT(*) FROM latest_state", "count states");
  auto pending = db_.scalar("SELECT COUNT(*) FROM latest_state WHERE pending = 1", "count pending states");
  auto events = db_.scalar("SELECT COUNT(*) FROM events", "count events");
  auto dropped = db_.scalar("SELECT value FROM meta WHERE key = 'dropped_events'", "read the drop counter");
  auto dropped_states = db_.scalar("SELECT value FROM meta WHERE key = 'dropped_states'", "read the drop counter");
  for (auto* r : {&apps, &pending, &events, &dropped, &dropped_states}) {
    if (!*r) return tl::unexpected(std::move(r->error()));
  }
  counts_ = OutboxCounts{static_cast<std::size_t>(*apps), static_cast<std::size_t>(*pending),
                         static_cast<std::size_t>(*events), static_cast<std::uint64_t>(*dropped),
                         static_cast<std::uint64_t>(*dropped_states)};
  return {};
}

OutboxCounts CloudOutbox::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

namespace {
Result<void> check_size(std::string_view what, const std::string& name, const std::string& body, std::size_t max) {
  if (body.size() > max) {
    return fail(ErrorKind::InvalidInput, "cloud_report_too_large",
                fmt::format("the {} of app {} is {} bytes of JSON; the cloud outbox takes at most {} per report",
                            what, name, body.size(), max));
  }
  return {};
}
}  // namespace

Result<void> CloudOutbox::put_state(const std::string& name, const std::string& body, bool mark_pending) {
  return put(name, body, mark_pending, false);
}

Result<void> CloudOutbox::retire_state(const std::string& name, const std::string& body) {
  return put(name, body, true, true);
}

Result<void> CloudOutbox::put(const std::string& name, const std::string& body, bool mark_pending, bool retire) {
  SIAX_CLOUD_TRY(check_size("state", name, body, options_.max_body_bytes));
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(tx, storage::Transaction::begin(db_));
  bool found = false;
  SIAX_CLOUD_TRY(for_each_row(
      db_, "SELECT 1 FROM latest_state WHERE name = ?1", "find a state",
      [&found](const storage::Statement&) { found = true; }, name));
  if (!found && counts_.apps >= options_.max_apps) {
    SIAX_CLOUD_TRY(db_.exec("UPDATE meta SET value = value + 1 WHERE key = 'dropped_states'", "count a drop"));
    SIAX_CLOUD_TRY(tx->commit());
    ++counts_.dropped_states;
    return fail(ErrorKind::Unavailable, "cloud_outbox_full",
                fmt::format("the cloud outbox already holds the states of {} apps (its bound); the state of {} is "
                            "not queued",
                            options_.max_apps, name));
  }
  SIAX_CLOUD_TRY(run_bound(db_,
                           "INSERT INTO latest_state(name, body, seq, pending, retire) VALUES (?1, ?2, 1, ?3, ?4) "
                           "ON CONFLICT(name) DO UPDATE SET body = excluded.body, seq = seq + 1, "
                           "pending = MAX(pending, excluded.pending), retire = excluded.retire",
                           "queue a state", name, body, std::int64_t{mark_pending ? 1 : 0},
                           std::int64_t{retire ? 1 : 0}));
  SIAX_CLOUD_TRY(tx->commit());
  return refresh_counts_locked();
}

Result<std::optional<StoredState>> CloudOutbox::state(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::optional<StoredState> out;  // name is the key: one row at most
  SIAX_CLOUD_TRY(for_each_row(
      db_, "SELECT name, body, seq, pending, retire, last_event FROM latest_state WHERE name = ?1", "read a state",
      [&out](const storage::Statement& s) {
        out = StoredState{s.text(0), s.text(1), s.int64(2), s.int64(3) != 0, s.int64(4) != 0, s.text(5)};
      },
      name));
  return out;
}

Result<void> CloudOutbox::mark_all_pending() {
  std::lock_guard lock(mutex_);
  SIAX_CLOUD_TRY(db_.exec("UPDATE latest_state SET pending = 1 WHERE pending = 0", "mark states pending"));
  return refresh_counts_locked();
}

Result<std::vector<StoredState>> CloudOutbox::pending_states(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<StoredState> out;
  SIAX_CLOUD_TRY(for_each_row(
      db_,
      "SELECT name, body, seq, pending, retire, last_event FROM latest_state WHERE pending = 1 ORDER BY name LIMIT ?1",
      "list pending states",
      [&out](const storage::Statement& s) {
        out.push_back(StoredState{s.text(0), s.text(1), s.int64(2), true, s.int64(4) != 0, s.text(5)});
      },
      static_cast<std::int64_t>(limit)));
  return out;
}

Result<void> CloudOutbox::state_delivered(const std::string& name, std::int64_t seq) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(tx, storage::Transaction::begin(db_));
  SIAX_CLOUD_TRY(run_bound(db_, "DELETE FROM latest_state WHERE name = ?1 AND seq = ?2 AND retire = 1",
                           "drop a retired app", name, seq));
  SIAX_CLOUD_TRY(run_bound(db_, "UPDATE latest_state SET pending = 0 WHERE name = ?1 AND seq = ?2", "mark a state sent",
                           name, seq));
  SIAX_CLOUD_TRY(tx->commit());
  return refresh_counts_locked();
}

Result<void> CloudOutbox::add_event(const std::string& name, const std::string& body) {
  SIAX_CLOUD_TRY(check_size("event", name, body, options_.max_body_bytes));
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(tx, storage::Transaction::begin(db_));
  SIAX_CLOUD_TRY(run_bound(db_, "INSERT INTO events(name, body) VALUES (?1, ?2)", "queue an event", name, body));
  SIAX_CLOUD_TRY(
      run_bound(db_, "UPDATE latest_state SET last_event = ?2 WHERE name = ?1", "remember the last event", name, body));
  auto count = db_.scalar("SELECT COUNT(*) FROM events", "count events");
  if (!count) return tl::unexpected(std::move(count.error()));
  const auto max = static_cast<std::int64_t>(options_.max_events);
  if (*count > max) {
    const std::int64_t excess = *count - max;
    SIAX_CLOUD_TRY(run_bound(db_, "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?1)",
                             "drop the oldest events", excess));
    SIAX_CLOUD_TRY(
        run_bound(db_, "UPDATE meta SET value = value + ?1 WHERE key = 'dropped_events'", "count drops", excess));
  }
  SIAX_CLOUD_TRY(tx->commit());
  return refresh_counts_locked();
}

Result<std::vector<StoredEvent>> CloudOutbox::oldest_events(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<StoredEvent> out;
  SIAX_CLOUD_TRY(for_each_row(
      db_, "SELECT seq, name, body FROM events ORDER BY seq LIMIT ?1", "list events",
      [&out](const storage::Statement& s) {
        out.push_back(StoredEvent{s.int64(0), s.text(1), s.text(2)});
      },
      static_cast<std::int64_t>(limit)));
  return out;
}

Result<void> CloudOutbox::remove_event(std::int64_t seq) {
  std::lock_guard lock(mutex_);
  SIAX_CLOUD_TRY(run_bound(db_, "DELETE FROM events WHERE seq = ?1", "remove an event", seq));
  return refresh_counts_locked();
}

Result<CloudIdRecord> CloudOutbox::cloud_id(const std::string& name, const std::string& server) {
  std::lock_guard lock(mutex_);
  CloudIdRecord rec;  // (name, server) is the key: one row at most
  SIAX_CLOUD_TRY(for_each_row(
      db_, "SELECT cloud_id, create_started_usec FROM app_ids WHERE name = ?1 AND server = ?2", "read a cloud id",
      [&rec](const storage::Statement& s) {
        if (!s.is_null(0)) rec.id = s.int64(0);
        if (!s.is_null(1)) rec.create_started_usec = s.int64(1);
      },
      name, server));
  return rec;
}

Result<void> CloudOutbox::set_cloud_id(const std::string& name, const std::string& server, std::int64_t id) {
  std::lock_guard lock(mutex_);
  return run_bound(db_,
                   "INSERT INTO app_ids(name, server, cloud_id, create_started_usec) VALUES (?1, ?2, ?3, NULL) "
                   "ON CONFLICT(name, server) DO UPDATE SET cloud_id = excluded.cloud_id, create_started_usec = NULL",
                   "remember a cloud id", name, server, id);
}

Result<void> CloudOutbox::mark_create_started(const std::string& name, const std::string& server,
                                              std::int64_t at_usec) {
  std::lock_guard lock(mutex_);
  return run_bound(db_,
                   "INSERT INTO app_ids(name, server, cloud_id, create_started_usec) VALUES (?1, ?2, NULL, ?3) "
                   "ON CONFLICT(name, server) DO UPDATE SET create_started_usec = excluded.create_started_usec",
                   "mark a create", name, server, at_usec);
}

Result<void> CloudOutbox::forget_cloud_id(const std::string& name, const std::string& server) {
  std::lock_guard lock(mutex_);
  return run_bound(db_, "DELETE FROM app_ids WHERE name = ?1 AND server = ?2", "forget a cloud id", name, server);
}

}  // namespace siax::cloud
