#include "appdef/helper_protocol.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "appdef/app_json.h"
#include "core/validation.h"

namespace siax::appdef {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string code, std::string message) {
  return fail(ErrorKind::InvalidInput, std::move(code), std::move(message));
}

constexpr std::array<std::pair<std::string_view, HelperOp>, 5> kOps = {{{"ping", HelperOp::Ping},
                                                                        {"install", HelperOp::Install},
                                                                        {"remove", HelperOp::Remove},
                                                                        {"enable", HelperOp::Enable},
                                                                        {"disable", HelperOp::Disable}}};

constexpr std::array<std::pair<std::string_view, ErrorKind>, 9> kKinds = {
    {{"invalid_input", ErrorKind::InvalidInput},
     {"not_found", ErrorKind::NotFound},
     {"permission_denied", ErrorKind::PermissionDenied},
     {"conflict", ErrorKind::Conflict},
     {"rate_limited", ErrorKind::RateLimited},
     {"unavailable", ErrorKind::Unavailable},
     {"timeout", ErrorKind::Timeout},
     {"operation_failed", ErrorKind::OperationFailed},
     {"internal", ErrorKind::Internal}}};

/// The fields each op accepts besides "op".
bool field_allowed(HelperOp op, std::string_view key) {
  switch (op) {
    case HelperOp::Ping: return false;
    case HelperOp::Install: return key == "definition" || key == "secret_environment" || key == "secret_names";
    case HelperOp::Remove:
    case HelperOp::Enable:
    case HelperOp::Disable: return key == "app";
  }
  return false;
}

Result<HelperRequest> parse_install(const json& j) {
  auto it = j.find("definition");
  if (it == j.end() || !it->is_object()) {
    return invalid("invalid_helper_request", "an install request needs a 'definition' object");
  }
  if (it->contains("secret_environment")) {
    return invalid("invalid_helper_request",
                   "secret values go in the request's 'secret_environment', not inside 'definition'");
  }
  const bool has_values = j.contains("secret_environment");
  const bool has_names = j.contains("secret_names");
  if (has_values && has_names) {
    return invalid("invalid_helper_request", "send 'secret_environment' (new values) or 'secret_names' (keep), not both");
  }
  json body = *it;
  if (has_values) body["secret_environment"] = j.at("secret_environment");
  auto def = definition_from_json(body);
  if (!def) return tl::unexpected(def.error());
  if (has_values && !def->secret_values) def->secret_values.emplace();  // null: no secrets
  if (has_names) {
    const auto& names = j.at("secret_names");
    if (!names.is_array()) return invalid("invalid_helper_request", "'secret_names' must be an array of names");
    for (const auto& n : names) {
      if (!n.is_string()) return invalid("invalid_helper_request", "'secret_names' must be an array of names");
      def->secret_names.push_back(n.get<std::string>());
    }
    std::sort(def->secret_names.begin(), def->secret_names.end());
    if (std::adjacent_find(def->secret_names.begin(), def->secret_names.end()) != def->secret_names.end()) {
      return invalid("invalid_helper_request", "'secret_names' lists a name twice");
    }
    def->secret_values.reset();
  }
  if (auto s = core::validate_definition(*def); !s) return tl::unexpected(s.error());
  HelperRequest req;
  req.op = HelperOp::Install;
  req.app = def->name;
  req.definition = std::move(*def);
  return req;
}

}  // namespace

const char* to_string(HelperOp op) noexcept {
  for (const auto& [name, o] : kOps) {
    if (o == op) return name.data();
  }
  return "ping";
}

std::string encode_helper_request(const HelperRequest& request) {
  json j = {{"op", to_string(request.op)}};
  switch (request.op) {
    case HelperOp::Ping: break;
    case HelperOp::Install: {
      const auto& def = request.definition;
      json body = definition_to_json(def);
      body.erase("secret_environment");
      j["definition"] = std::move(body);
      if (def.secret_values) {
        j["secret_environment"] = *def.secret_values;
      } else {
        j["secret_names"] = def.secret_names;
      }
      break;
    }
    case HelperOp::Remove:
    case HelperOp::Enable:
    case HelperOp::Disable: j["app"] = request.app; break;
  }
  return j.dump();
}

Result<HelperRequest> parse_helper_request(std::string_view text) {
  if (text.size() > kHelperMaxRequest) {
    return invalid("request_too_large",
                   fmt::format("the request has more than {} bytes; an app definition is far smaller", kHelperMaxRequest));
  }
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid("invalid_helper_request", "the request is not a JSON object");
  }
  auto op_it = j.find("op");
  if (op_it == j.end() || !op_it->is_string()) {
    return invalid("invalid_helper_request", "the request needs \"op\": ping, install, remove, enable or disable");
  }
  const auto op_name = op_it->get<std::string>();
  const auto found = std::find_if(kOps.begin(), kOps.end(), [&](const auto& p) { return p.first == op_name; });
  if (found == kOps.end()) {
    return invalid("unknown_helper_op",
                   fmt::format("unknown op '{}': the helper does ping, install, remove, enable and disable",
                               op_name.substr(0, 40)));
  }
  const HelperOp op = found->second;
  for (const auto& [key, value] : j.items()) {
    if (key != "op" && !field_allowed(op, key)) {
      return invalid("invalid_helper_request",
                     fmt::format("unknown field '{}' in a {} request", key.substr(0, 40), op_name));
    }
  }
  if (op == HelperOp::Install) return parse_install(j);
  HelperRequest req;
  req.op = op;
  if (op == HelperOp::Ping) return req;
  auto app = j.find("app");
  if (app == j.end() || !app->is_string()) {
    return invalid("invalid_helper_request", fmt::format("a {} request needs \"app\": the app's name", op_name));
  }
  req.app = app->get<std::string>();
  if (auto s = core::validate_app_name(req.app); !s) return tl::unexpected(s.error());
  return req;
}

std::string encode_helper_reply(const Result<json>& reply) {
  if (reply) return json{{"ok", true}, {"result", *reply}}.dump();
  json details = json::object();
  for (const auto& [k, v] : reply.error().details) details[k] = v;
  return json{{"ok", false},
              {"error",
               {{"kind", to_string(reply.error().kind)},
                {"code", reply.error().code},
                {"message", reply.error().message},
                {"details", std::move(details)}}}}
      .dump();
}

Result<json> parse_helper_reply(std::string_view text) {
  auto bad = [](std::string why) {
    return fail(ErrorKind::Internal, "bad_helper_reply", fmt::format("the unit helper's reply is not valid: {}", why));
  };
  if (text.size() > kHelperMaxReply) return bad("too long");
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  auto okv = j.find("ok");
  if (okv == j.end() || !okv->is_boolean()) return bad("no \"ok\"");
  if (okv->get<bool>()) {
    auto r = j.find("result");
    if (r == j.end()) return bad("no \"result\"");
    return *r;
  }
  auto e = j.find("error");
  if (e == j.end() || !e->is_object()) return bad("no \"error\"");
  Error err;
  const auto kind = e->value("kind", std::string());
  const auto k = std::find_if(kKinds.begin(), kKinds.end(), [&](const auto& p) { return p.first == kind; });
  err.kind = k == kKinds.end() ? ErrorKind::Internal : k->second;
  if (!e->contains("code") || !e->at("code").is_string() || !e->contains("message") || !e->at("message").is_string()) {
    return bad("the error has no code or message");
  }
  err.code = e->at("code").get<std::string>();
  err.message = e->at("message").get<std::string>();
  if (auto d = e->find("details"); d != e->end() && d->is_object()) {
    for (const auto& [key, v] : d->items()) {
      if (v.is_string()) err.details.emplace_back(key, v.get<std::string>());
    }
  }
  return tl::unexpected(std::move(err));
}

bool helper_peer_allowed(std::uint32_t uid, std::uint32_t agent_uid) noexcept { return uid == 0 || uid == agent_uid; }

std::string describe_helper_request(const HelperRequest& request) {
  if (request.op == HelperOp::Ping) return "ping";
  if (request.op != HelperOp::Install) return fmt::format("{} {}", to_string(request.op), request.app);
  const auto& def = request.definition;
  return fmt::format("install {} (user {}, {} secret name(s), secret values {})", request.app, def.user,
                     def.secret_names.size(),
                     def.secret_values ? fmt::format("sent: {}", def.secret_values->size()) : std::string("kept"));
}

}  // namespace siax::appdef
