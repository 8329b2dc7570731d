// The OpenAPI document in the repository is what the server serves, and
// every operation it documents answers as documented.
#include <fstream>
#include <sstream>

#include "api_fixture.hpp"

namespace omnichat::testing {
namespace {

const nlohmann::json& resolve(const nlohmann::json& doc, const nlohmann::json& schema) {
    if (!schema.contains("$ref")) return schema;
    // "#/components/schemas/Name"
    auto ref = schema["$ref"].get<std::string>();
    return doc["components"]["schemas"][ref.substr(ref.rfind('/') + 1)];
}

// The value has the shape the schema documents: type, required properties,
// array items, enums; recursively.
void expectConforms(const nlohmann::json& doc, const nlohmann::json& rawSchema, const nlohmann::json& value,
                    const std::string& where) {
    const auto& schema = resolve(doc, rawSchema);
    if (schema.contains("type")) {
        std::vector<std::string> types;
        if (schema["type"].is_array())
            types = schema["type"].get<std::vector<std::string>>();
        else
            types.push_back(schema["type"]);
        auto is = [&](const std::string& t) {
            return (t == "object" && value.is_object()) || (t == "array" && value.is_array()) ||
                   (t == "string" && value.is_string()) || (t == "integer" && value.is_number_integer()) ||
                   (t == "number" && value.is_number()) || (t == "boolean" && value.is_boolean()) ||
                   (t == "null" && value.is_null());
        };
        EXPECT_TRUE(std::any_of(types.begin(), types.end(), is)) << where << ": " << value.dump();
    }
    if (schema.contains("enum")) {
        EXPECT_NE(std::find(schema["enum"].begin(), schema["enum"].end(), value), schema["enum"].end()) << where;
    }
    if (value.is_object()) {
        const auto required = schema.value("required", nlohmann::json::array());
        for (const auto& name : required)
            EXPECT_TRUE(value.contains(name.get<std::string>())) << where << " lacks " << name;
        const auto properties = schema.value("properties", nlohmann::json::object());
        for (const auto& [name, sub] : properties.items())
            if (value.contains(name)) expectConforms(doc, sub, value[name], where + "." + name);
    }
    if (value.is_array() && schema.contains("items"))
        for (size_t i = 0; i < value.size(); ++i)
            expectConforms(doc, schema["items"], value[i], where + "[" + std::to_string(i) + "]");
}

TEST_P(ApiTest, EveryDocumentedOperationAnswersAsDocumented) {
    auto served = call("GET", "/openapi.json", "");
    ASSERT_EQ(served.status, 200);
    auto doc = served.json();
    std::ifstream file(OMNICHAT_OPENAPI_FILE);
    std::stringstream text;
    text << file.rdbuf();
    ASSERT_EQ(doc, nlohmann::json::parse(text.str())) << "the server serves another document than the repository's";
    EXPECT_EQ(doc["openapi"], "3.1.0");

    auto alice = token(user("alice"));
    auto conversation = createConversation(alice, "proj-1");
    ASSERT_EQ(send(alice, conversation, "first").status, 200);

    struct Operation {
        std::string method, path;
        nlohmann::json spec;
    };
    std::vector<Operation> operations;
    for (const auto& [path, item] : doc["paths"].items())
        for (const auto& [method, spec] : item.items()) operations.push_back({method, path, spec});
    // Deleting goes last: the others use the conversation.
    std::stable_partition(operations.begin(), operations.end(), [](const auto& o) { return o.method != "delete"; });
    ASSERT_GE(operations.size(), 10u);

    for (const auto& op : operations) {
        std::string method = op.method;
        std::transform(method.begin(), method.end(), method.begin(), ::toupper);
        std::string path = op.path, query;
        for (const auto& p : op.spec.value("parameters", nlohmann::json::array())) {
            std::string name = p["name"];
            std::string value = name == "id" ? conversation : "proj-1";
            if (p["in"] == "path") path.replace(path.find("{" + name + "}"), name.size() + 2, value);
            if (p["in"] == "query" && p.value("required", false))
                query += (query.empty() ? "?" : "&") + name + "=" + value;
        }
        // A required body: the documented example, or a message.
        std::string body;
        if (op.spec.contains("requestBody") && op.spec["requestBody"].value("required", false)) {
            const auto& media = op.spec["requestBody"]["content"]["application/json"];
            body = media.contains("example") ? media["example"].dump() : R"({"content":"hello again"})";
        }
        bool open = op.spec.contains("security") && op.spec["security"].empty();
        auto r = call(method, path + query, open ? "" : alice, body);
        const std::string where = method + " " + op.path;
        auto documented = op.spec["responses"].find(std::to_string(r.status));
        ASSERT_NE(documented, op.spec["responses"].end()) << where << " answered an undocumented " << r.status;
        EXPECT_GE(r.status, 200) << where;
        EXPECT_LT(r.status, 300) << where << ": " << r.body;
        EXPECT_EQ(r.headers.count("x-request-id"), 1u) << where;
        if (documented->contains("content") && (*documented)["content"].contains("application/json"))
            expectConforms(doc, (*documented)["content"]["application/json"]["schema"], r.json(), where);
    }

    // And an error, as documented.
    auto missing = call("GET", "/conversations/" + newUuid(), alice);
    ASSERT_EQ(missing.status, 404);
    expectConforms(doc, doc["components"]["schemas"]["Error"], missing.json(), "404");
}

}  // namespace
}  // namespace omnichat::testing
