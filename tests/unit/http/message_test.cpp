#include "http/message.h"

#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace siax::http {
namespace {

using nlohmann::json;

TEST(HttpHeaders, LookupIsCaseInsensitiveAndKeepsOrder) {
  Headers h;
  h.add("Content-Type", "application/json");
  h.add("X-Token", "a");
  h.add("x-token", "b");
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_EQ(h.get("X-TOKEN"), "a");
  EXPECT_FALSE(h.get("missing"));
  h.set("X-Token", "c");
  EXPECT_EQ(h.get("x-token"), "c");
  EXPECT_EQ(h.size(), 2U);
  h.erase("CONTENT-TYPE");
  EXPECT_FALSE(h.contains("content-type"));
}

TEST(HttpEnvelope, SuccessWrapsData) {
  auto res = json_success(json{{"name", "orders"}}, StatusCode::created);
  EXPECT_EQ(res.status, StatusCode::created);
  EXPECT_EQ(res.content_type, "application/json");
  auto body = json::parse(res.body);
  EXPECT_EQ(body, (json{{"success", true}, {"data", {{"name", "orders"}}}, {"error", nullptr}}));
}

TEST(HttpEnvelope, FailureCarriesCodeMessageAndRetryAfter) {
  auto res = json_failure(StatusCode::too_many_requests, "rate_limited", "one operation per second",
                          std::chrono::seconds(0));
  EXPECT_EQ(res.status, StatusCode::too_many_requests);
  EXPECT_EQ(res.headers.get("Retry-After"), "1");  // never "0"
  auto body = json::parse(res.body);
  EXPECT_EQ(body["success"], false);
  EXPECT_TRUE(body["data"].is_null());
  EXPECT_EQ(body["error"], (json{{"code", "rate_limited"}, {"message", "one operation per second"}}));
}

TEST(HttpEnvelope, ErrorKindsMapToStatuses) {
  EXPECT_EQ(status_for(ErrorKind::InvalidInput), StatusCode::bad_request);
  EXPECT_EQ(status_for(ErrorKind::NotFound), StatusCode::not_found);
  EXPECT_EQ(status_for(ErrorKind::PermissionDenied), StatusCode::forbidden);
  EXPECT_EQ(status_for(ErrorKind::Conflict), StatusCode::conflict);
  EXPECT_EQ(status_for(ErrorKind::RateLimited), StatusCode::too_many_requests);
  EXPECT_EQ(status_for(ErrorKind::Unavailable), StatusCode::service_unavailable);
  EXPECT_EQ(status_for(ErrorKind::Timeout), StatusCode::gateway_timeout);
  EXPECT_EQ(status_for(ErrorKind::OperationFailed), StatusCode::internal_server_error);
  EXPECT_EQ(status_for(ErrorKind::Internal), StatusCode::internal_server_error);
}

TEST(HttpEnvelope, ErrorResponseFromSiaxError) {
  Error err{ErrorKind::RateLimited, "rate_limited", "wait a second", {{std::string(kRetryAfterDetail), "3"}}};
  auto res = error_response(err);
  EXPECT_EQ(res.status, StatusCode::too_many_requests);
  EXPECT_EQ(res.headers.get("Retry-After"), "3");
  auto body = json::parse(res.body);
  EXPECT_EQ(body["error"]["code"], "rate_limited");
  EXPECT_EQ(body["error"]["message"], "wait a second");
  EXPECT_EQ(body["error"]["details"][std::string(kRetryAfterDetail)], "3");

  auto explicit_delay = error_response(err, std::chrono::seconds(10));
  EXPECT_EQ(explicit_delay.headers.get("Retry-After"), "10");

  auto plain = error_response(Error{ErrorKind::NotFound, "app_not_found", "no app 'x'"});
  EXPECT_EQ(plain.status, StatusCode::not_found);
  EXPECT_FALSE(plain.headers.contains("Retry-After"));
  EXPECT_FALSE(json::parse(plain.body)["error"].contains("details"));
}

TEST(HttpEnvelope, InvalidUtf8InMessagesDoesNotThrow) {
  auto res = json_failure(StatusCode::bad_request, "bad", std::string("name \xff\xfe"));
  EXPECT_TRUE(json::accept(res.body));
}

TEST(HttpResponder, FirstSendWinsFromAnyThread) {
  std::atomic<int> delivered{0};
  std::string body;
  Responder responder([&](Response r) {
    ++delivered;
    body = r.body;
  });
  Responder copy = responder;
  std::thread other([copy] { EXPECT_TRUE(copy.send(Response{StatusCode::ok, "text/plain", "from thread", {}, false})); });
  other.join();
  EXPECT_TRUE(responder.sent());
  EXPECT_FALSE(responder.send(Response{}));
  EXPECT_EQ(delivered.load(), 1);
  EXPECT_EQ(body, "from thread");
}

TEST(HttpResponder, DroppedWithoutSendAnswers500) {
  std::optional<Response> got;
  {
    Responder responder([&](Response r) { got = std::move(r); });
    Responder copy = responder;  // NOLINT(performance-unnecessary-copy-initialization)
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, StatusCode::internal_server_error);
  EXPECT_EQ(json::parse(got->body)["error"]["code"], "no_response");
}

}  // namespace
}  // namespace siax::http
