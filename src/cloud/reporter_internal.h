#pragma once
/// Internal to src/cloud: what cloud_reporter.cpp (the agent's side, stats, the thread)
/// and cloud_delivery.cpp (the delivery round) share. Not a port; included by those two only.
#include <chrono>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "cloud/cloud_reporter.h"

namespace siax::cloud {

struct CloudReporter::Round {
  std::chrono::steady_clock::time_point now;
  std::size_t budget = 0;
  std::size_t delivered = 0;
  bool more = false;  ///< the budget ran out with work left
};

namespace detail {

using nlohmann::json;

/// Compact JSON; invalid UTF-8 replaced rather than thrown.
inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// null for "" or text that is not JSON.
inline json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(nullptr) : j;
}

}  // namespace detail

// The names both files that implement CloudReporter use (only they include this header).
using nlohmann::json;
using steady = std::chrono::steady_clock;
using detail::dump;
using detail::parse_or_null;

}  // namespace siax::cloud
