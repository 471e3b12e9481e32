#pragma once
/// A Clock that only moves when the test says so. Thread-safe (atomic), so tests with
/// threads can read it while the main thread advances it.
#include <atomic>
#include <chrono>

#include "common/clock.h"

namespace siax::test {

class ManualClock final : public Clock {
 public:
  /// Starts at an arbitrary, non-zero point so that "time zero" is never special.
  explicit ManualClock(time_point start = time_point(std::chrono::hours(1000)))
      : now_(start.time_since_epoch().count()) {}

  [[nodiscard]] time_point now() const override { return time_point(duration(now_.load())); }

  void advance(duration d) { now_ += d.count(); }
  void set(time_point t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<duration::rep> now_;
};

}  // namespace siax::test
