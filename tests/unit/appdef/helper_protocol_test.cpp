// The unit helper's wire protocol (the pure part of `siax-agent unit-helper`): what it
// accepts, what it refuses before touching anything, and that a definition survives the trip.
#include "appdef/helper_protocol.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace siax::appdef {
namespace {

using nlohmann::json;

core::AppDefinition full_app() {
  core::AppDefinition d;
  d.name = "orders";
  d.runtime = core::Runtime::Uvicorn;
  d.module = "main:app";
  d.host = "127.0.0.1";
  d.port = 8000;
  d.args = {"--workers", "2"};
  d.user = "app";
  d.working_directory = "/srv/orders";
  d.environment = {{"MODE", "prod"}, {"PCT", "100%"}};
  d.restart_policy = core::RestartPolicy::OnFailure;
  d.restart_sec = 5;
  d.memory_max_bytes = 512ull * 1024 * 1024;
  d.cpu_quota_percent = 150;
  d.description = "Orders";
  return d;
}

json definition_json() {
  return json{{"app_name", "orders"}, {"script_path", "/srv/o/index.js"}, {"working_directory", "/srv/o"},
              {"user", "app"}};
}

Result<HelperRequest> parse(const json& j) { return parse_helper_request(j.dump()); }

TEST(HelperProtocol, AnInstallSurvivesTheTripWithItsSecrets) {
  HelperRequest req;
  req.op = HelperOp::Install;
  req.definition = full_app();
  req.definition.secret_names = {"API_KEY", "DB_PASSWORD"};
  req.definition.secret_values = std::map<std::string, std::string>{{"API_KEY", "k"}, {"DB_PASSWORD", "p w"}};
  req.app = "orders";
  auto back = parse_helper_request(encode_helper_request(req));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->op, HelperOp::Install);
  EXPECT_EQ(back->app, "orders");
  EXPECT_EQ(back->definition, req.definition);
}

TEST(HelperProtocol, AnInstallWithoutValuesKeepsTheSecretNamesOnly) {
  HelperRequest req;
  req.op = HelperOp::Install;
  req.definition = full_app();
  req.definition.secret_names = {"API_KEY"};
  auto text = encode_helper_request(req);
  EXPECT_EQ(text.find("secret_environment"), std::string::npos);
  auto back = parse_helper_request(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->definition.secret_names, std::vector<std::string>{"API_KEY"});
  EXPECT_FALSE(back->definition.secret_values.has_value());
}

TEST(HelperProtocol, AnEmptySecretEnvironmentMeansRemoveTheFile) {
  auto back = parse({{"op", "install"}, {"definition", definition_json()}, {"secret_environment", json::object()}});
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->definition.secret_values.has_value());
  EXPECT_TRUE(back->definition.secret_values->empty());
}

TEST(HelperProtocol, NameOnlyOps) {
  for (const char* op : {"remove", "enable", "disable"}) {
    auto r = parse({{"op", op}, {"app", "orders"}});
    ASSERT_TRUE(r) << op << ": " << r.error().message;
    EXPECT_EQ(r->app, "orders");
    EXPECT_STREQ(to_string(r->op), op);
  }
  EXPECT_TRUE(parse({{"op", "ping"}}));
}

TEST(HelperProtocol, RefusesNamesThatAreNotAppNames) {
  for (const char* name : {"../../etc/passwd", "dbus.service", "a b", "", "x\nExecStart=/bin/sh",
                           "siax-app-x.service", "-leading"}) {
    auto r = parse({{"op", "remove"}, {"app", name}});
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput) << name;
  }
  auto d = definition_json();
  d["app_name"] = "../etc";
  EXPECT_FALSE(parse({{"op", "install"}, {"definition", d}}));
}

TEST(HelperProtocol, RefusesUnitTextAndUnknownFields) {
  auto r = parse({{"op", "install"}, {"definition", definition_json()}, {"unit_text", "[Service]\nUser=root\n"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_helper_request");
  EXPECT_NE(r.error().message.find("unit_text"), std::string::npos);
  auto d = definition_json();
  d["ExecStartPre"] = "/bin/sh";
  r = parse({{"op", "install"}, {"definition", d}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_FALSE(parse({{"op", "enable"}, {"app", "x"}, {"definition", definition_json()}}));
  EXPECT_FALSE(parse({{"op", "ping"}, {"app", "x"}}));
}

TEST(HelperProtocol, RefusesNewlinesInValues) {
  for (const char* field : {"description", "working_directory", "script_path"}) {
    auto d = definition_json();
    d[field] = std::string("/srv/o\nExecStartPre=/bin/sh -c id");
    auto r = parse({{"op", "install"}, {"definition", d}});
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput) << field;
  }
  auto d = definition_json();
  d["environment"] = {{"X", "a\nExecStartPre=/bin/sh"}};
  EXPECT_FALSE(parse({{"op", "install"}, {"definition", d}}));
  EXPECT_FALSE(parse({{"op", "install"}, {"definition", definition_json()}, {"secret_environment", {{"K", "a\nb"}}}}));
  EXPECT_FALSE(parse({{"op", "install"}, {"definition", definition_json()}, {"secret_names", {"BAD NAME"}}}));
}

TEST(HelperProtocol, SecretValuesGoOutsideTheDefinitionAndNotTwice) {
  auto d = definition_json();
  d["secret_environment"] = {{"K", "v"}};
  EXPECT_FALSE(parse({{"op", "install"}, {"definition", d}}));
  EXPECT_FALSE(parse({{"op", "install"},
                      {"definition", definition_json()},
                      {"secret_environment", {{"K", "v"}}},
                      {"secret_names", {"K"}}}));
  EXPECT_FALSE(parse({{"op", "install"}, {"definition", definition_json()}, {"secret_names", {"K", "K"}}}));
}

TEST(HelperProtocol, RefusesWhatIsNotARequest) {
  EXPECT_FALSE(parse_helper_request(""));
  EXPECT_FALSE(parse_helper_request("not json"));
  EXPECT_FALSE(parse_helper_request("[1,2]"));
  EXPECT_FALSE(parse({{"op", 3}}));
  auto r = parse({{"op", "write_file"}, {"path", "/etc/shadow"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "unknown_helper_op");
  EXPECT_FALSE(parse({{"op", "install"}}));
  EXPECT_FALSE(parse({{"op", "remove"}}));
}

TEST(HelperProtocol, RefusesAnOversizedRequestBeforeParsingIt) {
  auto d = definition_json();
  d["description"] = std::string(kHelperMaxRequest, 'a');
  auto r = parse({{"op", "install"}, {"definition", d}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "request_too_large");
}

TEST(HelperProtocol, RepliesCarryResultsAndErrors) {
  auto ok_reply = parse_helper_reply(encode_helper_reply(json{{"unit", "siax-app-x.service"}, {"changed", true}}));
  ASSERT_TRUE(ok_reply);
  EXPECT_EQ(ok_reply->at("unit"), "siax-app-x.service");
  auto err = parse_helper_reply(encode_helper_reply(
      fail(ErrorKind::PermissionDenied, "peer_not_allowed", "only the agent", {{"missing_right", "write_unit_files"}})));
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().kind, ErrorKind::PermissionDenied);
  EXPECT_EQ(err.error().code, "peer_not_allowed");
  ASSERT_NE(err.error().detail("missing_right"), nullptr);
  EXPECT_EQ(*err.error().detail("missing_right"), "write_unit_files");
  for (const char* bad : {"", "{}", "{\"ok\":false}", "{\"ok\":true}", "nope", "{\"ok\":false,\"error\":{}}"}) {
    auto r = parse_helper_reply(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "bad_helper_reply") << bad;
  }
}

TEST(HelperProtocol, OnlyRootAndTheAgentsUserArePeers) {
  EXPECT_TRUE(helper_peer_allowed(0, 998));
  EXPECT_TRUE(helper_peer_allowed(998, 998));
  EXPECT_FALSE(helper_peer_allowed(1000, 998));
  EXPECT_FALSE(helper_peer_allowed(65534, 998));
}

TEST(HelperProtocol, TheLogLineNeverHasSecretValues) {
  HelperRequest req;
  req.op = HelperOp::Install;
  req.definition = full_app();
  req.definition.secret_names = {"API_KEY"};
  req.definition.secret_values = std::map<std::string, std::string>{{"API_KEY", "hunter2-value"}};
  req.app = "orders";
  const auto line = describe_helper_request(req);
  EXPECT_EQ(line.find("hunter2"), std::string::npos);
  EXPECT_NE(line.find("install orders"), std::string::npos);
}

}  // namespace
}  // namespace siax::appdef
