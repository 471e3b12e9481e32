#pragma once
// A journal in memory for the logs tests: records appended by the test, readers with a
// real descriptor (a pipe) that becomes readable when a record is appended.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "logs/cursor.h"
#include "logs/journal.h"
#include "unit/logs/fixtures_util.h"

namespace siax::logs::test {

struct FakeJournalState {
  std::vector<std::pair<std::string, RawLine>> records;  // stream name, line
  std::uint64_t next_seq = 1;
  int open_readers = 0;
  int opened_total = 0;
  std::mutex notify_mutex;      // guards notify_fds: readers close on the hub's thread while the test appends
  std::vector<int> notify_fds;  // write ends of live readers' pipes
};

class FakeReader final : public JournalReader {
 public:
  FakeReader(std::shared_ptr<FakeJournalState> s, std::string name) : s_(std::move(s)), name_(std::move(name)) {
    int p[2];
    if (::pipe2(p, O_NONBLOCK) == 0) {
      rfd_ = p[0];
      wfd_ = p[1];
      std::lock_guard lock(s_->notify_mutex);
      s_->notify_fds.push_back(wfd_);
    }
    ++s_->open_readers;
    ++s_->opened_total;
  }
  ~FakeReader() override {
    --s_->open_readers;
    // Under the lock, so append() never writes to a pipe whose read end is already closed
    // (SIGPIPE would end the whole test binary).
    std::lock_guard lock(s_->notify_mutex);
    auto& v = s_->notify_fds;
    v.erase(std::remove(v.begin(), v.end(), wfd_), v.end());
    ::close(wfd_);
    ::close(rfd_);
  }
  int wait_fd() override { return rfd_; }
  void process() override {
    char buf[256];
    while (::read(rfd_, buf, sizeof buf) > 0) {
    }
  }
  Result<std::size_t> read_forward(std::size_t max, std::vector<RawLine>& out) override {
    std::size_t n = 0;
    while (n < max && pos_ < s_->records.size()) {
      const auto& [stream, line] = s_->records[pos_++];
      if (stream != name_) continue;
      out.push_back(line);
      ++n;
    }
    return n;
  }
  Result<std::size_t> read_backward(std::size_t max, std::vector<RawLine>& out) override {
    std::size_t n = 0;
    while (n < max && pos_ > 0) {
      const auto& [stream, line] = s_->records[--pos_];
      if (stream != name_) continue;
      out.push_back(line);
      ++n;
    }
    return n;
  }
  Status seek_tail() override {
    pos_ = s_->records.size();
    return ok();
  }
  Status seek_after_cursor(const std::string& cursor) override {
    auto key = parse_cursor(cursor);
    if (!key) return fail(ErrorKind::InvalidInput, "invalid_cursor", "bad cursor");
    pos_ = 0;
    while (pos_ < s_->records.size() && !after(*parse_cursor(s_->records[pos_].second.cursor), *key)) ++pos_;
    return ok();
  }
  Status seek_time(std::int64_t usec) override {
    pos_ = 0;
    while (pos_ < s_->records.size() && s_->records[pos_].second.time_usec < usec) ++pos_;
    return ok();
  }

 private:
  std::shared_ptr<FakeJournalState> s_;
  std::string name_;
  std::size_t pos_ = 0;
  int rfd_ = -1;
  int wfd_ = -1;
};

class FakeJournal final : public JournalSource {
 public:
  std::shared_ptr<FakeJournalState> state = std::make_shared<FakeJournalState>();
  bool fail_open = false;

  Result<std::unique_ptr<JournalReader>> open(const Selector& selector) override {
    if (fail_open) return fail(ErrorKind::Unavailable, "journal_unavailable", "no journal");
    return std::unique_ptr<JournalReader>(std::make_unique<FakeReader>(state, selector.name));
  }

  /// Appends a line to `stream` and wakes the readers. Returns its cursor.
  std::string append(const std::string& stream, std::string message, int priority = kDefaultPriority,
                     std::int64_t pid = 42) {
    auto line = raw(state->next_seq++, std::move(message), priority, pid);
    auto cursor = line.cursor;
    state->records.emplace_back(stream, std::move(line));
    std::lock_guard lock(state->notify_mutex);
    for (int fd : state->notify_fds) {
      [[maybe_unused]] auto n = ::write(fd, "x", 1);  // full pipe: already readable
    }
    return cursor;
  }
};

}  // namespace siax::logs::test
