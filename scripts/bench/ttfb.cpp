// Time to first token, as a streaming client sees it: sends COUNT POST
// requests one after another, each on a fresh connection, and measures the
// time until MARKER (the first text: `event: delta` from omnichat, the
// reply's first word from an upstream) arrives. Each reply is read to its
// end before the next request, so no request shares the machine with the
// previous one's tail (for omnichat: storing the exchange). With $IDS_FILE set, "{id}"
// in PATH takes each id of the file in turn, so no conversation's history
// grows much during the measurement.
//
//   omnichat-ttfb PORT PATH BODY COUNT MARKER [TOKEN]
//
// Prints p50, p90 and p99 in milliseconds.
#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: omnichat-ttfb PORT PATH BODY COUNT MARKER [TOKEN]\n");
        return 2;
    }
    const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
    const std::string path = argv[2], body = argv[3];
    const int count = std::stoi(argv[4]);
    const std::string marker = argv[5];
    const std::string auth = argc > 6 ? std::string("Authorization: Bearer ") + argv[6] + "\r\n" : "";
    std::vector<std::string> ids;
    std::string line;
    if (const char* file = std::getenv("IDS_FILE"))
        for (std::ifstream in(file); std::getline(in, line);) ids.push_back(line);
    auto request = [&](int i) {
        std::string p = path;
        if (auto at = p.find("{id}"); at != std::string::npos && !ids.empty())
            p.replace(at, 4, ids[static_cast<size_t>(i) % ids.size()]);
        return "POST " + p + " HTTP/1.1\r\nHost: localhost\r\n" + auth +
               "Content-Type: application/json\r\nAccept: text/event-stream\r\nConnection: close\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    };
    std::vector<double> samples;
    char buf[16384];
    for (int i = 0; i < count; ++i) {
        // A fresh connection each time, closed by the server after the reply.
        Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
        socket.setNoDelay(true);
        auto start = std::chrono::steady_clock::now();
        const auto bytes = request(i);
        socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
        std::string seen;
        bool first = false;
        for (int n; !first && (n = socket.receiveBytes(buf, sizeof buf)) > 0;) {
            seen.append(buf, static_cast<size_t>(n));
            first = seen.find(marker) != std::string::npos;
        }
        if (!first) {
            std::fprintf(stderr, "no text chunk in: %s\n", seen.substr(0, 300).c_str());
            return 1;
        }
        samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        while (socket.receiveBytes(buf, sizeof buf) > 0) {
        }
    }
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) { return samples[static_cast<size_t>(q * (samples.size() - 1))]; };
    std::printf("%.3f %.3f %.3f\n", at(0.5), at(0.9), at(0.99));
}
