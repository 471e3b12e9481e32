#include "procscan/process_json.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace siax::procscan {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is invalid
/// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t valid_sequence_length(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    std::size_t n = valid_sequence_length(text);
    if (n == 0) {
      out += kReplacement;
      n = 1;
    } else {
      out.append(text.substr(0, n));
    }
    text.remove_prefix(n);
  }
  return out;
}

std::string format_utc_iso8601(std::int64_t usec_since_epoch) {
  auto seconds = static_cast<std::time_t>(usec_since_epoch / 1'000'000);
  if (usec_since_epoch < 0 && usec_since_epoch % 1'000'000 != 0) --seconds;  // floor
  std::tm tm{};
  if (::gmtime_r(&seconds, &tm) == nullptr) return {};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

nlohmann::json to_json(const core::ProcessInfo& p) {
  nlohmann::json cmdline = nlohmann::json::array();
  std::string command;
  for (const auto& arg : p.cmdline) {
    cmdline.push_back(sanitize_utf8(arg));
    if (!command.empty()) command += ' ';
    command += arg;
  }
  nlohmann::json j;
  j["pid"] = p.pid;
  j["ppid"] = p.ppid;
  j["user"] = sanitize_utf8(p.user);
  j["uid"] = p.uid;
  j["name"] = sanitize_utf8(p.comm);
  j["cmdline"] = std::move(cmdline);
  j["command"] = sanitize_utf8(command);
  j["exe"] = sanitize_utf8(p.exe);
  j["cwd"] = sanitize_utf8(p.cwd);
  j["state"] = std::string(1, p.state);
  j["started_at"] = p.start_time_usec > 0 ? nlohmann::json(format_utc_iso8601(p.start_time_usec)) : nlohmann::json();
  j["cpu_percent"] = std::round(p.cpu_percent * 10.0) / 10.0;
  j["memory_bytes"] = p.rss_bytes;
  j["unit"] = sanitize_utf8(p.unit);
  j["ports"] = p.listen_ports;
  j["kind"] = core::to_string(p.kind);
  return j;
}

nlohmann::json to_json(const std::vector<core::ProcessInfo>& processes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : processes) out.push_back(to_json(p));
  return out;
}

}  // namespace siax::procscan
