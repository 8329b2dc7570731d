// Fuzzes the edge's HTTP/1.1 request parser, the first code to see a
// client's bytes. Bytes arrive split anywhere, so what it reads must not
// depend on where: the input is parsed whole, byte by byte and in chunks of
// a size its length picks, as a connection's requests one after another,
// and the three runs must agree. Whatever it accepts stays within its
// limits.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "transport/request_parser.hpp"

namespace {

constexpr omnichat::ParseLimits kLimits{512, 256, 16};

// Each request as "method path?query|headers|body", then how it ended.
std::vector<std::string> run(std::string_view bytes, size_t chunk) {
    std::vector<std::string> out;
    omnichat::RequestParser parser(kLimits);
    std::string input;
    size_t fed = 0;
    for (;;) {
        auto event = parser.parse(input);
        if (event == omnichat::RequestParser::Event::Head) continue;
        if (event == omnichat::RequestParser::Event::Failed) {
            out.push_back("failed " + std::to_string(parser.error().status) + " " + parser.error().code);
            return out;
        }
        if (event == omnichat::RequestParser::Event::Complete) {
            const auto& r = parser.request();
            if (r.body.size() > kLimits.maxBodyBytes || r.headers.size() > kLimits.maxHeaderCount) std::abort();
            std::string line = r.method + " " + r.path + "?" + r.query + (r.http10 ? " 1.0|" : " 1.1|");
            for (const auto& [k, v] : r.headers) line += k + ":" + v + "\n";
            out.push_back(line + "|" + r.body);
            parser.reset();
            continue;
        }
        if (fed == bytes.size()) {
            out.push_back(parser.idle() ? "idle" : "partial");
            return out;
        }
        size_t n = std::min(chunk, bytes.size() - fed);
        input.append(bytes.substr(fed, n));
        fed += n;
        // Never more buffered than a head, a chunk line and what is unread.
        if (input.size() > kLimits.maxHeaderBytes + 2048 + chunk) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto whole = run(bytes, bytes.size() + 1);
    if (whole != run(bytes, 1) || whole != run(bytes, size % 13 + 2)) std::abort();
    return 0;
}
