// Writing responses (whole and streamed) and closing the connection
// of Session<Stream> (session.h); compiled by session.cpp only.
// Everything runs on the connection's strand.

namespace siax::http::detail {

// --- writing ---------------------------------------------------------------------

/// Server, Content-Type and the handler's fields (those that are safe).
template <class Stream>
void Session<Stream>::fill_head(bhttp::response_header<>& out, const Pending& entry, const Response& res) {
  out.set(bhttp::field::server, opts().server_header);
  if (!res.content_type.empty() && !body_forbidden(res.status) && !res.headers.contains("Content-Type")) {
    out.set(bhttp::field::content_type, res.content_type);
  }
  for (const auto& [name, value] : res.headers.fields()) {
    if (!acceptable_field(name, value)) {
      core_->warn(fmt::format("dropped response header '{}' on {}: not allowed or not valid", name, entry.route));
      continue;
    }
    out.insert(name, value);
  }
}

template <class Stream>
bhttp::response<bhttp::string_body> Session<Stream>::build(const Pending& entry, Response res) {
  bhttp::response<bhttp::string_body> out{res.status, entry.version};
  fill_head(out, entry, res);
  const bool no_body = body_forbidden(res.status);
  if (no_body) res.body.clear();
  out.keep_alive(entry.keep_alive && !res.close_connection && !stopping_);
  out.body() = std::move(res.body);
  out.prepare_payload();
  if (entry.head && !no_body) {
    const auto length = out.body().size();
    out.body().clear();
    out.content_length(length);
  }
  return out;
}

/// Records the response for request `seq` (ignored if it was already answered, e.g.
/// by the handler timeout, or if the connection is gone) and writes what is ready.
/// Dropping `res` (and with it `res.stream`) cancels a streamed body that is not used.
template <class Stream>
void Session<Stream>::complete(std::uint64_t seq, Response res) {
  if (closed_) return;
  auto* entry = find(seq);
  if (entry == nullptr || entry->answered()) return;
  if (res.stream && body_forbidden(res.status)) res.stream.reset();
  try {
    if (res.stream) {
      entry->stream = build_stream(*entry, std::move(res));
    } else {
      entry->response.emplace(build(*entry, std::move(res)));
    }
  } catch (const std::exception& e) {
    core_->warn(fmt::format("could not build the response for {}: {}", entry->route, e.what()));
    entry->stream.reset();
    entry->response.emplace(build(*entry, internal_error_response()));
  }
  core_->stats.count_request(entry->route, entry->stream ? entry->stream->head.result_int()
                                                         : entry->response->result_int());
  update_handler_timer();
  do_write();
}

template <class Stream>
void Session<Stream>::begin_write() {
  writing_ = true;
  arm(write_timer_, write_gen_, Clock::now() + opts().write_timeout, &Session::on_write_timeout);
}

template <class Stream>
void Session<Stream>::do_write() {
  if (writing_ || closed_ || close_started_ || queue_.empty()) return;
  if (queue_.front().stream) return write_stream();
  if (!queue_.front().response) return;
  begin_write();
  // The message lives in the queue's front entry until on_write pops it (deque
  // push_back does not move existing elements).
  bhttp::async_write(stream_, *queue_.front().response,
                     [self = shared()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

template <class Stream>
void Session<Stream>::on_write(beast::error_code ec) {
  writing_ = false;
  disarm(write_timer_, write_gen_);
  if (closed_) return;
  if (ec) return close_now();
  pop_front_response(queue_.front().response->keep_alive());
}

// --- streamed bodies ---------------------------------------------------------------
// On the strand like everything else. The producer (any thread) only touches the
// BodyChannel; it wakes this connection through `on_stream_wake` (a post) when it
// adds to a stream the connection found empty. One write at a time, as for whole
// responses: head, chunk, chunk, ..., last chunk. Each write is bounded by
// write_timeout; the gaps between them by the stall timeout (update_handler_timer).

template <class Stream>
auto Session<Stream>::build_stream(const Pending& entry, Response res) -> std::unique_ptr<StreamOut> {
  auto out = std::make_unique<StreamOut>();
  out->chunked = entry.version >= 11;
  out->head = bhttp::response<bhttp::empty_body>{res.status, entry.version};
  fill_head(out->head, entry, res);
  // HTTP/1.0 has no chunked encoding: the end of the connection ends the body.
  out->head.keep_alive(out->chunked && entry.keep_alive && !res.close_connection && !stopping_);
  if (out->chunked) out->head.chunked(true);
  out->serializer.emplace(out->head);
  out->progress = Clock::now();
  out->body = std::move(res.stream);
  out->body->channel->attach([weak = this->weak_from_this()] {
    if (auto self = weak.lock()) net::post(self->ex_, [self] { self->on_stream_wake(); });
  });
  return out;
}

template <class Stream>
void Session<Stream>::on_stream_wake() {
  if (!closed_) do_write();
}

template <class Stream>
void Session<Stream>::write_stream() {
  auto& entry = queue_.front();
  auto& out = *entry.stream;
  auto done = [self = shared()](StreamStep step) {
    return [self, step](beast::error_code ec, std::size_t) { self->on_stream_write(ec, step); };
  };
  if (!out.head_sent) {
    begin_write();
    bhttp::async_write_header(stream_, *out.serializer, done(StreamStep::Head));
    return;
  }
  auto next = out.body->channel->take();
  switch (next.kind) {
    case detail::BodyChannel::Kind::Nothing:
      return;  // the producer wakes us when it adds something
    case detail::BodyChannel::Kind::Chunk:
      out.chunk = std::move(next.data);
      begin_write();
      if (out.chunked) {
        net::async_write(stream_, bhttp::make_chunk(net::buffer(out.chunk)), done(StreamStep::Chunk));
      } else {
        net::async_write(stream_, net::buffer(out.chunk), done(StreamStep::Chunk));
      }
      return;
    case detail::BodyChannel::Kind::Finished:
      if (!out.chunked) return pop_front_response(false);
      for (const auto& [name, value] : next.trailers.fields()) {
        if (acceptable_field(name, value)) out.trailers.insert(name, value);
      }
      begin_write();
      net::async_write(stream_, bhttp::make_chunk_last(out.trailers), done(StreamStep::Last));
      return;
    case detail::BodyChannel::Kind::Failed:
      core_->warn(fmt::format("streamed response for {} failed after its head was sent: {}", entry.route,
                              next.reason));
      return close_now();
    case detail::BodyChannel::Kind::Cancelled:
      return close_now();
  }
}

template <class Stream>
void Session<Stream>::on_stream_write(beast::error_code ec, StreamStep step) {
  writing_ = false;
  disarm(write_timer_, write_gen_);
  if (closed_) return;
  if (ec) return close_now();  // the client went away: close_now cancels the producer
  auto& out = *queue_.front().stream;
  out.progress = Clock::now();
  switch (step) {
    case StreamStep::Head:
      out.head_sent = true;
      if (queue_.front().head) return pop_front_response(out.head.keep_alive());  // HEAD: no body
      break;
    case StreamStep::Chunk:
      out.chunk.clear();
      out.body->channel->written();
      break;
    case StreamStep::Last:
      return pop_front_response(out.head.keep_alive());
  }
  after_write();
}

/// The front response is completely written (or given up on, for HEAD): next one.
template <class Stream>
void Session<Stream>::pop_front_response(bool keep) {
  queue_.pop_front();
  if (!keep) {
    // Anything read after this request is dropped with the connection.
    closing_ = true;
    queue_.clear();
    upgrade_.reset();
    return begin_close();
  }
  after_write();
}

template <class Stream>
void Session<Stream>::send_continue() {
  writing_ = true;
  arm(write_timer_, write_gen_, Clock::now() + opts().write_timeout, &Session::on_write_timeout);
  net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                   [self = shared()](beast::error_code ec, std::size_t) {
                     self->writing_ = false;
                     disarm(self->write_timer_, self->write_gen_);
                     if (self->closed_) return;
                     if (ec) return self->close_now();
                     self->after_write();
                   });
}

template <class Stream>
void Session<Stream>::after_write() {
  update_handler_timer();
  if (queue_.empty() && !upgrade_ && (closing_ || stopping_)) return begin_close();
  maybe_hand_over();
  if (closed_) return;
  update_idle_timer();
  do_read();
  do_write();
}

// --- closing ---------------------------------------------------------------------

template <class Stream>
void Session<Stream>::on_shutdown(Clock::time_point deadline) {
  if (closed_ || stopping_) return;
  stopping_ = true;
  closing_ = true;
  arm_close_deadline(deadline);
  if (phase_ == Phase::Handshake) return close_now();
  if (upgrade_) {
    const auto seq = upgrade_->seq;
    upgrade_.reset();
    complete(seq, stopping_response());
  }
  if (queue_.empty() && !writing_) begin_close();
}

/// Graceful close; no write may be pending. Plain: FIN, then drain the client's
/// leftover input until it closes (so our last response is not destroyed by a reset).
/// TLS: close_notify. Bounded by linger_timeout (and by the stop deadline).
template <class Stream>
void Session<Stream>::begin_close() {
  if (close_started_ || closed_) return;
  close_started_ = true;
  closing_ = true;
  disarm_read_timer();
  disarm(handler_timer_, handler_gen_);
  arm_close_deadline(Clock::now() + opts().linger_timeout);
  if (reading_) {
    beast::error_code ignored;
    socket().cancel(ignored);  // the read completes, sees close_started_, calls finish_close
    return;
  }
  finish_close();
}

template <class Stream>
void Session<Stream>::finish_close() {
  if (closed_) return;
  if constexpr (kTls) {
    reading_ = true;
    stream_.async_shutdown([self = shared()](beast::error_code) {
      self->reading_ = false;
      self->close_now();
    });
  } else {
    beast::error_code ec;
    socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    drain();
  }
}

template <class Stream>
void Session<Stream>::drain() {
  buffer_.clear();
  reading_ = true;
  stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared()](beast::error_code ec, std::size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    self->drained_ += n;
    // Lingering close: a client that writes its whole body before it reads (Python's
    // http.client, requests) must get our 413, not a reset; bounded by bytes and by
    // linger_timeout.
    if (ec || self->drained_ > self->opts().max_linger_bytes) return self->close_now();
    self->drain();
  });
}

template <class Stream>
void Session<Stream>::close_now() {
  if (closed_) return;
  closed_ = true;
  disarm_all();
  for (auto& entry : queue_) {
    if (entry.stream) entry.stream->body->channel->cancel();  // wake blocked producers now
  }
  beast::error_code ignored;
  socket().close(ignored);  // pending operations complete with operation_aborted
}

}  // namespace siax::http::detail
