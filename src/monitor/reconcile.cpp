#include "monitor/reconcile.h"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "monitor/exit_text.h"

namespace siax::monitor {
namespace {

using core::ProcessInfo;
using core::ProcessKind;
using core::Runtime;
using core::UnitPhase;
using core::UnitStatus;

constexpr std::size_t kMaxCommandShown = 80;  // a reason is one line
constexpr std::size_t kMaxPidsShown = 5;

/// Lexically normalized, without a trailing '/' (but "/" stays "/").
std::string normalize(const std::string& path) {
  if (path.empty()) return path;
  std::string n = std::filesystem::path(path).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  return n;
}

/// An absolute path already in lexically normal form (no "//", "." or ".." component, no
/// trailing '/'): two such paths are the same path exactly when they are the same string.
bool is_plain_absolute(std::string_view p) {
  if (p.empty() || p.front() != '/') return false;
  if (p.size() > 1 && p.back() == '/') return false;
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] != '/') continue;
    const std::size_t j = i + 1;
    if (p[j] == '/') return false;
    if (p[j] == '.' && (j + 1 == p.size() || p[j + 1] == '/')) return false;
    if (p[j] == '.' && p[j + 1] == '.' && (j + 2 == p.size() || p[j + 2] == '/')) return false;
  }
  return true;
}

/// The last component ("" for "/" or a path ending in '/').
std::string_view last_component(std::string_view p) {
  const auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

/// A path of the app's definition, with what every comparison with it needs computed once
/// (the monitor compares every app with the processes each cycle).
struct PathTarget {
  explicit PathTarget(const std::string& p) : path(p), plain(is_plain_absolute(p)), base(last_component(p)) {}
  const std::string& path;
  bool plain;             ///< is_plain_absolute(path)
  std::string_view base;  ///< last_component(path)
};

// The fast paths keep std::filesystem out of the common cases.
bool same_path(const std::string& a, const PathTarget& b) {
  if (a.empty() || b.path.empty()) return false;
  if (a == b.path) return true;
  if (b.plain && is_plain_absolute(a)) return false;
  return normalize(a) == normalize(b.path);
}

/// argv element `arg` designates `target`, literally or relative to `cwd`.
bool arg_is_path(const std::string& arg, const PathTarget& target, const std::string& cwd) {
  if (arg.empty()) return false;
  if (arg.front() == '/') return same_path(arg, target);
  // Relative: its last component must be the target's (unless it ends in "." or ".." or '/').
  const std::string_view tail = last_component(arg);
  if (!tail.empty() && tail != "." && tail != ".." && target.plain && tail != target.base) return false;
  if (cwd.empty() || cwd.front() != '/') return false;  // cwd unreadable: cannot resolve
  return same_path((std::filesystem::path(cwd) / arg).string(), target);
}

bool argv_has_path(const ProcessInfo& p, const PathTarget& target) {
  return std::any_of(p.cmdline.begin(), p.cmdline.end(),
                     [&](const std::string& a) { return arg_is_path(a, target, p.cwd); });
}

/// A last component that lexical normalization may replace ("/a/b/.." is "/a").
bool is_odd_tail(std::string_view tail) { return tail.empty() || tail == "." || tail == ".."; }

/// A "siax-app-<name>.service" unit (core::app_name_from_unit without the copy of the name).
bool is_app_unit(std::string_view unit) {
  return unit.size() > core::kUnitPrefix.size() + core::kUnitSuffix.size() && unit.starts_with(core::kUnitPrefix) &&
         unit.ends_with(core::kUnitSuffix);
}

std::string command_text(const ProcessInfo& p) {
  std::string s;
  for (const auto& a : p.cmdline) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  if (s.empty()) s = "[" + p.comm + "]";
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';  // one line, no control characters
  }
  if (s.size() > kMaxCommandShown) s = s.substr(0, kMaxCommandShown - 3) + "...";
  return s;
}

std::string expected_text(const core::AppDefinition& def) {
  switch (def.runtime) {
    case Runtime::NodeScript: return fmt::format("node {}", def.script_path);
    case Runtime::PythonScript: return fmt::format("python {}", def.script_path);
    case Runtime::NpmStart: return fmt::format("node/npm in {}", def.working_directory);
    case Runtime::Uvicorn: return fmt::format("uvicorn {}", def.module);
    case Runtime::Custom: return def.script_path;
  }
  return def.script_path;
}

std::string pid_list(const std::vector<int>& pids) {
  std::string s;
  for (std::size_t i = 0; i < pids.size() && i < kMaxPidsShown; ++i) {
    if (i) s += ", ";
    s += std::to_string(pids[i]);
  }
  if (pids.size() > kMaxPidsShown) s += fmt::format(" and {} more", pids.size() - kMaxPidsShown);
  return s;
}

const ProcessInfo* find_pid(const std::vector<ProcessInfo>& processes, const ProcessIndex* index, int pid) {
  if (index != nullptr) return index->find(pid);
  for (const auto& p : processes) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

std::string restarts_suffix(std::uint32_t n) {
  if (n == 0) return "";
  return fmt::format(" after {} restart{}", n, n == 1 ? "" : "s");
}

std::uint64_t sum_rss(const std::vector<const ProcessInfo*>& ps) {
  std::uint64_t total = 0;
  for (const auto* p : ps) total += p->rss_bytes;
  return total;
}

}  // namespace

bool is_live_process(const ProcessInfo& p) { return !p.kernel_thread && !p.cmdline.empty() && p.state != 'Z'; }

namespace {

/// matches_app with the definition's paths prepared once, for the many processes of a table.
class AppMatcher {
 public:
  explicit AppMatcher(const core::AppDefinition& def)
      : def_(def), script_(def.script_path), working_directory_(def.working_directory) {}

  /// The last component a process's argv element or exe must end in to match (see
  /// ProcessIndex::candidates_by_tail), or nullopt when the app is not matched by a path.
  [[nodiscard]] std::optional<std::string_view> key_tail() const {
    if (def_.runtime != Runtime::NodeScript && def_.runtime != Runtime::PythonScript && def_.runtime != Runtime::Custom) {
      return std::nullopt;
    }
    if (!script_.plain || is_odd_tail(script_.base)) return std::nullopt;
    return script_.base;
  }

  bool operator()(const ProcessInfo& p) const {
    if (!is_live_process(p)) return false;
    switch (def_.runtime) {
      case Runtime::NodeScript: return p.kind == ProcessKind::Node && argv_has_path(p, script_);
      case Runtime::PythonScript: return p.kind == ProcessKind::Python && argv_has_path(p, script_);
      case Runtime::NpmStart: return p.kind == ProcessKind::Node && same_path(p.cwd, working_directory_);
      case Runtime::Uvicorn: {
        if (p.kind != ProcessKind::Python || def_.module.empty()) return false;
        if (std::find(p.cmdline.begin(), p.cmdline.end(), def_.module) == p.cmdline.end()) return false;
        return p.cwd.empty() || same_path(p.cwd, working_directory_);
      }
      case Runtime::Custom: return same_path(p.exe, script_) || argv_has_path(p, script_);
    }
    return false;
  }

 private:
  const core::AppDefinition& def_;
  PathTarget script_;
  PathTarget working_directory_;
};

}  // namespace

bool matches_app(const core::AppDefinition& def, const ProcessInfo& p) { return AppMatcher(def)(p); }

ProcessIndex::ProcessIndex(const std::vector<ProcessInfo>& processes)
    : table_(&processes), data_(processes.data()), size_(processes.size()) {
  by_pid_.reserve(processes.size());
  for (const auto& p : processes) {
    if (!p.kernel_thread) by_unit_[p.unit].push_back(&p);
    by_pid_.emplace_back(p.pid, &p);
    if (!is_live_process(p) || is_app_unit(p.unit)) continue;
    const std::size_t at = candidates_.size();
    candidates_.push_back(&p);
    bool odd = false;
    auto add_tail = [&](const std::string& path) {
      const std::string_view tail = last_component(path);
      if (is_odd_tail(tail)) {
        odd = true;
        return;
      }
      auto& list = by_tail_[tail];
      if (list.empty() || list.back() != at) list.push_back(at);
    };
    add_tail(p.exe);
    for (const auto& arg : p.cmdline) add_tail(arg);
    if (odd) odd_tails_.push_back(at);
  }
  std::stable_sort(by_pid_.begin(), by_pid_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  by_pid_.erase(std::unique(by_pid_.begin(), by_pid_.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
                by_pid_.end());
}

bool ProcessIndex::covers(const std::vector<ProcessInfo>& processes) const noexcept {
  return table_ == &processes && data_ == processes.data() && size_ == processes.size();
}

const std::vector<const ProcessInfo*>& ProcessIndex::in_unit(std::string_view unit) const {
  static const std::vector<const ProcessInfo*> kNone;
  const auto it = by_unit_.find(unit);
  return it == by_unit_.end() ? kNone : it->second;
}

std::vector<std::size_t> ProcessIndex::candidates_by_tail(std::string_view tail) const {
  std::vector<std::size_t> out;
  const auto it = by_tail_.find(tail);
  if (it != by_tail_.end()) out = it->second;
  if (!odd_tails_.empty()) {
    const std::size_t middle = out.size();
    out.insert(out.end(), odd_tails_.begin(), odd_tails_.end());
    std::inplace_merge(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(middle), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

const ProcessInfo* ProcessIndex::find(int pid) const {
  const auto it = std::lower_bound(by_pid_.begin(), by_pid_.end(), pid,
                                   [](const auto& entry, int value) { return entry.first < value; });
  return it != by_pid_.end() && it->first == pid ? it->second : nullptr;
}

namespace {

/// The unit's processes (its cgroup), whatever they run, children included: their pids
/// (sorted), CPU, memory and listening ports go into `s`.
void add_unit_processes(AppState& s, const std::vector<ProcessInfo>& processes, const ProcessIndex* index) {
  std::vector<const ProcessInfo*> scanned;
  if (index == nullptr) {
    for (const auto& p : processes) {
      if (!p.kernel_thread && p.unit == s.unit) scanned.push_back(&p);
    }
  }
  const std::vector<const ProcessInfo*>& in_unit = index != nullptr ? index->in_unit(s.unit) : scanned;
  std::vector<std::uint16_t> ports;
  s.pids.reserve(in_unit.size());
  for (const auto* p : in_unit) {
    s.pids.push_back(p->pid);
    s.cpu_percent += p->cpu_percent;
    ports.insert(ports.end(), p->listen_ports.begin(), p->listen_ports.end());
  }
  std::sort(s.pids.begin(), s.pids.end());
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  s.listen_ports = std::move(ports);
  s.memory_bytes = sum_rss(in_unit);
}

/// Copies of the app outside the unit (also listed in `s.stray_pids`). A process whose
/// cgroup could not be read (it raced with the scan) but whose parent is in the unit
/// (`s.pids`, sorted) is given the benefit of the doubt. A process of another app's unit
/// is that app's, even when both run the same script from the same directory (two
/// instances of one program on different ports). The cheap tests (pid, unit) come before
/// the match: with 200 apps running the same command, each in its own unit, every other
/// app's process would match.
std::vector<const ProcessInfo*> find_strays(AppState& s, const AppMatcher& matches,
                                            const std::vector<ProcessInfo>& processes, const ProcessIndex* index,
                                            int main_pid) {
  std::vector<const ProcessInfo*> strays;
  auto consider = [&](const ProcessInfo& p) {
    if (p.pid == main_pid || p.unit == s.unit || is_app_unit(p.unit)) return;
    if (!matches(p)) return;
    if (p.unit.empty() && p.cgroup.empty() && std::binary_search(s.pids.begin(), s.pids.end(), p.ppid)) return;
    strays.push_back(&p);
    s.stray_pids.push_back(p.pid);
  };
  if (index != nullptr) {
    // Only the candidates whose argv or exe ends like the app's path can match it (with 200
    // apps and a few hundred other processes on a host, most pairs are ruled out here).
    const auto& candidates = index->stray_candidates();
    if (const auto tail = matches.key_tail()) {
      for (std::size_t at : index->candidates_by_tail(*tail)) consider(*candidates[at]);
    } else {
      for (const auto* p : candidates) consider(*p);
    }
  } else {
    for (const auto& p : processes) consider(p);
  }
  std::sort(s.stray_pids.begin(), s.stray_pids.end());
  return strays;
}

/// The unit's fields as systemd reports them, and the uptime while it is active.
void add_unit_fields(AppState& s, const UnitStatus& u, int main_pid, const ProcessInfo* main, std::int64_t now_usec) {
  s.main_pid = main_pid;
  s.restart_count = u.restart_count;
  s.result = u.result;
  s.load_state = u.load_state;
  s.active_state = u.active_state;
  s.sub_state = u.sub_state;
  s.last_exit = short_exit(u.exec_main_code, u.exec_main_status);
  if (u.memory_current_bytes) {
    s.memory_bytes = *u.memory_current_bytes;
    s.memory_from_systemd = true;
  }
  const UnitPhase phase = u.phase();
  if (phase != UnitPhase::Active && phase != UnitPhase::Reloading) return;
  std::int64_t since = 0;
  if (main && main->start_time_usec > 0) {
    since = main->start_time_usec;
  } else if (u.state_change_usec > 0) {
    since = static_cast<std::int64_t>(u.state_change_usec);
  }
  if (since > 0) s.uptime_seconds = std::max<std::int64_t>(0, (now_usec - since) / 1'000'000);
}

/// What the unit is doing, in words, for the zombie reason.
std::string unit_words(const UnitStatus& u, int main_pid) {
  switch (u.phase()) {
    case UnitPhase::Active:
    case UnitPhase::Reloading:
      return main_pid ? fmt::format("the unit runs pid {}", main_pid) : "the unit is active";
    case UnitPhase::Failed:
      return "the unit failed: " + failure_reason(u);
    case UnitPhase::Inactive:
      return "the unit is stopped";
    case UnitPhase::NotFound:
      return "the unit is not installed";
    default:
      return fmt::format("the unit is {} ({})", u.active_state, u.sub_state);
  }
}

/// Zombie: a copy of the app outside its unit, whatever systemd says.
void judge_zombie(AppState& s, const std::vector<const ProcessInfo*>& strays, const UnitStatus& u) {
  s.status = AppStatus::Zombie;
  const ProcessInfo& first = *strays.front();
  s.reason = fmt::format(
      "{} outside {}: pid{} {} (first: '{}', user {}); {}",
      strays.size() == 1 ? "a copy of the app runs" : fmt::format("{} copies of the app run", strays.size()), s.unit,
      strays.size() == 1 ? "" : "s", pid_list(s.stray_pids), command_text(first),
      first.user.empty() ? std::to_string(first.uid) : first.user, unit_words(u, s.main_pid));
}

/// What systemd says, for every phase but active: true when that decides the status.
bool judge_by_systemd(AppState& s, const UnitStatus& u) {
  switch (u.phase()) {
    case UnitPhase::NotFound:
      s.status = AppStatus::Unknown;
      s.reason = fmt::format("{} is not installed (load state not-found): reinstall the app's unit", s.unit);
      return true;
    case UnitPhase::Unknown:
      s.status = AppStatus::Unknown;
      s.reason = fmt::format("systemd reports a state the agent does not know: {} ({})", u.active_state, u.sub_state);
      return true;
    case UnitPhase::Inactive:
      if (!u.load_state.empty() && u.load_state != "loaded") {
        s.status = AppStatus::Unknown;
        s.reason = u.load_state == "masked"
                       ? fmt::format("{} is masked: systemd refuses to start it (systemctl unmask {})", s.unit, s.unit)
                       : fmt::format("{} cannot be loaded ({}): check the unit file", s.unit, u.load_state);
        return true;
      }
      s.status = AppStatus::Stopped;
      s.reason = s.last_exit.empty() ? "stopped" : fmt::format("stopped (last run {})", detail::how_it_ended(u));
      return true;
    case UnitPhase::Failed:
      s.status = AppStatus::Failed;
      s.reason = failure_reason(u) + restarts_suffix(u.restart_count);
      return true;
    case UnitPhase::Activating:
      s.status = AppStatus::Starting;
      s.reason = fmt::format("systemd is starting it ({})", u.sub_state);
      return true;
    case UnitPhase::AutoRestart: {
      s.status = AppStatus::Restarting;
      const std::string how = detail::how_it_ended(u);
      s.reason = fmt::format("crash loop: systemd will restart it; last run {}; {} restart{} so far",
                             how.empty() ? "ended" : detail::with_exit_meaning(how, u), u.restart_count,
                             u.restart_count == 1 ? "" : "s");
      return true;
    }
    case UnitPhase::Deactivating:
      s.status = AppStatus::Stopping;
      s.reason = fmt::format("systemd is stopping it ({})", u.sub_state);
      return true;
    case UnitPhase::Active:
    case UnitPhase::Reloading: break;
  }
  return false;
}

/// Active: the main process must be there, in the unit, and be the app; then its health.
void judge_active(AppState& s, const core::AppDefinition& def, const AppMatcher& matches, const UnitStatus& u,
                  const ProcessInfo* main, const std::optional<HealthView>& health) {
  const int main_pid = s.main_pid;
  s.status = AppStatus::Crashed;
  if (main_pid == 0) {
    s.reason = fmt::format("systemd says {} ({}) but reports no main process", u.active_state, u.sub_state);
  } else if (!main) {
    s.reason = fmt::format("systemd says {} but its main process {} is gone", u.active_state, main_pid);
  } else if (main->state == 'Z') {
    s.reason = fmt::format("main process {} has exited and was not reaped (defunct)", main_pid);
  } else if (main->unit != s.unit && main->cgroup == "/init.scope") {
    // systemd's own cgroup: a child it just forked that has not moved itself into the unit
    // yet (systemd 257's executor attaches after the fork; a Type=simple job is done by then).
    s.status = AppStatus::Starting;
    s.reason = fmt::format("main process {} is being moved into the unit by systemd", main_pid);
  } else if (main->unit != s.unit) {
    s.reason = fmt::format("main process {} runs outside the unit (cgroup {})", main_pid,
                           main->cgroup.empty() ? "unknown" : main->cgroup);
  } else if (!matches(*main)) {
    s.reason = fmt::format("main process {} is not the app: it runs '{}' (expected {})", main_pid, command_text(*main),
                           expected_text(def));
  } else if (health && health->state == HealthState::Unhealthy) {
    s.status = AppStatus::Unhealthy;
    s.reason = fmt::format("health check failed {} time{} in a row: {}", health->consecutive_failures,
                           health->consecutive_failures == 1 ? "" : "s",
                           health->last_error.empty() ? "no detail" : health->last_error);
  } else {
    s.status = AppStatus::Running;
    s.reason = s.pids.size() == 1 ? fmt::format("running (pid {})", main_pid)
                                  : fmt::format("running (pid {}, {} processes)", main_pid, s.pids.size());
  }
}

}  // namespace

AppState reconcile(const core::AppDefinition& def, const std::optional<UnitStatus>& unit,
                   const std::vector<ProcessInfo>& processes, const std::optional<HealthView>& health,
                   std::int64_t now_usec) {
  return reconcile(def, unit, processes, health, now_usec, nullptr);
}

AppState reconcile(const core::AppDefinition& def, const std::optional<UnitStatus>& unit,
                   const std::vector<ProcessInfo>& processes, const std::optional<HealthView>& health,
                   std::int64_t now_usec, const ProcessIndex* index) {
  if (index != nullptr && !index->covers(processes)) index = nullptr;
  AppState s;
  s.name = def.name;
  s.unit = core::unit_name_for(def.name);
  s.health = health;
  s.updated_usec = now_usec;
  const AppMatcher matches(def);
  add_unit_processes(s, processes, index);
  const int main_pid = unit ? static_cast<int>(unit->main_pid) : 0;
  const std::vector<const ProcessInfo*> strays = find_strays(s, matches, processes, index, main_pid);

  if (!unit) {
    s.status = AppStatus::Unknown;
    s.reason = "systemd is unreachable: the unit's state is not known";
    if (!strays.empty())
      s.reason += fmt::format(" (processes of the app outside the unit: {})", pid_list(s.stray_pids));
    return s;
  }
  const ProcessInfo* main = main_pid ? find_pid(processes, index, main_pid) : nullptr;
  add_unit_fields(s, *unit, main_pid, main, now_usec);
  if (!strays.empty()) {
    judge_zombie(s, strays, *unit);             // 1. a copy of the app outside its unit
  } else if (!judge_by_systemd(s, *unit)) {     // 2. what systemd says
    judge_active(s, def, matches, *unit, main, health);  // 3. active: the main process and health
  }
  return s;
}

}  // namespace siax::monitor
