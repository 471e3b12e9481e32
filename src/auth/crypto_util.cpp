#include "auth/crypto_util.h"

#include <cerrno>

#include <nettle/hmac.h>
#include <nettle/pbkdf2.h>
#include <nettle/sha2.h>
#include <sys/random.h>

namespace siax::auth {

namespace {

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kB64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(const unsigned char* data, std::size_t size, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8) | unsigned{data[i + 2]};
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = size - i;
  if (rest == 1) {
    const unsigned v = unsigned{data[i]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const unsigned v = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<std::vector<unsigned char>> random_bytes(std::size_t n) {
  std::vector<unsigned char> out(n);
  std::size_t got = 0;
  while (got < n) {
    const auto r = ::getrandom(out.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      return fail(ErrorKind::Internal, "random_unavailable",
                  "the system's random number generator failed (getrandom); no secret was issued");
    }
    got += static_cast<std::size_t>(r);
  }
  return out;
}

bool constant_time_equals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  // Every byte is read whatever the differences; volatile keeps the compiler from
  // turning the loop into an early-exit comparison.
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

// Nettle (Debian's static libnettle.a): no global state to initialise, and only the
// SHA-256 code is linked in. libgcrypt did the same work, but its initialisation and first
// hash made ~0.8 MB of it resident (docs/PERFORMANCE.md).

Sha256Digest sha256(std::string_view data) noexcept {
  Sha256Digest md{};
  sha256_ctx ctx{};
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
  sha256_digest(&ctx, md.size(), md.data());
  return md;
}

Sha256Digest hmac_sha256(std::string_view key, std::string_view data) noexcept {
  Sha256Digest md{};
  hmac_sha256_ctx ctx{};
  hmac_sha256_set_key(&ctx, key.size(), reinterpret_cast<const std::uint8_t*>(key.data()));
  hmac_sha256_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
  hmac_sha256_digest(&ctx, md.size(), md.data());
  return md;
}

bool pbkdf2_sha256(std::string_view password, const unsigned char* salt, std::size_t salt_size,
                   std::uint32_t iterations, unsigned char* out, std::size_t out_size) noexcept {
  // Nettle asserts on these (it would abort): refuse them here instead.
  if (salt == nullptr || salt_size == 0 || iterations == 0 || out_size == 0 || out == nullptr) return false;
  pbkdf2_hmac_sha256(password.size(), reinterpret_cast<const std::uint8_t*>(password.data()), iterations, salt_size,
                     salt, out_size, out);
  return true;
}

std::string base64url_encode(const unsigned char* data, std::size_t size) { return encode(data, size, kB64Url, false); }

std::string base64_encode(const unsigned char* data, std::size_t size) { return encode(data, size, kB64, true); }

std::optional<std::vector<unsigned char>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + static_cast<std::size_t>(j)];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) return std::nullopt;  // data after padding
      v[j] = b64_value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out.push_back(static_cast<unsigned char>(n >> 16));
    if (padding < 2) out.push_back(static_cast<unsigned char>((n >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<unsigned char>(n & 0xff));
    // Canonical form: the bits below the last byte must be zero.
    if (padding == 1 && (v[2] & 0x3) != 0) return std::nullopt;
    if (padding == 2 && (v[1] & 0xf) != 0) return std::nullopt;
  }
  return out;
}

std::string hex_encode(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

}  // namespace siax::auth
