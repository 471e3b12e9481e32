#include "adapters/linux/unit_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <systemd/sd-bus.h>

#include "core/app_definition.h"

namespace siax::adapters {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitPathPrefix = "/org/freedesktop/systemd1/unit/";

struct Bus {
  sd_bus* bus = nullptr;
  ~Bus() {
    if (bus != nullptr) sd_bus_flush_close_unref(bus);
  }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string app_from_unit_object_path(const std::string& path) {
  const std::string_view prefix = kUnitPathPrefix;
  if (path.rfind(prefix, 0) != 0) return "";
  // sd-bus escapes every byte outside [A-Za-z0-9] as _XX.
  std::string unit;
  const std::string_view escaped = std::string_view(path).substr(prefix.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '_') {
      if (i + 2 >= escaped.size()) return "";
      const int hi = hex_value(escaped[i + 1]);
      const int lo = hex_value(escaped[i + 2]);
      if (hi < 0 || lo < 0) return "";
      unit.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      unit.push_back(escaped[i]);
    }
  }
  return core::app_name_from_unit(unit).value_or("");
}

UnitWatcher::UnitWatcher(OnChange on_change, OnResync on_resync)
    : on_change_(std::move(on_change)), on_resync_(std::move(on_resync)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

UnitWatcher::~UnitWatcher() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void UnitWatcher::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  if (wake_fd_ >= 0) {
    std::uint64_t drained = 0;
    (void)!::read(wake_fd_, &drained, sizeof drained);  // a stop() before this start
  }
  thread_ = std::thread([this] { run(); });
}

void UnitWatcher::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

void UnitWatcher::pause(int timeout_ms) const {
  if (stopping_) return;
  if (wake_fd_ < 0) {  // no eventfd (fd limit at start): look at stop() every 200 ms
    const int step = timeout_ms < 0 ? 200 : std::min(timeout_ms, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(step));
    return;
  }
  pollfd p{wake_fd_, POLLIN, 0};
  (void)::poll(&p, 1, timeout_ms);
}

void UnitWatcher::run() {
  while (!stopping_) {
    Bus b;
    resubscribe_ = false;
    const bool ok = sd_bus_open_system(&b.bus) >= 0 && subscribe(b.bus);
    connected_ = ok;
    // Whatever happened while we were not subscribed was missed: read everything again.
    if (ok && on_resync_) on_resync_(reconnects_++ == 0 ? "" : "reconnected to the system bus; state re-read");
    if (ok) pump(b.bus);
    connected_ = false;
    // Reconnect after a pause (stop() ends it).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stopping_ && std::chrono::steady_clock::now() < until) pause(200);
  }
}

bool UnitWatcher::subscribe(sd_bus* bus) {
  if (!add_unit_matches(bus) || !add_manager_matches(bus)) return false;
  // Subscribe makes systemd send unit signals; it may be refused to an unprivileged
  // caller on old systemd versions: then job signals still arrive (broadcast).
  if (sd_bus_call_method(bus, kDest, kPath, kManager, "Subscribe", nullptr, nullptr, "") < 0) return false;
  // The name's owner now: its NameOwnerChanged may still be queued (a Subscribe sent before
  // systemd was on the bus waits for it), and must not make us subscribe twice.
  owner_ = systemd_owner(bus);
  resubscribe_ = false;
  subscribing_ = false;
  return true;
}

std::string UnitWatcher::systemd_owner(sd_bus* bus) {
  sd_bus_message* reply = nullptr;
  const char* owner = nullptr;
  std::string out;
  if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                         nullptr, &reply, "s", kDest) >= 0 &&
      sd_bus_message_read(reply, "s", &owner) >= 0 && owner != nullptr) {
    out = owner;
  }
  sd_bus_message_unref(reply);
  return out;
}

void UnitWatcher::resubscribe_async(sd_bus* bus) {
  resubscribe_ = false;
  // A floating call: the bus owns it (and frees it if it closes first).
  auto on_reply = [](sd_bus_message* reply, void* userdata, sd_bus_error*) -> int {
    static_cast<UnitWatcher*>(userdata)->subscribed(sd_bus_message_is_method_error(reply, nullptr) == 0);
    return 0;
  };
  if (sd_bus_call_method_async(bus, nullptr, kDest, kPath, kManager, "Subscribe", on_reply, this, "") >= 0) {
    subscribing_ = true;
    return;
  }
  resubscribe_ = ++subscribe_tries_ < 50;
  retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
}

void UnitWatcher::subscribed(bool ok) {
  subscribing_ = false;
  if (!ok && ++subscribe_tries_ < 50) {
    // The new systemd may take a moment to be on the bus: again in 100 ms (5 s at most).
    resubscribe_ = true;
    retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    return;
  }
  owner_ = new_owner_;
  if (on_resync_) on_resync_("systemd re-executed (or restarted); state re-read");
}

/// Signals about one unit: PropertiesChanged on its object, JobRemoved, UnitNew/UnitRemoved.
bool UnitWatcher::add_unit_matches(sd_bus* bus) {
  auto on_unit_signal = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto* self = static_cast<UnitWatcher*>(userdata);
    const char* path = sd_bus_message_get_path(m);
    const std::string app = app_from_unit_object_path(path != nullptr ? path : "");
    if (!app.empty()) {
      ++self->notifications_;
      self->on_change_(app);
    }
    return 0;
  };
  auto on_job_removed = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto* self = static_cast<UnitWatcher*>(userdata);
    std::uint32_t id = 0;
    const char* job = nullptr;
    const char* unit = nullptr;
    const char* result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0 || unit == nullptr) return 0;
    if (auto app = core::app_name_from_unit(unit)) {
      ++self->notifications_;
      self->on_change_(*app);
    }
    return 0;
  };
  // UnitNew / UnitRemoved (s unit id, o path): a unit of ours was loaded or unloaded.
  auto on_unit_new_removed = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto* self = static_cast<UnitWatcher*>(userdata);
    const char* unit = nullptr;
    const char* path = nullptr;
    if (sd_bus_message_read(m, "so", &unit, &path) < 0 || unit == nullptr) return 0;
    if (auto app = core::app_name_from_unit(unit)) {
      ++self->notifications_;
      self->on_change_(*app);
    }
    return 0;
  };
  // Unit objects: PropertiesChanged of org.freedesktop.systemd1.Unit/Service.
  return sd_bus_add_match(bus, nullptr,
                          "type='signal',sender='org.freedesktop.systemd1',"
                          "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                          "path_namespace='/org/freedesktop/systemd1/unit'",
                          on_unit_signal, this) >= 0 &&
         sd_bus_match_signal(bus, nullptr, kDest, kPath, kManager, "JobRemoved", on_job_removed, this) >= 0 &&
         sd_bus_match_signal(bus, nullptr, kDest, kPath, kManager, "UnitNew", on_unit_new_removed, this) >= 0 &&
         sd_bus_match_signal(bus, nullptr, kDest, kPath, kManager, "UnitRemoved", on_unit_new_removed, this) >= 0;
}

/// Signals about systemd as a whole: UnitFilesChanged, Reloading, NameOwnerChanged.
bool UnitWatcher::add_manager_matches(sd_bus* bus) {
  auto on_manager_change = [](sd_bus_message*, void* userdata, sd_bus_error*) -> int {
    auto* self = static_cast<UnitWatcher*>(userdata);
    self->on_change_("");
    return 0;
  };
  // Reloading (b active): at the end of a daemon-reload every unit may have changed.
  auto on_reloading = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto* self = static_cast<UnitWatcher*>(userdata);
    int active = 0;
    if (sd_bus_message_read(m, "b", &active) < 0) return 0;
    if (active == 0) self->on_change_("");
    return 0;
  };
  // NameOwnerChanged of org.freedesktop.systemd1: systemd re-executed (or restarted) and
  // took its bus name again; our Subscribe went with the old owner.
  auto on_owner = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto* self = static_cast<UnitWatcher*>(userdata);
    const char* name = nullptr;
    const char* old_owner = nullptr;
    const char* new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) return 0;
    if (new_owner == nullptr || *new_owner == '\0') {
      self->owner_.clear();  // systemd left the bus (a re-exec begins)
      return 0;
    }
    if (self->owner_ == new_owner) return 0;  // the owner our Subscribe reached already
    self->new_owner_ = new_owner;
    self->resubscribe_ = true;
    self->subscribe_tries_ = 0;
    self->retry_at_ = {};
    return 0;
  };
  return sd_bus_match_signal(bus, nullptr, kDest, kPath, kManager, "UnitFilesChanged", on_manager_change, this) >=
             0 &&
         sd_bus_match_signal(bus, nullptr, kDest, kPath, kManager, "Reloading", on_reloading, this) >= 0 &&
         sd_bus_add_match(bus, nullptr,
                          "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                          "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                          "arg0='org.freedesktop.systemd1'",
                          on_owner, this) >= 0;
}

void UnitWatcher::pump(sd_bus* bus) {
  while (!stopping_) {
    int r = sd_bus_process(bus, nullptr);
    if (r < 0) return;  // connection lost
    // Ask the new systemd for signals again, without waiting: signals go on being handled.
    if (resubscribe_ && !subscribing_ && std::chrono::steady_clock::now() >= retry_at_) resubscribe_async(bus);
    if (r > 0) continue;
    // Sleep until the bus has something or stop() writes the eventfd: no periodic wake-up.
    const int fd = sd_bus_get_fd(bus);
    const int events = sd_bus_get_events(bus);
    if (fd < 0 || events < 0) return;
    std::uint64_t deadline = 0;
    int timeout_ms = -1;
    if (sd_bus_get_timeout(bus, &deadline) >= 0 && deadline != UINT64_MAX) {
      const auto now_us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                        std::chrono::steady_clock::now().time_since_epoch())
                                                        .count());
      timeout_ms = deadline <= now_us ? 0 : static_cast<int>(std::min<std::uint64_t>((deadline - now_us + 999) / 1000, 60'000));
    }
    if (wake_fd_ < 0 && (timeout_ms < 0 || timeout_ms > 200)) timeout_ms = 200;  // no eventfd: look at stop()
    if (resubscribe_ && !subscribing_) {  // a refused Subscribe is tried again at retry_at_
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - std::chrono::steady_clock::now());
      const int ms = static_cast<int>(std::clamp<std::int64_t>(wait.count() + 1, 0, 100));
      timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
    }
    std::array<pollfd, 2> fds{pollfd{fd, static_cast<short>(events), 0}, pollfd{wake_fd_, POLLIN, 0}};
    r = ::poll(fds.data(), wake_fd_ >= 0 ? 2 : 1, timeout_ms);
    if (r < 0 && errno != EINTR) return;
  }
}

}  // namespace siax::adapters
