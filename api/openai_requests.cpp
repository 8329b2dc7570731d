#include "openai_requests.hpp"

#include <set>

#include "common/ids.hpp"

namespace omnichat {
namespace {

constexpr size_t kMaxModelBytes = 256;
constexpr size_t kMaxMessages = 10000;

ApiError badRequest(std::string code, std::string message) { return {400, std::move(code), std::move(message)}; }

// Parameters read here and passed to the provider.
const std::set<std::string> kPassed = {
    "model", "messages", "stream", "stream_options",  "temperature", "max_tokens", "max_completion_tokens",
    "top_p", "stop",     "seed",   "response_format", "user"};
// Parameters that change nothing omnichat does: read and let be.
const std::set<std::string> kIgnored = {"metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier"};
// Parameters accepted at their default value only.
bool atDefault(const std::string& name, const nlohmann::json& value) {
    if (value.is_null()) return true;
    if (name == "n") return value == 1;
    if (name == "frequency_penalty" || name == "presence_penalty")
        return value.is_number() && value.get<double>() == 0.0;
    if (name == "logprobs" || name == "parallel_tool_calls") return value.is_boolean() && !value.get<bool>();
    if (name == "tools" || name == "functions") return value.is_array() && value.empty();
    return false;
}
const std::set<std::string> kDefaultOnly = {
    "n", "frequency_penalty", "presence_penalty", "logprobs", "parallel_tool_calls", "tools", "functions"};
const std::set<std::string> kUnsupported = {"logit_bias",         "top_logprobs", "tool_choice", "function_call",
                                            "modalities",         "audio",        "prediction",  "reasoning_effort",
                                            "web_search_options", "verbosity"};

// A message's text: a string, or an array of text parts joined.
std::optional<std::string> textOf(const nlohmann::json& content) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return std::nullopt;
    std::string text;
    for (const auto& part : content) {
        if (!part.is_object() || part.value("type", "") != "text") return std::nullopt;
        auto t = part.find("text");
        if (t == part.end() || !t->is_string()) return std::nullopt;
        text += t->get_ref<const std::string&>();
    }
    return text;
}

}  // namespace

BodyOutcome<ChatCompletionBody> parseChatCompletionBody(const nlohmann::json& body) {
    ChatCompletionBody out;
    for (const auto& [name, value] : body.items()) {
        if (kPassed.count(name) || kIgnored.count(name)) continue;
        if (kDefaultOnly.count(name)) {
            if (atDefault(name, value)) continue;
            return badRequest("unsupported_parameter", "'" + name + "' is not supported (only its default value)");
        }
        if (kUnsupported.count(name)) {
            if (value.is_null()) continue;
            return badRequest("unsupported_parameter", "'" + name + "' is not supported");
        }
        return badRequest("unknown_parameter", "unrecognized request argument '" + name + "'");
    }

    auto model = body.find("model");
    if (model == body.end() || model->is_null()) return badRequest("missing_model", "model is required");
    if (!model->is_string() || model->get_ref<const std::string&>().empty() ||
        model->get_ref<const std::string&>().size() > kMaxModelBytes)
        return badRequest("invalid_model", "model must be a model's name");
    out.model = model->get<std::string>();

    auto messages = body.find("messages");
    if (messages == body.end() || messages->is_null()) return badRequest("missing_messages", "messages is required");
    if (!messages->is_array() || messages->empty() || messages->size() > kMaxMessages)
        return badRequest("invalid_messages", "messages must be an array of 1 to 10000 messages");
    auto& completion = out.completion;
    bool leading = true;  // still in the leading system messages
    for (size_t i = 0; i < messages->size(); ++i) {
        const auto& m = (*messages)[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            return badRequest("invalid_messages", where + " must be an object with a role");
        const auto role = m["role"].get<std::string>();
        if (role != "system" && role != "developer" && role != "user" && role != "assistant")
            return badRequest("unsupported_role", where + ": role '" + role + "' is not supported (text only)");
        auto content = m.find("content");
        auto text = content == m.end() ? std::nullopt : textOf(*content);
        if (!text) return badRequest("invalid_content", where + ": content must be text (a string or text parts)");
        if (!isStorableText(*text))
            return badRequest("invalid_content", where + ": content must be UTF-8 text without NUL characters");
        const bool system = role == "system" || role == "developer";
        if (system && leading) {
            if (!completion.systemPrompt.empty()) completion.systemPrompt += "\n\n";
            completion.systemPrompt += *text;
            continue;
        }
        leading = false;
        if (i + 1 == messages->size()) {
            if (role != "user") return badRequest("invalid_messages", "the last message must be the user's");
            completion.question = std::move(*text);
            break;
        }
        domain::StoredMessage message;
        message.role = system ? OMNICHAT_ROLE_SYSTEM : role == "user" ? OMNICHAT_ROLE_USER : OMNICHAT_ROLE_ASSISTANT;
        message.content = std::move(*text);
        completion.history.push_back(std::move(message));
    }
    if (leading) return badRequest("invalid_messages", "the last message must be the user's");

    if (auto s = body.find("stream"); s != body.end() && !s->is_null()) {
        if (!s->is_boolean()) return badRequest("invalid_stream", "stream must be true or false");
        out.stream = s->get<bool>();
    }
    if (auto o = body.find("stream_options"); o != body.end() && !o->is_null()) {
        if (!o->is_object()) return badRequest("invalid_stream_options", "stream_options must be an object");
        if (auto u = o->find("include_usage"); u != o->end() && !u->is_null()) {
            if (!u->is_boolean()) return badRequest("invalid_stream_options", "include_usage must be true or false");
            out.includeUsage = u->get<bool>();
        }
    }
    if (auto t = body.find("temperature"); t != body.end() && !t->is_null()) {
        if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 2)
            return badRequest("invalid_temperature", "temperature must be a number from 0 to 2");
        completion.sampling.temperature = t->get<double>();
    }
    for (const char* name : {"max_completion_tokens", "max_tokens"}) {
        auto t = body.find(name);
        if (t == body.end() || t->is_null() || completion.sampling.maxTokens) continue;
        if (!t->is_number_integer() || t->get<int64_t>() < 1)
            return badRequest("invalid_max_tokens", std::string(name) + " must be a positive integer");
        completion.sampling.maxTokens = t->get<int64_t>();
    }
    if (auto p = body.find("top_p"); p != body.end() && !p->is_null()) {
        if (!p->is_number() || p->get<double>() < 0 || p->get<double>() > 1)
            return badRequest("invalid_top_p", "top_p must be a number from 0 to 1");
        completion.sampling.topP = p->get<double>();
    }
    if (auto s = body.find("stop"); s != body.end() && !s->is_null()) {
        auto stop = s->is_string() ? nlohmann::json::array({*s}) : *s;
        if (!stop.is_array() || stop.size() > 4)
            return badRequest("invalid_stop", "stop must be a string or up to 4 strings");
        for (const auto& one : stop) {
            if (!one.is_string() || one.get_ref<const std::string&>().empty() ||
                !isStorableText(one.get_ref<const std::string&>()))
                return badRequest("invalid_stop", "stop must be a string or up to 4 strings");
            completion.sampling.stop.push_back(one.get<std::string>());
        }
    }
    if (auto s = body.find("seed"); s != body.end() && !s->is_null()) {
        if (!s->is_number_integer()) return badRequest("invalid_seed", "seed must be an integer");
        completion.sampling.seed = s->get<int64_t>();
    }
    if (auto f = body.find("response_format"); f != body.end() && !f->is_null()) {
        auto type = f->is_object() ? f->find("type") : f->end();
        const std::string name = type != f->end() && type->is_string() ? type->get<std::string>() : "";
        if (name != "text" && name != "json_object" && name != "json_schema")
            return badRequest("invalid_response_format",
                              "response_format must be an object whose type is text, json_object or json_schema");
        if (name != "text") completion.sampling.responseFormat = f->dump();
    }
    if (auto u = body.find("user"); u != body.end() && !u->is_null()) {
        if (!u->is_string() || u->get_ref<const std::string&>().size() > kMaxModelBytes ||
            !isStorableText(u->get_ref<const std::string&>()))
            return badRequest("invalid_user", "user must be a string of at most 256 bytes");
        completion.sampling.endUser = u->get<std::string>();
    }
    return out;
}

}  // namespace omnichat
