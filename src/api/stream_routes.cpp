// GET /api/stream (viewer): the live state as server-sent events (agent/state_stream.h
// pumps them). docs/API.md, "GET /api/stream".
#include "api/route_support.h"

namespace siax::api {
namespace {

void live_stream(ApiContext& ctx, const http::Request& req, const http::Responder& res) {
  if (ctx.stream == nullptr || ctx.live == nullptr) {
    res.send(http::json_failure(StatusCode::service_unavailable, "stream_off", "the live state is not running"));
    return;
  }
  std::optional<std::uint64_t> last;
  std::string text;
  if (auto h = req.header("Last-Event-ID")) {
    text = std::string(*h);
  } else if (const auto* q = req.query_param("last_event_id")) {
    text = *q;
  }
  if (!text.empty()) {
    if (text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
      res.send(http::json_failure(StatusCode::bad_request, "invalid_last_event_id",
                                  "Last-Event-ID (or ?last_event_id=) must be the id of an event of this stream, "
                                  "a whole number"));
      return;
    }
    last = std::stoull(text);
  }
  ctx.stream->open(res, last);
}

}  // namespace

Status install_stream_routes(ApiContext& ctx) {
  return ctx.server.route(http::Method::get, "/api/stream", [&ctx](http::Request req, http::Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "stream", "")) return;
    live_stream(ctx, req, res);
  });
}

}  // namespace siax::api
