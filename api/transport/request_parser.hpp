#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "transport/incoming_request.hpp"

namespace omnichat {

// What the edge accepts before anything else looks at a request.
struct ParseLimits {
    size_t maxHeaderBytes = 16 * 1024;  // request line, headers and their line ends
    size_t maxBodyBytes = 1024 * 1024;  // after de-chunking
    size_t maxHeaderCount = 100;
};

// A request refused while parsing, as the client sees it (JSON error).
struct ParseError {
    int status = 400;
    std::string code;
    std::string message;
};

// An incremental HTTP/1.1 request parser (RFC 9112), strict where leniency
// lets two parsers disagree about where a request ends (request smuggling):
// differing Content-Length values, Content-Length beside Transfer-Encoding,
// obsolete line folding, whitespace before a header's colon and control
// characters are refused. Linear in its input however it arrives: the head
// is scanned once, the body is counted, not searched. Bounded: a head over
// maxHeaderBytes is refused as soon as it is that long, a body over
// maxBodyBytes as soon as its length is known (Content-Length) or reached
// (chunked).
class RequestParser {
public:
    enum class Event {
        NeedMore,  // every byte of the input was taken; send more
        Head,      // request() has its line and headers; the body follows
        Complete,  // request() is whole
        Failed     // error() says why; the connection cannot be read further
    };

    explicit RequestParser(ParseLimits limits);

    // Takes what it parses from the front of `input`. Returns Head once a
    // request, before its body: the caller may then say whether the body is
    // kept (keepBody) or stop reading. Then Complete; reset() before the
    // next request.
    Event parse(std::string& input);
    IncomingRequest& request() { return request_; }
    const ParseError& error() const { return error_; }
    // Whether the body is stored in request().body or only counted (a route
    // that reads none).
    void keepBody(bool keep) { keepBody_ = keep; }
    // Nothing of a request has arrived yet.
    bool idle() const { return state_ == State::Start; }
    // The head announced a body not read in full yet.
    bool bodyPending() const;
    // Ready for the next request on the connection.
    void reset();

private:
    enum class State { Start, Head, Body, ChunkSize, ChunkData, ChunkEnd, Trailers, Done, Failed };
    Event fail(int status, std::string code, std::string message);
    Event parseHead(std::string& input, size_t end);
    Event framing();
    // Takes what is left of a counted stretch of body (Content-Length, or a
    // chunk); true once all of it is in.
    bool takeCounted(std::string& input);
    Event headersTooLarge();
    Event bodyTooLarge();

    const ParseLimits limits_;
    State state_ = State::Start;
    IncomingRequest request_;
    ParseError error_;
    size_t scanned_ = 0;      // head bytes already searched for its end
    uint64_t remaining_ = 0;  // of the Content-Length body, or of the chunk
    size_t bodyBytes_ = 0;
    size_t trailerBytes_ = 0;
    bool keepBody_ = true;
};

}  // namespace omnichat
