// OpenSSL bound lazily: this file DEFINES the OpenSSL functions the binary calls, each with
// its OpenSSL 3 signature (the headers are included, so the compiler checks every one),
// and forwards each to the real function, resolved with dlsym from
// dlopen("libssl.so.3") on the first load_tls_library(). The binary does not link
// libssl/libcrypto (no DT_NEEDED): a plain-HTTP agent never maps them (docs/PERFORMANCE.md).
//
// Adding a function: a new OpenSSL call (or a Boost.Asio ssl feature that makes one) fails
// the link with "undefined reference to `SSL_xxx'". Add SSL_xxx to SIAX_OPENSSL_FUNCTIONS
// below and a forwarder in its group, with the signature copied from the OpenSSL 3 header
// (a mismatch does not compile) and the function's failure value as the fallback. Then check
// that `ldd build/release/src/siax-agent` still shows no libssl/libcrypto.
//
// These definitions are not exported (the executable has no -rdynamic), so libssl and
// libcrypto bind their own calls to each other, never to these forwarders.
#include "http/openssl_lazy.h"

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#include <atomic>
#include <string>

#include <fmt/format.h>

static_assert(OPENSSL_VERSION_MAJOR == 3, "openssl_lazy.cpp loads libssl.so.3: the headers must be OpenSSL 3's");

// Every OpenSSL function this binary calls (libcrypto's BIO_/ERR_ ones are found through the
// libssl handle, which has libcrypto among its dependencies).
#define SIAX_OPENSSL_FUNCTIONS(X)           \
  X(BIO_ctrl)                               \
  X(BIO_ctrl_pending)                       \
  X(BIO_free)                               \
  X(BIO_new_bio_pair)                       \
  X(BIO_read)                               \
  X(BIO_write)                              \
  X(ERR_clear_error)                        \
  X(ERR_get_error)                          \
  X(ERR_lib_error_string)                   \
  X(ERR_reason_error_string)                \
  X(SSL_CTX_check_private_key)              \
  X(SSL_CTX_ctrl)                           \
  X(SSL_CTX_free)                           \
  X(SSL_CTX_get_default_passwd_cb_userdata) \
  X(SSL_CTX_get_ex_data)                    \
  X(SSL_CTX_get_verify_callback)            \
  X(SSL_CTX_load_verify_locations)          \
  X(SSL_CTX_new)                            \
  X(SSL_CTX_set_default_passwd_cb_userdata) \
  X(SSL_CTX_set_ex_data)                    \
  X(SSL_CTX_set_options)                    \
  X(SSL_CTX_set_verify)                     \
  X(SSL_CTX_use_PrivateKey_file)            \
  X(SSL_CTX_use_certificate_chain_file)     \
  X(SSL_accept)                             \
  X(SSL_connect)                            \
  X(SSL_ctrl)                               \
  X(SSL_free)                               \
  X(SSL_get_error)                          \
  X(SSL_get_ex_data)                        \
  X(SSL_get_shutdown)                       \
  X(SSL_new)                                \
  X(SSL_read)                               \
  X(SSL_set_bio)                            \
  X(SSL_set_ex_data)                        \
  X(SSL_shutdown)                           \
  X(SSL_write)                              \
  X(TLS_client_method)                      \
  X(TLS_method)                             \
  X(TLS_server_method)

namespace siax::http {
namespace {

constexpr const char* kSoname = "libssl.so.3";

/// The resolved functions; each pointer has the type of the header's declaration.
struct OpenSslApi {
#define SIAX_OPENSSL_POINTER(name) decltype(&::name) name = nullptr;
  SIAX_OPENSSL_FUNCTIONS(SIAX_OPENSSL_POINTER)
#undef SIAX_OPENSSL_POINTER
};

/// Published once every function is resolved (release); read by every forwarder (acquire).
std::atomic<const OpenSslApi*> g_api{nullptr};

/// Opens `soname` and fills `out`, all or nothing.
Status resolve_all(const char* soname, OpenSslApi& out) {
  ::dlerror();
  void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = ::dlerror();
    return fail(ErrorKind::Unavailable, "tls_setup_failed",
                fmt::format("cannot load {}: {}; install the libssl3 package (TLS needs it)", soname,
                            err != nullptr ? err : "unknown dlopen error"));
  }
  std::string missing;
#define SIAX_OPENSSL_RESOLVE(name)                                      \
  out.name = reinterpret_cast<decltype(out.name)>(::dlsym(lib, #name)); \
  if (out.name == nullptr) missing += missing.empty() ? #name : ", " #name;
  SIAX_OPENSSL_FUNCTIONS(SIAX_OPENSSL_RESOLVE)
#undef SIAX_OPENSSL_RESOLVE
  if (!missing.empty()) {
    return fail(ErrorKind::Unavailable, "tls_setup_failed",
                fmt::format("{} lacks {}: install the libssl3 package of OpenSSL 3", soname, missing));
  }
  return ok();
}

/// The loaded functions, or nullptr before a successful load_tls_library().
const OpenSslApi* api() noexcept { return g_api.load(std::memory_order_acquire); }

}  // namespace

Status load_tls_library() {
  static OpenSslApi table;
  static Status result = [] {
    Status st = resolve_all(kSoname, table);
    if (st) g_api.store(&table, std::memory_order_release);
    return st;
  }();  // a function-local static: initialised once, thread-safe
  return result;
}

bool tls_library_loaded() { return api() != nullptr; }

namespace detail {
Status probe_tls_library(const char* soname) {
  OpenSslApi table;
  return resolve_all(soname, table);
}
}  // namespace detail

}  // namespace siax::http

// The forwarders. Before the library is loaded each returns the function's failure value
// and records no error (no OpenSSL call has been made, so there is none to report).
namespace {
using siax::http::api;
}  // namespace

// NOLINTBEGIN(readability-inconsistent-declaration-parameter-name)
extern "C" {

// --- libcrypto: BIO ----------------------------------------------------------------------
long BIO_ctrl(BIO* bp, int cmd, long larg, void* parg) {
  const auto* a = api();
  return a != nullptr ? a->BIO_ctrl(bp, cmd, larg, parg) : 0;
}
size_t BIO_ctrl_pending(BIO* b) {
  const auto* a = api();
  return a != nullptr ? a->BIO_ctrl_pending(b) : 0;
}
int BIO_free(BIO* b) {
  const auto* a = api();
  return a != nullptr ? a->BIO_free(b) : 0;
}
int BIO_new_bio_pair(BIO** bio1, size_t writebuf1, BIO** bio2, size_t writebuf2) {
  const auto* a = api();
  if (a != nullptr) return a->BIO_new_bio_pair(bio1, writebuf1, bio2, writebuf2);
  if (bio1 != nullptr) *bio1 = nullptr;
  if (bio2 != nullptr) *bio2 = nullptr;
  return 0;
}
int BIO_read(BIO* b, void* data, int dlen) {
  const auto* a = api();
  return a != nullptr ? a->BIO_read(b, data, dlen) : -1;
}
int BIO_write(BIO* b, const void* data, int dlen) {
  const auto* a = api();
  return a != nullptr ? a->BIO_write(b, data, dlen) : -1;
}

// --- libcrypto: ERR (before the load: no error, and nothing is loaded) -------------------
void ERR_clear_error(void) {
  if (const auto* a = api()) a->ERR_clear_error();
}
unsigned long ERR_get_error(void) {
  const auto* a = api();
  return a != nullptr ? a->ERR_get_error() : 0UL;
}
const char* ERR_lib_error_string(unsigned long e) {
  const auto* a = api();
  return a != nullptr ? a->ERR_lib_error_string(e) : nullptr;
}
const char* ERR_reason_error_string(unsigned long e) {
  const auto* a = api();
  return a != nullptr ? a->ERR_reason_error_string(e) : nullptr;
}

// --- libssl: SSL_CTX ---------------------------------------------------------------------
int SSL_CTX_check_private_key(const SSL_CTX* ctx) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_check_private_key(ctx) : 0;
}
long SSL_CTX_ctrl(SSL_CTX* ctx, int cmd, long larg, void* parg) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_ctrl(ctx, cmd, larg, parg) : 0;
}
void SSL_CTX_free(SSL_CTX* ctx) {
  if (const auto* a = api()) a->SSL_CTX_free(ctx);
}
void* SSL_CTX_get_default_passwd_cb_userdata(SSL_CTX* ctx) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_get_default_passwd_cb_userdata(ctx) : nullptr;
}
void* SSL_CTX_get_ex_data(const SSL_CTX* ctx, int idx) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_get_ex_data(ctx, idx) : nullptr;
}
SSL_verify_cb SSL_CTX_get_verify_callback(const SSL_CTX* ctx) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_get_verify_callback(ctx) : nullptr;
}
int SSL_CTX_load_verify_locations(SSL_CTX* ctx, const char* ca_file, const char* ca_path) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_load_verify_locations(ctx, ca_file, ca_path) : 0;
}
SSL_CTX* SSL_CTX_new(const SSL_METHOD* meth) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_new(meth) : nullptr;
}
void SSL_CTX_set_default_passwd_cb_userdata(SSL_CTX* ctx, void* u) {
  if (const auto* a = api()) a->SSL_CTX_set_default_passwd_cb_userdata(ctx, u);
}
int SSL_CTX_set_ex_data(SSL_CTX* ctx, int idx, void* data) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_set_ex_data(ctx, idx, data) : 0;
}
uint64_t SSL_CTX_set_options(SSL_CTX* ctx, uint64_t op) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_set_options(ctx, op) : 0;
}
void SSL_CTX_set_verify(SSL_CTX* ctx, int mode, SSL_verify_cb callback) {
  if (const auto* a = api()) a->SSL_CTX_set_verify(ctx, mode, callback);
}
int SSL_CTX_use_PrivateKey_file(SSL_CTX* ctx, const char* file, int type) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_use_PrivateKey_file(ctx, file, type) : 0;
}
int SSL_CTX_use_certificate_chain_file(SSL_CTX* ctx, const char* file) {
  const auto* a = api();
  return a != nullptr ? a->SSL_CTX_use_certificate_chain_file(ctx, file) : 0;
}

// --- libssl: SSL -------------------------------------------------------------------------
int SSL_accept(SSL* ssl) {
  const auto* a = api();
  return a != nullptr ? a->SSL_accept(ssl) : -1;
}
int SSL_connect(SSL* ssl) {
  const auto* a = api();
  return a != nullptr ? a->SSL_connect(ssl) : -1;
}
long SSL_ctrl(SSL* ssl, int cmd, long larg, void* parg) {
  const auto* a = api();
  return a != nullptr ? a->SSL_ctrl(ssl, cmd, larg, parg) : 0;
}
void SSL_free(SSL* ssl) {
  if (const auto* a = api()) a->SSL_free(ssl);
}
int SSL_get_error(const SSL* s, int ret_code) {
  const auto* a = api();
  return a != nullptr ? a->SSL_get_error(s, ret_code) : SSL_ERROR_SSL;
}
void* SSL_get_ex_data(const SSL* ssl, int idx) {
  const auto* a = api();
  return a != nullptr ? a->SSL_get_ex_data(ssl, idx) : nullptr;
}
int SSL_get_shutdown(const SSL* ssl) {
  const auto* a = api();
  return a != nullptr ? a->SSL_get_shutdown(ssl) : 0;
}
SSL* SSL_new(SSL_CTX* ctx) {
  const auto* a = api();
  return a != nullptr ? a->SSL_new(ctx) : nullptr;
}
int SSL_read(SSL* ssl, void* buf, int num) {
  const auto* a = api();
  return a != nullptr ? a->SSL_read(ssl, buf, num) : -1;
}
void SSL_set_bio(SSL* s, BIO* rbio, BIO* wbio) {
  if (const auto* a = api()) a->SSL_set_bio(s, rbio, wbio);
}
int SSL_set_ex_data(SSL* ssl, int idx, void* data) {
  const auto* a = api();
  return a != nullptr ? a->SSL_set_ex_data(ssl, idx, data) : 0;
}
int SSL_shutdown(SSL* s) {
  const auto* a = api();
  return a != nullptr ? a->SSL_shutdown(s) : -1;
}
int SSL_write(SSL* ssl, const void* buf, int num) {
  const auto* a = api();
  return a != nullptr ? a->SSL_write(ssl, buf, num) : -1;
}
const SSL_METHOD* TLS_client_method(void) {
  const auto* a = api();
  return a != nullptr ? a->TLS_client_method() : nullptr;
}
const SSL_METHOD* TLS_method(void) {
  const auto* a = api();
  return a != nullptr ? a->TLS_method() : nullptr;
}
const SSL_METHOD* TLS_server_method(void) {
  const auto* a = api();
  return a != nullptr ? a->TLS_server_method() : nullptr;
}

}  // extern "C"
// NOLINTEND(readability-inconsistent-declaration-parameter-name)
