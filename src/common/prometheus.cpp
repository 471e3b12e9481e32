#include "common/prometheus.h"

#include <fmt/format.h>

namespace siax {

std::string prom_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

PromText& PromText::family(std::string_view name, std::string_view type, std::string_view help) {
  family_ = std::string(name);
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  return *this;
}

void PromText::name_and_labels(Labels labels) {
  out_ += family_;
  if (labels.size() == 0) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += fmt::format("{}=\"{}\"", k, prom_label(v));
  }
  out_ += '}';
}

PromText& PromText::sample(std::uint64_t value, Labels labels) {
  name_and_labels(labels);
  out_ += fmt::format(" {}\n", value);
  return *this;
}

PromText& PromText::sample_seconds(double value, Labels labels) {
  name_and_labels(labels);
  out_ += fmt::format(" {:.6f}\n", value);
  return *this;
}

PromText& PromText::raw(std::string_view text) {
  out_ += text;
  return *this;
}

}  // namespace siax
