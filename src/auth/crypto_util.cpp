#include "auth/crypto_util.h"

#include <cerrno>

#include <gcrypt.h>
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

/// libgcrypt wants gcry_check_version() before any other call (libsystemd may have made it
/// already; a second call is harmless). No secure memory: nothing here asks for it.
bool gcrypt_ready() noexcept {
  static const bool ready = [] {
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P) != 0) return gcry_check_version(GCRYPT_VERSION) != nullptr;
    if (gcry_check_version(GCRYPT_VERSION) == nullptr) return false;
    (void)gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    (void)gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return true;
  }();
  return ready;
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

std::optional<Sha256Digest> sha256(std::string_view data) noexcept {
  if (!gcrypt_ready()) return std::nullopt;
  Sha256Digest md{};
  gcry_buffer_t iov{};
  iov.data = const_cast<char*>(data.data());  // read only
  iov.len = data.size();
  if (gcry_md_hash_buffers(GCRY_MD_SHA256, 0, md.data(), &iov, 1) != 0) return std::nullopt;
  return md;
}

std::optional<Sha256Digest> hmac_sha256(std::string_view key, std::string_view data) noexcept {
  if (!gcrypt_ready()) return std::nullopt;
  Sha256Digest md{};
  // With GCRY_MD_FLAG_HMAC the first buffer is the key.
  gcry_buffer_t iov[2]{};
  iov[0].data = const_cast<char*>(key.data());
  iov[0].len = key.size();
  iov[1].data = const_cast<char*>(data.data());
  iov[1].len = data.size();
  if (gcry_md_hash_buffers(GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC, md.data(), iov, 2) != 0) return std::nullopt;
  return md;
}

bool pbkdf2_sha256(std::string_view password, const unsigned char* salt, std::size_t salt_size,
                   std::uint32_t iterations, unsigned char* out, std::size_t out_size) noexcept {
  if (!gcrypt_ready() || salt_size == 0 || iterations == 0 || out_size == 0) return false;
  static constexpr char kEmpty[] = "";
  const char* pass = password.empty() ? kEmpty : password.data();  // libgcrypt refuses a null pointer
  return gcry_kdf_derive(pass, password.size(), GCRY_KDF_PBKDF2, GCRY_MD_SHA256, salt, salt_size, iterations, out_size,
                         out) == 0;
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
