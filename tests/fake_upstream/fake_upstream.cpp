#include "fake_upstream.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace omnichat::testing {

struct FakeUpstream::State {
    Protocol protocol = Protocol::OpenAi;
    mutable std::mutex mutex;
    std::condition_variable released;
    bool stopping = false;
    Mode mode = Mode::Reply;
    int status = 200;
    std::string statusBody;
    std::map<std::string, std::string> extraHeaders;
    std::vector<Recorded> requests;
    std::vector<FakeUpstream::Piece> pieces;
    bool cut = false;
    size_t clientsGone = 0;
    int gates = 0;  // opened and not yet passed
    struct Failure {
        int status;
        std::string body;
        std::map<std::string, std::string> headers;
    };
    std::vector<Failure> failNext;
};

namespace {

constexpr int kMaxConnections = 512;

// A reply streamed the way OpenAI does: role chunk, a chunk per word,
// finish chunk, usage chunk (empty choices), [DONE].
std::string streamedCompletion(const std::string& text) {
    auto chunk = [](nlohmann::json delta, nlohmann::json finish) {
        nlohmann::json j = {{"id", "chatcmpl-fake"},
                            {"object", "chat.completion.chunk"},
                            {"model", "fake-model"},
                            {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
        return "data: " + j.dump() + "\n\n";
    };
    std::string out = chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find(' ', start);
        end = end == std::string::npos ? text.size() : end + 1;
        out += chunk({{"content", text.substr(start, end - start)}}, nullptr);
        start = end;
    }
    out += chunk(nlohmann::json::object(), "stop");
    nlohmann::json usage = {{"id", "chatcmpl-fake"},
                            {"object", "chat.completion.chunk"},
                            {"model", "fake-model"},
                            {"choices", nlohmann::json::array()},
                            {"usage", {{"prompt_tokens", 11}, {"completion_tokens", 7}, {"total_tokens", 18}}}};
    out += "data: " + usage.dump() + "\n\ndata: [DONE]\n\n";
    return out;
}

std::string completion(const std::string& text) {
    nlohmann::json j = {
        {"id", "chatcmpl-fake"},
        {"object", "chat.completion"},
        {"model", "fake-model"},
        {"choices",
         {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", "stop"}}}},
        {"usage", {{"prompt_tokens", 11}, {"completion_tokens", 7}, {"total_tokens", 18}}}};
    return j.dump();
}

// The same reply in Anthropic's Messages API: its events, streamed, or the
// whole message.
std::string streamedMessage(const std::string& text) {
    auto event = [](const char* name, nlohmann::json data) {
        return std::string("event: ") + name + "\ndata: " + data.dump() + "\n\n";
    };
    std::string out = event("message_start", {{"type", "message_start"},
                                              {"message",
                                               {{"id", "msg_fake"},
                                                {"type", "message"},
                                                {"role", "assistant"},
                                                {"model", "claude-fake"},
                                                {"content", nlohmann::json::array()},
                                                {"usage", {{"input_tokens", 11}, {"output_tokens", 1}}}}}});
    out += event("content_block_start",
                 {{"type", "content_block_start"}, {"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}});
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find(' ', start);
        end = end == std::string::npos ? text.size() : end + 1;
        out += event("content_block_delta",
                     {{"type", "content_block_delta"},
                      {"index", 0},
                      {"delta", {{"type", "text_delta"}, {"text", text.substr(start, end - start)}}}});
        start = end;
    }
    out += event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
    out += event("message_delta", {{"type", "message_delta"},
                                   {"delta", {{"stop_reason", "end_turn"}, {"stop_sequence", nullptr}}},
                                   {"usage", {{"output_tokens", 7}}}});
    return out + event("message_stop", {{"type", "message_stop"}});
}

std::string message(const std::string& text) {
    return nlohmann::json{{"id", "msg_fake"},
                          {"type", "message"},
                          {"role", "assistant"},
                          {"model", "claude-fake"},
                          {"content", {{{"type", "text"}, {"text", text}}}},
                          {"stop_reason", "end_turn"},
                          {"usage", {{"input_tokens", 11}, {"output_tokens", 7}}}}
        .dump();
}

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(std::shared_ptr<FakeUpstream::State> state) : state_(std::move(state)) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        FakeUpstream::Recorded r;
        r.method = request.getMethod();
        r.path = request.getURI();
        Poco::StreamCopier::copyToString(request.stream(), r.body);
        for (const auto& [k, v] : request) {
            std::string key = k;
            std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
            r.headers[key] = v;
        }
        std::unique_lock lock(state_->mutex);
        state_->requests.push_back(r);
        state_->released.notify_all();  // for waitRequests
        auto mode = state_->mode;
        if (mode == FakeUpstream::Mode::Hang) {
            state_->released.wait(lock, [&] { return state_->stopping || state_->mode != FakeUpstream::Mode::Hang; });
            return;  // closes without an answer
        }
        int status = state_->status;
        auto body = state_->statusBody;
        auto headers = state_->extraHeaders;
        if (!state_->failNext.empty()) {
            mode = FakeUpstream::Mode::Status;
            status = state_->failNext.front().status;
            body = state_->failNext.front().body;
            headers = state_->failNext.front().headers;
            state_->failNext.erase(state_->failNext.begin());
        }
        auto pieces = state_->pieces;
        bool cut = state_->cut;
        lock.unlock();

        response.setContentType("application/json");
        switch (mode) {
            case FakeUpstream::Mode::Reply:
            case FakeUpstream::Mode::WholeReply: {
                std::string last;
                auto parsed = nlohmann::json::parse(r.body, nullptr, false);
                if (parsed.is_object() && parsed["messages"].is_array())
                    for (const auto& m : parsed["messages"])
                        if (m.value("role", "") == "user") last = m.value("content", "");
                const bool anthropic = state_->protocol == FakeUpstream::Protocol::Anthropic;
                const std::string text = "reply to: " + last;
                if (mode == FakeUpstream::Mode::Reply && parsed.is_object() && parsed.value("stream", false)) {
                    response.setContentType("text/event-stream");
                    response.setChunkedTransferEncoding(true);
                    response.send() << (anthropic ? streamedMessage(text) : streamedCompletion(text));
                } else {
                    response.send() << (anthropic ? message(text) : completion(text));
                }
                return;
            }
            case FakeUpstream::Mode::Script: {
                response.setContentType("text/event-stream");
                response.setChunkedTransferEncoding(true);
                auto& out = response.send();
                try {
                    for (const auto& piece : pieces) {
                        if (!(piece.gated ? waitForGate() : waitOrStop(piece.delay))) return;
                        out << piece.bytes;
                        out.flush();
                        if (!out) throw std::runtime_error("client gone");
                    }
                } catch (...) {
                    std::lock_guard gone(state_->mutex);
                    ++state_->clientsGone;
                    state_->released.notify_all();
                    return;
                }
                // A cut stream: no final chunk, the connection just ends.
                if (cut) static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().shutdown();
                return;
            }
            case FakeUpstream::Mode::Status:
                response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
                for (const auto& [k, v] : headers) response.set(k, v);
                response.send() << body;
                return;
            case FakeUpstream::Mode::NotJson:
                response.setContentType("text/html");
                response.send() << "<html>gateway says hi</html>";
                return;
            case FakeUpstream::Mode::EmptyChoices:
                response.send() << R"({"id":"x","model":"fake-model","choices":[]})";
                return;
            case FakeUpstream::Mode::Hang: return;
        }
    }

private:
    bool waitForGate() {
        std::unique_lock lock(state_->mutex);
        state_->released.wait(lock, [&] { return state_->stopping || state_->gates > 0; });
        if (state_->stopping) return false;
        --state_->gates;
        return true;
    }

    // Waits `delay` unless the fake is being destroyed; false then.
    bool waitOrStop(std::chrono::milliseconds delay) {
        std::unique_lock lock(state_->mutex);
        return !state_->released.wait_for(lock, delay, [&] { return state_->stopping; });
    }

    std::shared_ptr<FakeUpstream::State> state_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(std::shared_ptr<FakeUpstream::State> state) : state_(std::move(state)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Handler(state_);
    }

private:
    std::shared_ptr<FakeUpstream::State> state_;
};

}  // namespace

FakeUpstream::FakeUpstream(Protocol protocol) : state_(std::make_shared<State>()) {
    state_->protocol = protocol;
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(kMaxConnections);
    params->setMaxQueued(kMaxConnections);
    params->setKeepAlive(true);
    // Poco's default pool stops at 16 threads: a connection each, for the
    // many-concurrent-streams tests.
    pool_ = std::make_unique<Poco::ThreadPool>(2, kMaxConnections);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), *pool_, socket, params);
    server_->start();
}

FakeUpstream::~FakeUpstream() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->released.notify_all();
    server_->stopAll(true);
}

uint16_t FakeUpstream::port() const { return server_->port(); }
size_t FakeUpstream::connectionCount() const { return static_cast<size_t>(server_->totalConnections()); }
std::string FakeUpstream::baseUrl() const {
    return "http://127.0.0.1:" + std::to_string(port()) + (state_->protocol == Protocol::OpenAi ? "/v1" : "");
}

void FakeUpstream::reply() {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::Reply;
    state_->released.notify_all();
}

void FakeUpstream::replyWhole() {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::WholeReply;
    state_->released.notify_all();
}

void FakeUpstream::fail(int status, std::string body, std::map<std::string, std::string> headers) {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::Status;
    state_->status = status;
    state_->statusBody = std::move(body);
    state_->extraHeaders = std::move(headers);
}

void FakeUpstream::notJson() {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::NotJson;
}

void FakeUpstream::emptyChoices() {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::EmptyChoices;
}

void FakeUpstream::hang() {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::Hang;
}

void FakeUpstream::script(std::vector<Piece> pieces, bool cut) {
    std::lock_guard lock(state_->mutex);
    state_->mode = Mode::Script;
    state_->pieces = std::move(pieces);
    state_->cut = cut;
}

void FakeUpstream::openGate() {
    std::lock_guard lock(state_->mutex);
    ++state_->gates;
    state_->released.notify_all();
}

void FakeUpstream::failNext(int count, int status, std::string body, std::map<std::string, std::string> headers) {
    std::lock_guard lock(state_->mutex);
    for (int i = 0; i < count; ++i) state_->failNext.push_back({status, body, headers});
}

bool FakeUpstream::waitClientGone(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(state_->mutex);
    return state_->released.wait_for(lock, timeout, [&] { return state_->clientsGone > 0; });
}

bool FakeUpstream::waitRequests(size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(state_->mutex);
    return state_->released.wait_for(lock, timeout, [&] { return state_->requests.size() >= count; });
}

std::vector<FakeUpstream::Recorded> FakeUpstream::requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->requests;
}

size_t FakeUpstream::requestCount() const {
    std::lock_guard lock(state_->mutex);
    return state_->requests.size();
}

}  // namespace omnichat::testing
