// http/openssl_lazy: OpenSSL is loaded with dlopen on the first load_tls_library() and not
// before; the ERR_* functions called before then report no error and load nothing. The
// TLS handshakes of server_test.cpp run through the same forwarders (this binary does not
// link libssl/libcrypto either).
#include "http/openssl_lazy.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace siax::http {
namespace {

/// Whether a file whose name contains `name` is mapped into this process.
bool mapped(std::string_view name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

/// Run in a fresh process (nothing has loaded TLS there): 0 when every check holds, else
/// the number of the first that failed.
int checks_in_a_fresh_process() {
  if (mapped("libssl.so") || mapped("libcrypto.so")) return 10;  // nothing links them
  if (tls_library_loaded()) return 11;
  ERR_clear_error();
  if (ERR_get_error() != 0) return 12;
  if (ERR_reason_error_string(0x0A000086UL) != nullptr || ERR_lib_error_string(0x0A000086UL) != nullptr) return 13;
  // Any other function fails without loading the library.
  if (TLS_server_method() != nullptr || SSL_CTX_new(nullptr) != nullptr) return 14;
  if (SSL_get_error(nullptr, -1) != SSL_ERROR_SSL) return 15;
  if (mapped("libssl.so") || mapped("libcrypto.so") || tls_library_loaded()) return 16;
  // The load maps both (libcrypto through libssl's dependencies) and the functions work.
  if (!load_tls_library() || !tls_library_loaded()) return 17;
  if (!mapped("libssl.so.3") || !mapped("libcrypto.so.3")) return 18;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return 19;
  SSL_CTX_free(ctx);
  if (ERR_get_error() != 0) return 20;
  ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr) return 21;
  const int used = SSL_CTX_use_certificate_chain_file(ctx, "/nonexistent/cert.pem");
  const unsigned long err = ERR_get_error();  // libcrypto's error queue, through the forwarder
  SSL_CTX_free(ctx);
  if (used == 1 || err == 0) return 22;
  const char* reason = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_NO_SHARED_CIPHER));
  if (reason == nullptr || std::string_view(reason) != "no shared cipher") return 23;
  return 0;
}

TEST(OpenSslLazyDeathTest, NothingIsLoadedBeforeTheFirstLoad) {
  // "threadsafe": the check runs in a re-executed copy of this binary, where no earlier
  // test has loaded the library.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(checks_in_a_fresh_process()), ::testing::ExitedWithCode(0), "");
}

TEST(OpenSslLazy, LoadsLibsslAndLibcryptoOnce) {
  auto first = load_tls_library();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(tls_library_loaded());
  EXPECT_TRUE(mapped("libssl.so.3"));
  EXPECT_TRUE(mapped("libcrypto.so.3"));
  EXPECT_TRUE(load_tls_library());
  const SSL_METHOD* method = TLS_client_method();
  ASSERT_NE(method, nullptr);
  SSL_CTX* ctx = SSL_CTX_new(method);
  ASSERT_NE(ctx, nullptr);
  EXPECT_NE(SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1) & SSL_OP_NO_TLSv1, 0U);
  SSL_CTX_free(ctx);
}

TEST(OpenSslLazy, AMissingLibraryIsAClearError) {
  auto st = detail::probe_tls_library("libsiax-no-such-ssl.so.3");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "tls_setup_failed");
  EXPECT_NE(st.error().message.find("cannot load libsiax-no-such-ssl.so.3"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("install the libssl3 package"), std::string::npos) << st.error().message;
}

TEST(OpenSslLazy, ALibraryWithoutTheFunctionsIsRefusedAsAWhole) {
  // libz is not OpenSSL: it opens, but has none of the functions.
  auto st = detail::probe_tls_library("libz.so.1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "tls_setup_failed");
  EXPECT_NE(st.error().message.find("lacks BIO_ctrl"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace siax::http
