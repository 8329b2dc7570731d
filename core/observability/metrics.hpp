#pragma once
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace omnichat {

// The process's counters, histograms and gauges, rendered in the Prometheus
// text format for GET /metrics. Safe from any thread: each update takes one
// short lock (a few per request, nothing per streamed chunk).
class Metrics {
public:
    Metrics();

    // One answered HTTP request; `route` is the route's pattern
    // ("/conversations/{id}/messages"), never the raw path.
    void observeRequest(const std::string& method, const std::string& route, int status, double seconds);

    // One provider attempt ended: outcome "ok", a failure category ("timeout",
    // "rate_limited", ...) or "cancelled".
    void observeProviderCall(const std::string& provider, const std::string& model, const std::string& outcome,
                             double seconds);
    void observeFirstToken(const std::string& provider, double seconds);
    void countTokens(const std::string& provider, int64_t prompt, int64_t completion);
    void countRetry(const std::string& provider);
    void countFallback(const std::string& fromProvider);
    // A send started its provider call from a held history before storage
    // confirmed it; `confirmed` false: storage did not, the call was
    // cancelled and the send started again.
    void countEarlyStart(bool confirmed);
    // One storage call returned (or threw): `operation` names it
    // ("load_conversation", "append_exchange", ...). With the worker queue's
    // wait, says whether a slow answer waited for a thread or for the
    // database.
    void observeStorageCall(const char* operation, double seconds);
    // Time a task waited in the worker queue before a thread took it.
    void observeWorkerWait(double seconds);

    // A value read when the metrics are rendered (queue depth, in flight).
    void addGauge(const std::string& name, const std::string& help, std::function<double()> read);
    // The same for a total kept elsewhere (a plugin's count), typed counter.
    void addSampledCounter(const std::string& name, const std::string& help, std::function<double()> read);

    std::string render() const;

    // Label sets a family holds at most; past it, new ones count together
    // under kOverflowLabels.
    static constexpr size_t kMaxSeriesPerFamily = 1000;
    static constexpr std::string_view kOverflowLabels = "overflow=\"true\"";

private:
    struct Histogram {
        std::vector<uint64_t> buckets;  // cumulative counts are computed when rendered
        uint64_t count = 0;
        double sum = 0;
    };
    struct Family {
        std::string help;
        bool histogram = false;
        // By rendered label set; found by a string_view, without a copy.
        std::map<std::string, double, std::less<>> counters;
        std::map<std::string, Histogram, std::less<>> histograms;
    };
    struct Gauge {
        std::string name, help;
        std::function<double()> read;
        const char* type;  // "gauge" or "counter"
    };

    Family& familyNamed(std::string_view name);  // with the lock held
    template <class Map>
    static typename Map::iterator seriesIn(Map& map, std::string_view labels);  // with the lock held
    void add(std::string_view family, std::string_view labels, double value);
    void observe(std::string_view family, std::string_view labels, double seconds);

    mutable std::mutex mutex_;
    std::map<std::string, Family, std::less<>> families_;
    std::vector<Gauge> gauges_;
};

// Bytes the allocator has handed out and not had back: the process's live
// heap, steadier than its resident size (freed memory is not always
// returned to the system). Under AddressSanitizer, ASan's own count.
double heapBytesInUse();
// Resident memory, descriptors and threads of this process, from /proc.
double residentBytes();
double openDescriptors();
double threadCount();

// `name="value"` pairs with the value escaped as the text format wants.
std::string metricLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

}  // namespace omnichat
