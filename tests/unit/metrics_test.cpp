// Label values as Prometheus's text format wants them escaped.
#include "observability/metrics.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

TEST(MetricLabels, EscapeBackslashQuoteAndNewlineOnly) {
    EXPECT_EQ(metricLabels({}), "");
    EXPECT_EQ(metricLabels({{"route", ""}}), R"(route="")");
    EXPECT_EQ(metricLabels({{"model", "a\\b\"c\nd\te"}, {"status", "200"}}),
              R"(model="a\\b\"c\nd	e",status="200")");
    EXPECT_EQ(metricLabels({{"x", "\"\"\n\\"}}), R"(x="\"\"\n\\")");
}

}  // namespace
}  // namespace omnichat
