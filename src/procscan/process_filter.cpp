#include "procscan/process_filter.h"

#include <algorithm>

#include <fmt/format.h>

namespace siax::procscan {
namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

/// Case-insensitive (ASCII) search of an already lower-cased needle.
bool contains_lower(std::string_view haystack, std::string_view lowered_needle) {
  if (lowered_needle.empty()) return true;
  auto it = std::search(haystack.begin(), haystack.end(), lowered_needle.begin(), lowered_needle.end(),
                        [](char a, char b) { return ascii_lower(a) == b; });
  return it != haystack.end();
}

}  // namespace

Result<ScanFilter> parse_scan_filter(std::string_view kind, std::string_view user, std::string_view text) {
  ScanFilter filter;
  auto k = lower(kind);
  if (k == "node") filter.kind = core::ProcessKind::Node;
  else if (k == "python") filter.kind = core::ProcessKind::Python;
  else if (k.empty() || k == "all") filter.kind = std::nullopt;
  else {
    return fail(ErrorKind::InvalidInput, "invalid_kind",
                fmt::format("unknown process kind '{}': use one of node, python, all", kind.substr(0, 64)));
  }
  if (!user.empty()) {
    if (user.size() > kMaxFilterUserLength || has_control_char(user)) {
      return fail(ErrorKind::InvalidInput, "invalid_user",
                  fmt::format("the user filter must be a user name or a numeric uid of at most {} printable "
                              "characters",
                              kMaxFilterUserLength));
    }
    filter.user = std::string(user);
  }
  if (!text.empty()) {
    if (text.size() > kMaxFilterTextLength || has_control_char(text)) {
      return fail(ErrorKind::InvalidInput, "invalid_text",
                  fmt::format("the text filter must be at most {} printable characters", kMaxFilterTextLength));
    }
    filter.text = std::string(text);
  }
  return filter;
}

bool matches(const core::ProcessInfo& p, const ScanFilter& filter) {
  if (p.kernel_thread && !filter.include_kernel_threads) return false;
  if (filter.kind && p.kind != *filter.kind) return false;
  if (filter.user && p.user != *filter.user && std::to_string(p.uid) != *filter.user) return false;
  if (filter.text) {
    std::string needle = lower(*filter.text);
    if (contains_lower(p.comm, needle)) return true;
    // The joined command line, as `ps` shows it: "node /srv/app/server.js".
    std::string joined;
    for (const auto& arg : p.cmdline) {
      if (!joined.empty()) joined += ' ';
      joined += arg;
    }
    return contains_lower(joined, needle);
  }
  return true;
}

std::vector<core::ProcessInfo> filter_processes(const std::vector<core::ProcessInfo>& processes,
                                                const ScanFilter& filter) {
  std::vector<core::ProcessInfo> out;
  std::copy_if(processes.begin(), processes.end(), std::back_inserter(out),
               [&](const core::ProcessInfo& p) { return matches(p, filter); });
  return out;
}

}  // namespace siax::procscan
