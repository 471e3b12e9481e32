#pragma once
/// Reports the apps' states and events to the cloud, through the durable outbox.
///
/// The agent calls report_state() / report_event() / retire_app(): they validate the
/// report, write it to the outbox (one short SQLite transaction, never the network) and
/// wake the reporter's thread. The reporter delivers, in this order, every pending
/// state (the latest per app) and then the queued events (oldest first), resolving each
/// app's cloud id on the way (look up, create once, remember; see docs/CLOUD.md). A
/// failure stops the round and backs off (RetryPolicy); reports keep waiting in the
/// outbox, which survives restarts. Every heartbeat_interval the latest state of every
/// app is marked pending again (the first round after start-up sends all of them).
///
/// The core is tick(now): one delivery round at time `now`, returning when the next
/// round is due. Tests call it directly with a manual time and a fake transport.
/// start() runs tick() on the reporter's own thread; stop() cancels the request in
/// flight (CloudTransport::cancel) and joins.
///
/// Threading: report_state, report_event, retire_app, stats and wake are thread-safe
/// (any thread; the outbox and the stats have their own mutexes, and the reporter never
/// holds one during a network call). tick() is called by one thread at a time: the
/// reporter's thread after start(), or the test before. Notices are emitted on the
/// thread running tick().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/cloud_transport.h"
#include "cloud/outbox.h"
#include "cloud/retry_policy.h"
#include "common/result.h"

namespace siax::cloud {

/// What /api/system and /metrics show about the cloud link.
struct CloudStats {
  std::string server;                    ///< the server identifier reported
  std::size_t apps = 0;                  ///< apps with a state in the outbox
  std::size_t queued_states = 0;         ///< states waiting to be sent
  std::size_t queued_events = 0;         ///< events waiting to be sent
  std::uint64_t dropped_events = 0;      ///< dropped by the outbox bound (since the outbox was created)
  std::uint64_t dropped_states = 0;      ///< refused by the outbox's app bound
  std::uint64_t delivered_states = 0;    ///< since start-up
  std::uint64_t delivered_events = 0;    ///< since start-up
  std::uint64_t rejected_reports = 0;    ///< refused by the cloud (HTTP 400, 413, 422...) and dropped
  std::uint64_t lookups = 0;             ///< GET lookups sent
  std::uint64_t creates = 0;             ///< records created
  std::uint32_t consecutive_failures = 0;
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::optional<std::chrono::system_clock::time_point> last_failure;
  std::string last_error;                ///< "" after a success
  std::optional<std::chrono::system_clock::time_point> backoff_until;  ///< no attempt before this
  bool events_endpoint_missing = false;  ///< the cloud has no events endpoint (re-probed hourly)
};

/// {"server", "apps", "queued_states", ..., "last_success": ISO 8601 or null, ...}
[[nodiscard]] nlohmann::json stats_to_json(const CloudStats& stats);

/// Prometheus text lines (with # HELP/# TYPE) for /metrics: siax_cloud_queued_states,
/// siax_cloud_queued_events, siax_cloud_dropped_events_total,
/// siax_cloud_rejected_reports_total, siax_cloud_delivered_states_total,
/// siax_cloud_delivered_events_total, siax_cloud_consecutive_failures,
/// siax_cloud_last_success_timestamp_seconds (0 = never).
[[nodiscard]] std::string stats_to_prometheus(const CloudStats& stats);

class CloudReporter {
 public:
  enum class NoticeLevel { Info, Warn };
  /// Log sink for transitions (cloud unreachable / back, record created, id lost,
  /// report refused). Never called with the API key.
  using Notify = std::function<void(NoticeLevel, const std::string&)>;

  struct Options {
    std::string server_id;                                  ///< non-empty (resolve_server_id)
    std::chrono::seconds heartbeat_interval{60};            ///< at least 1 s
    RetryPolicy::Options retry;
    RetryPolicy::Random random;                             ///< empty: seeded mt19937_64
    std::size_t max_requests_per_round = 64;                ///< then the round yields
    std::chrono::seconds events_probe_interval{3600};       ///< re-try a missing events endpoint
    std::function<std::chrono::system_clock::time_point()> wall_clock;  ///< empty: system_clock
    Notify notify;                                          ///< empty: silent
    /// Called on the reporter's thread at each heartbeat, before the states are sent:
    /// the current state of every app (e.g. the monitor's states as JSON), so that the
    /// heartbeat carries fresh CPU/memory/uptime. Apps being retired are skipped. Must
    /// be thread-safe and quick. Empty: the heartbeat re-sends the last reported states.
    std::function<std::vector<nlohmann::json>()> current_states;
  };

  /// InvalidInput when server_id is empty, the interval is below 1 s or the retry
  /// options are bad.
  [[nodiscard]] static Result<std::unique_ptr<CloudReporter>> create(std::unique_ptr<CloudOutbox> outbox,
                                                                     std::unique_ptr<CloudTransport> transport,
                                                                     Options options);
  /// Calls stop().
  ~CloudReporter();
  CloudReporter(const CloudReporter&) = delete;
  CloudReporter& operator=(const CloudReporter&) = delete;

  /// Queues the app's state (a JSON object with "name"; see docs/CLOUD.md for the
  /// fields used). It replaces the app's queued state. It is sent at once when it
  /// differs from the previous one in status, pid, systemd_status, restart_count or
  /// reason; otherwise with the next heartbeat. Errors: InvalidInput
  /// "invalid_cloud_report" / "cloud_report_too_large", Unavailable "cloud_outbox_full"
  /// or an outbox I/O error.
  [[nodiscard]] Status report_state(const nlohmann::json& state);
  /// Queues an event ({"name", "kind", "message", ...}; the app's name may be given as
  /// "app" instead of "name" (the monitor's event JSON); "at" is added when missing).
  /// Events are delivered in order; the oldest are dropped past the outbox bound.
  [[nodiscard]] Status report_event(const nlohmann::json& event);
  /// Queues the app's final state (e.g. status "removed"); once delivered, the app is
  /// no longer part of the heartbeat. Its cloud id is kept (a re-created app reuses it).
  [[nodiscard]] Status retire_app(const nlohmann::json& final_state);

  [[nodiscard]] CloudStats stats() const;

  /// One delivery round at `now`; returns when the next round is due (`now` when work
  /// is left, the end of the backoff, or the next heartbeat).
  std::chrono::steady_clock::time_point tick(std::chrono::steady_clock::time_point now);

  /// Starts the reporter's thread. Once only.
  void start();
  /// Stops the thread promptly: the request in flight is cancelled. Idempotent. The
  /// outbox keeps what was not delivered.
  void stop();

 private:
  CloudReporter(std::unique_ptr<CloudOutbox> outbox, std::unique_ptr<CloudTransport> transport, Options options,
                RetryPolicy retry);

  struct Round;
  [[nodiscard]] Result<void> deliver_states(Round& round);
  [[nodiscard]] Result<void> deliver_events(Round& round);
  [[nodiscard]] Result<void> drop_event(const StoredEvent& ev, const std::string& why);
  [[nodiscard]] Result<void> on_event_not_found(Round& round, const std::string& name, std::int64_t id, int status,
                                                const std::string& path);
  [[nodiscard]] Result<std::int64_t> ensure_id(const std::string& name, const nlohmann::json& source);
  [[nodiscard]] Result<std::optional<std::int64_t>> lookup(const std::string& name);
  [[nodiscard]] Result<CloudReply> send(Method method, const std::string& path, const std::string& body);
  void note(NoticeLevel level, const std::string& text) const;
  void refresh_states();
  void wake();
  void run();
  [[nodiscard]] std::chrono::system_clock::time_point wall_now() const;

  std::unique_ptr<CloudOutbox> outbox_;
  std::unique_ptr<CloudTransport> transport_;
  Options options_;

  // Owned by the thread running tick().
  RetryPolicy retry_;
  std::optional<std::chrono::steady_clock::time_point> next_heartbeat_;
  std::optional<std::chrono::steady_clock::time_point> backoff_until_;
  std::optional<std::chrono::steady_clock::time_point> events_disabled_until_;
  bool failing_ = false;

  mutable std::mutex stats_mutex_;
  CloudStats stats_;

  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace siax::cloud
