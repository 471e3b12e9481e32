#include "cloud/cloud_protocol.h"

#include <ctime>
#include <vector>

#include <fmt/format.h>

namespace siax::cloud {
namespace {

using nlohmann::json;

const json* field(const json& obj, std::initializer_list<const char*> names) {
  if (!obj.is_object()) return nullptr;
  for (const char* n : names) {
    if (auto it = obj.find(n); it != obj.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

std::optional<std::int64_t> as_id(const json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) {
    const auto id = v->get<std::int64_t>();
    return id > 0 ? std::optional(id) : std::nullopt;
  }
  if (v->is_number_unsigned()) {
    const auto id = v->get<std::uint64_t>();
    if (id == 0 || id > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(id);
  }
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::int64_t id = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      id = id * 10 + (c - '0');
    }
    return id > 0 ? std::optional(id) : std::nullopt;
  }
  return std::nullopt;
}

bool string_equals(const json* v, std::string_view expected) {
  return v != nullptr && v->is_string() && v->get_ref<const std::string&>() == expected;
}

json copy_or_null(const json& obj, std::initializer_list<const char*> names) {
  const json* v = field(obj, names);
  return v == nullptr ? json(nullptr) : *v;
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

std::string lookup_path(std::string_view name, std::string_view server) {
  return fmt::format("{}?name={}&server={}", kAppsPath, url_encode(name), url_encode(server));
}

std::string status_path(std::int64_t id) { return fmt::format("{}/{}/status", kAppsPath, id); }
std::string events_path(std::int64_t id) { return fmt::format("{}/{}/events", kAppsPath, id); }

Result<std::string> app_name_of(const json& report) {
  if (!report.is_object()) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_report",
                "a cloud report must be a JSON object with a \"name\" (the app's name)");
  }
  const auto it = report.find("name");
  if (it == report.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_report",
                "a cloud report has no \"name\": give the app's name as a non-empty string");
  }
  const auto& name = it->get_ref<const std::string&>();
  if (name.size() > kMaxAppNameBytes) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_report",
                fmt::format("a cloud report's name is {} bytes long; at most {} are allowed", name.size(),
                            kMaxAppNameBytes));
  }
  return name;
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool significant_change(const json& before, const json& after) {
  for (const char* key : {"status", "pid", "systemd_status", "restart_count", "reason", "failure"}) {
    const json* a = field(before, {key});
    const json* b = field(after, {key});
    if ((a == nullptr) != (b == nullptr)) return true;
    if (a != nullptr && *a != *b) return true;
  }
  return false;
}

json create_body(const json& state, std::string_view server) {
  const std::string name = state.value("name", "");
  json body = {{"name", name},
               {"server", server},
               {"status", copy_or_null(state, {"status"})},
               {"description", state.contains("description") && state["description"].is_string()
                                   ? state["description"]
                                   : json(fmt::format("{} (managed by siax-agent)", name))},
               {"agent", "siax-agent/" SIAX_VERSION}};
  if (const json* type = field(state, {"app_type"})) body["app_type"] = *type;
  return body;
}

json status_body(const json& state, std::string_view server, std::chrono::system_clock::time_point now,
                 const json& last_event) {
  json uptime = copy_or_null(state, {"uptime_seconds"});
  if (uptime.is_null() && string_equals(field(state, {"status"}), "active")) {
    if (const json* since = field(state, {"since_usec"}); since != nullptr && since->is_number_unsigned()) {
      const auto since_usec = since->get<std::uint64_t>();
      const auto now_usec = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
      if (since_usec > 0 && now_usec >= since_usec) uptime = (now_usec - since_usec) / 1'000'000;
    }
  }
  json reason = copy_or_null(state, {"reason"});
  if (reason.is_null() || (reason.is_string() && reason.get_ref<const std::string&>().empty())) {
    reason = copy_or_null(state, {"failure"});
  }
  if (reason.is_string() && reason.get_ref<const std::string&>().empty()) reason = nullptr;
  json body = {{"name", state.value("name", "")},
               {"server", server},
               {"status", state.contains("status") ? state["status"] : json("unknown")},
               {"pid", copy_or_null(state, {"pid"})},
               {"cpu_usage", copy_or_null(state, {"cpu_usage"})},
               {"memory_usage", copy_or_null(state, {"memory_usage"})},
               {"systemd_status", copy_or_null(state, {"systemd_status"})},
               {"restart_count", copy_or_null(state, {"restart_count"})},
               {"uptime_seconds", uptime},
               {"reason", reason},
               {"last_updated", iso8601_utc(now)},
               {"last_event", last_event.is_object() ? last_event : json(nullptr)}};
  return body;
}

json event_body(const json& event, std::string_view server) {
  json body = event.is_object() ? event : json::object();
  body["server"] = server;
  return body;
}

Result<std::optional<std::int64_t>> parse_lookup(std::string_view body, std::string_view name,
                                                 std::string_view server) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto invalid = [&](std::string_view why) {
    return fail(ErrorKind::InvalidInput, "cloud_reply_invalid",
                fmt::format("the cloud's answer to the app lookup is not understood ({}); expected a JSON array of "
                            "records or {{\"data\": [...]}}",
                            why));
  };
  if (doc.is_discarded()) return invalid("not JSON");

  std::vector<const json*> records;
  auto add_all = [&](const json& arr) {
    for (const auto& r : arr) records.push_back(&r);
  };
  if (doc.is_array()) {
    add_all(doc);
  } else if (doc.is_object()) {
    const json* data = field(doc, {"data", "apps"});
    if (data != nullptr && data->is_array()) {
      add_all(*data);
    } else if (data != nullptr && data->is_object()) {
      records.push_back(data);
    } else if (doc.contains("id")) {
      records.push_back(&doc);
    } else if (data == nullptr && doc.contains("success")) {
      // {"success": true, "data": null}: an envelope with nothing in it.
    } else {
      return invalid("an object without \"data\"");
    }
  } else {
    return invalid("neither an array nor an object");
  }

  std::optional<std::int64_t> best;
  for (const json* r : records) {
    if (!string_equals(field(*r, {"name", "app_name"}), name)) continue;
    if (!string_equals(field(*r, {"server", "server_id", "server_name"}), server)) continue;
    const auto id = as_id(field(*r, {"id", "app_id"}));
    if (id && (!best || *id < *best)) best = id;
  }
  return best;
}

std::optional<std::int64_t> parse_created_id(std::string_view body) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  if (auto id = as_id(field(doc, {"id", "app_id"}))) return id;
  if (const json* data = field(doc, {"data"}); data != nullptr && data->is_object()) {
    return as_id(field(*data, {"id", "app_id"}));
  }
  return std::nullopt;
}

}  // namespace siax::cloud
