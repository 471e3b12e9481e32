#include "logs/encode.h"

#include <ctime>

#include <fmt/format.h>

namespace siax::logs {
namespace {

/// Length of a valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    // copy a run of plain ASCII at once
    std::size_t j = i;
    while (j < s.size()) {
      const auto c = static_cast<unsigned char>(s[j]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++j;
    }
    out.append(s.data() + i, j - i);
    i = j;
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (auto n = utf8_len(s, i); n > 0) {
        out.append(s.data() + i, n);
        i += n;
      } else {
        out += "\xEF\xBF\xBD";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

std::string encode_entry(const LogEntry& e) {
  std::string out;
  out.reserve(e.message.size() + e.cursor.size() + 120);
  out += "{\"time_usec\":";
  out += std::to_string(e.time_usec);
  out += ",\"priority\":";
  out += std::to_string(e.priority);
  out += ",\"level\":\"";
  out += level_name(e.priority);
  out += "\",\"message\":";
  append_json_string(out, e.message);
  out += ",\"pid\":";
  out += std::to_string(e.pid);
  out += ",\"cursor\":";
  append_json_string(out, e.cursor);
  out += e.folded ? ",\"folded\":true" : ",\"folded\":false";
  out += ",\"lines\":";
  out += std::to_string(e.lines);
  out += '}';
  return out;
}

SharedEntry make_shared_entry(LogEntry e) {
  auto p = std::make_shared<EncodedEntry>();
  p->json = encode_entry(e);
  p->entry = std::move(e);
  return p;
}

std::string gap_frame(std::uint64_t missed) { return fmt::format(R"({{"type":"gap","missed":{}}})", missed); }

std::string text_line(const LogEntry& e) {
  const std::time_t secs = static_cast<std::time_t>(e.time_usec / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {} [{}] ", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, e.time_usec % 1'000'000,
                                level_name(e.priority), e.pid);
  for (char c : e.message) {
    out += c;
    if (c == '\n') out += "  ";
  }
  out += '\n';
  return out;
}

}  // namespace siax::logs
