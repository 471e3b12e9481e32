#pragma once
/// Small building blocks shared by tokens, passwords and sessions: randomness from the
/// OpenSSL CSPRNG, constant-time comparison, base64 codecs. Thread-safe, no state.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace siax::auth {

/// `n` bytes from RAND_bytes. Fails (kind Internal, code "random_unavailable") only if
/// the CSPRNG cannot be seeded; callers must then refuse to issue secrets.
[[nodiscard]] Result<std::vector<unsigned char>> random_bytes(std::size_t n);

/// True when `a` and `b` are equal; the time taken does not depend on where they differ
/// (CRYPTO_memcmp). The lengths are not secret: different lengths return false at once.
[[nodiscard]] bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

/// RFC 4648 §5 (URL- and cookie-safe alphabet "A-Za-z0-9-_"), without padding.
[[nodiscard]] std::string base64url_encode(const unsigned char* data, std::size_t size);
/// RFC 4648 §4 (alphabet "A-Za-z0-9+/"), with "=" padding.
[[nodiscard]] std::string base64_encode(const unsigned char* data, std::size_t size);
/// Strict RFC 4648 §4 decoding: padding required, no whitespace, canonical trailing
/// bits. nullopt for anything else.
[[nodiscard]] std::optional<std::vector<unsigned char>> base64_decode(std::string_view text);

/// Lowercase hex.
[[nodiscard]] std::string hex_encode(const unsigned char* data, std::size_t size);

}  // namespace siax::auth
