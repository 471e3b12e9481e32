#include "auth/passwords.h"

#include <charconv>
#include <climits>
#include <vector>

#include <fmt/format.h>

#include "auth/crypto_util.h"

namespace siax::auth {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kMinSaltBytes = 8;
constexpr std::size_t kMaxSaltBytes = 64;
constexpr std::string_view kReadableAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

bool pbkdf2(std::string_view password, const unsigned char* salt, std::size_t salt_size, std::uint32_t iterations,
            unsigned char* out) {
  // The INT_MAX bounds of the OpenSSL version are kept: a hash that verified before
  // verifies now, one that could not be computed still cannot.
  if (password.size() > static_cast<std::size_t>(INT_MAX) || iterations > static_cast<std::uint32_t>(INT_MAX)) {
    return false;
  }
  return pbkdf2_sha256(password, salt, salt_size, iterations, out, kHashBytes);
}

// Splits at the next '$'; false when there is none.
bool take_field(std::string_view& rest, std::string_view& field) {
  const auto pos = rest.find('$');
  if (pos == std::string_view::npos) return false;
  field = rest.substr(0, pos);
  rest.remove_prefix(pos + 1);
  return true;
}

}  // namespace

Result<std::string> hash_password(std::string_view password, std::uint32_t iterations) {
  if (iterations < kMinPbkdf2Iterations || iterations > kMaxPbkdf2Iterations) {
    return fail(ErrorKind::InvalidInput, "invalid_iterations",
                fmt::format("PBKDF2 iteration count {} is out of range: use {} to {}", iterations, kMinPbkdf2Iterations,
                            kMaxPbkdf2Iterations));
  }
  auto salt = random_bytes(kPasswordSaltBytes);
  if (!salt) return tl::unexpected(salt.error());
  unsigned char hash[kHashBytes];
  if (!pbkdf2(password, salt->data(), salt->size(), iterations, hash)) {
    return fail(ErrorKind::Internal, "hash_unavailable", "could not compute PBKDF2-HMAC-SHA256");
  }
  return fmt::format("{}${}${}${}", kScheme, iterations, base64_encode(salt->data(), salt->size()),
                     base64_encode(hash, kHashBytes));
}

bool verify_password(std::string_view password, std::string_view encoded) noexcept {
  try {
    std::string_view rest = encoded;
    std::string_view scheme, iter_text, salt_text;
    if (!take_field(rest, scheme) || scheme != kScheme) return false;
    if (!take_field(rest, iter_text) || !take_field(rest, salt_text)) return false;
    const std::string_view hash_text = rest;  // no further '$' allowed: base64 has none

    std::uint32_t iterations = 0;
    // Digits only: from_chars would accept nothing else anyway, but "+5" or " 5" must fail.
    if (iter_text.empty() || iter_text.size() > 10 || iter_text.front() == '0') return false;
    const auto [end, ec] = std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), iterations);
    if (ec != std::errc{} || end != iter_text.data() + iter_text.size()) return false;
    if (iterations < kMinPbkdf2Iterations || iterations > kMaxPbkdf2Iterations) return false;

    const auto salt = base64_decode(salt_text);
    const auto expected = base64_decode(hash_text);
    if (!salt || salt->size() < kMinSaltBytes || salt->size() > kMaxSaltBytes) return false;
    if (!expected || expected->size() != kHashBytes) return false;

    unsigned char actual[kHashBytes];
    if (!pbkdf2(password, salt->data(), salt->size(), iterations, actual)) return false;
    return constant_time_equals(std::string_view(reinterpret_cast<const char*>(actual), kHashBytes),
                                std::string_view(reinterpret_cast<const char*>(expected->data()), kHashBytes));
  } catch (...) {
    // Only std::bad_alloc can get here; fail closed.
    return false;
  }
}

Result<std::string> generate_password() {
  // Rejection sampling keeps every symbol equally likely: bytes >= 224 (4 × 56) are
  // dropped instead of folded in with a biased modulo.
  constexpr unsigned kLimit = 256 - (256 % kReadableAlphabet.size());
  std::string out;
  out.reserve(kGeneratedPasswordLength);
  while (out.size() < kGeneratedPasswordLength) {
    auto bytes = random_bytes(32);
    if (!bytes) return tl::unexpected(bytes.error());
    for (unsigned char b : *bytes) {
      if (b >= kLimit) continue;
      out += kReadableAlphabet[b % kReadableAlphabet.size()];
      if (out.size() == kGeneratedPasswordLength) break;
    }
  }
  return out;
}

}  // namespace siax::auth
