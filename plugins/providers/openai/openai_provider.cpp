// OpenAI (and any OpenAI-compatible server, through base_url).
#include "openai_compatible.hpp"

namespace {

const omnichat_option_t kOptions[] = {
    OPENAI_COMPATIBLE_OPTIONS("https://api.openai.com/v1", "gpt-4o-mini", "OPENAI"),
};

class OpenAiProvider : public openai_compatible::Provider {
public:
    explicit OpenAiProvider(const omnichat::Host& host)
        : openai_compatible::Provider(host, openai_compatible::commonSettings(host)) {}
};

}  // namespace

OMNICHAT_PROVIDER_PLUGIN(OpenAiProvider, "openai", "1.0.0", kOptions)
