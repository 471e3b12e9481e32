#pragma once
/// Prometheus text exposition (version 0.0.4), written one family at a time:
///
///     PromText out;
///     out.family("siax_streams", "gauge", "Open live state streams.").sample(3);
///     out.family("siax_operations_total", "counter", "Lifecycle operations.")
///        .sample(7, {{"app", "orders"}, {"verb", "start"}});
///     std::string text = out.take();
///
/// Label values are escaped (backslash, double quote, newline). Pure; any thread.
/// The one writer of the exposition format: the API's counters, the monitor, the live
/// state, live logs, the token cache and the cloud reporter all write their families
/// with it (docs/ARCHITECTURE.md, "src/common").
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace siax {

class PromText {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  /// Starts a family: its HELP and TYPE lines. Samples that follow belong to it.
  PromText& family(std::string_view name, std::string_view type, std::string_view help);
  PromText& sample(std::uint64_t value, Labels labels = {});
  /// A gauge in seconds or another fraction, six decimals.
  PromText& sample_seconds(double value, Labels labels = {});
  /// Appends already written exposition text (e.g. another module's families).
  PromText& raw(std::string_view text);
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void name_and_labels(Labels labels);
  std::string family_;
  std::string out_;
};

/// A label value escaped for the exposition format.
[[nodiscard]] std::string prom_label(std::string_view value);

}  // namespace siax
