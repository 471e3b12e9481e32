// agent::TokenSync over a real SQLite registry in a temporary directory: a token added or
// revoked through a second connection (as `siax-agent token create|revoke` does from its
// own process) reaches the in-memory cache through the inotify watch, well before the
// periodic reload.
#include "agent/token_sync.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include "registry/sqlite_registry.h"

namespace siax::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/var/tmp/siax-token-sync-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Runs `ioc` until `done()` holds or `limit` passes; how long it took.
template <class Pred>
std::chrono::milliseconds run_until(boost::asio::io_context& ioc, Pred done, std::chrono::milliseconds limit) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!done() && std::chrono::steady_clock::now() - t0 < limit) {
    ioc.restart();
    ioc.run_for(5ms);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

TEST(TokenSyncTest, TokensWrittenByAnotherConnectionReachTheCacheAtOnce) {
  TempDir dir;
  const std::string db = dir.file("registry.db");
  auto agent_reg = registry::SqliteRegistry::open(db);
  ASSERT_TRUE(agent_reg) << agent_reg.error().message;
  ASSERT_TRUE((*agent_reg)->add_token("first", registry::Role::Admin, "h-first", 1));

  boost::asio::io_context ioc;
  WorkerPool workers(2, 16);
  auth::TokenCache cache;
  TokenSyncOptions opts;
  opts.period = std::chrono::milliseconds(60'000);  // only the watch can be fast
  TokenSync sync(ioc, workers, **agent_reg, cache, db, opts);
  ASSERT_TRUE(sync.load_now());
  ASSERT_TRUE(cache.find("h-first"));
  EXPECT_EQ(cache.find("h-first")->role, auth::Role::Admin);
  sync.start();
  EXPECT_TRUE(sync.stats().watching);

  // "The CLI": its own connection to the same file.
  auto cli = registry::SqliteRegistry::open(db);
  ASSERT_TRUE(cli);
  auto id = (*cli)->add_token("second", registry::Role::Viewer, "h-second", 2);
  ASSERT_TRUE(id);
  auto took = run_until(ioc, [&] { return cache.find("h-second").has_value(); }, 5'000ms);
  ASSERT_TRUE(cache.find("h-second")) << "a new token did not reach the cache";
  EXPECT_LT(took.count(), 1'000);
  EXPECT_EQ(cache.find("h-second")->role, auth::Role::Viewer);

  ASSERT_TRUE((*cli)->revoke_token(*id, 3));
  took = run_until(ioc, [&] { return !cache.find("h-second").has_value(); }, 5'000ms);
  EXPECT_FALSE(cache.find("h-second")) << "a revoked token stayed in the cache";
  EXPECT_LT(took.count(), 1'000);
  EXPECT_TRUE(cache.find("h-first"));
  EXPECT_GE(sync.stats().change_events, 2u);

  sync.stop();
  ioc.restart();
  ioc.run_for(50ms);  // nothing left armed after stop
  workers.stop();
}

TEST(TokenSyncTest, ThePeriodicReloadCatchesChangesWithoutTheWatch) {
  TempDir dir;
  const std::string db = dir.file("registry.db");
  auto reg = registry::SqliteRegistry::open(db);
  ASSERT_TRUE(reg);
  boost::asio::io_context ioc;
  WorkerPool workers(1, 4);
  auth::TokenCache cache;
  TokenSyncOptions opts;
  opts.period = 100ms;
  // A path in a directory that does not exist: no watch, only the period.
  TokenSync sync(ioc, workers, **reg, cache, dir.file("missing/registry.db"), opts);
  ASSERT_TRUE(sync.load_now());
  sync.start();
  EXPECT_FALSE(sync.stats().watching);
  ASSERT_TRUE((*reg)->add_token("late", registry::Role::Operator, "h-late", 1));
  run_until(ioc, [&] { return cache.find("h-late").has_value(); }, 3'000ms);
  EXPECT_TRUE(cache.find("h-late"));
  EXPECT_NE(sync.render_metrics().find("siax_auth_tokens_cached 1\n"), std::string::npos) << sync.render_metrics();
  sync.stop();
  workers.stop();
}

}  // namespace
}  // namespace siax::agent
