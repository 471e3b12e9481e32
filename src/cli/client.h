#pragma once
/// A small synchronous HTTP client for the CLI's commands against the local agent.
#include <optional>
#include <set>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace siax::cli {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string token;
  /// When the agent serves HTTPS: its certificate (server.tls_cert_file), trusted alone.
  std::optional<std::string> tls_cert_file;
  /// The agent's local socket (<state_dir>/agent.sock): when set, the request goes there
  /// instead of host:port, so the token reaches nobody but the agent (docs/SECURITY.md).
  std::optional<std::string> unix_socket;
};

/// A TLS client context that trusts the agent's own certificate (`cert_file`) and nothing
/// else, TLS 1.2 or later. Throws on an unreadable certificate (callers catch).
[[nodiscard]] boost::asio::ssl::context pinned_tls_context(const std::string& cert_file);

struct Reply {
  unsigned status = 0;
  nlohmann::json body;  ///< the agent's envelope, or null when the body was not JSON
  std::string raw;
};

/// Sends one request; Unavailable when the agent cannot be reached.
/// `keep`: only these fields of each object in the reply's "data" list are parsed (see
/// parse_envelope); nullptr: all of them.
[[nodiscard]] Result<Reply> call(const Endpoint& ep, const std::string& method, const std::string& target,
                                 const std::optional<nlohmann::json>& body = std::nullopt,
                                 const std::set<std::string, std::less<>>* keep = nullptr);

}  // namespace siax::cli
