#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omnichat {

// One HTTP/1.x request as the edge parsed it. Header names are lowercased;
// values have their surrounding whitespace removed.
struct IncomingRequest {
    std::string method;  // as sent: a token, case-sensitive
    std::string path;    // the request-target before '?', still percent-encoded
    std::string query;   // after '?', still encoded; empty when none
    bool http10 = false;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // de-chunked; empty when the route does not read bodies

    // The first header of that (lowercase) name, or null.
    const std::string* header(std::string_view name) const;
    // A query parameter, decoded as a form would be ('+' is a space); nullopt
    // when absent or not validly encoded.
    std::optional<std::string> queryParam(std::string_view name) const;
    // Whether the client wants the connection kept after the answer.
    bool wantsKeepAlive() const;
};

// %XX decoding; nullopt on a malformed escape. `plusIsSpace` for query
// strings.
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace);

}  // namespace omnichat
