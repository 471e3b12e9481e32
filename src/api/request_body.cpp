#include "api/request_body.h"

#include <algorithm>
#include <cctype>
#include <string>

#include <fmt/format.h>

namespace siax::api {

using nlohmann::json;

std::size_t json_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<json> parse_body(const http::Request& req) {
  if (json_depth(req.body, kMaxJsonDepth) > kMaxJsonDepth) {
    return fail(ErrorKind::InvalidInput, "json_too_deep",
                fmt::format("the body nests arrays or objects more than {} levels deep", kMaxJsonDepth));
  }
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    return fail(ErrorKind::InvalidInput, "invalid_json",
                "the body is not valid JSON: send a JSON object with Content-Type: application/json");
  }
  return j;
}

Result<bool> take_flag(json& body, const char* key) {
  if (!body.is_object() || !body.contains(key)) return false;
  auto v = body[key];
  body.erase(key);
  if (!v.is_boolean()) return fail(ErrorKind::InvalidInput, "invalid_field", fmt::format("'{}' must be true or false", key));
  return v.get<bool>();
}

std::optional<std::int64_t> query_int(const http::Request& req, const char* key) {
  const auto* v = req.query_param(key);
  if (v == nullptr) return std::nullopt;
  try {
    std::size_t used = 0;
    auto x = std::stoll(*v, &used);
    if (used != v->size()) return std::nullopt;
    return x;
  } catch (...) {
    return std::nullopt;
  }
}

bool is_json_content_type(std::optional<std::string_view> value) {
  if (!value) return false;
  std::string v(value->substr(0, value->find(';')));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v == "application/json";
}

}  // namespace siax::api
