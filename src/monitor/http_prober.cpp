#include "monitor/http_prober.h"

#include <memory>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace siax::monitor {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

/// One probe; kept alive by the handlers that hold its shared_ptr.
class Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(asio::io_context& io, core::HealthCheck check, std::uint16_t port, std::function<void(ProbeResult)> done)
      : strand_(asio::make_strand(io)), socket_(strand_), timer_(strand_), check_(std::move(check)), port_(port), done_(std::move(done)) {}

  /// Runs start() on the probe's strand, whatever thread calls.
  void begin() {
    asio::post(strand_, [self = shared_from_this()] { self->start(); });
  }

 private:
  void start() {
    started_ = Clock::now();
    boost::system::error_code ec;
    const std::string host = check_.host == "localhost" ? "127.0.0.1" : check_.host;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
      finish(ProbeOutcome::Error, 0, fmt::format("'{}' is not an IP address", check_.host));
      return;
    }
    timer_.expires_after(check_.timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (e) return;  // cancelled: the probe finished first
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->socket_.close(ignored);  // the pending operation completes with operation_aborted
    });
    socket_.async_connect(tcp::endpoint(address, port_),
                          [self = shared_from_this()](const boost::system::error_code& e) { self->on_connect(e); });
  }

  void on_connect(const boost::system::error_code& ec) {
    if (ec) return fail(ec);
    request_.method(http::verb::get);
    request_.target(check_.path);
    request_.version(11);
    const std::string host_header =
        check_.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", check_.host, port_) : fmt::format("{}:{}", check_.host, port_);
    request_.set(http::field::host, host_header);
    request_.set(http::field::user_agent, "siax-agent-health");
    request_.set(http::field::connection, "close");
    http::async_write(socket_, request_, [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
      self->on_write(e);
    });
  }

  void on_write(const boost::system::error_code& ec) {
    if (ec) return fail(ec);
    parser_.header_limit(HttpProber::kMaxHeaderBytes);
    parser_.body_limit(HttpProber::kMaxBodyBytes);
    http::async_read(socket_, buffer_, parser_, [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
      self->on_read(e);
    });
  }

  void on_read(const boost::system::error_code& ec) {
    const bool header = parser_.is_header_done();
    // A body too large (or cut short by the server closing) still carries the status.
    if (ec && !(header && (ec == http::error::body_limit || ec == http::error::partial_message))) return fail(ec);
    const unsigned status = parser_.get().result_int();
    if (status == check_.expected_status) return finish(ProbeOutcome::Ok, status, "");
    finish(ProbeOutcome::BadStatus, status, fmt::format("status {}, expected {}", status, check_.expected_status));
  }

  void fail(const boost::system::error_code& ec) {
    if (timed_out_) {
      return finish(ProbeOutcome::Timeout, 0, fmt::format("timed out after {} ms", check_.timeout.count()));
    }
    if (ec == asio::error::connection_refused) return finish(ProbeOutcome::Refused, 0, "connection refused");
    if (ec == asio::error::connection_reset) return finish(ProbeOutcome::Error, 0, "connection reset by peer");
    if (ec == http::error::end_of_stream || ec == asio::error::eof) {
      return finish(ProbeOutcome::Error, 0, "connection closed without an answer");
    }
    if (ec.category() == make_error_code(http::error::bad_method).category() || ec == http::error::header_limit) {
      return finish(ProbeOutcome::Error, 0, fmt::format("not an HTTP response: {}", ec.message()));
    }
    finish(ProbeOutcome::Error, 0, ec.message());
  }

  void finish(ProbeOutcome outcome, unsigned status, std::string error) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    ProbeResult r;
    r.ok = outcome == ProbeOutcome::Ok;
    r.outcome = outcome;
    r.status = status;
    r.latency = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    r.error = std::move(error);
    // Always from the io_context, never inside probe(): post the call.
    asio::post(socket_.get_executor(), [done = std::move(done_), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  asio::strand<asio::io_context::executor_type> strand_;  // the handlers of one probe never overlap
  tcp::socket socket_;
  asio::steady_timer timer_;
  core::HealthCheck check_;
  std::uint16_t port_;
  std::function<void(ProbeResult)> done_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_{HttpProber::kMaxHeaderBytes + HttpProber::kMaxBodyBytes};
  http::response_parser<http::string_body> parser_;
  Clock::time_point started_;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace

const char* to_string(ProbeOutcome outcome) noexcept {
  switch (outcome) {
    case ProbeOutcome::Ok: return "ok";
    case ProbeOutcome::BadStatus: return "bad_status";
    case ProbeOutcome::Refused: return "refused";
    case ProbeOutcome::Timeout: return "timeout";
    case ProbeOutcome::Error: return "error";
  }
  return "error";
}

void HttpProber::probe(const core::HealthCheck& check, std::uint16_t port, std::function<void(ProbeResult)> done) {
  std::make_shared<Probe>(io_, check, port, std::move(done))->begin();
}

}  // namespace siax::monitor
