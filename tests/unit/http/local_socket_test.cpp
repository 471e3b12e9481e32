// The agent's local socket (LocalSocketRelay) in front of a real Server on 127.0.0.1:0,
// driven by blocking Unix-socket clients on the test thread; the io_context runs on a
// background thread.
#include "http/local_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/server.h"

namespace siax::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;

/// Connects to `path`; -1 on failure. Reads time out after 5 s.
int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/// Sends `request` and reads until the peer closes (or 5 s pass).
std::string exchange(int fd, const std::string& request) {
  if (!request.empty() && ::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return "";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

json body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  if (at == std::string::npos) return nullptr;
  return json::parse(response.substr(at + 4), nullptr, false);
}

const std::string kGet =
    "GET /api/whoami HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer t0ken\r\nConnection: close\r\n\r\n";

class LocalSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/siax-local-socket-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/agent.sock";
    ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    server_.emplace(ioc_, o);
    ASSERT_TRUE(server_->route(Method::get, "/api/whoami", [this](Request req, Responder r) {
      ++handled_;
      auto auth = req.header("authorization");
      r.send(json_success(json{{"authorization", auth ? std::string(*auth) : ""}}));
    }));
    ASSERT_TRUE(server_->start());
  }

  LocalSocketOptions options() {
    LocalSocketOptions o;
    o.path = path_;
    o.target = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->bound_port());
    o.allowed_uids = {::geteuid()};
    return o;
  }

  void open(LocalSocketOptions o) {
    auto r = LocalSocketRelay::open(ioc_, std::move(o));
    ASSERT_TRUE(r) << r.error().message;
    relay_ = std::move(*r);
  }

  void run() {
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (relay_) relay_->stop();
    if (server_) server_->stop(0ms);
    if (thread_.joinable()) {
      std::this_thread::sleep_for(50ms);
      ioc_.stop();
      thread_.join();
    }
    relay_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }

  boost::asio::io_context ioc_;
  std::optional<Server> server_;
  std::unique_ptr<LocalSocketRelay> relay_;
  std::thread thread_;
  std::string dir_, path_;
  std::atomic<int> handled_{0};
};

TEST_F(LocalSocket, RelaysARequestToTheServerWithItsToken) {
  open(options());
  run();
  int fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  auto response = exchange(fd, kGet);
  ::close(fd);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
  auto body = body_of(response);
  EXPECT_EQ(body["data"]["authorization"], "Bearer t0ken") << response;
  EXPECT_EQ(handled_.load(), 1);
  EXPECT_EQ(relay_->stats().accepted, 1u);
}

TEST_F(LocalSocket, TheSocketFileIsAGroupSocketAndGoesAwayOnStop) {
  open(options());
  struct stat st{};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  run();
  relay_->stop();
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_LT(connect_unix(path_), 0);
}

TEST_F(LocalSocket, APeerWhoseUidIsNotAllowedGets403AndReachesNothing) {
  auto o = options();
  o.allowed_uids = {::geteuid() + 4242};  // not us
  std::atomic<int> warnings{0};
  o.log_warning = [&](std::string_view) { ++warnings; };
  open(std::move(o));
  run();
  int fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  auto response = exchange(fd, kGet);
  ::close(fd);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 403")) << response;
  EXPECT_EQ(body_of(response)["error"]["code"], "forbidden") << response;
  EXPECT_EQ(handled_.load(), 0);
  EXPECT_EQ(relay_->stats().refused_peers, 1u);
  EXPECT_EQ(warnings.load(), 1);
}

TEST_F(LocalSocket, OverTheConnectionLimitA503) {
  auto o = options();
  o.max_connections = 1;
  open(std::move(o));
  run();
  int first = connect_unix(path_);
  ASSERT_GE(first, 0);
  for (int i = 0; i < 200 && relay_->stats().active < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(relay_->stats().active, 1u);
  int second = connect_unix(path_);
  ASSERT_GE(second, 0);
  auto response = exchange(second, kGet);
  ::close(second);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 503")) << response;
  EXPECT_EQ(body_of(response)["error"]["code"], "too_many_connections");
  // the first one still works
  response = exchange(first, kGet);
  ::close(first);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
}

TEST_F(LocalSocket, AStaleSocketIsReplacedAnyOtherFileIsNot) {
  {
    std::ofstream(path_) << "not a socket";
    auto r = LocalSocketRelay::open(ioc_, options());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "socket_path_taken");
    std::ifstream in(path_);
    std::string text;
    std::getline(in, text);
    EXPECT_EQ(text, "not a socket");
    fs::remove(path_);
  }
  // a socket left behind by a killed agent
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  open(options());
  run();
  fd = connect_unix(path_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(exchange(fd, kGet).starts_with("HTTP/1.1 200"));
  ::close(fd);
}

TEST_F(LocalSocket, RefusesAPathThatIsRelativeOrTooLong) {
  auto o = options();
  o.path = "agent.sock";
  auto r = LocalSocketRelay::open(ioc_, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_socket_path");
  o.path = "/" + std::string(200, 'a');
  r = LocalSocketRelay::open(ioc_, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_socket_path");
}

}  // namespace
}  // namespace siax::http
