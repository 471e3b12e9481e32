// The words for how a process ended: signal names, exit statuses, systemd's own statuses,
// and a failed unit's reason (reconcile.h declares the public ones).
#include "monitor/exit_text.h"

#include <iterator>

#include <fmt/format.h>

#include "monitor/reconcile.h"

namespace siax::monitor {

using core::UnitStatus;

namespace {

/// systemd's own exit statuses (systemd.exec(5), "Process Exit Codes").
const char* systemd_exit_meaning(int status) {
  switch (status) {
    case 200: return "200/CHDIR: the working directory is missing or not accessible";
    case 203: return "203/EXEC: the program could not be executed (missing, not executable, or a bad interpreter)";
    case 209: return "209/STDOUT: standard output could not be set up";
    case 216: return "216/GROUP: the group does not exist";
    case 217: return "217/USER: the user does not exist";
    case 219: return "219/CGROUP: the control group could not be set up";
    case 226: return "226/NAMESPACE: the sandbox could not be set up (a directory it needs is missing?)";
    default: return nullptr;
  }
}

}  // namespace

namespace detail {

std::string how_it_ended(const UnitStatus& u) {
  switch (u.exec_main_code) {
    case core::ExitCode::Exited: return fmt::format("exited with status {}", u.exec_main_status);
    case core::ExitCode::Killed:
      return fmt::format("killed by signal {} ({})", u.exec_main_status, signal_name(u.exec_main_status));
    case core::ExitCode::Dumped:
      return fmt::format("dumped core on signal {} ({})", u.exec_main_status, signal_name(u.exec_main_status));
    case core::ExitCode::None: return "";
  }
  return "";
}

std::string with_exit_meaning(std::string text, const UnitStatus& u) {
  if (u.exec_main_code == core::ExitCode::Exited) {
    if (const char* meaning = systemd_exit_meaning(u.exec_main_status)) {
      text += fmt::format(": systemd could not start the program ({})", meaning);
    } else if (u.exec_main_status >= 200 && u.exec_main_status <= 243) {
      text += fmt::format(": systemd could not set up the process (status {}, see systemd.exec(5))", u.exec_main_status);
    }
  }
  return text;
}

}  // namespace detail

std::string signal_name(int signal) {
  static constexpr const char* kNames[] = {
      nullptr,   "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",    "SIGTRAP", "SIGABRT", "SIGBUS",
      "SIGFPE",  "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",   "SIGPIPE", "SIGALRM", "SIGTERM",
      "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",   "SIGTTIN", "SIGTTOU", "SIGURG",
      "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",  "SIGIO",   "SIGPWR",  "SIGSYS"};
  if (signal > 0 && signal < static_cast<int>(std::size(kNames))) return kNames[signal];
  return fmt::format("signal {}", signal);
}

std::string short_exit(core::ExitCode code, int status) {
  switch (code) {
    case core::ExitCode::Exited: return fmt::format("exited {}", status);
    case core::ExitCode::Killed: return fmt::format("killed by {}", signal_name(status));
    case core::ExitCode::Dumped: return fmt::format("dumped core ({})", signal_name(status));
    case core::ExitCode::None: return "";
  }
  return "";
}

std::string failure_reason(const UnitStatus& u) {
  const std::string how = detail::how_it_ended(u);
  const std::string& r = u.result;
  if (r == "oom-kill") return how.empty() ? "out of memory (oom-kill)" : "out of memory (oom-kill): " + how;
  if (r == "start-limit-hit") {
    return how.empty() ? "start limit hit: restarted too often"
                       : detail::with_exit_meaning("start limit hit: restarted too often; last run " + how, u);
  }
  if (r == "timeout") {
    return how.empty() ? "timeout: the unit did not start or stop in time"
                       : "timeout: the unit did not start or stop in time (" + how + ")";
  }
  if (r == "watchdog") return how.empty() ? "watchdog timeout" : "watchdog timeout (" + how + ")";
  if (r == "exit-code") return detail::with_exit_meaning((how.empty() ? "exited with an error" : how) + " (exit-code)", u);
  if (r == "signal" || r == "core-dump") return how.empty() ? fmt::format("killed ({})", r) : how;
  if (r.empty() || r == "success") return how.empty() ? "stopped" : detail::with_exit_meaning(how, u);
  return how.empty() ? r : detail::with_exit_meaning(fmt::format("{} ({})", how, r), u);
}

}  // namespace siax::monitor
