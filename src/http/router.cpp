#include "http/router.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace siax::http {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_control(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool has_control(std::string_view s) noexcept { return std::any_of(s.begin(), s.end(), is_control); }

auto invalid(std::string code, std::string message) {
  return fail(ErrorKind::InvalidInput, std::move(code), std::move(message));
}

/// Splits "a/b/c" on '/', keeping empty pieces.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

Result<ParamMap> parse_query(std::string_view query, const TargetLimits& limits) {
  ParamMap out;
  if (query.empty()) return out;
  std::size_t count = 0;
  for (auto piece : split(query, '&')) {
    if (piece.empty()) continue;  // "a=1&&b=2"
    if (++count > limits.max_query_params) {
      return invalid("too_many_query_parameters",
                     fmt::format("the query has more than {} parameters", limits.max_query_params));
    }
    auto eq = piece.find('=');
    auto key = percent_decode(piece.substr(0, eq), true);
    if (!key) return tl::unexpected(key.error());
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1), true);
    if (!value) return tl::unexpected(value.error());
    if (key->empty()) return invalid("invalid_query", "a query parameter has an empty name");
    if (has_control(*key) || has_control(*value)) {
      return invalid("invalid_query", "query parameters must not contain control characters");
    }
    if (out.contains(*key)) {
      return invalid("duplicate_query_parameter", fmt::format("the query parameter '{}' is given twice", *key));
    }
    out.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

}  // namespace

Result<std::string> percent_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return invalid("invalid_percent_encoding", "a '%' in the target is not followed by two hex digits");
      }
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return invalid("invalid_percent_encoding", "a '%' in the target is not followed by two hex digits");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<ParsedTarget> parse_target(std::string_view target, const TargetLimits& limits) {
  if (target.size() > limits.max_target_bytes) {
    return invalid("target_too_long",
                   fmt::format("the request target is longer than {} bytes", limits.max_target_bytes));
  }
  if (target.empty() || target.front() != '/') {
    return invalid("invalid_target", "the request target must be an absolute path (origin-form), e.g. /api/health");
  }
  for (char c : target) {
    if (c == '#' || c == ' ' || is_control(c)) {
      return invalid("invalid_target", "the request target contains a character that is not allowed");
    }
  }
  ParsedTarget out;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  out.path = std::string(path);
  for (auto raw : split(path.substr(1), '/')) {
    if (raw == "." || raw == "..") return invalid("invalid_path", "'.' and '..' segments are not allowed in paths");
    auto seg = percent_decode(raw, false);
    if (!seg) return tl::unexpected(seg.error());
    if (*seg == "." || *seg == "..") return invalid("invalid_path", "'.' and '..' segments are not allowed in paths");
    if (has_control(*seg)) return invalid("invalid_path", "path segments must not contain NUL or control characters");
    out.segments.push_back(std::move(*seg));
  }
  if (qpos != std::string_view::npos) {
    auto query = parse_query(target.substr(qpos + 1), limits);
    if (!query) return tl::unexpected(query.error());
    out.query = std::move(*query);
  }
  return out;
}

std::string allow_header_value(std::span<const Method> allowed) {
  std::string out;
  for (auto m : allowed) {
    if (!out.empty()) out += ", ";
    out += std::string_view(boost::beast::http::to_string(m));
  }
  return out;
}

// --- RouteTable -------------------------------------------------------------------

struct RouteTable::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;      // ":name": one non-empty segment
  std::unique_ptr<Node> catch_all;  // "*name": the rest; always a leaf
  std::vector<std::pair<Method, RouteId>> methods;
};

struct RouteTable::Route {
  std::string pattern;
  /// Names of the route's parameters in path order (":a" and "*b" alike).
  std::vector<std::string> param_names;
};

RouteTable::RouteTable() : root_(std::make_unique<Node>()) {}
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

bool RouteTable::empty() const noexcept { return routes_.empty(); }

Status RouteTable::add(Method method, std::string_view pattern, RouteId id) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::InvalidInput, "invalid_route_pattern", fmt::format("route '{}': {}", pattern, why));
  };
  if (method == Method::unknown) return bad("unknown method");
  if (pattern.empty() || pattern.front() != '/') return bad("must start with '/'");
  if (pattern.find_first_of("?#") != std::string_view::npos) return bad("must not contain '?' or '#'");

  Route route{std::string(pattern), {}};
  Node* node = root_.get();
  auto segments = split(pattern.substr(1), '/');
  for (std::size_t i = 0; i < segments.size(); ++i) {
    auto seg = segments[i];
    if (!seg.empty() && (seg.front() == ':' || seg.front() == '*')) {
      auto name = seg.substr(1);
      if (name.empty()) return bad("a parameter needs a name");
      if (std::find(route.param_names.begin(), route.param_names.end(), name) != route.param_names.end()) {
        return bad(fmt::format("parameter '{}' appears twice", name));
      }
      route.param_names.emplace_back(name);
      auto& child = seg.front() == ':' ? node->param : node->catch_all;
      if (seg.front() == '*' && i + 1 != segments.size()) return bad("a catch-all '*' must be the last segment");
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    } else {
      auto it = node->literals.find(seg);
      if (it == node->literals.end()) it = node->literals.emplace(std::string(seg), std::make_unique<Node>()).first;
      node = it->second.get();
    }
  }
  for (const auto& [m, existing] : node->methods) {
    if (m == method) {
      return fail(ErrorKind::Conflict, "duplicate_route",
                  fmt::format("route '{} {}' has the same shape as '{}'",
                              std::string_view(boost::beast::http::to_string(method)), pattern,
                              routes_[existing].pattern));
    }
  }
  if (routes_.size() <= id) routes_.resize(id + 1);
  routes_[id] = std::move(route);
  node->methods.emplace_back(method, id);
  return ok();
}

RouteTable::Match RouteTable::match(Method method, std::span<const std::string> segments) const {
  Match out;
  std::vector<std::string> captures;  // parameter values in path order
  std::vector<Method> allowed;
  bool found = false;

  auto pick = [&](const Node& node) -> const std::pair<Method, RouteId>* {
    for (const auto& entry : node.methods) {
      if (entry.first == method) return &entry;
    }
    if (method == Method::head) {
      for (const auto& entry : node.methods) {
        if (entry.first == Method::get) return &entry;
      }
    }
    return nullptr;
  };
  auto at_leaf = [&](const Node& node) {
    if (node.methods.empty()) return;
    if (const auto* entry = pick(node)) {
      const auto& route = routes_[entry->second];
      out.outcome = RouteOutcome::Found;
      out.id = entry->second;
      out.pattern = route.pattern;
      for (std::size_t i = 0; i < route.param_names.size() && i < captures.size(); ++i) {
        out.params.emplace(route.param_names[i], captures[i]);
      }
      found = true;
      return;
    }
    for (const auto& entry : node.methods) allowed.push_back(entry.first);
  };
  // Depth-first in priority order. The depth is bounded by the longest pattern, so the
  // backtracking stays small whatever the request.
  auto walk = [&](auto& self, const Node& node, std::size_t i) -> void {
    if (found) return;
    if (i == segments.size()) {
      at_leaf(node);
      return;
    }
    const auto& seg = segments[i];
    if (auto it = node.literals.find(seg); it != node.literals.end()) self(self, *it->second, i + 1);
    if (found) return;
    if (node.param && !seg.empty()) {
      captures.push_back(seg);
      self(self, *node.param, i + 1);
      if (found) return;
      captures.pop_back();
    }
    if (node.catch_all) {
      std::string rest;
      for (std::size_t j = i; j < segments.size(); ++j) {
        if (j > i) rest += '/';
        rest += segments[j];
      }
      if (!rest.empty()) {
        captures.push_back(std::move(rest));
        at_leaf(*node.catch_all);
        if (found) return;
        captures.pop_back();
      }
    }
  };
  walk(walk, *root_, 0);
  if (found) return out;
  if (!allowed.empty()) {
    if (std::find(allowed.begin(), allowed.end(), Method::get) != allowed.end()) allowed.push_back(Method::head);
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    out.outcome = RouteOutcome::MethodNotAllowed;
    out.allowed = std::move(allowed);
  }
  return out;
}

}  // namespace siax::http
