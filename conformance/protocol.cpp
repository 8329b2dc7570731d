#include "protocol.hpp"

#include <yaml-cpp/yaml.h>
#include <omnichat/json_text.hpp>

#include <stdexcept>

namespace omnichat::conformance {
namespace {

const std::map<std::string, omnichat_status_t>& categories() {
    static const std::map<std::string, omnichat_status_t> names{{"ok", OMNICHAT_OK},
                                                                {"bad_request", OMNICHAT_ERR_BAD_REQUEST},
                                                                {"auth", OMNICHAT_ERR_AUTH},
                                                                {"rate_limited", OMNICHAT_ERR_RATE_LIMITED},
                                                                {"timeout", OMNICHAT_ERR_TIMEOUT},
                                                                {"connect_timeout", OMNICHAT_ERR_CONNECT_TIMEOUT},
                                                                {"unavailable", OMNICHAT_ERR_UNAVAILABLE},
                                                                {"upstream", OMNICHAT_ERR_UPSTREAM},
                                                                {"bad_response", OMNICHAT_ERR_BAD_RESPONSE},
                                                                {"content_filtered", OMNICHAT_ERR_CONTENT_FILTERED},
                                                                {"cancelled", OMNICHAT_ERR_CANCELLED},
                                                                {"internal", OMNICHAT_ERR_INTERNAL}};
    return names;
}

void replaceAll(std::string& text, const std::string& what, const std::string& with) {
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
        text.replace(at, what.size(), with);
}

std::string required(const YAML::Node& node, const std::string& key, const std::string& file) {
    if (!node[key] || !node[key].IsScalar()) throw std::runtime_error(file + ": '" + key + "' is missing");
    return node[key].as<std::string>();
}

}  // namespace

omnichat_status_t categoryNamed(const std::string& name) {
    auto it = categories().find(name);
    if (it == categories().end()) throw std::runtime_error("unknown category '" + name + "'");
    return it->second;
}

std::string categoryName(omnichat_status_t status) {
    for (const auto& [name, value] : categories())
        if (value == status) return name;
    return "status " + std::to_string(status);
}

std::string Protocol::fill(std::string text, const std::string& model, const std::string& reply, int64_t prompt,
                           int64_t completion) {
    std::string modelJson, replyJson;
    appendJsonString(modelJson, model);
    appendJsonString(replyJson, reply);
    replaceAll(text, "{prompt_tokens}", std::to_string(prompt));
    replaceAll(text, "{completion_tokens}", std::to_string(completion));
    replaceAll(text, "{model}", modelJson);
    replaceAll(text, "{text}", replyJson);  // last: a reply may hold the other names
    return text;
}

Protocol loadProtocol(const std::string& file) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(file);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error(file + ": " + e.what());
    }
    Protocol p;
    p.name = required(root, "name", file);
    p.path = required(root, "path", file);
    for (const auto& kv : root["options"]) p.options[kv.first.as<std::string>()] = kv.second.as<std::string>();
    if (auto auth = root["auth"]) {
        p.authHeader = required(auth, "header", file);
        p.authValue = required(auth, "value", file);
    }
    const auto stream = root["stream"];
    p.streamType = required(stream, "content_type", file);
    p.start = required(stream, "start", file);
    p.delta = required(stream, "delta", file);
    p.end = required(stream, "end", file);
    const auto plain = root["plain"];
    p.plainType = required(plain, "content_type", file);
    p.plainBody = required(plain, "body", file);
    for (const auto& e : root["errors"])
        p.errors.push_back(
            {e["status"].as<int>(), required(e, "body", file), categoryNamed(required(e, "category", file))});
    for (const auto& e : root["stream_errors"])
        p.streamErrors.push_back({required(e, "event", file), categoryNamed(required(e, "category", file))});
    return p;
}

}  // namespace omnichat::conformance
