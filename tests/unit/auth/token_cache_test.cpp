// auth::TokenCache: lookups from memory, revoked tokens absent, the bound, the
// once-a-minute use marker, and lookups racing a reload.
#include "auth/token_cache.h"

#include <atomic>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace siax::auth {
namespace {

TokenRow row(std::int64_t id, bool revoked = false, std::optional<std::int64_t> used = std::nullopt) {
  return TokenRow{"hash-" + std::to_string(id), CachedToken{id, "t" + std::to_string(id), Role::Operator, used},
                  revoked};
}

TEST(TokenCacheTest, EmptyBeforeTheFirstLoad) {
  TokenCache c;
  EXPECT_FALSE(c.find("hash-1"));
  EXPECT_FALSE(c.stats().loaded);
}

TEST(TokenCacheTest, FindsActiveTokensAndNotRevokedOnes) {
  TokenCache c;
  EXPECT_EQ(c.replace({row(1), row(2, true), row(3)}), 0u);
  auto t = c.find("hash-1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, 1);
  EXPECT_EQ(t->name, "t1");
  EXPECT_EQ(t->role, Role::Operator);
  EXPECT_FALSE(c.find("hash-2"));
  EXPECT_TRUE(c.find("hash-3"));
  EXPECT_FALSE(c.find("hash-4"));
  EXPECT_FALSE(c.find(""));
  EXPECT_EQ(c.stats().tokens, 2u);
  EXPECT_TRUE(c.stats().loaded);
}

TEST(TokenCacheTest, AReloadDropsARevokedTokenAndAddsANewOne) {
  TokenCache c;
  (void)c.replace({row(1), row(2)});
  (void)c.replace({row(1, true), row(2), row(5)});
  EXPECT_FALSE(c.find("hash-1"));
  EXPECT_TRUE(c.find("hash-2"));
  EXPECT_TRUE(c.find("hash-5"));
  EXPECT_EQ(c.stats().loads, 2u);
}

TEST(TokenCacheTest, OverTheBoundTheNewestAreKeptAndTheRestCounted) {
  TokenCache c(3);
  EXPECT_EQ(c.replace({row(4), row(1), row(9, true), row(7), row(2), row(6)}), 2u);
  EXPECT_EQ(c.stats().tokens, 3u);
  EXPECT_EQ(c.stats().left_out, 2u);
  EXPECT_TRUE(c.find("hash-7"));
  EXPECT_TRUE(c.find("hash-6"));
  EXPECT_TRUE(c.find("hash-4"));
  EXPECT_FALSE(c.find("hash-2"));
  EXPECT_FALSE(c.find("hash-1"));
  EXPECT_EQ(c.replace({row(1), row(2)}), 0u);
  EXPECT_EQ(c.stats().left_out, 0u);
}

TEST(TokenCacheTest, AUseIsRecordedAtMostOncePerPeriod) {
  TokenCache c;
  (void)c.replace({row(1), row(2, false, 1'000)});
  EXPECT_TRUE(c.note_use("hash-1", 5'000, 60'000'000));  // never used
  EXPECT_FALSE(c.note_use("hash-1", 6'000, 60'000'000));
  EXPECT_FALSE(c.note_use("hash-1", 60'005'000, 60'000'000));
  EXPECT_TRUE(c.note_use("hash-1", 60'005'001, 60'000'000));
  EXPECT_FALSE(c.note_use("hash-2", 2'000, 60'000'000));  // used at 1,000
  EXPECT_TRUE(c.note_use("hash-2", 70'000'000, 60'000'000));
  EXPECT_FALSE(c.note_use("unknown", 1, 1));
}

TEST(TokenCacheTest, AReloadOfOlderRowsKeepsALaterUse) {
  TokenCache c;
  (void)c.replace({row(1)});
  EXPECT_TRUE(c.note_use("hash-1", 100'000'000, 60'000'000));
  // The reload read the table before the touch was written: it must not forget the use,
  // or the next request would record it again.
  (void)c.replace({row(1, false, 5)});
  EXPECT_FALSE(c.note_use("hash-1", 100'000'001, 60'000'000));
  EXPECT_EQ(c.find("hash-1")->last_used_usec, 100'000'000);
}

TEST(TokenCacheTest, LookupsWhileAnotherThreadReloads) {
  TokenCache c;
  (void)c.replace({row(1), row(2)});
  std::atomic<bool> stop{false};
  std::thread reloader([&] {
    for (int i = 0; i < 2'000; ++i) (void)c.replace({row(1), row(2), row(100 + (i % 7))});
    stop = true;
  });
  std::size_t found = 0, lookups = 0;
  while (!stop.load()) {
    found += c.find("hash-1") ? 1 : 0;
    found += c.find("hash-2") ? 1 : 0;
    lookups += 2;
  }
  reloader.join();
  EXPECT_EQ(found, lookups);  // never a window without the tokens that stay
}

}  // namespace
}  // namespace siax::auth
