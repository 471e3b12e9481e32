#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "cloud/cloud_protocol.h"
#include "cloud/cloud_reporter.h"
#include "cloud/reporter_internal.h"

// CloudReporter's delivery round: states, then events, within a request budget.

namespace siax::cloud {
namespace {

bool is_success(int status) { return status >= 200 && status < 300; }

/// The error for a reply that is not a success. InvalidInput "cloud_rejected" means
/// "the cloud refused this report": retrying the same bytes will not help.
Error reply_error(const CloudReply& reply, Method method, std::string_view path) {
  const std::string what = fmt::format("{} {}", to_string(method), path);
  std::string snippet = reply.body.substr(0, 200);
  std::vector<std::pair<std::string, std::string>> details = {{"http_status", std::to_string(reply.status)}};
  if (reply.retry_after) details.emplace_back("retry_after_s", std::to_string(reply.retry_after->count()));
  if (reply.status == 401 || reply.status == 403) {
    return Error{ErrorKind::Unavailable, "cloud_auth_refused",
                 fmt::format("the cloud refused the API key (HTTP {} to {}): check cloud.api_key", reply.status,
                             what),
                 details};
  }
  if (reply.status >= 300 && reply.status < 400) {
    return Error{ErrorKind::Unavailable, "cloud_redirect",
                 fmt::format("the cloud answered a redirect (HTTP {} to {}); redirects are not followed (the API key "
                             "would go along): set cloud.base_url to the final address",
                             reply.status, what),
                 details};
  }
  if (reply.status == 408 || reply.status == 429 || reply.status >= 500 || reply.status < 200) {
    return Error{ErrorKind::Unavailable, "cloud_unavailable",
                 fmt::format("the cloud answered HTTP {} to {}: {}", reply.status, what, snippet), details};
  }
  return Error{ErrorKind::InvalidInput, "cloud_rejected",
               fmt::format("the cloud refused {} with HTTP {}: {}", what, reply.status, snippet), details};
}

std::optional<std::chrono::seconds> retry_after_of(const Error& e) {
  if (const auto* v = e.detail("retry_after_s")) {
    try {
      return std::chrono::seconds(std::stoll(*v));
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool is_rejection(const Error& e) { return e.code == "cloud_rejected"; }

}  // namespace

// --- the delivery round -----------------------------------------------------------------

void CloudReporter::refresh_states() {
  if (!options_.current_states) return;
  for (const json& state : options_.current_states()) {
    auto name = app_name_of(state);
    if (!name) continue;
    auto previous = outbox_->state(*name);
    if (!previous || (*previous && (*previous)->retire)) continue;
    // Errors (outbox full, too large) leave the previous state in place.
    (void)outbox_->put_state(*name, dump(state), true);
  }
}

steady::time_point CloudReporter::tick(steady::time_point now) {
  const auto interval = std::chrono::duration_cast<steady::duration>(options_.heartbeat_interval);
  if (stopping_) return now + interval;

  if (!next_heartbeat_ || now >= *next_heartbeat_) {
    // The heartbeat: every app's latest state goes out again (ignored if the outbox
    // cannot be written: the next round retries).
    refresh_states();
    if (outbox_->mark_all_pending()) next_heartbeat_ = now + interval;
  }
  const auto heartbeat = next_heartbeat_.value_or(now + interval);
  if (backoff_until_ && now < *backoff_until_) return std::min(*backoff_until_, heartbeat);
  backoff_until_.reset();

  Round round{now, options_.max_requests_per_round, 0, false};
  Result<void> result = deliver_states(round);
  if (result && !round.more) result = deliver_events(round);

  if (!result) {
    const Error& error = result.error();
    const auto delay = retry_.next_delay(retry_after_of(error));
    backoff_until_ = now + delay;
    const auto wall = wall_now();
    {
      std::lock_guard lock(stats_mutex_);
      stats_.last_failure = wall;
      stats_.last_error = error.message;
      stats_.consecutive_failures = retry_.consecutive_failures();
      stats_.backoff_until = wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
    }
    if (!failing_) {
      failing_ = true;
      note(NoticeLevel::Warn, fmt::format("cloud reporting failed: {}; reports wait in the outbox, next try in {} ms",
                                          error.message, delay.count()));
    }
    return std::min(*backoff_until_, heartbeat);
  }

  retry_.reset();
  {
    std::lock_guard lock(stats_mutex_);
    if (round.delivered > 0) stats_.last_success = wall_now();
    stats_.consecutive_failures = 0;
    stats_.backoff_until.reset();
    stats_.last_error.clear();
  }
  if (failing_ && round.delivered > 0) {
    failing_ = false;
    note(NoticeLevel::Info, "cloud reporting works again: queued reports are being delivered");
  }
  if (round.more) return now;
  return heartbeat;
}

Result<CloudReply> CloudReporter::send(Method method, const std::string& path, const std::string& body) {
  return transport_->send(method, path, body);
}

Result<std::optional<std::int64_t>> CloudReporter::lookup(const std::string& name) {
  const std::string path = lookup_path(name, options_.server_id);
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.lookups;
  }
  auto reply = send(Method::Get, path, "");
  if (!reply) return tl::unexpected(std::move(reply.error()));
  // Some APIs answer 404 to a search without results.
  if (reply->status == 404) return std::optional<std::int64_t>();
  if (!is_success(reply->status)) {
    Error e = reply_error(*reply, Method::Get, path);
    // A refused lookup is the cloud's problem, not the report's: retry later.
    if (is_rejection(e)) e.code = "cloud_lookup_refused", e.kind = ErrorKind::Unavailable;
    return tl::unexpected(std::move(e));
  }
  auto id = parse_lookup(reply->body, name, options_.server_id);
  if (!id) {
    Error e = id.error();
    e.kind = ErrorKind::Unavailable;  // not the report's fault: retry later
    return tl::unexpected(std::move(e));
  }
  return *id;
}

Result<std::int64_t> CloudReporter::ensure_id(const std::string& name, const json& source) {
  const std::string& server = options_.server_id;
  auto known = outbox_->cloud_id(name, server);
  if (!known) return tl::unexpected(std::move(known.error()));
  if (known->id) return *known->id;

  // Always look up before creating: a record created before a crash, a timeout or by
  // another agent with the same server id is found here instead of duplicated.
  auto found = lookup(name);
  if (!found) return tl::unexpected(std::move(found.error()));
  if (*found) {
    if (auto r = outbox_->set_cloud_id(name, server, **found); !r) return tl::unexpected(std::move(r.error()));
    if (known->create_started_usec) {
      note(NoticeLevel::Info, fmt::format("cloud: found record {} for app {} (created before the agent was "
                                          "interrupted); not creating another",
                                          **found, name));
    }
    return **found;
  }

  // Not in the cloud: create it. The mark is committed first, so that an interruption
  // after the POST is recognised (the next attempt looks up first anyway).
  const auto now_usec =
      std::chrono::duration_cast<std::chrono::microseconds>(wall_now().time_since_epoch()).count();
  if (auto r = outbox_->mark_create_started(name, server, now_usec); !r) return tl::unexpected(std::move(r.error()));
  const std::string path(kAppsPath);
  auto reply = send(Method::Post, path, dump(create_body(source, server)));
  if (!reply) return tl::unexpected(std::move(reply.error()));

  std::optional<std::int64_t> id;
  if (is_success(reply->status)) {
    id = parse_created_id(reply->body);
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.creates;
    }
  } else if (reply->status != 409) {  // 409: it exists after all (a race): look it up
    return tl::unexpected(reply_error(*reply, Method::Post, path));
  }
  if (!id) {
    auto again = lookup(name);
    if (!again) return tl::unexpected(std::move(again.error()));
    if (!*again) {
      return fail(ErrorKind::Unavailable, "cloud_create_unconfirmed",
                  fmt::format("the cloud accepted the creation of app {} (HTTP {}) but neither returned its id nor "
                              "lists it; will look it up again",
                              name, reply->status));
    }
    id = *again;
  }
  if (auto r = outbox_->set_cloud_id(name, server, *id); !r) return tl::unexpected(std::move(r.error()));
  note(NoticeLevel::Info, fmt::format("cloud: app {} is record {} on server {}", name, *id, server));
  return *id;
}

Result<void> CloudReporter::deliver_states(Round& round) {
  auto pending = outbox_->pending_states(round.budget + 1);
  if (!pending) return tl::unexpected(std::move(pending.error()));
  for (const StoredState& st : *pending) {
    if (stopping_) return {};
    if (round.budget == 0) {
      round.more = true;
      return {};
    }
    const json state = parse_or_null(st.body);
    auto drop = [&](const Error& why) -> Result<void> {
      {
        std::lock_guard lock(stats_mutex_);
        ++stats_.rejected_reports;
        stats_.last_error = why.message;
      }
      note(NoticeLevel::Warn, fmt::format("cloud: dropped the state of app {}: {}", st.name, why.message));
      return outbox_->state_delivered(st.name, st.seq);
    };
    if (!state.is_object()) {
      if (auto r = drop(Error{ErrorKind::InvalidInput, "cloud_rejected", "the stored state is not JSON"}); !r) return r;
      continue;
    }
    const json last_event = parse_or_null(st.last_event);
    bool delivered = false;
    for (int attempt = 0; attempt < 2 && !delivered; ++attempt) {
      if (round.budget == 0) {
        round.more = true;
        return {};
      }
      --round.budget;
      auto id = ensure_id(st.name, state);
      if (!id) {
        if (is_rejection(id.error())) {
          if (auto r = drop(id.error()); !r) return r;
          break;
        }
        return tl::unexpected(std::move(id.error()));
      }
      const std::string path = status_path(*id);
      auto reply = send(Method::Put, path, dump(status_body(state, options_.server_id, wall_now(), last_event)));
      if (!reply) return tl::unexpected(std::move(reply.error()));
      if (is_success(reply->status)) {
        if (auto r = outbox_->state_delivered(st.name, st.seq); !r) return r;
        std::lock_guard lock(stats_mutex_);
        ++stats_.delivered_states;
        ++round.delivered;
        delivered = true;
      } else if (reply->status == 404 || reply->status == 410) {
        // The cloud no longer knows this id: forget it, look up (and create) again.
        note(NoticeLevel::Warn, fmt::format("cloud: record {} of app {} is gone (HTTP {}); looking it up again", *id,
                                            st.name, reply->status));
        if (auto r = outbox_->forget_cloud_id(st.name, options_.server_id); !r) return r;
        if (attempt == 1) {
          return fail(ErrorKind::Unavailable, "cloud_record_lost",
                      fmt::format("the cloud lost the record of app {} twice in a row (HTTP {} to PUT {})", st.name,
                                  reply->status, path));
        }
      } else {
        Error e = reply_error(*reply, Method::Put, path);
        if (!is_rejection(e)) return tl::unexpected(std::move(e));
        if (auto r = drop(e); !r) return r;
        break;
      }
    }
  }
  return {};
}

Result<void> CloudReporter::deliver_events(Round& round) {
  if (events_disabled_until_ && round.now < *events_disabled_until_) return {};
  if (events_disabled_until_) {
    events_disabled_until_.reset();
    std::lock_guard lock(stats_mutex_);
    stats_.events_endpoint_missing = false;
  }
  auto events = outbox_->oldest_events(round.budget + 1);
  if (!events) return tl::unexpected(std::move(events.error()));
  for (const StoredEvent& ev : *events) {
    if (stopping_) return {};
    if (round.budget == 0) {
      round.more = true;
      return {};
    }
    --round.budget;
    const json event = parse_or_null(ev.body);
    auto drop = [&](const std::string& why) { return drop_event(ev, why); };
    if (!event.is_object()) {
      if (auto r = drop("the stored event is not JSON"); !r) return r;
      continue;
    }
    // The app's state (if any) describes it best for a create; else the event's name.
    json source = {{"name", ev.name}};
    if (auto st = outbox_->state(ev.name); st && *st) {
      if (json parsed = parse_or_null((*st)->body); parsed.is_object()) source = std::move(parsed);
    }
    auto id = ensure_id(ev.name, source);
    if (!id) {
      if (is_rejection(id.error())) {
        if (auto r = drop(id.error().message); !r) return r;
        continue;
      }
      return tl::unexpected(std::move(id.error()));
    }
    const std::string path = events_path(*id);
    auto reply = send(Method::Post, path, dump(event_body(event, options_.server_id)));
    if (!reply) return tl::unexpected(std::move(reply.error()));
    if (is_success(reply->status)) {
      if (auto r = outbox_->remove_event(ev.seq); !r) return r;
      std::lock_guard lock(stats_mutex_);
      ++stats_.delivered_events;
      ++round.delivered;
      continue;
    }
    if (reply->status == 404 || reply->status == 405 || reply->status == 501) {
      return on_event_not_found(round, ev.name, *id, reply->status, path);
    }
    Error e = reply_error(*reply, Method::Post, path);
    if (!is_rejection(e)) return tl::unexpected(std::move(e));
    if (auto r = drop(e.message); !r) return r;
  }
  return {};
}

Result<void> CloudReporter::drop_event(const StoredEvent& ev, const std::string& why) {
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.rejected_reports;
    stats_.last_error = why;
  }
  note(NoticeLevel::Warn, fmt::format("cloud: dropped an event of app {}: {}", ev.name, why));
  return outbox_->remove_event(ev.seq);
}

/// An event's POST was answered 404, 405 or 501: either the app's record is gone (its id
/// is looked up again and the next round, at once, delivers the event) or the cloud has
/// no events endpoint (events pause for events_probe_interval). Either way the round ends.
Result<void> CloudReporter::on_event_not_found(Round& round, const std::string& name, std::int64_t id, int status,
                                               const std::string& path) {
  // Either the record is gone or the cloud has no events endpoint: ask.
  auto found = lookup(name);
  if (!found) return tl::unexpected(std::move(found.error()));
  if (*found && **found == id) {
    events_disabled_until_ = round.now + options_.events_probe_interval;
    {
      std::lock_guard lock(stats_mutex_);
      stats_.events_endpoint_missing = true;
    }
    note(NoticeLevel::Warn,
         fmt::format("cloud: the cloud has no events endpoint (HTTP {} to POST {}); events stay queued (the "
                     "latest one per app goes with each status as last_event), next try in {} s",
                     status, path, options_.events_probe_interval.count()));
    return {};
  }
  if (*found) {
    if (auto r = outbox_->set_cloud_id(name, options_.server_id, **found); !r) return r;
  } else if (auto r = outbox_->forget_cloud_id(name, options_.server_id); !r) {
    return r;
  }
  round.more = true;  // the next round (at once) delivers it with the right id
  return {};
}

}  // namespace siax::cloud
