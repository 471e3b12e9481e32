#include "agent/reload_coalescer.h"

namespace siax::agent {

Status ReloadCoalescer::reload(const std::function<Status()>& do_reload) {
  std::unique_lock lock(mu_);
  const std::uint64_t ticket = ++requested_;  // the caller's write happened before this
  while (covered_ < ticket) {
    if (running_) {
      // The running reload may have begun before our write: wait for it, then look again.
      done_.wait(lock);
      continue;
    }
    running_ = true;
    const std::uint64_t covers = requested_;  // every request made so far, ours included
    lock.unlock();
    Status result = ok();
    try {
      result = do_reload();
    } catch (...) {
      lock.lock();
      running_ = false;
      done_.notify_all();
      throw;
    }
    lock.lock();
    running_ = false;
    ++reloads_;
    covered_ = covers;
    last_ = result;
    done_.notify_all();
  }
  return last_;
}

ReloadCoalescer::Stats ReloadCoalescer::stats() const {
  std::lock_guard lock(mu_);
  return Stats{requested_, reloads_};
}

}  // namespace siax::agent
