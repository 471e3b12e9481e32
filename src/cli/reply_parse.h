#pragma once
/// Parsing the agent's JSON envelope in the CLI, optionally keeping only some fields of
/// the objects of a list: `apps list` needs six fields of each app's twenty-odd; not
/// building the rest saved ~0.6 ms of CPU per call with 270 apps (docs/PERFORMANCE.md).
///
/// Thread: pure functions.
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace siax::cli {

/// The envelope in `raw`, or null when it is not JSON. With `keep`, each object directly
/// in the envelope's "data" array holds only the keys named in `keep` (everything else
/// in the envelope, "error" included, is kept whole).
[[nodiscard]] nlohmann::json parse_envelope(std::string_view raw, const std::set<std::string, std::less<>>* keep);

}  // namespace siax::cli
