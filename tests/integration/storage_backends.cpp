// Every ApiTest runs once per storage plugin.
#include "api_fixture.hpp"

namespace omnichat::testing {

INSTANTIATE_TEST_SUITE_P(Storage, ApiTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace omnichat::testing
