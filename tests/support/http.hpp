#pragma once
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace omnichat::testing {

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
    nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// One request over a fresh loopback connection.
HttpResponse httpCall(uint16_t port, const std::string& method, const std::string& path, const std::string& token = "",
                      const std::string& body = "", const std::string& contentType = "application/json",
                      const std::map<std::string, std::string>& headers = {});

// A raw HTTP/1.1 response's body: de-chunked when the head says
// Transfer-Encoding: chunked, else as it is. Throws on a malformed chunk.
std::string responseBody(const std::string& response);

// A loopback port nothing listens on (bound, then let go).
uint16_t freePort();

}  // namespace omnichat::testing
