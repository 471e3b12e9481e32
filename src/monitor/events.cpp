#include "monitor/events.h"

#include <algorithm>

#include <fmt/format.h>

#include "monitor/reconcile.h"

namespace siax::monitor {
namespace {

constexpr std::size_t kMaxLogLines = 3;
constexpr std::size_t kMaxLogLine = 120;

bool is_problem(AppStatus s) {
  return s == AppStatus::Crashed || s == AppStatus::Zombie || s == AppStatus::Failed || s == AppStatus::Unhealthy ||
         s == AppStatus::Restarting;
}

Severity severity_of(AppStatus s) {
  return (s == AppStatus::Failed || s == AppStatus::Crashed) ? Severity::Error : Severity::Warning;
}

std::string problem_message(const AppState& s) {
  switch (s.status) {
    case AppStatus::Failed: return fmt::format("{} failed: {}", s.name, s.reason);
    case AppStatus::Crashed: return fmt::format("{} crashed: {}", s.name, s.reason);
    case AppStatus::Zombie: return fmt::format("{} has a stray process: {}", s.name, s.reason);
    case AppStatus::Unhealthy: return fmt::format("{} is unhealthy: {}", s.name, s.reason);
    case AppStatus::Restarting: return fmt::format("{} is restarting: {}", s.name, s.reason);
    default: return fmt::format("{} is {}: {}", s.name, to_string(s.status), s.reason);
  }
}

Event recovered(const AppState& s, AppStatus was, std::int64_t now_usec) {
  return Event{now_usec, s.name, "recovered", Severity::Info,
               fmt::format("{} recovered: {} (was {})", s.name, s.reason, to_string(was))};
}

/// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence; "..." marks a cut.
std::string shorten(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t cut = max >= 3 ? max - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

std::string one_line(const std::string& text) {
  std::string s = text;
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  const auto first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(' ');
  return s.substr(first, last - first + 1);
}

}  // namespace

const char* to_string(Severity severity) noexcept {
  switch (severity) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "info";
}

std::vector<Event> diff_states(const std::optional<AppState>& before, const AppState& after, std::int64_t now_usec) {
  std::vector<Event> events;
  if (before && before->status == after.status) return events;
  if (is_problem(after.status)) {
    events.push_back(Event{now_usec, after.name, to_string(after.status), severity_of(after.status),
                           one_line(problem_message(after))});
  } else if (after.status == AppStatus::Running && before && is_problem(before->status)) {
    events.push_back(recovered(after, before->status, now_usec));
  }
  return events;
}

std::string with_last_lines(const std::string& message, const std::vector<std::string>& lines) {
  std::vector<std::string> picked;
  for (auto it = lines.rbegin(); it != lines.rend() && picked.size() < kMaxLogLines; ++it) {
    std::string l = one_line(*it);
    if (!l.empty()) picked.push_back(shorten(std::move(l), kMaxLogLine));
  }
  std::string out = one_line(message);
  if (!picked.empty()) {
    out += "; last log: ";
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
      if (it != picked.rbegin()) out += " | ";
      out += *it;
    }
  }
  return shorten(std::move(out), kMaxEventMessage);
}

std::optional<Event> check_port(const core::AppDefinition& def, const std::string& unit_name,
                                const std::vector<core::ProcessInfo>& processes, std::int64_t now_usec) {
  if (def.port == 0) return std::nullopt;
  for (const auto& p : processes) {
    if (p.unit == unit_name) continue;
    if (std::find(p.listen_ports.begin(), p.listen_ports.end(), def.port) == p.listen_ports.end()) continue;
    std::string cmd;
    for (const auto& a : p.cmdline) cmd += (cmd.empty() ? "" : " ") + a;
    if (cmd.empty()) cmd = p.comm;
    const std::string who = matches_app(def, p) ? "a stray copy of the app" : "another process";
    return Event{now_usec, def.name, "port_conflict", Severity::Warning,
                 shorten(one_line(fmt::format("{}: port {} is taken by {} outside {}: pid {} '{}' (user {})", def.name,
                                              def.port, who, unit_name, p.pid, shorten(cmd, 80),
                                              p.user.empty() ? std::to_string(p.uid) : p.user)),
                         kMaxEventMessage)};
  }
  return std::nullopt;
}

std::optional<Event> check_unit_drift(const std::string& app, const std::string& file_state, std::int64_t now_usec) {
  std::string what;
  if (file_state.empty() || file_state == "current") return std::nullopt;
  if (file_state == "stale") {
    what = "was written from an older definition (stale): reinstall the app to rewrite it";
  } else if (file_state == "edited") {
    what = "was edited by hand (edited): systemd runs the edited file, not the registered definition";
  } else if (file_state == "foreign") {
    what = "was not written by the agent (foreign)";
  } else if (file_state == "missing") {
    what = "is missing: reinstall the app";
  } else {
    what = fmt::format("is in an unexpected state ({})", one_line(file_state));
  }
  return Event{now_usec, app, "unit_drift", Severity::Warning, fmt::format("{}: the unit file {}", app, what)};
}

std::vector<Event> diff_monitored(const std::optional<MonitoredState>& before, const MonitoredState& after,
                                  std::int64_t now_usec) {
  std::vector<Event> events;
  if (before && before->status == after.status) return events;
  if (after.status == AppStatus::Stopped) {
    events.push_back(Event{now_usec, after.name, "monitored_gone", Severity::Warning,
                           before && before->pid ? fmt::format("{} is gone (was pid {})", after.name, before->pid)
                                                 : fmt::format("{} is not running", after.name)});
  } else if (before) {
    events.push_back(Event{now_usec, after.name, "monitored_back", Severity::Info,
                           fmt::format("{} runs again (pid {})", after.name, after.pid)});
  }
  return events;
}

std::vector<Event> EventTracker::observe(const AppState& state, const std::optional<Event>& port_conflict,
                                         const std::optional<Event>& drift, std::int64_t now_usec) {
  std::vector<Event> events = diff_states(last_, state, now_usec);
  // The recovery is decided here, where problems seen before transient states are remembered.
  std::erase_if(events, [](const Event& e) { return e.kind == "recovered"; });
  if (is_problem(state.status)) {
    open_problem_ = state.status;
  } else if (state.status == AppStatus::Running) {
    if (open_problem_) events.push_back(recovered(state, *open_problem_, now_usec));
    open_problem_.reset();
  } else if (state.status == AppStatus::Stopped) {
    open_problem_.reset();  // stopped on purpose (or after giving up): nothing recovered
  }
  const std::string port_message = port_conflict ? port_conflict->message : "";
  if (port_conflict && port_message != port_message_) events.push_back(*port_conflict);
  port_message_ = port_message;
  const std::string drift_message = drift ? drift->message : "";
  if (drift && drift_message != drift_message_) events.push_back(*drift);
  drift_message_ = drift_message;
  last_ = state;
  return events;
}

}  // namespace siax::monitor
