#include "core/unit_renderer.h"
#include "core/validation.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace siax::core {
namespace {

/// Compares with tests/fixtures/golden/<name>; SIAX_UPDATE_GOLDEN=1 rewrites the file.
void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(SIAX_FIXTURES_DIR) + "/golden/" + name;
  if (std::getenv("SIAX_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path << " (run with SIAX_UPDATE_GOLDEN=1 and review it)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden file " << path;
}

AppDefinition base(Runtime rt) {
  AppDefinition d;
  d.name = "api";
  d.runtime = rt;
  d.user = "app";
  d.working_directory = "/srv/app";
  return d;
}

TEST(RenderUnit, NodeScript) {
  auto d = base(Runtime::NodeScript);
  d.script_path = "/srv/app/server.js";
  d.environment = {{"NODE_ENV", "production"}, {"PORT", "3000"}};
  d.description = "Orders API";
  auto out = render_unit(d, Interpreters{});
  ASSERT_TRUE(out) << out.error().message;
  expect_golden("node.service", *out);
}

TEST(RenderUnit, NpmStart) {
  auto d = base(Runtime::NpmStart);
  d.args = {"--port", "3000"};
  d.restart_policy = RestartPolicy::OnFailure;
  auto out = render_unit(d, Interpreters{});
  ASSERT_TRUE(out) << out.error().message;
  expect_golden("npm.service", *out);
}

TEST(RenderUnit, PythonScript) {
  auto d = base(Runtime::PythonScript);
  d.script_path = "/srv/app/worker.py";
  d.restart_policy = RestartPolicy::No;
  auto out = render_unit(d, Interpreters{});
  ASSERT_TRUE(out) << out.error().message;
  expect_golden("python.service", *out);
}

TEST(RenderUnit, UvicornWithLimits) {
  auto d = base(Runtime::Uvicorn);
  d.module = "pkg.api:app";
  d.port = 8000;
  d.memory_max_bytes = 256ULL << 20;
  d.cpu_quota_percent = 50;
  d.restart_sec = 5;
  auto out = render_unit(d, Interpreters{});
  ASSERT_TRUE(out) << out.error().message;
  expect_golden("uvicorn.service", *out);
}

TEST(RenderUnit, CustomExecutable) {
  auto d = base(Runtime::Custom);
  d.script_path = "/srv/app/bin/server";
  d.args = {"--config", "/srv/app/config.toml"};
  auto out = render_unit(d, Interpreters{});
  ASSERT_TRUE(out) << out.error().message;
  expect_golden("custom.service", *out);
}

TEST(RenderUnit, HostileValuesAreEscaped) {
  auto d = base(Runtime::NodeScript);
  d.script_path = "/srv/my app/100% \"real\".js";
  d.working_directory = "/srv/my app/%h";
  d.environment = {{"GREETING", "say \"hi\" \\ to 50% of $HOME and ${USER}\tnow"}};
  d.args = {"$PATH", "a b", "back\\slash", "%n"};
  d.description = "100% of %i";
  auto out = render_unit(d, Interpreters{});
  ASSERT_TRUE(out) << out.error().message;
  expect_golden("hostile.service", *out);
  // No line of the unit may come from a value: the count of lines is fixed.
  EXPECT_EQ(out->find("\n\"", 0), std::string::npos);
}

TEST(RenderUnit, RejectsWhatCannotBeRepresented) {
  auto d = base(Runtime::NodeScript);
  d.script_path = "/srv/app/server.js";
  auto with = [&](auto mutate) {
    auto copy = d;
    mutate(copy);
    return render_unit(copy, Interpreters{});
  };
  EXPECT_FALSE(with([](AppDefinition& x) { x.environment["A"] = "1\n[Service]\nUser=root"; }));
  EXPECT_FALSE(with([](AppDefinition& x) { x.description = "x\\"; }));
  EXPECT_FALSE(with([](AppDefinition& x) { x.description = "x\ny"; }));
  EXPECT_FALSE(with([](AppDefinition& x) { x.working_directory = "/srv/a\\"; }));
  EXPECT_FALSE(with([](AppDefinition& x) { x.user = "root\nUser=x"; }));
  EXPECT_FALSE(with([](AppDefinition& x) { x.environment["A B"] = "1"; }));
  auto bad_interp = render_unit(d, Interpreters{"node", "/usr/bin/npm", "/usr/bin/python3"});
  EXPECT_FALSE(bad_interp);
}

TEST(QuoteExecWord, EscapesEverySpecialCharacter) {
  EXPECT_EQ(quote_exec_word("plain"), "\"plain\"");
  EXPECT_EQ(quote_exec_word("a b"), "\"a b\"");
  EXPECT_EQ(quote_exec_word("$HOME"), "\"$$HOME\"");
  EXPECT_EQ(quote_exec_word("100%"), "\"100%%\"");
  EXPECT_EQ(quote_exec_word("say \"x\""), "\"say \\\"x\\\"\"");
  EXPECT_EQ(quote_exec_word("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(quote_exec_word("a\tb"), "\"a\\tb\"");
  EXPECT_EQ(quote_exec_word(""), "\"\"");
}

TEST(QuoteEnvironment, QuotesTheWholeAssignment) {
  EXPECT_EQ(quote_environment("A", "x y"), "\"A=x y\"");
  EXPECT_EQ(quote_environment("A", "50%"), "\"A=50%%\"");
  EXPECT_EQ(quote_environment("A", "$HOME"), "\"A=$HOME\"");  // Environment= does not substitute
  EXPECT_EQ(quote_environment("A", "\"\\"), "\"A=\\\"\\\\\"");
}

TEST(ExecCommand, ResolvesInterpreters) {
  Interpreters in{"/opt/node/bin/node", "/opt/node/bin/npm", "/usr/bin/python3.11"};
  auto d = base(Runtime::Uvicorn);
  d.module = "main:app";
  d.port = 9000;
  EXPECT_EQ(exec_command(d, in), (std::vector<std::string>{"/usr/bin/python3.11", "-m", "uvicorn", "main:app",
                                                          "--host", "127.0.0.1", "--port", "9000"}));
  d = base(Runtime::NpmStart);
  EXPECT_EQ(exec_command(d, in), (std::vector<std::string>{"/opt/node/bin/npm", "start"}));
}

TEST(ClassifyUnitFile, TellsStaleFromEditedFromForeign) {
  auto d = base(Runtime::NodeScript);
  d.script_path = "/srv/app/server.js";
  auto now = *render_unit(d, Interpreters{});
  d.environment["X"] = "1";
  auto older = *render_unit(d, Interpreters{});
  EXPECT_EQ(classify_unit_file(now, now), UnitFileState::Current);
  EXPECT_EQ(classify_unit_file(older, now), UnitFileState::Stale);
  auto edited = older;
  edited.replace(edited.find("User=app"), 8, "User=root");
  EXPECT_EQ(classify_unit_file(edited, now), UnitFileState::Edited);
  EXPECT_EQ(classify_unit_file("[Service]\nExecStart=/bin/true\n", now), UnitFileState::Foreign);
  EXPECT_EQ(classify_unit_file(std::string(kManagedMarker), now), UnitFileState::Edited);
  EXPECT_EQ(classify_unit_file("", now), UnitFileState::Foreign);
  EXPECT_STREQ(unit_file_state_name(std::nullopt, now), "missing");
  EXPECT_STREQ(unit_file_state_name(now, now), "current");
  EXPECT_STREQ(unit_file_state_name(edited, now), "edited");
}

TEST(Fnv1a64, KnownVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
}

TEST(UnitNames, RoundTrip) {
  EXPECT_EQ(unit_name_for("api"), "siax-app-api.service");
  EXPECT_EQ(app_name_from_unit("siax-app-api.service"), "api");
  EXPECT_EQ(app_name_from_unit("siax-app-.service"), std::nullopt);
  EXPECT_EQ(app_name_from_unit("nginx.service"), std::nullopt);
  EXPECT_EQ(app_name_from_unit("siax-app-api.timer"), std::nullopt);
}

// Issue 10, item 10: a unit the store would refuse to read back is refused at write.
TEST(RenderUnit, AUnitOverTheSizeLimitIsRefusedAtWrite) {
  auto d = base(Runtime::NodeScript);
  d.script_path = "/srv/app/server.js";
  for (int i = 0; i < 10; ++i) d.environment["BIG_" + std::to_string(i)] = std::string(kMaxEnvValue - 1, 'x');
  ASSERT_TRUE(validate_definition(d));  // each value is within its own limit...
  auto out = render_unit(d, Interpreters{});
  ASSERT_FALSE(out);  // ...but together they are not
  EXPECT_EQ(out.error().code, "unit_too_large");
  d.environment.erase("BIG_0");
  for (int i = 1; i < 7; ++i) d.environment.erase("BIG_" + std::to_string(i));
  EXPECT_TRUE(render_unit(d, Interpreters{}));
}

}  // namespace
}  // namespace siax::core
