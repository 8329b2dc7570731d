// Holds the stream chunk reader to nlohmann's reading of the same text: the
// same texts accepted, and each member what a DOM lookup of its path gives
// (the way the stream read chunks before it had its own reader).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "completion_chunk.hpp"

namespace {

using nlohmann::json;
using openai_compatible::CompletionChunk;

std::string stringAt(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t integerAt(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

std::optional<int64_t> detailAt(const json& usage, const char* details, const char* key) {
    auto it = usage.find(details);
    if (it == usage.end() || !it->is_object()) return std::nullopt;
    return integerAt(*it, key);
}

std::optional<CompletionChunk> domReading(const std::string& text) {
    auto chunk = json::parse(text, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) return std::nullopt;
    CompletionChunk c;
    if (auto error = chunk.find("error"); error != chunk.end() && !error->is_null()) {
        c.error = true;
        auto code = error->is_object() ? error->find("code") : error->end();
        if (code != error->end() && code->is_number_integer()) c.errorCode = code->get<int32_t>();
    }
    c.model = stringAt(chunk, "model");
    if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
        c.usage = true;
        c.promptTokens = integerAt(*usage, "prompt_tokens");
        c.completionTokens = integerAt(*usage, "completion_tokens");
        c.cachedTokens = detailAt(*usage, "prompt_tokens_details", "cached_tokens");
        c.reasoningTokens = detailAt(*usage, "completion_tokens_details", "reasoning_tokens");
        if (auto cost = usage->find("cost"); cost != usage->end() && cost->is_number()) c.cost = cost->get<double>();
    }
    auto choices = chunk.find("choices");
    if (choices != chunk.end() && choices->is_array() && !choices->empty() && (*choices)[0].is_object()) {
        const auto& choice = (*choices)[0];
        if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object())
            c.content = stringAt(*delta, "content");
        c.finishReason = stringAt(choice, "finish_reason");
    }
    return c;
}

bool sameCost(const std::optional<double>& a, const std::optional<double>& b) {
    if (!a || !b) return !a && !b;
    return std::memcmp(&*a, &*b, sizeof(double)) == 0;
}

bool same(const CompletionChunk& a, const CompletionChunk& b) {
    if (a.error != b.error || a.model != b.model || a.usage != b.usage || a.content != b.content ||
        a.finishReason != b.finishReason)
        return false;
    if (a.error && a.errorCode != b.errorCode) return false;
    if (!a.usage) return true;
    return a.promptTokens == b.promptTokens && a.completionTokens == b.completionTokens &&
           a.cachedTokens == b.cachedTokens && a.reasoningTokens == b.reasoningTokens && sameCost(a.cost, b.cost);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto expected = domReading(text);
    // Read twice into one chunk: a read must not depend on what the last left.
    CompletionChunk chunk;
    for (int i = 0; i < 2; ++i) {
        bool read = openai_compatible::readCompletionChunk(text, chunk);
        if (read != expected.has_value() || (read && !same(chunk, *expected))) std::abort();
    }
    return 0;
}
