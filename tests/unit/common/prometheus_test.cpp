#include "common/prometheus.h"

#include <gtest/gtest.h>

namespace siax {
namespace {

TEST(PromText, FamilyWritesHelpAndTypeThenItsSamples) {
  PromText out;
  out.family("siax_streams", "gauge", "Open live state streams.").sample(3);
  EXPECT_EQ(out.take(),
            "# HELP siax_streams Open live state streams.\n"
            "# TYPE siax_streams gauge\n"
            "siax_streams 3\n");
}

TEST(PromText, LabelsAreWrittenInTheOrderGiven) {
  PromText out;
  out.family("siax_operations_total", "counter", "Ops.")
      .sample(7, {{"app", "orders"}, {"verb", "start"}})
      .sample(0, {{"app", "web"}, {"verb", "stop"}});
  EXPECT_EQ(out.take(),
            "# HELP siax_operations_total Ops.\n"
            "# TYPE siax_operations_total counter\n"
            "siax_operations_total{app=\"orders\",verb=\"start\"} 7\n"
            "siax_operations_total{app=\"web\",verb=\"stop\"} 0\n");
}

TEST(PromText, LabelValuesAreEscaped) {
  EXPECT_EQ(prom_label(R"(a\b"c)"), R"(a\\b\"c)");
  EXPECT_EQ(prom_label("line\nbreak"), "line\\nbreak");
  EXPECT_EQ(prom_label(""), "");
  PromText out;
  out.family("m", "gauge", "h").sample(1, {{"app", "x\"}\n"}});
  EXPECT_EQ(out.take(), "# HELP m h\n# TYPE m gauge\nm{app=\"x\\\"}\\n\"} 1\n");
}

TEST(PromText, SecondsHaveSixDecimals) {
  PromText out;
  out.family("siax_monitor_last_cycle_seconds", "gauge", "Last cycle.").sample_seconds(0.0123456789);
  EXPECT_EQ(out.take(),
            "# HELP siax_monitor_last_cycle_seconds Last cycle.\n"
            "# TYPE siax_monitor_last_cycle_seconds gauge\n"
            "siax_monitor_last_cycle_seconds 0.012346\n");
}

TEST(PromText, FullRangeOfCountersAndRawTextAppended) {
  PromText out;
  out.family("a_total", "counter", "A.").sample(18446744073709551615ULL);
  out.raw("# HELP b B.\n");
  out.family("c", "gauge", "C.");  // a family with no sample yet: HELP and TYPE only
  EXPECT_EQ(out.take(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 18446744073709551615\n"
            "# HELP b B.\n"
            "# HELP c C.\n# TYPE c gauge\n");
}

}  // namespace
}  // namespace siax
