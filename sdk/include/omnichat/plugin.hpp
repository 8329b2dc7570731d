// Header-only C++17 layer over omnichat_plugin.h. It is compiled into each
// plugin (and the host reuses its record types), so the ABI stays plain C
// while plugin authors write ordinary C++: classes, std::string, exceptions
// (caught at every entry point and turned into OMNICHAT_ERR_INTERNAL or the
// category they carry). Nothing declared here crosses the boundary.
#pragma once

#include <omnichat/omnichat_plugin.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace omnichat {

// True when a struct of `size` bytes holds the field ending at `end`: the
// other side may have been built against an older SDK.
inline bool holds(uint32_t size, size_t end) { return size >= end; }
#define OMNICHAT_HOLDS(s, field) \
    ::omnichat::holds((s).struct_size, offsetof(std::remove_reference_t<decltype(s)>, field) + sizeof((s).field))

inline omnichat_str_t toC(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view view(omnichat_str_t s) { return s.len ? std::string_view(s.data, s.len) : std::string_view(); }

// Thrown by plugin code to fail with a specific category.
class Error : public std::runtime_error {
public:
    Error(omnichat_status_t status, const std::string& message, int32_t httpStatus = 0, int64_t retryAfterMs = -1)
        : std::runtime_error(message), status_(status), httpStatus_(httpStatus), retryAfterMs_(retryAfterMs) {}
    omnichat_status_t status() const { return status_; }
    int32_t httpStatus() const { return httpStatus_; }
    int64_t retryAfterMs() const { return retryAfterMs_; }

private:
    omnichat_status_t status_;
    int32_t httpStatus_;
    int64_t retryAfterMs_;
};

inline void fillError(omnichat_error_t* out, omnichat_status_t status, std::string_view message, int32_t httpStatus = 0,
                      int64_t retryAfterMs = -1) {
    if (!out || out->struct_size < sizeof(omnichat_error_t)) return;
    out->status = status;
    out->http_status = httpStatus;
    out->retry_after_ms = retryAfterMs;
    size_t n = std::min(message.size(), sizeof(out->message) - 1);
    std::memcpy(out->message, message.data(), n);
    out->message[n] = '\0';
}

inline omnichat_error_t makeError(omnichat_status_t status, std::string_view message, int32_t httpStatus = 0,
                                  int64_t retryAfterMs = -1) {
    omnichat_error_t e{};
    e.struct_size = sizeof e;
    fillError(&e, status, message, httpStatus, retryAfterMs);
    return e;
}

// Runs `body`, converting any exception into an error category.
template <class F>
omnichat_status_t guarded(omnichat_error_t* error, F&& body) noexcept {
    try {
        body();
        return OMNICHAT_OK;
    } catch (const Error& e) {
        fillError(error, e.status(), e.what(), e.httpStatus(), e.retryAfterMs());
        return e.status();
    } catch (const std::exception& e) {
        fillError(error, OMNICHAT_ERR_INTERNAL, e.what());
    } catch (...) {
        fillError(error, OMNICHAT_ERR_INTERNAL, "unknown exception");
    }
    return OMNICHAT_ERR_INTERNAL;
}

// Declares one option for a plugin's option table.
constexpr omnichat_option_t option(const char* name, omnichat_option_type_t type, const char* defaultValue,
                                   bool required, const char* description) {
    return omnichat_option_t{sizeof(omnichat_option_t), name, type, defaultValue, required, description};
}

struct HttpResponseHead {
    int32_t status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    // Case-insensitive lookup, as HTTP header names are.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                }))
                return v;
        }
        return std::nullopt;
    }
};

struct HttpRequest {
    std::string method = "POST";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int64_t connectTimeoutMs = 0;
    int64_t totalTimeoutMs = 0;
};

struct HttpHandlers {
    std::function<void(const HttpResponseHead&)> onHeaders;
    std::function<bool(std::string_view)> onBody;
    std::function<void(omnichat_http_transport_t, int32_t status, std::string_view message)> onComplete;
};

// The host's services, as seen by one plugin instance.
class Host {
public:
    Host(const omnichat_host_api_t* api, const omnichat_config_t* config) : api_(api), config_(config) {}

    const omnichat_host_api_t* api() const { return api_; }

    std::optional<std::string> option(const char* name) const {
        omnichat_str_t out{};
        if (!api_->config_get(config_, name, &out)) return std::nullopt;
        return std::string(view(out));
    }
    std::string option(const char* name, std::string fallback) const {
        auto v = option(name);
        return v ? *v : std::move(fallback);
    }
    int64_t intOption(const char* name, int64_t fallback) const {
        auto v = option(name);
        return v ? std::stoll(*v) : fallback;
    }
    bool boolOption(const char* name, bool fallback) const {
        auto v = option(name);
        return v ? (*v == "true") : fallback;
    }

    bool logEnabled(omnichat_log_level_t level) const { return api_->log_enabled(level); }
    void log(omnichat_log_level_t level, std::string_view message) const {
        if (api_->log_enabled(level)) api_->log(level, toC(message));
    }
    int64_t nowUnixMs() const { return api_->now_unix_ms(); }

    // Starts an HTTP exchange on the host's client. Returns the handle for
    // cancelHttp (valid until onComplete begins), or nullptr when the host
    // refused it (no handler then runs).
    omnichat_http_exchange_t* http(const HttpRequest& request, HttpHandlers handlers) const {
        std::vector<omnichat_http_header_t> headers;
        headers.reserve(request.headers.size());
        for (const auto& [k, v] : request.headers) headers.push_back({toC(k), toC(v)});
        omnichat_http_request_t r{};
        r.struct_size = sizeof r;
        r.method = toC(request.method);
        r.url = toC(request.url);
        r.headers = headers.data();
        r.header_count = headers.size();
        r.body = toC(request.body);
        r.connect_timeout_ms = request.connectTimeoutMs;
        r.total_timeout_ms = request.totalTimeoutMs;
        auto* context = new HttpHandlers(std::move(handlers));
        auto* exchange = api_->http_start(&r, &kCallbacks, context);
        if (!exchange) delete context;
        return exchange;
    }
    void cancelHttp(omnichat_http_exchange_t* exchange) const { api_->http_cancel(exchange); }

private:
    static void onHeaders(void* ud, int32_t status, const omnichat_http_header_t* headers, size_t count) {
        auto* h = static_cast<HttpHandlers*>(ud);
        if (!h->onHeaders) return;
        HttpResponseHead head;
        head.status = status;
        for (size_t i = 0; i < count; ++i)
            head.headers.emplace_back(std::string(view(headers[i].name)), std::string(view(headers[i].value)));
        try {
            h->onHeaders(head);
        } catch (...) {
        }
    }
    static bool onBody(void* ud, omnichat_str_t chunk) {
        auto* h = static_cast<HttpHandlers*>(ud);
        if (!h->onBody) return true;
        try {
            return h->onBody(view(chunk));
        } catch (...) {
            return false;
        }
    }
    static void onComplete(void* ud, const omnichat_http_outcome_t* outcome) {
        std::unique_ptr<HttpHandlers> h(static_cast<HttpHandlers*>(ud));
        try {
            h->onComplete(outcome->transport, outcome->status, outcome->message ? outcome->message : "");
        } catch (...) {
        }
    }
    static constexpr omnichat_http_callbacks_t kCallbacks{sizeof(omnichat_http_callbacks_t), &onHeaders, &onBody,
                                                          &onComplete};

    const omnichat_host_api_t* api_;
    const omnichat_config_t* config_;
};

// ---------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------

struct Message {
    omnichat_role_t role;
    std::string content;
};

struct ChatRequest;

// omnichat_chat_request_t read where the host put it: nothing is copied, so
// it is valid only until Provider::startChatInPlace returns (start_chat's
// OWNERSHIP). For providers that turn the request into bytes at once; a
// history is copied message by message otherwise.
class ChatRequestView {
public:
    explicit ChatRequestView(const omnichat_chat_request_t& raw) : raw_(raw) {}
    std::string_view model() const { return view(raw_.model); }
    size_t messageCount() const { return raw_.message_count; }
    omnichat_role_t role(size_t i) const { return raw_.messages[i]->role; }
    std::string_view content(size_t i) const { return view(raw_.messages[i]->content); }
    std::optional<double> temperature() const {
        return raw_.has_temperature ? std::optional<double>(raw_.temperature) : std::nullopt;
    }
    std::optional<int64_t> maxTokens() const {
        return raw_.has_max_tokens ? std::optional<int64_t>(raw_.max_tokens) : std::nullopt;
    }
    int64_t deadlineUnixMs() const { return raw_.deadline_unix_ms; }
    bool stream() const { return raw_.stream; }
    // 0: the plugin's own setting (and from hosts before 1.1).
    int64_t connectTimeoutMs() const { return OMNICHAT_HOLDS(raw_, connect_timeout_ms) ? raw_.connect_timeout_ms : 0; }
    inline ChatRequest copy() const;

private:
    const omnichat_chat_request_t& raw_;
};

// An owning copy of omnichat_chat_request_t, safe to keep after start_chat.
struct ChatRequest {
    std::string model;
    std::vector<Message> messages;
    std::optional<double> temperature;
    std::optional<int64_t> maxTokens;
    int64_t deadlineUnixMs = 0;
    bool stream = false;
    int64_t connectTimeoutMs = 0;  // 0: the plugin's own setting

    static ChatRequest fromC(const omnichat_chat_request_t& r) { return ChatRequestView(r).copy(); }
};

inline ChatRequest ChatRequestView::copy() const {
    ChatRequest out;
    out.model = std::string(model());
    out.messages.reserve(messageCount());
    for (size_t i = 0; i < messageCount(); ++i) out.messages.push_back({role(i), std::string(content(i))});
    out.temperature = temperature();
    out.maxTokens = maxTokens();
    out.deadlineUnixMs = deadlineUnixMs();
    out.stream = stream();
    out.connectTimeoutMs = connectTimeoutMs();
    return out;
}

struct Usage {
    int64_t promptTokens = -1;
    int64_t completionTokens = -1;
    int64_t cachedTokens = -1;
    int64_t reasoningTokens = -1;
    std::optional<double> cost;
};

struct ChatResult {
    std::string finishReason = "stop";
    std::string model;
    Usage usage;
};

// One chat call. Completes exactly once; a Call destroyed without completing
// fails the call, so no code path can leave the host waiting forever.
class Call {
public:
    Call(const omnichat_host_api_t* api, omnichat_call_t* call) : api_(api), call_(call) {}
    Call(Call&& o) noexcept : api_(o.api_), call_(std::exchange(o.call_, nullptr)) {}
    Call& operator=(Call&&) = delete;
    Call(const Call&) = delete;
    ~Call() {
        if (call_) fail(OMNICHAT_ERR_INTERNAL, "provider dropped the call without completing it");
    }

    // Returns false once the call is cancelled: stop, then fail(CANCELLED).
    bool emit(std::string_view text) { return call_ && api_->call_emit_delta(call_, toC(text)); }
    bool cancelled() const { return !call_ || api_->call_is_cancelled(call_); }
    bool done() const { return call_ == nullptr; }
    omnichat_call_t* raw() const { return call_; }

    void complete(const ChatResult& r) {
        if (!call_) return;
        omnichat_chat_result_t c{};
        c.struct_size = sizeof c;
        c.finish_reason = toC(r.finishReason);
        c.model = toC(r.model);
        c.usage.struct_size = sizeof c.usage;
        c.usage.prompt_tokens = r.usage.promptTokens;
        c.usage.completion_tokens = r.usage.completionTokens;
        c.usage.cached_tokens = r.usage.cachedTokens;
        c.usage.reasoning_tokens = r.usage.reasoningTokens;
        c.usage.has_cost = r.usage.cost.has_value();
        c.usage.cost = r.usage.cost.value_or(0.0);
        api_->call_complete(std::exchange(call_, nullptr), &c, nullptr);
    }
    void fail(omnichat_status_t status, std::string_view message, int32_t httpStatus = 0, int64_t retryAfterMs = -1) {
        if (!call_) return;
        omnichat_error_t e = makeError(status, message, httpStatus, retryAfterMs);
        api_->call_complete(std::exchange(call_, nullptr), nullptr, &e);
    }

private:
    const omnichat_host_api_t* api_;
    omnichat_call_t* call_;
};

class Provider {
public:
    explicit Provider(const Host& host) : host_(host) {}
    virtual ~Provider() = default;
    // Starts a call: must return promptly; complete `call` now or later from
    // any thread. Override one of the two. The host calls startChatInPlace,
    // which by default copies the request for startChat; a provider that
    // builds its upstream request at once overrides it instead and reads the
    // history without that copy.
    virtual void startChat(ChatRequest request, std::shared_ptr<Call> call) {
        (void)request;
        call->fail(OMNICHAT_ERR_INTERNAL, "the provider overrides neither startChat nor startChatInPlace");
    }
    virtual void startChatInPlace(const ChatRequestView& request, std::shared_ptr<Call> call) {
        startChat(request.copy(), std::move(call));
    }
    // The host asks to abandon the call `raw` (Call::raw()); it must still
    // be completed. Must not block.
    virtual void cancelChat(omnichat_call_t* raw) { (void)raw; }

    const Host& host() const { return host_; }

private:
    Host host_;
};

// ---------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------

struct Conversation {
    std::string id, projectId, userId;
    std::optional<std::string> title;
    int64_t createdAtMs = 0, updatedAtMs = 0;
    std::string provider, model, systemPrompt;  // empty: the service's defaults
    int64_t messageCount = 0, promptTokens = 0, completionTokens = 0;
    double cost = 0;
};

struct StoredMessage {
    std::string id, conversationId;
    omnichat_role_t role = OMNICHAT_ROLE_USER;
    std::string content;
    int64_t createdAtMs = 0;
    std::string provider, model, finishReason;
    int64_t promptTokens = -1, completionTokens = -1, latencyMs = -1;
    int64_t cachedTokens = -1, reasoningTokens = -1;
    std::optional<double> cost;
};

inline Conversation fromC(const omnichat_conversation_t& c) {
    Conversation out;
    out.id = std::string(view(c.id));
    out.projectId = std::string(view(c.project_id));
    out.userId = std::string(view(c.user_id));
    out.createdAtMs = c.created_at_ms;
    out.updatedAtMs = c.updated_at_ms;
    if (c.has_title) out.title = std::string(view(c.title));
    if (OMNICHAT_HOLDS(c, cost)) {
        out.provider = std::string(view(c.provider));
        out.model = std::string(view(c.model));
        out.systemPrompt = std::string(view(c.system_prompt));
        out.messageCount = c.message_count;
        out.promptTokens = c.prompt_tokens;
        out.completionTokens = c.completion_tokens;
        out.cost = c.cost;
    }
    return out;
}

inline omnichat_conversation_t toC(const Conversation& c) {
    omnichat_conversation_t out{};
    out.struct_size = sizeof out;
    out.id = toC(c.id);
    out.project_id = toC(c.projectId);
    out.user_id = toC(c.userId);
    out.has_title = c.title.has_value();
    if (c.title) out.title = toC(*c.title);
    out.created_at_ms = c.createdAtMs;
    out.updated_at_ms = c.updatedAtMs;
    out.provider = toC(c.provider);
    out.model = toC(c.model);
    out.system_prompt = toC(c.systemPrompt);
    out.message_count = c.messageCount;
    out.prompt_tokens = c.promptTokens;
    out.completion_tokens = c.completionTokens;
    out.cost = c.cost;
    return out;
}

inline StoredMessage fromC(const omnichat_stored_message_t& m) {
    StoredMessage out;
    out.id = std::string(view(m.id));
    out.conversationId = std::string(view(m.conversation_id));
    out.role = m.role;
    out.content = std::string(view(m.content));
    out.createdAtMs = m.created_at_ms;
    out.provider = std::string(view(m.provider));
    out.model = std::string(view(m.model));
    out.finishReason = std::string(view(m.finish_reason));
    out.promptTokens = m.prompt_tokens;
    out.completionTokens = m.completion_tokens;
    out.latencyMs = m.latency_ms;
    if (OMNICHAT_HOLDS(m, cost)) {
        out.cachedTokens = m.cached_tokens;
        out.reasoningTokens = m.reasoning_tokens;
        if (m.has_cost) out.cost = m.cost;
    }
    return out;
}

inline omnichat_stored_message_t toC(const StoredMessage& m) {
    omnichat_stored_message_t out{};
    out.struct_size = sizeof out;
    out.id = toC(m.id);
    out.conversation_id = toC(m.conversationId);
    out.role = m.role;
    out.content = toC(m.content);
    out.created_at_ms = m.createdAtMs;
    out.provider = toC(m.provider);
    out.model = toC(m.model);
    out.finish_reason = toC(m.finishReason);
    out.prompt_tokens = m.promptTokens;
    out.completion_tokens = m.completionTokens;
    out.latency_ms = m.latencyMs;
    out.cached_tokens = m.cachedTokens;
    out.reasoning_tokens = m.reasoningTokens;
    out.has_cost = m.cost.has_value();
    out.cost = m.cost.value_or(0.0);
    return out;
}

using ConversationSink = std::function<void(const Conversation&)>;
using MessageSink = std::function<void(const StoredMessage&)>;

// Hooks throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, ...) and friends.
class Storage {
public:
    explicit Storage(const Host& host) : host_(host) {}
    virtual ~Storage() = default;
    virtual void migrate() = 0;
    virtual void ping() = 0;
    virtual void createConversation(const Conversation& c) = 0;
    virtual void getConversation(std::string_view id, std::string_view userId, const ConversationSink& sink) = 0;
    virtual void listConversations(std::string_view userId, std::string_view projectId,
                                   const ConversationSink& sink) = 0;
    virtual void deleteConversation(std::string_view id, std::string_view userId) = 0;
    virtual void listMessages(std::string_view conversationId, std::string_view userId, std::string_view afterId,
                              int64_t limit, const MessageSink& sink) = 0;
    virtual void appendExchange(const StoredMessage& user, const StoredMessage& assistant) = 0;
    // The conversation, then its whole history: what a send reads before it
    // calls the provider. Override it to answer in one round trip.
    virtual void loadConversation(std::string_view id, std::string_view userId, const ConversationSink& conversation,
                                  const MessageSink& messages) {
        getConversation(id, userId, conversation);
        listMessages(id, userId, {}, -1, messages);
    }
    // The same, but only the messages after the first `knownCount`, for a
    // host that keeps histories in memory (ABI 1.4). The conversation's
    // messageCount must be read in the same snapshot as the messages. This
    // default reads the whole history and skips; override it to skip in the
    // query.
    virtual void loadConversationSince(std::string_view id, std::string_view userId, int64_t knownCount,
                                       const ConversationSink& conversation, const MessageSink& messages) {
        int64_t position = 0;
        loadConversation(id, userId, conversation, [&](const StoredMessage& m) {
            if (position++ >= knownCount) messages(m);
        });
    }
    // Optional (ABI 1.5): appendExchange, only when the conversation still
    // has `expectedCount` messages, the last with id `expectedLastId`,
    // checked in the append's transaction; otherwise appends nothing and
    // throws Error(OMNICHAT_ERR_CONFLICT). The host then sends a history it
    // holds without reading the conversation first. Offered to the host only
    // when a plugin overrides it: there is no correct default.
    virtual void appendExchangeIfUnchanged(const StoredMessage& /*user*/, const StoredMessage& /*assistant*/,
                                           int64_t /*expectedCount*/, std::string_view /*expectedLastId*/) {
        throw Error(OMNICHAT_ERR_UNSUPPORTED, "appendExchangeIfUnchanged is not implemented");
    }
    // Optional (ABI 1.6): how many conversations the user owns, in all
    // projects, for the host's per-user cap. Offered to the host only when
    // a plugin overrides it.
    virtual int64_t countConversations(std::string_view /*userId*/) {
        throw Error(OMNICHAT_ERR_UNSUPPORTED, "countConversations is not implemented");
    }
    // Connection counts for the host's metrics; -1: not kept. Must not
    // block.
    struct Stats {
        int64_t connectionsOpen = -1;
        int64_t connectionsInUse = -1;
        int64_t connectionWaits = -1;
    };
    virtual Stats stats() const { return {}; }

protected:
    const Host& host() const { return host_; }

private:
    Host host_;
};

namespace detail {

template <class Base, class T>
omnichat_status_t create(const omnichat_host_api_t* host, const omnichat_config_t* config, void** instance,
                         omnichat_error_t* error) {
    return guarded(error, [&] { *instance = static_cast<Base*>(new T(Host(host, config))); });
}

template <class Base>
void destroy(void* instance) {
    delete static_cast<Base*>(instance);
}

template <size_t N>
std::array<const omnichat_option_t*, N> pointersTo(const omnichat_option_t (&options)[N]) {
    std::array<const omnichat_option_t*, N> out{};
    for (size_t i = 0; i < N; ++i) out[i] = &options[i];
    return out;
}

struct ProviderGlue {
    static void startChat(void* instance, const omnichat_chat_request_t* request, omnichat_call_t* call);
    static void cancelChat(void* instance, omnichat_call_t* call) noexcept {
        try {
            static_cast<Provider*>(instance)->cancelChat(call);
        } catch (...) {
        }
    }
};

inline void ProviderGlue::startChat(void* instance, const omnichat_chat_request_t* request, omnichat_call_t* call) {
    auto* provider = static_cast<Provider*>(instance);
    auto c = std::make_shared<Call>(provider->host().api(), call);
    try {
        provider->startChatInPlace(ChatRequestView(*request), c);
    } catch (const Error& e) {
        c->fail(e.status(), e.what(), e.httpStatus(), e.retryAfterMs());
    } catch (const std::exception& e) {
        c->fail(OMNICHAT_ERR_INTERNAL, e.what());
    } catch (...) {
        c->fail(OMNICHAT_ERR_INTERNAL, "unknown exception");
    }
}

struct StorageGlue {
    static Storage* self(void* i) { return static_cast<Storage*>(i); }
    static omnichat_status_t migrate(void* i, omnichat_error_t* e) {
        return guarded(e, [&] { self(i)->migrate(); });
    }
    static omnichat_status_t ping(void* i, omnichat_error_t* e) {
        return guarded(e, [&] { self(i)->ping(); });
    }
    static omnichat_status_t createConversation(void* i, const omnichat_conversation_t* c, omnichat_error_t* e) {
        return guarded(e, [&] { self(i)->createConversation(fromC(*c)); });
    }
    static omnichat_status_t getConversation(void* i, omnichat_str_t id, omnichat_str_t user,
                                             omnichat_conversation_sink_t sink, void* ud, omnichat_error_t* e) {
        return guarded(e, [&] {
            self(i)->getConversation(view(id), view(user), [&](const Conversation& c) {
                auto raw = toC(c);
                sink(ud, &raw);
            });
        });
    }
    static omnichat_status_t listConversations(void* i, omnichat_str_t user, omnichat_str_t project,
                                               omnichat_conversation_sink_t sink, void* ud, omnichat_error_t* e) {
        return guarded(e, [&] {
            self(i)->listConversations(view(user), view(project), [&](const Conversation& c) {
                auto raw = toC(c);
                sink(ud, &raw);
            });
        });
    }
    static omnichat_status_t deleteConversation(void* i, omnichat_str_t id, omnichat_str_t user, omnichat_error_t* e) {
        return guarded(e, [&] { self(i)->deleteConversation(view(id), view(user)); });
    }
    static omnichat_status_t listMessages(void* i, omnichat_str_t conv, omnichat_str_t user, omnichat_str_t after,
                                          int64_t limit, omnichat_message_sink_t sink, void* ud, omnichat_error_t* e) {
        return guarded(e, [&] {
            self(i)->listMessages(view(conv), view(user), view(after), limit, [&](const StoredMessage& m) {
                auto raw = toC(m);
                sink(ud, &raw);
            });
        });
    }
    static omnichat_status_t appendExchange(void* i, const omnichat_stored_message_t* u,
                                            const omnichat_stored_message_t* a, omnichat_error_t* e) {
        return guarded(e, [&] { self(i)->appendExchange(fromC(*u), fromC(*a)); });
    }
    static omnichat_status_t appendExchangeIfUnchanged(void* i, const omnichat_stored_message_t* u,
                                                       const omnichat_stored_message_t* a, int64_t expectedCount,
                                                       omnichat_str_t expectedLastId, omnichat_error_t* e) {
        return guarded(
            e, [&] { self(i)->appendExchangeIfUnchanged(fromC(*u), fromC(*a), expectedCount, view(expectedLastId)); });
    }
    static omnichat_status_t loadConversationSince(void* i, omnichat_str_t id, omnichat_str_t user, int64_t known,
                                                   omnichat_conversation_sink_t conversationSink,
                                                   omnichat_message_sink_t messageSink, void* ud, omnichat_error_t* e) {
        return guarded(e, [&] {
            self(i)->loadConversationSince(
                view(id), view(user), known,
                [&](const Conversation& c) {
                    auto raw = toC(c);
                    conversationSink(ud, &raw);
                },
                [&](const StoredMessage& m) {
                    auto raw = toC(m);
                    messageSink(ud, &raw);
                });
        });
    }
    static omnichat_status_t countConversations(void* i, omnichat_str_t user, int64_t* count, omnichat_error_t* e) {
        return guarded(e, [&] { *count = self(i)->countConversations(view(user)); });
    }
    // Since 0 is the whole history, one path serves both hooks.
    static omnichat_status_t loadConversation(void* i, omnichat_str_t id, omnichat_str_t user,
                                              omnichat_conversation_sink_t conversationSink,
                                              omnichat_message_sink_t messageSink, void* ud, omnichat_error_t* e) {
        return loadConversationSince(i, id, user, 0, conversationSink, messageSink, ud, e);
    }
    static void stats(void* i, omnichat_storage_stats_t* out) {
        try {
            auto s = self(i)->stats();
            out->connections_open = s.connectionsOpen;
            out->connections_in_use = s.connectionsInUse;
            out->connection_waits = s.connectionWaits;
        } catch (...) {  // nothing may cross the C boundary; -1s stay
        }
    }
};

template <class T, size_t N>
const omnichat_plugin_descriptor_t* providerDescriptor(const char* name, const char* version,
                                                       const omnichat_option_t (&options)[N]) {
    static const auto pointers = pointersTo(options);
    static const omnichat_provider_vtable_t vtable{sizeof(omnichat_provider_vtable_t), &create<Provider, T>,
                                                   &destroy<Provider>, &ProviderGlue::startChat,
                                                   &ProviderGlue::cancelChat};
    static const omnichat_plugin_descriptor_t descriptor{sizeof(omnichat_plugin_descriptor_t),
                                                         OMNICHAT_ABI_VERSION,
                                                         name,
                                                         version,
                                                         OMNICHAT_PLUGIN_PROVIDER,
                                                         pointers.data(),
                                                         N,
                                                         &vtable,
                                                         nullptr};
    return &descriptor;
}

// A member pointer names the class that declares the member: Storage's own
// when T (or a class between) does not override it.
template <class T>
constexpr bool overridesAppendIfUnchanged() {
    return !std::is_same_v<decltype(&T::appendExchangeIfUnchanged), decltype(&Storage::appendExchangeIfUnchanged)>;
}
template <class T>
constexpr bool overridesCountConversations() {
    return !std::is_same_v<decltype(&T::countConversations), decltype(&Storage::countConversations)>;
}

template <class T, size_t N>
const omnichat_plugin_descriptor_t* storageDescriptor(const char* name, const char* version,
                                                      const omnichat_option_t (&options)[N]) {
    static const auto pointers = pointersTo(options);
    static const omnichat_storage_vtable_t vtable{
        sizeof(omnichat_storage_vtable_t),
        &create<Storage, T>,
        &destroy<Storage>,
        &StorageGlue::migrate,
        &StorageGlue::ping,
        &StorageGlue::createConversation,
        &StorageGlue::getConversation,
        &StorageGlue::listConversations,
        &StorageGlue::deleteConversation,
        &StorageGlue::listMessages,
        &StorageGlue::appendExchange,
        &StorageGlue::loadConversation,
        &StorageGlue::stats,
        &StorageGlue::loadConversationSince,
        overridesAppendIfUnchanged<T>() ? &StorageGlue::appendExchangeIfUnchanged : nullptr,
        overridesCountConversations<T>() ? &StorageGlue::countConversations : nullptr};
    static const omnichat_plugin_descriptor_t descriptor{sizeof(omnichat_plugin_descriptor_t),
                                                         OMNICHAT_ABI_VERSION,
                                                         name,
                                                         version,
                                                         OMNICHAT_PLUGIN_STORAGE,
                                                         pointers.data(),
                                                         N,
                                                         nullptr,
                                                         &vtable};
    return &descriptor;
}

}  // namespace detail
}  // namespace omnichat

// Emits the two C entry points of a provider plugin. `Class` derives from
// omnichat::Provider and is constructible from an omnichat::Host;
// `options` is a static array of omnichat::option(...).
#define OMNICHAT_PROVIDER_PLUGIN(Class, name, version, options)                                                       \
    extern "C" OMNICHAT_EXPORT uint32_t omnichat_plugin_abi_version(void) { return OMNICHAT_ABI_VERSION; }            \
    extern "C" OMNICHAT_EXPORT const omnichat_plugin_descriptor_t* omnichat_plugin_init(const omnichat_host_api_t*) { \
        return ::omnichat::detail::providerDescriptor<Class>(name, version, options);                                 \
    }

// The same for a storage plugin; `Class` derives from omnichat::Storage.
#define OMNICHAT_STORAGE_PLUGIN(Class, name, version, options)                                                        \
    extern "C" OMNICHAT_EXPORT uint32_t omnichat_plugin_abi_version(void) { return OMNICHAT_ABI_VERSION; }            \
    extern "C" OMNICHAT_EXPORT const omnichat_plugin_descriptor_t* omnichat_plugin_init(const omnichat_host_api_t*) { \
        return ::omnichat::detail::storageDescriptor<Class>(name, version, options);                                  \
    }
