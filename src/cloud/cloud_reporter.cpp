#include "cloud/cloud_reporter.h"

#include <algorithm>
#include <utility>

#include "cloud/cloud_protocol.h"
#include "cloud/reporter_internal.h"
#include "common/prometheus.h"

namespace siax::cloud {

json stats_to_json(const CloudStats& s) {
  auto time_or_null = [](const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? json(iso8601_utc(*t)) : json(nullptr);
  };
  return json{{"server", s.server},
              {"apps", s.apps},
              {"queued_states", s.queued_states},
              {"queued_events", s.queued_events},
              {"dropped_events", s.dropped_events},
              {"dropped_states", s.dropped_states},
              {"delivered_states", s.delivered_states},
              {"delivered_events", s.delivered_events},
              {"rejected_reports", s.rejected_reports},
              {"lookups", s.lookups},
              {"creates", s.creates},
              {"consecutive_failures", s.consecutive_failures},
              {"last_success", time_or_null(s.last_success)},
              {"last_failure", time_or_null(s.last_failure)},
              {"last_error", s.last_error.empty() ? json(nullptr) : json(s.last_error)},
              {"backoff_until", time_or_null(s.backoff_until)},
              {"events_endpoint_missing", s.events_endpoint_missing}};
}

std::string stats_to_prometheus(const CloudStats& s) {
  std::int64_t last_success = 0;
  if (s.last_success) {
    last_success = std::chrono::duration_cast<std::chrono::seconds>(s.last_success->time_since_epoch()).count();
  }
  PromText out;
  out.family("siax_cloud_queued_states", "gauge", "App states waiting to be sent to the cloud.")
      .sample(s.queued_states);
  out.family("siax_cloud_queued_events", "gauge", "Events waiting to be sent to the cloud.").sample(s.queued_events);
  out.family("siax_cloud_dropped_events_total", "counter", "Events dropped by the outbox bound.")
      .sample(s.dropped_events);
  out.family("siax_cloud_rejected_reports_total", "counter", "Reports the cloud refused (dropped).")
      .sample(s.rejected_reports);
  out.family("siax_cloud_delivered_states_total", "counter", "States delivered since start-up.")
      .sample(s.delivered_states);
  out.family("siax_cloud_delivered_events_total", "counter", "Events delivered since start-up.")
      .sample(s.delivered_events);
  out.family("siax_cloud_consecutive_failures", "gauge", "Failed delivery rounds in a row.")
      .sample(s.consecutive_failures);
  out.family("siax_cloud_last_success_timestamp_seconds", "gauge", "Last successful delivery (0: never).")
      .sample(static_cast<std::uint64_t>(std::max<std::int64_t>(0, last_success)));  // none before 1970
  return out.take();
}

Result<std::unique_ptr<CloudReporter>> CloudReporter::create(std::unique_ptr<CloudOutbox> outbox,
                                                             std::unique_ptr<CloudTransport> transport,
                                                             Options options) {
  if (!outbox || !transport) {
    return fail(ErrorKind::Internal, "invalid_cloud_reporter", "the cloud reporter needs an outbox and a transport");
  }
  if (options.server_id.empty()) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_reporter",
                "the cloud server identifier is empty: set cloud.server_id or give the host a name");
  }
  if (options.heartbeat_interval < std::chrono::seconds(1)) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_reporter",
                "cloud.heartbeat_interval_s must be at least 1 second");
  }
  if (options.max_requests_per_round == 0) options.max_requests_per_round = 1;
  auto retry = RetryPolicy::create(options.retry, options.random);
  if (!retry) return tl::unexpected(std::move(retry.error()));
  return std::unique_ptr<CloudReporter>(
      new CloudReporter(std::move(outbox), std::move(transport), std::move(options), std::move(*retry)));
}

CloudReporter::CloudReporter(std::unique_ptr<CloudOutbox> outbox, std::unique_ptr<CloudTransport> transport,
                             Options options, RetryPolicy retry)
    : outbox_(std::move(outbox)),
      transport_(std::move(transport)),
      options_(std::move(options)),
      retry_(std::move(retry)) {
  stats_.server = options_.server_id;
}

CloudReporter::~CloudReporter() { stop(); }

std::chrono::system_clock::time_point CloudReporter::wall_now() const {
  return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
}

void CloudReporter::note(NoticeLevel level, const std::string& text) const {
  if (options_.notify) options_.notify(level, text);
}

// --- the agent's side -----------------------------------------------------------------

Status CloudReporter::report_state(const json& state) {
  auto name = app_name_of(state);
  if (!name) return tl::unexpected(std::move(name.error()));
  auto previous = outbox_->state(*name);
  if (!previous) return tl::unexpected(std::move(previous.error()));
  const bool urgent =
      !*previous || (*previous)->retire || significant_change(parse_or_null((*previous)->body), state);
  if (auto r = outbox_->put_state(*name, dump(state), urgent); !r) return r;
  if (urgent) wake();
  return {};
}

Status CloudReporter::report_event(const json& event) {
  json stored = event;
  // The monitor's events name the app "app".
  if (stored.is_object() && !stored.contains("name") && stored.contains("app")) stored["name"] = stored["app"];
  auto name = app_name_of(stored);
  if (!name) return tl::unexpected(std::move(name.error()));
  if (!stored.contains("at")) stored["at"] = iso8601_utc(wall_now());
  if (auto r = outbox_->add_event(*name, dump(stored)); !r) return r;
  wake();
  return {};
}

Status CloudReporter::retire_app(const json& final_state) {
  auto name = app_name_of(final_state);
  if (!name) return tl::unexpected(std::move(name.error()));
  if (auto r = outbox_->retire_state(*name, dump(final_state)); !r) return r;
  wake();
  return {};
}

CloudStats CloudReporter::stats() const {
  const auto counts = outbox_->counts();
  std::lock_guard lock(stats_mutex_);
  CloudStats s = stats_;
  s.apps = counts.apps;
  s.queued_states = counts.pending_states;
  s.queued_events = counts.events;
  s.dropped_events = counts.dropped_events;
  s.dropped_states = counts.dropped_states;
  return s;
}

// --- the thread ---------------------------------------------------------------------------

void CloudReporter::wake() {
  {
    std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

void CloudReporter::start() {
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void CloudReporter::run() {
  while (!stopping_) {
    const auto next = tick(steady::now());
    std::unique_lock lock(wake_mutex_);
    wake_cv_.wait_until(lock, next, [this] { return stopping_.load() || woken_; });
    woken_ = false;
  }
}

void CloudReporter::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    if (stopping_.exchange(true) && !thread_.joinable()) return;
  }
  transport_->cancel();
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace siax::cloud
