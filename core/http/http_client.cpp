#include "http/http_client.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace omnichat {
struct HttpLane;
}

struct omnichat_http_exchange {
    uint64_t id = 0;  // cancel() goes by id: a handle's address may be reused
    CURL* easy = nullptr;
    omnichat::HttpLane* lane = nullptr;  // set when the I/O thread adds it
    curl_slist* headers = nullptr;
    std::string url, method, body;
    omnichat_http_callbacks_t callbacks{};
    void* userData = nullptr;
    std::vector<std::pair<std::string, std::string>> responseHeaders;
    bool headersDelivered = false;
    bool abortedByCallback = false;
    char errorBuffer[CURL_ERROR_SIZE] = {0};
};

namespace omnichat {
namespace {

constexpr long kDefaultConnectTimeoutMs = 10000;
constexpr long kDefaultTotalTimeoutMs = 300000;

std::string_view trimView(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

void deliverHeaders(omnichat_http_exchange* ex) {
    if (ex->headersDelivered) return;
    ex->headersDelivered = true;
    if (!ex->callbacks.on_headers) return;
    long status = 0;
    curl_easy_getinfo(ex->easy, CURLINFO_RESPONSE_CODE, &status);
    std::vector<omnichat_http_header_t> list;
    list.reserve(ex->responseHeaders.size());
    for (const auto& [k, v] : ex->responseHeaders) list.push_back({{k.data(), k.size()}, {v.data(), v.size()}});
    ex->callbacks.on_headers(ex->userData, static_cast<int32_t>(status), list.data(), list.size());
}

size_t onHeaderLine(char* data, size_t size, size_t count, void* ud) {
    auto* ex = static_cast<omnichat_http_exchange*>(ud);
    std::string_view line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {
        ex->responseHeaders.clear();  // a new response (after 100 Continue)
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
        ex->responseHeaders.emplace_back(std::string(trimView(line.substr(0, colon))),
                                         std::string(trimView(line.substr(colon + 1))));
    }
    return size * count;
}

size_t onBodyChunk(char* data, size_t size, size_t count, void* ud) {
    auto* ex = static_cast<omnichat_http_exchange*>(ud);
    deliverHeaders(ex);
    if (ex->callbacks.on_body && !ex->callbacks.on_body(ex->userData, {data, size * count})) {
        ex->abortedByCallback = true;
        return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
    }
    return size * count;
}

omnichat_http_transport_t transportOf(CURLcode code) {
    switch (code) {
        case CURLE_OK: return OMNICHAT_HTTP_OK;
        case CURLE_OPERATION_TIMEDOUT: return OMNICHAT_HTTP_TIMEOUT;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return OMNICHAT_HTTP_CONNECT_FAILED;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE: return OMNICHAT_HTTP_TLS_FAILED;
        default: return OMNICHAT_HTTP_FAILED;
    }
}

}  // namespace

// libcurl 7.88 walks every connection in a multi handle's cache twice per
// transfer: looking for an idle one to reuse, and on removal looking for the
// transfer's last one. With 2,000 calls held open to one HTTP/1.1 host that
// was a fifth of the server's CPU. So transfers are spread over lanes, each
// its own multi handle and cache, all on the one I/O thread.
constexpr size_t kLanes = 16;

// One multi handle: its transfers, and when it next wants its timeouts run.
struct HttpLane {
    CURLM* multi = nullptr;
    uint32_t index = 0;
    int epoll = -1;
    size_t running = 0;                                             // I/O thread only
    std::optional<std::chrono::steady_clock::time_point> timerDue;  // I/O thread only
};

namespace {

// epoll's word for a socket says which lane it belongs to; the wake-up
// eventfd has a lane number no lane has.
constexpr uint32_t kWakeLane = UINT32_MAX;
uint64_t epollWord(uint32_t lane, int fd) { return uint64_t{lane} << 32 | static_cast<uint32_t>(fd); }

}  // namespace

// libcurl's event interface on epoll: each wake-up touches only the
// transfers whose sockets are ready or whose timer is due, so the cost of a
// wake-up does not grow with the number of calls held open (with
// curl_multi_perform it walks all of them, which at 10,000 slow calls was
// most of the server's CPU).
struct HttpClient::Impl {
    std::array<HttpLane, kLanes> lanes;
    int epoll = -1;
    int wake = -1;  // eventfd: start(), cancel() and stop() ring it
    std::thread thread;
    std::mutex mutex;
    std::vector<omnichat_http_exchange*> toAdd;
    std::vector<uint64_t> toCancel;
    bool stopping = false;
    uint64_t nextId = 1;
    std::unordered_map<uint64_t, omnichat_http_exchange*> active;  // I/O thread only

    void ring() {
        uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);  // a full counter is still a wake-up
    }

    // CURLMOPT_SOCKETFUNCTION: which events curl waits for on a socket.
    static int onSocket(CURL*, curl_socket_t socket, int what, void* laneData, void* registered) {
        auto* lane = static_cast<HttpLane*>(laneData);
        if (what == CURL_POLL_REMOVE) {
            epoll_ctl(lane->epoll, EPOLL_CTL_DEL, socket, nullptr);
            curl_multi_assign(lane->multi, socket, nullptr);
            return 0;
        }
        epoll_event event{};
        event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
        event.data.u64 = epollWord(lane->index, socket);
        if (registered) {
            epoll_ctl(lane->epoll, EPOLL_CTL_MOD, socket, &event);
        } else {
            epoll_ctl(lane->epoll, EPOLL_CTL_ADD, socket, &event);
            curl_multi_assign(lane->multi, socket, lane);
        }
        return 0;
    }

    // CURLMOPT_TIMERFUNCTION: when curl next wants to run a lane's timeouts.
    static int onTimer(CURLM*, long timeoutMs, void* laneData) {
        auto* lane = static_cast<HttpLane*>(laneData);
        if (timeoutMs < 0)
            lane->timerDue.reset();
        else
            lane->timerDue = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        return 0;
    }

    int waitMs() const {
        std::optional<std::chrono::steady_clock::time_point> due;
        for (const auto& lane : lanes)
            if (lane.timerDue && (!due || *lane.timerDue < *due)) due = lane.timerDue;
        if (!due) return -1;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - std::chrono::steady_clock::now());
        return static_cast<int>(std::max<int64_t>(0, left.count()));
    }

    // The lane running fewest transfers, the first on a tie: light traffic
    // stays on one lane and keeps reusing its connections.
    HttpLane& quietestLane() {
        return *std::min_element(lanes.begin(), lanes.end(),
                                 [](const HttpLane& a, const HttpLane& b) { return a.running < b.running; });
    }

    void finish(omnichat_http_exchange* ex, omnichat_http_transport_t transport, const char* message) {
        curl_multi_remove_handle(ex->lane->multi, ex->easy);
        --ex->lane->running;
        active.erase(ex->id);
        long status = 0;
        if (transport == OMNICHAT_HTTP_OK) {
            deliverHeaders(ex);
            curl_easy_getinfo(ex->easy, CURLINFO_RESPONSE_CODE, &status);
        }
        omnichat_http_outcome_t outcome{sizeof(omnichat_http_outcome_t), transport, static_cast<int32_t>(status),
                                        message};
        ex->callbacks.on_complete(ex->userData, &outcome);
        curl_slist_free_all(ex->headers);
        curl_easy_cleanup(ex->easy);
        delete ex;
    }

    void finishCompleted(HttpLane& lane) {
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(lane.multi, &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            omnichat_http_exchange* ex = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&ex));
            CURLcode code = msg->data.result;
            auto transport = transportOf(code);
            if (transport == OMNICHAT_HTTP_TIMEOUT) {
                curl_off_t connected = 0;
                curl_easy_getinfo(ex->easy, CURLINFO_CONNECT_TIME_T, &connected);
                if (connected == 0) transport = OMNICHAT_HTTP_CONNECT_TIMEOUT;
            }
            if (ex->abortedByCallback) {
                finish(ex, OMNICHAT_HTTP_CANCELLED, "aborted by the plugin");
                continue;
            }
            std::string message = ex->errorBuffer[0] ? ex->errorBuffer : curl_easy_strerror(code);
            // curl's text leaves out why a connect failed (refused, no
            // local port left, ...), which is what an operator needs.
            long osErrno = 0;
            if (transport == OMNICHAT_HTTP_CONNECT_FAILED &&
                curl_easy_getinfo(ex->easy, CURLINFO_OS_ERRNO, &osErrno) == CURLE_OK && osErrno != 0)
                message += " (" + std::system_category().message(static_cast<int>(osErrno)) + ")";
            finish(ex, transport, message.c_str());
        }
    }

    void run() {
        std::array<epoll_event, 256> events;
        for (;;) {
            std::vector<omnichat_http_exchange*> adds;
            std::vector<uint64_t> cancels;
            bool stop;
            {
                std::lock_guard lock(mutex);
                adds.swap(toAdd);
                cancels.swap(toCancel);
                stop = stopping;
            }
            for (auto* ex : adds) {
                active.emplace(ex->id, ex);
                ex->lane = &quietestLane();
                ++ex->lane->running;
                curl_multi_add_handle(ex->lane->multi, ex->easy);  // sets a timer due now: the next wait does not block
            }
            for (auto id : cancels)
                if (auto it = active.find(id); it != active.end())
                    finish(it->second, OMNICHAT_HTTP_CANCELLED, "cancelled");
            if (stop) {
                while (!active.empty()) finish(active.begin()->second, OMNICHAT_HTTP_CANCELLED, "host shutting down");
                return;
            }
            int ready = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), waitMs());
            int running = 0;
            std::array<bool, kLanes> acted{};
            for (int i = 0; i < ready; ++i) {
                const auto word = events[static_cast<size_t>(i)].data.u64;
                const auto laneIndex = static_cast<uint32_t>(word >> 32);
                const auto fd = static_cast<int>(static_cast<uint32_t>(word));
                uint32_t what = events[static_cast<size_t>(i)].events;
                if (laneIndex == kWakeLane) {
                    uint64_t count;
                    [[maybe_unused]] auto n = ::read(wake, &count, sizeof count);
                    continue;
                }
                int mask = (what & EPOLLIN ? CURL_CSELECT_IN : 0) | (what & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                           (what & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(lanes[laneIndex].multi, fd, mask, &running);
                acted[laneIndex] = true;
            }
            const auto now = std::chrono::steady_clock::now();
            for (auto& lane : lanes) {
                if (!lane.timerDue || now < *lane.timerDue) continue;
                lane.timerDue.reset();
                curl_multi_socket_action(lane.multi, CURL_SOCKET_TIMEOUT, 0, &running);
                acted[lane.index] = true;
            }
            for (auto& lane : lanes)
                if (acted[lane.index]) finishCompleted(lane);
        }
    }
};

HttpClient::HttpClient(size_t keptConnections, size_t maxConnections) : impl_(std::make_unique<Impl>()) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    impl_->epoll = epoll_create1(EPOLL_CLOEXEC);
    impl_->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (impl_->epoll < 0 || impl_->wake < 0) throw std::system_error(errno, std::generic_category(), "http client");
    for (uint32_t i = 0; i < kLanes; ++i) {
        auto& lane = impl_->lanes[i];
        lane.index = i;
        lane.epoll = impl_->epoll;
        lane.multi = curl_multi_init();
        curl_multi_setopt(lane.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
        // curl's default keeps 4 idle connections per transfer running at
        // the time one ends: after a burst, each call ending in a quieter
        // moment closed one that the next burst had to open again (a TCP and
        // TLS handshake each, and a local port left in TIME_WAIT). A lane
        // may hold them all: traffic is not spread evenly when it is light.
        curl_multi_setopt(lane.multi, CURLMOPT_MAXCONNECTS, static_cast<long>(keptConnections));
        curl_multi_setopt(lane.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                          static_cast<long>((maxConnections + kLanes - 1) / kLanes));
        curl_multi_setopt(lane.multi, CURLMOPT_SOCKETFUNCTION, &Impl::onSocket);
        curl_multi_setopt(lane.multi, CURLMOPT_SOCKETDATA, &lane);
        curl_multi_setopt(lane.multi, CURLMOPT_TIMERFUNCTION, &Impl::onTimer);
        curl_multi_setopt(lane.multi, CURLMOPT_TIMERDATA, &lane);
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = epollWord(kWakeLane, impl_->wake);
    epoll_ctl(impl_->epoll, EPOLL_CTL_ADD, impl_->wake, &event);
    impl_->thread = std::thread([this] { impl_->run(); });
}

HttpClient::~HttpClient() {
    stop();
    for (auto& lane : impl_->lanes) curl_multi_cleanup(lane.multi);
    ::close(impl_->wake);
    ::close(impl_->epoll);
}

void HttpClient::stop() {
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->stopping) return;
        impl_->stopping = true;
    }
    impl_->ring();
    impl_->thread.join();
    for (auto* ex : impl_->toAdd) {  // started after the loop's last look
        omnichat_http_outcome_t outcome{sizeof(omnichat_http_outcome_t), OMNICHAT_HTTP_CANCELLED, 0,
                                        "host shutting down"};
        ex->callbacks.on_complete(ex->userData, &outcome);
        curl_slist_free_all(ex->headers);
        curl_easy_cleanup(ex->easy);
        delete ex;
    }
    impl_->toAdd.clear();
}

omnichat_http_exchange_t* HttpClient::start(const omnichat_http_request_t& request,
                                            const omnichat_http_callbacks_t& callbacks, void* userData) {
    if (request.struct_size < offsetof(omnichat_http_request_t, total_timeout_ms) + sizeof(int64_t)) return nullptr;
    if (callbacks.struct_size < sizeof(omnichat_http_callbacks_t) || !callbacks.on_complete) return nullptr;
    auto ex = std::make_unique<omnichat_http_exchange>();
    ex->callbacks = callbacks;
    ex->userData = userData;
    ex->url.assign(request.url.data ? request.url.data : "", request.url.len);
    ex->method.assign(request.method.data ? request.method.data : "GET", request.method.data ? request.method.len : 3);
    ex->body.assign(request.body.data ? request.body.data : "", request.body.len);
    if (ex->url.rfind("http://", 0) != 0 && ex->url.rfind("https://", 0) != 0) return nullptr;

    for (size_t i = 0; i < request.header_count; ++i) {
        const auto& h = request.headers[i];
        std::string line(h.name.data, h.name.len);
        line += ": ";
        line.append(h.value.data ? h.value.data : "", h.value.len);
        if (line.find_first_of("\r\n") != std::string::npos) {
            curl_slist_free_all(ex->headers);
            return nullptr;
        }
        ex->headers = curl_slist_append(ex->headers, line.c_str());
    }
    // curl would otherwise wait for "100 Continue" before sending bodies.
    ex->headers = curl_slist_append(ex->headers, "Expect:");

    CURL* e = curl_easy_init();
    ex->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, ex->url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, ex->method.c_str());
    if (!ex->body.empty() || ex->method == "POST" || ex->method == "PUT") {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, ex->body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(ex->body.size()));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, ex->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &onHeaderLine);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, ex.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &onBodyChunk);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, ex.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, ex.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ex->errorBuffer);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Chat streams arrive in small pieces; curl's 16 KiB default receive
    // buffer per call is most of what thousands of held calls cost.
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS,
        request.connect_timeout_ms > 0 ? static_cast<long>(request.connect_timeout_ms) : kDefaultConnectTimeoutMs);
    curl_easy_setopt(
        e, CURLOPT_TIMEOUT_MS,
        request.total_timeout_ms > 0 ? static_cast<long>(request.total_timeout_ms) : kDefaultTotalTimeoutMs);
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->stopping) {
            curl_slist_free_all(ex->headers);
            curl_easy_cleanup(e);
            return nullptr;
        }
        ex->id = impl_->nextId++;
        impl_->toAdd.push_back(ex.get());
    }
    auto* handle = ex.release();  // the I/O thread owns it from here
    impl_->ring();
    return handle;
}

void HttpClient::cancel(omnichat_http_exchange_t* exchange) {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->toCancel.push_back(exchange->id);
    }
    impl_->ring();
}

}  // namespace omnichat
