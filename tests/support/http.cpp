#include "http.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <stdexcept>

namespace omnichat::testing {

HttpResponse httpCall(uint16_t port, const std::string& method, const std::string& path, const std::string& token,
                      const std::string& body, const std::string& contentType,
                      const std::map<std::string, std::string>& headers) {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty()) request.setContentType(contentType);
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    HttpResponse out;
    out.status = static_cast<int>(response.getStatus());
    for (const auto& [k, v] : response) {
        std::string key = k;
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        out.headers[key] = v;
    }
    Poco::StreamCopier::copyToString(in, out.body);
    return out;
}

std::string responseBody(const std::string& response) {
    auto headEnd = response.find("\r\n\r\n");
    if (headEnd == std::string::npos) throw std::runtime_error("no end of head");
    std::string head = response.substr(0, headEnd);
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string body = response.substr(headEnd + 4);
    if (head.find("\r\ntransfer-encoding: chunked") == std::string::npos) return body;
    std::string out;
    size_t at = 0;
    for (;;) {
        auto lineEnd = body.find("\r\n", at);
        if (lineEnd == std::string::npos) throw std::runtime_error("unterminated chunk size");
        size_t size = std::stoul(body.substr(at, lineEnd - at), nullptr, 16);
        at = lineEnd + 2;
        if (size == 0) return out;
        if (body.size() < at + size + 2 || body.compare(at + size, 2, "\r\n") != 0)
            throw std::runtime_error("malformed chunk");
        out.append(body, at, size);
        at += size + 2;
    }
}

uint16_t freePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(fd);
        throw std::runtime_error("no free port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace omnichat::testing
