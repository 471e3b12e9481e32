#include "cli/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace siax::cli {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

Result<Reply> call(const Endpoint& ep, const std::string& method, const std::string& target,
                   const std::optional<nlohmann::json>& body) {
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(90));  // a start waits for systemd's job
    stream.connect(resolver.resolve(ep.host, std::to_string(ep.port)));
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
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    bhttp::read(stream, buffer, parser);
    auto res = parser.release();
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    Reply reply;
    reply.status = res.result_int();
    reply.raw = res.body();
    reply.body = nlohmann::json::parse(reply.raw, nullptr, false);
    if (reply.body.is_discarded()) reply.body = nullptr;
    return reply;
  } catch (const std::exception& e) {
    return fail(ErrorKind::Unavailable, "agent_unreachable",
                fmt::format("cannot reach the agent at {}:{} ({}): is 'siax-agent serve' running?", ep.host, ep.port,
                            e.what()));
  }
}

}  // namespace siax::cli
