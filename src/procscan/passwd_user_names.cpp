#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "procscan/proc_scanner.h"

namespace siax::procscan {
namespace {

/// getpwuid_r behind a bounded cache. Thread-safe (one mutex; lookups are rare once warm).
class PasswdNameCache {
 public:
  explicit PasswdNameCache(std::size_t max_entries) : max_entries_(max_entries == 0 ? 1 : max_entries) {}

  std::string lookup(std::uint32_t uid) {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(uid); it != cache_.end()) return it->second;
    // Cleared rather than LRU: a host has few distinct uids, so this only happens when
    // something churns through uids, and the cost is a few getpwuid_r calls.
    if (cache_.size() >= max_entries_) cache_.clear();
    std::string name = resolve(uid);
    cache_.emplace(uid, name);
    return name;
  }

 private:
  static std::string resolve(std::uint32_t uid) {
    long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::size_t size = suggested > 0 ? static_cast<std::size_t>(suggested) : 16384;
    constexpr std::size_t kMaxBuffer = 1 << 20;
    while (size <= kMaxBuffer) {
      std::vector<char> buf(size);
      passwd pw{};
      passwd* found = nullptr;
      int rc = ::getpwuid_r(static_cast<uid_t>(uid), &pw, buf.data(), buf.size(), &found);
      if (rc == ERANGE) {
        size *= 2;
        continue;
      }
      if (rc != 0 || found == nullptr || found->pw_name == nullptr) return {};
      return found->pw_name;
    }
    return {};
  }

  std::mutex mutex_;
  std::size_t max_entries_;
  std::unordered_map<std::uint32_t, std::string> cache_;
};

}  // namespace

UserNameResolver make_passwd_user_resolver(std::size_t max_entries) {
  auto cache = std::make_shared<PasswdNameCache>(max_entries);
  return [cache](std::uint32_t uid) { return cache->lookup(uid); };
}

}  // namespace siax::procscan
