#pragma once
/// The TCP sockets in LISTEN on this host (network namespace): socket inode -> local port,
/// what the scanner matches against a process's fd links to find the ports it holds.
///
/// Reading /proc/net/tcp makes the kernel walk its whole established-connections hash table
/// (sized by memory, mostly empty buckets) whatever is in it: it was 12 % of the idle
/// agent's CPU. A sock_diag netlink request for LISTEN sockets only walks the listening
/// hash. The proc files stay as the fallback (and for a proc root that is not "/proc":
/// tests build their own tree).
///
/// Threading: pure functions over a proc root or one netlink request; any thread.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace siax::procscan {

using ListenMap = std::unordered_map<std::uint64_t, std::uint16_t>;  ///< inode -> port

/// From the kernel by sock_diag (AF_INET and AF_INET6); nullopt when netlink is not
/// available (then use the proc files).
[[nodiscard]] std::optional<ListenMap> listen_sockets_netlink();
/// From <proc_root>/net/tcp and net/tcp6 (through the directory fd `root_fd`); a missing
/// file (no IPv6) is not an error: that family just has no listeners.
[[nodiscard]] ListenMap listen_sockets_proc(int root_fd);
/// netlink when `proc_root` is "/proc" and it answers, else the proc files.
[[nodiscard]] ListenMap listen_sockets(const std::string& proc_root, int root_fd);

}  // namespace siax::procscan
