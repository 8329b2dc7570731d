#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace Poco {
class ThreadPool;
}
namespace Poco::Net {
class HTTPServer;
}

namespace omnichat::testing {

// A real HTTP server on loopback speaking OpenAI's chat-completions
// protocol, or Anthropic's Messages API. It records every request and
// answers according to its mode.
class FakeUpstream {
public:
    enum class Protocol { OpenAi, Anthropic };
    struct Recorded {
        std::string method, path, body;
        std::map<std::string, std::string> headers;  // names lowercased
    };
    enum class Mode {
        Reply,         // 200 with a completion whose text is "reply to: <last user message>"
        WholeReply,    // the same, never streamed, even when the request asks for a stream
        Status,        // `status` with `statusBody` and `extraHeaders`
        NotJson,       // 200 with a body that is not JSON
        EmptyChoices,  // 200 with "choices": []
        Hang,          // never answers until release() or destruction
        Script,        // 200 text/event-stream: the scripted pieces, in order
    };
    // One piece of a scripted stream: wait `delay` (or, when `gated`, until
    // openGate()), then write `bytes`.
    struct Piece {
        std::chrono::milliseconds delay;
        std::string bytes;
        bool gated = false;
    };

    explicit FakeUpstream(Protocol protocol = Protocol::OpenAi);
    ~FakeUpstream();

    uint16_t port() const;
    // The plugin's base_url: http://127.0.0.1:PORT/v1 for OpenAI's protocol,
    // http://127.0.0.1:PORT for Anthropic's (its plugin adds /v1/messages).
    std::string baseUrl() const;

    void reply();
    void replyWhole();
    void fail(int status, std::string body, std::map<std::string, std::string> headers = {});
    void notJson();
    void emptyChoices();
    void hang();
    // Streams `pieces`, then ends the response (cleanly, or by closing the
    // connection when `cut`).
    void script(std::vector<Piece> pieces, bool cut = false);
    // Lets one gated piece through.
    void openGate();
    // The next `count` requests get this status before the mode applies.
    void failNext(int count, int status, std::string body, std::map<std::string, std::string> headers = {});
    // Waits until a client went away while the fake was still writing;
    // false when none did within `timeout`.
    bool waitClientGone(std::chrono::milliseconds timeout) const;

    // Waits until `count` requests have arrived; false on timeout.
    bool waitRequests(size_t count, std::chrono::milliseconds timeout) const;
    std::vector<Recorded> requests() const;
    size_t requestCount() const;
    // Connections accepted so far (keep-alive ones count once).
    size_t connectionCount() const;

    struct State;

private:
    std::shared_ptr<State> state_;
    std::unique_ptr<Poco::ThreadPool> pool_;  // outlives the server
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// Pieces of an OpenAI chat-completions stream, for scripts.
inline std::string chunk(const std::string& content, const std::string& finish = "") {
    nlohmann::json j = {{"id", "c"},
                        {"model", "fake-model"},
                        {"choices",
                         {{{"index", 0},
                           {"delta", {{"content", content}}},
                           {"finish_reason", finish.empty() ? nlohmann::json(nullptr) : nlohmann::json(finish)}}}}};
    return "data: " + j.dump() + "\n\n";
}
inline const std::string kUsage =
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n";
inline const std::string kDone = "data: [DONE]\n\n";

}  // namespace omnichat::testing
