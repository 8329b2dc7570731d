#pragma once
// The chat domain's records: what core reasons about, independent of how
// plugins see them. The ports (core/ports) convert to and from the ABI. The
// categories are the ABI's own enums (omnichat_status_t, omnichat_role_t):
// stable, append-only, and what an API answer is chosen from.
#include <omnichat/omnichat_plugin.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace omnichat::domain {

struct Conversation {
    std::string id, projectId, userId;
    std::optional<std::string> title;
    int64_t createdAtMs = 0, updatedAtMs = 0;
    std::string provider, model, systemPrompt;  // empty: the service's defaults
    int64_t messageCount = 0, promptTokens = 0, completionTokens = 0;
    double cost = 0;
};

// What a provider reported a reply cost; -1 (and no cost) when it did not.
struct Usage {
    int64_t promptTokens = -1, completionTokens = -1, cachedTokens = -1, reasoningTokens = -1;
    std::optional<double> cost;
};

struct StoredMessage {
    std::string id, conversationId;
    omnichat_role_t role = OMNICHAT_ROLE_USER;
    std::string content;
    int64_t createdAtMs = 0;
    // Assistant messages: who answered and how. Empty for user messages.
    std::string provider, model, finishReason;
    int64_t latencyMs = -1;
    Usage usage;
};

// What a client may choose for one conversation; empty: the service's.
struct ConversationSettings {
    std::optional<std::string> title;
    std::string provider, model, systemPrompt;
};

// How a reply is sampled, when the client says; unset: the provider's
// default.
struct Sampling {
    std::optional<double> temperature, topP;
    std::optional<int64_t> maxTokens, seed;
    std::vector<std::string> stop;
    std::string responseFormat;  // JSON text; empty: plain text
    std::string endUser;         // the client's name for its end user
};

// A provider instance and the model to ask it for.
struct Route {
    std::string provider;
    std::string model;
};

// A stateless exchange (the OpenAI-compatible API): the messages as the
// client sent them, the question last; nothing is read or stored.
struct Completion {
    Route route;               // then the fallbacks
    std::string systemPrompt;  // the client's leading system messages
    std::vector<StoredMessage> history;
    std::string question;
    Sampling sampling;
};

// What one provider call ended with.
struct ProviderReply {
    omnichat_status_t status = OMNICHAT_ERR_INTERNAL;
    std::string text;  // the reply, whole
    std::string finishReason, model;
    Usage usage;
    int32_t httpStatus = 0;
    int64_t retryAfterMs = -1;
    std::string message;  // why it failed, for logs only
};

// Why an operation failed, in domain terms; the API layer picks the HTTP
// status. `detail` is for the operator's log, never for the client.
struct Failure {
    // Refused: the request breaks a rule of the service (a cap, a model the
    // operator did not allow); `code` and `message` are for the client, and
    // `status` says which kind (BAD_REQUEST or CONFLICT).
    enum class Source { Storage, Provider, Service, Refused };
    Failure(Source source, omnichat_status_t status, int64_t retryAfterMs = -1, std::string detail = "",
            std::string code = "")
        : source(source),
          status(status),
          retryAfterMs(retryAfterMs),
          detail(std::move(detail)),
          code(std::move(code)) {}
    Source source;
    omnichat_status_t status;
    int64_t retryAfterMs = -1;
    std::string detail;
    std::string code;     // a more precise API error code, when there is one
    std::string message;  // Refused: the client's explanation
    static Failure refused(omnichat_status_t status, std::string code, std::string message) {
        Failure f{Source::Refused, status, -1, message, std::move(code)};
        f.message = std::move(message);
        return f;
    }
};

template <class T>
using Outcome = std::variant<T, Failure>;
template <class T>
using Reply = std::function<void(Outcome<T>)>;
struct Done {};

}  // namespace omnichat::domain
