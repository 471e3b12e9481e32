#include "procscan/process_filter.h"

#include <gtest/gtest.h>

namespace siax::procscan {
namespace {

using core::ProcessInfo;
using core::ProcessKind;

ProcessInfo proc(int pid, ProcessKind kind, std::string user, std::uint32_t uid, std::string comm,
                 std::vector<std::string> cmdline, bool kthread = false) {
  ProcessInfo p;
  p.pid = pid;
  p.kind = kind;
  p.user = std::move(user);
  p.uid = uid;
  p.comm = std::move(comm);
  p.cmdline = std::move(cmdline);
  p.kernel_thread = kthread;
  return p;
}

std::vector<int> pids(const std::vector<ProcessInfo>& ps) {
  std::vector<int> out;
  for (const auto& p : ps) out.push_back(p.pid);
  return out;
}

class ProcessFilterTest : public ::testing::Test {
 protected:
  std::vector<ProcessInfo> table = {
      proc(2, ProcessKind::Other, "root", 0, "kthreadd", {}, true),
      proc(10, ProcessKind::Node, "siaxapp", 998, "node", {"node", "/srv/Orders/server.js"}),
      proc(11, ProcessKind::Python, "siaxapp", 998, "uvicorn", {"/usr/bin/python3", "-m", "uvicorn", "main:app"}),
      proc(12, ProcessKind::Node, "alice", 1000, "npm start", {"npm start"}),
      proc(13, ProcessKind::Other, "", 4242, "bash", {"bash"}),
  };

  std::vector<int> run(std::string_view kind, std::string_view user, std::string_view text) {
    auto f = parse_scan_filter(kind, user, text);
    EXPECT_TRUE(f.has_value()) << f.error().message;
    return pids(filter_processes(table, *f));
  }
};

TEST_F(ProcessFilterTest, EmptyFilterDropsOnlyKernelThreads) {
  EXPECT_EQ(run("", "", ""), (std::vector<int>{10, 11, 12, 13}));
  EXPECT_EQ(run("all", "", ""), (std::vector<int>{10, 11, 12, 13}));
  ScanFilter with_kthreads;
  with_kthreads.include_kernel_threads = true;
  EXPECT_EQ(pids(filter_processes(table, with_kthreads)), (std::vector<int>{2, 10, 11, 12, 13}));
}

TEST_F(ProcessFilterTest, ByKind) {
  EXPECT_EQ(run("node", "", ""), (std::vector<int>{10, 12}));
  EXPECT_EQ(run("Python", "", ""), (std::vector<int>{11}));
}

TEST_F(ProcessFilterTest, ByUserNameOrUid) {
  EXPECT_EQ(run("", "siaxapp", ""), (std::vector<int>{10, 11}));
  EXPECT_EQ(run("", "4242", ""), (std::vector<int>{13}));
  EXPECT_EQ(run("", "1000", ""), (std::vector<int>{12}));
  EXPECT_TRUE(run("", "nobody", "").empty());
}

TEST_F(ProcessFilterTest, ByTextCaseInsensitiveOverCommandLineOrComm) {
  EXPECT_EQ(run("", "", "orders"), (std::vector<int>{10}));
  EXPECT_EQ(run("", "", "MAIN:APP"), (std::vector<int>{11}));
  EXPECT_EQ(run("", "", "-m uvicorn"), (std::vector<int>{11}));  // across arguments of the joined line
  EXPECT_EQ(run("", "", "npm st"), (std::vector<int>{12}));
  EXPECT_TRUE(run("", "", "kthreadd").empty());  // kernel threads stay out
}

TEST_F(ProcessFilterTest, Combined) {
  EXPECT_EQ(run("node", "siaxapp", "server"), (std::vector<int>{10}));
  EXPECT_TRUE(run("python", "alice", "").empty());
}

TEST(ParseScanFilter, UnknownKindListsTheAllowedValues) {
  auto f = parse_scan_filter("java", "", "");
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().kind, ErrorKind::InvalidInput);
  EXPECT_EQ(f.error().code, "invalid_kind");
  EXPECT_NE(f.error().message.find("'java'"), std::string::npos);
  EXPECT_NE(f.error().message.find("node, python, all"), std::string::npos);
}

TEST(ParseScanFilter, RefusesBadUserAndText) {
  auto long_user = parse_scan_filter("", std::string(kMaxFilterUserLength + 1, 'a'), "");
  ASSERT_FALSE(long_user.has_value());
  EXPECT_EQ(long_user.error().code, "invalid_user");
  auto ctl_user = parse_scan_filter("", "bob\n", "");
  ASSERT_FALSE(ctl_user.has_value());
  EXPECT_EQ(ctl_user.error().code, "invalid_user");
  auto long_text = parse_scan_filter("", "", std::string(kMaxFilterTextLength + 1, 'x'));
  ASSERT_FALSE(long_text.has_value());
  EXPECT_EQ(long_text.error().code, "invalid_text");
  EXPECT_TRUE(parse_scan_filter("", "", std::string(kMaxFilterTextLength, 'x')).has_value());
}

TEST(ParseScanFilter, FillsTheFields) {
  auto f = parse_scan_filter("NODE", "alice", "Server.js");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->kind, ProcessKind::Node);
  EXPECT_EQ(f->user, "alice");
  EXPECT_EQ(f->text, "Server.js");
  EXPECT_FALSE(f->include_kernel_threads);
  auto none = parse_scan_filter("", "", "");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, ScanFilter{});
}

}  // namespace
}  // namespace siax::procscan
