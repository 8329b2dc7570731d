#pragma once
#include <omnichat/omnichat_plugin.h>

#include <cstddef>
#include <memory>

namespace omnichat {

// The HTTP client the host offers plugins: one event-driven I/O thread
// (libcurl multi) carries every upstream exchange, so thousands of slow
// provider calls cost sockets, not threads. Keep-alive connections are pooled
// per host; TLS peers are always verified.
class HttpClient {
public:
    // Up to `keptConnections` idle connections stay open for reuse. At most
    // about `maxConnections` are open at once: a call beyond that waits for
    // one to be free rather than failing when descriptors run out.
    HttpClient(size_t keptConnections, size_t maxConnections);
    ~HttpClient();  // stop()
    // Completes every running exchange as CANCELLED and refuses new ones.
    // Idempotent.
    void stop();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // See omnichat_host_api_t::http_start and http_cancel.
    omnichat_http_exchange_t* start(const omnichat_http_request_t& request, const omnichat_http_callbacks_t& callbacks,
                                    void* userData);
    void cancel(omnichat_http_exchange_t* exchange);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace omnichat
