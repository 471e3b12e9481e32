#include "logs/sd_journal_source.h"

#include <systemd/sd-journal.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace siax::logs {
namespace {

std::string_view field_value(const void* data, std::size_t len, std::string_view field) {
  std::string_view d(static_cast<const char*>(data), len);
  if (d.size() > field.size() && d.substr(0, field.size()) == field && d[field.size()] == '=') {
    return d.substr(field.size() + 1);
  }
  return {};
}

Error journal_error(int rc, std::string_view what) {
  return Error{ErrorKind::Unavailable, "journal_unavailable",
               fmt::format("cannot {} the journal: {}", what, std::strerror(-rc))};
}

class SdJournalReader final : public JournalReader {
 public:
  explicit SdJournalReader(sd_journal* j) : j_(j) {}
  ~SdJournalReader() override { sd_journal_close(j_); }
  SdJournalReader(const SdJournalReader&) = delete;
  SdJournalReader& operator=(const SdJournalReader&) = delete;

  int wait_fd() override {
    int fd = sd_journal_get_fd(j_);
    return fd < 0 ? -1 : fd;
  }
  void process() override { (void)sd_journal_process(j_); }

  Result<std::size_t> read_forward(std::size_t max, std::vector<RawLine>& out) override {
    return read(max, out, true);
  }
  Result<std::size_t> read_backward(std::size_t max, std::vector<RawLine>& out) override {
    return read(max, out, false);
  }

  Status seek_tail() override {
    if (int rc = sd_journal_seek_tail(j_); rc < 0) return tl::unexpected(journal_error(rc, "seek in"));
    // Land on the newest record so that sd_journal_next returns only later ones.
    int rc = sd_journal_previous(j_);
    if (rc < 0) return tl::unexpected(journal_error(rc, "read"));
    if (rc == 0) {
      // No record matches yet (an app that never ran). Newer libsystemd (seen with 257; 252
      // still moved on) leaves such a reader "at the tail" for good: sd_journal_next never
      // returns the records added later, so a viewer opened before the app's first line got
      // nothing (systemd issue 25369). With nothing matching, every later record comes
      // after the head: stand there instead (docs/LOGS.md, "Reading the journal").
      if (rc = sd_journal_seek_head(j_); rc < 0) return tl::unexpected(journal_error(rc, "seek in"));
      at_tail_ = false;
      return ok();
    }
    at_tail_ = true;
    return ok();
  }

  Status seek_after_cursor(const std::string& cursor) override {
    if (sd_journal_seek_cursor(j_, cursor.c_str()) < 0) {
      return fail(ErrorKind::InvalidInput, "invalid_cursor", "the cursor is not a journal cursor");
    }
    int rc = sd_journal_next(j_);
    if (rc < 0) return tl::unexpected(journal_error(rc, "read"));
    if (rc > 0 && sd_journal_test_cursor(j_, cursor.c_str()) <= 0) {
      // the record itself is gone (vacuumed): we landed on the first one after it
      (void)sd_journal_previous(j_);
    }
    at_tail_ = false;
    return ok();
  }

  Status seek_time(std::int64_t usec) override {
    if (int rc = sd_journal_seek_realtime_usec(j_, static_cast<std::uint64_t>(usec)); rc < 0) {
      return tl::unexpected(journal_error(rc, "seek in"));
    }
    at_tail_ = false;
    return ok();
  }

 private:
  Result<std::size_t> read(std::size_t max, std::vector<RawLine>& out, bool forward) {
    std::size_t n = 0;
    // After seek_tail we stand on the newest record, which a backward read must include.
    if (!forward && at_tail_) {
      at_tail_ = false;
      if (current_exists()) {
        if (auto s = append_current(out); !s) return tl::unexpected(s.error());
        ++n;
      }
    }
    if (forward) at_tail_ = false;
    while (n < max) {
      int rc = forward ? sd_journal_next(j_) : sd_journal_previous(j_);
      if (rc < 0) return tl::unexpected(journal_error(rc, "read"));
      if (rc == 0) break;
      if (auto s = append_current(out); !s) return tl::unexpected(s.error());
      ++n;
    }
    return n;
  }

  bool current_exists() {
    std::uint64_t t = 0;
    return sd_journal_get_realtime_usec(j_, &t) >= 0;
  }

  Status append_current(std::vector<RawLine>& out) {
    RawLine line;
    std::uint64_t t = 0;
    if (sd_journal_get_realtime_usec(j_, &t) >= 0) line.time_usec = static_cast<std::int64_t>(t);
    const void* data = nullptr;
    std::size_t len = 0;
    if (sd_journal_get_data(j_, "MESSAGE", &data, &len) >= 0) {
      line.message = std::string(field_value(data, len, "MESSAGE"));
      while (!line.message.empty() && line.message.back() == '\n') line.message.pop_back();
    }
    if (sd_journal_get_data(j_, "PRIORITY", &data, &len) >= 0) {
      auto v = field_value(data, len, "PRIORITY");
      if (v.size() == 1 && v[0] >= '0' && v[0] <= '7') line.priority = v[0] - '0';
    }
    if (sd_journal_get_data(j_, "_PID", &data, &len) >= 0) {
      auto v = field_value(data, len, "_PID");
      std::int64_t pid = 0;
      for (char c : v) {
        if (c < '0' || c > '9') break;
        pid = pid * 10 + (c - '0');
      }
      line.pid = pid;
    }
    char* cursor = nullptr;
    if (int rc = sd_journal_get_cursor(j_, &cursor); rc < 0) return tl::unexpected(journal_error(rc, "read"));
    line.cursor = cursor;
    std::free(cursor);
    out.push_back(std::move(line));
    return ok();
  }

  sd_journal* j_;
  bool at_tail_ = false;
};

}  // namespace

Result<std::unique_ptr<JournalReader>> SdJournalSource::open(const Selector& selector) {
  sd_journal* j = nullptr;
  if (int rc = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM); rc < 0) {
    return tl::unexpected(journal_error(rc, "open"));
  }
  auto reader = std::make_unique<SdJournalReader>(j);
  bool first = true;
  for (const auto& term : selector.terms) {
    if (!first) (void)sd_journal_add_disjunction(j);
    first = false;
    for (const auto& [field, value] : term) {
      const std::string m = field + "=" + value;
      if (int rc = sd_journal_add_match(j, m.data(), m.size()); rc < 0) {
        return tl::unexpected(journal_error(rc, "filter"));
      }
    }
  }
  return std::unique_ptr<JournalReader>(std::move(reader));
}

Selector agent_selector() {
  char* unit = nullptr;
  if (sd_pid_get_unit(0, &unit) >= 0 && unit != nullptr) {
    std::string u(unit);
    std::free(unit);
    if (u.ends_with(".service")) return Selector{"agent", {{{"_SYSTEMD_UNIT", u}}}};
  }
  return Selector{"agent", {{{"_PID", std::to_string(::getpid())}}}};
}

}  // namespace siax::logs
