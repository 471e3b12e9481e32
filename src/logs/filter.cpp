#include "logs/filter.h"

#include <regex.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "logs/cursor.h"

namespace siax::logs {

struct Regex::Impl {
  regex_t re{};
};

Result<std::shared_ptr<const Regex>> Regex::compile(std::string_view pattern) {
  if (pattern.size() > 512) {
    return fail(ErrorKind::InvalidInput, "regex_too_long", "the regex is longer than 512 bytes: shorten it");
  }
  int flags = REG_EXTENDED | REG_NOSUB;
  if (pattern.starts_with("(?i)")) {
    flags |= REG_ICASE;
    pattern.remove_prefix(4);
  }
  std::shared_ptr<Regex> r(new Regex());
  r->impl_ = std::make_unique<Impl>();
  const std::string p(pattern);
  if (int rc = ::regcomp(&r->impl_->re, p.c_str(), flags); rc != 0) {
    char buf[256] = {};
    ::regerror(rc, &r->impl_->re, buf, sizeof buf);
    r->impl_.reset();
    return fail(ErrorKind::InvalidInput, "invalid_regex",
                fmt::format("the regex '{}' is not a valid POSIX extended regular expression: {}", p, buf));
  }
  return std::shared_ptr<const Regex>(std::move(r));
}

Regex::~Regex() {
  if (impl_) ::regfree(&impl_->re);
}

bool Regex::search(std::string_view text) const {
  // regexec needs a NUL-terminated string; REG_STARTEND would avoid the copy but
  // glibc needs REG_STARTEND support; messages are short, copy.
  const std::string s(text);
  return ::regexec(&impl_->re, s.c_str(), 0, nullptr, 0) == 0;
}

namespace {

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

const std::string* get(const QueryParams& q, std::string_view key) {
  auto it = q.find(key);
  return it == q.end() ? nullptr : &it->second;
}

Result<EntryFilter> parse_filter(const QueryParams& query) {
  EntryFilter f;
  if (auto* level = get(query, "level"); level && !level->empty()) {
    auto p = parse_level(*level);
    if (!p) {
      return fail(ErrorKind::InvalidInput, "invalid_level",
                  fmt::format("level '{}' is unknown: use emerg, alert, crit, error, warning, notice, info, debug "
                              "or 0-7",
                              *level));
    }
    f.max_priority = *p;
  }
  if (auto* q = get(query, "q")) f.text = *q;
  if (f.text.size() > 512) return fail(ErrorKind::InvalidInput, "invalid_text", "q is longer than 512 bytes");
  if (auto* re = get(query, "regex"); re && !re->empty()) {
    auto compiled = Regex::compile(*re);
    if (!compiled) return tl::unexpected(compiled.error());
    f.regex = *compiled;
  }
  return f;
}

Result<std::optional<std::int64_t>> time_param(const QueryParams& query, std::string_view key) {
  auto* v = get(query, key);
  if (!v || v->empty()) return std::optional<std::int64_t>{};
  auto t = parse_time_usec(*v);
  if (!t) {
    return fail(ErrorKind::InvalidInput, "invalid_time",
                fmt::format("{} '{}' is not a time: give microseconds since the epoch or an ISO-8601 UTC time like "
                            "2024-05-01T12:00:00Z",
                            key, *v));
  }
  return std::optional<std::int64_t>{*t};
}

std::optional<std::size_t> parse_size(std::string_view s) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

bool EntryFilter::matches(const LogEntry& e) const {
  if (e.priority > max_priority) return false;
  if (!text.empty() && !icontains(e.message, text)) return false;
  if (regex && !regex->search(e.message)) return false;
  return true;
}

std::optional<std::int64_t> parse_time_usec(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
    return v;
  }
  // YYYY-MM-DDTHH:MM:SS[.ffffff]Z
  std::tm tm{};
  int frac_usec = 0;
  const std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
      if (digits < 6) frac_usec = frac_usec * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    for (; digits < 6; ++digits) frac_usec *= 10;
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const std::time_t t = ::timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(t) * 1'000'000 + frac_usec;
}

Result<StreamQuery> parse_stream_query(const QueryParams& query, std::size_t max_tail) {
  StreamQuery out;
  auto f = parse_filter(query);
  if (!f) return tl::unexpected(f.error());
  out.filter = std::move(*f);
  if (auto* c = get(query, "cursor"); c && !c->empty()) {
    if (!parse_cursor(*c)) {
      return fail(ErrorKind::InvalidInput, "invalid_cursor",
                  "cursor is not a journal cursor: pass the 'cursor' of the last entry you received");
    }
    out.start.after_cursor = *c;
  }
  auto since = time_param(query, "since");
  if (!since) return tl::unexpected(since.error());
  out.start.since_usec = *since;
  if (auto* t = get(query, "tail"); t && !t->empty()) {
    auto n = parse_size(*t);
    if (!n || *n > max_tail) {
      return fail(ErrorKind::InvalidInput, "invalid_tail",
                  fmt::format("tail '{}' must be a whole number from 0 to {}", *t, max_tail));
    }
    out.start.tail = *n;
  }
  return out;
}

Result<DownloadQuery> parse_download_query(const QueryParams& query, std::size_t max_entries) {
  DownloadQuery out;
  auto f = parse_filter(query);
  if (!f) return tl::unexpected(f.error());
  out.filter = std::move(*f);
  auto since = time_param(query, "since");
  if (!since) return tl::unexpected(since.error());
  auto until = time_param(query, "until");
  if (!until) return tl::unexpected(until.error());
  out.since_usec = *since;
  out.until_usec = *until;
  if (out.since_usec && out.until_usec && *out.until_usec < *out.since_usec) {
    return fail(ErrorKind::InvalidInput, "invalid_time", "until is before since");
  }
  if (auto* fmt_ = get(query, "format"); fmt_ && !fmt_->empty()) {
    if (*fmt_ == "json" || *fmt_ == "jsonl") {
      out.json_lines = true;
    } else if (*fmt_ != "text") {
      return fail(ErrorKind::InvalidInput, "invalid_format", "format must be 'text' or 'json'");
    }
  }
  out.limit = max_entries;
  if (auto* l = get(query, "limit"); l && !l->empty()) {
    auto n = parse_size(*l);
    if (!n || *n == 0) return fail(ErrorKind::InvalidInput, "invalid_limit", "limit must be a positive whole number");
    out.limit = std::min(*n, max_entries);
  }
  return out;
}

}  // namespace siax::logs
