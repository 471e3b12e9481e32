#include "auth/tokens.h"

#include "auth/crypto_util.h"
#include "common/strings.h"

namespace siax::auth {

namespace {

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int base64url_index(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '-' ? 62 : 63;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Result<std::string> generate_token() {
  auto bytes = random_bytes(32);
  if (!bytes) return tl::unexpected(bytes.error());
  return std::string(kTokenPrefix) + base64url_encode(bytes->data(), bytes->size());
}

Result<std::string> hash_token(std::string_view token) {
  const auto md = sha256(token);
  return hex_encode(md.data(), md.size());
}

bool looks_like_token(std::string_view text) noexcept {
  if (text.size() != kTokenLength || text.substr(0, kTokenPrefix.size()) != kTokenPrefix) return false;
  const auto body = text.substr(kTokenPrefix.size());
  for (char c : body) {
    if (!is_base64url(c)) return false;
  }
  // 43 characters carry 258 bits; the last 2 bits of a 256-bit value's encoding are 0.
  return (base64url_index(body.back()) & 0x3) == 0;
}

std::optional<std::string> bearer_from_header(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  auto value = trim(authorization);
  if (value.size() <= kScheme.size() || !is_space(value[kScheme.size()])) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (ascii_lower(value[i]) != kScheme[i]) return std::nullopt;
  }
  auto token = trim(value.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (is_space(c) || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  }
  return std::string(token);
}

}  // namespace siax::auth
