// Many streaming replies at once, each checked whole: CONCURRENCY threads
// each run ROUNDS streams one after another, on fresh connections, and every
// stream must carry the upstream's CHUNKS pieces of text in order ("c0 c1
// ... "), then its end: `data: [DONE]` from an upstream, or from omnichat
// (when TOKEN is given) an `event: done` whose `response` is the text the
// deltas carried. With $IDS_FILE set, "{id}" in PATH takes the ids in turn.
//
//   omnichat-streams PORT PATH BODY CONCURRENCY ROUNDS CHUNKS [TOKEN]
//
// Prints: intact total, then time to the first text p50 p99 and to the end
// p50 p99, in milliseconds.
#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <omnichat/sse.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// The body of a chunked HTTP response; empty when the framing is broken.
std::string dechunk(const std::string& response) {
    auto at = response.find("\r\n\r\n");
    if (at == std::string::npos) return "";
    std::string body;
    for (at += 4;;) {
        auto eol = response.find("\r\n", at);
        if (eol == std::string::npos) return "";
        size_t size = std::strtoul(response.substr(at, eol - at).c_str(), nullptr, 16);
        if (size == 0) return body;
        if (eol + 2 + size > response.size()) return "";
        body.append(response, eol + 2, size);
        at = eol + 2 + size + 2;
    }
}

// Whether a stream's body holds exactly `expected`, then its proper end.
bool intact(const std::string& body, const std::string& expected, bool fromOmnichat) {
    std::string text, done;
    bool ended = false;
    omnichat::SseParser parser([&](const omnichat::SseEvent& e) {
        if (fromOmnichat) {
            auto data = nlohmann::json::parse(e.data, nullptr, false);
            if (e.event == "delta") text += data.value("content", "");
            if (e.event == "done") done = data.value("response", ""), ended = true;
        } else if (e.data == "[DONE]") {
            ended = true;
        } else {
            auto chunk = nlohmann::json::parse(e.data, nullptr, false);
            if (chunk.is_object() && chunk["choices"].is_array() && !chunk["choices"].empty())
                text += chunk["choices"][0]["delta"].value("content", "");
        }
    });
    parser.feed(body);
    return ended && text == expected && (!fromOmnichat || done == expected);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: omnichat-streams PORT PATH BODY CONCURRENCY ROUNDS CHUNKS [TOKEN]\n");
        return 2;
    }
    const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
    const std::string path = argv[2], body = argv[3];
    const int concurrency = std::stoi(argv[4]), rounds = std::stoi(argv[5]), chunks = std::stoi(argv[6]);
    const bool fromOmnichat = argc > 7;
    const std::string auth = fromOmnichat ? std::string("Authorization: Bearer ") + argv[7] + "\r\n" : "";
    const std::string marker = fromOmnichat ? "event: delta" : "c0 ";
    std::string expected;
    for (int i = 0; i < chunks; ++i) expected += "c" + std::to_string(i) + " ";
    std::vector<std::string> ids;
    std::string line;
    if (const char* file = std::getenv("IDS_FILE"))
        for (std::ifstream in(file); std::getline(in, line);) ids.push_back(line);

    std::atomic<int> next{0}, whole{0};
    std::mutex mutex;
    std::vector<double> firsts, ends;
    auto client = [&] {
        char buf[65536];
        for (int r = 0; r < rounds; ++r) {
            int n = next++;
            std::string p = path;
            if (auto at = p.find("{id}"); at != std::string::npos && !ids.empty())
                p.replace(at, 4, ids[static_cast<size_t>(n) % ids.size()]);
            std::string request = "POST " + p + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + auth +
                                  "Content-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body;
            try {
                Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
                socket.setNoDelay(true);
                auto start = Clock::now();
                socket.sendBytes(request.data(), static_cast<int>(request.size()));
                std::string response;
                double first = -1;
                for (int got; (got = socket.receiveBytes(buf, sizeof buf)) > 0;) {
                    response.append(buf, static_cast<size_t>(got));
                    if (first < 0 && response.find(marker) != std::string::npos)
                        first = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
                }
                double end = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
                if (first >= 0 && intact(dechunk(response), expected, fromOmnichat)) {
                    ++whole;
                    std::lock_guard lock(mutex);
                    firsts.push_back(first);
                    ends.push_back(end);
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "stream %d: %s\n", n, e.what());
            }
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < concurrency; ++i) threads.emplace_back(client);
    for (auto& t : threads) t.join();

    auto at = [](std::vector<double>& v, double q) {
        if (v.empty()) return -1.0;
        std::sort(v.begin(), v.end());
        return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
    };
    std::printf("%d %d %.3f %.3f %.3f %.3f\n", whole.load(), concurrency * rounds, at(firsts, 0.5), at(firsts, 0.99),
                at(ends, 0.5), at(ends, 0.99));
    return whole.load() == concurrency * rounds ? 0 : 1;
}
