#include "cli/reply_parse.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>

#include <boost/system/system_error.hpp>

namespace siax::cli {
namespace {

using nlohmann::json;

const std::set<std::string, std::less<>> kKeep{"name", "status", "pid"};

TEST(ParseEnvelope, KeepsOnlyTheNamedFieldsOfEachListedObject) {
  const std::string raw =
      R"({"success":true,"data":[{"name":"a","status":"running","pid":7,"definition":{"name":"x","args":["1"]},)"
      R"("pids":[7,8],"reason":"ok"},{"name":"b","status":"stopped","pid":null}],"error":null})";
  auto j = parse_envelope(raw, &kKeep);
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j["success"].get<bool>());
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0], (json{{"name", "a"}, {"status", "running"}, {"pid", 7}}));
  EXPECT_EQ(j["data"][1], (json{{"name", "b"}, {"status", "stopped"}, {"pid", nullptr}}));
  EXPECT_TRUE(j["error"].is_null());
}

TEST(ParseEnvelope, TheSameFieldsAsAFullParse) {
  const std::string raw = R"({"success":true,"data":[{"name":"a","status":"running","pid":7,"other":1}],"error":null})";
  auto full = parse_envelope(raw, nullptr);
  auto kept = parse_envelope(raw, &kKeep);
  for (const auto& k : kKeep) EXPECT_EQ(full["data"][0][k], kept["data"][0][k]) << k;
  EXPECT_FALSE(kept["data"][0].contains("other"));
  EXPECT_TRUE(full["data"][0].contains("other"));
}

TEST(ParseEnvelope, AnErrorEnvelopeIsKeptWhole) {
  const std::string raw =
      R"({"success":false,"data":null,"error":{"code":"x","message":"why","details":{"deep":{"a":1}}}})";
  auto j = parse_envelope(raw, &kKeep);
  EXPECT_EQ(j, json::parse(raw));
}

TEST(ParseEnvelope, ObjectsOutsideTheDataListAreKeptWhole) {
  const std::string raw = R"({"success":true,"meta":[{"name":"a","other":1}],"data":[],"error":null})";
  EXPECT_EQ(parse_envelope(raw, &kKeep), json::parse(raw));
}

TEST(ParseEnvelope, NotJsonIsNull) {
  EXPECT_TRUE(parse_envelope("<html>", &kKeep).is_discarded());
  EXPECT_TRUE(parse_envelope("{\"a\":", nullptr).is_discarded());
}

TEST(ErrorText, BoostSystemErrorsLoseTheirSourceLocation) {
  static constexpr boost::source_location kWhere = BOOST_CURRENT_LOCATION;
  const boost::system::system_error located(
      boost::system::error_code(ENOENT, boost::system::system_category(), &kWhere), "connect");
  const std::string text = error_text(located);
  EXPECT_EQ(text.rfind("connect: ", 0), 0u) << text;
  EXPECT_EQ(text.find(" [system:"), std::string::npos) << text;
  EXPECT_EQ(text.find(".cpp"), std::string::npos) << text;
  EXPECT_NE(std::string(located.what()).find(" [system:"), std::string::npos);  // what the CLI printed before
  EXPECT_EQ(error_text(std::runtime_error("handshake: certificate verify failed [x]")),
            "handshake: certificate verify failed [x]");
}

}  // namespace
}  // namespace siax::cli
