#pragma once
/// The live state's feed: turns what the monitor, the signal path and the API
/// know about an app into the objects GET /api/apps lists, and puts them in the
/// StateStore (which keeps only what changed). Also the JSON of those objects, shared by
/// the store's writers and the API's fallback paths (one shape, one place).
///
/// Threading: LiveFeed is thread-safe (the store is); the JSON functions are pure.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/app_service.h"
#include "core/unit_status.h"
#include "monitor/app_state.h"
#include "monitor/events.h"
#include "registry/registry.h"
#include "state/state_store.h"

namespace siax::agent {

/// The object GET /api/apps lists (and the stream's "app" events carry): the registry's
/// record, systemd's view (absent with `status_error` when systemd could not be asked),
/// and the monitor's reconciled state when it was computed from the same systemd state
/// (else the status systemd's phase implies). Pure.
[[nodiscard]] nlohmann::json app_summary_json(const registry::AppRecord& record,
                                              const std::optional<core::UnitStatus>& status,
                                              const std::string& status_error,
                                              const std::optional<monitor::AppState>& seen);
/// What GET /api/apps/:name adds to the summary: {"definition", "unit", "created_at",
/// "systemd" (systemd's raw fields, null when unreachable)}. Pure.
[[nodiscard]] nlohmann::json app_detail_extra_json(const registry::AppRecord& record,
                                                   const std::optional<core::UnitStatus>& status);
/// The object GET /api/monitored lists. Pure.
[[nodiscard]] nlohmann::json monitored_json(const registry::MonitoredProcess& spec,
                                            const std::optional<monitor::MonitoredState>& state);
/// The usage fields of an app object (StateStore::usage_fields) from the monitor's state,
/// as app_summary_json writes them. Pure.
[[nodiscard]] nlohmann::json usage_json(const monitor::AppState& state);
/// An event as GET /api/events and the stream show it (no id: not stored yet). Pure.
[[nodiscard]] nlohmann::json event_json(const monitor::Event& event);

class LiveFeed {
 public:
  explicit LiveFeed(state::StateStore& store) : store_(store) {}

  /// From the monitor (a full cycle or a signalled re-read): reconciled with `unit`.
  void app(const registry::AppRecord& record, const Result<core::UnitStatus>& unit, const monitor::AppState& state);
  /// From the API after a registry mutation or an operation: systemd's fresh view, with
  /// the monitor's last state when it saw the same systemd state.
  void app_view(const AppView& view, const std::optional<monitor::AppState>& seen);
  void app_removed(const std::string& name);
  void monitored(const registry::MonitoredProcess& spec, const monitor::MonitoredState& state);
  /// A process just added to the monitored list (status "unknown" until the monitor's
  /// next cycle); keeps what the store holds when it is already there.
  void monitored_added(const registry::MonitoredProcess& spec);
  void event(const monitor::Event& event);
  /// After a full cycle: forget apps and processes not seen; the store is ready.
  void full_cycle(const std::vector<std::string>& apps, const std::vector<std::string>& monitored);

  [[nodiscard]] state::StateStore& store() { return store_; }

  /// How often the usage of an app whose CPU and memory did not move is put again (its
  /// uptime and `monitored_at`), in ms; moving usage goes at the store's usage interval.
  static constexpr std::int64_t kIdleUsageRefreshMs = 60'000;

 private:
  static std::int64_t now_ms();
  /// Same: building the app's JSON again (the monitor's main cost per cycle with 200 apps)
  /// would put nothing new.
  enum class Since { Moved, UsageOnly, Same };
  /// How the monitor's view of an app compares with the one last put whole: moved (status,
  /// pids, definition, systemd's view...: build it again), only in usage (CPU, memory,
  /// uptime: patch those in the store), or nothing to put yet (usage that moved within the
  /// store's usage interval, or that stood still within kIdleUsageRefreshMs).
  Since compare_with_put(const registry::AppRecord& record, const Result<core::UnitStatus>& unit,
                         const monitor::AppState& state, std::int64_t now);
  void forget(const std::string& name);

  state::StateStore& store_;
  /// What was last put whole, per app: 64-bit digests of the registry's record, of systemd's
  /// view and of the monitor's state but for their usage (copies of the three were ~1.7 kB
  /// per app), and the usage figures last put (what "usage moved" compares).
  struct Fed {
    struct Usage {
      double cpu_percent = 0.0;
      std::uint64_t memory_bytes = 0;
      bool has_uptime = false;
      friend bool operator==(const Usage&, const Usage&) = default;
    };
    std::uint64_t record_key = 0;
    std::string unit_error;
    std::uint64_t unit_key = 0;
    std::uint64_t state_key = 0;
    Usage usage;
    std::int64_t at_ms = 0;
  };
  std::mutex fed_mu_;
  std::map<std::string, Fed> fed_;  ///< what app() last put, per app (bounded by the registry)
};

}  // namespace siax::agent
