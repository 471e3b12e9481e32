#pragma once
/// The API's reads from the live state: GET /api/apps, /api/apps/:name and
/// /api/apps/:name/status answered from the StateStore on the io thread (no systemd, no
/// disk), and the store's and the streams' lines for /metrics.
///
/// Threading: the io thread (handlers); they never block.
#include <string>

#include "api/context.h"

namespace siax::api {

/// GET /api/apps from memory, with ETag / If-None-Match (304). False when the store is
/// not ready (the caller answers the old way).
bool live_list(ApiContext& ctx, const http::Request& req, const http::Responder& res);
/// GET /api/apps/:name from memory (no `unit_file`: that is read from disk, ask with
/// ?fresh=1). Environment values are masked unless `admin`. False when the store is not
/// ready or does not hold the app.
bool live_detail(ApiContext& ctx, const http::Request& req, const http::Responder& res, const std::string& name,
                 bool admin);
/// GET /api/apps/:name/status from memory: the reconciled status, reason and usage, with
/// systemd's raw fields under their own names. False when the store cannot answer.
bool live_status(ApiContext& ctx, const http::Request& req, const http::Responder& res, const std::string& name);
/// Prometheus lines of the store and the streams ("" without them).
[[nodiscard]] std::string live_metrics(const ApiContext& ctx);

}  // namespace siax::api
