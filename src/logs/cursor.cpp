#include "logs/cursor.h"

#include <charconv>

namespace siax::logs {

std::optional<CursorKey> parse_cursor(std::string_view cursor) noexcept {
  CursorKey key;
  bool have_s = false, have_i = false, have_t = false;
  while (!cursor.empty()) {
    auto semi = cursor.find(';');
    auto field = cursor.substr(0, semi);
    cursor = semi == std::string_view::npos ? std::string_view{} : cursor.substr(semi + 1);
    if (field.size() < 2 || field[1] != '=') continue;
    auto value = field.substr(2);
    auto hex = [&](std::uint64_t& out) {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out, 16);
      return ec == std::errc{} && p == value.data() + value.size() && !value.empty();
    };
    switch (field[0]) {
      case 's':
        key.seqnum_id = std::string(value);
        have_s = !value.empty();
        break;
      case 'i': have_i = hex(key.seqnum); break;
      case 't': have_t = hex(key.realtime); break;
      default: break;
    }
  }
  if (!have_s || !have_i || !have_t) return std::nullopt;
  return key;
}

bool after(const CursorKey& a, const CursorKey& b) noexcept {
  if (a.seqnum_id == b.seqnum_id) return a.seqnum > b.seqnum;
  return a.realtime > b.realtime;
}

}  // namespace siax::logs
