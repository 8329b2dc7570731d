// The two C entry points and the function tables behind them, for a class
// derived from omnichat::Provider or omnichat::Storage:
// OMNICHAT_PROVIDER_PLUGIN and OMNICHAT_STORAGE_PLUGIN.
#pragma once

#include <omnichat/provider.hpp>
#include <omnichat/storage.hpp>

#include <array>
#include <memory>
#include <type_traits>

namespace omnichat {
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

template <class T>
const omnichat_plugin_descriptor_t* providerDescriptor(const char* name, const char* version,
                                                       const omnichat_option_t* const* options, size_t count) {
    static const omnichat_provider_vtable_t vtable{sizeof(omnichat_provider_vtable_t), &create<Provider, T>,
                                                   &destroy<Provider>, &ProviderGlue::startChat,
                                                   &ProviderGlue::cancelChat};
    static const omnichat_plugin_descriptor_t descriptor{sizeof(omnichat_plugin_descriptor_t),
                                                         OMNICHAT_ABI_VERSION,
                                                         name,
                                                         version,
                                                         OMNICHAT_PLUGIN_PROVIDER,
                                                         options,
                                                         count,
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

template <class T>
const omnichat_plugin_descriptor_t* storageDescriptor(const char* name, const char* version,
                                                      const omnichat_option_t* const* options, size_t count) {
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
                                                         options,
                                                         count,
                                                         nullptr,
                                                         &vtable};
    return &descriptor;
}

// The descriptor of plugin class T (Provider or Storage), with its options
// or none.
template <class T, size_t N>
const omnichat_plugin_descriptor_t* descriptor(const char* name, const char* version,
                                               const omnichat_option_t (&options)[N]) {
    static const auto pointers = pointersTo(options);
    if constexpr (std::is_base_of_v<Provider, T>)
        return providerDescriptor<T>(name, version, pointers.data(), N);
    else
        return storageDescriptor<T>(name, version, pointers.data(), N);
}
template <class T>
const omnichat_plugin_descriptor_t* descriptor(const char* name, const char* version) {
    if constexpr (std::is_base_of_v<Provider, T>)
        return providerDescriptor<T>(name, version, nullptr, 0);
    else
        return storageDescriptor<T>(name, version, nullptr, 0);
}

}  // namespace detail
}  // namespace omnichat

// Emits the two C entry points of a provider plugin:
//   OMNICHAT_PROVIDER_PLUGIN(Class, "name", "version"[, options])
// `Class` derives from omnichat::Provider and is constructible from an
// omnichat::Host; `options`, when the plugin has any, is a static array of
// omnichat::option(...).
#define OMNICHAT_PROVIDER_PLUGIN(Class, ...)                                                                          \
    static_assert(std::is_base_of_v<::omnichat::Provider, Class>, #Class " must derive from omnichat::Provider");     \
    extern "C" OMNICHAT_EXPORT uint32_t omnichat_plugin_abi_version(void) { return OMNICHAT_ABI_VERSION; }            \
    extern "C" OMNICHAT_EXPORT const omnichat_plugin_descriptor_t* omnichat_plugin_init(const omnichat_host_api_t*) { \
        return ::omnichat::detail::descriptor<Class>(__VA_ARGS__);                                                    \
    }

// The same for a storage plugin; `Class` derives from omnichat::Storage.
#define OMNICHAT_STORAGE_PLUGIN(Class, ...)                                                                           \
    static_assert(std::is_base_of_v<::omnichat::Storage, Class>, #Class " must derive from omnichat::Storage");       \
    extern "C" OMNICHAT_EXPORT uint32_t omnichat_plugin_abi_version(void) { return OMNICHAT_ABI_VERSION; }            \
    extern "C" OMNICHAT_EXPORT const omnichat_plugin_descriptor_t* omnichat_plugin_init(const omnichat_host_api_t*) { \
        return ::omnichat::detail::descriptor<Class>(__VA_ARGS__);                                                    \
    }
