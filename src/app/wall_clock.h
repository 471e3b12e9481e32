#pragma once
/// Wall-clock time in microseconds since the epoch, for the records the composition root
/// and the CLI write (audit entries, users, tokens). Any thread.
#include <chrono>
#include <cstdint>

namespace siax::app {

[[nodiscard]] inline std::int64_t now_usec() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace siax::app
