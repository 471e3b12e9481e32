#include "logs/filter.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>

#include "logs/cursor.h"

namespace siax::logs {

struct Regex::Impl {
  explicit Impl(std::string_view pattern, const RE2::Options& options)
      : re(re2::StringPiece(pattern.data(), pattern.size()), options) {}
  RE2 re;
};

namespace {

/// What RE2 refused, said so that a person can fix the pattern.
std::string explain(const RE2& re, std::string_view pattern) {
  const std::string& arg = re.error_arg();
  for (std::string_view look : {"(?=", "(?!", "(?<=", "(?<!"}) {
    if (pattern.find(look) != std::string_view::npos) {
      return "look-ahead and look-behind ('(?=', '(?!', '(?<=', '(?<!') are not supported in RE2 syntax";
    }
  }
  switch (re.error_code()) {
    case RE2::ErrorBadEscape:
      if (arg.size() == 2 && arg[0] == '\\' && std::isdigit(static_cast<unsigned char>(arg[1]))) {
        return fmt::format("back-references ('{}') are not supported: the log filter uses RE2 syntax, which matches "
                           "in linear time",
                           arg);
      }
      return fmt::format("invalid escape '{}'", arg);
    case RE2::ErrorRepeatSize:
      return fmt::format("the repeat count in '{}' is too large: at most {{1000}}, nested repeats included", arg);
    case RE2::ErrorMissingParen:
    case RE2::ErrorUnexpectedParen:
      return fmt::format("unbalanced parenthesis in '{}'", arg);
    case RE2::ErrorPatternTooLarge:
      return "the pattern is too complex";
    default:
      return fmt::format("{} '{}'", re.error(), arg).substr(0, 200);
  }
}

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return fail(ErrorKind::InvalidInput, "regex_too_long",
                fmt::format("the regex is longer than {} bytes: shorten it", kMaxPatternBytes));
  }
  RE2::Options options;
  options.set_log_errors(false);  // the pattern is a user's: never in the agent's log
  options.set_max_mem(kMaxMemBytes);
  options.set_never_capture(true);
  std::shared_ptr<Regex> r(new Regex());
  r->impl_ = std::make_unique<Impl>(pattern, options);
  const RE2& re = r->impl_->re;
  if (!re.ok()) {
    if (re.error_code() == RE2::ErrorPatternTooLarge) {
      return fail(ErrorKind::InvalidInput, "regex_too_complex",
                  "the regex needs more than the 1 MiB the log filter allows: simplify it (fewer or smaller "
                  "counted repeats)");
    }
    return fail(ErrorKind::InvalidInput, "invalid_regex",
                fmt::format("the regex is not valid RE2 syntax: {}", explain(re, pattern)));
  }
  if (re.ProgramSize() > kMaxProgramSize) {
    return fail(ErrorKind::InvalidInput, "regex_too_complex",
                fmt::format("the regex compiles to {} instructions, over the log filter's {}: simplify it (fewer or "
                            "smaller counted repeats)",
                            re.ProgramSize(), kMaxProgramSize));
  }
  return std::shared_ptr<const Regex>(std::move(r));
}

Regex::~Regex() = default;

bool Regex::search(std::string_view text) const {
  if (text.size() > kMaxMatchedBytes) text = text.substr(0, kMaxMatchedBytes);
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), impl_->re);
}

namespace {

/// ASCII lower case of every byte (other bytes unchanged).
constexpr std::array<unsigned char, 256> kFold = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return t;
}();

unsigned char fold(char c) { return kFold[static_cast<unsigned char>(c)]; }

}  // namespace

bool icontains(std::string_view hay, std::string_view needle) {
  // Knuth-Morris-Pratt on ASCII-folded bytes: O(message + text) per entry whatever both
  // hold (std::search is O(message x text): a hostile `q` against long lines cost the io
  // thread up to 512 x 48 KiB comparisons per entry and viewer).
  const std::size_t m = needle.size();
  if (m == 0) return true;
  if (m > hay.size()) return false;
  std::array<std::uint32_t, EntryFilter::kMaxTextBytes> small{};
  std::vector<std::uint32_t> large;
  if (m > small.size()) large.resize(m);
  std::uint32_t* const next = m > small.size() ? large.data() : small.data();
  next[0] = 0;
  for (std::size_t i = 1, k = 0; i < m; ++i) {
    while (k > 0 && fold(needle[i]) != fold(needle[k])) k = next[k - 1];
    if (fold(needle[i]) == fold(needle[k])) ++k;
    next[i] = static_cast<std::uint32_t>(k);
  }
  for (std::size_t i = 0, k = 0; i < hay.size(); ++i) {
    const unsigned char c = fold(hay[i]);
    while (k > 0 && c != fold(needle[k])) k = next[k - 1];
    if (c == fold(needle[k])) ++k;
    if (k == m) return true;
  }
  return false;
}

namespace {

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
  if (auto* q = get(query, "q")) {
    if (q->size() > EntryFilter::kMaxTextBytes) {
      return fail(ErrorKind::InvalidInput, "text_too_long",
                  fmt::format("q is {} bytes long, at most {} are allowed: search for a shorter part of the line",
                              q->size(), EntryFilter::kMaxTextBytes),
                  {{"limit", std::to_string(EntryFilter::kMaxTextBytes)}});
    }
    f.text = *q;
  }
  if (auto* re = get(query, "regex"); re && !re->empty()) {
    if (re->size() > Regex::kMaxPatternBytes) {
      return fail(ErrorKind::InvalidInput, "regex_too_long",
                  fmt::format("the regex is longer than {} bytes: shorten it", Regex::kMaxPatternBytes));
    }
    f.regex_source = *re;
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

bool EntryFilter::matches_cheap(const LogEntry& e) const {
  if (e.priority > max_priority) return false;
  return text.empty() || icontains(e.message, text);
}

bool EntryFilter::matches(const LogEntry& e) const {
  if (!matches_cheap(e)) return false;
  if (!regex) return regex_source.empty();  // not compiled (a caller's bug): match nothing
  return regex->search(e.message);
}

Status compile_regex(EntryFilter& filter) {
  if (filter.regex_source.empty() || filter.regex) return ok();
  auto compiled = Regex::compile(filter.regex_source);
  if (!compiled) return tl::unexpected(compiled.error());
  filter.regex = std::move(*compiled);
  return ok();
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
