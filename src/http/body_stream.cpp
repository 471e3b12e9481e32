#include "http/body_stream.h"

namespace siax::http {
namespace detail {

bool BodyChannel::write(std::string chunk) {
  std::function<void()> wake;
  {
    std::unique_lock lock(mu_);
    if (chunk.empty()) return !cancelled_ && end_ == End::Open;
    room_.wait(lock, [&] { return cancelled_ || in_flight_ < max_in_flight_; });
    if (cancelled_ || end_ != End::Open) return false;
    queue_.push_back(std::move(chunk));
    ++in_flight_;
    activity_ = Clock::now();
    if (consumer_waiting_) {
      consumer_waiting_ = false;
      wake = wake_;
    }
  }
  if (wake) wake();
  return true;
}

void BodyChannel::end(bool failed, Headers trailers, std::string reason) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    if (cancelled_ || end_ != End::Open) return;
    end_ = failed ? End::Failed : End::Finished;
    trailers_ = std::move(trailers);
    reason_ = std::move(reason);
    activity_ = Clock::now();
    if (consumer_waiting_) {
      consumer_waiting_ = false;
      wake = wake_;
    }
  }
  if (wake) wake();
}

void BodyChannel::finish(Headers trailers) { end(false, std::move(trailers), {}); }

void BodyChannel::fail(std::string reason) { end(true, {}, std::move(reason)); }

bool BodyChannel::heartbeat() {
  std::lock_guard lock(mu_);
  activity_ = Clock::now();
  return !cancelled_;
}

bool BodyChannel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

std::size_t BodyChannel::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

void BodyChannel::attach(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
}

BodyChannel::Next BodyChannel::take() {
  std::lock_guard lock(mu_);
  Next next;
  if (cancelled_) {
    next.kind = Kind::Cancelled;
  } else if (!queue_.empty()) {
    next.kind = Kind::Chunk;
    next.data = std::move(queue_.front());
    queue_.pop_front();
  } else if (end_ != End::Open && !end_taken_) {
    end_taken_ = true;
    next.kind = end_ == End::Finished ? Kind::Finished : Kind::Failed;
    next.trailers = std::move(trailers_);
    next.reason = std::move(reason_);
  } else {
    consumer_waiting_ = true;
  }
  return next;
}

void BodyChannel::written() {
  {
    std::lock_guard lock(mu_);
    if (in_flight_ > 0) --in_flight_;
    activity_ = Clock::now();
  }
  room_.notify_all();
}

void BodyChannel::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    queue_.clear();
    in_flight_ = 0;
    wake_ = nullptr;
  }
  room_.notify_all();
}

BodyChannel::Clock::time_point BodyChannel::last_activity() const {
  std::lock_guard lock(mu_);
  return activity_;
}

StreamConsumer::~StreamConsumer() {
  if (channel) channel->cancel();
}

}  // namespace detail

}  // namespace siax::http
