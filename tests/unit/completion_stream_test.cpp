// The chat-completions protocol of the openai and openrouter plugins: the
// streaming parser on recorded transcripts fed in two pieces split at every
// byte, and the request body.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "openai_compatible.hpp"

namespace {

std::string transcript(const std::string& name) {
    std::ifstream in(std::string(OMNICHAT_SSE_FIXTURES) + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_FALSE(ss.str().empty()) << name;
    return ss.str();
}

struct Run {
    std::string text;
    openai_compatible::Outcome outcome;
};

// A stream read from bytes as the provider reads it: events parsed from
// the bytes, each event's text appended to `text`.
struct Reading {
    Run run;
    openai_compatible::CompletionStream stream;
    bool going = true;
    omnichat::SseParser parser{[this](const omnichat::SseEvent& e) {
        if (going)
            going = stream.event(e, [this](std::string_view d) {
                run.text += d;
                return true;
            });
    }};
    bool feed(std::string_view bytes) {
        parser.feed(bytes);
        return going;
    }
    Run finish() {
        run.outcome = stream.finish();
        return std::move(run);
    }
};

// Every split point, and one byte at a time, give the same result as
// feeding the whole transcript.
std::vector<Run> runAllSplits(const std::string& bytes) {
    std::vector<Run> runs;
    {
        Reading reading;
        for (size_t i = 0; i < bytes.size() && reading.feed(std::string_view(bytes).substr(i, 1)); ++i) {
        }
        runs.push_back(reading.finish());
    }
    for (size_t split = 0; split <= bytes.size(); ++split) {
        Reading reading;
        if (reading.feed(std::string_view(bytes).substr(0, split))) reading.feed(std::string_view(bytes).substr(split));
        runs.push_back(reading.finish());
    }
    return runs;
}

TEST(CompletionStream, OpenAiChunksAndUsageChunk) {
    for (const auto& run : runAllSplits(transcript("openai.sse"))) {
        ASSERT_EQ(run.outcome.status, OMNICHAT_OK) << run.outcome.message;
        EXPECT_EQ(run.text, "Hello, wörld 🌍");
        EXPECT_EQ(run.outcome.result.finishReason, "stop");
        EXPECT_EQ(run.outcome.result.model, "gpt-4o-mini-2024-07-18");
        EXPECT_EQ(run.outcome.result.usage.promptTokens, 9);
        EXPECT_EQ(run.outcome.result.usage.completionTokens, 4);
        EXPECT_EQ(run.outcome.result.usage.cachedTokens, 2);
        EXPECT_EQ(run.outcome.result.usage.reasoningTokens, 0);
    }
}

TEST(CompletionStream, OpenRouterKeepAlivesRepeatedFinishAndCost) {
    for (const auto& run : runAllSplits(transcript("openrouter.sse"))) {
        ASSERT_EQ(run.outcome.status, OMNICHAT_OK) << run.outcome.message;
        EXPECT_EQ(run.text, "Hi there");
        EXPECT_EQ(run.outcome.result.finishReason, "stop");
        EXPECT_EQ(run.outcome.result.usage.promptTokens, 12);
        ASSERT_TRUE(run.outcome.result.usage.cost);
        EXPECT_DOUBLE_EQ(*run.outcome.result.usage.cost, 0.00021);
    }
}

TEST(CompletionStream, OpenRouterMidStreamErrorFails) {
    for (const auto& run : runAllSplits(transcript("openrouter_error.sse"))) {
        EXPECT_EQ(run.outcome.status, OMNICHAT_ERR_UPSTREAM);
        EXPECT_EQ(run.text, "Par");
    }
}

TEST(CompletionStream, ErrorAsTheOnlyEventKeepsItsCategory) {
    for (const auto& run : runAllSplits(transcript("openrouter_only_error.sse")))
        EXPECT_EQ(run.outcome.status, OMNICHAT_ERR_RATE_LIMITED);
}

TEST(CompletionStream, CutStreamIsAFailure) {
    for (const auto& run : runAllSplits(transcript("cut.sse"))) {
        EXPECT_EQ(run.outcome.status, OMNICHAT_ERR_BAD_RESPONSE);
        EXPECT_EQ(run.text, "Half a sen");
    }
}

TEST(CompletionStream, RefusedDeltaStopsTheStream) {
    openai_compatible::CompletionStream stream;
    int refused = 0;
    omnichat::SseParser parser([&](const omnichat::SseEvent& e) {
        if (!stream.event(e, [&](std::string_view) { return false; })) ++refused;
    });
    parser.feed(transcript("openai.sse"));
    EXPECT_GT(refused, 0);
    EXPECT_EQ(stream.finish().status, OMNICHAT_ERR_CANCELLED);
}

// The chunk reader: what it takes from a chunk, and what it refuses. The
// fuzz target holds it to nlohmann's reading of any text.
TEST(CompletionChunk, DecodesEscapesAndTakesTheLastOfARepeatedKey) {
    openai_compatible::CompletionChunk c;
    ASSERT_TRUE(openai_compatible::readCompletionChunk(
        R"( {"m\u006fdel":"gpt","choices":[{"delta":{"content":"x"},"delta":{"content":"tab\there \u00e9 \ud83c\udf0d \"q\" \/"},"finish_reason":7},[]],)"
        R"("usage":{"prompt_tokens":1.5,"completion_tokens":18446744073709551615,"prompt_tokens_details":{},"cost":2}} )",
        c));
    EXPECT_EQ(c.model, "gpt");
    EXPECT_EQ(c.content, "tab\there \xc3\xa9 \xf0\x9f\x8c\x8d \"q\" /");
    EXPECT_EQ(c.finishReason, "");
    EXPECT_FALSE(c.error);
    ASSERT_TRUE(c.usage);
    EXPECT_EQ(c.promptTokens, -1);
    EXPECT_EQ(c.completionTokens, -1);  // as nlohmann casts the largest unsigned integer
    EXPECT_EQ(c.cachedTokens, -1);
    EXPECT_EQ(c.reasoningTokens, std::nullopt);
    EXPECT_EQ(c.cost, 2.0);
    ASSERT_TRUE(openai_compatible::readCompletionChunk(R"({"error":{"code":502},"model":null})", c));
    EXPECT_TRUE(c.error);
    EXPECT_EQ(c.errorCode, 502);
    EXPECT_EQ(c.model, "");
    EXPECT_FALSE(c.usage);
}

TEST(CompletionChunk, RefusesWhatIsNotAJsonObject) {
    openai_compatible::CompletionChunk c;
    for (const char* text : {"",
                             "[]",
                             "\"text\"",
                             "{",
                             "{}}",
                             "{\"a\":1,}",
                             "{\"a\":01}",
                             "{\"a\":1.}",
                             "{\"a\":-}",
                             "{\"a\":tru}",
                             "{\"a\":\"\\x\"}",
                             "{\"a\":\"\\ud83c\"}",
                             "{\"a\":\"\\udf0d\"}",
                             "{\"a\":\"\x01\"}",
                             "{\"a\":\"\xc3\"}",
                             "{\"a\":\"\xed\xa0\x80\"}",
                             "{\"a\":\"\xc0\xaf\"}",
                             "{\"a\":1e400}",
                             "{\"a\":[[[[]]]}",
                             "{\"a\":{\"b\"}}",
                             "{'a':1}"})
        EXPECT_FALSE(openai_compatible::readCompletionChunk(text, c)) << text;
    std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    EXPECT_TRUE(openai_compatible::readCompletionChunk(deep, c));
    EXPECT_TRUE(openai_compatible::readCompletionChunk("\xEF\xBB\xBF{\"a\":[1e-400,-0,true,null,{\"b\":{}}]}", c));
}

TEST(SseParser, FieldsCommentsAndLineEndings) {
    std::vector<omnichat::SseEvent> events;
    std::vector<std::string> comments;
    omnichat::SseParser parser([&](const omnichat::SseEvent& e) { events.push_back(e); },
                               [&](std::string_view c) { comments.emplace_back(c); });
    parser.feed("\xEF\xBB\xBF: hello\r\nevent: delta\rdata: a\ndata:b\n\nid: 7\ndata\n\nretry: 5\n\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].event, "delta");
    EXPECT_EQ(events[0].data, "a\nb");
    EXPECT_EQ(events[1].event, "message");
    EXPECT_EQ(events[1].data, "");
    EXPECT_EQ(events[1].id, "7");
    ASSERT_EQ(comments.size(), 1u);
    EXPECT_EQ(comments[0], " hello");
    EXPECT_FALSE(parser.midEvent());
    parser.feed("data: x");
    EXPECT_TRUE(parser.midEvent());
}

// A request as the host passes it to start_chat; `messages` must outlive it.
struct HostRequest {
    explicit HostRequest(const std::vector<omnichat::Message>& messages) {
        for (const auto& m : messages)
            structs.push_back({sizeof(omnichat_message_t), m.role, {m.content.data(), m.content.size()}});
        for (const auto& m : structs) pointers.push_back(&m);
        raw.struct_size = sizeof raw;
        raw.messages = pointers.data();
        raw.message_count = pointers.size();
    }
    std::vector<omnichat_message_t> structs;
    std::vector<const omnichat_message_t*> pointers;
    omnichat_chat_request_t raw{};
};

// Every byte a message may hold survives the trip into the request body.
TEST(RequestBody, IsTheDocumentTheProtocolDefines) {
    std::string everyByte;
    for (int c = 1; c < 0x80; ++c) everyByte += static_cast<char>(c);
    everyByte += "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // é € 😀
    std::vector<omnichat::Message> messages = {{OMNICHAT_ROLE_SYSTEM, "be \"brief\""},
                                               {OMNICHAT_ROLE_USER, everyByte},
                                               {OMNICHAT_ROLE_ASSISTANT, ""},
                                               {OMNICHAT_ROLE_USER, "line\r\nbreak\\"}};
    HostRequest request(messages);
    auto body =
        nlohmann::json::parse(openai_compatible::requestBody(omnichat::ChatRequestView(request.raw), "gpt-\"4\""));
    EXPECT_EQ(body, (nlohmann::json{{"model", "gpt-\"4\""},
                                    {"messages",
                                     {{{"role", "system"}, {"content", "be \"brief\""}},
                                      {{"role", "user"}, {"content", everyByte}},
                                      {{"role", "assistant"}, {"content", ""}},
                                      {{"role", "user"}, {"content", "line\r\nbreak\\"}}}},
                                    {"stream", true},
                                    {"stream_options", {{"include_usage", true}}}}));
    HostRequest bare({});
    bare.raw.has_temperature = true;
    bare.raw.temperature = 0.7;
    bare.raw.has_max_tokens = true;
    bare.raw.max_tokens = 256;
    body = nlohmann::json::parse(openai_compatible::requestBody(omnichat::ChatRequestView(bare.raw), "m"));
    EXPECT_EQ(body["messages"], nlohmann::json::array());
    EXPECT_EQ(body["temperature"], 0.7);
    EXPECT_EQ(body["max_tokens"], 256);
}

}  // namespace
