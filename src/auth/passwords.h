#pragma once
/// Password hashes for panel users: PBKDF2-HMAC-SHA256 (OpenSSL PKCS5_PBKDF2_HMAC),
/// stored as "pbkdf2-sha256$<iterations>$<salt>$<hash>" with salt (16 random bytes) and
/// hash (32 bytes) in standard, padded base64 (RFC 4648 §4). The iteration count is part
/// of the encoding, so raising the default later keeps old hashes verifiable.
///
/// Thread-safe, no state. Hashing with the default count takes ~100 ms of CPU by design:
/// run it on a worker, never on the io thread.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace siax::auth {

inline constexpr std::uint32_t kDefaultPbkdf2Iterations = 200'000;
/// Bounds accepted by hash_password and verify_password; the upper bound stops a
/// corrupted or hostile stored hash from burning minutes of CPU.
inline constexpr std::uint32_t kMinPbkdf2Iterations = 1'000;
inline constexpr std::uint32_t kMaxPbkdf2Iterations = 10'000'000;
inline constexpr std::size_t kPasswordSaltBytes = 16;
inline constexpr std::size_t kGeneratedPasswordLength = 20;

/// Hashes with a fresh random salt. `iterations` is injectable so that tests run fast;
/// production code uses the default. Fails with InvalidInput ("invalid_iterations") for
/// a count outside [kMinPbkdf2Iterations, kMaxPbkdf2Iterations], Internal if OpenSSL fails.
[[nodiscard]] Result<std::string> hash_password(std::string_view password,
                                                std::uint32_t iterations = kDefaultPbkdf2Iterations);

/// True when `password` matches `encoded`. The final comparison is constant-time
/// (constant_time_equals). Any malformed encoding (wrong scheme, bad number, bad base64, wrong
/// lengths, iteration count out of bounds) is simply false, never a crash.
[[nodiscard]] bool verify_password(std::string_view password, std::string_view encoded) noexcept;

/// A random password of kGeneratedPasswordLength characters from an alphabet without
/// look-alikes (no 0/O, 1/l/I): 56 symbols, ~116 bits. Fails only when the CSPRNG fails.
[[nodiscard]] Result<std::string> generate_password();

}  // namespace siax::auth
