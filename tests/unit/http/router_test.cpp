#include "http/router.h"

#include <gtest/gtest.h>

namespace siax::http {
namespace {

std::vector<std::string> segments_of(std::string_view target) {
  auto parsed = parse_target(target);
  EXPECT_TRUE(parsed) << target << ": " << (parsed ? "" : parsed.error().message);
  return parsed ? parsed->segments : std::vector<std::string>{};
}

std::string error_code_of(std::string_view target, const TargetLimits& limits = {}) {
  auto parsed = parse_target(target, limits);
  if (parsed) return "ok";
  EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidInput);
  return parsed.error().code;
}

TEST(RouterTarget, SplitsAndDecodesPathSegments) {
  EXPECT_EQ(segments_of("/"), (std::vector<std::string>{""}));
  EXPECT_EQ(segments_of("/api/health"), (std::vector<std::string>{"api", "health"}));
  EXPECT_EQ(segments_of("/api/apps/web%20ui"), (std::vector<std::string>{"api", "apps", "web ui"}));
  EXPECT_EQ(segments_of("/a/b%2Fc"), (std::vector<std::string>{"a", "b/c"}));  // split before decoding
  EXPECT_EQ(segments_of("/a/"), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(segments_of("/a+b"), (std::vector<std::string>{"a+b"}));  // '+' is literal in paths
  EXPECT_EQ(segments_of("/caf%C3%A9"), (std::vector<std::string>{"caf\xC3\xA9"}));
}

TEST(RouterTarget, ParsesTheQueryIntoAMap) {
  auto parsed = parse_target("/api/apps?lines=100&q=a+b%26c&flag&&empty=");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->path, "/api/apps");
  EXPECT_EQ(parsed->query.at("lines"), "100");
  EXPECT_EQ(parsed->query.at("q"), "a b&c");
  EXPECT_EQ(parsed->query.at("flag"), "");
  EXPECT_EQ(parsed->query.at("empty"), "");
  EXPECT_EQ(parsed->query.size(), 4U);
}

TEST(RouterTarget, RejectsTargetsThatAreNotCleanOriginForm) {
  EXPECT_EQ(error_code_of("http://example.com/api/health"), "invalid_target");
  EXPECT_EQ(error_code_of("*"), "invalid_target");
  EXPECT_EQ(error_code_of("example.com:443"), "invalid_target");
  EXPECT_EQ(error_code_of(""), "invalid_target");
  EXPECT_EQ(error_code_of("/a#frag"), "invalid_target");
  EXPECT_EQ(error_code_of(std::string("/a\0b", 4)), "invalid_target");
  EXPECT_EQ(error_code_of("/api/../etc/passwd"), "invalid_path");
  EXPECT_EQ(error_code_of("/api/./x"), "invalid_path");
  EXPECT_EQ(error_code_of("/api/%2e%2E/x"), "invalid_path");
  EXPECT_EQ(error_code_of("/api/.."), "invalid_path");
  EXPECT_EQ(error_code_of("/api/a%00b"), "invalid_path");
  EXPECT_EQ(error_code_of("/api/a%0Ab"), "invalid_path");
  EXPECT_EQ(error_code_of("/api/%zz"), "invalid_percent_encoding");
  EXPECT_EQ(error_code_of("/api/%4"), "invalid_percent_encoding");
  EXPECT_EQ(error_code_of("/api/%"), "invalid_percent_encoding");
  EXPECT_EQ(error_code_of("/a?x=%00"), "invalid_query");
  EXPECT_EQ(error_code_of("/a?=1"), "invalid_query");
  EXPECT_EQ(error_code_of("/a?x=1&x=2"), "duplicate_query_parameter");
  EXPECT_EQ(error_code_of("/a..b/..c/c.."), "ok");  // only whole dot segments are refused
}

TEST(RouterTarget, EnforcesLengthAndQueryLimits) {
  EXPECT_EQ(error_code_of("/" + std::string(2047, 'a')), "ok");
  EXPECT_EQ(error_code_of("/" + std::string(2048, 'a')), "target_too_long");
  TargetLimits limits;
  limits.max_query_params = 3;
  EXPECT_EQ(error_code_of("/a?a=1&b=2&c=3", limits), "ok");
  EXPECT_EQ(error_code_of("/a?a=1&b=2&c=3&d=4", limits), "too_many_query_parameters");
}

TEST(RouterTarget, PercentDecodeHandlesPlusOnlyWhenAsked) {
  EXPECT_EQ(*percent_decode("a+b%20c", true), "a b c");
  EXPECT_EQ(*percent_decode("a+b%20c", false), "a+b c");
  EXPECT_FALSE(percent_decode("%G0", false));
}

class RouterMatch : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [method, pattern, id] : std::initializer_list<std::tuple<Method, const char*, int>>{
             {Method::get, "/api/health", 1},
             {Method::get, "/api/apps", 2},
             {Method::get, "/api/apps/:name", 3},
             {Method::delete_, "/api/apps/:name", 4},
             {Method::post, "/api/apps/:name/start", 5},
             {Method::post, "/api/apps/register", 6},
             {Method::get, "/static/*path", 7},
             {Method::get, "/", 8},
         }) {
      ASSERT_TRUE(router_.add(method, pattern, id)) << pattern;
    }
  }

  BasicRouter<int>::Match match(Method method, std::string_view target) {
    return router_.match(method, segments_of(target));
  }

  BasicRouter<int> router_;
};

TEST_F(RouterMatch, FindsHandlersAndParameters) {
  auto m = match(Method::post, "/api/apps/web%20ui/start");
  ASSERT_EQ(m.outcome, RouteOutcome::Found);
  EXPECT_EQ(*m.handler, 5);
  EXPECT_EQ(m.pattern, "/api/apps/:name/start");
  EXPECT_EQ(m.params.at("name"), "web ui");

  m = match(Method::get, "/api/apps/orders");
  ASSERT_EQ(m.outcome, RouteOutcome::Found);
  EXPECT_EQ(*m.handler, 3);
  EXPECT_EQ(m.params.at("name"), "orders");

  EXPECT_EQ(*match(Method::delete_, "/api/apps/orders").handler, 4);
  EXPECT_EQ(*match(Method::get, "/api/health").handler, 1);
  EXPECT_EQ(*match(Method::get, "/").handler, 8);
}

TEST_F(RouterMatch, LiteralsWinOverParametersButFallBackPerMethod) {
  // POST /api/apps/register is a literal route; GET on it falls back to GET /api/apps/:name.
  auto post = match(Method::post, "/api/apps/register");
  ASSERT_EQ(post.outcome, RouteOutcome::Found);
  EXPECT_EQ(*post.handler, 6);
  auto get = match(Method::get, "/api/apps/register");
  ASSERT_EQ(get.outcome, RouteOutcome::Found);
  EXPECT_EQ(*get.handler, 3);
  EXPECT_EQ(get.params.at("name"), "register");
}

TEST_F(RouterMatch, DistinguishesNotFoundFromMethodNotAllowed) {
  EXPECT_EQ(match(Method::get, "/api/nope").outcome, RouteOutcome::NotFound);
  EXPECT_EQ(match(Method::get, "/api/apps/x/start/now").outcome, RouteOutcome::NotFound);
  EXPECT_EQ(match(Method::get, "/api/health/").outcome, RouteOutcome::NotFound);  // no trailing-slash magic
  EXPECT_EQ(match(Method::get, "/api/apps//start").outcome, RouteOutcome::NotFound);  // empty parameter

  auto m = match(Method::put, "/api/apps/orders");
  ASSERT_EQ(m.outcome, RouteOutcome::MethodNotAllowed);
  EXPECT_EQ(allow_header_value(m.allowed), "DELETE, GET, HEAD");

  m = match(Method::get, "/api/apps/orders/start");
  ASSERT_EQ(m.outcome, RouteOutcome::MethodNotAllowed);
  EXPECT_EQ(allow_header_value(m.allowed), "POST");

  m = match(Method::unknown, "/api/health");
  EXPECT_EQ(m.outcome, RouteOutcome::MethodNotAllowed);
}

TEST_F(RouterMatch, HeadFallsBackToGet) {
  auto m = match(Method::head, "/api/health");
  ASSERT_EQ(m.outcome, RouteOutcome::Found);
  EXPECT_EQ(*m.handler, 1);
}

TEST_F(RouterMatch, CatchAllTakesTheRestOfThePath) {
  auto m = match(Method::get, "/static/css/site%20main.css");
  ASSERT_EQ(m.outcome, RouteOutcome::Found);
  EXPECT_EQ(*m.handler, 7);
  EXPECT_EQ(m.params.at("path"), "css/site main.css");
  EXPECT_EQ(match(Method::get, "/static").outcome, RouteOutcome::NotFound);
  EXPECT_EQ(match(Method::get, "/static/").outcome, RouteOutcome::NotFound);
}

TEST(RouterAdd, RejectsBadAndDuplicatePatterns) {
  BasicRouter<int> router;
  auto code = [&](Method m, std::string_view pattern) {
    auto st = router.add(m, pattern, 0);
    return st ? std::string("ok") : st.error().code;
  };
  EXPECT_EQ(code(Method::get, "api/health"), "invalid_route_pattern");
  EXPECT_EQ(code(Method::get, ""), "invalid_route_pattern");
  EXPECT_EQ(code(Method::get, "/a/:"), "invalid_route_pattern");
  EXPECT_EQ(code(Method::get, "/a/:x/:x"), "invalid_route_pattern");
  EXPECT_EQ(code(Method::get, "/a/*rest/b"), "invalid_route_pattern");
  EXPECT_EQ(code(Method::get, "/a?x"), "invalid_route_pattern");
  EXPECT_EQ(code(Method::unknown, "/a"), "invalid_route_pattern");
  EXPECT_EQ(code(Method::get, "/apps/:name"), "ok");
  EXPECT_EQ(code(Method::post, "/apps/:name"), "ok");
  auto dup = router.add(Method::get, "/apps/:id", 1);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(dup.error().code, "duplicate_route");
}

TEST(RouterAdd, ParameterNamesArePerRoute) {
  BasicRouter<int> router;
  ASSERT_TRUE(router.add(Method::get, "/apps/:name", 1));
  ASSERT_TRUE(router.add(Method::post, "/apps/:id/start", 2));
  auto a = router.match(Method::get, segments_of("/apps/x"));
  EXPECT_EQ(a.params.at("name"), "x");
  auto b = router.match(Method::post, segments_of("/apps/y/start"));
  EXPECT_EQ(b.params.at("id"), "y");
  EXPECT_FALSE(b.params.contains("name"));
}

}  // namespace
}  // namespace siax::http
