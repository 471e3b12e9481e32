#pragma once
/// Runs blocking work (systemd jobs, SQLite writes, /proc reads) off the io thread.
///
/// A fixed number of threads and a bounded number of queued-or-running tasks: try_post
/// refuses work beyond the bound instead of queueing it without limit (the HTTP layer
/// answers 503 then). Thread: try_post may be called from any thread.
#include <atomic>
#include <cstddef>
#include <functional>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace siax::agent {

class WorkerPool {
 public:
  WorkerPool(std::size_t threads, std::size_t max_pending) : pool_(threads), max_pending_(max_pending) {}
  ~WorkerPool() { pool_.join(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; false (and nothing queued) when max_pending tasks are already waiting or running.
  [[nodiscard]] bool try_post(std::function<void()> task) {
    if (pending_.fetch_add(1) >= max_pending_) {
      pending_.fetch_sub(1);
      rejected_.fetch_add(1);
      return false;
    }
    boost::asio::post(pool_, [this, task = std::move(task)] {
      task();
      pending_.fetch_sub(1);
    });
    return true;
  }
  /// Stops taking work and waits for the running tasks.
  void stop() {
    pool_.stop();
    pool_.join();
  }
  [[nodiscard]] std::size_t pending() const noexcept { return pending_.load(); }
  [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_.load(); }

 private:
  boost::asio::thread_pool pool_;
  const std::size_t max_pending_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace siax::agent
