#include "agent/state_stream.h"

#include <fmt/format.h>

namespace siax::agent {

std::string sse_message(std::uint64_t id, std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 40);
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += type;
  out += "\ndata: ";
  out += data;  // one line: the store serializes without newlines (they are escaped in JSON strings)
  out += "\n\n";
  return out;
}

StateStream::StateStream(state::StateStore& store, StateStreamOptions options) : store_(store), options_(options) {}

StateStream::~StateStream() { stop(); }

void StateStream::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void StateStream::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  for (auto& c : clients_) c->writer.finish();
  clients_.clear();
  stats_.open = 0;
}

void StateStream::notify() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void StateStream::open(const http::Responder& res, std::optional<std::uint64_t> last_event_id) {
  auto sub = store_.subscribe();
  if (!sub) {
    std::lock_guard lock(mu_);
    ++stats_.refused;
    res.send(http::error_response(sub.error(), std::chrono::seconds(5)));
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      res.send(http::json_failure(http::StatusCode::service_unavailable, "server_stopping", "the agent is stopping"));
      return;
    }
  }
  http::Response head;
  head.content_type = "text/event-stream";
  head.headers.set("Cache-Control", "no-store");
  head.headers.set("X-Accel-Buffering", "no");
  auto writer = res.stream(std::move(head), options_.max_in_flight);
  if (!writer) return;
  auto c = std::make_unique<Client>(Client{std::move(*writer), std::move(*sub), last_event_id, false, 0, {}});
  {
    std::lock_guard lock(mu_);
    clients_.push_back(std::move(c));
    ++stats_.opened;
    stats_.open = clients_.size();
    dirty_ = true;
  }
  cv_.notify_all();
}

StateStreamStats StateStream::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool StateStream::serve(Client& c, std::chrono::steady_clock::time_point now) {
  if (c.writer.cancelled()) return false;
  // No room: the client is not reading. Its subscription keeps at most max_queue changes
  // and then asks for a snapshot; nothing grows here.
  if (c.writer.in_flight() >= options_.max_in_flight) return true;
  std::string chunk;
  std::uint64_t events = 0;
  std::uint64_t snapshots = 0;
  bool resumed = false;
  auto send_snapshot = [&] {
    const auto snap = store_.snapshot();
    chunk += sse_message(snap.version, "snapshot", snap.data);
    c.last_sent = snap.version;
    ++snapshots;
  };
  auto batch = c.sub->take();
  if (!c.started) {
    c.started = true;
    std::optional<std::vector<state::ChangePtr>> missed;
    if (c.resume_from) missed = store_.changes_since(*c.resume_from);
    if (missed && !batch.snapshot) {
      c.last_sent = *c.resume_from;
      for (const auto& ch : *missed) {
        chunk += sse_message(ch->version, ch->type, ch->data);
        c.last_sent = ch->version;
        ++events;
      }
      resumed = true;
    } else {
      send_snapshot();
      batch.changes.clear();
    }
  } else if (batch.snapshot) {
    send_snapshot();
  }
  for (const auto& ch : batch.changes) {
    if (ch->version <= c.last_sent) continue;  // already in the snapshot or the resume
    chunk += sse_message(ch->version, ch->type, ch->data);
    c.last_sent = ch->version;
    ++events;
  }
  if (chunk.empty() && now - c.last_write >= options_.keepalive) chunk = ": keepalive\n\n";
  if (!chunk.empty()) {
    if (!c.writer.write(std::move(chunk))) return false;
    c.last_write = now;
  }
  std::lock_guard lock(mu_);
  stats_.events += events;
  stats_.snapshots += snapshots;
  if (resumed) ++stats_.resumed;
  return true;
}

void StateStream::run() {
  while (true) {
    std::vector<Client*> clients;
    {
      std::unique_lock lock(mu_);
      // No client: sleep until one comes (an idle agent wakes for nothing). With clients,
      // every 500 ms as well: the keepalives, and the clients that left or drained.
      cv_.wait(lock, [this] { return stopping_ || !clients_.empty(); });
      cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_ || dirty_; });
      if (stopping_) return;
      dirty_ = false;
      for (auto& c : clients_) clients.push_back(c.get());
    }
    // Clients are only removed on this thread, so the pointers stay valid without the lock.
    const auto now = std::chrono::steady_clock::now();
    std::vector<Client*> gone;
    for (auto* c : clients) {
      if (!serve(*c, now)) gone.push_back(c);
    }
    if (!gone.empty()) {
      std::lock_guard lock(mu_);
      for (auto* g : gone) {
        std::erase_if(clients_, [g](const std::unique_ptr<Client>& c) { return c.get() == g; });
      }
      stats_.open = clients_.size();
    }
  }
}

}  // namespace siax::agent
