#pragma once
/// The agent's HTTP API: authentication, roles, audit and every route, on top of the
/// HTTP server. Every endpoint and message is in docs/API.md; the layout is in
/// docs/ARCHITECTURE.md ("src/api").
#include "api/context.h"

namespace siax::api {

/// Registers the middleware and every route on ctx.server. Call on the thread that will
/// run the io_context, before the server starts.
[[nodiscard]] Status install_api(ApiContext& ctx);

}  // namespace siax::api
