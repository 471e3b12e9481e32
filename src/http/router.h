#pragma once
/// Request-target parsing and routing over method + path patterns.
///
/// Patterns are absolute paths whose segments are literals, parameters or a final
/// catch-all:
///   "/api/health"                 literal segments
///   "/api/apps/:name/start"       ":name" matches one non-empty segment
///   "/static/*path"               "*path" matches the rest (one or more segments),
///                                 joined with '/'; only as the last segment
/// Matching compares *decoded* segments. Priority at each level: literal, then
/// parameter, then catch-all; the first route (in that order) that has the method wins,
/// so `GET /a/:x` and `POST /a/b` coexist and `GET /a/b` reaches the former.
/// Segments are kept as sent: "/a/" is "a" plus an empty segment and does not match
/// "/a" (no trailing-slash redirects).
///
/// Threading: a router is built on one thread (before the server starts) and then only
/// read; concurrent `match` calls on a const router are safe.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/message.h"

namespace siax::http {

/// Bounds on what `parse_target` accepts.
struct TargetLimits {
  std::size_t max_target_bytes = 2048;  ///< longer targets: "target_too_long"
  std::size_t max_query_params = 32;    ///< more: "too_many_query_parameters"
};

/// An origin-form request-target split into decoded path segments and query.
struct ParsedTarget {
  std::string path;                   ///< raw path, e.g. "/api/apps/web%20ui"
  std::vector<std::string> segments;  ///< decoded: "/" -> {""}, "/a/b%20c" -> {"a", "b c"}
  ParamMap query;                     ///< decoded keys and values
};

/// Percent-decodes `text`; with `plus_as_space`, '+' becomes ' ' (query strings).
/// Errors (InvalidInput): "invalid_percent_encoding" for '%' not followed by two hex digits.
[[nodiscard]] Result<std::string> percent_decode(std::string_view text, bool plus_as_space);

/// Parses an origin-form target ("/path?query"). Errors, all ErrorKind::InvalidInput
/// (the server answers 400):
///   "target_too_long"            more than `limits.max_target_bytes`
///   "invalid_target"             not origin-form (absolute-form, "*", authority-form),
///                                or contains '#', whitespace or control characters
///   "invalid_percent_encoding"   a bad '%' escape
///   "invalid_path"               a "." or ".." segment (raw or percent-encoded), or a
///                                decoded segment with NUL or another control character
///   "invalid_query"              an empty key, or NUL / control characters once decoded
///   "duplicate_query_parameter"  the same key twice (no silent "last one wins")
///   "too_many_query_parameters"  more than `limits.max_query_params`
[[nodiscard]] Result<ParsedTarget> parse_target(std::string_view target, const TargetLimits& limits = {});

enum class RouteOutcome {
  Found,             ///< handler set, params extracted
  NotFound,          ///< no route has this path (404)
  MethodNotAllowed,  ///< the path exists but not for this method (405 + Allow)
};

/// `allowed` as an `Allow` header value, e.g. "GET, HEAD, DELETE".
[[nodiscard]] std::string allow_header_value(std::span<const Method> allowed);

/// The method-independent routing core: maps (method, pattern) to an integer id.
/// Used by `BasicRouter`; exposed so that other tables (WebSocket routes) can reuse it.
class RouteTable {
 public:
  using RouteId = std::size_t;

  struct Match {
    RouteOutcome outcome = RouteOutcome::NotFound;
    RouteId id = 0;            ///< when Found
    std::string_view pattern;  ///< when Found; lives as long as the table
    ParamMap params;           ///< when Found
    std::vector<Method> allowed;  ///< when MethodNotAllowed: sorted, HEAD implied by GET
  };

  RouteTable();
  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  /// Registers `method pattern` as `id`. Errors: InvalidInput "invalid_route_pattern"
  /// (not starting with '/', empty or duplicate parameter name, catch-all not last,
  /// unknown method); Conflict "duplicate_route" (same method and same shape, whatever
  /// the parameter names).
  [[nodiscard]] Status add(Method method, std::string_view pattern, RouteId id);

  /// Finds the route for decoded `segments`. HEAD falls back to GET when the path has no
  /// HEAD route (the server then strips the body).
  [[nodiscard]] Match match(Method method, std::span<const std::string> segments) const;

  [[nodiscard]] bool empty() const noexcept;

 private:
  struct Node;
  struct Route;
  std::unique_ptr<Node> root_;
  std::vector<Route> routes_;
};

/// Routes to values of type H (a `Handler`, a WebSocket handler, ...).
template <class H>
class BasicRouter {
 public:
  struct Match {
    RouteOutcome outcome = RouteOutcome::NotFound;
    const H* handler = nullptr;   ///< when Found; valid until the next `add`
    std::string_view pattern;     ///< when Found
    ParamMap params;              ///< when Found
    std::vector<Method> allowed;  ///< when MethodNotAllowed
  };

  /// See `RouteTable::add`.
  [[nodiscard]] Status add(Method method, std::string_view pattern, H handler) {
    auto st = table_.add(method, pattern, handlers_.size());
    if (!st) return st;
    handlers_.push_back(std::move(handler));
    return ok();
  }

  [[nodiscard]] Match match(Method method, std::span<const std::string> segments) const {
    auto m = table_.match(method, segments);
    Match out;
    out.outcome = m.outcome;
    if (m.outcome == RouteOutcome::Found) out.handler = &handlers_[m.id];
    out.pattern = m.pattern;
    out.params = std::move(m.params);
    out.allowed = std::move(m.allowed);
    return out;
  }

  [[nodiscard]] bool empty() const noexcept { return handlers_.empty(); }

 private:
  RouteTable table_;
  std::vector<H> handlers_;
};

/// The router of HTTP handlers.
using Router = BasicRouter<Handler>;

}  // namespace siax::http
