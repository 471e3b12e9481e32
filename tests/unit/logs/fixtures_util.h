#pragma once
// Helpers of the logs tests: fixture files and fake journal lines.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "logs/log_entry.h"

namespace siax::logs::test {

inline std::vector<std::string> fixture_lines(const std::string& name) {
  std::ifstream in(std::string(SIAX_LOGS_FIXTURES_DIR) + "/" + name);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

inline std::string cursor_for(std::uint64_t seq) {
  return fmt::format("s=0123abcd;i={:x};b=beef;m={:x};t={:x};x=1", seq, seq, 1'700'000'000'000'000ULL + seq);
}

inline RawLine raw(std::uint64_t seq, std::string message, int priority = kDefaultPriority, std::int64_t pid = 42) {
  RawLine l;
  l.time_usec = static_cast<std::int64_t>(1'700'000'000'000'000ULL + seq);
  l.priority = priority;
  l.message = std::move(message);
  l.pid = pid;
  l.cursor = cursor_for(seq);
  return l;
}

inline std::vector<RawLine> raw_lines(const std::vector<std::string>& messages, std::uint64_t first_seq = 1) {
  std::vector<RawLine> out;
  for (const auto& m : messages) out.push_back(raw(first_seq++, m));
  return out;
}

}  // namespace siax::logs::test
