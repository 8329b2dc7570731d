// The SDK's C++ layer against a fake host table, as a plugin's unit tests
// would use it.
#include <gtest/gtest.h>
#include <omnichat/json_reader.hpp>
#include <omnichat/json_text.hpp>
#include <omnichat/plugin.hpp>
#include <omnichat/utf8.hpp>

#include <limits>
#include <map>
#include <nlohmann/json.hpp>

namespace {

struct Completed {
    bool ok = false;
    omnichat_status_t status = OMNICHAT_OK;
    std::string finishReason, message, text;
    int64_t promptTokens = 0;
};

struct FakeCall {
    std::string text;
    bool cancelled = false;
    std::optional<Completed> completed;
};

struct FakeHost {
    static inline std::map<std::string, std::string> options;
    static bool logEnabled(omnichat_log_level_t) { return true; }
    static void log(omnichat_log_level_t, omnichat_str_t) {}
    static bool configGet(const omnichat_config_t*, const char* name, omnichat_str_t* out) {
        auto it = options.find(name);
        if (it == options.end()) return false;
        *out = {it->second.data(), it->second.size()};
        return true;
    }
    static FakeCall* fake(omnichat_call_t* c) { return reinterpret_cast<FakeCall*>(c); }
    static bool emit(omnichat_call_t* c, omnichat_str_t t) {
        if (fake(c)->cancelled) return false;
        fake(c)->text.append(t.data, t.len);
        return true;
    }
    static void complete(omnichat_call_t* c, const omnichat_chat_result_t* r, const omnichat_error_t* e) {
        Completed done;
        done.ok = !e || e->status == OMNICHAT_OK;
        done.text = fake(c)->text;
        if (e) {
            done.status = e->status;
            done.message = e->message;
        }
        if (r) {
            done.finishReason = std::string(r->finish_reason.data, r->finish_reason.len);
            done.promptTokens = r->usage.prompt_tokens;
        }
        fake(c)->completed = done;
    }
    static bool isCancelled(const omnichat_call_t* c) { return reinterpret_cast<const FakeCall*>(c)->cancelled; }
    static int64_t now() { return 0; }
    static const omnichat_host_api_t* api() {
        static const omnichat_host_api_t table{sizeof(omnichat_host_api_t),
                                               OMNICHAT_ABI_VERSION,
                                               &logEnabled,
                                               &log,
                                               &configGet,
                                               &emit,
                                               &complete,
                                               &isCancelled,
                                               nullptr,
                                               nullptr,
                                               &now};
        return &table;
    }
};

omnichat_call_t* asCall(FakeCall& c) { return reinterpret_cast<omnichat_call_t*>(&c); }

TEST(SdkCall, CompletesOnceWithTheResult) {
    FakeCall fc;
    {
        omnichat::Call call(FakeHost::api(), asCall(fc));
        EXPECT_TRUE(call.emit("hel"));
        EXPECT_TRUE(call.emit("lo"));
        omnichat::ChatResult r;
        r.finishReason = "length";
        r.usage.promptTokens = 5;
        call.complete(r);
        EXPECT_TRUE(call.done());
        call.fail(OMNICHAT_ERR_INTERNAL, "ignored: already completed");
    }
    ASSERT_TRUE(fc.completed);
    EXPECT_TRUE(fc.completed->ok);
    EXPECT_EQ(fc.completed->text, "hello");
    EXPECT_EQ(fc.completed->finishReason, "length");
    EXPECT_EQ(fc.completed->promptTokens, 5);
}

TEST(SdkCall, DroppingACallFailsIt) {
    FakeCall fc;
    { omnichat::Call call(FakeHost::api(), asCall(fc)); }
    ASSERT_TRUE(fc.completed);
    EXPECT_FALSE(fc.completed->ok);
    EXPECT_EQ(fc.completed->status, OMNICHAT_ERR_INTERNAL);
}

TEST(SdkCall, EmitReportsCancellation) {
    FakeCall fc;
    fc.cancelled = true;
    omnichat::Call call(FakeHost::api(), asCall(fc));
    EXPECT_FALSE(call.emit("x"));
    EXPECT_TRUE(call.cancelled());
    call.fail(OMNICHAT_ERR_CANCELLED, "cancelled");
    EXPECT_EQ(fc.completed->status, OMNICHAT_ERR_CANCELLED);
}

TEST(SdkGuarded, MapsExceptionsToCategories) {
    omnichat_error_t e{};
    e.struct_size = sizeof e;
    EXPECT_EQ(omnichat::guarded(&e, [] { throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "gone"); }),
              OMNICHAT_ERR_NOT_FOUND);
    EXPECT_STREQ(e.message, "gone");
    EXPECT_EQ(omnichat::guarded(&e, [] { throw std::runtime_error("oops"); }), OMNICHAT_ERR_INTERNAL);
    EXPECT_EQ(omnichat::guarded(&e, [] { throw 42; }), OMNICHAT_ERR_INTERNAL);
    EXPECT_EQ(omnichat::guarded(&e, [] {}), OMNICHAT_OK);
}

TEST(SdkGuarded, TruncatesLongMessages) {
    omnichat_error_t e{};
    e.struct_size = sizeof e;
    omnichat::fillError(&e, OMNICHAT_ERR_UPSTREAM, std::string(2000, 'x'));
    EXPECT_EQ(strlen(e.message), sizeof(e.message) - 1);
}

class ThrowingProvider : public omnichat::Provider {
public:
    explicit ThrowingProvider(const omnichat::Host& host) : Provider(host), mode_(host.option("mode", "throw")) {}
    void startChat(omnichat::ChatRequest request, std::shared_ptr<omnichat::Call> call) override {
        if (mode_ == "throw") throw omnichat::Error(OMNICHAT_ERR_RATE_LIMITED, "slow down", 429, 1500);
        call->emit(request.messages.back().content);
        call->complete({});
    }

private:
    std::string mode_;
};

const omnichat_option_t kOptions[] = {omnichat::option("mode", OMNICHAT_OPTION_STRING, "throw", false, "test")};

TEST(SdkProviderGlue, DescriptorAndEntryPointsWork) {
    const auto* d = omnichat::detail::descriptor<ThrowingProvider>("t", "1", kOptions);
    EXPECT_EQ(d->struct_size, sizeof(omnichat_plugin_descriptor_t));
    EXPECT_EQ(d->abi_version, OMNICHAT_ABI_VERSION);
    ASSERT_EQ(d->option_count, 1u);
    EXPECT_STREQ(d->options[0]->name, "mode");
    ASSERT_NE(d->provider, nullptr);

    for (const std::string mode : {"throw", "echo"}) {
        FakeHost::options = {{"mode", mode}};
        void* instance = nullptr;
        omnichat_error_t e{};
        e.struct_size = sizeof e;
        ASSERT_EQ(d->provider->create(FakeHost::api(), nullptr, &instance, &e), OMNICHAT_OK);
        std::string text = "hi";
        omnichat_message_t m{sizeof(omnichat_message_t), OMNICHAT_ROLE_USER, {text.data(), text.size()}};
        const omnichat_message_t* list[] = {&m};
        omnichat_chat_request_t req{};
        req.struct_size = sizeof req;
        req.messages = list;
        req.message_count = 1;
        FakeCall fc;
        d->provider->start_chat(instance, &req, asCall(fc));
        ASSERT_TRUE(fc.completed) << mode;
        if (mode == "throw") {
            EXPECT_EQ(fc.completed->status, OMNICHAT_ERR_RATE_LIMITED);
            EXPECT_EQ(fc.completed->message, "slow down");
        } else {
            EXPECT_TRUE(fc.completed->ok);
            EXPECT_EQ(fc.completed->text, "hi");
        }
        d->provider->destroy(instance);
    }
}

// A storage that records its appends; `Checking` adds the conditional one.
class RecordingStorage : public omnichat::Storage {
public:
    using Storage::Storage;
    void migrate() override {}
    void ping() override {}
    void createConversation(const omnichat::Conversation&) override {}
    void getConversation(std::string_view, std::string_view, const omnichat::ConversationSink&) override {}
    void listConversations(std::string_view, std::string_view, const omnichat::ConversationSink&) override {}
    void deleteConversation(std::string_view, std::string_view) override {}
    void listMessages(std::string_view, std::string_view, std::string_view, int64_t,
                      const omnichat::MessageSink&) override {}
    void appendExchange(const omnichat::StoredMessage&, const omnichat::StoredMessage&) override {}
};

class CheckingStorage : public RecordingStorage {
public:
    using RecordingStorage::RecordingStorage;
    void appendExchangeIfUnchanged(const omnichat::StoredMessage&, const omnichat::StoredMessage&,
                                   int64_t expectedCount, std::string_view expectedLastId) override {
        if (expectedCount != 2 || expectedLastId != "m2") throw omnichat::Error(OMNICHAT_ERR_CONFLICT, "changed");
    }
};
class DerivedFromChecking : public CheckingStorage {
public:
    using CheckingStorage::CheckingStorage;
};

// The conditional append has no correct default: a storage offers it only
// by overriding it, itself or through a base class.
TEST(SdkStorageGlue, OffersTheConditionalAppendOnlyWhenOverridden) {
    const auto* plain = omnichat::detail::descriptor<RecordingStorage>("s", "1", kOptions);
    EXPECT_EQ(plain->storage->exchange_append_if_unchanged, nullptr);
    EXPECT_NE(plain->storage->exchange_append, nullptr);
    const auto* derived = omnichat::detail::descriptor<DerivedFromChecking>("d", "1", kOptions);
    EXPECT_NE(derived->storage->exchange_append_if_unchanged, nullptr);

    const auto* checking = omnichat::detail::descriptor<CheckingStorage>("c", "1", kOptions);
    ASSERT_NE(checking->storage->exchange_append_if_unchanged, nullptr);
    void* instance = nullptr;
    omnichat_error_t e{};
    e.struct_size = sizeof e;
    ASSERT_EQ(checking->storage->create(FakeHost::api(), nullptr, &instance, &e), OMNICHAT_OK);
    omnichat::StoredMessage user, reply;
    auto u = omnichat::toC(user), r = omnichat::toC(reply);
    EXPECT_EQ(checking->storage->exchange_append_if_unchanged(instance, &u, &r, 2, {"m2", 2}, &e), OMNICHAT_OK);
    EXPECT_EQ(checking->storage->exchange_append_if_unchanged(instance, &u, &r, 2, {"m1", 2}, &e),
              OMNICHAT_ERR_CONFLICT);
    EXPECT_EQ(e.status, OMNICHAT_ERR_CONFLICT);
    checking->storage->destroy(instance);
}

// A request read in place and its copy hold the same; a request from a host
// before 1.1 ends before the connection timeout, which then reads as 0.
TEST(SdkChatRequest, ReadInPlaceAsCopied) {
    std::string model = "m", first = "a message longer than a short string", second = "b";
    omnichat_message_t m1{sizeof(omnichat_message_t), OMNICHAT_ROLE_SYSTEM, {first.data(), first.size()}};
    omnichat_message_t m2{sizeof(omnichat_message_t), OMNICHAT_ROLE_USER, {second.data(), second.size()}};
    const omnichat_message_t* list[] = {&m1, &m2};
    omnichat_chat_request_t req{};
    req.struct_size = sizeof req;
    req.model = {model.data(), model.size()};
    req.messages = list;
    req.message_count = 2;
    req.has_max_tokens = true;
    req.max_tokens = 9;
    req.deadline_unix_ms = 5;
    req.stream = true;
    req.connect_timeout_ms = 250;
    omnichat::ChatRequestView view(req);
    auto copy = view.copy();
    EXPECT_EQ(view.model(), "m");
    EXPECT_EQ(copy.model, "m");
    ASSERT_EQ(view.messageCount(), 2u);
    ASSERT_EQ(copy.messages.size(), 2u);
    EXPECT_EQ(view.role(0), OMNICHAT_ROLE_SYSTEM);
    EXPECT_EQ(copy.messages[0].role, OMNICHAT_ROLE_SYSTEM);
    EXPECT_EQ(view.content(0), first);
    EXPECT_EQ(copy.messages[0].content, first);
    EXPECT_EQ(copy.messages[1].content, "b");
    EXPECT_EQ(view.temperature(), std::nullopt);
    EXPECT_EQ(copy.temperature, std::nullopt);
    EXPECT_EQ(copy.maxTokens, 9);
    EXPECT_EQ(copy.deadlineUnixMs, 5);
    EXPECT_TRUE(copy.stream);
    EXPECT_EQ(copy.connectTimeoutMs, 250);
    req.struct_size = offsetof(omnichat_chat_request_t, connect_timeout_ms);
    EXPECT_EQ(view.connectTimeoutMs(), 0);
    EXPECT_EQ(omnichat::ChatRequest::fromC(req).connectTimeoutMs, 0);
}

// The 1.7 parameters read as set, and as unset from a host before 1.7,
// whatever its struct's bytes beyond its size hold.
TEST(SdkChatRequest, ParametersSince17ReadOnlyFromAHostThatSendsThem) {
    std::string stop1 = "END", stop2 = "STOP", format = R"({"type":"json_object"})", user = "u-1";
    omnichat_str_t stops[] = {{stop1.data(), stop1.size()}, {stop2.data(), stop2.size()}};
    omnichat_chat_request_t req{};
    req.struct_size = sizeof req;
    req.has_top_p = true;
    req.top_p = 0.5;
    req.stop = stops;
    req.stop_count = 2;
    req.has_seed = true;
    req.seed = -3;
    req.response_format = {format.data(), format.size()};
    req.end_user = {user.data(), user.size()};
    omnichat::ChatRequestView view(req);
    EXPECT_EQ(view.topP(), 0.5);
    ASSERT_EQ(view.stopCount(), 2u);
    EXPECT_EQ(view.stop(1), "STOP");
    EXPECT_EQ(view.seed(), -3);
    EXPECT_EQ(view.responseFormat(), format);
    EXPECT_EQ(view.endUser(), "u-1");
    auto copy = view.copy();
    EXPECT_EQ(copy.stop, (std::vector<std::string>{"END", "STOP"}));
    EXPECT_EQ(copy.seed, -3);
    EXPECT_EQ(copy.responseFormat, format);

    req.struct_size = offsetof(omnichat_chat_request_t, has_top_p);  // a 1.6 host's struct
    EXPECT_EQ(view.topP(), std::nullopt);
    EXPECT_EQ(view.stopCount(), 0u);
    EXPECT_EQ(view.seed(), std::nullopt);
    EXPECT_TRUE(view.responseFormat().empty());
    EXPECT_TRUE(view.endUser().empty());
    EXPECT_TRUE(view.copy().stop.empty());
}

// A provider that overrides neither way to start a call fails each call
// instead of recursing or leaving it open.
TEST(SdkProvider, OverridingNeitherStartFailsTheCall) {
    class Silent : public omnichat::Provider {
        using Provider::Provider;
    };
    omnichat::Host host(FakeHost::api(), nullptr);
    Silent provider(host);
    omnichat_chat_request_t req{};
    req.struct_size = sizeof req;
    FakeCall fc;
    provider.startChatInPlace(omnichat::ChatRequestView(req),
                              std::make_shared<omnichat::Call>(FakeHost::api(), asCall(fc)));
    ASSERT_TRUE(fc.completed);
    EXPECT_EQ(fc.completed->status, OMNICHAT_ERR_INTERNAL);
}

// Every lead byte from 0x80 up with every second byte, then the third and
// fourth bytes on either side of the continuation range's edges: a text
// walked character by character is UTF-8 exactly when nlohmann::json (which
// checks it by RFC 3629's table) accepts it as a string.
TEST(SdkUtf8, CharactersAsNlohmannReadsThem) {
    auto check = [](const std::string& s) {
        bool whole = true;
        for (size_t i = 0, length = 0; whole && i < s.size(); i += length)
            whole = (length = omnichat::utf8CharLength(s, i)) != 0;
        bool valid = !nlohmann::json::parse("\"" + s + "\"", nullptr, false).is_discarded();
        EXPECT_EQ(whole, valid) << testing::PrintToString(s);
        return whole == valid;
    };
    const char edges[] = {'\x7F', '\x80', '\xBF', '\xC0'};
    for (int lead = 0x80; lead <= 0xFF; ++lead)
        for (int second = 0x7F; second <= 0xFF; ++second) {
            std::string two = {static_cast<char>(lead), static_cast<char>(second)};
            ASSERT_TRUE(check(two));
            for (char third : edges) {
                ASSERT_TRUE(check(two + third));
                if (lead < 0xF0) continue;
                for (char fourth : edges) ASSERT_TRUE(check(two + third + fourth));
            }
        }
    EXPECT_EQ(omnichat::utf8CharLength("a\xF0\x9F\x8C\x8D", 1), 4u);
    EXPECT_EQ(omnichat::utf8CharLength("a\xF0\x9F\x8C", 1), 0u);  // cut short
}

// The escaping looks at eight bytes at a time: every byte that needs it (and
// a multi-byte character) at every offset of a word, in texts of every
// length around a word's, must come out as nlohmann::json writes it.
TEST(SdkJsonText, EscapesAsNlohmannAtEveryOffset) {
    std::vector<std::string> specials = {"\xC3\xA9", "\xE2\x9C\x93", "\xF0\x9D\x84\x9E", "\x7F"};
    for (int c = 0; c < 0x20; ++c) specials.emplace_back(1, static_cast<char>(c));
    specials.emplace_back("\"");
    specials.emplace_back("\\");
    for (char c : {' ', '!', '#', '[', ']'}) specials.emplace_back(1, c);  // neighbours of those escaped
    for (const auto& special : specials)
        for (size_t length = 0; length <= 19; ++length)
            for (size_t at = 0; at <= length; ++at) {
                std::string text(length, 'a');
                text.insert(at, special);
                std::string out = "prefix";
                omnichat::appendJsonString(out, text);
                ASSERT_EQ(out, "prefix" + nlohmann::json(text).dump()) << "length " << length << " at " << at;
            }
    std::string every;
    for (int c = 0; c < 128; ++c) every += static_cast<char>(c);
    std::string out;
    omnichat::appendJsonString(out, every + every);
    EXPECT_EQ(out, nlohmann::json(every + every).dump());
}

// Retry-After in its three forms (omnichat/upstream_errors.hpp).
TEST(RetryAfter, SecondsMillisecondsAndHttpDates) {
    omnichat::HttpResponseHead head;
    head.headers = {{"Retry-After", "3"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), 3000);
    head.headers = {{"retry-after-ms", "250"}, {"Retry-After", "3"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), 250);
    head.headers = {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 1445412480000 - 5000), 5000);
    head.headers = {{"Retry-After", "soon"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), -1);
}

// Whatever a server sends, the value stays a defined, bounded wait.
TEST(RetryAfter, AbsurdValuesAreBoundedOrIgnored) {
    constexpr int64_t kYearMs = 365LL * 24 * 3600 * 1000;
    omnichat::HttpResponseHead head;
    head.headers = {{"Retry-After", "1e300"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), kYearMs);
    head.headers = {{"retry-after-ms", "inf"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), -1);
    head.headers = {{"retry-after-ms", "nan"}, {"Retry-After", "2"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), 2000);
    head.headers = {{"retry-after-ms", "-5"}, {"Retry-After", "-1"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), -1);
    head.headers = {{"retry-after-ms", "250 ms"}};
    EXPECT_EQ(omnichat::retryAfterMs(head, 0), -1);
}

// The SDK's small JSON document: lookups that may miss, the last of a
// repeated key, integers only within int64, and refusals.
TEST(JsonValue, ReadsWhatAPluginLooksUp) {
    auto doc = omnichat::JsonValue::parse(
        R"({"error":{"type":"rate_limit_error"},"n":[1,2.5,-0,9223372036854775808],"k":1,"k":"last"})");
    ASSERT_TRUE(doc);
    EXPECT_EQ((*doc)["error"]["type"].text(), "rate_limit_error");
    EXPECT_EQ((*doc)["missing"]["deeper"][3].text("none"), "none");
    EXPECT_EQ((*doc)["n"][0].integer(), 1);
    EXPECT_EQ((*doc)["n"][1].integer(), std::nullopt);
    EXPECT_EQ((*doc)["n"][1].number(), 2.5);
    EXPECT_EQ((*doc)["n"][2].integer(), 0);
    EXPECT_EQ((*doc)["n"][3].integer(), std::nullopt);  // beyond int64
    EXPECT_EQ((*doc)["n"][3].number(), 9223372036854775808.0);
    EXPECT_EQ((*doc)["k"].text(), "last");
    EXPECT_EQ((*doc)["n"].size(), 4u);
    for (const char* bad : {"", "{", "[1,]", "{\"a\"}", "\"\\x\"", "01", "nul", "{} {}"})
        EXPECT_FALSE(omnichat::JsonValue::parse(bad)) << bad;
    const std::string deep = std::string(100, '[') + std::string(100, ']');
    EXPECT_FALSE(omnichat::JsonValue::parse(deep)) << "nesting beyond kMaxDepth is refused";
}

TEST(JsonText, NumbersAreWrittenToReadBackTheSame) {
    for (double v : {0.7, 1.0, -2.5e-8, 1e300, 0.1 + 0.2}) {
        std::string out;
        omnichat::appendJsonNumber(out, v);
        EXPECT_EQ(nlohmann::json::parse(out).get<double>(), v) << out;
    }
    std::string out;
    omnichat::appendJsonNumber(out, std::numeric_limits<double>::infinity());
    EXPECT_EQ(out, "null");
}

}  // namespace
