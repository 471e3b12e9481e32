#pragma once
/// The live state store (issue 12): one in-memory view of every app and every monitored
/// process, as the API lists them, with a version that grows on every change.
///
/// Writers (the monitor, the systemd signal path, the registry's mutations in the API)
/// put whole objects; the store compares them with what it holds and, when they differ,
/// bumps the version, logs the change (a bounded ring, for resume) and queues it to every
/// subscriber. Readers (the API, the stream, /metrics, the cloud reporter, the CLI through
/// the API) read copies or shared immutable strings; nothing here blocks on I/O.
///
/// Coalescing: an app update that changes only usage fields (cpu, memory, uptime, the
/// monitor's timestamp) is applied at most once per `usage_interval` per app; other
/// fields (status, reason, pids, health, definition...) are applied at once.
///
/// Bounds: `history` changes are kept for resume (older resumes get a snapshot); each
/// subscriber queues at most `max_queue` changes: past that its queue is dropped and it is
/// told to start over from a snapshot (a slow client never grows memory); at most
/// `max_subscribers` subscribers.
///
/// Threading: every member is thread-safe (one mutex; subscriptions have their own). The
/// notify callback is called after a change, outside the store's lock, on the writer's
/// thread; it must not block.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace siax::state {

/// One change, serialized once and shared by every reader.
struct Change {
  std::uint64_t version = 0;
  std::string type;  ///< "app", "app_removed", "monitored", "monitored_removed", "event", "system"
  std::string data;  ///< one-line JSON, with "version" in it
};
using ChangePtr = std::shared_ptr<const Change>;

/// A subscriber's bounded queue of changes. Thread-safe.
class Subscription {
 public:
  struct Batch {
    bool snapshot = false;           ///< fell behind: start over from StateStore::snapshot()
    std::vector<ChangePtr> changes;  ///< in version order (empty when snapshot)
  };
  explicit Subscription(std::size_t max_queue) : max_queue_(max_queue == 0 ? 1 : max_queue) {}

  /// Takes everything queued (and the snapshot flag, which it clears).
  [[nodiscard]] Batch take();
  /// Whether take() would return something.
  [[nodiscard]] bool pending() const;
  /// Changes queued now (never above max_queue).
  [[nodiscard]] std::size_t queued() const;
  /// How many times it overflowed (and was sent a snapshot instead).
  [[nodiscard]] std::uint64_t overflows() const;
  /// Asks for a snapshot on the next take() (used for a resume from too far back).
  void request_snapshot();

 private:
  friend class StateStore;
  void push(const ChangePtr& change);

  mutable std::mutex mu_;
  const std::size_t max_queue_;
  std::deque<ChangePtr> queue_;
  bool snapshot_ = false;
  std::uint64_t overflows_ = 0;
};

struct StoreOptions {
  /// Changes kept for resume. Each costs its JSON (~450 bytes for an app) plus ~110 bytes:
  /// 256 are ~0.13 MB (512 were ~0.26 MB, 2048 ~1.1 MB) and cover ~75 s of 200 idle apps
  /// (their uptimes go out once a minute: ~3.3 changes/s); a longer gap resumes from a
  /// snapshot, always correct (~90 kB for 200 apps). docs/PERFORMANCE.md.
  std::size_t history = 256;
  std::int64_t usage_interval_ms = 5'000;  ///< usage-only app updates at most this often per app
  std::size_t max_queue = 512;       ///< per subscriber
  std::size_t max_subscribers = 64;
};

/// A snapshot: everything the store holds, serialized at one version.
struct Snapshot {
  std::uint64_t version = 0;
  std::string data;  ///< {"version", "apps": [...], "monitored": [...], "system": {...}}
};

/// The app list serialized at one version (the API serves it as is until it changes).
struct AppList {
  std::uint64_t version = 0;  ///< the store's version at the last change of an app
  std::shared_ptr<const std::string> json;  ///< a JSON array
};

/// Counters for /metrics.
struct StoreStats {
  std::uint64_t version = 0;
  std::size_t apps = 0;
  std::size_t monitored = 0;
  std::size_t subscribers = 0;
  std::uint64_t changes = 0;           ///< changes recorded
  std::uint64_t coalesced = 0;         ///< usage-only updates held back by usage_interval
  std::uint64_t unchanged = 0;         ///< puts that changed nothing
  std::uint64_t subscriber_overflows = 0;
  std::uint64_t stale = 0;             ///< app puts dropped: older than what the store held
};

/// Whether a put of `order` loses to the held `held` (see StateStore::put_app): both known and
/// `order` older. Pure.
[[nodiscard]] bool is_stale(std::uint64_t order, std::uint64_t held);

class StateStore {
 public:
  explicit StateStore(StoreOptions options = {}, std::function<void()> notify = nullptr);

  /// The fields of an app object that are usage (coalesced by usage_interval).
  static const std::vector<std::string>& usage_fields();

  // --- writers ---
  /// Puts an app object (a GET /api/apps object; must be a JSON object with "name").
  /// `extra` is kept beside it for detail reads (systemd's raw fields) and does not make a
  /// change on its own. Returns whether a change was recorded. `now_ms` is a monotonic time.
  ///
  /// `order` says how recent the read behind the object is: systemd's
  /// StateChangeTimestampMonotonic of the unit (µs since boot; 0 = unknown). systemd bumps it
  /// on every state change of the unit (a restart moves it at least twice), and the monotonic
  /// clock never goes back, so a put whose order is older than the one the store holds for
  /// that app is a stale read that lost a race and is dropped (stats().stale): the monitor's
  /// re-read begun before an operation, or a full cycle reusing a view read before it (an app
  /// up for hours), landing after the API put the operation's outcome. An older read never
  /// overwrites a newer one. Equal or newer orders, or 0 on either side, are taken.
  bool put_app(const std::string& name, nlohmann::json app, nlohmann::json extra, std::int64_t now_ms,
               std::uint64_t order = 0);
  /// Only the usage fields of an app already held (`usage`: an object of some of
  /// usage_fields()), coalesced like put_app's usage-only changes: what the monitor puts
  /// each cycle for an app whose state moved only in its figures, without rebuilding the
  /// whole object. Returns whether a change was recorded (false when not held).
  bool put_usage(const std::string& name, const nlohmann::json& usage, std::int64_t now_ms);
  bool remove_app(const std::string& name);
  /// Keeps only the apps named (removes the others, each a change); for a full resync.
  void retain_apps(const std::vector<std::string>& names);
  bool put_monitored(const std::string& key, nlohmann::json process);
  /// put_monitored when the key is not held yet (else nothing). Returns whether it was put.
  bool put_monitored_if_absent(const std::string& key, nlohmann::json process);
  bool remove_monitored(const std::string& key);
  void retain_monitored(const std::vector<std::string>& keys);
  /// An event (as in GET /api/events): always a change.
  void add_event(nlohmann::json event);
  /// The system facts ({"systemd_reachable", "degraded", "missing", ...}).
  bool set_system(nlohmann::json system);
  /// Marks the store as filled by a first full read (before that, readers fall back).
  void set_ready();

  // --- readers ---
  [[nodiscard]] bool ready() const;
  [[nodiscard]] std::int64_t usage_interval_ms() const { return options_.usage_interval_ms; }
  [[nodiscard]] std::uint64_t version() const;
  [[nodiscard]] AppList apps() const;
  [[nodiscard]] std::optional<nlohmann::json> app(const std::string& name) const;
  /// The detail extras put with the app.
  [[nodiscard]] std::optional<nlohmann::json> app_extra(const std::string& name) const;
  /// app() and app_extra() from one put (two calls may straddle a put). Absent when not held.
  [[nodiscard]] std::optional<std::pair<nlohmann::json, nlohmann::json>> app_with_extra(const std::string& name) const;
  [[nodiscard]] std::vector<nlohmann::json> all_monitored() const;
  [[nodiscard]] nlohmann::json system() const;
  [[nodiscard]] Snapshot snapshot() const;
  /// Every change after `version`, in order; nullopt when some of them are no longer kept
  /// (the caller needs a snapshot). A version from the future is also nullopt.
  [[nodiscard]] std::optional<std::vector<ChangePtr>> changes_since(std::uint64_t version) const;
  [[nodiscard]] StoreStats stats() const;

  /// A new subscriber; it receives every change from now on. Errors: RateLimited
  /// "too_many_streams" over max_subscribers. To resume: subscribe first, then read
  /// changes_since(last) (a change may then be seen twice: skip versions <= the last seen).
  [[nodiscard]] Result<std::shared_ptr<Subscription>> subscribe();

 private:
  struct AppEntry {
    /// The app object, serialized (what the list and the stream send): as a JSON tree it
    /// was ~2 kB an app (a map node per key), 4x its text (200 apps: ~0.4 MB -> ~0.1 MB).
    /// Parsed again only by a detail or /status read and by put_usage.
    std::string object;
    std::uint64_t shape = 0;  ///< digest of the object without its usage fields (usage_only)
    /// The detail extras, serialized: read only by a detail or /status request (parsed then,
    /// ~1 kB), and as a JSON tree they were ~2.5x the memory (200 apps: ~0.6 MB -> ~0.25 MB).
    std::string extra;
    std::int64_t usage_at_ms = 0;  ///< when usage was last applied
    std::uint64_t order = 0;       ///< the newest order put (see put_app)
  };
  void record(std::string type, nlohmann::json data, std::vector<ChangePtr>& out);  // under mu_
  /// record("app", {"app": object}) from the object's serialized text (the same bytes). Under mu_.
  void record_app(const std::string& object, std::vector<ChangePtr>& out);
  void publish(const std::vector<ChangePtr>& changes);                              // outside mu_
  /// The held app objects as one JSON array (their texts joined). Under mu_.
  [[nodiscard]] std::string apps_array() const;

  const StoreOptions options_;
  std::function<void()> notify_;

  mutable std::mutex mu_;
  bool ready_ = false;
  std::uint64_t version_ = 0;
  std::uint64_t apps_version_ = 0;
  std::map<std::string, AppEntry> apps_;
  std::map<std::string, nlohmann::json> monitored_;
  nlohmann::json system_ = nlohmann::json::object();
  std::deque<ChangePtr> history_;
  mutable AppList apps_cache_;  ///< rebuilt lazily when apps_version_ moved
  std::vector<std::weak_ptr<Subscription>> subscribers_;
  StoreStats stats_;
};

}  // namespace siax::state
