// The live-log regex filter against a ReDoS corpus (issue 10, item 1): every hostile
// pattern is either refused with a clear error or compiled and matched in bounded time,
// with the right answer. Before RE2, `(|)(\1\1)*` crashed glibc's regexec and
// `(a{1,1000}){1,200}x` took seconds to compile and close to a minute per line.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "logs/filter.h"

namespace siax::logs {
namespace {

using Clock = std::chrono::steady_clock;

/// Milliseconds `f` took.
template <class F>
double millis(F&& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Refused {
  const char* pattern;
  const char* code;
  const char* says;  ///< a word the message must contain (what is unsupported)
};

TEST(LogsRegex, RefusesWhatIsUnsafeOrUnsupportedAndSaysWhy) {
  const std::vector<Refused> corpus = {
      {R"((|)(\1\1)*)", "invalid_regex", "back-references"},
      {R"((a)\1)", "invalid_regex", "back-references"},
      {"(a{1,32767}){1,32767}", "invalid_regex", "repeat count"},
      {"(a{1,1000}){1,200}x", "invalid_regex", "repeat count"},
      {"a{1001}", "invalid_regex", "repeat count"},
      {"(?=a)b", "invalid_regex", "look-ahead"},
      {"(?<=a)b", "invalid_regex", "look-ahead"},
      {"(unclosed", "invalid_regex", "parenthesis"},
      {"((((((((((a{1,100}){1,10}){1,1}", "invalid_regex", "parenthesis"},
      {"\\w{1000}\\w{1000}\\w{1000}\\w{1000}\\w{1000}\\w{1000}", "regex_too_complex", "simplify"},
      {"(\\w{1,1000}\\d{1,1000})", "regex_too_complex", "simplify"},
  };
  for (const auto& c : corpus) {
    Result<std::shared_ptr<const Regex>> r = tl::unexpected(Error{});
    const double ms = millis([&] { r = Regex::compile(c.pattern); });
    ASSERT_FALSE(r) << c.pattern << " compiled";
    EXPECT_EQ(r.error().code, c.code) << c.pattern << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << c.pattern << ": " << r.error().message;
    EXPECT_LT(ms, 500.0) << c.pattern << " took " << ms << " ms to refuse";
  }
}

TEST(LogsRegex, RefusesPatternsOverTheLengthLimit) {
  auto r = Regex::compile(std::string(Regex::kMaxPatternBytes + 1, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "regex_too_long");
  EXPECT_TRUE(Regex::compile(std::string(Regex::kMaxPatternBytes, 'a')));
}

struct Bounded {
  const char* pattern;
  std::string text;
  bool expected;
};

// Catastrophic backtracking for a backtracking engine; linear for RE2. Each is matched
// against a long hostile line: the answer must be right and come quickly.
TEST(LogsRegex, ClassicReDoSPatternsMatchCorrectlyInBoundedTime) {
  // Within the bytes searched (kMaxMatchedBytes), so that the answers are the full ones.
  const std::string as(Regex::kMaxMatchedBytes - 64, 'a');
  const std::string past(Regex::kMaxMatchedBytes, 'a');
  const std::vector<Bounded> corpus = {
      {"(a+)+$", as + "!", false},
      {"(a+)+$", as, true},
      {"(a|aa)*b", as, false},
      {"(a|aa)*b", past + "b", false},  // the b lies past the bytes searched: not seen
      {"(a|aa)*b", as + "b", true},
      {"(a|aa)*b", "aaaab", true},
      {"(.*a){20}", as, true},
      {"(.*a){20}", std::string(5000, 'b'), false},
      {"(a*)*b", as, false},
      {"(a|a?)+$", as + "x", true},  // a? matches the empty string at the end
      {"^(([a-z])+.)+[A-Z]([a-z])+$", as + "!", false},
      {"(x+x+)+y", std::string(Regex::kMaxMatchedBytes, 'x'), false},
      {"(\\w+\\s?)+$", as + "#", false},
      {"(?i)ERROR", "an error happened", true},
      {"(.*){1,32}[bc]", as, false},
  };
  for (const auto& c : corpus) {
    auto r = Regex::compile(c.pattern);
    ASSERT_TRUE(r) << c.pattern << ": " << r.error().message;
    bool got = !c.expected;
    const double ms = millis([&] { got = (*r)->search(c.text); });
    EXPECT_EQ(got, c.expected) << c.pattern;
    EXPECT_LT(ms, 250.0) << c.pattern << " took " << ms << " ms on " << c.text.size() << " bytes";
  }
}

TEST(LogsRegex, LooksAtABoundedPrefixOfEachMessage) {
  auto r = Regex::compile("needle");
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)->search(std::string(Regex::kMaxMatchedBytes - 6, 'x') + "needle"));
  EXPECT_FALSE((*r)->search(std::string(Regex::kMaxMatchedBytes, 'x') + "needle"));
  // A 1 MiB line costs no more than its first kMaxMatchedBytes.
  const std::string huge(1 << 20, 'a');
  auto slow = Regex::compile("(a|aa)*c");
  ASSERT_TRUE(slow);
  EXPECT_LT(millis([&] { (void)(*slow)->search(huge); }), 250.0);
}

TEST(LogsRegex, AnUncompiledFilterMatchesNothing) {
  EntryFilter f;
  f.regex_source = "x";
  LogEntry e;
  e.message = "x";
  EXPECT_FALSE(f.matches(e));  // a caller forgot compile_regex: fail closed
  ASSERT_TRUE(compile_regex(f));
  EXPECT_TRUE(f.matches(e));
}

}  // namespace
}  // namespace siax::logs
