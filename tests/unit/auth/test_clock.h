#pragma once
/// A hand-driven time source for auth (which takes a NowFn instead of a Clock object).
#include <atomic>
#include <chrono>

#include "auth/clock.h"

namespace siax::auth {

class TestClock {
 public:
  [[nodiscard]] NowFn fn() {
    return [this] { return TimePoint(TimePoint::duration(now_.load())); };
  }
  [[nodiscard]] TimePoint now() const { return TimePoint(TimePoint::duration(now_.load())); }
  void advance(std::chrono::steady_clock::duration d) { now_ += d.count(); }

 private:
  // Far from the epoch so that "time zero" is never special.
  std::atomic<TimePoint::rep> now_{std::chrono::duration_cast<TimePoint::duration>(std::chrono::hours(1000)).count()};
};

}  // namespace siax::auth
