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

}  // namespace siax::procscan
