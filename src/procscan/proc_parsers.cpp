#include "procscan/proc_parsers.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>

#include "common/strings.h"

namespace siax::procscan {
namespace {

template <class T>
std::optional<T> to_number(std::string_view text, int base = 10) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

/// Whitespace around a /proc value, line ends included.
std::string_view trim(std::string_view s) { return siax::trim(s, " \t\n\r"); }

/// Splits on runs of spaces/tabs, at most `max` tokens (the rest is ignored).
template <std::size_t N>
std::size_t split_words(std::string_view s, std::array<std::string_view, N>& out) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size() && n < N) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    out[n++] = s.substr(start, i - start);
  }
  return n;
}

auto bad_stat(std::string_view what, std::string_view line) {
  return fail(ErrorKind::InvalidInput, "invalid_proc_stat",
              fmt::format("cannot parse /proc/<pid>/stat ({}): '{}'", what, line.substr(0, 200)));
}

std::string_view basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

bool is_node_name(std::string_view name) {
  static constexpr std::array<std::string_view, 8> names = {"node", "nodejs", "npm",     "npx",
                                                            "ts-node", "tsx", "nodemon", "pm2"};
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_python_name(std::string_view name) {
  if (name == "uvicorn" || name == "gunicorn" || name == "hypercorn") return true;
  if (!name.starts_with("python")) return false;
  auto version = name.substr(6);  // "", "3", "3.11"
  if (version.empty()) return true;
  auto dot = version.find('.');
  if (dot == std::string_view::npos) return all_digits(version);
  return all_digits(version.substr(0, dot)) && all_digits(version.substr(dot + 1));
}

std::optional<core::ProcessKind> kind_of_name(std::string_view name) {
  if (is_node_name(name)) return core::ProcessKind::Node;
  if (is_python_name(name)) return core::ProcessKind::Python;
  return std::nullopt;
}

}  // namespace

Result<StatFields> parse_stat_line(std::string_view line) {
  line = trim(line);
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return bad_stat("no '(comm)'", line);
  }
  StatFields f;
  auto pid = to_number<int>(trim(line.substr(0, open)));
  if (!pid) return bad_stat("pid", line);
  f.pid = *pid;
  f.comm = std::string(line.substr(open + 1, close - open - 1));

  // Fields 3.. after the name; we need up to field 24 (index 21).
  std::array<std::string_view, 22> w{};
  if (split_words(line.substr(close + 1), w) < w.size()) return bad_stat("too few fields", line);
  if (w[0].size() != 1) return bad_stat("state", line);
  f.state = w[0][0];
  auto ppid = to_number<int>(w[1]);
  auto flags = to_number<std::uint64_t>(w[6]);
  auto utime = to_number<std::uint64_t>(w[11]);
  auto stime = to_number<std::uint64_t>(w[12]);
  auto starttime = to_number<std::uint64_t>(w[19]);
  auto rss = to_number<std::int64_t>(w[21]);
  if (!ppid || !flags || !utime || !stime || !starttime || !rss) return bad_stat("a number", line);
  f.ppid = *ppid;
  f.flags = *flags;
  f.utime = *utime;
  f.stime = *stime;
  f.starttime = *starttime;
  f.rss_pages = *rss > 0 ? static_cast<std::uint64_t>(*rss) : 0;
  return f;
}

StatusFields parse_status(std::string_view content) {
  StatusFields out;
  while (!content.empty()) {
    auto nl = content.find('\n');
    auto line = content.substr(0, nl);
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
    if (line.starts_with("Uid:")) {
      std::array<std::string_view, 2> w{};
      if (split_words(line.substr(4), w) == 2) out.uid = to_number<std::uint32_t>(w[1]);
    } else if (line.starts_with("VmRSS:")) {
      std::array<std::string_view, 2> w{};
      if (split_words(line.substr(6), w) >= 1) out.rss_kb = to_number<std::uint64_t>(w[0]);
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_statm_resident(std::string_view content) {
  std::array<std::string_view, 2> w{};
  if (split_words(trim(content), w) < 2) return std::nullopt;
  return to_number<std::uint64_t>(w[1]);
}

std::string unit_of_cgroup_path(std::string_view path) {
  while (!path.empty()) {
    auto slash = path.rfind('/');
    auto component = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (component.size() > 8 && component.ends_with(".service")) return std::string(component);
    if (component.size() > 6 && component.ends_with(".scope")) return std::string(component);
    if (slash == std::string_view::npos) break;
    path = path.substr(0, slash);
  }
  return {};
}

CgroupInfo parse_cgroup_unit(std::string_view content) {
  std::optional<std::string_view> unified;
  std::optional<std::string_view> named;
  while (!content.empty()) {
    auto nl = content.find('\n');
    auto line = trim(content.substr(0, nl));
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
    // "hierarchy-ID:controller-list:cgroup-path"; the path may itself contain ':'.
    auto c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    auto id = line.substr(0, c1);
    auto controllers = line.substr(c1 + 1, c2 - c1 - 1);
    auto path = line.substr(c2 + 1);
    if (id == "0" && controllers.empty()) {
      unified = path;
    } else {
      // controllers is a comma-separated list, e.g. "name=systemd" or "cpu,cpuacct".
      std::string_view rest = controllers;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        if (rest.substr(0, comma) == "name=systemd") named = path;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    }
  }
  CgroupInfo info;
  if (named) info.cgroup = std::string(*named);
  else if (unified) info.cgroup = std::string(*unified);
  info.unit = unit_of_cgroup_path(info.cgroup);
  return info;
}

std::optional<std::pair<std::uint64_t, std::uint16_t>> parse_proc_net_tcp_line(std::string_view line) {
  // "   1: 0100007F:BCC3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 476360 1 ..."
  std::array<std::string_view, 10> w{};
  if (split_words(line, w) < w.size()) return std::nullopt;
  if (w[3] != "0A") return std::nullopt;  // TCP_LISTEN
  auto colon = w[1].rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto port = to_number<std::uint16_t>(w[1].substr(colon + 1), 16);
  auto inode = to_number<std::uint64_t>(w[9]);
  if (!port || !inode || *inode == 0) return std::nullopt;
  return std::pair{*inode, *port};
}

std::unordered_map<std::uint64_t, std::uint16_t> parse_proc_net_tcp(std::string_view content) {
  std::unordered_map<std::uint64_t, std::uint16_t> out;
  while (!content.empty()) {
    auto nl = content.find('\n');
    if (auto entry = parse_proc_net_tcp_line(content.substr(0, nl))) out.insert(*entry);
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
  }
  return out;
}

std::optional<std::uint64_t> parse_socket_link(std::string_view target) {
  constexpr std::string_view prefix = "socket:[";
  if (!target.starts_with(prefix) || !target.ends_with(']')) return std::nullopt;
  return to_number<std::uint64_t>(target.substr(prefix.size(), target.size() - prefix.size() - 1));
}

std::optional<std::int64_t> parse_btime(std::string_view proc_stat) {
  while (!proc_stat.empty()) {
    auto nl = proc_stat.find('\n');
    auto line = proc_stat.substr(0, nl);
    proc_stat = nl == std::string_view::npos ? std::string_view() : proc_stat.substr(nl + 1);
    if (line.starts_with("btime ")) return to_number<std::int64_t>(trim(line.substr(6)));
  }
  return std::nullopt;
}

std::vector<std::string> split_cmdline(std::string_view content) {
  std::vector<std::string> args;
  if (!content.empty() && content.back() == '\0') content.remove_suffix(1);
  if (content.empty()) return args;
  while (true) {
    auto nul = content.find('\0');
    args.emplace_back(content.substr(0, nul));
    if (nul == std::string_view::npos) break;
    content = content.substr(nul + 1);
  }
  return args;
}

core::ProcessKind classify(std::string_view exe, const std::vector<std::string>& cmdline) {
  constexpr std::string_view deleted = " (deleted)";  // the binary was replaced (package upgrade)
  if (exe.ends_with(deleted)) exe.remove_suffix(deleted.size());
  if (!exe.empty()) {
    if (auto kind = kind_of_name(lower(basename(exe)))) return *kind;
  }
  if (cmdline.empty()) return core::ProcessKind::Other;
  // argv[0], or the first word of a process title such as "npm start" or
  // "gunicorn: master [app:app]".
  std::string_view arg0 = cmdline.front();
  if (auto kind = kind_of_name(lower(basename(arg0)))) return *kind;
  auto space = arg0.find(' ');
  std::string_view word = arg0.substr(0, space);
  if (word.ends_with(':')) word.remove_suffix(1);
  if (auto kind = kind_of_name(lower(basename(word)))) return *kind;
  return core::ProcessKind::Other;
}

double cpu_percent(std::uint64_t prev_ticks, std::uint64_t ticks, std::chrono::nanoseconds elapsed,
                   long clk_tck) noexcept {
  if (elapsed.count() <= 0 || clk_tck <= 0 || ticks < prev_ticks) return 0.0;
  double cpu_seconds = static_cast<double>(ticks - prev_ticks) / static_cast<double>(clk_tck);
  double wall_seconds = std::chrono::duration<double>(elapsed).count();
  return cpu_seconds / wall_seconds * 100.0;
}

}  // namespace siax::procscan
