#include "chat/history_cache.hpp"

namespace omnichat {
namespace {

// A string's own allocation, if it has one (short ones live inside it),
// with the allocator's per-block overhead.
size_t heapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + 16 : 0; }

// What an entry costs: the messages and the text they point to, and the
// key twice (map node and list node). A soak of 120,000 short
// conversations measured the heap within a few percent of it.
size_t footprint(const std::string& key, const HistoryCache::Messages& history) {
    size_t bytes = 2 * (heapBytes(key) + sizeof key + 48) + sizeof(HistoryCache::Messages) + 64;
    for (const auto& m : history)
        bytes += sizeof(HistoryCache::Message) + sizeof *m + 32 + heapBytes(m->id) + heapBytes(m->conversationId) +
                 heapBytes(m->content) + heapBytes(m->provider) + heapBytes(m->model) + heapBytes(m->finishReason);
    return bytes;
}

}  // namespace

HistoryCache::HistoryCache(size_t maxBytes) : maxBytes_(maxBytes) {}

HistoryCache::History HistoryCache::historyOf(std::vector<StoredMessage> messages) {
    auto out = std::make_shared<Messages>();
    out->reserve(messages.size());
    for (auto& m : messages) out->push_back(std::make_shared<const StoredMessage>(std::move(m)));
    return out;
}

HistoryCache::History HistoryCache::extend(const History& held, int64_t storedCount, std::vector<StoredMessage> added) {
    if (!held) return historyOf(std::move(added));
    if (storedCount != static_cast<int64_t>(held->size() + added.size())) return nullptr;
    if (added.empty()) return held;
    auto merged = std::make_shared<Messages>();
    merged->reserve(held->size() + added.size());
    merged->insert(merged->end(), held->begin(), held->end());
    for (auto& m : added) merged->push_back(std::make_shared<const StoredMessage>(std::move(m)));
    return merged;
}

HistoryCache::History HistoryCache::find(const std::string& conversationId) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(conversationId);
    if (it == entries_.end()) return nullptr;
    used_.splice(used_.begin(), used_, it->second.used);
    return it->second.history;
}

void HistoryCache::keep(const std::string& conversationId, History history) {
    if (maxBytes_ == 0 || !history) return;
    const size_t bytes = footprint(conversationId, *history);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(conversationId);
    if (it != entries_.end()) {
        if (it->second.history->size() > history->size()) return;
        drop(it);
    }
    if (bytes > maxBytes_) return;
    evictFor(bytes);
    used_.push_front(conversationId);
    entries_.emplace(conversationId, Entry{std::move(history), bytes, used_.begin()});
    bytes_ += bytes;
}

void HistoryCache::forget(const std::string& conversationId) {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(conversationId); it != entries_.end()) drop(it);
}

size_t HistoryCache::bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
}

size_t HistoryCache::entries() {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

void HistoryCache::evictFor(size_t bytes) {
    while (!used_.empty() && bytes_ + bytes > maxBytes_) drop(entries_.find(used_.back()));
}

void HistoryCache::drop(std::unordered_map<std::string, Entry>::iterator it) {
    bytes_ -= it->second.bytes;
    used_.erase(it->second.used);
    entries_.erase(it);
}

}  // namespace omnichat
