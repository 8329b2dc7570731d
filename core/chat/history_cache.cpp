#include "chat/history_cache.hpp"

#include <algorithm>

namespace omnichat {
namespace {

// A string's own allocation, if it has one (short ones live inside it),
// with the allocator's per-block overhead.
size_t heapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + 16 : 0; }

size_t messageBytes(const domain::StoredMessage& m) {
    return sizeof(HistoryCache::Message) + sizeof m + 32 + heapBytes(m.id) + heapBytes(m.conversationId) +
           heapBytes(m.content) + heapBytes(m.provider) + heapBytes(m.model) + heapBytes(m.finishReason);
}

// What an entry costs: the conversation, the messages and the text they
// point to, the map node with its key, and the recency list's node. A soak
// of 120,000 short conversations measured the heap within a few percent of
// it.
size_t footprint(const domain::Conversation& c, const HistoryCache::Messages& history) {
    size_t bytes = heapBytes(c.id) + sizeof c.id + 48 + 40 + sizeof(HistoryCache::Messages) + 64;
    bytes += sizeof c + 32 + heapBytes(c.id) + heapBytes(c.projectId) + heapBytes(c.userId) +
             (c.title ? heapBytes(*c.title) : 0) + heapBytes(c.provider) + heapBytes(c.model) +
             heapBytes(c.systemPrompt);
    for (const auto& m : history) bytes += messageBytes(*m);
    return bytes;
}

// What a likely history adds to its entry: its own list, and the messages
// the held history lacks (the rest are shared).
size_t likelyBytes(const HistoryCache::Messages& likely, size_t held) {
    size_t bytes = sizeof likely + 64 + likely.size() * sizeof(HistoryCache::Message);
    for (size_t i = held; i < likely.size(); ++i) bytes += messageBytes(*likely[i]) - sizeof(HistoryCache::Message);
    return bytes;
}

}  // namespace

HistoryCache::HistoryCache(size_t maxBytes) : maxBytes_(maxBytes) {}

HistoryCache::History HistoryCache::historyOf(std::vector<domain::StoredMessage> messages) {
    auto out = std::make_shared<Messages>();
    out->reserve(messages.size());
    for (auto& m : messages) out->push_back(std::make_shared<const domain::StoredMessage>(std::move(m)));
    return out;
}

HistoryCache::History HistoryCache::extend(const History& held, int64_t storedCount,
                                           std::vector<domain::StoredMessage> added) {
    if (!held) return historyOf(std::move(added));
    if (storedCount != static_cast<int64_t>(held->size() + added.size())) return nullptr;
    if (added.empty()) return held;
    auto merged = std::make_shared<Messages>();
    merged->reserve(held->size() + added.size());
    merged->insert(merged->end(), held->begin(), held->end());
    for (auto& m : added) merged->push_back(std::make_shared<const domain::StoredMessage>(std::move(m)));
    return merged;
}

HistoryCache::Entry* HistoryCache::use(const std::string& conversationId) {
    auto it = entries_.find(conversationId);
    if (it == entries_.end()) return nullptr;
    used_.splice(used_.begin(), used_, it->second.used);
    return &it->second;
}

HistoryCache::History HistoryCache::find(const std::string& conversationId) {
    std::lock_guard lock(mutex_);
    auto* entry = use(conversationId);
    return entry ? entry->held.history : nullptr;
}

std::optional<HistoryCache::Held> HistoryCache::held(const std::string& conversationId) {
    std::lock_guard lock(mutex_);
    auto* entry = use(conversationId);
    if (!entry || entry->unsure) return std::nullopt;
    return Held{entry->held.conversation, entry->likely ? entry->likely : entry->held.history, entry->held.shared};
}

void HistoryCache::appended(const std::string& conversationId, const Messages& base, Message user, Message reply) {
    if (maxBytes_ == 0) return;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(conversationId);
    if (it == entries_.end()) return;
    auto& entry = it->second;
    const auto& current = entry.likely ? *entry.likely : *entry.held.history;
    if (!sameMessages(current, base)) {
        // Another send appended meanwhile, in an order this host does not
        // know: no send starts from the entry until storage is read again.
        forgetLikely(entry);
        return;
    }
    auto likely = std::make_shared<Messages>();
    likely->reserve(current.size() + 2);
    likely->insert(likely->end(), current.begin(), current.end());
    likely->push_back(std::move(user));
    likely->push_back(std::move(reply));
    // Counted a turn at a time: a long conversation appends without reads.
    const size_t after = entry.likely ? entry.likelyBytes + messageBytes(*(*likely)[current.size()]) +
                                            messageBytes(*(*likely)[current.size() + 1])
                                      : likelyBytes(*likely, entry.held.history->size());
    entry.likely = std::move(likely);
    entry.bytes += after - entry.likelyBytes;
    bytes_ += after - entry.likelyBytes;
    entry.likelyBytes = after;
    evictFor(0);
}

bool HistoryCache::sameMessages(const Messages& a, const Messages& b) {
    return a.size() == b.size() && startsWith(a, b);
}

bool HistoryCache::startsWith(const Messages& history, const Messages& start) {
    return history.size() >= start.size() &&
           std::equal(start.begin(), start.end(), history.begin(),
                      [](const Message& x, const Message& y) { return x == y || x->id == y->id; });
}

void HistoryCache::keep(std::shared_ptr<const domain::Conversation> conversation, History history) {
    if (maxBytes_ == 0 || !conversation || !history) return;
    size_t bytes = footprint(*conversation, *history);
    const std::string& id = conversation->id;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    History likely;
    bool unsure = false, shared = false;
    if (it != entries_.end()) {
        const auto& old = it->second;
        if (old.held.history->size() > history->size()) return;
        shared = old.held.shared;
        if (old.likely) {
            // A read may end after this host's appends that it did not see:
            // they still stand on it. A read that disagrees with them leaves
            // their order unknown.
            if (startsWith(*old.likely, *history) && old.likely->size() > history->size())
                likely = old.likely;
            else
                unsure = !startsWith(*history, *old.likely);
        }
        drop(it);
    }
    const size_t extra = likely ? likelyBytes(*likely, history->size()) : 0;
    bytes += extra;
    if (bytes > maxBytes_) return;
    evictFor(bytes);
    used_.push_front(nullptr);  // the entry names its place in the list, then the place its entry
    auto [added, _] = entries_.emplace(id, Entry{{std::move(conversation), std::move(history), shared},
                                                 std::move(likely),
                                                 extra,
                                                 unsure,
                                                 bytes,
                                                 used_.begin()});
    used_.front() = &*added;
    bytes_ += bytes;
}

void HistoryCache::changed(const std::string& conversationId) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(conversationId);
    if (it == entries_.end()) return;
    auto& entry = it->second;
    entry.held.shared = true;
    forgetLikely(entry);
}

void HistoryCache::forgetLikely(Entry& entry) {
    entry.bytes -= entry.likelyBytes;
    bytes_ -= entry.likelyBytes;
    entry.likelyBytes = 0;
    entry.likely.reset();
    entry.unsure = true;
}

void HistoryCache::forget(const std::string& conversationId) {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(conversationId); it != entries_.end()) drop(it);
}

void HistoryCache::forgetIfOwnedBy(const std::string& conversationId, const std::string& userId) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(conversationId);
    if (it == entries_.end()) return;
    const auto& owner = it->second.held.conversation;
    if (!owner || owner->userId == userId) drop(it);
}

size_t HistoryCache::bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
}

size_t HistoryCache::entries() {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

bool HistoryCache::inUse(const Entry& entry) {
    return entry.held.history.use_count() > 1 || entry.likely.use_count() > 1;
}

void HistoryCache::evictFor(size_t bytes) {
    // An entry in use counts as used now. Passing over a few per call keeps
    // every call short when all are in use (10,000 sends in flight).
    constexpr int kMaxPassedOver = 16;
    for (int passedOver = 0; !used_.empty() && bytes_ + bytes > maxBytes_;) {
        Node* last = used_.back();
        if (!inUse(last->second)) {
            drop(entries_.find(last->first));
        } else if (++passedOver <= kMaxPassedOver) {
            used_.splice(used_.begin(), used_, last->second.used);
        } else {
            break;
        }
    }
}

void HistoryCache::drop(std::unordered_map<std::string, Entry>::iterator it) {
    bytes_ -= it->second.bytes;
    used_.erase(it->second.used);
    entries_.erase(it);
}

}  // namespace omnichat
