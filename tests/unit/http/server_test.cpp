// Loopback tests of siax::http::Server: a real server on 127.0.0.1 (port 0) with its
// io_context on a background thread, driven by Beast clients on the test thread. Every
// client operation has a 5 s timeout so a bug fails a test instead of hanging it. Waits
// on real time use generous margins; nothing asserts tight timings.
#include "http/server.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/buffer_ref.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

namespace siax::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kIoTimeout = 5s;

// --- a self-signed certificate made at runtime -----------------------------------
// By the openssl command (Debian's openssl package, scripts/setup.sh), not libcrypto: this
// binary does not link OpenSSL either, so its TLS runs through http/openssl_lazy.cpp.

struct TlsFiles {
  std::filesystem::path dir;
  std::string cert;
  std::string key;
  ~TlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

/// Runs `argv` (no shell) with its output discarded; true when it exits 0.
bool run_quietly(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::unique_ptr<TlsFiles> make_self_signed_cert() {
  auto files = std::make_unique<TlsFiles>();
  files->dir = std::filesystem::temp_directory_path() /
               ("siax-http-tls-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(files->dir);
  files->cert = (files->dir / "cert.pem").string();
  files->key = (files->dir / "key.pem").string();
  const bool ok =
      run_quietly({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                   "1", "-subj", "/CN=localhost", "-keyout", files->key, "-out", files->cert});
  return ok ? std::move(files) : nullptr;
}

// --- the server on a background thread ---------------------------------------------

ServerOptions test_options() {
  ServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  return o;
}

/// Owns an io_context (declared first: destroyed last) and a Server running on a
/// background thread.
class Harness {
 public:
  explicit Harness(ServerOptions options = test_options()) : server_(ioc_, std::move(options)) {}
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  ~Harness() {
    server_.stop(0ms);
    if (thread_.joinable()) {
      if (!wait_stopped(5s)) {
        ADD_FAILURE() << "the io_context did not run out of work after stop()";
        ioc_.stop();
      }
      thread_.join();
    }
  }

  Server& server() { return server_; }

  /// Starts the server and runs the io_context on `io_threads` threads.
  void start(int io_threads = 1) {
    auto st = server_.start();
    ASSERT_TRUE(st) << st.error().message;
    auto promise = std::make_shared<std::promise<void>>();
    done_ = promise->get_future();
    thread_ = std::thread([this, promise, io_threads] {
      std::vector<std::thread> extra;
      for (int i = 1; i < io_threads; ++i) extra.emplace_back([this] { ioc_.run(); });
      ioc_.run();
      for (auto& t : extra) t.join();
      promise->set_value();
    });
  }

  /// True once ioc.run() has returned (every connection closed, acceptor closed).
  bool wait_stopped(std::chrono::milliseconds timeout) {
    return done_.valid() && done_.wait_for(timeout) == std::future_status::ready;
  }

  std::uint16_t port() const { return server_.bound_port(); }

 private:
  net::io_context ioc_;
  Server server_;
  std::thread thread_;
  std::future<void> done_;
};

/// Responders parked by handlers, to be answered by the test thread.
class Mailbox {
 public:
  void put(Request request, Responder responder) {
    std::lock_guard lock(mu_);
    items_.emplace_back(std::move(request), std::move(responder));
    ++received_;
    cv_.notify_all();
  }
  /// Waits until `n` requests have arrived in total.
  bool wait_received(std::size_t n, std::chrono::milliseconds timeout = kIoTimeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return received_ >= n; });
  }
  std::size_t received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::pair<Request, Responder> take() {
    std::lock_guard lock(mu_);
    auto item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Request, Responder>> items_;
  std::size_t received_ = 0;
};

// --- a blocking client with timeouts -----------------------------------------------

using Res = bhttp::response<bhttp::string_body>;

class Client {
 public:
  /// `source`: the local address to connect from (another loopback address, e.g.
  /// 127.0.0.2, is another client to the server); empty: the kernel's choice.
  explicit Client(std::uint16_t port, ssl::context* tls = nullptr, std::string_view source = {}) {
    if (tls != nullptr) {
      tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *tls);
    } else {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
    }
    visit([&](auto& s) {
      auto& lowest = beast::get_lowest_layer(s);
      if (!source.empty()) {
        lowest.socket().open(tcp::v4());
        lowest.socket().bind(tcp::endpoint(net::ip::make_address(std::string(source)), 0));
      }
      lowest.expires_after(kIoTimeout);
      lowest.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                           [&](beast::error_code e) { ec_ = e; });
      run();
      if (!ec_) lowest.socket().set_option(tcp::no_delay(true));
    });
    if (!ec_ && tls_) {
      beast::get_lowest_layer(*tls_).expires_after(kIoTimeout);
      tls_->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec_ = e; });
      run();
    }
  }

  [[nodiscard]] bool ok() const { return !ec_; }
  [[nodiscard]] beast::error_code error() const { return ec_; }

  /// Writes raw bytes; false if the connection is gone.
  bool send(std::string_view raw) {
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      net::async_write(s, net::buffer(raw.data(), raw.size()), [&](beast::error_code e, std::size_t) { ec_ = e; });
      run();
    });
    return !ec_;
  }

  /// Reads one response; nullopt on error (closed, timeout). `head`: no body follows.
  std::optional<Res> read(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(head);
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      bhttp::async_read(s, buffer_, parser, [&](beast::error_code e, std::size_t) { ec_ = e; });
      run();
    });
    if (ec_) return std::nullopt;
    return parser.release();
  }

  /// Reads raw bytes up to and including `delim`.
  std::optional<std::string> read_until(std::string_view delim) {
    std::size_t n = 0;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      net::async_read_until(s, beast::ref(buffer_), std::string(delim), [&](beast::error_code e, std::size_t bytes) {
        ec_ = e;
        n = bytes;
      });
      run();
    });
    if (ec_) return std::nullopt;
    std::string out(static_cast<const char*>(buffer_.data().data()), n);
    buffer_.consume(n);
    return out;
  }

  /// Reads the head of a response into `parser` (the body, if any, stays unread).
  template <class Parser>
  bool read_header(Parser& parser) {
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      bhttp::async_read_header(s, buffer_, parser, [&](beast::error_code e, std::size_t) { ec_ = e; });
      run();
    });
    return !ec_;
  }

  /// Reads (the rest of) a response into `parser`.
  template <class Parser>
  bool read_into(Parser& parser) {
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      bhttp::async_read(s, buffer_, parser, [&](beast::error_code e, std::size_t) { ec_ = e; });
      run();
    });
    return !ec_;
  }

  /// Reads whatever part of the message arrives next into `parser`; bytes consumed.
  template <class Parser>
  std::size_t read_some_into(Parser& parser) {
    std::size_t n = 0;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      bhttp::async_read_some(s, buffer_, parser, [&](beast::error_code e, std::size_t bytes) {
        ec_ = e;
        n = bytes;
      });
      run();
    });
    return n;
  }

  std::optional<Res> request(bhttp::verb method, std::string_view target, std::string body = {},
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(kIoTimeout);
      bhttp::async_write(s, req, [&](beast::error_code e, std::size_t) { ec_ = e; });
      run();
    });
    if (ec_) return std::nullopt;
    return read(method == bhttp::verb::head);
  }

  std::optional<Res> get(std::string_view target) { return request(bhttp::verb::get, target); }

  /// True if the server closes the connection (EOF or reset) within `timeout`; any
  /// bytes received meanwhile are appended to `received`.
  bool wait_closed(std::chrono::milliseconds timeout = kIoTimeout, std::string* received = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<char, 4096> chunk{};
    if (received != nullptr && buffer_.size() > 0) {
      received->append(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    }
    while (true) {
      std::size_t n = 0;
      visit([&](auto& s) {
        beast::get_lowest_layer(s).expires_at(deadline);
        s.async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t bytes) {
          ec_ = e;
          n = bytes;
        });
        run();
      });
      if (received != nullptr) received->append(chunk.data(), n);
      if (ec_ == beast::error::timeout) return false;
      if (ec_) return true;
    }
  }

  void close() {
    visit([](auto& s) {
      beast::error_code ignored;
      beast::get_lowest_layer(s).socket().close(ignored);
    });
  }

 private:
  template <class F>
  void visit(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  void run() {
    ioc_.restart();
    ioc_.run();
  }

  net::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  beast::error_code ec_;
};

json body_of(const Res& res) { return json::parse(res.body(), nullptr, false); }
std::string error_code_of(const Res& res) {
  auto body = body_of(res);
  return body.is_object() && body["error"].is_object() ? body["error"].value("code", "") : "<no envelope>";
}

/// Polls `predicate` until true or `timeout` (for counters updated on the io thread).
template <class P>
bool eventually(P predicate, std::chrono::milliseconds timeout = kIoTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

/// The agent's typical routes, in a fixture: health, app by name, an echo, a slow route
/// whose responders go to the mailbox.
class HttpServer : public ::testing::Test {
 protected:
  void build(ServerOptions options = test_options()) {
    harness_ = std::make_unique<Harness>(std::move(options));
    auto& s = harness_->server();
    ASSERT_TRUE(s.route(Method::get, "/api/health", [this](Request, Responder r) {
      ++handled_;
      r.send(json_success(json{{"status", "ok"}}));
    }));
    ASSERT_TRUE(s.route(Method::get, "/api/apps/:name", [this](Request req, Responder r) {
      ++handled_;
      json query = json::object();
      for (const auto& [k, v] : req.query) query[k] = v;
      r.send(json_success(json{{"name", *req.param("name")},
                               {"route", req.route},
                               {"query", query},
                               {"custom", req.header("x-CUSTOM").value_or("")},
                               {"remote", req.remote_address},
                               {"remote_port", req.remote_port},
                               {"tls", req.tls}}));
    }));
    ASSERT_TRUE(s.route(Method::delete_, "/api/apps/:name", [this](Request, Responder r) {
      ++handled_;
      r.send(json_success(nullptr));
    }));
    ASSERT_TRUE(s.route(Method::post, "/api/echo", [this](Request req, Responder r) {
      ++handled_;
      Response res;
      res.content_type = "text/plain";
      res.body = std::move(req.body);
      r.send(std::move(res));
    }));
    ASSERT_TRUE(s.route(Method::post, "/api/apps/:name/start", [this](Request req, Responder r) {
      ++handled_;
      mailbox_.put(std::move(req), std::move(r));
    }));
  }

  void start(int io_threads = 1) { harness_->start(io_threads); }
  std::uint16_t port() const { return harness_->port(); }
  Server& server() { return harness_->server(); }

  std::unique_ptr<Harness> harness_;
  Mailbox mailbox_;
  std::atomic<int> handled_{0};
};

// --- routing -----------------------------------------------------------------------

TEST_F(HttpServer, RoutesWithParamsQueryAndHeaders) {
  build();
  start();
  Client c(port());
  ASSERT_TRUE(c.ok());
  auto res = c.request(bhttp::verb::get, "/api/apps/web%20ui?lines=5&q=a+b", {}, {{"X-Custom", "yes"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::ok);
  EXPECT_EQ((*res)[bhttp::field::content_type], "application/json");
  EXPECT_EQ((*res)[bhttp::field::server], "siax-agent");
  auto body = body_of(*res);
  EXPECT_EQ(body["success"], true);
  EXPECT_TRUE(body["error"].is_null());
  EXPECT_EQ(body["data"]["name"], "web ui");
  EXPECT_EQ(body["data"]["route"], "/api/apps/:name");
  EXPECT_EQ(body["data"]["query"], (json{{"lines", "5"}, {"q", "a b"}}));
  EXPECT_EQ(body["data"]["custom"], "yes");
  EXPECT_EQ(body["data"]["remote"], "127.0.0.1");
  EXPECT_NE(body["data"]["remote_port"], 0);
  EXPECT_EQ(body["data"]["tls"], false);
}

TEST_F(HttpServer, NotFoundIs404AndWrongMethodIs405WithAllow) {
  build();
  start();
  Client c(port());
  auto missing = c.get("/api/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result(), bhttp::status::not_found);
  EXPECT_EQ(error_code_of(*missing), "not_found");
  EXPECT_EQ(body_of(*missing)["success"], false);

  auto wrong = c.request(bhttp::verb::put, "/api/apps/orders");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->result(), bhttp::status::method_not_allowed);
  EXPECT_EQ((*wrong)[bhttp::field::allow], "DELETE, GET, HEAD");
  EXPECT_EQ(error_code_of(*wrong), "method_not_allowed");
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServer, BadTargetsAre400AndTheConnectionStaysUsable) {
  build();
  start();
  Client c(port());
  for (auto [target, code] : {std::pair{"/api/../api/health", "invalid_path"},
                              {"/api/%2e%2e/health", "invalid_path"},
                              {"/api/apps/a%00b", "invalid_path"},
                              {"/api/apps/%zz", "invalid_percent_encoding"},
                              {"http://127.0.0.1/api/health", "invalid_target"},
                              {"/api/apps/x?a=1&a=2", "duplicate_query_parameter"}}) {
    auto res = c.get(target);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->result(), bhttp::status::bad_request) << target;
    EXPECT_EQ(error_code_of(*res), code) << target;
  }
  auto long_target = c.get("/api/apps/" + std::string(2100, 'a'));
  ASSERT_TRUE(long_target);
  EXPECT_EQ(long_target->result(), bhttp::status::bad_request);
  EXPECT_EQ(error_code_of(*long_target), "target_too_long");
  EXPECT_EQ(handled_.load(), 0);

  auto fine = c.get("/api/health");  // same connection
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->result(), bhttp::status::ok);
  EXPECT_EQ(server().stats().accepted_connections, 1U);
}

TEST_F(HttpServer, HeadAnswersHeadersOnly) {
  build();
  start();
  Client c(port());
  auto full = c.get("/api/health");
  ASSERT_TRUE(full);
  auto head = c.request(bhttp::verb::head, "/api/health");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->result(), bhttp::status::ok);
  EXPECT_EQ((*head)[bhttp::field::content_length], std::to_string(full->body().size()));
  EXPECT_TRUE(head->body().empty());
  auto after = c.get("/api/health");  // framing intact
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body(), full->body());
}

// --- limits --------------------------------------------------------------------------

TEST_F(HttpServer, BodyOverTheLimitIs413AndNothingIsHandled) {
  auto options = test_options();
  options.max_body_bytes = 1024;
  build(options);
  start();
  {
    Client c(port());
    auto ok = c.request(bhttp::verb::post, "/api/echo", std::string(1024, 'x'));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->result(), bhttp::status::ok);
    EXPECT_EQ(ok->body().size(), 1024U);
  }
  EXPECT_EQ(handled_.load(), 1);
  {
    // Declared length over the limit: refused from the header, body still sent.
    Client c(port());
    auto res = c.request(bhttp::verb::post, "/api/echo", std::string(4096, 'x'));
    ASSERT_TRUE(res) << c.error().message();
    EXPECT_EQ(res->result(), bhttp::status::payload_too_large);
    EXPECT_EQ(error_code_of(*res), "body_too_large");
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // Chunked: the limit is hit while reading the body.
    Client c(port());
    std::string chunk(800, 'y');
    ASSERT_TRUE(c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
    auto res = c.read();
    ASSERT_TRUE(res) << c.error().message();
    EXPECT_EQ(res->result(), bhttp::status::payload_too_large);
  }
  EXPECT_EQ(handled_.load(), 1);
  EXPECT_EQ(server().stats().requests_for(ServerStats::kNoRoute, 413), 2U);
}

TEST_F(HttpServer, HeadersOverTheLimitAre431) {
  build();
  start();
  Client c(port());
  auto res = c.request(bhttp::verb::get, "/api/health", {}, {{"X-Big", std::string(10 * 1024, 'h')}});
  ASSERT_TRUE(res) << c.error().message();
  EXPECT_EQ(res->result(), bhttp::status::request_header_fields_too_large);
  EXPECT_EQ(error_code_of(*res), "headers_too_large");
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServer, MalformedRequestIs400AndTheServerKeepsServing) {
  build();
  start();
  for (std::string_view garbage : {std::string_view("GET /api/health HTTX/1.1\r\n\r\n"),
                                   std::string_view("GET /api/health HTTP/1.1\r\nBad Header\r\n\r\n"),
                                   std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
                                   std::string_view("POST /api/echo HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n")}) {
    Client c(port());
    ASSERT_TRUE(c.send(garbage));
    auto res = c.read();
    ASSERT_TRUE(res) << c.error().message();
    EXPECT_EQ(res->result(), bhttp::status::bad_request);
    EXPECT_EQ(error_code_of(*res), "malformed_request");
    EXPECT_TRUE(c.wait_closed());
  }
  Client c(port());
  auto res = c.get("/api/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::ok);
}

TEST_F(HttpServer, GarbageAfterAPipelinedRequestIsAnsweredInOrder) {
  build();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n"));
  auto first = c.read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->result(), bhttp::status::ok);
  auto second = c.read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->result(), bhttp::status::bad_request);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServer, OnlyHttp10And11AreSpoken) {
  build();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("GET /api/health HTTP/2.0\r\nHost: x\r\n\r\n"));
  auto res = c.read();
  ASSERT_TRUE(res) << c.error().message();
  EXPECT_EQ(res->result(), bhttp::status::bad_request);  // Beast's parser refuses it
  EXPECT_EQ(error_code_of(*res), "malformed_request");
  EXPECT_TRUE(c.wait_closed());
  Client old(port());
  ASSERT_TRUE(old.send("GET /api/health HTTP/1.0\r\n\r\n"));
  auto ok = old.read();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result(), bhttp::status::ok);
  EXPECT_TRUE(old.wait_closed());  // HTTP/1.0 without keep-alive
}

TEST_F(HttpServer, ConnectionsOverTheLimitGet503) {
  auto options = test_options();
  options.max_connections = 2;
  build(options);
  start();
  Client a(port());
  Client b(port());
  ASSERT_TRUE(a.get("/api/health"));  // both accepted and counted
  ASSERT_TRUE(b.get("/api/health"));
  {
    Client c(port());
    ASSERT_TRUE(c.ok());
    auto res = c.read();  // answered without sending anything
    ASSERT_TRUE(res) << c.error().message();
    EXPECT_EQ(res->result(), bhttp::status::service_unavailable);
    EXPECT_EQ(error_code_of(*res), "too_many_connections");
    EXPECT_EQ((*res)[bhttp::field::retry_after], "1");
    EXPECT_TRUE(c.wait_closed());
  }
  EXPECT_EQ(server().stats().rejected_connections, 1U);
  EXPECT_EQ(server().stats().active_connections, 2U);

  a.close();
  ASSERT_TRUE(eventually([&] { return server().stats().active_connections == 1; }));
  Client d(port());
  auto res = d.get("/api/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::ok);
}

// Issue 10, item 4: one client address cannot take every slot.
TEST_F(HttpServer, OneAddressCannotTakeEverySlot) {
  auto options = test_options();
  options.max_connections = 10;
  options.max_connections_per_address = 3;
  build(options);
  start();
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < 3; ++i) {
    flood.push_back(std::make_unique<Client>(port(), nullptr, "127.0.0.1"));
    ASSERT_TRUE(flood.back()->get("/api/health"));
  }
  {
    Client over(port(), nullptr, "127.0.0.1");
    auto res = over.read();  // answered without sending anything
    ASSERT_TRUE(res) << over.error().message();
    EXPECT_EQ(res->result(), bhttp::status::service_unavailable);
    EXPECT_EQ(error_code_of(*res), "too_many_connections");
  }
  Client other(port(), nullptr, "127.0.0.2");  // another client is still served
  auto res = other.get("/api/health");
  ASSERT_TRUE(res) << other.error().message();
  EXPECT_EQ(res->result(), bhttp::status::ok);
  EXPECT_EQ(server().stats().rejected_per_address, 1U);
  EXPECT_EQ(server().stats().rejected_connections, 1U);
  // A place given back is free again.
  flood.front().reset();
  ASSERT_TRUE(eventually([&] { return server().stats().active_connections == 3; }));
  Client again(port(), nullptr, "127.0.0.1");
  auto res2 = again.get("/api/health");
  ASSERT_TRUE(res2);
  EXPECT_EQ(res2->result(), bhttp::status::ok);
}

// Issue 10, item 4: strangers do not hold keep-alive connections for long.
TEST_F(HttpServer, AnonymousKeepAliveIsShortAuthenticatedIsNot) {
  auto options = test_options();
  options.idle_timeout = 30s;
  options.anonymous_idle_timeout = 150ms;
  build(options);
  ASSERT_TRUE(server().use([](Request& req) -> std::optional<Response> {
    if (req.header("authorization").value_or("") == "Bearer good") req.auth = std::string("alice");
    return std::nullopt;
  }));
  start();
  Client anonymous(port());
  ASSERT_TRUE(anonymous.get("/api/health"));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(anonymous.wait_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);

  Client known(port());
  ASSERT_TRUE(known.request(bhttp::verb::get, "/api/health", {}, {{"Authorization", "Bearer good"}}));
  std::this_thread::sleep_for(600ms);  // well past the anonymous idle timeout
  auto again = known.get("/api/health");
  ASSERT_TRUE(again) << known.error().message();
  EXPECT_EQ(again->result(), bhttp::status::ok);
}

// Issue 10, item 9: a client that writes its whole (too large) body before reading, as
// Python's http.client does, gets the 413 instead of a reset.
TEST_F(HttpServer, A413IsReadByAClientThatSendsTheWholeBodyFirst) {
  auto options = test_options();
  options.max_body_bytes = 1024;
  build(options);
  start();
  Client c(port());
  const std::string body(2 * 1024 * 1024, 'x');
  ASSERT_TRUE(c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body))
      << c.error().message();
  auto res = c.read();
  ASSERT_TRUE(res) << c.error().message();
  EXPECT_EQ(res->result(), bhttp::status::payload_too_large);
  EXPECT_EQ(error_code_of(*res), "body_too_large");
  EXPECT_EQ(handled_.load(), 0);
}

// Issue 10, item 8: a Host allow-list against DNS rebinding.
TEST(HostAllowList, IpLiteralsLocalhostAndListedNamesOnly) {
  const std::vector<std::string> allowed = {"panel.example.com"};
  for (const char* ok : {"127.0.0.1", "127.0.0.1:8080", "[::1]:8080", "[::1]", "localhost:8080", "LOCALHOST",
                         "panel.example.com", "Panel.Example.COM:443", "192.0.2.9:1"}) {
    EXPECT_TRUE(host_allowed(ok, allowed)) << ok;
  }
  for (const char* bad : {"evil.example", "evil.example:8080", "panel.example.com.evil", "", "[::1", ":8080",
                          "localhost.evil"}) {
    EXPECT_FALSE(host_allowed(bad, allowed)) << bad;
  }
}

TEST_F(HttpServer, AHostNotAllowedGets421) {
  auto options = test_options();
  options.allowed_hosts = std::vector<std::string>{"panel.example.com"};
  build(options);
  start();
  Client c(port());
  auto bad = c.request(bhttp::verb::get, "/api/health", {}, {{"Host", "rebind.evil.example:8080"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(static_cast<unsigned>(bad->result()), 421U);
  EXPECT_EQ(error_code_of(*bad), "host_not_allowed");
  auto good = c.request(bhttp::verb::get, "/api/health", {}, {{"Host", "panel.example.com"}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->result(), bhttp::status::ok);
  EXPECT_EQ(handled_.load(), 1);
}

// --- timeouts ------------------------------------------------------------------------

TEST_F(HttpServer, SlowlorisIsDroppedAfterTheReadTimeout) {
  auto options = test_options();
  options.read_timeout = 200ms;
  build(options);
  start();
  Client slow(port());
  ASSERT_TRUE(slow.send("GET /api/health HTTP/1.1\r\n"));
  // Dribble a header byte every 50 ms for ~1 s: progress, but never a whole request.
  const std::string dribble = "X-Slow: aaaaaaaaaaaaaaaaaaaa";
  for (std::size_t i = 0; i < dribble.size() && slow.send(dribble.substr(i, 1)); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  std::string received;
  EXPECT_TRUE(slow.wait_closed(kIoTimeout, &received));
  EXPECT_TRUE(received.empty()) << received;  // dropped, not answered
  EXPECT_GE(server().stats().timed_out_connections, 1U);
  EXPECT_EQ(handled_.load(), 0);

  // A connection that never sends anything is dropped too.
  Client silent(port());
  EXPECT_TRUE(silent.wait_closed());

  Client fine(port());  // and the server is still serving
  ASSERT_TRUE(fine.get("/api/health"));
}

TEST_F(HttpServer, IdleKeepAliveConnectionIsClosed) {
  auto options = test_options();
  options.idle_timeout = 200ms;
  build(options);
  start();
  Client c(port());
  auto res = c.get("/api/health");
  ASSERT_TRUE(res);
  EXPECT_TRUE(res->keep_alive());
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(server().stats().timed_out_connections, 0U);  // idling is not misbehaving
}

TEST_F(HttpServer, HandlerThatNeverRepliesGets504) {
  auto options = test_options();
  options.handler_timeout = 200ms;
  build(options);
  start();
  Client c(port());
  auto res = c.request(bhttp::verb::post, "/api/apps/orders/start");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::gateway_timeout);
  EXPECT_EQ(error_code_of(*res), "handler_timeout");
  // The late reply is ignored; the connection still works.
  auto [req, responder] = mailbox_.take();
  EXPECT_TRUE(responder.send(json_success("late")));
  auto next = c.get("/api/health");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->result(), bhttp::status::ok);
  EXPECT_EQ(server().stats().handler_timeouts, 1U);
}

// --- asynchronous handlers -----------------------------------------------------------

TEST_F(HttpServer, HandlerRepliesLaterFromAnotherThread) {
  build();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/apps/orders/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(mailbox_.wait_received(1));
  auto [req, responder] = mailbox_.take();
  EXPECT_EQ(*req.param("name"), "orders");
  std::thread worker([r = responder] { r.send(json_success(json{{"started", true}}, StatusCode::accepted)); });
  worker.join();
  auto res = c.read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::accepted);
  EXPECT_EQ(body_of(*res)["data"]["started"], true);
}

TEST_F(HttpServer, ReplyAfterTheClientLeftIsHarmless) {
  build();
  start();
  {
    Client c(port());
    ASSERT_TRUE(c.send("POST /api/apps/orders/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
    ASSERT_TRUE(mailbox_.wait_received(1));
    c.close();
  }
  auto [req, responder] = mailbox_.take();
  EXPECT_TRUE(responder.send(json_success(nullptr)));
  // The connection is released once its last response is settled.
  EXPECT_TRUE(eventually([&] { return server().stats().active_connections == 0; }));
  Client d(port());
  ASSERT_TRUE(d.get("/api/health"));
}

TEST_F(HttpServer, ForgottenResponderAndThrowingHandlerAnswer500) {
  build();
  ASSERT_TRUE(server().route(Method::get, "/forget", [](Request, Responder) {}));
  ASSERT_TRUE(server().route(Method::get, "/throw", [](Request, Responder) { throw std::runtime_error("boom"); }));
  start();
  Client c(port());
  auto forgot = c.get("/forget");
  ASSERT_TRUE(forgot);
  EXPECT_EQ(forgot->result(), bhttp::status::internal_server_error);
  EXPECT_EQ(error_code_of(*forgot), "no_response");
  auto threw = c.get("/throw");
  ASSERT_TRUE(threw);
  EXPECT_EQ(threw->result(), bhttp::status::internal_server_error);
  EXPECT_EQ(error_code_of(*threw), "internal");
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  build();
  start();
  Client c(port());
  for (int i = 0; i < 5; ++i) {
    auto res = c.request(bhttp::verb::post, "/api/echo", "n" + std::to_string(i));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body(), "n" + std::to_string(i));
    EXPECT_TRUE(res->keep_alive());
  }
  EXPECT_EQ(server().stats().accepted_connections, 1U);
  // Connection: close is honoured.
  auto last = c.request(bhttp::verb::get, "/api/health", {}, {{"Connection", "close"}});
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->keep_alive());
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServer, PipelinedResponsesKeepRequestOrder) {
  build();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/apps/slow/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                     "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                     "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"));
  ASSERT_TRUE(eventually([&] { return handled_.load() == 3; }));  // all three read ahead
  auto [req, responder] = mailbox_.take();
  responder.send(json_success("slow"));
  auto first = c.read();
  auto second = c.read();
  auto third = c.read();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(body_of(*first)["data"], "slow");
  EXPECT_EQ(second->body(), "one");
  EXPECT_EQ(third->body(), "two");
}

TEST_F(HttpServer, PipelineLimitStopsReadingAhead) {
  auto options = test_options();
  options.max_pipelined_requests = 2;
  build(options);
  start();
  Client c(port());
  std::string four;
  for (int i = 0; i < 4; ++i) four += "POST /api/apps/a" + std::to_string(i) + "/start HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.send(four));
  ASSERT_TRUE(mailbox_.wait_received(2));
  std::this_thread::sleep_for(200ms);  // a generous chance to (wrongly) read more
  EXPECT_EQ(mailbox_.received(), 2U);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(mailbox_.wait_received(static_cast<std::size_t>(std::min(i + 2, 4))));
    auto [req, responder] = mailbox_.take();
    responder.send(json_success(*req.param("name")));
    auto res = c.read();
    ASSERT_TRUE(res);
    EXPECT_EQ(body_of(*res)["data"], "a" + std::to_string(i));
  }
}

TEST_F(HttpServer, ExpectContinueGets100BeforeTheBody) {
  build();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = c.read_until("\r\n\r\n");
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->rfind("HTTP/1.1 100 Continue", 0), 0U) << *interim;
  ASSERT_TRUE(c.send("hello"));
  auto res = c.read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "hello");
}

// --- middleware, headers, stats -------------------------------------------------------

TEST_F(HttpServer, MiddlewareRejectsOrAnnotates) {
  build();
  ASSERT_TRUE(server().route(Method::get, "/api/whoami", [](Request req, Responder r) {
    const auto* user = std::any_cast<std::string>(&req.auth);
    r.send(json_success(user != nullptr ? *user : "nobody"));
  }));
  ASSERT_TRUE(server().use([](Request& req) -> std::optional<Response> {
    if (req.route == "/api/health") return std::nullopt;  // public
    auto token = req.header("authorization");
    if (!token || *token != "Bearer good") {
      return json_failure(StatusCode::unauthorized, "unauthorized", "a valid token is required");
    }
    req.auth = std::string("alice");
    return std::nullopt;
  }));
  start();
  Client c(port());
  auto denied = c.get("/api/whoami");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->result(), bhttp::status::unauthorized);
  EXPECT_EQ(error_code_of(*denied), "unauthorized");
  auto allowed = c.request(bhttp::verb::get, "/api/whoami", {}, {{"Authorization", "Bearer good"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(body_of(*allowed)["data"], "alice");
  auto health = c.get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->result(), bhttp::status::ok);
  auto stats = server().stats();
  EXPECT_EQ(stats.requests_for("/api/whoami", 401), 1U);
  EXPECT_EQ(stats.requests_for("/api/whoami", 200), 1U);
  EXPECT_EQ(stats.requests_for("/api/health", 200), 1U);
  EXPECT_EQ(stats.requests_total(), 3U);
}

TEST_F(HttpServer, UnsafeResponseHeadersAreDropped) {
  build();
  ASSERT_TRUE(server().route(Method::get, "/headers", [](Request, Responder r) {
    Response res = json_success(nullptr);
    res.headers.add("X-Ok", "fine");
    res.headers.add("X-Evil", "a\r\nSet-Cookie: pwned=1");
    res.headers.add("Content-Length", "999");
    res.headers.add("Bad Name", "x");
    r.send(std::move(res));
  }));
  start();
  Client c(port());
  auto res = c.get("/headers");
  ASSERT_TRUE(res);
  EXPECT_EQ((*res)["X-Ok"], "fine");
  EXPECT_EQ(res->count("X-Evil"), 0U);
  EXPECT_EQ(res->count(bhttp::field::set_cookie), 0U);
  EXPECT_EQ((*res)[bhttp::field::content_length], std::to_string(res->body().size()));
  ASSERT_TRUE(c.get("/api/health"));  // framing intact
}

// --- WebSocket hand-over ---------------------------------------------------------------

TEST_F(HttpServer, WebSocketUpgradeIsHandedOver) {
  build();
  std::promise<std::string> seen_route;
  ASSERT_TRUE(server().on_websocket("/ws/:app", [&seen_route](WebSocketUpgrade up) {
    seen_route.set_value(up.request.route + " " + *up.request.param("app"));
    auto* plain = std::get_if<beast::tcp_stream>(&up.stream);
    ASSERT_NE(plain, nullptr);
    // A minimal session: accept, send one message, keep the slot while alive.
    struct WsSession {
      beast::websocket::stream<beast::tcp_stream> ws;
      std::shared_ptr<void> slot;
      std::string text;
    };
    auto s = std::make_shared<WsSession>(WsSession{beast::websocket::stream<beast::tcp_stream>(std::move(*plain)),
                                                   up.connection_slot, "hello " + *up.request.param("app")});
    s->ws.async_accept(up.upgrade_request, [s](beast::error_code ec) {
      if (ec) return;
      s->ws.async_write(net::buffer(s->text), [s](beast::error_code, std::size_t) {
        s->ws.async_close(beast::websocket::close_code::normal, [s](beast::error_code) {});
      });
    });
  }));
  start();

  net::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws(ioc);
  beast::get_lowest_layer(ws).expires_after(kIoTimeout);
  beast::error_code ec;
  beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port()), ec);
  ASSERT_FALSE(ec);
  ws.handshake("127.0.0.1", "/ws/orders", ec);
  ASSERT_FALSE(ec) << ec.message();
  beast::flat_buffer buffer;
  ws.read(buffer, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "hello orders");
  EXPECT_EQ(seen_route.get_future().get(), "/ws/:app orders");
  EXPECT_EQ(server().stats().websocket_upgrades, 1U);
  EXPECT_EQ(server().stats().requests_for("/ws/:app", 101), 1U);

  // An upgrade request on a path without a WebSocket route is plain HTTP.
  Client c(port());
  auto res = c.request(bhttp::verb::get, "/api/health", {},
                       {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"},
                        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::ok);
}

// --- TLS -------------------------------------------------------------------------------

TEST_F(HttpServer, HttpsWithASelfSignedCertificate) {
  auto files = make_self_signed_cert();
  ASSERT_TRUE(files);
  auto options = test_options();
  options.tls = TlsOptions{files->cert, files->key};
  build(options);
  start();

  ssl::context client_ctx(ssl::context::tls_client);
  client_ctx.load_verify_file(files->cert);
  client_ctx.set_verify_mode(ssl::verify_peer);
  Client c(port(), &client_ctx);
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto res = c.get("/api/apps/orders");
  ASSERT_TRUE(res) << c.error().message();
  EXPECT_EQ(res->result(), bhttp::status::ok);
  EXPECT_EQ(body_of(*res)["data"]["tls"], true);
  auto again = c.request(bhttp::verb::post, "/api/echo", "over tls");  // keep-alive over TLS
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body(), "over tls");

  // Plain HTTP on the HTTPS port is not answered.
  Client plain(port());
  ASSERT_TRUE(plain.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string received;
  EXPECT_TRUE(plain.wait_closed(kIoTimeout, &received));
  EXPECT_EQ(received.find("200 OK"), std::string::npos);
}

TEST(HttpServerStart, ReportsConfigurationErrors) {
  net::io_context ioc;
  {
    auto o = test_options();
    o.address = "not-an-address";
    Server s(ioc, o);
    auto st = s.start();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "invalid_server_options");
  }
  {
    auto o = test_options();
    o.tls = TlsOptions{"/nonexistent/cert.pem", "/nonexistent/key.pem"};
    Server s(ioc, o);
    auto st = s.start();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_setup_failed");
  }
  {
    Server first(ioc, test_options());
    ASSERT_TRUE(first.start());
    auto o = test_options();
    o.port = first.bound_port();
    Server second(ioc, o);
    auto st = second.start();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().kind, ErrorKind::Unavailable);
    EXPECT_EQ(st.error().code, "listen_failed");
    auto late = first.route(Method::get, "/late", [](Request, Responder) {});
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code, "server_started");
  }
}

// --- several io threads ---------------------------------------------------------------

TEST_F(HttpServer, ServesConcurrentClientsOnSeveralIoThreads) {
  build();
  start(4);
  constexpr int kClients = 8;
  constexpr int kRequests = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Client c(port());
      for (int j = 0; j < kRequests; ++j) {
        auto body = std::to_string(i) + "/" + std::to_string(j);
        auto res = c.request(bhttp::verb::post, "/api/echo", body);
        if (res && res->body() == body) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(server().stats().requests_for("/api/echo", 200), static_cast<std::uint64_t>(kClients * kRequests));
}

// --- stop ----------------------------------------------------------------------------

TEST_F(HttpServer, StopFinishesInFlightResponsesAndClosesTheRest) {
  build();
  start();
  Client idle(port());
  ASSERT_TRUE(idle.get("/api/health"));
  Client busy(port());
  ASSERT_TRUE(busy.send("POST /api/apps/orders/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(mailbox_.wait_received(1));

  server().stop(5s);
  EXPECT_TRUE(idle.wait_closed());  // idle connections go at once
  EXPECT_FALSE(harness_->wait_stopped(100ms));  // the busy one is still being served

  auto [req, responder] = mailbox_.take();
  std::thread([r = responder] { r.send(json_success("done")); }).join();
  auto res = busy.read();
  ASSERT_TRUE(res);
  EXPECT_EQ(body_of(*res)["data"], "done");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(busy.wait_closed());
  EXPECT_TRUE(harness_->wait_stopped(kIoTimeout));  // io_context ran out of work

  Client late(port());
  EXPECT_FALSE(late.ok());  // no longer accepting
}

TEST_F(HttpServer, StopClosesConnectionsThatOutstayTheGrace) {
  build();
  start();
  Client busy(port());
  ASSERT_TRUE(busy.send("POST /api/apps/orders/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(mailbox_.wait_received(1));
  server().stop(200ms);
  EXPECT_TRUE(busy.wait_closed());
  EXPECT_TRUE(harness_->wait_stopped(kIoTimeout));
  auto [req, responder] = mailbox_.take();
  EXPECT_TRUE(responder.send(json_success("too late")));  // harmless
}


// --- streamed responses (Responder::stream) -------------------------------------------

/// What a producer did, for the test thread to look at.
struct ProducerRecord {
  std::atomic<int> written{0};             // chunks accepted by write()
  std::atomic<bool> in_write{false};       // blocked (or busy) in write()
  std::atomic<std::size_t> max_in_flight{0};
  std::atomic<bool> refused{false};        // a write returned false (stream cancelled)
  std::atomic<bool> done{false};
};

/// `chunk i` padded with dots to `size` bytes, newline-terminated.
std::string numbered_chunk(int i, std::size_t size) {
  std::string c = "chunk " + std::to_string(i) + " ";
  c.resize(std::max<std::size_t>(size, c.size() + 1) - 1, '.');
  c += '\n';
  return c;
}

std::string numbered_body(int n, std::size_t size) {
  std::string all;
  for (int i = 0; i < n; ++i) all += numbered_chunk(i, size);
  return all;
}

/// The HttpServer routes plus GET /stream, whose producer runs on its own thread:
///   n=<chunks> size=<bytes> (default 100 x 1000), endless=1, sleep_ms=<between chunks>,
///   stall_ms=<once, after the first chunk, no heartbeat>, fail_after=<k> (fail() after
///   k chunks), drop_after=<k> (drop the writer after k chunks), error=1 (a plain 409
///   instead of a stream).
class HttpStream : public HttpServer {
 protected:
  ~HttpStream() override {
    harness_.reset();  // closes every connection: blocked producers return
    for (auto& t : producers_) t.join();
  }

  void build_stream(ServerOptions options = test_options()) {
    options.log_warning = [this](std::string_view m) {
      std::lock_guard lock(mu_);
      warnings_.emplace_back(m);
    };
    build(options);
    ASSERT_TRUE(server().route(Method::get, "/stream", [this](Request req, Responder r) {
      // On the io thread (one): producers_ is only touched here and after the harness.
      producers_.emplace_back([this, req = std::move(req), r] { produce(req, r); });
    }));
  }

  static long num(const Request& req, std::string_view name, long fallback) {
    const auto* v = req.query_param(name);
    return v != nullptr ? std::stol(*v) : fallback;
  }

  void produce(const Request& req, const Responder& r) {
    auto& rec = record_;
    if (num(req, "error", 0) != 0) {
      r.send(json_failure(StatusCode::conflict, "not_now", "refused before the first byte"));
      EXPECT_FALSE(r.stream(Response{}).has_value());  // one answer only
      rec.done = true;
      return;
    }
    Response head;
    head.content_type = "text/plain";
    head.headers.add("Trailer", "X-Chunks");
    auto writer = r.stream(std::move(head), 4);
    if (!writer) return;
    const long n = num(req, "n", 100);
    const auto size = static_cast<std::size_t>(num(req, "size", 1000));
    const bool endless = num(req, "endless", 0) != 0;
    const long fail_after = num(req, "fail_after", -1);
    const long drop_after = num(req, "drop_after", -1);
    const auto sleep = std::chrono::milliseconds(num(req, "sleep_ms", 0));
    const auto stall = std::chrono::milliseconds(num(req, "stall_ms", 0));
    int i = 0;
    for (; endless || i < n; ++i) {
      if (i == fail_after) {
        writer->fail("the source broke");
        rec.done = true;
        return;
      }
      if (i == drop_after) {
        writer.reset();
        rec.done = true;
        return;
      }
      rec.in_write = true;
      const bool ok = writer->write(numbered_chunk(i, size));
      rec.in_write = false;
      if (!ok) {
        rec.refused = true;
        rec.done = true;
        return;
      }
      ++rec.written;
      std::size_t seen = writer->in_flight();
      std::size_t prev = rec.max_in_flight.load();
      while (seen > prev && !rec.max_in_flight.compare_exchange_weak(prev, seen)) {
      }
      if (i == 0 && stall.count() > 0) std::this_thread::sleep_for(stall);
      if (sleep.count() > 0) std::this_thread::sleep_for(sleep);
    }
    Headers trailers;
    trailers.add("X-Chunks", std::to_string(i));
    writer->finish(std::move(trailers));
    rec.done = true;
  }

  std::vector<std::string> warnings() {
    std::lock_guard lock(mu_);
    return warnings_;
  }

  ProducerRecord record_;
  std::vector<std::thread> producers_;
  std::mutex mu_;
  std::vector<std::string> warnings_;
};

using StreamParser = bhttp::response_parser<bhttp::string_body>;

TEST_F(HttpStream, ManyChunksArriveCompleteAndInOrderWithChunkedEncoding) {
  build_stream();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("GET /stream?n=300&size=1000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  StreamParser parser;
  parser.body_limit(64 * 1024 * 1024);
  std::size_t chunks = 0;
  auto count = [&](std::uint64_t, beast::string_view, beast::error_code&) { ++chunks; };
  parser.on_chunk_header(count);
  ASSERT_TRUE(c.read_into(parser)) << c.error().message();
  auto res = parser.release();
  EXPECT_EQ(res.result(), bhttp::status::ok);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res[bhttp::field::transfer_encoding], "chunked");
  EXPECT_EQ(res[bhttp::field::content_length], "");
  EXPECT_EQ(res[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(chunks, 301U);  // one HTTP chunk per write, plus the last
  EXPECT_EQ(res.body(), numbered_body(300, 1000));
  EXPECT_EQ(res["X-Chunks"], "300");  // the trailer
  EXPECT_TRUE(res.keep_alive());
  auto next = c.get("/api/health");  // the connection is reusable after the last chunk
  ASSERT_TRUE(next);
  EXPECT_EQ(next->result(), bhttp::status::ok);
  EXPECT_TRUE(record_.done);
  EXPECT_EQ(server().stats().requests_for("/stream", 200), 1U);
}

TEST_F(HttpStream, ASlowReaderKeepsTheProducerWaitingWithAtMostFourChunksInFlight) {
  build_stream();
  start();
  constexpr int kChunks = 400;  // 25 MiB: more than loopback socket buffers hold
  Client c(port());
  ASSERT_TRUE(c.send("GET /stream?n=400&size=65536 HTTP/1.1\r\nHost: x\r\n\r\n"));
  StreamParser parser;
  parser.body_limit(64 * 1024 * 1024);
  ASSERT_TRUE(c.read_header(parser));
  EXPECT_TRUE(parser.get().chunked());
  // The client reads nothing more: once the socket buffers are full the producer waits
  // in write() and makes no progress.
  bool blocked = eventually(
      [&] {
        const int before = record_.written.load();
        std::this_thread::sleep_for(300ms);
        return record_.in_write.load() && record_.written.load() == before;
      },
      8s);
  EXPECT_TRUE(blocked);
  EXPECT_LT(record_.written.load(), kChunks);
  EXPECT_LE(record_.max_in_flight.load(), 4U);
  EXPECT_FALSE(record_.done.load());
  // Now read it all: complete and in order; the bound held throughout.
  ASSERT_TRUE(c.read_into(parser)) << c.error().message();
  EXPECT_EQ(parser.get().body(), numbered_body(kChunks, 65536));
  EXPECT_TRUE(eventually([&] { return record_.done.load(); }));
  EXPECT_EQ(record_.written.load(), kChunks);
  EXPECT_LE(record_.max_in_flight.load(), 4U);
  EXPECT_GE(record_.max_in_flight.load(), 1U);
}

TEST_F(HttpStream, AClientThatLeavesMidStreamStopsTheProducer) {
  build_stream();
  start();
  {
    Client c(port());
    ASSERT_TRUE(c.send("GET /stream?endless=1&size=65536 HTTP/1.1\r\nHost: x\r\n\r\n"));
    StreamParser parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    ASSERT_TRUE(c.read_header(parser));
    std::size_t got = 0;
    while (got < 1024 * 1024) {
      const auto n = c.read_some_into(parser);
      ASSERT_TRUE(c.ok());
      got += n;
    }
    c.close();
  }
  EXPECT_TRUE(eventually([&] { return record_.done.load(); }));
  EXPECT_TRUE(record_.refused.load());  // write() returned false: the producer returned
  EXPECT_TRUE(eventually([&] { return server().stats().active_connections == 0; }));
  Client d(port());
  ASSERT_TRUE(d.get("/api/health"));
}

TEST_F(HttpStream, AnErrorBeforeTheFirstChunkIsANormalResponse) {
  build_stream();
  start();
  Client c(port());
  auto res = c.get("/stream?error=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), bhttp::status::conflict);
  EXPECT_EQ(error_code_of(*res), "not_now");
  EXPECT_FALSE(res->chunked());
  EXPECT_EQ((*res)[bhttp::field::content_length], std::to_string(res->body().size()));
  auto next = c.get("/api/health");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->result(), bhttp::status::ok);
}

TEST_F(HttpStream, AFailureAfterTheHeadCutsTheConnectionAndIsLogged) {
  build_stream();
  start();
  for (std::string_view how : {"fail_after", "drop_after"}) {
    Client c(port());
    ASSERT_TRUE(c.send("GET /stream?n=10&" + std::string(how) + "=3 HTTP/1.1\r\nHost: x\r\n\r\n"));
    StreamParser parser;
    EXPECT_FALSE(c.read_into(parser)) << how;  // no last chunk: the body is incomplete
    EXPECT_FALSE(parser.is_done()) << how;
    // The server closed the connection (EOF, not our 5 s timeout) before a last chunk.
    EXPECT_EQ(c.error(), bhttp::error::partial_message) << how << ": " << c.error().message();
    EXPECT_EQ(parser.get().body(), numbered_body(3, 1000)) << how;
  }
  auto w = warnings();
  ASSERT_EQ(w.size(), 2U);
  EXPECT_NE(w[0].find("the source broke"), std::string::npos) << w[0];
  EXPECT_NE(w[1].find("without finishing"), std::string::npos) << w[1];
}

TEST_F(HttpStream, HandlerTimeoutCutsOnlyAStalledStream) {
  auto options = test_options();
  options.handler_timeout = 300ms;
  build_stream(options);
  start();
  // 12 chunks 100 ms apart: 1.2 s in all, four times the handler timeout, but moving.
  Client c(port());
  auto res = c.get("/stream?n=12&size=100&sleep_ms=100");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), numbered_body(12, 100));
  EXPECT_EQ(server().stats().handler_timeouts, 0U);
  ASSERT_TRUE(eventually([&] { return record_.done.load(); }));
  // One chunk, then nothing for 1.5 s: closed after ~300 ms; the producer is told.
  record_.done = false;
  Client d(port());
  ASSERT_TRUE(d.send("GET /stream?n=3&size=100&stall_ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n"));
  StreamParser parser;
  EXPECT_FALSE(d.read_into(parser));
  EXPECT_EQ(d.error(), bhttp::error::partial_message) << d.error().message();  // closed by the server
  EXPECT_EQ(parser.get().body(), numbered_body(1, 100));
  EXPECT_TRUE(eventually([&] { return record_.done.load(); }));
  EXPECT_TRUE(record_.refused.load());
  EXPECT_EQ(server().stats().handler_timeouts, 1U);
}

TEST_F(HttpStream, Http10GetsTheBodyUnframedAndTheConnectionCloses) {
  build_stream();
  start();
  Client c(port());
  ASSERT_TRUE(c.send("GET /stream?n=20&size=50 HTTP/1.0\r\n\r\n"));
  std::string raw;
  ASSERT_TRUE(c.wait_closed(kIoTimeout, &raw));
  const auto split = raw.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const auto head = raw.substr(0, split);
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
  EXPECT_EQ(raw.substr(split + 4), numbered_body(20, 50));
}

}  // namespace
}  // namespace siax::http
