#pragma once
/// The processes of one systemd unit, from its cgroup's `cgroup.procs` file (what the
/// monitor reads when one unit changed, instead of walking all of /proc).
///
/// Threading: free functions, any thread; blocking file reads (not for the io thread).
#include <string>
#include <vector>

namespace siax::procscan {

/// Pids listed in a `cgroup.procs` text (one per line); garbage lines are skipped. Pure.
[[nodiscard]] std::vector<int> parse_cgroup_procs(const std::string& content);

/// The pids in the unit's cgroup `control_group` (systemd's ControlGroup property, e.g.
/// "/system.slice/siax-app-x.service"), looked up under `cgroup_root` in the unified
/// layout (`<root>/<cg>/cgroup.procs`) and the hybrid/legacy one
/// (`<root>/systemd/<cg>/cgroup.procs`, `<root>/unified/<cg>/cgroup.procs`). Empty when
/// the unit has no cgroup or it cannot be read. Paths with ".." are refused.
[[nodiscard]] std::vector<int> read_cgroup_procs(const std::string& control_group,
                                                 const std::string& cgroup_root = "/sys/fs/cgroup");

}  // namespace siax::procscan
