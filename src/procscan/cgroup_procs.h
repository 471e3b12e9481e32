#pragma once
/// The processes of one systemd unit, from its cgroup's `cgroup.procs` file (what the
/// monitor reads when one unit changed, instead of walking all of /proc).
///
/// Threading: free functions, any thread; blocking file reads (not for the io thread).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

/// What a unit's cgroup says it uses (systemd's accounting), where the files exist.
struct CgroupUsage {
  std::optional<std::uint64_t> memory_bytes;  ///< memory.current (v2), memory.usage_in_bytes (v1)
  std::optional<std::uint64_t> cpu_usec;      ///< cpu.stat usage_usec (v2), cpuacct.usage / 1000 (v1)

  friend bool operator==(const CgroupUsage&, const CgroupUsage&) = default;
};

/// usage_usec from a cgroup v2 `cpu.stat` text, nullopt when absent or malformed. Pure.
[[nodiscard]] std::optional<std::uint64_t> parse_cpu_stat_usage_usec(std::string_view cpu_stat);
/// One unsigned number (memory.current, memory.usage_in_bytes, cpuacct.usage), nullopt
/// for anything else ("max", empty, garbage). Pure.
[[nodiscard]] std::optional<std::uint64_t> parse_cgroup_number(std::string_view text);

/// The usage of the cgroup `control_group` under `cgroup_root`: the unified layout
/// (`<root>/<cg>/memory.current`, `cpu.stat`; `<root>/unified/<cg>/cpu.stat` on a hybrid
/// host) and the v1 controllers (`<root>/memory/<cg>/memory.usage_in_bytes`,
/// `<root>/cpuacct/<cg>/cpuacct.usage`). Fields stay empty where the file is absent (no
/// accounting for that controller). Paths with ".." are refused (both empty).
///
/// `where`, when given, remembers the files found: the next call with it reads only those
/// (no probing of absent layouts: one open per figure per call); reset it to probe again.
struct CgroupUsageFiles {
  bool probed = false;
  std::string memory;   ///< "" = none
  std::string cpu;      ///< "" = none
  bool cpu_is_v1 = false;  ///< cpuacct.usage (ns) rather than cpu.stat
};
[[nodiscard]] CgroupUsage read_cgroup_usage(const std::string& control_group,
                                            const std::string& cgroup_root = "/sys/fs/cgroup",
                                            CgroupUsageFiles* where = nullptr);

}  // namespace siax::procscan
