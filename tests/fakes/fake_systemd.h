#pragma once
// In-memory SystemdManager for unit tests: units are a map of status; every call is
// recorded; any verb can be made to fail with a given error.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ports/systemd_manager.h"

namespace siax::fakes {

class FakeSystemd final : public ports::SystemdManager {
 public:
  std::map<std::string, core::UnitStatus> units;
  std::vector<std::string> calls;             ///< "start siax-app-x.service", "daemon-reload", ...
  std::map<std::string, Error> failures;      ///< verb -> error to return
  std::map<std::string, int> failures_left;   ///< verb -> calls that still fail (then the failure is removed)
  ports::Capabilities capabilities{true, true, true, "fake"};
  /// When set: status() of a unit not in `units` loads it "from disk" (load_state
  /// "loaded") if this says its file exists, like systemd's on-demand load.
  std::function<bool(const std::string&)> loads_from_disk;

  Status daemon_reload() override { return record("daemon-reload", ""); }
  Status start(const std::string& u) override {
    if (auto s = record("start", u); !s) return s;
    auto& st = unit(u);
    st.active_state = "active";
    st.sub_state = "running";
    st.main_pid = next_pid_++;
    return ok();
  }
  Status stop(const std::string& u) override {
    if (auto s = record("stop", u); !s) return s;
    auto& st = unit(u);
    st.active_state = "inactive";
    st.sub_state = "dead";
    st.main_pid = 0;
    return ok();
  }
  Status restart(const std::string& u) override {
    if (auto s = record("restart", u); !s) return s;
    auto& st = unit(u);
    st.active_state = "active";
    st.sub_state = "running";
    st.main_pid = next_pid_++;
    return ok();
  }
  Status enable(const std::string& u) override {
    if (auto s = record("enable", u); !s) return s;
    unit(u).unit_file_state = "enabled";
    return ok();
  }
  Status disable(const std::string& u) override {
    if (auto s = record("disable", u); !s) return s;
    unit(u).unit_file_state = "disabled";
    return ok();
  }
  Status reset_failed(const std::string& u) override { return record("reset-failed", u); }
  Result<core::UnitStatus> status(const std::string& u) override {
    if (auto s = record("status", u); !s) return tl::unexpected(s.error());
    auto it = units.find(u);
    if (it == units.end() && loads_from_disk && loads_from_disk(u)) return unit(u);
    if (it == units.end()) {
      core::UnitStatus st;
      st.unit = u;
      st.load_state = "not-found";
      st.active_state = "inactive";
      st.sub_state = "dead";
      return st;
    }
    return it->second;
  }
  Result<std::vector<std::string>> list_units(const std::string&) override {
    std::vector<std::string> out;
    for (const auto& [name, st] : units) out.push_back(name);
    return out;
  }
  Result<std::vector<ports::UnitListEntry>> list_unit_states(const std::string&) override {
    if (auto s = record("list-states", ""); !s) return tl::unexpected(s.error());
    std::vector<ports::UnitListEntry> out;
    for (const auto& [name, st] : units) {
      if (st.load_state == "not-found") continue;  // systemd lists loaded units only
      out.push_back({name, st.load_state, st.active_state, st.sub_state});
    }
    return out;
  }
  Result<std::vector<std::uint32_t>> unit_processes(const std::string& u) override {
    auto it = units.find(u);
    if (it == units.end() || it->second.main_pid == 0) return std::vector<std::uint32_t>{};
    return std::vector<std::uint32_t>{it->second.main_pid};
  }
  ports::Capabilities probe_capabilities() override { return capabilities; }

 private:
  Status record(const std::string& verb, const std::string& u) {
    calls.push_back(u.empty() ? verb : verb + " " + u);
    auto it = failures.find(verb);
    if (it == failures.end()) return ok();
    Error e = it->second;
    if (auto left = failures_left.find(verb); left != failures_left.end() && --left->second <= 0) {
      failures_left.erase(left);
      failures.erase(it);
    }
    return tl::unexpected(std::move(e));
  }
  core::UnitStatus& unit(const std::string& u) {
    auto& st = units[u];
    st.unit = u;
    st.load_state = "loaded";
    if (st.active_state.empty()) st.active_state = "inactive";
    return st;
  }
  std::uint32_t next_pid_ = 1000;
};

}  // namespace siax::fakes
