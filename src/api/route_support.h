#pragma once
/// What every `*_routes.cpp` file uses, in one include: the route list (routes.h), the
/// worker hand-over (dispatch.h), the role checks and audit (middleware.h), bodies and query
/// parameters (request_body.h), the short names of the HTTP types, and the list answer.
/// Include it from route files only (it brings short names into siax::api).
///
/// Thread: as routes.h: called on the io thread; answer_list's query runs on a worker.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "api/dispatch.h"
#include "api/middleware.h"
#include "api/request_body.h"
#include "api/routes.h"

namespace siax::api {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::StatusCode;
using nlohmann::json;

/// The most rows a list query (events, audit) answers with.
inline constexpr std::int64_t kMaxListLimit = 1000;

/// `?limit=` clamped to 0..kMaxListLimit, or `fallback` when absent or not a number.
[[nodiscard]] inline std::size_t query_limit(const Request& req, std::size_t fallback) {
  const auto limit = query_int(req, "limit");
  return limit ? static_cast<std::size_t>(std::clamp<std::int64_t>(*limit, 0, kMaxListLimit)) : fallback;
}

/// Runs `query` (a registry read returning Result<std::vector<Row>>) on a worker and answers
/// the JSON array of `view(row)`; a failed read answers its error.
template <typename Query, typename View>
void answer_list(ApiContext& ctx, const Responder& res, Query query, View view) {
  on_worker(ctx, res, [query = std::move(query), view = std::move(view)] {
    auto rows = query();
    if (!rows) return http::error_response(rows.error());
    json list = json::array();
    for (const auto& row : *rows) list.push_back(view(row));
    return http::json_success(list);
  });
}

}  // namespace siax::api
