// Series as Prometheus's text format wants them: labels escaped, updates of
// one series summed.
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

TEST(Metrics, UpdatesOfOneSeriesAddUpAndOthersStayApart) {
    Metrics metrics;
    metrics.countTokens("p", 3, 4);
    metrics.countTokens("p", 10, 0);
    metrics.countTokens("q\"", 0, 1);
    metrics.observeRequest("GET", "/a", 200, 0.0002);
    metrics.observeRequest("GET", "/a", 200, 0.003);
    metrics.observeRequest("GET", "/a", 404, 0.003);
    auto text = metrics.render();
    EXPECT_NE(text.find("omnichat_tokens_total{provider=\"p\",direction=\"in\"} 13\n"), std::string::npos) << text;
    EXPECT_NE(text.find("omnichat_tokens_total{provider=\"p\",direction=\"out\"} 4\n"), std::string::npos);
    EXPECT_NE(text.find("omnichat_tokens_total{provider=\"q\\\"\",direction=\"out\"} 1\n"), std::string::npos);
    EXPECT_EQ(text.find("direction=\"in\"} 0"), std::string::npos);
    EXPECT_NE(text.find("omnichat_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("omnichat_http_requests_total{method=\"GET\",route=\"/a\",status=\"404\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("omnichat_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.0005\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("omnichat_http_request_duration_seconds_count{route=\"/a\"} 3\n"), std::string::npos);
}

// However many label sets come, a family holds a bounded number of series;
// the rest count together.
TEST(Metrics, AFamilyHoldsABoundedNumberOfSeries) {
    Metrics metrics;
    const size_t n = Metrics::kMaxSeriesPerFamily + 50;
    for (size_t i = 0; i < n; ++i) {
        metrics.observeProviderCall("p", "model-" + std::to_string(i), "ok", 0.01);
        metrics.observeRequest("GET", "/r" + std::to_string(i), 200, 0.01);
    }
    auto text = metrics.render();
    size_t calls = 0;
    for (size_t at = 0; (at = text.find("\nomnichat_provider_calls_total{", at)) != std::string::npos; ++at) ++calls;
    EXPECT_EQ(calls, Metrics::kMaxSeriesPerFamily + 1);  // and the overflow series
    EXPECT_NE(text.find("omnichat_provider_calls_total{overflow=\"true\"} 50\n"), std::string::npos);
    EXPECT_NE(text.find("omnichat_http_request_duration_seconds_count{overflow=\"true\"} 50\n"), std::string::npos);
}

}  // namespace
}  // namespace omnichat
