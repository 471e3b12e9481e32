// FsSecretStore on a real filesystem, as root inside the sandbox (scripts/test.sh runs
// siax_integration_tests there): modes, ownership, symlinks, atomic replacement.
#include "adapters/linux/fs_secret_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace siax::adapters {
namespace {

namespace fs = std::filesystem;

class SecretStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/run/siax-secret-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base = tmpl;
    dir = base + "/secrets";
  }
  void TearDown() override { fs::remove_all(base); }

  static mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string base, dir;
};

TEST_F(SecretStore, WritesA0600FileInA0700DirectoryAndReplacesItAtomically) {
  FsSecretStore store(dir);
  ASSERT_EQ(store.path_of("api"), dir + "/api.env");
  ASSERT_TRUE(store.write("api", "A=\"1\"\n"));
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir + "/api.env"), 0600u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/api.env").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
  ASSERT_TRUE(store.write("api", "A=\"2\"\n"));
  EXPECT_EQ(slurp(dir + "/api.env"), "A=\"2\"\n");
  auto back = store.read("api");
  ASSERT_TRUE(back && *back);
  EXPECT_EQ(**back, "A=\"2\"\n");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";
  ASSERT_TRUE(store.remove("api"));
  EXPECT_FALSE(fs::exists(dir + "/api.env"));
  EXPECT_TRUE(store.remove("api"));  // already gone
  auto none = store.read("api");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(SecretStore, AMissingDirectoryMeansNoFiles) {
  FsSecretStore store(dir);
  EXPECT_TRUE(store.remove("api"));
  auto none = store.read("api");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(SecretStore, RefusesADirectoryOthersCanEnter) {
  FsSecretStore store(dir);
  ASSERT_TRUE(store.write("api", "A=\"1\"\n"));
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  auto w = store.write("api", "A=\"2\"\n");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, "secret_directory_not_private");
  EXPECT_FALSE(store.read("api"));
  EXPECT_FALSE(store.remove("api"));
  EXPECT_EQ(slurp(dir + "/api.env"), "A=\"1\"\n");
}

TEST_F(SecretStore, DoesNotFollowSymlinks) {
  // The directory itself a symlink to a private-looking directory: refused.
  fs::create_directory(base + "/elsewhere");
  ::chmod((base + "/elsewhere").c_str(), 0700);
  fs::create_directory_symlink(base + "/elsewhere", dir);
  FsSecretStore store(dir);
  EXPECT_FALSE(store.write("api", "A=\"1\"\n"));
  EXPECT_FALSE(fs::exists(base + "/elsewhere/api.env"));
  fs::remove(dir);

  // The file a symlink to another file: read refuses it, write replaces the link, not the target.
  ASSERT_TRUE(store.write("other", "X=\"1\"\n"));
  const std::string target = base + "/target";
  std::ofstream(target) << "untouched\n";
  fs::create_symlink(target, dir + "/api.env");
  EXPECT_FALSE(store.read("api"));
  ASSERT_TRUE(store.write("api", "A=\"1\"\n"));
  EXPECT_EQ(slurp(target), "untouched\n");
  EXPECT_FALSE(fs::is_symlink(dir + "/api.env"));
  EXPECT_EQ(mode_of(dir + "/api.env"), 0600u);
}

TEST_F(SecretStore, OnlyAppNames) {
  FsSecretStore store(dir);
  for (const std::string bad : {"../x", "a/b", "", ".env", "a b"}) {
    EXPECT_FALSE(store.write(bad, "A=\"1\"\n")) << bad;
    EXPECT_FALSE(store.remove(bad)) << bad;
  }
  EXPECT_FALSE(fs::exists(base + "/x.env"));
}

}  // namespace
}  // namespace siax::adapters
