#pragma once
/// Ordering of journal cursors without a journal handle, to drop entries a viewer already
/// has (history and live stream overlap when a viewer joins). Pure; thread-safe.
///
/// A cursor reads "s=<seqnum id>;i=<seqnum hex>;b=<boot id>;m=<monotonic hex>;t=<realtime
/// hex>;x=<xor hex>". Two cursors of the same seqnum id compare by seqnum; otherwise by
/// realtime.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace siax::logs {

struct CursorKey {
  std::string seqnum_id;
  std::uint64_t seqnum = 0;
  std::uint64_t realtime = 0;
};

/// nullopt when `cursor` is not a journal cursor.
[[nodiscard]] std::optional<CursorKey> parse_cursor(std::string_view cursor) noexcept;

/// Whether the record `a` comes after `b` in the journal.
[[nodiscard]] bool after(const CursorKey& a, const CursorKey& b) noexcept;

}  // namespace siax::logs
