// The signed webhook's core (src/agent/webhook.h) with literal inputs and an explicit
// clock, and make_webhook_verifier (src/api/webhook_routes.h) over temporary files.
#include "agent/webhook.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "api/webhook_routes.h"

namespace siax::agent::webhook {
namespace {

constexpr std::string_view kSecret = "test-secret-0123456789";
constexpr std::int64_t kNow = 1'700'000'000;
const std::string kBody = R"({"action":"restart","app_name":"orders"})";

Settings settings(bool body_secret = false, std::size_t capacity = kDefaultReplayCapacity) {
  Settings s;
  s.secret = std::string(kSecret);
  s.max_age = std::chrono::seconds(300);
  s.allow = *AllowList::parse("orders:restart, api:*");
  s.allow_body_secret = body_secret;
  s.replay_capacity = capacity;
  return s;
}

struct Signed {
  std::string timestamp;
  std::string signature;
  std::string body;
  Presented presented() const { return {timestamp, signature, body}; }
};

Signed signed_request(std::int64_t ts, std::string body = kBody, std::string_view secret = kSecret) {
  const auto t = std::to_string(ts);
  return {t, sign(secret, t, body), std::move(body)};
}

std::string refusal_code(const Checked<Accepted>& r) { return r ? std::string("accepted") : r.error().code; }

/// No message ever carries the secret or a signature.
void expect_no_secret(const Checked<Accepted>& r, const Signed& s) {
  if (r) return;
  EXPECT_EQ(r.error().message.find(kSecret), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find(s.signature.substr(7, 16)), std::string::npos) << r.error().message;
}

// ---- sign() --------------------------------------------------------------------------

TEST(WebhookSign, MatchesOpensslDgstHmac) {
  // printf '%s' '1700000000.{"action":"restart","app_name":"orders"}' |
  //   openssl dgst -sha256 -hmac 'test-secret-0123456789'
  EXPECT_EQ(sign(kSecret, "1700000000", kBody),
            "sha256=783b1b5f7089a46f4a3f8034bc9177479daf025bdadd753fa5a1e825e2b3bac3");
}

// ---- signature mode -------------------------------------------------------------------

TEST(WebhookVerify, GoodSignatureIsAccepted) {
  Verifier v(settings());
  const auto s = signed_request(kNow - 10);
  auto r = v.verify(s.presented(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->command, (Command{"restart", "orders"}));
  EXPECT_EQ(r->mode, AuthMode::Signature);
  EXPECT_EQ(r->timestamp, kNow - 10);
}

TEST(WebhookVerify, UppercaseHexIsTheSameSignature) {
  Verifier v(settings());
  auto s = signed_request(kNow);
  for (auto& c : s.signature) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  s.signature.replace(0, 7, "sha256=");
  EXPECT_TRUE(v.verify(s.presented(), kNow));
}

TEST(WebhookVerify, WrongSignatureIsRefused) {
  Verifier v(settings());
  auto s = signed_request(kNow);
  s.signature.back() = s.signature.back() == '0' ? '1' : '0';
  auto r = v.verify(s.presented(), kNow);
  EXPECT_EQ(refusal_code(r), "bad_signature");
  EXPECT_EQ(r.error().refusal, Refusal::Unauthenticated);
  expect_no_secret(r, s);

  const auto other_key = signed_request(kNow, kBody, "another-secret-0123456789");
  EXPECT_EQ(refusal_code(v.verify(other_key.presented(), kNow)), "bad_signature");
}

TEST(WebhookVerify, TheSignatureCoversTheExactBodyAndTimestamp) {
  Verifier v(settings());
  auto s = signed_request(kNow);
  s.body += " ";  // one byte more than was signed
  EXPECT_EQ(refusal_code(v.verify(s.presented(), kNow)), "bad_signature");
  auto t = signed_request(kNow);
  t.timestamp = std::to_string(kNow - 1);  // another time than was signed
  EXPECT_EQ(refusal_code(v.verify(t.presented(), kNow)), "bad_signature");
}

TEST(WebhookVerify, MalformedSignatureHeaders) {
  Verifier v(settings());
  const auto good = signed_request(kNow);
  for (std::string bad : {std::string(""), good.signature.substr(7), "sha1=" + good.signature.substr(7),
                          good.signature + "00", good.signature.substr(0, good.signature.size() - 2),
                          good.signature.substr(0, good.signature.size() - 1) + "g"}) {
    Signed s = good;
    s.signature = bad;
    EXPECT_EQ(refusal_code(v.verify(s.presented(), kNow)), "invalid_signature_header") << bad;
  }
}

TEST(WebhookVerify, TimestampMustBePresentAndDigits) {
  Verifier v(settings());
  const auto good = signed_request(kNow);
  auto r = v.verify({std::nullopt, good.signature, good.body}, kNow);
  EXPECT_EQ(refusal_code(r), "missing_timestamp");
  for (std::string bad : {"", "abc", "-5", "1.5", " 1700000000", "1700000000 ", "+1700000000", "1234567890123"}) {
    EXPECT_EQ(refusal_code(v.verify({bad, good.signature, good.body}, kNow)), "invalid_timestamp") << bad;
  }
}

TEST(WebhookVerify, StaleTimestampIsRefusedAtTheEdgeOfTheWindow) {
  Verifier v(settings());
  EXPECT_TRUE(v.verify(signed_request(kNow - 300).presented(), kNow));  // exactly max_age: accepted
  const auto s = signed_request(kNow - 301);
  auto r = v.verify(s.presented(), kNow);
  EXPECT_EQ(refusal_code(r), "stale_timestamp");
  EXPECT_NE(r.error().message.find("301 s ago"), std::string::npos) << r.error().message;
}

TEST(WebhookVerify, FutureTimestampIsRefusedBeyondTheSkew) {
  Verifier v(settings());
  EXPECT_TRUE(v.verify(signed_request(kNow + 60).presented(), kNow));
  EXPECT_EQ(refusal_code(v.verify(signed_request(kNow + 61).presented(), kNow)), "future_timestamp");
  // A window shorter than the skew bounds the skew too.
  auto short_window = settings();
  short_window.max_age = std::chrono::seconds(20);
  Verifier w(std::move(short_window));
  EXPECT_TRUE(w.verify(signed_request(kNow + 20).presented(), kNow));
  EXPECT_EQ(refusal_code(w.verify(signed_request(kNow + 21).presented(), kNow)), "future_timestamp");
}

TEST(WebhookVerify, ReplayIsRefusedWhileInTheWindowThenStale) {
  Verifier v(settings());
  const auto s = signed_request(kNow);
  ASSERT_TRUE(v.verify(s.presented(), kNow));
  auto again = v.verify(s.presented(), kNow + 1);
  EXPECT_EQ(refusal_code(again), "replayed_request");
  EXPECT_EQ(again.error().refusal, Refusal::Unauthenticated);
  EXPECT_EQ(refusal_code(v.verify(s.presented(), kNow + 300)), "replayed_request");
  EXPECT_EQ(refusal_code(v.verify(s.presented(), kNow + 301)), "stale_timestamp");
  // Another body at the same second is another request.
  EXPECT_TRUE(v.verify(signed_request(kNow, R"({"action":"start","app_name":"orders"})").presented(), kNow + 1));
  EXPECT_EQ(v.remembered(), 2u);
}

TEST(WebhookVerify, AFullReplayCacheRefusesInsteadOfForgetting) {
  Verifier v(settings(false, 2));
  ASSERT_TRUE(v.verify(signed_request(kNow - 100).presented(), kNow));
  ASSERT_TRUE(v.verify(signed_request(kNow - 50).presented(), kNow));
  auto r = v.verify(signed_request(kNow).presented(), kNow);
  EXPECT_EQ(refusal_code(r), "replay_cache_full");
  EXPECT_EQ(r.error().refusal, Refusal::Busy);
  // The oldest leaves the window at kNow - 100 + 300: then there is room again.
  EXPECT_TRUE(v.verify(signed_request(kNow + 201).presented(), kNow + 201));
  // And the first one is still refused as stale, never accepted twice.
  EXPECT_EQ(refusal_code(v.verify(signed_request(kNow - 100).presented(), kNow + 201)), "stale_timestamp");
}

TEST(WebhookVerify, UnsignedIsRefusedWhenBodySecretIsOff) {
  Verifier v(settings());
  const std::string body = R"({"action":"restart","app_name":"orders","secret":"test-secret-0123456789"})";
  auto r = v.verify({std::nullopt, std::nullopt, body}, kNow);
  EXPECT_EQ(refusal_code(r), "signature_required");
  EXPECT_EQ(r.error().message.find(kSecret), std::string::npos);
  EXPECT_EQ(refusal_code(v.verify({std::to_string(kNow), std::nullopt, kBody}, kNow)), "signature_required");
}

TEST(WebhookVerify, MalformedBodiesAreRefusedAfterTheSignature) {
  Verifier v(settings());
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "invalid_json"},
      {R"(["restart","orders"])", "invalid_body"},
      {R"({"app_name":"orders"})", "invalid_body"},
      {R"({"action":1,"app_name":"orders"})", "invalid_body"},
      {R"({"action":"restart"})", "invalid_body"},
      {R"({"action":"restart","app_name":["orders"]})", "invalid_body"},
      {R"({"action":"enable","app_name":"orders"})", "invalid_action"},
      {R"({"action":"Restart","app_name":"orders"})", "invalid_action"},
      {R"({"action":"restart","app_name":"../etc"})", "invalid_app_name"},
      {R"({"action":"restart","app_name":""})", "invalid_app_name"},
      {R"({"action":"restart","app_name":"orders","force":true})", "unknown_field"},
      {R"({"action":"restart","app_name":"orders","secret":"x"})", "unknown_field"},
  };
  std::int64_t t = kNow - 100;
  for (const auto& [body, code] : cases) {
    const auto s = signed_request(++t, body);
    auto r = v.verify(s.presented(), kNow);
    EXPECT_EQ(refusal_code(r), code) << body;
    if (!r) {
      EXPECT_EQ(r.error().refusal, Refusal::InvalidBody) << body;
    }
    // Unsigned, the same body is refused for its signature, not for its shape.
    auto forged = s;
    forged.signature = sign("wrong-secret-0123456789", forged.timestamp, forged.body);
    EXPECT_EQ(refusal_code(v.verify(forged.presented(), kNow)), "bad_signature") << body;
  }
}

// ---- body-secret mode ------------------------------------------------------------------

const std::string kSecretBody = R"({"action":"restart","app_name":"orders","secret":"test-secret-0123456789"})";

TEST(WebhookBodySecret, RightSecretIsAcceptedWhenEnabled) {
  Verifier v(settings(true));
  auto r = v.verify({std::nullopt, std::nullopt, kSecretBody}, kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, AuthMode::BodySecret);
  EXPECT_EQ(r->command, (Command{"restart", "orders"}));
  EXPECT_FALSE(r->timestamp);
}

TEST(WebhookBodySecret, WrongOrMissingSecretIsRefused) {
  Verifier v(settings(true));
  for (const char* body : {R"({"action":"restart","app_name":"orders","secret":"test-secret-012345678"})",
                           R"({"action":"restart","app_name":"orders","secret":"test-secret-01234567890"})",
                           R"({"action":"restart","app_name":"orders","secret":""})"}) {
    auto r = v.verify({std::nullopt, std::nullopt, body}, kNow);
    EXPECT_EQ(refusal_code(r), "bad_secret") << body;
    EXPECT_EQ(r.error().message.find(kSecret.substr(0, 12)), std::string::npos);
  }
  EXPECT_EQ(refusal_code(v.verify({std::nullopt, std::nullopt, kBody}, kNow)), "signature_required");
  EXPECT_EQ(refusal_code(v.verify({std::nullopt, std::nullopt,
                                   R"({"action":"restart","app_name":"orders","secret":1})"},
                                  kNow)),
            "invalid_body");
}

TEST(WebhookBodySecret, ATimestampHeaderBringsTheWindowAndReplays) {
  Verifier v(settings(true));
  const auto ts = std::to_string(kNow);
  auto r = v.verify({ts, std::nullopt, kSecretBody}, kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->timestamp, kNow);
  EXPECT_EQ(refusal_code(v.verify({ts, std::nullopt, kSecretBody}, kNow + 1)), "replayed_request");
  EXPECT_EQ(refusal_code(v.verify({std::to_string(kNow - 301), std::nullopt, kSecretBody}, kNow)), "stale_timestamp");
  EXPECT_EQ(refusal_code(v.verify({std::to_string(kNow + 61), std::nullopt, kSecretBody}, kNow)),
            "future_timestamp");
  // Without the header nothing is remembered (the weaker mode's limit).
  EXPECT_TRUE(v.verify({std::nullopt, std::nullopt, kSecretBody}, kNow));
  EXPECT_TRUE(v.verify({std::nullopt, std::nullopt, kSecretBody}, kNow));
}

TEST(WebhookBodySecret, ASignatureHeaderMeansSignatureMode) {
  Verifier v(settings(true));
  const auto s = signed_request(kNow, kSecretBody);
  EXPECT_EQ(refusal_code(v.verify(s.presented(), kNow)), "unknown_field");
  EXPECT_TRUE(v.verify(signed_request(kNow).presented(), kNow));
}

// ---- the allow-list --------------------------------------------------------------------

TEST(WebhookAllowList, RulesWithWildcards) {
  auto list = AllowList::parse(" orders:restart,api:*\n\t*:start ,");
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_TRUE(list->allows({"restart", "orders"}));
  EXPECT_FALSE(list->allows({"stop", "orders"}));
  EXPECT_TRUE(list->allows({"start", "orders"}));
  EXPECT_TRUE(list->allows({"stop", "api"}));
  EXPECT_TRUE(list->allows({"start", "anything"}));
  EXPECT_FALSE(list->allows({"restart", "anything"}));
  EXPECT_FALSE(list->allows({"restart", "Orders"}));  // names are case-sensitive
  EXPECT_EQ(list->describe(), "orders:restart, api:*, *:start");
}

TEST(WebhookAllowList, EmptyAllowsNothing) {
  for (const char* text : {"", "  ", ",,"}) {
    auto list = AllowList::parse(text);
    ASSERT_TRUE(list) << text;
    EXPECT_TRUE(list->empty());
    EXPECT_FALSE(list->allows({"restart", "orders"}));
  }
}

TEST(WebhookAllowList, BadRulesAreNamed) {
  for (const char* text : {"orders", "orders:enable", "../x:start", ":start", "orders:", "a:b:c", "orders:restart;x"}) {
    auto list = AllowList::parse(text);
    ASSERT_FALSE(list) << text;
    EXPECT_EQ(list.error().code, "invalid_webhook_allow");
    EXPECT_NE(list.error().message.find("webhook.allow"), std::string::npos) << list.error().message;
  }
}

TEST(WebhookAllowList, VerifierAuthorizesWithOneAnswerForEveryRefusal) {
  Verifier v(settings());
  EXPECT_TRUE(v.authorize({"restart", "orders"}));
  auto stop = v.authorize({"stop", "orders"});
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().code, "not_allowed");
  EXPECT_EQ(stop.error().kind, ErrorKind::PermissionDenied);
  // A disallowed app and an app that does not exist get the same error.
  auto other = v.authorize({"restart", "payments"});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().message, not_allowed({"restart", "payments"}).message);
  EXPECT_EQ(other.error().code, not_allowed({"restart", "payments"}).code);
}

// ---- the replay cache ------------------------------------------------------------------

TEST(WebhookReplayCache, ForgetsOnlyAfterKeepUntil) {
  ReplayCache cache(10);
  EXPECT_EQ(cache.remember("a", 100, 50), ReplayCache::Outcome::Fresh);
  EXPECT_EQ(cache.remember("a", 100, 100), ReplayCache::Outcome::Replayed);
  EXPECT_EQ(cache.remember("b", 200, 100), ReplayCache::Outcome::Fresh);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.remember("a", 300, 101), ReplayCache::Outcome::Fresh);  // "a" expired at 100
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace siax::agent::webhook

// ---- make_webhook_verifier (reads the secret file) ----------------------------------------

namespace siax::agent {
namespace {

using api::make_webhook_verifier;
using api::WebhookOptions;

class WebhookSecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/siax-webhook-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& content, mode_t mode) {
    const auto path = dir_ + "/secret";
    std::ofstream(path, std::ios::trunc) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

constexpr std::string_view kFileSecret = "0123456789abcdef0123456789abcdef";

TEST_F(WebhookSecretFile, NoSecretMeansOff) {
  auto v = make_webhook_verifier({});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, nullptr);
}

TEST_F(WebhookSecretFile, AnOwnerOnlyFileIsRead) {
  WebhookOptions o;
  o.secret_file = write(std::string(kFileSecret) + "\n", 0600);
  o.allow = "orders:restart";
  auto v = make_webhook_verifier(o);
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_NE(*v, nullptr);
  EXPECT_EQ((*v)->settings().secret, kFileSecret);  // the newline is not part of it
  const auto ts = std::to_string(1'700'000'000);
  const std::string body = R"({"action":"restart","app_name":"orders"})";
  EXPECT_TRUE((*v)->verify({ts, webhook::sign(kFileSecret, ts, body), body}, 1'700'000'000));
}

TEST_F(WebhookSecretFile, AFileOthersCanReadIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    WebhookOptions o;
    o.secret_file = write(std::string(kFileSecret), mode);
    auto v = make_webhook_verifier(o);
    ASSERT_FALSE(v) << mode;
    EXPECT_EQ(v.error().code, "webhook_secret_unsafe");
    EXPECT_NE(v.error().message.find("chmod 600"), std::string::npos) << v.error().message;
    EXPECT_EQ(v.error().message.find(kFileSecret), std::string::npos);
  }
}

TEST_F(WebhookSecretFile, ShortMissingOrBadSecretsAreRefused) {
  WebhookOptions o;
  o.secret_file = write("short\n", 0600);
  auto v = make_webhook_verifier(o);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, "webhook_secret_invalid");
  EXPECT_EQ(v.error().message.find("short"), std::string::npos);

  o.secret_file = write("0123456789abcdef\x01" "0123", 0600);
  EXPECT_EQ(make_webhook_verifier(o).error().code, "webhook_secret_invalid");

  o.secret_file = dir_ + "/none";
  v = make_webhook_verifier(o);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, "webhook_secret_unreadable");
  EXPECT_EQ(v.error().kind, ErrorKind::NotFound);

  o.secret_file = dir_;  // a directory
  EXPECT_EQ(make_webhook_verifier(o).error().code, "webhook_secret_unsafe");
}

TEST_F(WebhookSecretFile, InlineSecretAndBadAllowList) {
  WebhookOptions o;
  o.secret = std::string(kFileSecret);
  auto v = make_webhook_verifier(o);
  ASSERT_TRUE(v && *v);
  EXPECT_TRUE((*v)->settings().allow.empty());
  o.allow = "orders:reboot";
  v = make_webhook_verifier(o);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, "invalid_webhook_allow");
  o.secret.clear();  // off, but a wrong rule is still an error
  EXPECT_FALSE(make_webhook_verifier(o));
}

}  // namespace
}  // namespace siax::agent

namespace siax::agent::webhook {
namespace {

TEST(WebhookRefusalDigest, TheFirstRefusalIsWrittenThenOneSummaryPerWindow) {
  RefusalDigest d(std::chrono::seconds(60));
  auto first = d.note("bad_signature", "10.0.0.1", kNow);
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("1 unauthenticated request(s) refused (bad_signature 1), the last from 10.0.0.1"),
            std::string::npos)
      << *first;
  // A flood inside the window: counted, nothing written.
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_FALSE(d.note(i % 3 == 0 ? "stale_timestamp" : "bad_signature", "10.0.0.2", kNow + 1 + i / 200));
  }
  EXPECT_FALSE(d.note("replayed_request", "10.0.0.3", kNow + 59));
  // The first refusal after the window carries everything since the last entry.
  auto next = d.note("bad_signature", "10.0.0.4", kNow + 60);
  ASSERT_TRUE(next);
  EXPECT_NE(next->find("10002 unauthenticated request(s) refused (bad_signature 6667, replayed_request 1, "
                       "stale_timestamp 3334), the last from 10.0.0.4"),
            std::string::npos)
      << *next;
  // Then it starts over.
  EXPECT_FALSE(d.note("bad_signature", "10.0.0.5", kNow + 61));
  auto third = d.note("bad_signature", "10.0.0.5", kNow + 200);
  ASSERT_TRUE(third);
  EXPECT_NE(third->find("2 unauthenticated request(s) refused (bad_signature 2)"), std::string::npos) << *third;
}

TEST(WebhookRefusalDigest, CodesAreBounded) {
  RefusalDigest d(std::chrono::seconds(60));
  (void)d.note("first", "a", kNow);
  for (std::size_t i = 0; i < 3 * RefusalDigest::kMaxCodes; ++i) {
    EXPECT_FALSE(d.note("code-" + std::to_string(i), "a", kNow + 1));
  }
  auto s = d.note("last", "a", kNow + 61);
  ASSERT_TRUE(s);
  EXPECT_NE(s->find("other "), std::string::npos) << *s;
  EXPECT_EQ(s->find("code-40 "), std::string::npos) << *s;
}

}  // namespace
}  // namespace siax::agent::webhook
