#include "auth/sessions.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "support/manual_clock.h"

namespace siax::auth {
namespace {

using namespace std::chrono_literals;
using siax::test::ManualClock;

TEST(Sessions, CreateReturnsRandomIdAndSeparateCsrfToken) {
  ManualClock clock;
  SessionStore store(clock);
  auto s = store.create("alice", Role::Admin);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->id.size(), 43u);
  EXPECT_EQ(s->csrf_token.size(), 43u);
  EXPECT_NE(s->id, s->csrf_token);
  EXPECT_EQ(s->id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(s->username, "alice");
  EXPECT_EQ(s->role, Role::Admin);
  EXPECT_EQ(s->created, clock.now());
  EXPECT_EQ(s->expires_at, clock.now() + 8h);
}

TEST(Sessions, IdsAreUnique) {
  ManualClock clock;
  SessionStore store(clock);
  std::set<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    auto s = store.create("u", Role::Viewer);
    ASSERT_TRUE(s);
    EXPECT_TRUE(ids.insert(s->id).second);
    EXPECT_TRUE(ids.insert(s->csrf_token).second);
  }
}

TEST(Sessions, FindReturnsTheSession) {
  ManualClock clock;
  SessionStore store(clock);
  auto s = store.create("alice", Role::Operator).value();
  auto found = store.find(s.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->username, "alice");
  EXPECT_EQ(found->role, Role::Operator);
  EXPECT_EQ(found->csrf_token, s.csrf_token);
  EXPECT_FALSE(store.find("unknown"));
  EXPECT_FALSE(store.find(""));
}

TEST(Sessions, IdleTimeoutExpires) {
  ManualClock clock;
  SessionStore store(clock);
  auto s = store.create("alice", Role::Admin).value();
  clock.advance(8h - 1s);
  EXPECT_TRUE(store.find(s.id));  // renews: 8 h from now
  clock.advance(8h);
  EXPECT_FALSE(store.find(s.id));  // exactly 8 h idle
  EXPECT_EQ(store.size(), 0u);     // and removed
}

TEST(Sessions, IdleTimeoutSlidesWithUse) {
  ManualClock clock;
  SessionStore store(clock, {std::chrono::hours(1), std::chrono::hours(24), 1000});
  auto s = store.create("alice", Role::Admin).value();
  for (int i = 0; i < 10; ++i) {
    clock.advance(50min);
    auto found = store.find(s.id);
    ASSERT_TRUE(found) << i;
    EXPECT_EQ(found->last_seen, clock.now());
    EXPECT_EQ(found->expires_at, clock.now() + 1h);
  }
}

TEST(Sessions, AbsoluteLifetimeIsNotExtendedByUse) {
  ManualClock clock;
  SessionStore store(clock);  // 8 h idle, 24 h absolute
  auto s = store.create("alice", Role::Admin).value();
  for (int i = 0; i < 23; ++i) {
    clock.advance(1h);
    ASSERT_TRUE(store.find(s.id)) << i;
  }
  clock.advance(59min);
  auto last = store.find(s.id);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->expires_at, s.created + 24h);  // capped by the absolute lifetime
  clock.advance(1min);                           // exactly 24 h after creation
  EXPECT_FALSE(store.find(s.id));
}

TEST(Sessions, RemoveLogsOut) {
  ManualClock clock;
  SessionStore store(clock);
  auto s = store.create("alice", Role::Admin).value();
  EXPECT_TRUE(store.remove(s.id));
  EXPECT_FALSE(store.remove(s.id));
  EXPECT_FALSE(store.find(s.id));
}

TEST(Sessions, RemoveUserEndsAllTheirSessions) {
  ManualClock clock;
  SessionStore store(clock);
  auto a1 = store.create("alice", Role::Admin).value();
  auto a2 = store.create("alice", Role::Admin).value();
  auto b = store.create("bob", Role::Viewer).value();
  EXPECT_EQ(store.remove_user("alice"), 2u);
  EXPECT_FALSE(store.find(a1.id));
  EXPECT_FALSE(store.find(a2.id));
  EXPECT_TRUE(store.find(b.id));
}

TEST(Sessions, RetainCurrentEndsSessionsWhoseCredentialsChangedOrWhoseUserWent) {
  ManualClock clock;
  SessionStore store(clock);
  auto kept = store.create("alice", Role::Admin, "hash-1|2").value();
  auto changed = store.create("bob", Role::Viewer, "old-hash|0").value();
  auto gone = store.create("carol", Role::Viewer, "hash-c|0").value();
  const std::map<std::string, std::string> now = {{"alice", "hash-1|2"}, {"bob", "new-hash|0"}};
  auto ended = store.retain_current([&](const std::string& user) -> std::optional<std::string> {
    auto it = now.find(user);
    if (it == now.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_EQ(ended, 2u);
  EXPECT_TRUE(store.find(kept.id));
  EXPECT_FALSE(store.find(changed.id));
  EXPECT_FALSE(store.find(gone.id));
}

TEST(Sessions, StoreIsBoundedAndEvictsTheLeastRecentlyUsed) {
  ManualClock clock;
  SessionStore store(clock, {std::chrono::hours(8), std::chrono::hours(24), 3});
  auto a = store.create("a", Role::Viewer).value();
  clock.advance(1s);
  auto b = store.create("b", Role::Viewer).value();
  clock.advance(1s);
  auto c = store.create("c", Role::Viewer).value();
  clock.advance(1s);
  ASSERT_TRUE(store.find(a.id));  // a is now the most recently used; b the least
  auto d = store.create("d", Role::Viewer).value();
  EXPECT_EQ(store.size(), 3u);
  EXPECT_FALSE(store.find(b.id));
  EXPECT_TRUE(store.find(a.id));
  EXPECT_TRUE(store.find(c.id));
  EXPECT_TRUE(store.find(d.id));
}

TEST(Sessions, FullStoreDropsExpiredSessionsBeforeEvictingLiveOnes) {
  ManualClock clock;
  SessionStore store(clock, {std::chrono::hours(1), std::chrono::hours(24), 2});
  auto old = store.create("old", Role::Viewer).value();
  clock.advance(30min);
  auto live = store.create("live", Role::Viewer).value();
  clock.advance(31min);  // old expired (61 min idle), live has 29 min left
  auto fresh = store.create("fresh", Role::Viewer).value();
  EXPECT_TRUE(store.find(live.id));
  EXPECT_TRUE(store.find(fresh.id));
  EXPECT_FALSE(store.find(old.id));
}

TEST(Sessions, DefaultBoundIsAThousand) {
  ManualClock clock;
  SessionStore store(clock);
  EXPECT_EQ(store.options().max_sessions, 1000u);
  for (int i = 0; i < 1100; ++i) ASSERT_TRUE(store.create("u" + std::to_string(i), Role::Viewer));
  EXPECT_EQ(store.size(), 1000u);
}

TEST(Csrf, ChecksTheSessionsToken) {
  ManualClock clock;
  SessionStore store(clock);
  auto s = store.create("alice", Role::Admin).value();
  EXPECT_TRUE(check_csrf(s, s.csrf_token));
  EXPECT_FALSE(check_csrf(s, ""));
  EXPECT_FALSE(check_csrf(s, s.id));
  EXPECT_FALSE(check_csrf(s, s.csrf_token.substr(1)));
  EXPECT_FALSE(check_csrf(s, s.csrf_token + "x"));
  std::string flipped = s.csrf_token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(check_csrf(s, flipped));
  Session empty;
  EXPECT_FALSE(check_csrf(empty, ""));
}

TEST(Cookies, SetCookieValue) {
  EXPECT_EQ(session_cookie("abc", std::chrono::hours(24), false),
            "siax_session=abc; Path=/; Max-Age=86400; HttpOnly; SameSite=Strict");
  EXPECT_EQ(session_cookie("abc", std::chrono::seconds(60), true),
            "__Host-siax_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(clear_session_cookie(false), "siax_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
  EXPECT_EQ(clear_session_cookie(true),
            "__Host-siax_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure");
}

TEST(Cookies, ParseCookieHeader) {
  auto pairs = parse_cookie_header("a=1; siax_session=xyz;b=2 ;  c = 3 ; flag; =novalue; d=\"quoted\"; e=");
  ASSERT_EQ(pairs.size(), 6u);
  EXPECT_EQ(pairs[0], (std::pair<std::string_view, std::string_view>{"a", "1"}));
  EXPECT_EQ(pairs[1], (std::pair<std::string_view, std::string_view>{"siax_session", "xyz"}));
  EXPECT_EQ(pairs[2], (std::pair<std::string_view, std::string_view>{"b", "2"}));
  EXPECT_EQ(pairs[3], (std::pair<std::string_view, std::string_view>{"c", "3"}));
  EXPECT_EQ(pairs[4], (std::pair<std::string_view, std::string_view>{"d", "quoted"}));
  EXPECT_EQ(pairs[5], (std::pair<std::string_view, std::string_view>{"e", ""}));
  EXPECT_TRUE(parse_cookie_header("").empty());
  EXPECT_TRUE(parse_cookie_header(";;; ;").empty());
}

TEST(Cookies, SessionIdFromCookieHeader) {
  EXPECT_EQ(session_id_from_cookie_header("siax_session=abc"), "abc");
  EXPECT_EQ(session_id_from_cookie_header("theme=dark; siax_session=abc; x=y"), "abc");
  EXPECT_EQ(session_id_from_cookie_header("siax_session=first; siax_session=second"), "first");
  EXPECT_FALSE(session_id_from_cookie_header(""));
  EXPECT_FALSE(session_id_from_cookie_header("siax_session="));
  EXPECT_FALSE(session_id_from_cookie_header("other_siax_session=abc"));
  EXPECT_FALSE(session_id_from_cookie_header("SIAX_SESSION=abc"));  // cookie names are case-sensitive
  EXPECT_FALSE(session_id_from_cookie_header("siax_sessionx=abc"));
  // Under TLS only the __Host- cookie counts: a plain one may have been planted by a sibling domain.
  EXPECT_FALSE(session_id_from_cookie_header("siax_session=abc", true));
  EXPECT_EQ(session_id_from_cookie_header("siax_session=planted; __Host-siax_session=real", true), "real");
}

TEST(Cookies, RoundTripWithAStoreSession) {
  ManualClock clock;
  SessionStore store(clock);
  auto s = store.create("alice", Role::Admin).value();
  const std::string set_cookie = session_cookie(s.id, store.options().absolute_lifetime, true);
  // The browser sends back the name=value part.
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  auto id = session_id_from_cookie_header("lang=en; " + cookie, true);
  ASSERT_TRUE(id);
  EXPECT_TRUE(store.find(*id));
}

}  // namespace
}  // namespace siax::auth
