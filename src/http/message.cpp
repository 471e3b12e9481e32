#include "http/message.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "http/body_stream.h"

namespace siax::http {

void Headers::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void Headers::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

void Headers::erase(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

const std::string* Request::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

const std::string* Request::query_param(std::string_view name) const {
  auto it = query.find(name);
  return it == query.end() ? nullptr : &it->second;
}

StatusCode status_for(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidInput: return StatusCode::bad_request;
    case ErrorKind::NotFound: return StatusCode::not_found;
    case ErrorKind::PermissionDenied: return StatusCode::forbidden;
    case ErrorKind::Conflict: return StatusCode::conflict;
    case ErrorKind::RateLimited: return StatusCode::too_many_requests;
    case ErrorKind::Unavailable: return StatusCode::service_unavailable;
    case ErrorKind::Timeout: return StatusCode::gateway_timeout;
    case ErrorKind::OperationFailed: return StatusCode::internal_server_error;
    case ErrorKind::Internal: return StatusCode::internal_server_error;
  }
  return StatusCode::internal_server_error;
}

namespace {

Response envelope(StatusCode status, nlohmann::json body) {
  Response res;
  res.status = status;
  res.content_type = "application/json";
  // Replace invalid UTF-8 instead of throwing: messages may quote client input.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

void set_retry_after(Response& res, std::chrono::seconds delay) {
  auto secs = std::max<std::chrono::seconds::rep>(delay.count(), 1);
  res.headers.set("Retry-After", std::to_string(secs));
}

}  // namespace

Response json_success(const nlohmann::json& data, StatusCode status) {
  return envelope(status, nlohmann::json{{"success", true}, {"data", data}, {"error", nullptr}});
}

Response json_failure(StatusCode status, std::string_view code, std::string_view message,
                      std::optional<std::chrono::seconds> retry_after) {
  auto res = envelope(status, nlohmann::json{{"success", false},
                                             {"data", nullptr},
                                             {"error", {{"code", code}, {"message", message}}}});
  if (retry_after) set_retry_after(res, *retry_after);
  return res;
}

Response error_response(const Error& error, std::optional<std::chrono::seconds> retry_after) {
  nlohmann::json err{{"code", error.code.empty() ? std::string(to_string(error.kind)) : error.code},
                     {"message", error.message}};
  if (!error.details.empty()) {
    auto details = nlohmann::json::object();
    for (const auto& [k, v] : error.details) details[k] = v;
    err["details"] = std::move(details);
  }
  auto res = envelope(status_for(error.kind), nlohmann::json{{"success", false}, {"data", nullptr}, {"error", err}});
  if (!retry_after) {
    if (const auto* text = error.detail(kRetryAfterDetail)) {
      long long secs = 0;
      auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), secs);
      if (ec == std::errc() && end == text->data() + text->size() && secs >= 0) retry_after = std::chrono::seconds(secs);
    }
  }
  if (retry_after) set_retry_after(res, *retry_after);
  return res;
}

struct Responder::State {
  explicit State(Deliver d) : deliver(std::move(d)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    // The last copy went away without a reply: answer for the handler rather than leave
    // the client waiting until a timeout.
    if (!sent.exchange(true) && deliver) {
      try {
        deliver(json_failure(StatusCode::internal_server_error, "no_response",
                             "the request handler finished without sending a response"));
      } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
      }
    }
  }
  Deliver deliver;
  std::atomic<bool> sent{false};
};

Responder::Responder(Deliver deliver) : state_(std::make_shared<State>(std::move(deliver))) {}

bool Responder::send(Response response) const {
  if (!state_ || state_->sent.exchange(true)) return false;
  if (state_->deliver) state_->deliver(std::move(response));
  return true;
}

bool Responder::sent() const noexcept { return !state_ || state_->sent.load(); }

/// The producer's token: the last copy of a BodyWriter going away unfinished fails the
/// stream (the client must not take a cut body for a whole one).
struct BodyWriter::Producer {
  explicit Producer(std::shared_ptr<detail::BodyChannel> c) : channel(std::move(c)) {}
  ~Producer() { channel->fail("the producer went away without finishing the body"); }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  std::shared_ptr<detail::BodyChannel> channel;
};

bool BodyWriter::write(std::string chunk) const { return producer_->channel->write(std::move(chunk)); }
void BodyWriter::finish(Headers trailers) const { producer_->channel->finish(std::move(trailers)); }
void BodyWriter::fail(std::string reason) const { producer_->channel->fail(std::move(reason)); }
bool BodyWriter::heartbeat() const { return producer_->channel->heartbeat(); }
bool BodyWriter::cancelled() const { return producer_->channel->cancelled(); }
std::size_t BodyWriter::in_flight() const { return producer_->channel->in_flight(); }

std::optional<BodyWriter> Responder::stream(Response head, std::size_t max_in_flight) const {
  if (!state_ || state_->sent.exchange(true)) return std::nullopt;
  auto channel = std::make_shared<detail::BodyChannel>(max_in_flight);
  head.body.clear();
  head.stream = std::make_shared<detail::StreamConsumer>(channel);
  BodyWriter writer(std::make_shared<BodyWriter::Producer>(channel));
  // A delivery that drops the head (the connection is gone) cancels the stream.
  if (state_->deliver) state_->deliver(std::move(head));
  return writer;
}

}  // namespace siax::http
