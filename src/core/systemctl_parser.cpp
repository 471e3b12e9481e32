#include "core/systemctl_parser.h"

#include <array>
#include <charconv>
#include <limits>
#include <string>
#include <system_error>

#include <fmt/format.h>

namespace siax::core {

namespace {

// ---------------------------------------------------------------------------------
// Small text helpers. Everything works on string_views into the caller's text, with
// explicit bounds; no regex (std::regex recurses per character and can overflow the
// stack on a 1 MB line).
// ---------------------------------------------------------------------------------

constexpr std::size_t kMaxStateLength = 64;
constexpr std::size_t kMaxQuoted = 80;

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) noexcept { return is_lower(c) || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Splits text into lines ('\n'; a trailing '\r' is dropped).
class Lines {
 public:
  explicit Lines(std::string_view text) noexcept : rest_(text) {}
  bool next(std::string_view& line) noexcept {
    if (done_) return false;
    const auto nl = rest_.find('\n');
    if (nl == std::string_view::npos) {
      line = rest_;
      done_ = true;
    } else {
      line = rest_.substr(0, nl);
      rest_.remove_prefix(nl + 1);
      if (rest_.empty()) done_ = true;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

/// A value quoted in an error message: clipped, so a 1 MB line never becomes a 1 MB
/// message, and printable ASCII only (other bytes as \xNN), so the message stays valid
/// UTF-8 whatever the input was (JSON encoders reject invalid UTF-8).
std::string quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s.substr(0, kMaxQuoted)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  out += '\'';
  if (s.size() > kMaxQuoted) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

template <class T>
std::optional<T> parse_int(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  T value{};
  const auto* first = s.data();
  const auto* last = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || ptr != last) return std::nullopt;
  return value;
}

/// A systemd state word: lowercase letters, digits and '-', e.g. "auto-restart".
bool is_state_word(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxStateLength) return false;
  for (const char c : s) {
    if (!is_lower(c) && !is_digit(c) && c != '-') return false;
  }
  return true;
}

/// Plausible unit name: letters, digits, ":-_.\@", with a '.' before the type suffix.
bool looks_like_unit_name(std::string_view s) noexcept {
  if (s.size() < 3 || s.size() > 256) return false;
  for (const char c : s) {
    if (!is_alpha(c) && !is_digit(c) && c != ':' && c != '-' && c != '_' && c != '.' && c != '\\' &&
        c != '@') {
      return false;
    }
  }
  const auto dot = s.rfind('.');
  return dot != std::string_view::npos && dot > 0 && dot + 1 < s.size();
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  return !__builtin_mul_overflow(a, b, &out);
}
bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  return !__builtin_add_overflow(a, b, &out);
}

/// "123" or "123.456": integer part and up to 18 fraction digits (as numerator/denominator).
struct Decimal {
  std::uint64_t whole = 0;
  std::uint64_t frac = 0;
  std::uint64_t frac_scale = 1;  ///< 10^(fraction digits kept)
};

/// Consumes a decimal number from the front of s.
std::optional<Decimal> take_decimal(std::string_view& s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == 0) return std::nullopt;
  Decimal d;
  const auto whole = parse_int<std::uint64_t>(s.substr(0, i));
  if (!whole) return std::nullopt;
  d.whole = *whole;
  if (i < s.size() && s[i] == '.') {
    std::size_t j = i + 1;
    std::size_t kept = 0;
    while (j < s.size() && is_digit(s[j])) {
      if (kept < 18) {
        d.frac = d.frac * 10 + static_cast<std::uint64_t>(s[j] - '0');
        d.frac_scale *= 10;
        ++kept;
      }
      ++j;
    }
    if (j == i + 1) return std::nullopt;
    i = j;
  }
  s.remove_prefix(i);
  return d;
}

/// value * unit, where value is a Decimal; nullopt on overflow.
std::optional<std::uint64_t> scale(const Decimal& d, std::uint64_t unit) noexcept {
  std::uint64_t whole = 0;
  if (!checked_mul(d.whole, unit, whole)) return std::nullopt;
  // The fraction is < 1, so its share is < unit: long double (64-bit mantissa) is exact enough.
  const auto part = static_cast<std::uint64_t>(static_cast<long double>(d.frac) /
                                               static_cast<long double>(d.frac_scale) *
                                               static_cast<long double>(unit));
  std::uint64_t total = 0;
  if (!checked_add(whole, part, total)) return std::nullopt;
  return total;
}

/// "12.3M", "512B", "1.0G", "4K": systemd's format_bytes (1024-based).
std::optional<std::uint64_t> parse_bytes(std::string_view s) noexcept {
  s = trim(s);
  auto d = take_decimal(s);
  if (!d) return std::nullopt;
  std::uint64_t unit = 1;
  if (!s.empty()) {
    static constexpr std::string_view kPrefixes = "KMGTPE";
    const auto p = kPrefixes.find(s.front());
    if (p != std::string_view::npos) {
      for (std::size_t k = 0; k <= p; ++k) unit *= 1024;
      s.remove_prefix(1);
      if (s == "iB") s = "";
    }
    if (s == "B") s = "";
  }
  if (!s.empty()) return std::nullopt;
  return scale(*d, unit);
}

/// "1.234s", "123ms", "1min 2.345s", "1h 2min": systemd's format_timespan, in ns.
std::optional<std::uint64_t> parse_timespan_nsec(std::string_view s) noexcept {
  struct Unit {
    std::string_view name;
    std::uint64_t nsec;
  };
  static constexpr std::uint64_t kSec = 1000000000ULL;
  // Longest names first where one is a prefix of another ("ms" before "s", "min" before "m").
  static constexpr std::array<Unit, 14> kUnits{{
      {"ns", 1},
      {"us", 1000},
      {"\xc2\xb5s", 1000},  // µs (MICRO SIGN)
      {"\xce\xbcs", 1000},  // μs (GREEK SMALL LETTER MU)
      {"ms", 1000000},
      {"min", 60 * kSec},
      {"month", 2629800 * kSec},
      {"s", kSec},
      {"h", 3600 * kSec},
      {"d", 86400 * kSec},
      {"w", 7 * 86400 * kSec},
      {"M", 2629800 * kSec},
      {"y", 31557600 * kSec},
      {"m", 60 * kSec},
  }};
  s = trim(s);
  if (s.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!s.empty()) {
    auto d = take_decimal(s);
    if (!d) return std::nullopt;
    std::size_t n = 0;
    while (n < s.size() && !is_space(s[n]) && !is_digit(s[n])) ++n;
    const auto name = s.substr(0, n);
    s.remove_prefix(n);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    const auto part = scale(*d, unit->nsec);
    if (!part || !checked_add(total, *part, total)) return std::nullopt;
    s = trim(s);
  }
  return total;
}

// ---------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned mp = m > 2 ? m - 3 : m + 9;
  const unsigned doy = (153 * mp + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(int y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int y, unsigned m) noexcept {
  static constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && is_leap(y)) return 29;
  return kDays[m - 1];
}

/// Exactly n digits at the front of s, consumed.
std::optional<int> take_fixed_digits(std::string_view& s, std::size_t n) noexcept {
  if (s.size() < n) return std::nullopt;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[i])) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  s.remove_prefix(n);
  return v;
}

bool take_char(std::string_view& s, char c) noexcept {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

/// Zone suffix → offset east of UTC in seconds; nullopt when not computable.
std::optional<std::int64_t> zone_offset_seconds(std::string_view z) noexcept {
  if (z == "UTC" || z == "GMT" || z == "Z" || z == "UCT") return 0;
  if (z.empty() || (z.front() != '+' && z.front() != '-')) return std::nullopt;
  const std::int64_t sign = z.front() == '-' ? -1 : 1;
  z.remove_prefix(1);
  const auto hh = take_fixed_digits(z, 2);
  if (!hh) return std::nullopt;
  int mm = 0;
  if (!z.empty()) {
    take_char(z, ':');
    const auto m = take_fixed_digits(z, 2);
    if (!m || !z.empty()) return std::nullopt;
    mm = *m;
  }
  if (*hh > 23 || mm > 59) return std::nullopt;
  return sign * (static_cast<std::int64_t>(*hh) * 3600 + mm * 60);
}

}  // namespace

std::optional<std::uint64_t> parse_systemd_timestamp(std::string_view text) noexcept {
  auto s = trim(text);
  if (s.empty() || s == "n/a" || s.size() > 64) return std::nullopt;

  if (s.front() == '@') {  // --timestamp=unix
    s.remove_prefix(1);
    auto d = take_decimal(s);
    if (!d || !s.empty()) return std::nullopt;
    return scale(*d, 1000000);
  }

  // Optional weekday: a leading alphabetic word.
  if (is_alpha(s.front())) {
    std::size_t n = 0;
    while (n < s.size() && is_alpha(s[n])) ++n;
    s.remove_prefix(n);
    s = trim(s);
  }

  const auto year = take_fixed_digits(s, 4);
  if (!year || !take_char(s, '-')) return std::nullopt;
  const auto month = take_fixed_digits(s, 2);
  if (!month || !take_char(s, '-')) return std::nullopt;
  const auto day = take_fixed_digits(s, 2);
  if (!day || !take_char(s, ' ')) return std::nullopt;
  const auto hour = take_fixed_digits(s, 2);
  if (!hour || !take_char(s, ':')) return std::nullopt;
  const auto minute = take_fixed_digits(s, 2);
  if (!minute || !take_char(s, ':')) return std::nullopt;
  const auto second = take_fixed_digits(s, 2);
  if (!second) return std::nullopt;

  std::uint64_t micros = 0;
  if (take_char(s, '.')) {
    std::size_t n = 0;
    std::uint64_t scale6 = 100000;
    while (n < s.size() && is_digit(s[n])) {
      if (n < 6) {
        micros += static_cast<std::uint64_t>(s[n] - '0') * scale6;
        scale6 /= 10;
      }
      ++n;
    }
    if (n == 0 || n > 9) return std::nullopt;
    s.remove_prefix(n);
  }

  if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 ||
      static_cast<unsigned>(*day) > days_in_month(*year, static_cast<unsigned>(*month)) || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }

  if (!take_char(s, ' ')) return std::nullopt;  // no zone: local time we cannot resolve
  const auto offset = zone_offset_seconds(trim(s));
  if (!offset) return std::nullopt;

  const std::int64_t days =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  const std::int64_t secs = days * 86400 + static_cast<std::int64_t>(*hour) * 3600 +
                            static_cast<std::int64_t>(*minute) * 60 + *second - *offset;
  if (secs < 0) return std::nullopt;
  return static_cast<std::uint64_t>(secs) * 1000000U + micros;
}

std::optional<int> signal_number(std::string_view name) noexcept {
  struct Sig {
    std::string_view name;
    int number;
  };
  // Linux numbering (x86, arm, riscv; the generic layout systemd's signal_to_string prints).
  static constexpr std::array<Sig, 33> kSignals{{
      {"HUP", 1},     {"INT", 2},     {"QUIT", 3},    {"ILL", 4},     {"TRAP", 5},   {"ABRT", 6},
      {"IOT", 6},     {"BUS", 7},     {"FPE", 8},     {"KILL", 9},    {"USR1", 10},  {"SEGV", 11},
      {"USR2", 12},   {"PIPE", 13},   {"ALRM", 14},   {"TERM", 15},   {"STKFLT", 16}, {"CHLD", 17},
      {"CONT", 18},   {"STOP", 19},   {"TSTP", 20},   {"TTIN", 21},   {"TTOU", 22},  {"URG", 23},
      {"XCPU", 24},   {"XFSZ", 25},   {"VTALRM", 26}, {"PROF", 27},   {"WINCH", 28}, {"IO", 29},
      {"POLL", 29},   {"PWR", 30},    {"SYS", 31},
  }};
  // glibc's SIGRTMIN/SIGRTMAX as seen by systemd (the C library reserves 32 and 33).
  constexpr int kRtMin = 34;
  constexpr int kRtMax = 64;

  name = trim(name);
  if (name.starts_with("SIG")) name.remove_prefix(3);
  if (name.empty()) return std::nullopt;
  if (is_digit(name.front())) {
    const auto n = parse_int<int>(name);
    if (n && *n > 0 && *n <= kRtMax) return n;
    return std::nullopt;
  }
  for (const auto& sig : kSignals) {
    if (sig.name == name) return sig.number;
  }
  auto relative = [&](std::string_view base, int origin, int dir) -> std::optional<int> {
    if (!name.starts_with(base)) return std::nullopt;
    auto rest = name.substr(base.size());
    if (rest.empty()) return origin;
    const char sign = dir > 0 ? '+' : '-';
    if (rest.front() != sign) return std::nullopt;
    const auto n = parse_int<int>(rest.substr(1));
    if (!n || *n < 0 || *n > kRtMax - kRtMin) return std::nullopt;
    return origin + dir * *n;
  };
  if (auto v = relative("RTMIN", kRtMin, +1)) return v;
  if (auto v = relative("RTMAX", kRtMax, -1)) return v;
  return std::nullopt;
}

namespace {

// ---------------------------------------------------------------------------------
// systemctl show
// ---------------------------------------------------------------------------------

/// MemoryCurrent / CPUUsageNSec: absent when systemd does not account them.
Result<std::optional<std::uint64_t>> parse_metric(std::string_view key, std::string_view value) {
  value = trim(value);
  if (value.empty() || value == "[not set]" || value == "[no data]" || value == "infinity") {
    return std::optional<std::uint64_t>{};
  }
  const auto n = parse_int<std::uint64_t>(value);
  if (!n) {
    return fail(ErrorKind::InvalidInput, "systemctl_show_bad_value",
                fmt::format("systemctl show: {} has the value {}, expected a number or [not set]", key,
                            quote(value)));
  }
  if (*n == std::numeric_limits<std::uint64_t>::max()) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{*n};
}

template <class T>
Result<T> parse_show_number(std::string_view key, std::string_view value, T fallback) {
  value = trim(value);
  if (value.empty() || value == "[not set]") return fallback;
  const auto n = parse_int<T>(value);
  if (!n) {
    return fail(ErrorKind::InvalidInput, "systemctl_show_bad_value",
                fmt::format("systemctl show: {} has the value {}, expected a number", key, quote(value)));
  }
  return *n;
}

ExitCode exit_code_from_show(std::string_view value) noexcept {
  value = trim(value);
  // systemctl show prints the raw si_code (CLD_EXITED=1, CLD_KILLED=2, CLD_DUMPED=3);
  // accept the words too, in case a future version prints them.
  if (value == "1" || value == "exited") return ExitCode::Exited;
  if (value == "2" || value == "killed") return ExitCode::Killed;
  if (value == "3" || value == "dumped") return ExitCode::Dumped;
  return ExitCode::None;  // 0, or CLD_TRAPPED/STOPPED/CONTINUED which never end a main process
}

Status check_show_state(std::string_view key, const std::string& value, bool required) {
  if (value.empty() && !required) return ok();
  if (!is_state_word(value)) {
    return fail(ErrorKind::InvalidInput, "systemctl_show_bad_value",
                fmt::format("systemctl show: {} is {}, expected a lowercase state word such as 'active'", key,
                            quote(value)));
  }
  return ok();
}

}  // namespace

Result<UnitStatus> parse_systemctl_show(std::string_view text) {
  UnitStatus st;
  bool have_load = false;
  bool have_active = false;
  bool seen_property = false;
  std::string_view ts_active_enter, ts_active_exit, ts_inactive_enter, ts_inactive_exit, ts_state_change;

  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (trim(line).empty()) {
      if (seen_property) break;  // end of the first unit's block
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    const auto key = line.substr(0, eq);
    const auto value = line.substr(eq + 1);
    seen_property = true;

    if (key == "Id") {
      st.unit = std::string(trim(value));
    } else if (key == "Description") {
      st.description = std::string(value);
    } else if (key == "LoadState") {
      st.load_state = std::string(trim(value));
      have_load = true;
    } else if (key == "ActiveState") {
      st.active_state = std::string(trim(value));
      have_active = true;
    } else if (key == "SubState") {
      st.sub_state = std::string(trim(value));
    } else if (key == "Result") {
      st.result = std::string(trim(value));
    } else if (key == "UnitFileState") {
      st.unit_file_state = std::string(trim(value));
    } else if (key == "ControlGroup") {
      st.control_group = std::string(trim(value));
    } else if (key == "MainPID") {
      auto v = parse_show_number<std::uint32_t>(key, value, 0);
      if (!v) return tl::unexpected(v.error());
      st.main_pid = *v;
    } else if (key == "ExecMainCode") {
      st.exec_main_code = exit_code_from_show(value);
    } else if (key == "ExecMainStatus") {
      auto v = parse_show_number<int>(key, value, 0);
      if (!v) return tl::unexpected(v.error());
      st.exec_main_status = *v;
    } else if (key == "NRestarts") {
      auto v = parse_show_number<std::uint32_t>(key, value, 0);
      if (!v) return tl::unexpected(v.error());
      st.restart_count = *v;
    } else if (key == "MemoryCurrent") {
      auto v = parse_metric(key, value);
      if (!v) return tl::unexpected(v.error());
      st.memory_current_bytes = *v;
    } else if (key == "CPUUsageNSec") {
      auto v = parse_metric(key, value);
      if (!v) return tl::unexpected(v.error());
      st.cpu_usage_nsec = *v;
    } else if (key == "ActiveEnterTimestamp") {
      ts_active_enter = value;
    } else if (key == "ActiveExitTimestamp") {
      ts_active_exit = value;
    } else if (key == "InactiveEnterTimestamp") {
      ts_inactive_enter = value;
    } else if (key == "InactiveExitTimestamp") {
      ts_inactive_exit = value;
    } else if (key == "StateChangeTimestamp") {
      ts_state_change = value;
    }
  }

  if (!have_load || !have_active) {
    const char* missing = !have_load && !have_active ? "LoadState and ActiveState"
                          : !have_load               ? "LoadState"
                                                     : "ActiveState";
    return fail(ErrorKind::InvalidInput, "systemctl_show_missing_property",
                fmt::format("systemctl show output has no {} property; expected the key=value output "
                            "of 'systemctl show <unit>' without -p filters that drop it",
                            missing));
  }
  if (auto s = check_show_state("LoadState", st.load_state, true); !s) return tl::unexpected(s.error());
  if (auto s = check_show_state("ActiveState", st.active_state, true); !s) {
    return tl::unexpected(s.error());
  }
  if (auto s = check_show_state("SubState", st.sub_state, false); !s) return tl::unexpected(s.error());
  if (auto s = check_show_state("Result", st.result, false); !s) return tl::unexpected(s.error());
  if (auto s = check_show_state("UnitFileState", st.unit_file_state, false); !s) {
    return tl::unexpected(s.error());
  }

  // The same timestamp `systemctl status` shows after "since".
  std::string_view chosen;
  if (st.active_state == "active" || st.active_state == "reloading") {
    chosen = ts_active_enter;
  } else if (st.active_state == "inactive" || st.active_state == "failed") {
    chosen = ts_inactive_enter;
  } else if (st.active_state == "activating") {
    chosen = ts_inactive_exit;
  } else {
    chosen = ts_active_exit;
  }
  auto ts = parse_systemd_timestamp(chosen);
  if (!ts) ts = parse_systemd_timestamp(ts_state_change);
  st.state_change_usec = ts.value_or(0);
  return st;
}

namespace {

// ---------------------------------------------------------------------------------
// systemctl status
// ---------------------------------------------------------------------------------

Result<UnitStatus> bad_status_value(std::string_view field, std::string_view value, std::string_view expected) {
  return fail(ErrorKind::InvalidInput, "systemctl_status_bad_value",
              fmt::format("systemctl status: the {} line has {}, expected {}", field, quote(value), expected));
}

/// "Label: value" with the label made of letters, spaces and '-' (e.g. "Main PID").
/// Continuation lines (the CGroup tree, Docs URLs, Drop-In paths) do not match.
bool split_field(std::string_view line, std::string_view& label, std::string_view& value) noexcept {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  const std::size_t start = i;
  if (i >= line.size() || !is_alpha(line[i])) return false;
  while (i < line.size() && i - start <= 24 && (is_alpha(line[i]) || line[i] == ' ' || line[i] == '-')) ++i;
  if (i >= line.size() || line[i] != ':') return false;
  if (i + 1 < line.size() && line[i + 1] != ' ') return false;  // "man:foo(1)", "https://..."
  label = trim(line.substr(start, i - start));
  value = trim(line.substr(i + 1));
  return !label.empty();
}

/// The text inside the parentheses that start s (s.front() == '('); advances s past ')'.
std::optional<std::string_view> take_parenthesized(std::string_view& s) noexcept {
  if (s.empty() || s.front() != '(') return std::nullopt;
  const auto close = s.find(')');
  if (close == std::string_view::npos) return std::nullopt;
  const auto inner = s.substr(1, close - 1);
  s.remove_prefix(close + 1);
  return inner;
}

/// "loaded (/etc/systemd/system/x.service; enabled; preset: enabled)"
Status parse_loaded(std::string_view value, UnitStatus& st) {
  std::size_t n = 0;
  while (n < value.size() && !is_space(value[n]) && value[n] != '(') ++n;
  st.load_state = std::string(value.substr(0, n));
  if (!is_state_word(st.load_state)) {
    return tl::unexpected(bad_status_value("Loaded", value, "a load state such as 'loaded'").error());
  }
  auto rest = trim(value.substr(n));
  if (rest.empty() || rest.front() != '(') return ok();
  const auto close = rest.rfind(')');
  if (close == std::string_view::npos) return ok();
  auto inner = rest.substr(1, close - 1);
  if (inner.starts_with("Reason:")) return ok();  // masked, not-found, bad-setting, error
  // Items: fragment path; unit file state; [vendor ]preset: X
  const auto semi = inner.find(';');
  if (semi == std::string_view::npos) return ok();
  inner.remove_prefix(semi + 1);
  const auto state = trim(inner.substr(0, inner.find(';')));
  if (state.empty() || state.starts_with("preset:") || state.starts_with("vendor preset:")) return ok();
  if (!is_state_word(state)) {
    return tl::unexpected(bad_status_value("Loaded", value, "a unit file state such as 'enabled'").error());
  }
  st.unit_file_state = std::string(state);
  return ok();
}

/// "active (running) since Thu 2026-11-26 16:38:37 UTC; 8s ago",
/// "activating (auto-restart) (Result: exit-code) since ...", "failed (Result: signal) since ...",
/// "inactive (dead)".
Status parse_active(std::string_view value, UnitStatus& st) {
  std::size_t n = 0;
  while (n < value.size() && !is_space(value[n]) && value[n] != '(') ++n;
  st.active_state = std::string(value.substr(0, n));
  if (!is_state_word(st.active_state)) {
    return tl::unexpected(bad_status_value("Active", value, "an active state such as 'active'").error());
  }
  auto rest = trim(value.substr(n));
  bool have_sub = false;
  while (!rest.empty()) {
    if (rest.front() == '(') {
      const auto inner = take_parenthesized(rest);
      if (!inner) break;
      if (inner->starts_with("Result:")) {
        const auto result = trim(inner->substr(7));
        if (!is_state_word(result)) {
          return tl::unexpected(bad_status_value("Active", value, "'(Result: <word>)'").error());
        }
        st.result = std::string(result);
      } else if (!have_sub) {
        const auto sub = trim(*inner);
        if (!is_state_word(sub)) {
          return tl::unexpected(bad_status_value("Active", value, "a sub state such as '(running)'").error());
        }
        st.sub_state = std::string(sub);
        have_sub = true;
      }
    } else if (rest.starts_with("since ")) {
      auto ts = rest.substr(6);
      ts = ts.substr(0, ts.find(';'));
      st.state_change_usec = parse_systemd_timestamp(ts).value_or(0);
      break;
    } else {
      break;  // something a later systemd may add; the states are what matter
    }
    rest = trim(rest);
  }
  // systemd omits the sub state when it equals the active state ("failed", ...).
  if (!have_sub) st.sub_state = st.active_state;
  return ok();
}

/// The "code=exited, status=1/FAILURE" / "code=killed, signal=KILL" inside Main PID's parentheses.
Status parse_exit_info(std::string_view info, std::string_view whole, UnitStatus& st) {
  ExitCode code = ExitCode::None;
  std::optional<int> status;
  while (!info.empty()) {
    const auto comma = info.find(',');
    const auto item = trim(info.substr(0, comma));
    info = comma == std::string_view::npos ? std::string_view{} : info.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const auto k = item.substr(0, eq);
    const auto v = item.substr(eq + 1);
    if (k == "code") {
      if (v == "exited") code = ExitCode::Exited;
      else if (v == "killed") code = ExitCode::Killed;
      else if (v == "dumped") code = ExitCode::Dumped;
      else return tl::unexpected(bad_status_value("Main PID", whole, "code=exited|killed|dumped").error());
    } else if (k == "status") {
      status = parse_int<int>(v.substr(0, v.find('/')));  // "1/FAILURE"
      if (!status) return tl::unexpected(bad_status_value("Main PID", whole, "status=<number>[/NAME]").error());
    } else if (k == "signal") {
      status = signal_number(v);
      if (!status) return tl::unexpected(bad_status_value("Main PID", whole, "signal=<signal name>").error());
    }
  }
  st.exec_main_code = code;
  st.exec_main_status = status.value_or(0);
  return ok();
}

/// "55 (node)", "64 (code=exited, status=1/FAILURE)", "57 (sleep); Control PID: 60 (kill)".
Status parse_main_pid(std::string_view value, UnitStatus& st) {
  const auto whole = value;
  std::size_t n = 0;
  while (n < value.size() && is_digit(value[n])) ++n;
  const auto pid = parse_int<std::uint32_t>(value.substr(0, n));
  if (!pid || *pid == 0) return tl::unexpected(bad_status_value("Main PID", whole, "a process id").error());
  auto rest = trim(value.substr(n));
  if (rest.empty() || rest.front() == ';') {
    st.main_pid = *pid;  // running, its name unreadable
    return ok();
  }
  if (rest.front() != '(') return tl::unexpected(bad_status_value("Main PID", whole, "'<pid> (<name>)'").error());
  // The process name may itself contain ')' or ';'. The exit form never does, and starts with "code=".
  if (rest.starts_with("(code=")) {
    auto r = rest;
    const auto inner = take_parenthesized(r);
    if (!inner) return tl::unexpected(bad_status_value("Main PID", whole, "'(code=..., ...)'").error());
    st.main_pid = 0;  // the main process is gone; the PID shown is the last one's
    return parse_exit_info(*inner, whole, st);
  }
  st.main_pid = *pid;
  return ok();
}

/// The state glyph before the unit name: ● ○ × ↻ (UTF-8) or * x (ASCII fallback).
bool is_bullet(std::string_view s) noexcept {
  if (s.empty() || s.size() > 4) return false;
  if (s == "x" || s == "o") return true;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && (is_alpha(c) || is_digit(c) || c == ' ')) return false;
  }
  return true;
}

struct Header {
  std::string unit;
  std::string description;
};

/// "● name.service - Description", "* name.service", "name.service - Description".
std::optional<Header> parse_header(std::string_view line) {
  auto s = trim(line);
  auto sp = s.find(' ');
  auto first = s.substr(0, sp);
  if (!looks_like_unit_name(first)) {
    if (sp == std::string_view::npos || !is_bullet(first)) return std::nullopt;
    s = trim(s.substr(sp));
    sp = s.find(' ');
    first = s.substr(0, sp);
    if (!looks_like_unit_name(first)) return std::nullopt;
  }
  Header h;
  h.unit = std::string(first);
  if (sp != std::string_view::npos) {
    auto rest = trim(s.substr(sp));
    if (rest.starts_with("- ")) {
      h.description = std::string(trim(rest.substr(2)));
    } else if (rest == "-") {
      // empty description
    } else if (!rest.empty()) {
      return std::nullopt;
    }
  }
  return h;
}

}  // namespace

Result<UnitStatus> parse_systemctl_status(std::string_view text) {
  Lines lines(text);
  std::string_view line;

  // Header: the first line that is not empty and not a warning systemctl put first.
  bool found_header = false;
  UnitStatus st;
  while (lines.next(line)) {
    const auto t = trim(line);
    if (t.empty() || t.starts_with("Warning:")) continue;
    // "Unit foo.service could not be found." (systemctl prints it on stderr, exit status 4)
    constexpr std::string_view kPrefix = "Unit ";
    constexpr std::string_view kSuffix = " could not be found.";
    if (t.size() > kPrefix.size() + kSuffix.size() && t.starts_with(kPrefix) && t.ends_with(kSuffix)) {
      const auto name = trim(t.substr(kPrefix.size(), t.size() - kPrefix.size() - kSuffix.size()));
      if (!looks_like_unit_name(name)) break;
      st.unit = std::string(name);
      st.load_state = "not-found";
      st.active_state = "inactive";
      st.sub_state = "dead";
      return st;
    }
    auto header = parse_header(t);
    if (!header) break;
    st.unit = std::move(header->unit);
    st.description = std::move(header->description);
    found_header = true;
    break;
  }
  if (!found_header) {
    return fail(ErrorKind::InvalidInput, "systemctl_status_unrecognized",
                text.empty() ? std::string("systemctl status output is empty")
                             : fmt::format("systemctl status output does not start with a unit line such as "
                                           "'* name.service - Description' (any bullet); first line: {}",
                                           quote(trim(line))));
  }

  bool have_loaded = false;
  bool have_active = false;
  while (lines.next(line)) {
    if (trim(line).empty()) break;  // the journal follows the blank line
    std::string_view label, value;
    if (!split_field(line, label, value)) continue;
    if (label == "Loaded" && !have_loaded) {
      if (auto s = parse_loaded(value, st); !s) return tl::unexpected(s.error());
      have_loaded = true;
    } else if (label == "Active" && !have_active) {
      if (auto s = parse_active(value, st); !s) return tl::unexpected(s.error());
      have_active = true;
    } else if (label == "Main PID") {
      if (auto s = parse_main_pid(value, st); !s) return tl::unexpected(s.error());
    } else if (label == "CGroup") {
      st.control_group = std::string(value);
    } else if (label == "Memory") {
      // "12.3M", "12.3M (peak: 15.0M)", "1.2M (max: 100M available: 98M)"
      st.memory_current_bytes = parse_bytes(value.substr(0, value.find(' ')));
    } else if (label == "CPU") {
      st.cpu_usage_nsec = parse_timespan_nsec(value);
    }
    // Process:, Tasks:, Duration:, Docs:, Drop-In:, TriggeredBy:, Status:, IP:, IO: ... not modelled.
  }

  if (!have_loaded || !have_active) {
    return fail(ErrorKind::InvalidInput, "systemctl_status_missing_field",
                fmt::format("systemctl status output for {} has no {} line", quote(st.unit),
                            !have_loaded && !have_active ? "Loaded: or Active:"
                            : !have_loaded               ? "Loaded:"
                                                         : "Active:"));
  }
  return st;
}

}  // namespace siax::core
