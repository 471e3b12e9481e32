#include "cli/reply_parse.h"

#include <boost/system/system_error.hpp>

namespace siax::cli {

using nlohmann::json;

json parse_envelope(std::string_view raw, const std::set<std::string, std::less<>>* keep) {
  if (keep == nullptr) return json::parse(raw, nullptr, false);
  // depth counts the containers open around a key: 1 in the envelope, 3 in an object
  // of the "data" array (envelope, array, object).
  bool in_data = false;
  json::parser_callback_t filter = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key) return true;
    const auto* name = parsed.get_ptr<const std::string*>();
    if (name == nullptr) return true;
    if (depth == 1) in_data = *name == "data";
    if (depth != 3 || !in_data) return true;
    return keep->contains(*name);
  };
  return json::parse(raw, filter, false);
}

std::string error_text(const std::exception& e) {
  std::string text = e.what();
  if (const auto* se = dynamic_cast<const boost::system::system_error*>(&e);
      se != nullptr && se->code().has_location()) {
    if (const auto cut = text.rfind(" ["); cut != std::string::npos) text.resize(cut);
  }
  return text;
}

}  // namespace siax::cli
