#include "chat/conversation_store.hpp"

#include <algorithm>

#include "observability/metrics.hpp"

namespace omnichat {
namespace {

// What a send takes from its conversation.
bool sameSettings(const domain::Conversation& a, const domain::Conversation& b) {
    return a.provider == b.provider && a.model == b.model && a.systemPrompt == b.systemPrompt;
}

}  // namespace

// A storage that cannot skip known messages would gain nothing from held
// histories.
ConversationStore::ConversationStore(StoragePort& storage, size_t cacheBytes, Metrics* metrics)
    : storage_(storage), metrics_(metrics), histories_(storage.loadsSince() ? cacheBytes : 0) {}

std::optional<ConversationStore::Loaded> ConversationStore::load(const std::string& id, const std::string& userId) {
    auto held = histories_.find(id);
    const auto known = held ? static_cast<int64_t>(held->size()) : 0;
    auto fresh = storage_.loadConversation(id, userId, known);
    if (!fresh) {
        histories_.forgetIfOwnedBy(id, userId);
        return std::nullopt;
    }
    const auto total = fresh->conversation.messageCount;
    auto history = HistoryCache::extend(held, total, std::move(fresh->history));
    if (!history) {
        // Storage no longer holds what we hold at the start (restored from
        // a backup, say): read it whole.
        histories_.forget(id);
        return load(id, userId);
    }
    // Nothing new: the held entry stands (find marked it used). A storage
    // whose count does not match its messages cannot be read from a held
    // start.
    if (history != held && total == static_cast<int64_t>(history->size()))
        histories_.keep(std::make_shared<const domain::Conversation>(fresh->conversation), history);
    return Loaded{std::move(fresh->conversation), std::move(history)};
}

std::optional<HistoryCache::History> ConversationStore::messages(const std::string& id, const std::string& userId,
                                                                 const std::string& afterId, int64_t limit) {
    // A page of a history nobody here holds is read as a page.
    if ((!afterId.empty() || limit >= 0) && !histories_.find(id)) {
        auto page = storage_.listMessages(id, userId, afterId, limit);
        if (!page) return std::nullopt;
        return HistoryCache::historyOf(std::move(*page));
    }
    auto loaded = load(id, userId);
    if (!loaded) return std::nullopt;
    const auto& all = *loaded->history;
    auto begin = all.begin();
    if (!afterId.empty()) {
        begin = std::find_if(all.begin(), all.end(), [&](const auto& m) { return m->id == afterId; });
        if (begin == all.end()) return std::nullopt;
        ++begin;
    }
    auto end = limit < 0 || all.end() - begin <= limit ? all.end() : begin + limit;
    if (begin == all.begin() && end == all.end()) return std::move(loaded->history);
    return std::make_shared<const HistoryCache::Messages>(begin, end);
}

std::optional<HistoryCache::Held> ConversationStore::held(const std::string& id, const std::string& userId) {
    auto held = histories_.held(id);
    if (held && held->conversation->userId != userId) return std::nullopt;
    return held;
}

bool ConversationStore::confirms(const HistoryCache::Held& held, const Loaded& loaded) {
    const bool confirmed = HistoryCache::sameMessages(*loaded.history, *held.history) &&
                           sameSettings(loaded.conversation, *held.conversation);
    if (metrics_) metrics_->countEarlyStart(confirmed);
    if (!confirmed) histories_.changed(loaded.conversation.id);
    return confirmed;
}

StoragePort::Appended ConversationStore::append(const domain::StoredMessage& user, const domain::StoredMessage& reply,
                                                const HistoryCache::Messages& sent) {
    if (!storage_.appendExchange(user, reply)) return StoragePort::Appended::Gone;
    appended(user, reply, sent);
    return StoragePort::Appended::Yes;
}

StoragePort::Appended ConversationStore::appendChecked(const domain::Conversation& conversation,
                                                       const domain::StoredMessage& user,
                                                       const domain::StoredMessage& reply,
                                                       const HistoryCache::Messages& sent, bool othersBegan) {
    using Appended = StoragePort::Appended;
    const int64_t expected = static_cast<int64_t>(sent.size());
    const std::string lastId = sent.empty() ? "" : sent.back()->id;
    Appended result;
    if (othersBegan) {
        // This host's other sends of the conversation append as they end,
        // after their own reads: as with a read at the start, what storage
        // holds must begin with the history this call was sent.
        auto stored =
            storage_.loadConversation(conversation.id, conversation.userId, std::max<int64_t>(expected - 1, 0));
        if (!stored)
            result = Appended::Gone;
        else if (stored->conversation.messageCount < expected ||
                 (expected > 0 && (stored->history.empty() || stored->history.front().id != lastId)))
            result = Appended::Changed;
        else
            result = storage_.appendExchange(user, reply) ? Appended::Yes : Appended::Gone;
    } else {
        result = storage_.appendExchangeIfUnchanged(user, reply, expected, lastId);
    }
    if (result != Appended::Gone && metrics_) metrics_->countEarlyStart(result == Appended::Yes);
    if (result == Appended::Yes) appended(user, reply, sent);
    if (result == Appended::Changed) histories_.changed(conversation.id);
    return result;
}

void ConversationStore::appended(const domain::StoredMessage& user, const domain::StoredMessage& reply,
                                 const HistoryCache::Messages& sent) {
    histories_.appended(user.conversationId, sent, std::make_shared<const domain::StoredMessage>(user),
                        std::make_shared<const domain::StoredMessage>(reply));
}

}  // namespace omnichat
