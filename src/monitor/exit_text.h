#pragma once
/// The words reconcile.cpp and exit_text.cpp share about how a unit's main process ended.
#include <string>

#include "core/unit_status.h"

namespace siax::monitor::detail {

/// "exited with status 1", "killed by signal 9 (SIGKILL)", "dumped core on signal 11
/// (SIGSEGV)", "" (never ran).
[[nodiscard]] std::string how_it_ended(const core::UnitStatus& u);
/// `text` with what systemd's own exit statuses (200..243) mean, when the process exited
/// with one.
[[nodiscard]] std::string with_exit_meaning(std::string text, const core::UnitStatus& u);

}  // namespace siax::monitor::detail
