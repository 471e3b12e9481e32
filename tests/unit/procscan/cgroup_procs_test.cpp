#include "procscan/cgroup_procs.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace siax::procscan {
namespace {

TEST(CgroupProcs, ParsesPidsAndSkipsGarbage) {
  EXPECT_EQ(parse_cgroup_procs("12\n7\nx\n\n-3\n99999999999\n5\n"), (std::vector<int>{5, 7, 12}));
}

TEST(CgroupUsage, Parsers) {
  EXPECT_EQ(parse_cgroup_number("123456\n"), 123456u);
  EXPECT_EQ(parse_cgroup_number("max\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_number(""), std::nullopt);
  EXPECT_EQ(parse_cgroup_number("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_cgroup_number("18446744073709551616"), std::nullopt);  // 2^64
  EXPECT_EQ(parse_cpu_stat_usage_usec("usage_usec 4242\nuser_usec 4000\nsystem_usec 242\n"), 4242u);
  EXPECT_EQ(parse_cpu_stat_usage_usec("user_usec 1\nusage_usec 77"), 77u);
  EXPECT_EQ(parse_cpu_stat_usage_usec("nr_periods 0\n"), std::nullopt);
  EXPECT_EQ(parse_cpu_stat_usage_usec("usage_usec x\n"), std::nullopt);
}

class CgroupTree : public ::testing::Test {
 protected:
  CgroupTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "siax-cgroup-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    root = tmpl;
  }
  ~CgroupTree() override { std::filesystem::remove_all(root); }
  void write(const std::string& rel, const std::string& content) {
    auto path = root / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  std::filesystem::path root;
};

TEST_F(CgroupTree, UnifiedLayout) {
  write("system.slice/siax-app-a.service/memory.current", "1048576\n");
  write("system.slice/siax-app-a.service/cpu.stat", "usage_usec 5000\nuser_usec 4000\n");
  auto u = read_cgroup_usage("/system.slice/siax-app-a.service", root.string());
  EXPECT_EQ(u.memory_bytes, 1048576u);
  EXPECT_EQ(u.cpu_usec, 5000u);
}

TEST_F(CgroupTree, HybridWithoutMemoryControllerAndV1) {
  write("unified/system.slice/siax-app-a.service/cpu.stat", "usage_usec 7\n");
  auto u = read_cgroup_usage("/system.slice/siax-app-a.service", root.string());
  EXPECT_EQ(u.memory_bytes, std::nullopt);  // no accounting: the caller sums its processes
  EXPECT_EQ(u.cpu_usec, 7u);
  write("memory/system.slice/siax-app-b.service/memory.usage_in_bytes", "4096\n");
  write("cpuacct/system.slice/siax-app-b.service/cpuacct.usage", "3000000\n");
  u = read_cgroup_usage("/system.slice/siax-app-b.service", root.string());
  EXPECT_EQ(u.memory_bytes, 4096u);
  EXPECT_EQ(u.cpu_usec, 3000u);
}

TEST_F(CgroupTree, RemembersTheFilesItFound) {
  write("unified/system.slice/siax-app-a.service/cpu.stat", "usage_usec 7\n");
  CgroupUsageFiles files;
  auto u = read_cgroup_usage("/system.slice/siax-app-a.service", root.string(), &files);
  EXPECT_EQ(u.cpu_usec, 7u);
  EXPECT_TRUE(files.probed);
  EXPECT_EQ(files.memory, "");
  EXPECT_EQ(files.cpu, (root / "unified/system.slice/siax-app-a.service/cpu.stat").string());
  // A memory file appearing later is not looked for until the caller probes again.
  write("system.slice/siax-app-a.service/memory.current", "10\n");
  write("unified/system.slice/siax-app-a.service/cpu.stat", "usage_usec 9\n");
  u = read_cgroup_usage("/system.slice/siax-app-a.service", root.string(), &files);
  EXPECT_EQ(u.cpu_usec, 9u);
  EXPECT_EQ(u.memory_bytes, std::nullopt);
  files = CgroupUsageFiles{};
  u = read_cgroup_usage("/system.slice/siax-app-a.service", root.string(), &files);
  EXPECT_EQ(u.memory_bytes, 10u);
}

TEST_F(CgroupTree, RefusesEscapesAndMissingGroups) {
  write("etc/memory.current", "1\n");
  EXPECT_EQ(read_cgroup_usage("/../etc", root.string()), CgroupUsage{});
  EXPECT_EQ(read_cgroup_usage("relative", root.string()), CgroupUsage{});
  EXPECT_EQ(read_cgroup_usage("", root.string()), CgroupUsage{});
  EXPECT_EQ(read_cgroup_usage("/system.slice/none.service", root.string()), CgroupUsage{});
}

}  // namespace
}  // namespace siax::procscan
