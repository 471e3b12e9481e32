#include "procscan/cgroup_procs.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace siax::procscan {

std::vector<int> parse_cgroup_procs(const std::string& content) {
  std::vector<int> out;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line) && out.size() < 100'000) {
    if (line.empty() || line.size() > 10 || !std::all_of(line.begin(), line.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const long v = std::stol(line);
    if (v > 0 && v <= 0x3fffffff) out.push_back(static_cast<int>(v));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int> read_cgroup_procs(const std::string& control_group, const std::string& cgroup_root) {
  if (control_group.empty() || control_group.front() != '/' || control_group.find("..") != std::string::npos) return {};
  for (const char* layout : {"", "/unified", "/systemd"}) {
    std::ifstream f(cgroup_root + layout + control_group + "/cgroup.procs");
    if (!f) continue;
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_cgroup_procs(ss.str());
  }
  return {};
}

std::optional<std::uint64_t> parse_cgroup_number(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<std::uint64_t> parse_cpu_stat_usage_usec(std::string_view cpu_stat) {
  while (!cpu_stat.empty()) {
    const auto nl = cpu_stat.find('\n');
    const std::string_view line = cpu_stat.substr(0, nl);
    constexpr std::string_view kKey = "usage_usec ";
    if (line.substr(0, kKey.size()) == kKey) return parse_cgroup_number(line.substr(kKey.size()));
    if (nl == std::string_view::npos) break;
    cpu_stat.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::string out(4096, '\0');
  f.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(f.gcount()));
  return out;
}

}  // namespace

CgroupUsage read_cgroup_usage(const std::string& control_group, const std::string& cgroup_root,
                              CgroupUsageFiles* where) {
  CgroupUsage u;
  if (control_group.empty() || control_group.front() != '/' || control_group.find("..") != std::string::npos) return u;
  CgroupUsageFiles local;
  CgroupUsageFiles& files = where != nullptr ? *where : local;
  if (files.probed) {
    if (!files.memory.empty()) {
      if (auto t = slurp(files.memory)) u.memory_bytes = parse_cgroup_number(*t);
    }
    if (!files.cpu.empty()) {
      if (auto t = slurp(files.cpu)) {
        if (files.cpu_is_v1) {
          if (auto ns = parse_cgroup_number(*t)) u.cpu_usec = *ns / 1000;
        } else {
          u.cpu_usec = parse_cpu_stat_usage_usec(*t);
        }
      }
    }
    return u;
  }
  files = CgroupUsageFiles{};
  files.probed = true;
  for (const auto& path : {cgroup_root + control_group + "/memory.current",
                           cgroup_root + "/memory" + control_group + "/memory.usage_in_bytes"}) {
    if (auto t = slurp(path)) {
      u.memory_bytes = parse_cgroup_number(*t);
      files.memory = path;
      break;
    }
  }
  for (const auto& path : {cgroup_root + control_group + "/cpu.stat", cgroup_root + "/unified" + control_group + "/cpu.stat"}) {
    if (auto t = slurp(path)) {
      u.cpu_usec = parse_cpu_stat_usage_usec(*t);
      files.cpu = path;
      break;
    }
  }
  if (files.cpu.empty()) {
    const std::string path = cgroup_root + "/cpuacct" + control_group + "/cpuacct.usage";
    if (auto t = slurp(path)) {
      if (auto ns = parse_cgroup_number(*t)) u.cpu_usec = *ns / 1000;
      files.cpu = path;
      files.cpu_is_v1 = true;
    }
  }
  return u;
}

}  // namespace siax::procscan
