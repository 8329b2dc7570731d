// The smallest useful provider: replies with the last user message, prefixed.
// Deterministic and offline, which makes it the quick start's provider and a
// template for writing a real one.
#include <omnichat/plugin.hpp>

namespace {

const omnichat_option_t kOptions[] = {
    omnichat::option("prefix", OMNICHAT_OPTION_STRING, "echo: ", false, "Text put before the echoed message."),
};

class EchoProvider : public omnichat::Provider {
public:
    explicit EchoProvider(const omnichat::Host& host) : Provider(host), prefix_(host.option("prefix", "")) {}

    void startChat(omnichat::ChatRequest request, std::shared_ptr<omnichat::Call> call) override {
        std::string last;
        for (const auto& m : request.messages)
            if (m.role == OMNICHAT_ROLE_USER) last = m.content;
        if (!call->emit(prefix_) || !call->emit(last)) {
            call->fail(OMNICHAT_ERR_CANCELLED, "cancelled");
            return;
        }
        omnichat::ChatResult result;
        result.model = request.model.empty() ? "echo" : request.model;
        result.usage.promptTokens = static_cast<int64_t>(request.messages.size());
        result.usage.completionTokens = 1;
        call->complete(result);
    }

private:
    std::string prefix_;
};

}  // namespace

OMNICHAT_PROVIDER_PLUGIN(EchoProvider, "echo", "1.0.0", kOptions)
