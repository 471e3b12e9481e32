#pragma once
/// Parsing the agent's JSON envelope in the CLI, optionally keeping only some fields of
/// the objects of a list: `apps list` needs six fields of each app's twenty-odd; not
/// building the rest saved ~0.6 ms of CPU per call with 270 apps (docs/PERFORMANCE.md).
///
/// Also how a failed call's exception reads for a person (connection errors).
///
/// Thread: pure functions.
#include <exception>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace siax::cli {

/// The envelope in `raw`, or null when it is not JSON. With `keep`, each object directly
/// in the envelope's "data" array holds only the keys named in `keep` (everything else
/// in the envelope, "error" included, is kept whole).
[[nodiscard]] nlohmann::json parse_envelope(std::string_view raw, const std::set<std::string, std::less<>>* keep);

/// An exception's text for an error message: Boost's system errors ("connect: No such file
/// or directory") without the source location Boost appends ("[system:2 at
/// /usr/include/boost/asio/...:587:5 in function ...]"); other exceptions' what().
[[nodiscard]] std::string error_text(const std::exception& e);

}  // namespace siax::cli
