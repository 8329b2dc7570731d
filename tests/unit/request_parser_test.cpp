#include "transport/request_parser.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

struct Parsed {
    RequestParser::Event event;
    IncomingRequest request;
    ParseError error;
};

// Feeds `bytes` in pieces of `step` (the whole at once when 0) and parses
// one request to its end or its failure.
Parsed parse(const std::string& bytes, size_t step = 0, ParseLimits limits = {}) {
    RequestParser parser(limits);
    std::string input;
    size_t fed = 0;
    for (;;) {
        auto event = parser.parse(input);
        if (event == RequestParser::Event::Head) continue;
        if (event == RequestParser::Event::Complete || event == RequestParser::Event::Failed)
            return {event, parser.request(), parser.error()};
        if (fed == bytes.size()) return {event, parser.request(), parser.error()};
        size_t n = step ? std::min(step, bytes.size() - fed) : bytes.size();
        input.append(bytes, fed, n);
        fed += n;
    }
}

TEST(RequestParser, ReadsARequestHoweverItArrives) {
    const std::string request =
        "\r\nPOST /conversations/abc/messages?x=1&y=%20z HTTP/1.1\r\nHost: h\r\nContent-Type:  application/json \r\n"
        "X-Empty:\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}";
    for (size_t step : {0, 1, 2, 3, 7, 64}) {
        SCOPED_TRACE(step);
        auto p = parse(request, step);
        ASSERT_EQ(p.event, RequestParser::Event::Complete) << p.error.code;
        EXPECT_EQ(p.request.method, "POST");
        EXPECT_EQ(p.request.path, "/conversations/abc/messages");
        EXPECT_EQ(p.request.query, "x=1&y=%20z");
        EXPECT_EQ(*p.request.header("content-type"), "application/json");
        EXPECT_EQ(*p.request.header("x-empty"), "");
        EXPECT_EQ(p.request.body, "{\"a\":\"bcd\"}");
        EXPECT_EQ(p.request.queryParam("y"), " z");
        EXPECT_FALSE(p.request.http10);
    }
}

TEST(RequestParser, ReadsChunkedBodiesWithExtensionsAndTrailers) {
    const std::string request =
        "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: Chunked\n\n3;name=v\r\nabc\r\nA\r\n0123456789\r\n0\r\n"
        "Trailer: x\r\n\r\n";
    for (size_t step : {0, 1, 5}) {
        auto p = parse(request, step);
        ASSERT_EQ(p.event, RequestParser::Event::Complete) << p.error.code;
        EXPECT_EQ(p.request.body, "abc0123456789");
    }
}

TEST(RequestParser, LeavesTheNextRequestInItsInput) {
    RequestParser parser(ParseLimits{});
    std::string input = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(parser.parse(input), RequestParser::Event::Head);
    EXPECT_EQ(parser.parse(input), RequestParser::Event::Complete);
    EXPECT_EQ(parser.request().path, "/a");
    parser.reset();
    EXPECT_EQ(parser.parse(input), RequestParser::Event::Head);
    EXPECT_EQ(parser.parse(input), RequestParser::Event::Complete);
    EXPECT_EQ(parser.request().path, "/b");
    EXPECT_TRUE(input.empty());
}

TEST(RequestParser, RefusesWhatCouldBeFramedTwoWays) {
    struct Case {
        std::string request;
        int status;
        const char* code;
    };
    for (const auto& c : std::vector<Case>{
             {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
              "conflicting_content_length"},
             {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, "invalid_content_length"},
             {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400, "invalid_content_length"},
             {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400, "invalid_content_length"},
             {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400, "invalid_content_length"},
             {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400,
              "conflicting_framing"},
             {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
              "unsupported_transfer_encoding"},
             {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
              "unsupported_transfer_encoding"},
             {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "malformed_request"},
             {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400, "malformed_header"},
             {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "malformed_header"},
             {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, "malformed_header"},
             {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid_host"},
             {"GET / HTTP/1.1\r\n\r\n", 400, "invalid_host"},
             {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed_request"},
             {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "malformed_request"},
             {"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid_target"},
             {"GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid_target"},
             {"GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505, "http_version_not_supported"},
             {"GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400, "malformed_request"},
             {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", 400, "malformed_chunk"},
             {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\n", 400, "malformed_chunk"},
         }) {
        SCOPED_TRACE(c.request);
        for (size_t step : {0, 1}) {
            auto p = parse(c.request, step);
            ASSERT_EQ(p.event, RequestParser::Event::Failed);
            EXPECT_EQ(p.error.status, c.status);
            EXPECT_EQ(p.error.code, c.code);
        }
    }
}

TEST(RequestParser, AcceptsRepeatedEqualContentLengths) {
    auto p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab");
    ASSERT_EQ(p.event, RequestParser::Event::Complete);
    EXPECT_EQ(p.request.body, "ab");
}

TEST(RequestParser, RefusesTooMuchAsSoonAsItIsTooMuch) {
    ParseLimits limits;
    limits.maxHeaderBytes = 100;
    limits.maxBodyBytes = 10;
    limits.maxHeaderCount = 3;
    // A head that has not ended but is already over its limit.
    auto p = parse("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'a'), 0, limits);
    EXPECT_EQ(p.event, RequestParser::Event::Failed);
    EXPECT_EQ(p.error.status, 431);
    p = parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 0, limits);
    EXPECT_EQ(p.error.status, 431);
    // A declared body over the limit, before any of it arrives.
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 0, limits);
    EXPECT_EQ(p.event, RequestParser::Event::Failed);
    EXPECT_EQ(p.error.status, 413);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, limits);
    EXPECT_EQ(p.event, RequestParser::Event::Failed);
    // Chunks adding up past the limit.
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", 0, limits);
    EXPECT_EQ(p.error.status, 413);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 0, limits);
    EXPECT_EQ(p.error.status, 413);
}

TEST(RequestParser, KeepsTheBodyOnlyWhenAsked) {
    RequestParser parser(ParseLimits{});
    std::string input = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    ASSERT_EQ(parser.parse(input), RequestParser::Event::Head);
    parser.keepBody(false);
    ASSERT_EQ(parser.parse(input), RequestParser::Event::Complete);
    EXPECT_TRUE(parser.request().body.empty());
}

TEST(IncomingRequest, KeepAliveFollowsTheVersionAndTheConnectionHeader) {
    IncomingRequest r;
    EXPECT_TRUE(r.wantsKeepAlive());
    r.headers = {{"connection", "Keep-Alive, Close"}};
    EXPECT_FALSE(r.wantsKeepAlive());
    r.http10 = true;
    r.headers = {};
    EXPECT_FALSE(r.wantsKeepAlive());
    r.headers = {{"connection", "keep-alive"}};
    EXPECT_TRUE(r.wantsKeepAlive());
}

TEST(IncomingRequest, DecodesQueryParameters) {
    IncomingRequest r;
    r.query = "a=1&b=x+y%2Bz&c&d=%zz&a=2";
    EXPECT_EQ(r.queryParam("a"), "1");
    EXPECT_EQ(r.queryParam("b"), "x y+z");
    EXPECT_EQ(r.queryParam("c"), "");
    EXPECT_EQ(r.queryParam("d"), std::nullopt);
    EXPECT_EQ(r.queryParam("e"), std::nullopt);
    EXPECT_EQ(percentDecode("%4", false), std::nullopt);
    EXPECT_EQ(percentDecode("a%2Fb+", false), "a/b+");
}

}  // namespace
}  // namespace omnichat
