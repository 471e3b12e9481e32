#pragma once
/// An in-memory cloud behind the CloudTransport port, for the reporter's unit tests.
/// It implements the contract of docs/CLOUD.md honestly (lookup filters by name and
/// server, create returns {"success":true,"data":{"id":N}}, PUT on an unknown id is a
/// 404) and counts duplicates instead of refusing them, so tests can assert there are
/// none. Failure modes are switched by the test. Not thread-safe: the tests call tick()
/// on their own thread.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/cloud_transport.h"

namespace siax::cloud::test {

struct FakeCloud {
  struct App {
    std::int64_t id = 0;
    std::string name;
    std::string server;
  };
  struct Received {
    std::int64_t id = 0;
    nlohmann::json body;
  };

  std::vector<App> apps;
  std::int64_t next_id = 100;
  std::vector<Received> statuses;
  std::vector<Received> events;
  std::vector<std::string> log;  ///< "GET /api/...", in order
  int duplicates = 0;

  // Failure modes.
  bool unreachable = false;               ///< send() fails: no answer at all
  int fail_status = 0;                    ///< every request answers this status
  std::optional<std::chrono::seconds> retry_after;
  int put_status = 0;                     ///< PUT status answers this (0: normal)
  bool events_endpoint = true;            ///< false: POST .../events is a 404
  bool create_returns_id = true;

  void forget(std::int64_t id) {
    std::erase_if(apps, [id](const App& a) { return a.id == id; });
  }
  [[nodiscard]] std::size_t count(std::string_view prefix) const {
    std::size_t n = 0;
    for (const auto& l : log) n += l.starts_with(prefix) ? 1 : 0;
    return n;
  }

  static std::string decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  }

  Result<CloudReply> handle(Method method, std::string_view target, std::string_view body) {
    log.push_back(std::string(to_string(method)) + " " + std::string(target));
    if (unreachable) return fail(ErrorKind::Unavailable, "cloud_unreachable", "fake: connection refused");
    if (fail_status != 0) return CloudReply{fail_status, R"({"success":false,"error":"fake failure"})", retry_after};
    const std::string prefix = "/api/apps_servcs/apps";
    if (method == Method::Get && target.starts_with(prefix + "?")) {
      std::string name, server;
      std::string_view q = target.substr(prefix.size() + 1);
      while (!q.empty()) {
        const auto amp = q.find('&');
        const auto part = q.substr(0, amp);
        const auto eq = part.find('=');
        const auto key = part.substr(0, eq);
        const auto value = decode(part.substr(eq + 1));
        if (key == "name") name = value;
        if (key == "server") server = value;
        q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
      }
      nlohmann::json data = nlohmann::json::array();
      for (const auto& a : apps) {
        if (a.name == name && a.server == server) data.push_back({{"id", a.id}, {"name", a.name}, {"server", a.server}});
      }
      return CloudReply{200, nlohmann::json{{"success", true}, {"data", data}}.dump(), std::nullopt};
    }
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (method == Method::Post && target == prefix) {
      const std::string name = j.value("name", ""), server = j.value("server", "");
      for (const auto& a : apps) duplicates += (a.name == name && a.server == server) ? 1 : 0;
      apps.push_back(App{next_id++, name, server});
      if (!create_returns_id) return CloudReply{201, R"({"success":true})", std::nullopt};
      return CloudReply{201, nlohmann::json{{"success", true}, {"data", {{"id", apps.back().id}}}}.dump(),
                        std::nullopt};
    }
    if (target.starts_with(prefix + "/")) {
      const auto rest = target.substr(prefix.size() + 1);
      const auto slash = rest.find('/');
      const std::int64_t id = std::stoll(std::string(rest.substr(0, slash)));
      const auto what = rest.substr(slash + 1);
      const bool known = std::any_of(apps.begin(), apps.end(), [id](const App& a) { return a.id == id; });
      if (method == Method::Put && what == "status") {
        if (put_status != 0) return CloudReply{put_status, R"({"error":"refused"})", std::nullopt};
        if (!known) return CloudReply{404, R"({"success":false,"error":"not found"})", std::nullopt};
        statuses.push_back({id, j});
        return CloudReply{200, R"({"success":true})", std::nullopt};
      }
      if (method == Method::Post && what == "events") {
        if (!events_endpoint || !known) return CloudReply{404, R"({"error":"not found"})", std::nullopt};
        events.push_back({id, j});
        return CloudReply{201, R"({"success":true})", std::nullopt};
      }
    }
    return CloudReply{404, R"({"error":"no route"})", std::nullopt};
  }
};

class FakeTransport final : public CloudTransport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeCloud> cloud) : cloud_(std::move(cloud)) {}
  Result<CloudReply> send(Method method, std::string_view target, std::string_view body) override {
    if (cancelled_) return fail(ErrorKind::Unavailable, "cloud_cancelled", "cancelled");
    return cloud_->handle(method, target, body);
  }
  void cancel() noexcept override { cancelled_ = true; }

 private:
  std::shared_ptr<FakeCloud> cloud_;
  bool cancelled_ = false;
};

/// Forwards to `inner` until a create (POST /api/apps_servcs/apps) succeeds in the cloud;
/// that reply is lost and every later call fails: the agent "died" between the cloud's
/// create and remembering the id.
class DiesAfterCreate final : public CloudTransport {
 public:
  explicit DiesAfterCreate(std::unique_ptr<CloudTransport> inner) : inner_(std::move(inner)) {}

  Result<CloudReply> send(Method method, std::string_view path_and_query, std::string_view json_body) override {
    if (dead_) return fail(ErrorKind::Unavailable, "simulated_crash", "the agent is dead (test)");
    auto reply = inner_->send(method, path_and_query, json_body);
    if (method == Method::Post && path_and_query == "/api/apps_servcs/apps" && reply && reply->status >= 200 &&
        reply->status < 300) {
      dead_ = true;
      return fail(ErrorKind::Unavailable, "simulated_crash", "the agent died after the create (test)");
    }
    return reply;
  }
  void cancel() noexcept override { inner_->cancel(); }

 private:
  std::unique_ptr<CloudTransport> inner_;
  bool dead_ = false;
};

}  // namespace siax::cloud::test
