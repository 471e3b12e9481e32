#include "cli/client.h"

#include <stdexcept>

#include <fmt/format.h>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cli/agent_connection.h"
#include "cli/reply_parse.h"
#include "http/openssl_lazy.h"

namespace siax::cli {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

/// One request and its response over a connected stream (plain TCP or TLS).
template <class Stream>
Reply exchange(Stream& stream, const Endpoint& ep, const std::string& method, const std::string& target,
               const std::optional<nlohmann::json>& body, const std::set<std::string, std::less<>>* keep) {
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
  req.set(bhttp::field::host, ep.host);
  req.set(bhttp::field::user_agent, "siax-agent-cli");
  if (!ep.token.empty()) req.set(bhttp::field::authorization, "Bearer " + ep.token);
  if (body) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body->dump();
  }
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  // Room for 64 KiB per read: an empty buffer makes beast read 512 bytes at a time (169
  // reads for the 200-app list instead of 3).
  buffer.reserve(64 * 1024);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bhttp::read(stream, buffer, parser);
  auto res = parser.release();
  Reply reply;
  reply.status = res.result_int();
  reply.raw = std::move(res.body());
  reply.body = parse_envelope(reply.raw, keep);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return reply;
}

}  // namespace

boost::asio::ssl::context pinned_tls_context(const std::string& cert_file) {
  namespace ssl = boost::asio::ssl;
  // OpenSSL is loaded before its first call (http/openssl_lazy.h); without libssl3 the
  // caller gets this message (call() checks it first and returns tls_setup_failed).
  if (auto loaded = http::load_tls_library(); !loaded) {
    throw std::runtime_error(loaded.error().code + ": " + loaded.error().message);
  }
  ssl::context tls(ssl::context::tls_client);
  tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  tls.load_verify_file(cert_file);
  tls.set_verify_mode(ssl::verify_peer);
  return tls;
}

Result<Reply> call(const Endpoint& ep, const std::string& method, const std::string& target,
                   const std::optional<nlohmann::json>& body, const std::set<std::string, std::less<>>* keep) {
  constexpr auto kTimeout = std::chrono::seconds(90);  // a start waits for systemd's job
  if (ep.tls_cert_file) {
    if (auto loaded = http::load_tls_library(); !loaded) return tl::unexpected(loaded.error());
  }
  try {
    // TLS: the agent's own certificate is the only trust anchor (pinned), so a
    // self-signed certificate works and no other certificate is accepted. Its names are
    // not checked against ep.host: the CLI talks to the local agent by address.
    return with_agent_connection(ep, {kTimeout, /*shutdown=*/true},
                                 [&](auto& stream) { return exchange(stream, ep, method, target, body, keep); });
  } catch (const std::exception& e) {
    const std::string cert =
        ep.tls_cert_file ? fmt::format(", and is its certificate {}", *ep.tls_cert_file) : std::string();
    if (ep.unix_socket) {
      return fail(ErrorKind::Unavailable, "agent_unreachable",
                  fmt::format("cannot reach the agent at its local socket {} ({}): is 'siax-agent serve' running "
                              "with this state dir{}? (--tcp talks to {}:{} instead)",
                              *ep.unix_socket, error_text(e), cert, ep.host, ep.port));
    }
    return fail(ErrorKind::Unavailable, "agent_unreachable",
                fmt::format("cannot reach the agent at {}://{}:{} ({}): is 'siax-agent serve' running{}?",
                            ep.tls_cert_file ? "https" : "http", ep.host, ep.port, error_text(e), cert));
  }
}

}  // namespace siax::cli
