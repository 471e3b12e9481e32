#include "cli/stream_client.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/agent_connection.h"
#include "cli/reply_parse.h"

namespace siax::cli {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

bool SseParser::feed(std::string_view bytes, const std::function<bool(const SseEvent&)>& on_event) {
  for (char c : bytes) {
    if (c != '\n') {
      if (line_.size() > 16 * 1024 * 1024) return false;
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {
      if (has_data_) {
        if (current_.type.empty()) current_.type = "message";
        if (!on_event(current_)) return false;
      }
      current_ = SseEvent{};
      has_data_ = false;
    } else if (line_.front() != ':') {
      const auto colon = line_.find(':');
      const std::string field = line_.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line_.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (field == "id") current_.id = value;
      if (field == "event") current_.type = value;
      if (field == "data") {
        if (has_data_) current_.data += '\n';
        current_.data += value;
        has_data_ = true;
      }
    }
    line_.clear();
  }
  return true;
}

namespace {

template <class Stream>
Status follow(Stream& stream, const Endpoint& ep, const std::string& target,
              const std::function<bool(const SseEvent&)>& on_event) {
  bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
  req.set(bhttp::field::host, ep.host);
  req.set(bhttp::field::user_agent, "siax-agent-cli");
  req.set(bhttp::field::accept, "text/event-stream");
  if (!ep.token.empty()) req.set(bhttp::field::authorization, "Bearer " + ep.token);
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  bhttp::read_header(stream, buffer, parser);
  if (parser.get().result_int() != 200) {
    // Read the (small) error body for its message.
    std::string body;
    char buf[4096];
    while (!parser.is_done() && body.size() < 65536) {
      parser.get().body().data = buf;
      parser.get().body().size = sizeof(buf);
      beast::error_code ec;
      bhttp::read(stream, buffer, parser, ec);
      body.append(buf, sizeof(buf) - parser.get().body().size);
      if (ec && ec != bhttp::error::need_buffer) break;
    }
    auto j = nlohmann::json::parse(body, nullptr, false);
    std::string message = body;
    if (j.is_object() && j["error"].is_object()) message = j["error"].value("message", body);
    return fail(ErrorKind::Unavailable, "stream_refused",
                fmt::format("the agent answered {}: {}", parser.get().result_int(), message));
  }
  SseParser sse;
  char buf[16384];
  while (!parser.is_done()) {
    parser.get().body().data = buf;
    parser.get().body().size = sizeof(buf);
    beast::error_code ec;
    bhttp::read_some(stream, buffer, parser, ec);
    if (ec && ec != bhttp::error::need_buffer) {
      return fail(ErrorKind::Unavailable, "stream_ended", fmt::format("the stream ended: {}", ec.message()));
    }
    const std::size_t got = sizeof(buf) - parser.get().body().size;
    if (!sse.feed(std::string_view(buf, got), on_event)) return ok();
  }
  return fail(ErrorKind::Unavailable, "stream_ended", "the agent ended the stream");
}

}  // namespace

Status follow_stream(const Endpoint& ep, const std::string& target,
                     const std::function<bool(const SseEvent&)>& on_event) {
  try {
    // No timeout: the stream lasts until the caller or the agent ends it.
    return with_agent_connection(ep, {}, [&](auto& stream) { return follow(stream, ep, target, on_event); });
  } catch (const std::exception& e) {
    if (ep.unix_socket) {
      return fail(ErrorKind::Unavailable, "agent_unreachable",
                  fmt::format("cannot follow the agent's stream at its local socket {} ({}): is 'siax-agent serve' "
                              "running with this state dir? (--tcp talks to {}:{} instead)",
                              *ep.unix_socket, error_text(e), ep.host, ep.port));
    }
    return fail(ErrorKind::Unavailable, "agent_unreachable",
                fmt::format("cannot follow the agent's stream at {}:{} ({}): is 'siax-agent serve' running?", ep.host,
                            ep.port, error_text(e)));
  }
}

}  // namespace siax::cli
