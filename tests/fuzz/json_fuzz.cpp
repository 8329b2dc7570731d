// Holds the SDK's JsonValue (omnichat/json_reader.hpp) to nlohmann's
// reading of the same text: the same texts accepted (but for documents
// nested deeper than JsonValue::kMaxDepth, which it refuses on purpose), and
// the same values read: strings byte for byte, integers within int64 as
// integers, other numbers as the same double, the last of a repeated key.
#include <omnichat/json_reader.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

int depth(const json& j) {
    int deepest = 0;
    if (j.is_structured())
        for (const auto& item : j) deepest = std::max(deepest, depth(item));
    return j.is_structured() ? deepest + 1 : 0;
}

bool sameDouble(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same(const omnichat::JsonValue& v, const json& j) {
    using Type = omnichat::JsonValue::Type;
    switch (j.type()) {
        case json::value_t::null: return v.type() == Type::Null;
        case json::value_t::boolean: return v.type() == Type::Boolean && v.boolean() == j.get<bool>();
        case json::value_t::string: return v.isString() && v.text() == j.get_ref<const std::string&>();
        case json::value_t::number_integer: return v.integer() == j.get<int64_t>();
        case json::value_t::number_unsigned:
            if (j.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) return v.integer() == j.get<int64_t>();
            return v.isNumber() && !v.integer() && sameDouble(*v.number(), j.get<double>());
        case json::value_t::number_float: return v.isNumber() && sameDouble(*v.number(), j.get<double>());
        case json::value_t::array:
            if (!v.isArray() || v.size() != j.size()) return false;
            for (size_t i = 0; i < j.size(); ++i)
                if (!same(v[i], j[i])) return false;
            return true;
        case json::value_t::object: {
            if (!v.isObject()) return false;
            for (const auto& [key, member] : j.items())
                if (!same(v[key], member)) return false;
            // Every key JsonValue read is one nlohmann kept (repeats aside).
            for (const auto& [key, member] : v.members())
                if (!j.contains(key)) return false;
            return true;
        }
        default: return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto ours = omnichat::JsonValue::parse(text);
    auto theirs = json::parse(text, nullptr, false);
    if (theirs.is_discarded()) {
        if (ours) std::abort();  // accepted what is not JSON
        return 0;
    }
    if (!ours) {
        if (depth(theirs) <= omnichat::JsonValue::kMaxDepth) std::abort();  // refused JSON
        return 0;
    }
    if (!same(*ours, theirs)) std::abort();
    return 0;
}
