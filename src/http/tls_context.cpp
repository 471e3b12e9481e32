// TLS setup for http::Server: the server context from the configured files.
#include <fmt/format.h>
#include <openssl/ssl.h>

#include "http/openssl_lazy.h"
#include "http/server_core.h"

namespace siax::http::detail {

Result<ssl::context> make_tls_context(const TlsOptions& tls) {
  // OpenSSL is loaded here, before its first call (openssl_lazy.h): a host without libssl3
  // gets tls_setup_failed, not a crash.
  if (auto loaded = load_tls_library(); !loaded) return tl::unexpected(loaded.error());
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  ctx.use_certificate_chain_file(tls.certificate_chain_file, ec);
  if (ec) {
    return fail(ErrorKind::InvalidInput, "tls_setup_failed",
                fmt::format("cannot load the certificate chain '{}': {}", tls.certificate_chain_file, ec.message()));
  }
  ctx.use_private_key_file(tls.private_key_file, ssl::context::pem, ec);
  if (ec) {
    return fail(ErrorKind::InvalidInput, "tls_setup_failed",
                fmt::format("cannot load the private key '{}': {}", tls.private_key_file, ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return fail(ErrorKind::InvalidInput, "tls_setup_failed",
                fmt::format("the private key '{}' does not match the certificate '{}'", tls.private_key_file,
                            tls.certificate_chain_file));
  }
  return ctx;
}

}  // namespace siax::http::detail
