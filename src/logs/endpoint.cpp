// The live-logs endpoint's routes (endpoint.h): who may open a viewer or a download, the
// WebSocket and download routes, and the siax_logs_* metrics. The viewer itself is in
// endpoint_session.cpp, the download in endpoint_download.cpp.
#include "logs/endpoint.h"

#include <optional>

#include <fmt/format.h>

#include "common/prometheus.h"
#include "common/strings.h"
#include "logs/endpoint_core.h"

namespace siax::logs {

namespace {

constexpr std::string_view kAppRoute = "/logs/:app_name";
constexpr std::string_view kAgentRoute = "/logs";
constexpr std::string_view kAppDownload = "/api/apps/:name/logs";
constexpr std::string_view kAgentDownload = "/api/agent/logs";

bool is_ours(const std::string& route) {
  return route == kAppRoute || route == kAgentRoute || route == kAppDownload || route == kAgentDownload;
}

bool same_origin(const http::Request& req) {
  auto origin = req.header("Origin");
  if (!origin) return true;  // programs (no browser) send none
  auto host = req.header("Host");
  if (!host) return false;
  // Scheme, host and port, as the browser sends them (default ports omitted on both sides).
  std::string expected = req.tls ? "https://" : "http://";
  expected += *host;
  return iequals(*origin, expected);
}

/// The middleware's check of a request for a log (after the agent's authentication):
/// a refusal (401, 403, 404, 400), or nothing when the request may go on (or is not ours).
std::optional<http::Response> refusal(const LogEndpoint::Core& core, const http::Request& req) {
  if (!is_ours(req.route)) return std::nullopt;
  // A plain GET of /logs or /logs/:app_name is the panel's page, not the WebSocket.
  if ((req.route == kAppRoute || req.route == kAgentRoute) && !req.header("Upgrade")) return std::nullopt;
  if (!req.auth.has_value()) {
    return http::json_failure(http::StatusCode::unauthorized, "authentication_required",
                              "send 'Authorization: Bearer <token>' or log in to the panel");
  }
  if (core.deps.authorized && !core.deps.authorized(req)) {
    const bool agent_log = req.route == kAgentRoute || req.route == kAgentDownload;
    return http::json_failure(
        http::StatusCode::forbidden, "forbidden_role",
        agent_log ? "the agent's own log needs the admin role" : "your role may not read this log");
  }
  const bool ws = req.route == kAppRoute || req.route == kAgentRoute;
  if (ws && !same_origin(req)) {
    return http::json_failure(http::StatusCode::forbidden, "origin_mismatch",
                              "the WebSocket's Origin is not this agent: open the panel from the agent itself");
  }
  const std::string* app = req.param(req.route == kAppRoute ? "app_name" : "name");
  if ((req.route == kAppRoute || req.route == kAppDownload) && app != nullptr && core.deps.app_exists &&
      !core.deps.app_exists(*app)) {
    return http::json_failure(http::StatusCode::not_found, "app_not_found",
                              fmt::format("there is no app named '{}': see GET /api/apps", *app));
  }
  if (ws) {
    if (auto q = parse_stream_query(req.query, core.options.max_tail); !q) return http::error_response(q.error());
  }
  return std::nullopt;
}

}  // namespace

LogEndpoint::LogEndpoint(boost::asio::io_context& ioc, JournalSource& source, Selector agent_selector,
                         LogEndpointDeps deps, LogEndpointOptions options)
    : core_(std::make_shared<Core>(ioc, source, std::move(agent_selector), std::move(deps), options)) {}

LogEndpoint::~LogEndpoint() { stop(); }

Status LogEndpoint::install(http::Server& server) {
  auto core = core_;
  if (auto s = server.use([core](http::Request& req) { return refusal(*core, req); }); !s) return s;
  auto viewer = [core](http::WebSocketUpgrade up) { start_session(core, std::move(up)); };
  if (auto s = server.on_websocket(kAppRoute, viewer); !s) return s;
  if (auto s = server.on_websocket(kAgentRoute, viewer); !s) return s;
  auto download = [core](http::Request req, http::Responder res) { serve_download(core, req, res); };
  if (auto s = server.route(http::Method::get, kAppDownload, download); !s) return s;
  if (auto s = server.route(http::Method::get, kAgentDownload, download); !s) return s;
  return ok();
}

void LogEndpoint::stop() {
  if (core_->stopped) return;
  core_->stopped = true;
  core_->hub.stop();
}

LogEndpointStats LogEndpoint::stats() const {
  auto s = core_->counters;
  s.hub = core_->hub.stats();
  s.downloads_active = core_->active_downloads.load();
  return s;
}

std::string LogEndpoint::render_metrics() const {
  const auto s = stats();
  PromText out;
  out.family("siax_logs_viewers", "gauge", "Open live-log viewers.").sample(s.hub.viewers);
  out.family("siax_logs_streams", "gauge", "Open journal readers (one per viewed app).").sample(s.hub.streams);
  out.family("siax_logs_viewers_refused_total", "counter", "Viewers refused over a limit.").sample(s.viewers_refused);
  out.family("siax_logs_lines_read_total", "counter", "Journal lines read for live viewers.").sample(s.hub.lines_read);
  out.family("siax_logs_frames_sent_total", "counter", "WebSocket frames sent to viewers.").sample(s.frames_sent);
  out.family("siax_logs_entries_dropped_total", "counter", "Entries dropped for slow viewers (sent as gaps).")
      .sample(s.entries_dropped);
  out.family("siax_logs_downloads_total", "counter", "Log downloads.").sample(s.downloads);
  out.family("siax_logs_downloads_active", "gauge", "Log downloads streaming now.").sample(s.downloads_active);
  return out.take();
}

}  // namespace siax::logs
