#pragma once
/// OpenSSL (libssl.so.3 and the libcrypto.so.3 it needs) loaded with dlopen the first time
/// TLS is set up, instead of being linked: an agent that serves plain HTTP never maps them
/// (~1.7 MB of resident memory, docs/PERFORMANCE.md). openssl_lazy.cpp defines the OpenSSL
/// functions this binary calls (Boost.Asio's ssl engine, tls_context.cpp) and forwards each
/// to the loaded library. Threading: any thread; the library is loaded once, never unloaded.
#include "common/result.h"

namespace siax::http {

/// Loads libssl.so.3 and resolves every OpenSSL function the binary uses, all at once, the
/// first time it is called (later calls return the first result). tls_setup_failed when
/// the library or one of its functions is missing. Call it before the first OpenSSL call:
/// before then the forwarded functions fail (SSL_CTX_new returns nullptr, ...) and the
/// ERR_* functions report no error, without loading anything.
[[nodiscard]] Status load_tls_library();

/// Whether load_tls_library() has succeeded in this process.
[[nodiscard]] bool tls_library_loaded();

namespace detail {
/// Opens `soname` and resolves the functions without publishing them (the loaded state does
/// not change): what load_tls_library() does with "libssl.so.3". For tests of a missing
/// library.
[[nodiscard]] Status probe_tls_library(const char* soname);
}  // namespace detail

}  // namespace siax::http
