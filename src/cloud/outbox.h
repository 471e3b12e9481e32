#pragma once
/// The durable outbox of cloud reports, in its own SQLite database
/// (`<state_dir>/cloud.db`, mode 0600, WAL, synchronous=NORMAL).
///
/// - latest_state: one row per app, the newest state only (a new state replaces the
///   queued one: coalescing), with a `pending` flag (to be sent) and a per-row version
///   `seq` so that a delivery only clears `pending` if no newer state arrived meanwhile.
///   A retired app's row is deleted once its final state is delivered.
/// - events: in the order they were added (AUTOINCREMENT seq). At most max_events: adding
///   one more drops the oldest, and the drop is counted (persisted).
/// - app_ids: (name, server) -> cloud id, written as soon as the id is known, and a
///   "create started" mark written before a create is sent (see docs/CLOUD.md).
///
/// Everything survives a restart of the agent: a call that returned success has
/// committed.
///
/// Thread: any. One connection guarded by a mutex; each call is one short transaction
/// (no network, ever). counts() reads cached numbers and does not touch SQLite.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/sqlite.h"

namespace siax::cloud {

struct StoredState {
  std::string name;
  std::string body;        ///< the state JSON as reported
  std::int64_t seq = 0;    ///< version of this row
  bool pending = false;
  bool retire = false;     ///< delete the row once this state is delivered
  std::string last_event;  ///< JSON of the app's newest event, "" when none
};

struct StoredEvent {
  std::int64_t seq = 0;  ///< increasing, never reused
  std::string name;
  std::string body;
};

struct CloudIdRecord {
  std::optional<std::int64_t> id;
  std::optional<std::int64_t> create_started_usec;  ///< set before a create, cleared with the id
};

struct OutboxCounts {
  std::size_t apps = 0;            ///< rows in latest_state
  std::size_t pending_states = 0;  ///< states waiting to be sent
  std::size_t events = 0;          ///< events waiting to be sent
  std::uint64_t dropped_events = 0;  ///< dropped by the bound since the database was created
  std::uint64_t dropped_states = 0;  ///< refused by the app bound since the database was created
};

class CloudOutbox {
 public:
  struct Options {
    std::size_t max_events = 10'000;       ///< at least 1
    std::size_t max_apps = 10'000;         ///< at least 1; states of more apps are refused
    std::size_t max_body_bytes = 64 * 1024;  ///< per state or event
  };

  /// Opens (creating if needed) the database at `path` (":memory:" for tests). The
  /// directory must exist. Errors: NotFound (no directory), PermissionDenied (not
  /// writable), InvalidInput (not a database, bad options), Internal (SQLite).
  [[nodiscard]] static Result<std::unique_ptr<CloudOutbox>> open(const std::string& path, Options options);
  ~CloudOutbox();
  CloudOutbox(const CloudOutbox&) = delete;
  CloudOutbox& operator=(const CloudOutbox&) = delete;

  // --- states ---
  /// Replaces the app's queued state with `body`. `mark_pending` sets the pending flag
  /// (false keeps the flag as it was: the new body goes out with the next send, e.g. at
  /// the heartbeat). Clears `retire`. Errors: InvalidInput "cloud_report_too_large",
  /// Unavailable "cloud_outbox_full" (max_apps reached for a new app; counted).
  [[nodiscard]] Result<void> put_state(const std::string& name, const std::string& body, bool mark_pending);
  /// Like put_state(pending) but the row is deleted after this state is delivered.
  [[nodiscard]] Result<void> retire_state(const std::string& name, const std::string& body);
  [[nodiscard]] Result<std::optional<StoredState>> state(const std::string& name);
  /// Marks every state pending (the heartbeat).
  [[nodiscard]] Result<void> mark_all_pending();
  /// Pending states, by name, at most `limit`.
  [[nodiscard]] Result<std::vector<StoredState>> pending_states(std::size_t limit);
  /// Clears `pending` if the row still has version `seq` (deletes it if retired).
  [[nodiscard]] Result<void> state_delivered(const std::string& name, std::int64_t seq);

  // --- events ---
  /// Appends an event (and records it as the app's last event). Drops the oldest when
  /// max_events are queued. InvalidInput "cloud_report_too_large".
  [[nodiscard]] Result<void> add_event(const std::string& name, const std::string& body);
  /// The oldest events, at most `limit`, oldest first.
  [[nodiscard]] Result<std::vector<StoredEvent>> oldest_events(std::size_t limit);
  /// Removes a delivered (or refused) event.
  [[nodiscard]] Result<void> remove_event(std::int64_t seq);

  // --- cloud ids ---
  [[nodiscard]] Result<CloudIdRecord> cloud_id(const std::string& name, const std::string& server);
  [[nodiscard]] Result<void> set_cloud_id(const std::string& name, const std::string& server, std::int64_t id);
  [[nodiscard]] Result<void> mark_create_started(const std::string& name, const std::string& server,
                                                 std::int64_t at_usec);
  /// Forgets the id (the cloud said it does not know it any more).
  [[nodiscard]] Result<void> forget_cloud_id(const std::string& name, const std::string& server);

  [[nodiscard]] OutboxCounts counts() const;

 private:
  CloudOutbox(std::string path, storage::Database db, Options options);
  [[nodiscard]] Result<void> refresh_counts_locked();
  [[nodiscard]] Result<void> put(const std::string& name, const std::string& body, bool mark_pending, bool retire);

  std::string path_;
  storage::Database db_;
  Options options_;
  mutable std::mutex mutex_;
  OutboxCounts counts_;
};

}  // namespace siax::cloud
