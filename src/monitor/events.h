#pragma once
/// Discrepancies and recoveries as events (functional core).
///
/// diff_states() turns two consecutive states of an app into events: only transitions
/// produce events, so an app that stays failed is reported once. EventTracker adds the
/// memory needed across transient states (failed -> starting -> running is a recovery)
/// and de-duplicates the stateless checks (port conflict, unit drift).
///
/// Pure functions; EventTracker is a value class without locking: one instance per app,
/// used by one thread at a time (the monitor's scan loop).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/app_definition.h"
#include "core/process_info.h"
#include "monitor/app_state.h"

namespace siax::monitor {

enum class Severity { Info, Warning, Error };

/// "info", "warning", "error".
[[nodiscard]] const char* to_string(Severity severity) noexcept;

struct Event {
  std::int64_t at_usec = 0;  ///< wall clock, µs since the epoch
  std::string app;           ///< the app's name (or a monitored process's name)
  /// "crashed", "zombie", "failed", "unhealthy", "restarting", "recovered",
  /// "port_conflict", "unit_drift", "monitored_gone", "monitored_back".
  std::string kind;
  Severity severity = Severity::Info;
  std::string message;       ///< one line, e.g. "api failed: exited with status 1 (exit-code) after 3 restarts"

  friend bool operator==(const Event&, const Event&) = default;
};

/// Events for the transition before -> after (before = the previous scan's state, nullopt
/// for the first scan). Problems (crashed, zombie, failed, unhealthy, restarting) give an
/// event when the status changes into them (the first scan, before = nullopt, counts as a
/// change); running right after a problem gives "recovered". Steady states, running,
/// starting, stopping, stopped and unknown (systemd unreachable) give none.
[[nodiscard]] std::vector<Event> diff_states(const std::optional<AppState>& before, const AppState& after,
                                             std::int64_t now_usec);

/// `message` + "; last log: " + up to the 3 last non-empty lines, each shortened, joined
/// with " | ", the whole result at most kMaxEventMessage characters (cut at a character
/// boundary, "..." marks a cut). Control characters become spaces.
[[nodiscard]] std::string with_last_lines(const std::string& message, const std::vector<std::string>& lines);
inline constexpr std::size_t kMaxEventMessage = 300;

/// A "port_conflict" event when the app declares a port (def.port != 0) and a process
/// outside `unit_name` listens on it; nullopt otherwise.
[[nodiscard]] std::optional<Event> check_port(const core::AppDefinition& def, const std::string& unit_name,
                                              const std::vector<core::ProcessInfo>& processes, std::int64_t now_usec);

/// A "unit_drift" event when the unit file on disk is not what the agent would write:
/// `file_state` is the API's unit_file.state ("current", "stale", "edited", "foreign",
/// "missing"); nullopt for "current".
[[nodiscard]] std::optional<Event> check_unit_drift(const std::string& app, const std::string& file_state,
                                                    std::int64_t now_usec);

/// Events for a monitored (unmanaged) process: "monitored_gone" (warning) when it goes
/// from running to stopped, "monitored_back" (info) when it comes back.
[[nodiscard]] std::vector<Event> diff_monitored(const std::optional<MonitoredState>& before,
                                                const MonitoredState& after, std::int64_t now_usec);

/// Per-app memory across scans. Not thread-safe: one owner thread.
class EventTracker {
 public:
  /// The events of this scan: diff_states() against the previous state, plus a
  /// "recovered" when the app runs again after a problem seen through transient states
  /// (failed -> starting -> running), plus `port_conflict` / `drift` when they start or
  /// their message changes (a condition that lasts is reported once).
  [[nodiscard]] std::vector<Event> observe(const AppState& state, const std::optional<Event>& port_conflict,
                                           const std::optional<Event>& drift, std::int64_t now_usec);
  [[nodiscard]] const std::optional<AppState>& last() const noexcept { return last_; }

 private:
  std::optional<AppState> last_;
  std::optional<AppStatus> open_problem_;  ///< the last problem status not yet recovered from
  std::string port_message_;               ///< "" = no conflict reported
  std::string drift_message_;
};

}  // namespace siax::monitor
