// GET /docs: Swagger UI, loaded in headless Chromium, renders every
// operation of the OpenAPI document.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "api_fixture.hpp"

namespace omnichat::testing {
namespace {

// The page's DOM after its scripts ran, as headless Chromium sees it.
std::string renderedDom(const std::string& url, const std::string& profile) {
    const std::string command =
        "/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
        "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" +
        profile + " --virtual-time-budget=20000 --dump-dom " + url + " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run chromium");
    std::string dom;
    char buffer[65536];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) dom.append(buffer, n);
    pclose(pipe);
    return dom;
}

class DocsTest : public ApiTest {};

TEST_P(DocsTest, SwaggerUiRendersEveryOperation) {
    ASSERT_TRUE(std::ifstream("/usr/bin/chromium").good()) << "chromium is missing: scripts/test.sh installs it";
    auto page = call("GET", "/docs", "");
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.headers.at("content-type").rfind("text/html", 0), 0u);

    auto dom = renderedDom("http://127.0.0.1:" + std::to_string(server_->port()) + "/docs", scratch_ + "/chromium");
    std::ifstream file(OMNICHAT_OPENAPI_FILE);
    std::stringstream text;
    text << file.rdbuf();
    auto doc = nlohmann::json::parse(text.str());
    int operations = 0;
    for (const auto& [path, item] : doc["paths"].items()) {
        for (const auto& [method, spec] : item.items()) {
            ++operations;
            EXPECT_NE(dom.find("data-path=\"" + path + "\""), std::string::npos) << method << " " << path;
            EXPECT_NE(dom.find(spec["summary"].get<std::string>()), std::string::npos) << spec["summary"];
        }
    }
    EXPECT_GE(operations, 10);
}

INSTANTIATE_TEST_SUITE_P(Storage, DocsTest, ::testing::Values("sqlite"), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
