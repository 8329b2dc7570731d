#include "transport/request_parser.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace omnichat {
namespace {

// A chunk-size line: digits and an extension we ignore, bounded.
constexpr size_t kMaxChunkLine = 1024;
// More than 15 hex digits overflow no uint64, and say nothing a body limit
// of at most 64 MiB could accept.
constexpr size_t kMaxChunkDigits = 15;

// tchar of RFC 9110 5.6.2.
bool isTokenChar(unsigned char c) { return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr; }

bool isToken(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return isTokenChar(c); });
}

// A field value: visible characters, spaces, tabs and obs-text; no other
// control character (NUL, a bare CR).
bool isFieldValue(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });
}

std::string_view trimOws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// Splits a comma-separated list into its trimmed elements.
template <class F>
void forEachListItem(std::string_view value, F f) {
    while (true) {
        auto comma = value.find(',');
        f(trimOws(value.substr(0, comma)));
        if (comma == std::string_view::npos) return;
        value.remove_prefix(comma + 1);
    }
}

// The line before `input[end]` ('\n'), without its '\r'.
std::string_view lineBefore(std::string_view input, size_t end) {
    std::string_view line = input.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

}  // namespace

RequestParser::RequestParser(ParseLimits limits) : limits_(limits) {}

bool RequestParser::bodyPending() const {
    return state_ == State::Body || state_ == State::ChunkSize || state_ == State::ChunkData ||
           state_ == State::ChunkEnd || state_ == State::Trailers;
}

void RequestParser::reset() {
    state_ = State::Start;
    request_ = IncomingRequest{};
    error_ = ParseError{};
    scanned_ = 0;
    remaining_ = 0;
    bodyBytes_ = 0;
    trailerBytes_ = 0;
    keepBody_ = true;
}

RequestParser::Event RequestParser::fail(int status, std::string code, std::string message) {
    state_ = State::Failed;
    error_ = {status, std::move(code), std::move(message)};
    return Event::Failed;
}

bool RequestParser::takeCounted(std::string& input) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
    if (keepBody_) request_.body.append(input, 0, n);
    input.erase(0, n);
    remaining_ -= n;
    return remaining_ == 0;
}

RequestParser::Event RequestParser::headersTooLarge() {
    return fail(431, "headers_too_large",
                "the request line and headers exceed " + std::to_string(limits_.maxHeaderBytes) + " bytes");
}

RequestParser::Event RequestParser::bodyTooLarge() {
    return fail(413, "payload_too_large", "request body exceeds " + std::to_string(limits_.maxBodyBytes) + " bytes");
}

RequestParser::Event RequestParser::parse(std::string& input) {
    for (;;) {
        switch (state_) {
            case State::Start: {
                // Empty lines before a request are ignored (RFC 9112 2.2).
                size_t blank = 0;
                while (blank < input.size() && (input[blank] == '\r' || input[blank] == '\n')) ++blank;
                input.erase(0, blank);
                if (input.empty()) return Event::NeedMore;
                state_ = State::Head;
                scanned_ = 0;
                break;
            }
            case State::Head: {
                // The head ends at an empty line: "\n\n" or "\n\r\n".
                size_t end = std::string::npos, i = scanned_;
                for (; i < input.size(); ++i) {
                    if (input[i] != '\n') continue;
                    if (i + 1 >= input.size()) break;  // undecided until more arrives
                    if (input[i + 1] == '\n') {
                        end = i + 2;
                        break;
                    }
                    if (input[i + 1] != '\r') continue;
                    if (i + 2 >= input.size()) break;
                    if (input[i + 2] == '\n') {
                        end = i + 3;
                        break;
                    }
                }
                scanned_ = i;
                if (end == std::string::npos)
                    return input.size() > limits_.maxHeaderBytes ? headersTooLarge() : Event::NeedMore;
                if (end > limits_.maxHeaderBytes) return headersTooLarge();
                return parseHead(input, end);
            }
            case State::Body:
                if (!takeCounted(input)) return Event::NeedMore;
                state_ = State::Done;
                break;
            case State::ChunkSize: {
                auto nl = input.find('\n');
                if (nl == std::string::npos) {
                    if (input.size() > kMaxChunkLine)
                        return fail(400, "malformed_chunk", "a chunk size line is too long");
                    return Event::NeedMore;
                }
                if (nl > kMaxChunkLine) return fail(400, "malformed_chunk", "a chunk size line is too long");
                std::string_view line = lineBefore(input, nl);
                size_t digits = 0;
                uint64_t size = 0;
                while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) {
                    if (digits == kMaxChunkDigits) return fail(413, "payload_too_large", "a chunk is too large");
                    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(line[digits])));
                    size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
                    ++digits;
                }
                std::string_view rest = trimOws(line.substr(digits));
                if (digits == 0 || (!rest.empty() && rest.front() != ';') || !isFieldValue(rest))
                    return fail(400, "malformed_chunk", "a chunk size is not hexadecimal");
                input.erase(0, nl + 1);
                if (size == 0) {
                    state_ = State::Trailers;
                    break;
                }
                if (size > limits_.maxBodyBytes - bodyBytes_) return bodyTooLarge();
                bodyBytes_ += static_cast<size_t>(size);
                remaining_ = size;
                state_ = State::ChunkData;
                break;
            }
            case State::ChunkData:
                if (!takeCounted(input)) return Event::NeedMore;
                state_ = State::ChunkEnd;
                break;
            case State::ChunkEnd: {
                if (input.empty() || (input[0] == '\r' && input.size() < 2)) return Event::NeedMore;
                size_t n = input[0] == '\n' ? 1 : (input[0] == '\r' && input[1] == '\n') ? 2 : 0;
                if (n == 0) return fail(400, "malformed_chunk", "a chunk does not end where its size says");
                input.erase(0, n);
                state_ = State::ChunkSize;
                break;
            }
            case State::Trailers: {
                // Trailer fields are read and dropped: nothing here uses them.
                auto nl = input.find('\n');
                if (nl == std::string::npos) {
                    if (trailerBytes_ + input.size() > limits_.maxHeaderBytes)
                        return fail(431, "headers_too_large", "the trailer fields are too large");
                    return Event::NeedMore;
                }
                trailerBytes_ += nl + 1;
                if (trailerBytes_ > limits_.maxHeaderBytes)
                    return fail(431, "headers_too_large", "the trailer fields are too large");
                std::string_view line = lineBefore(input, nl);
                if (!line.empty() && !isFieldValue(line))
                    return fail(400, "malformed_chunk", "a trailer field holds a control character");
                input.erase(0, nl + 1);
                if (line.empty()) state_ = State::Done;
                break;
            }
            case State::Done: return Event::Complete;
            case State::Failed: return Event::Failed;
        }
    }
}

RequestParser::Event RequestParser::parseHead(std::string& input, size_t end) {
    std::string_view head(input.data(), end);
    // Every line ends with "\n", optionally after "\r"; a CR anywhere else
    // is refused with the other control characters.
    auto nextLine = [&head]() {
        auto nl = head.find('\n');
        std::string_view line = lineBefore(head, nl);
        head.remove_prefix(nl + 1);
        return line;
    };

    std::string_view line = nextLine();
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return fail(400, "malformed_request", "the request line is not METHOD TARGET VERSION");
    std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                     version = line.substr(sp2 + 1);
    if (!isToken(method)) return fail(400, "malformed_request", "the method is not a token");
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" ||
        !std::isdigit(static_cast<unsigned char>(version[5])) || version[6] != '.' ||
        !std::isdigit(static_cast<unsigned char>(version[7])))
        return fail(400, "malformed_request", "the HTTP version is malformed");
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
        return fail(505, "http_version_not_supported", "only HTTP/1.1 and HTTP/1.0 are served");
    if (target.empty() || target.front() != '/' ||
        !std::all_of(target.begin(), target.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; }))
        return fail(400, "invalid_target", "the request target must be a path starting with '/'");
    request_.method = std::string(method);
    auto q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    request_.http10 = version == "HTTP/1.0";

    while (!head.empty()) {
        line = nextLine();
        if (line.empty()) break;  // the empty line that ends the head
        if (line.front() == ' ' || line.front() == '\t')
            return fail(400, "malformed_header", "obsolete line folding is not accepted");
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !isToken(line.substr(0, colon)))
            return fail(400, "malformed_header", "a header line is not NAME: VALUE");
        std::string_view value = trimOws(line.substr(colon + 1));
        if (!isFieldValue(value)) return fail(400, "malformed_header", "a header value holds a control character");
        if (request_.headers.size() == limits_.maxHeaderCount)
            return fail(431, "headers_too_large",
                        "more than " + std::to_string(limits_.maxHeaderCount) + " header fields");
        request_.headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
    }
    input.erase(0, end);
    return framing();
}

// Where the body ends, from the head alone (RFC 9112 6).
RequestParser::Event RequestParser::framing() {
    size_t hosts = 0;
    bool hasLength = false, hasEncoding = false, badLength = false, conflicting = false;
    std::optional<uint64_t> length;
    std::string encodings;
    for (const auto& [name, value] : request_.headers) {
        if (name == "host") ++hosts;
        if (name == "transfer-encoding") {
            hasEncoding = true;
            encodings += (encodings.empty() ? "" : ",") + value;
        }
        if (name != "content-length") continue;
        hasLength = true;
        forEachListItem(value, [&](std::string_view item) {
            if (item.empty() || item.size() > 18 ||
                !std::all_of(item.begin(), item.end(), [](unsigned char c) { return std::isdigit(c); })) {
                badLength = true;
                return;
            }
            uint64_t v = std::stoull(std::string(item));
            if (length && *length != v) conflicting = true;
            length = v;
        });
    }
    if (badLength) return fail(400, "invalid_content_length", "Content-Length must be a number of bytes");
    // Two parsers that pick different values disagree on where the request
    // ends: a request smuggled behind a proxy.
    if (conflicting)
        return fail(400, "conflicting_content_length", "the request carries differing Content-Length values");
    if (!request_.http10 && hosts != 1)
        return fail(400, "invalid_host", "an HTTP/1.1 request needs exactly one Host header");
    if (hasEncoding) {
        if (request_.http10) return fail(400, "malformed_request", "HTTP/1.0 has no Transfer-Encoding");
        if (hasLength)
            return fail(400, "conflicting_framing",
                        "a request may not carry both Content-Length and Transfer-Encoding");
        std::vector<std::string> codings;
        forEachListItem(encodings, [&](std::string_view item) { codings.push_back(lower(item)); });
        if (codings.size() != 1 || codings[0] != "chunked")
            return fail(501, "unsupported_transfer_encoding", "only the chunked transfer coding is accepted");
        state_ = State::ChunkSize;
        return Event::Head;
    }
    if (length && *length > limits_.maxBodyBytes) return bodyTooLarge();
    remaining_ = length.value_or(0);
    bodyBytes_ = static_cast<size_t>(remaining_);
    state_ = remaining_ > 0 ? State::Body : State::Done;
    return Event::Head;
}

}  // namespace omnichat
