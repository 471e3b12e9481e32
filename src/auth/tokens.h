#pragma once
/// API tokens: "siax_" followed by 43 base64url characters (32 random bytes, 256 bits).
/// Only the SHA-256 of a token is stored; a token is shown once, when it is created.
/// A fast hash is right here (unlike passwords): tokens are random and long, so there
/// is nothing to brute-force, and lookups by hash happen on every request.
///
/// Thread-safe, no state.
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace siax::auth {

inline constexpr std::string_view kTokenPrefix = "siax_";
/// Length of a token: the prefix and 43 base64url characters.
inline constexpr std::size_t kTokenLength = 5 + 43;

/// A new random token. Fails only when the CSPRNG fails (see random_bytes).
[[nodiscard]] Result<std::string> generate_token();

/// Lowercase hex SHA-256 of the token (64 characters; Nettle). Never fails today: the
/// Result is what its callers (bootstrap, middleware, the CLI) already handle.
[[nodiscard]] Result<std::string> hash_token(std::string_view token);

/// Syntax check before any lookup: the prefix, exactly 43 base64url characters, and a
/// last character that a 32-byte value can produce.
[[nodiscard]] bool looks_like_token(std::string_view text) noexcept;

/// The credentials of an "Authorization: Bearer <token>" header value: the scheme is
/// matched ASCII case-insensitively, spaces and tabs around the token are trimmed.
/// nullopt for another scheme, a missing or empty token, or a token with inner
/// whitespace. The token itself is not validated (see looks_like_token).
[[nodiscard]] std::optional<std::string> bearer_from_header(std::string_view authorization);

}  // namespace siax::auth
