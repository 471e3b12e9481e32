#pragma once
/// Event-driven half of the monitor: tells the agent at once when systemd changes a
/// `siax-app-*` unit (PropertiesChanged on a unit object, JobRemoved for one of our
/// units, UnitNew/UnitRemoved, UnitFilesChanged, Reloading; NameOwnerChanged of
/// systemd's bus name, which is how a daemon-reexec shows), so the panel does not wait for
/// the next scan.
///
/// Thread: owns one thread with its own system-bus connection; `on_change` is called
/// on that thread with the app name ("" when the change is not tied to one app: a
/// daemon reload, unit files changed) and must not block. When the bus goes away the
/// watcher reconnects every few seconds; until then the periodic scan covers.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

struct sd_bus;  // <systemd/sd-bus.h>

namespace siax::adapters {

class UnitWatcher {
 public:
  using OnChange = std::function<void(const std::string& app)>;
  /// Everything may have changed and signals may have been missed: the watcher
  /// (re)connected to the bus, or systemd itself came back (daemon-reexec, a restart of
  /// the bus name's owner). `why` is one line for an event, "" for the first
  /// subscription after start(). Called on the watcher's thread; must not block.
  using OnResync = std::function<void(const std::string& why)>;

  explicit UnitWatcher(OnChange on_change, OnResync on_resync = nullptr);
  ~UnitWatcher();  ///< stops the thread
  UnitWatcher(const UnitWatcher&) = delete;
  UnitWatcher& operator=(const UnitWatcher&) = delete;

  /// Starts watching (idempotent).
  void start();
  /// Stops and joins the thread (idempotent); wakes it at once (an eventfd), so it returns
  /// as soon as a signal handler in progress is done.
  void stop();
  /// Whether the watcher is subscribed to systemd right now.
  [[nodiscard]] bool connected() const noexcept { return connected_.load(); }
  /// Signals seen for our units so far (for /metrics and tests).
  [[nodiscard]] std::uint64_t notifications() const noexcept { return notifications_.load(); }

 private:
  void run();
  /// Adds every match on `bus` and subscribes to systemd's signals; false on failure.
  bool subscribe(sd_bus* bus);
  bool add_unit_matches(sd_bus* bus);
  bool add_manager_matches(sd_bus* bus);
  /// Dispatches signals until the connection drops or stop() is called.
  void pump(sd_bus* bus);
  /// Sleeps until `timeout_ms` passed or stop() was called (-1: until stop()).
  void pause(int timeout_ms) const;

  OnChange on_change_;
  OnResync on_resync_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  ///< eventfd written by stop(): the thread sleeps in poll(), never wakes to look
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> notifications_{0};
  /// Asks systemd for its signals again without waiting for the answer (a call that waits
  /// would queue every signal arriving meanwhile in memory: a daemon-reload during 200
  /// registrations queued ~4,200, 7 MB). The answer comes through pump().
  void resubscribe_async(sd_bus* bus);
  /// The answer to resubscribe_async()'s call: `ok` false when systemd refused it.
  void subscribed(bool ok);
  /// The unique bus name owning org.freedesktop.systemd1 ("" when unknown or none).
  static std::string systemd_owner(sd_bus* bus);

  std::uint64_t reconnects_ = 0;  ///< watcher thread only
  // Watcher thread only:
  std::string owner_;                                 ///< systemd's unique bus name our Subscribe went to
  std::string new_owner_;                             ///< the owner a NameOwnerChanged announced
  bool resubscribe_ = false;                          ///< systemd took its bus name again: Subscribe once more
  int subscribe_tries_ = 0;                           ///< refused Subscribe calls since the new owner came
  std::chrono::steady_clock::time_point retry_at_{};  ///< when to try a refused Subscribe again
  bool subscribing_ = false;                          ///< a Subscribe call is in flight
};

/// The app name of a systemd unit object path (".../unit/siax_2dapp_2dapi_2eservice"
/// -> "api"), or "" when the path is not one of our units. Pure; exposed for tests.
[[nodiscard]] std::string app_from_unit_object_path(const std::string& path);

}  // namespace siax::adapters
