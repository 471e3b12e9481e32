// Reading requests, routing them and the WebSocket hand-over
// of Session<Stream> (session.h); compiled by session.cpp only.
// Everything runs on the connection's strand.

namespace siax::http::detail {

// --- reading ---------------------------------------------------------------------

template <class Stream>
void Session<Stream>::begin() {
  if constexpr (kTls) {
    phase_ = Phase::Handshake;
    reading_ = true;
    arm_read_timer(started_at_ + opts().read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared()](beast::error_code ec) { self->on_handshake(ec); });
  } else {
    do_read();
  }
}

template <class Stream>
void Session<Stream>::on_handshake(beast::error_code ec) {
  reading_ = false;
  phase_ = Phase::None;
  if (closed_) return;
  if (ec) return close_now();  // not TLS, bad client hello, ...: nothing to answer
  disarm_read_timer();
  do_read();
}

template <class Stream>
void Session<Stream>::do_read() {
  if (reading_ || closing_ || closed_ || upgrade_ || queue_.size() >= opts().max_pipelined_requests) return;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(opts().max_header_bytes, UINT32_MAX)));
  parser_->body_limit(static_cast<std::uint64_t>(opts().max_body_bytes));
  reading_ = true;
  if (buffer_.size() > 0) return read_request();  // pipelined bytes already here
  phase_ = Phase::Idle;
  update_idle_timer();
  const auto n = std::min(kReadChunk, buffer_.max_size() - buffer_.size());
  stream_.async_read_some(buffer_.prepare(n), [self = shared()](beast::error_code ec, std::size_t bytes) {
    self->on_first_bytes(ec, bytes);
  });
}

template <class Stream>
void Session<Stream>::on_first_bytes(beast::error_code ec, std::size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (close_started_) return finish_close();
  if (ec) return on_read_error(ec);
  buffer_.commit(bytes);
  reading_ = true;
  read_request();
}

/// From the first byte of a request to its last body byte: one read_timeout.
template <class Stream>
void Session<Stream>::read_request() {
  phase_ = Phase::Request;
  arm_read_timer(first_request_ ? started_at_ + opts().read_timeout : Clock::now() + opts().read_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

template <class Stream>
void Session<Stream>::on_header(beast::error_code ec) {
  reading_ = false;
  if (closed_) return;
  if (close_started_) return finish_close();
  if (ec) return on_read_error(ec);
  if (parser_->is_done()) return on_request();
  // The client waits for "100 Continue" before the body. It may only be sent when
  // every earlier response is out, or the client would take it for theirs; otherwise
  // the client sends the body after its own short delay.
  const auto expect = parser_->get()[bhttp::field::expect];
  if (iequals(expect, "100-continue") && queue_.empty() && !writing_) send_continue();
  reading_ = true;
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared()](beast::error_code ec2, std::size_t) { self->on_body(ec2); });
}

template <class Stream>
void Session<Stream>::on_body(beast::error_code ec) {
  reading_ = false;
  if (closed_) return;
  if (close_started_) return finish_close();
  if (ec) return on_read_error(ec);
  on_request();
}

template <class Stream>
void Session<Stream>::on_read_error(beast::error_code ec) {
  phase_ = Phase::None;
  disarm_read_timer();
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
      ec == ssl::error::stream_truncated) {
    // The client closed its side. Responses still pending are written (it may have
    // half-closed and still read); then the connection closes.
    closing_ = true;
    if (queue_.empty() && !writing_) close_now();
    return;
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return protocol_error(StatusCode::request_header_fields_too_large, "headers_too_large",
                          fmt::format("the request headers exceed {} bytes", opts().max_header_bytes));
  }
  if (ec == bhttp::error::body_limit) {
    return protocol_error(StatusCode::payload_too_large, "body_too_large",
                          fmt::format("the request body exceeds {} bytes", opts().max_body_bytes));
  }
  if (ec.category() == beast::error_code(bhttp::error::bad_target).category()) {
    return protocol_error(StatusCode::bad_request, "malformed_request",
                          fmt::format("the request is not valid HTTP/1.1: {}", ec.message()));
  }
  close_now();  // reset, aborted, TLS failure: nobody to answer
}

/// Queues a final error response after any pending ones; the connection closes once
/// it is written (the rest of the input cannot be trusted to frame a next request).
template <class Stream>
void Session<Stream>::protocol_error(StatusCode status, std::string_view code, std::string_view message) {
  closing_ = true;
  Pending entry;
  entry.seq = next_seq_++;
  entry.keep_alive = false;
  queue_.push_back(std::move(entry));
  auto res = json_failure(status, code, message);
  res.close_connection = true;
  complete(queue_.back().seq, std::move(res));
}

template <class Stream>
void Session<Stream>::on_request() {
  phase_ = Phase::None;
  disarm_read_timer();
  auto req = parser_->release();
  parser_.reset();
  first_request_ = false;

  Pending entry;
  entry.seq = next_seq_++;
  entry.version = req.version();
  entry.keep_alive = req.keep_alive();
  entry.head = req.method() == bhttp::verb::head;
  entry.deadline = Clock::now() + opts().handler_timeout;
  if (!entry.keep_alive) closing_ = true;
  const auto seq = entry.seq;
  queue_.push_back(std::move(entry));

  if (stopping_) {
    complete(seq, stopping_response());
  } else {
    dispatch(std::move(req), seq);
  }
  if (closed_) return;  // handed over to a WebSocket handler
  update_handler_timer();
  do_read();  // read ahead (pipelining) while the handler works
}

// --- routing and handlers --------------------------------------------------------

template <class Stream>
Request Session<Stream>::to_request(bhttp::request<bhttp::string_body>& req) {
  Request r;
  r.method = req.method();
  r.method_text = std::string(req.method_string());
  r.target = std::string(req.target());
  r.version = req.version();
  r.keep_alive = req.keep_alive();
  for (const auto& field : req) r.headers.add(std::string(field.name_string()), std::string(field.value()));
  r.body = std::move(req.body());
  r.remote_address = remote_address_;
  r.remote_port = remote_port_;
  r.tls = kTls;
  return r;
}

template <class Stream>
auto Session<Stream>::find(std::uint64_t seq) -> Pending* {
  for (auto& entry : queue_) {
    if (entry.seq == seq) return &entry;
  }
  return nullptr;
}

template <class Stream>
std::optional<Response> Session<Stream>::run_middleware(Request& request) {
  for (const auto& middleware : core_->middleware) {
    try {
      if (auto rejected = middleware(request)) return rejected;
    } catch (const std::exception& e) {
      core_->warn(fmt::format("middleware threw on {} {}: {}", request.method_text, request.route, e.what()));
      return internal_error_response();
    } catch (...) {
      core_->warn(fmt::format("middleware threw on {} {}", request.method_text, request.route));
      return internal_error_response();
    }
  }
  return std::nullopt;
}

template <class Stream>
void Session<Stream>::dispatch(bhttp::request<bhttp::string_body> req, std::uint64_t seq) {
  Request request = to_request(req);
  if (opts().allowed_hosts) {
    if (auto host = request.header("Host"); host && !host_allowed(*host, *opts().allowed_hosts)) {
      return complete(seq, json_failure(StatusCode::misdirected_request, "host_not_allowed",
                                        "this agent does not answer to that Host name: use its address, or add "
                                        "the name to server.allowed_hosts"));
    }
  }
  auto target = parse_target(request.target, opts().target_limits);
  if (!target) return complete(seq, error_response(target.error()));
  request.path = std::move(target->path);
  request.query = std::move(target->query);

  if (!core_->ws_router.empty() && beast::websocket::is_upgrade(req)) {
    auto ws = core_->ws_router.match(Method::get, target->segments);
    if (ws.outcome == RouteOutcome::Found) {
      request.route = std::string(ws.pattern);
      request.params = std::move(ws.params);
      find(seq)->route = request.route;
      if (auto rejected = run_middleware(request)) return complete(seq, std::move(*rejected));
      upgrade_.emplace(PendingUpgrade{seq, std::move(request), std::move(req), ws.handler});
      maybe_hand_over();
      return;
    }
  }

  auto match = core_->router.match(request.method, target->segments);
  if (match.outcome == RouteOutcome::NotFound) {
    return complete(seq, json_failure(StatusCode::not_found, "not_found",
                                      fmt::format("there is no resource at {}", request.path)));
  }
  if (match.outcome == RouteOutcome::MethodNotAllowed) {
    auto res = json_failure(StatusCode::method_not_allowed, "method_not_allowed",
                            fmt::format("{} is not allowed on {}", request.method_text, request.path));
    res.headers.set("Allow", allow_header_value(match.allowed));
    return complete(seq, std::move(res));
  }
  request.route = std::string(match.pattern);
  request.params = std::move(match.params);
  find(seq)->route = request.route;
  if (auto rejected = run_middleware(request)) return complete(seq, std::move(*rejected));
  if (request.auth.has_value()) authenticated_ = true;

  Responder responder([weak = this->weak_from_this(), seq](Response res) {
    if (auto self = weak.lock()) {
      net::post(self->ex_, [self, seq, res = std::move(res)]() mutable { self->complete(seq, std::move(res)); });
    }
  });
  const auto route = request.route;
  try {
    (*match.handler)(std::move(request), responder);
  } catch (const std::exception& e) {
    core_->warn(fmt::format("handler for {} threw: {}", route, e.what()));
    responder.send(internal_error_response());
  } catch (...) {
    core_->warn(fmt::format("handler for {} threw", route));
    responder.send(internal_error_response());
  }
}

/// Hands the connection to the WebSocket handler once every earlier response is out
/// and nothing is pending on the stream.
template <class Stream>
void Session<Stream>::maybe_hand_over() {
  if (!upgrade_ || writing_ || reading_ || closed_ || close_started_) return;
  if (queue_.size() != 1 || queue_.front().seq != upgrade_->seq) return;
  auto up = std::move(*upgrade_);
  upgrade_.reset();
  queue_.clear();
  disarm_all();
  closed_ = true;  // from now on this session owns nothing; the stream is moved out
  ++core_->stats.websocket_upgrades;
  core_->stats.count_request(up.request.route, 101);
  const auto route = up.request.route;
  WebSocketUpgrade handed{std::move(up.request), std::move(up.raw), WebSocketStream(std::in_place_type<Stream>, std::move(stream_)),
                          slot_};
  try {
    (*up.handler)(std::move(handed));
  } catch (const std::exception& e) {
    core_->warn(fmt::format("WebSocket handler for {} threw: {}", route, e.what()));
  } catch (...) {
    core_->warn(fmt::format("WebSocket handler for {} threw", route));
  }
}

}  // namespace siax::http::detail
