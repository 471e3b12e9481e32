#pragma once
/// Small building blocks shared by tokens, passwords, sessions and the webhook: randomness
/// from the kernel (getrandom), SHA-256, HMAC-SHA256 and PBKDF2-HMAC-SHA256 (Nettle, linked
/// statically; OpenSSL is left to TLS, where initialising it costs ~2 MB of resident memory,
/// and libgcrypt's initialisation ~0.8 MB: docs/PERFORMANCE.md), constant-time comparison,
/// base64 codecs. Thread-safe, no state.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace siax::auth {

/// `n` bytes from the kernel's CSPRNG (getrandom(2), blocking until it is seeded at boot).
/// Fails (kind Internal, code "random_unavailable") only if the kernel refuses; callers
/// must then refuse to issue secrets.
[[nodiscard]] Result<std::vector<unsigned char>> random_bytes(std::size_t n);

/// True when `a` and `b` are equal; the time taken does not depend on where they differ.
/// The lengths are not secret: different lengths return false at once.
[[nodiscard]] bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

using Sha256Digest = std::array<unsigned char, 32>;

/// SHA-256 (FIPS 180-4) of `data`.
[[nodiscard]] Sha256Digest sha256(std::string_view data) noexcept;

/// HMAC-SHA256 (RFC 2104) of `data` with `key` (any length, may be empty).
[[nodiscard]] Sha256Digest hmac_sha256(std::string_view key, std::string_view data) noexcept;

/// PBKDF2-HMAC-SHA256 (RFC 8018) of `password` (may be empty) with `salt` (not empty),
/// `out_size` bytes into `out`. False for an empty salt, no iterations or no output (refused
/// here: Nettle would abort on them).
[[nodiscard]] bool pbkdf2_sha256(std::string_view password, const unsigned char* salt, std::size_t salt_size,
                                 std::uint32_t iterations, unsigned char* out, std::size_t out_size) noexcept;

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
