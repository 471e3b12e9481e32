#pragma once
/// Filtering a scan for `/scan`-style queries (kind, user, free text). Pure functions,
/// callable from any thread.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/process_info.h"

namespace siax::procscan {

/// Longest user and text filters accepted by parse_scan_filter.
inline constexpr std::size_t kMaxFilterUserLength = 64;
inline constexpr std::size_t kMaxFilterTextLength = 256;

struct ScanFilter {
  std::optional<core::ProcessKind> kind;  ///< nullopt = all kinds
  std::optional<std::string> user;        ///< user name, or a uid in decimal
  std::optional<std::string> text;        ///< case-insensitive substring of the command line or comm
  bool include_kernel_threads = false;

  friend bool operator==(const ScanFilter&, const ScanFilter&) = default;
};

/// Builds a filter from query parameters; an empty string means "no filter" for that field.
/// kind: "node", "python" or "all" (case-insensitive). Errors (InvalidInput): "invalid_kind"
/// (lists the allowed values), "invalid_user" / "invalid_text" (too long, control characters).
[[nodiscard]] Result<ScanFilter> parse_scan_filter(std::string_view kind, std::string_view user,
                                                   std::string_view text);

/// True when `process` passes `filter`.
[[nodiscard]] bool matches(const core::ProcessInfo& process, const ScanFilter& filter);

/// The processes that pass `filter`, in their input order.
[[nodiscard]] std::vector<core::ProcessInfo> filter_processes(const std::vector<core::ProcessInfo>& processes,
                                                              const ScanFilter& filter);

}  // namespace siax::procscan
