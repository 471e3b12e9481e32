#include <algorithm>
#include <limits>

#include "registry/sqlite_registry.h"
#include "registry/sqlite_rows.h"

// SqliteRegistry: the audit log and the monitor's events, both bounded.

namespace siax::registry {

// --- Audit log -------------------------------------------------------------------------

Result<std::int64_t> SqliteRegistry::append_audit(const AuditEntry& entry) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(tx, storage::Transaction::begin(db_));
  SIAX_STORAGE_TRY(insert, db_.prepare("INSERT INTO audit_log(at_usec, actor, role, action, target, source, result, detail) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                "append to the audit log"));
  SIAX_STORAGE_TRY(inserted, insert->bind(1, entry.at_usec)
                         .bind(2, entry.actor)
                         .bind(3, entry.role)
                         .bind(4, entry.action)
                         .bind(5, entry.target)
                         .bind(6, entry.source)
                         .bind(7, entry.result)
                         .bind(8, entry.detail)
                         .run());
  const auto id = db_.last_insert_rowid();
  // Ids are consecutive (AUTOINCREMENT, only this code deletes), so everything at or
  // below id - bound is older than the newest `bound` entries. A range delete on the
  // primary key: cheap, no counting.
  const auto bound = static_cast<std::int64_t>(
      std::min<std::size_t>(audit_max_entries_, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
  if (id > bound) {
    SIAX_STORAGE_TRY(prune, db_.prepare("DELETE FROM audit_log WHERE id <= ?1", "prune the audit log"));
    SIAX_STORAGE_TRY(pruned, prune->bind(1, id - bound).run());
  }
  SIAX_STORAGE_TRY(committed, tx->commit());
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
  SIAX_STORAGE_TRY(stmt, db_.prepare(sql, "query the audit log"));
  int index = 0;
  if (query.target) stmt->bind(++index, *query.target);
  if (query.actor) stmt->bind(++index, *query.actor);
  if (query.action) stmt->bind(++index, *query.action);
  if (query.since_usec) stmt->bind(++index, *query.since_usec);
  if (query.until_usec) stmt->bind(++index, *query.until_usec);
  if (query.before_id) stmt->bind(++index, *query.before_id);
  stmt->bind(++index, static_cast<std::int64_t>(limit));
  return detail::collect<AuditEntry>(*stmt, [](const storage::Statement& s) -> Result<AuditEntry> {
    return AuditEntry{s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4),
                      s.text(5),  s.text(6),  s.text(7), s.text(8)};
  });
}

// --- Events --------------------------------------------------------------------------

Result<std::int64_t> SqliteRegistry::append_event(const EventRecord& event) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(tx, storage::Transaction::begin(db_));
  SIAX_STORAGE_TRY(insert, db_.prepare("INSERT INTO events(at_usec, app, kind, severity, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                                "append an event"));
  SIAX_STORAGE_TRY(inserted,
           insert->bind(1, event.at_usec).bind(2, event.app).bind(3, event.kind).bind(4, event.severity)
               .bind(5, event.message).run());
  const auto id = db_.last_insert_rowid();
  const auto bound = static_cast<std::int64_t>(events_max_entries_);
  if (id > bound) {
    SIAX_STORAGE_TRY(prune, db_.prepare("DELETE FROM events WHERE id <= ?1", "prune the events"));
    SIAX_STORAGE_TRY(pruned, prune->bind(1, id - bound).run());
  }
  SIAX_STORAGE_TRY(committed, tx->commit());
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
  SIAX_STORAGE_TRY(stmt, db_.prepare(sql, "query the events"));
  int index = 0;
  if (query.app) stmt->bind(++index, *query.app);
  if (query.since_usec) stmt->bind(++index, *query.since_usec);
  if (query.before_id) stmt->bind(++index, *query.before_id);
  stmt->bind(++index, static_cast<std::int64_t>(limit));
  return detail::collect<EventRecord>(*stmt, [](const storage::Statement& s) -> Result<EventRecord> {
    return EventRecord{s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4), s.text(5)};
  });
}

}  // namespace siax::registry
