#include "cloud/retry_policy.h"

#include <algorithm>
#include <memory>
#include <random>

namespace siax::cloud {

Result<RetryPolicy> RetryPolicy::create(Options options, Random random) {
  if (options.base.count() <= 0) {
    return fail(ErrorKind::InvalidInput, "invalid_retry_policy", "the retry base delay must be positive");
  }
  if (options.cap < options.base) {
    return fail(ErrorKind::InvalidInput, "invalid_retry_policy",
                "the retry cap must be at least the base delay");
  }
  if (!random) random = default_random();
  return RetryPolicy(options, std::move(random));
}

RetryPolicy::duration RetryPolicy::ceiling(std::uint32_t n) const noexcept {
  if (n == 0) return duration::zero();
  auto value = options_.base;
  // Doubling stops at the cap, so the shift never overflows.
  for (std::uint32_t i = 1; i < n && value < options_.cap; ++i) value *= 2;
  return std::min(value, options_.cap);
}

RetryPolicy::duration RetryPolicy::next_delay(std::optional<std::chrono::seconds> retry_after) {
  if (failures_ < UINT32_MAX) ++failures_;
  const auto top = ceiling(failures_);
  const auto half = top / 2;
  double r = random_();
  if (!(r >= 0.0)) r = 0.0;   // also catches NaN
  if (r >= 1.0) r = 0.999999;
  auto delay = half + duration(static_cast<duration::rep>(static_cast<double>((top - half).count()) * r));
  if (retry_after && *retry_after > delay) delay = std::chrono::duration_cast<duration>(*retry_after);
  return std::min(delay, options_.cap);
}

RetryPolicy::Random default_random() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine]() { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace siax::cloud
