// OpenRouter: chat completions plus its attribution headers.
#include "openai_compatible.hpp"

namespace {

const omnichat_option_t kOptions[] = {
    OPENAI_COMPATIBLE_OPTIONS("https://openrouter.ai/api/v1", "openai/gpt-4o-mini", "OPENROUTER"),
    omnichat::option("http_referer", OMNICHAT_OPTION_STRING, nullptr, false,
                     "Sent as HTTP-Referer: your site, for OpenRouter's rankings."),
    omnichat::option("x_title", OMNICHAT_OPTION_STRING, "omnichat", false, "Sent as X-Title: your app's name."),
};

openai_compatible::Settings settings(const omnichat::Host& host) {
    auto s = openai_compatible::commonSettings(host);
    if (auto referer = host.option("http_referer")) s.extraHeaders.emplace_back("HTTP-Referer", *referer);
    if (auto title = host.option("x_title")) s.extraHeaders.emplace_back("X-Title", *title);
    return s;
}

class OpenRouterProvider : public openai_compatible::Provider {
public:
    explicit OpenRouterProvider(const omnichat::Host& host) : openai_compatible::Provider(host, settings(host)) {}
};

}  // namespace

OMNICHAT_PROVIDER_PLUGIN(OpenRouterProvider, "openrouter", "1.0.0", kOptions)
