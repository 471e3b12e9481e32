#pragma once
/// The web panel: serves the single-page app compiled into the agent.
///
/// Pages (client-side routes) answer GET/HEAD with the app's shell (index.html):
///   /  /login  /apps/new  /apps/:name  /apps/:name/edit  /apps/:name/logs
///   /scan  /select  /logs  /logs/:app_name
/// `/logs` and `/logs/:app_name` are also the live-log WebSockets: an upgrade request is
/// handed to the log endpoint as before, a plain GET gets the page. The files of web/ are
/// served under /assets/ (e.g. /assets/js/main.js) with an ETag (If-None-Match -> 304),
/// `Cache-Control: no-cache` and gzip when the client accepts it.
///
/// Pages and files hold no data: they are served without authentication (the app asks
/// the API, which checks the session); every answer carries a Content-Security-Policy
/// that allows nothing but this agent (no CDN, no inline script).
///
/// Thread: handlers run on the server's io thread; they only read static memory.
#include <string_view>

#include "common/result.h"
#include "http/message.h"
#include "http/server.h"
#include "panel/assets.h"

namespace siax::panel {

/// Registers the page and asset routes. Before the server starts.
[[nodiscard]] Status install(http::Server& server);

/// True for a request the panel answers without authentication: a page or an asset,
/// never a WebSocket upgrade (the same paths may be live-log WebSockets).
[[nodiscard]] bool is_public(const http::Request& request);

/// The embedded file at `path` ("/index.html"), or nullptr.
[[nodiscard]] const Asset* find_asset(std::string_view path);

/// The answer for `asset` to `request`: 200 (gzip when accepted and smaller), or 304 when
/// the request's If-None-Match names the asset's ETag.
[[nodiscard]] http::Response serve_asset(const Asset& asset, const http::Request& request);

}  // namespace siax::panel
