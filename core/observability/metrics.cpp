#include "observability/metrics.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
// From ASan's runtime; GCC ships no header declaring it.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace omnichat {
namespace {

// Seconds: sub-millisecond overheads up to long generations.
constexpr std::array<double, 15> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,   0.5,   1,      2.5,   5,    10,    30};

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.10g", v);
    return buffer;
}

// A series without labels is written bare, as Prometheus writes it.
std::string series(const std::string& name, const std::string& labels) {
    return labels.empty() ? name : name + "{" + labels + "}";
}

void appendLabels(std::string& out, std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    for (const auto& [name, value] : labels) {
        if (!out.empty()) out += ',';
        out += name;
        out += "=\"";
        for (size_t from = 0;;) {
            size_t at = value.find_first_of("\\\"\n", from);
            out += value.substr(from, at - from);
            if (at == std::string_view::npos) break;
            out += value[at] == '\n' ? "\\n" : value[at] == '"' ? "\\\"" : "\\\\";
            from = at + 1;
        }
        out += '"';
    }
}

// One update's labels, in a buffer each thread reuses: updating a series
// that exists allocates nothing (a send updates about ten).
std::string_view scratchLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    thread_local std::string scratch;
    scratch.clear();
    appendLabels(scratch, labels);
    return scratch;
}

}  // namespace

std::string metricLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    std::string out;
    appendLabels(out, labels);
    return out;
}

Metrics::Metrics() {
    const auto declare = [this](const char* name, const char* help, bool histogram) {
        auto& family = families_[name];
        family.help = help;
        family.histogram = histogram;
    };
    declare("omnichat_http_requests_total", "HTTP requests answered, by method, route and status.", false);
    declare("omnichat_http_request_duration_seconds",
            "Time from a request's arrival to its answer (to the end of a stream), by route.", true);
    declare("omnichat_provider_calls_total", "Provider attempts, by provider, model and outcome.", false);
    declare("omnichat_provider_call_duration_seconds", "Duration of provider attempts, by provider.", true);
    declare("omnichat_provider_first_token_seconds",
            "Time from the start of a provider attempt to its first text, by provider.", true);
    declare("omnichat_tokens_total", "Tokens the providers reported, by provider and direction.", false);
    declare("omnichat_provider_retries_total", "Provider attempts retried, by provider.", false);
    declare("omnichat_provider_fallbacks_total", "Sends that fell back from a provider, by that provider.", false);
    declare("omnichat_early_starts_total",
            "Sends whose provider call started from a held history before storage confirmed it (by a read, or at "
            "the append), by whether storage confirmed it (a withdrawn call was cancelled or its reply dropped, and "
            "the send started again).",
            false);
    declare("omnichat_storage_call_duration_seconds", "Duration of storage calls, by operation.", true);
    declare("omnichat_worker_queue_wait_seconds", "Time tasks (storage calls) waited for a worker thread.", true);
}

Metrics::Family& Metrics::familyNamed(std::string_view name) {
    auto it = families_.find(name);
    if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
    return it->second;
}

// The series of `labels` in `map`, made if the family has room; past
// kMaxSeriesPerFamily every new label set counts in one overflow series,
// so nothing a client sends can grow /metrics without bound.
template <class Map>
typename Map::iterator Metrics::seriesIn(Map& map, std::string_view labels) {
    auto it = map.find(labels);
    if (it != map.end()) return it;
    if (map.size() >= kMaxSeriesPerFamily) {
        it = map.find(kOverflowLabels);
        if (it != map.end()) return it;
        labels = kOverflowLabels;
    }
    return map.emplace(std::string(labels), typename Map::mapped_type{}).first;
}

void Metrics::add(std::string_view family, std::string_view labels, double value) {
    std::lock_guard lock(mutex_);
    seriesIn(familyNamed(family).counters, labels)->second += value;
}

void Metrics::observe(std::string_view family, std::string_view labels, double seconds) {
    std::lock_guard lock(mutex_);
    auto it = seriesIn(familyNamed(family).histograms, labels);
    auto& h = it->second;
    if (h.buckets.empty()) h.buckets.assign(kBuckets.size(), 0);
    auto bucket = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
    if (static_cast<size_t>(bucket) < kBuckets.size()) ++h.buckets[static_cast<size_t>(bucket)];
    ++h.count;
    h.sum += seconds;
}

void Metrics::observeRequest(const std::string& method, const std::string& route, int status, double seconds) {
    add("omnichat_http_requests_total",
        scratchLabels({{"method", method}, {"route", route}, {"status", std::to_string(status)}}), 1);
    observe("omnichat_http_request_duration_seconds", scratchLabels({{"route", route}}), seconds);
}

void Metrics::observeProviderCall(const std::string& provider, const std::string& model, const std::string& outcome,
                                  double seconds) {
    add("omnichat_provider_calls_total",
        scratchLabels({{"provider", provider}, {"model", model}, {"outcome", outcome}}), 1);
    observe("omnichat_provider_call_duration_seconds", scratchLabels({{"provider", provider}}), seconds);
}

void Metrics::observeFirstToken(const std::string& provider, double seconds) {
    observe("omnichat_provider_first_token_seconds", scratchLabels({{"provider", provider}}), seconds);
}

void Metrics::countTokens(const std::string& provider, int64_t prompt, int64_t completion) {
    if (prompt > 0)
        add("omnichat_tokens_total", scratchLabels({{"provider", provider}, {"direction", "in"}}),
            static_cast<double>(prompt));
    if (completion > 0)
        add("omnichat_tokens_total", scratchLabels({{"provider", provider}, {"direction", "out"}}),
            static_cast<double>(completion));
}

void Metrics::countRetry(const std::string& provider) {
    add("omnichat_provider_retries_total", scratchLabels({{"provider", provider}}), 1);
}

void Metrics::countFallback(const std::string& fromProvider) {
    add("omnichat_provider_fallbacks_total", scratchLabels({{"provider", fromProvider}}), 1);
}

void Metrics::countEarlyStart(bool confirmed) {
    add("omnichat_early_starts_total", confirmed ? "outcome=\"confirmed\"" : "outcome=\"withdrawn\"", 1);
}

void Metrics::observeStorageCall(const char* operation, double seconds) {
    observe("omnichat_storage_call_duration_seconds", scratchLabels({{"operation", operation}}), seconds);
}

void Metrics::observeWorkerWait(double seconds) { observe("omnichat_worker_queue_wait_seconds", "", seconds); }

void Metrics::addGauge(const std::string& name, const std::string& help, std::function<double()> read) {
    std::lock_guard lock(mutex_);
    gauges_.push_back({name, help, std::move(read), "gauge"});
}

void Metrics::addSampledCounter(const std::string& name, const std::string& help, std::function<double()> read) {
    std::lock_guard lock(mutex_);
    gauges_.push_back({name, help, std::move(read), "counter"});
}

std::string Metrics::render() const {
    std::string out;
    std::vector<Gauge> gauges;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, f] : families_) {
            out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + (f.histogram ? " histogram\n" : " counter\n");
            for (const auto& [labels, value] : f.counters) out += series(name, labels) + " " + number(value) + "\n";
            for (const auto& [labels, h] : f.histograms) {
                const std::string sep = labels.empty() ? "" : ",";
                uint64_t cumulative = 0;
                for (size_t i = 0; i < kBuckets.size(); ++i) {
                    cumulative += h.buckets[i];
                    out += name + "_bucket{" + labels + sep + "le=\"" + number(kBuckets[i]) + "\"} " +
                           std::to_string(cumulative) + "\n";
                }
                out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
                out += series(name + "_sum", labels) + " " + number(h.sum) + "\n";
                out += series(name + "_count", labels) + " " + std::to_string(h.count) + "\n";
            }
        }
        gauges = gauges_;
    }
    // Read outside the lock: a gauge may take locks of its own.
    for (const auto& g : gauges)
        out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " " + g.type + "\n" + g.name + " " +
               number(g.read()) + "\n";
    return out;
}

double heapBytesInUse() {
#if defined(__SANITIZE_ADDRESS__)
    return static_cast<double>(__sanitizer_get_current_allocated_bytes());
#else
    auto info = mallinfo2();  // walks every arena: fine per scrape, not per request
    return static_cast<double>(info.uordblks + info.hblkhd);
#endif
}

double residentBytes() {
    std::ifstream statm("/proc/self/statm");
    double pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double openDescriptors() {
    std::error_code ignored;
    double count = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ignored), end; it != end; it.increment(ignored))
        ++count;
    return count - 1;  // the directory being read
}

double threadCount() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0) return std::stod(line.substr(8));
    return 0;
}

}  // namespace omnichat
