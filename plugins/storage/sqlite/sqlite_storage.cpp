// Storage in a SQLite file (Poco Data SQLite): the embedded default.
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <omnichat/plugin.hpp>

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "schema.hpp"

namespace {

using Poco::Data::Session;
using Poco::Data::Statement;
using namespace Poco::Data::Keywords;

const omnichat_option_t kOptions[] = {
    omnichat::option("path", OMNICHAT_OPTION_STRING, "data/omnichat.db", false,
                     "Database file, relative to the working directory (or DATABASE_URL=sqlite:///path)."),
    omnichat::option("pool_size", OMNICHAT_OPTION_INT, "8", false, "Connections kept open."),
};

std::string databasePath(const omnichat::Host& host) {
    std::string path = host.option("path", "data/omnichat.db");
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    return path;
}

class SqliteStorage : public omnichat::Storage {
public:
    explicit SqliteStorage(const omnichat::Host& host)
        : Storage(host),
          pool_((Poco::Data::SQLite::Connector::registerConnector(), "SQLite"), databasePath(host), 1,
                static_cast<int>(host.intOption("pool_size", 8)), 60) {
        // WAL lets readers run beside the writer; the mode is stored in
        // the file, so setting it once is enough.
        run([&](Session& s) { s << "PRAGMA journal_mode=WAL", now; });
    }

    void migrate() override {
        run([&](Session& s) {
            transaction(s, [&] {
                s << omnichat_sql::kSchemaTable, now;
                Poco::Int64 version = 0;
                Statement st(s);
                st << "SELECT COALESCE(MAX(version), 0) FROM omnichat_schema", into(version), now;
                const auto& all = omnichat_sql::migrations();
                for (size_t v = static_cast<size_t>(version); v < all.size(); ++v) {
                    for (const auto& ddl : all[v]) s << ddl, now;
                    Poco::Int64 next = static_cast<Poco::Int64>(v + 1);
                    s << "INSERT INTO omnichat_schema (version) VALUES (?)", use(next), now;
                }
            });
        });
    }

    void ping() override {
        run([&](Session& s) { s << "SELECT 1", now; });
    }

    void createConversation(const omnichat::Conversation& c) override {
        run([&](Session& s) {
            Poco::Nullable<std::string> title;
            if (c.title) title = *c.title;
            Poco::Int64 created = c.createdAtMs, updated = c.updatedAtMs;
            std::string id = c.id, project = c.projectId, user = c.userId;
            auto provider = optionalText(c.provider), model = optionalText(c.model),
                 prompt = optionalText(c.systemPrompt);
            s << "INSERT INTO conversations (id, project_id, user_id, title, created_at_ms, updated_at_ms, "
                 "provider, model, system_prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                use(id), use(project), use(user), use(title), use(created), use(updated), use(provider), use(model),
                use(prompt), now;
        });
    }

    void getConversation(std::string_view id, std::string_view userId,
                         const omnichat::ConversationSink& sink) override {
        run([&](Session& s) {
            std::string i(id), u(userId);
            Statement st(s);
            st << selectConversations() + " WHERE id = ? AND user_id = ?", use(i), use(u);
            st.execute();
            if (!emitConversations(st, sink)) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
        });
    }

    void listConversations(std::string_view userId, std::string_view projectId,
                           const omnichat::ConversationSink& sink) override {
        run([&](Session& s) {
            std::string u(userId), p(projectId);
            Statement st(s);
            st << selectConversations() + " WHERE user_id = ? AND project_id = ? ORDER BY created_at_ms DESC, id",
                use(u), use(p);
            st.execute();
            emitConversations(st, sink);
        });
    }

    void deleteConversation(std::string_view id, std::string_view userId) override {
        run([&](Session& s) {
            std::string i(id), u(userId);
            transaction(s, [&] {
                Statement del(s);
                del << "DELETE FROM conversations WHERE id = ? AND user_id = ?", use(i), use(u);
                if (del.execute() == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
                s << "DELETE FROM messages WHERE conversation_id = ?", use(i), now;
            });
        });
    }

    void listMessages(std::string_view conversationId, std::string_view userId, std::string_view afterId, int64_t limit,
                      const omnichat::MessageSink& sink) override {
        run([&](Session& s) {
            std::string c(conversationId), u(userId), a(afterId);
            Poco::Int64 afterSeq = -1;
            if (!a.empty()) {
                std::vector<Poco::Int64> seqs;
                s << "SELECT m.seq FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     "WHERE m.id = ? AND c.id = ? AND c.user_id = ?",
                    use(a), use(c), use(u), into(seqs), now;
                if (seqs.empty()) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such message");
                afterSeq = seqs.front();
            }
            // Ownership is part of the history query; only an empty answer
            // needs a second look to tell "no messages" from "not yours".
            Poco::Int64 max = limit < 0 ? std::numeric_limits<Poco::Int64>::max() : limit;
            Statement st(s);
            st << selectMessages() +
                      " JOIN conversations c ON c.id = m.conversation_id "
                      "WHERE c.id = ? AND c.user_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
                use(c), use(u), use(afterSeq), use(max);
            st.execute();
            if (emitMessages(st, c, sink)) return;
            Poco::Int64 owned = 0;
            s << "SELECT COUNT(*) FROM conversations WHERE id = ? AND user_id = ?", use(c), use(u), into(owned), now;
            if (owned == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
        });
    }

    void loadConversationSince(std::string_view id, std::string_view userId, int64_t knownCount,
                               const omnichat::ConversationSink& conversation,
                               const omnichat::MessageSink& messages) override {
        run([&](Session& s) {
            std::string i(id), u(userId);
            Poco::Int64 known = knownCount;
            // One read transaction: the count and the messages come from
            // one snapshot of the file.
            transaction(s, [&] {
                Statement st(s);
                st << selectConversations() + " WHERE id = ? AND user_id = ?", use(i), use(u);
                st.execute();
                if (!emitConversations(st, conversation))
                    throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
                // seq numbers a conversation's messages 1, 2, ... (see
                // appendExchange).
                Statement ms(s);
                ms << selectMessages() + " WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq", use(i),
                    use(known);
                ms.execute();
                emitMessages(ms, i, messages);
            });
        });
    }

    int64_t countConversations(std::string_view userId) override {
        Poco::Int64 count = 0;
        run([&](Session& s) {
            std::string user(userId);
            s << "SELECT count(*) FROM conversations WHERE user_id = ?", use(user), into(count), now;
        });
        return count;
    }

    void appendExchange(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant) override {
        append(user, assistant, nullptr);
    }

    void appendExchangeIfUnchanged(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant,
                                   int64_t expectedCount, std::string_view expectedLastId) override {
        const Expected expected{expectedCount, expectedLastId};
        append(user, assistant, &expected);
    }

private:
    // What a conditional append expects of the history.
    struct Expected {
        Poco::Int64 count;
        std::string_view lastId;
    };

    void append(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant,
                const Expected* expected) {
        run([&](Session& s) {
            transaction(s, [&] {
                // Bumping the counter locks the conversation row until commit,
                // so concurrent appends (from any host) take turns and each
                // pair gets adjacent sequence numbers.
                std::string c = user.conversationId;
                Poco::Int64 touched = assistant.createdAtMs;
                Poco::Int64 prompt = std::max<int64_t>(0, assistant.promptTokens),
                            completion = std::max<int64_t>(0, assistant.completionTokens);
                double cost = assistant.cost.value_or(0.0);
                std::vector<Poco::Int64> counts, touchedAt;
                // Timestamps follow the history: updated_at is the last
                // reply's, and an exchange whose reply is not later goes
                // after it, its question at that reply's time.
                const std::string update =
                    "UPDATE conversations SET message_count = message_count + 2, "
                    "updated_at_ms = MAX(updated_at_ms + 1, ?), "
                    "prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, "
                    "cost = cost + ? WHERE id = ?";
                if (!expected) {
                    s << update + " RETURNING message_count, updated_at_ms", use(touched), use(prompt), use(completion),
                        use(cost), use(c), into(counts), into(touchedAt), now;
                } else {
                    Poco::Int64 count = expected->count;
                    std::string lastId(expected->lastId);  // use() binds non-const references
                    s << update +
                             " AND message_count = ? AND (? = 0 OR EXISTS (SELECT 1 FROM messages "
                             "WHERE conversation_id = ? AND seq = ? AND id = ?)) RETURNING message_count, "
                             "updated_at_ms",
                        use(touched), use(prompt), use(completion), use(cost), use(c), use(count), use(count), use(c),
                        use(count), use(lastId), into(counts), into(touchedAt), now;
                }
                if (counts.empty()) {
                    if (expected) {
                        Poco::Int64 present = 0;
                        s << "SELECT count(*) FROM conversations WHERE id = ?", use(c), into(present), now;
                        if (present) throw omnichat::Error(OMNICHAT_ERR_CONFLICT, "the history changed");
                    }
                    throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "conversation is gone");
                }
                const int64_t replyAt = touchedAt.front();
                insertMessage(s, user, counts.front() - 1, std::max(user.createdAtMs, replyAt - 1));
                insertMessage(s, assistant, counts.front(), std::max(assistant.createdAtMs, replyAt));
            });
        });
    }

    static std::string selectConversations() {
        return "SELECT id, project_id, user_id, title, created_at_ms, updated_at_ms, provider, model, system_prompt, "
               "message_count, prompt_tokens, completion_tokens, cost FROM conversations";
    }

    static std::string selectMessages() {
        return "SELECT m.id, m.role, m.content, m.created_at_ms, m.provider, m.model, m.finish_reason, "
               "m.prompt_tokens, m.completion_tokens, m.latency_ms, m.cached_tokens, m.reasoning_tokens, m.cost "
               "FROM messages m";
    }

    static Poco::Nullable<std::string> optionalText(const std::string& v) {
        return v.empty() ? Poco::Nullable<std::string>() : Poco::Nullable<std::string>(v);
    }

    // RecordSet::value() is an empty Var for NULL.
    static std::string text(Poco::Data::RecordSet& rs, size_t col) {
        auto v = rs.value(col);
        return v.isEmpty() ? std::string() : v.convert<std::string>();
    }
    static int64_t integer(Poco::Data::RecordSet& rs, size_t col) {
        auto v = rs.value(col);
        return v.isEmpty() ? -1 : v.convert<Poco::Int64>();
    }

    static bool emitConversations(Statement& st, const omnichat::ConversationSink& sink) {
        Poco::Data::RecordSet rs(st);
        bool any = false;
        for (bool more = rs.moveFirst(); more; more = rs.moveNext()) {
            omnichat::Conversation c;
            c.id = rs.value(0).convert<std::string>();
            c.projectId = rs.value(1).convert<std::string>();
            c.userId = rs.value(2).convert<std::string>();
            if (auto title = rs.value(3); !title.isEmpty()) c.title = title.convert<std::string>();
            c.createdAtMs = rs.value(4).convert<Poco::Int64>();
            c.updatedAtMs = rs.value(5).convert<Poco::Int64>();
            c.provider = text(rs, 6);
            c.model = text(rs, 7);
            c.systemPrompt = text(rs, 8);
            c.messageCount = rs.value(9).convert<Poco::Int64>();
            c.promptTokens = rs.value(10).convert<Poco::Int64>();
            c.completionTokens = rs.value(11).convert<Poco::Int64>();
            c.cost = rs.value(12).convert<double>();
            sink(c);
            any = true;
        }
        return any;
    }

    // Rows of selectMessages(); false when there were none.
    static bool emitMessages(Statement& st, const std::string& conversationId, const omnichat::MessageSink& sink) {
        Poco::Data::RecordSet rs(st);
        omnichat::StoredMessage m;
        m.conversationId = conversationId;
        bool any = false;
        for (bool more = rs.moveFirst(); more; more = rs.moveNext()) {
            m.id = rs.value(0).convert<std::string>();
            m.role = static_cast<omnichat_role_t>(rs.value(1).convert<int>());
            m.content = rs.value(2).convert<std::string>();
            m.createdAtMs = rs.value(3).convert<Poco::Int64>();
            m.provider = text(rs, 4);
            m.model = text(rs, 5);
            m.finishReason = text(rs, 6);
            m.promptTokens = integer(rs, 7);
            m.completionTokens = integer(rs, 8);
            m.latencyMs = integer(rs, 9);
            m.cachedTokens = integer(rs, 10);
            m.reasoningTokens = integer(rs, 11);
            auto cost = rs.value(12);
            m.cost = cost.isEmpty() ? std::nullopt : std::optional<double>(cost.convert<double>());
            sink(m);
            any = true;
        }
        return any;
    }

    void insertMessage(Session& s, const omnichat::StoredMessage& m, Poco::Int64 seq, Poco::Int64 created) {
        std::string id = m.id, conv = m.conversationId, content = m.content;
        int role = m.role;

        auto optInt = [](int64_t v) { return v < 0 ? Poco::Nullable<Poco::Int64>() : Poco::Nullable<Poco::Int64>(v); };
        auto provider = optionalText(m.provider), model = optionalText(m.model), finish = optionalText(m.finishReason);
        auto prompt = optInt(m.promptTokens), completion = optInt(m.completionTokens), latency = optInt(m.latencyMs);
        auto cached = optInt(m.cachedTokens), reasoning = optInt(m.reasoningTokens);
        auto cost = m.cost ? Poco::Nullable<double>(*m.cost) : Poco::Nullable<double>();
        s << "INSERT INTO messages (id, conversation_id, seq, role, content, created_at_ms, provider, model, "
             "finish_reason, prompt_tokens, completion_tokens, latency_ms, cached_tokens, reasoning_tokens, cost) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            use(id), use(conv), use(seq), use(role), use(content), use(created), use(provider), use(model), use(finish),
            use(prompt), use(completion), use(latency), use(cached), use(reasoning), use(cost), now;
    }

    // Commits what `body` did, or rolls it back when it throws.
    template <class F>
    static void transaction(Session& s, F&& body) {
        s.begin();
        try {
            body();
        } catch (...) {
            try {
                if (s.isTransaction()) s.rollback();
            } catch (...) {
                // The session is broken; the pool discards it.
            }
            throw;
        }
        s.commit();
    }

    // Runs `body` with a pooled session. A connection that went stale (the
    // database restarted) fails once: retry once on a fresh session. Maps
    // failures to categories; omnichat::Error passes through.
    template <class F>
    void run(F&& body) {
        for (int attempt = 0;; ++attempt) {
            try {
                Session s = pool_.get();
                body(s);
                return;
            } catch (const omnichat::Error&) {
                throw;
            } catch (const Poco::Data::SessionPoolExhaustedException&) {
                throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, "storage session pool exhausted");
            } catch (const Poco::Exception& e) {
                if (isBusy(e)) {
                    if (attempt == 0) continue;
                    throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, e.displayText());
                }
                throw omnichat::Error(OMNICHAT_ERR_INTERNAL, e.displayText());
            }
        }
    }

    // A locked database file is worth one more try.
    static bool isBusy(const Poco::Exception& e) {
        return dynamic_cast<const Poco::Data::SQLite::DBLockedException*>(&e) != nullptr ||
               dynamic_cast<const Poco::Data::SQLite::TableLockedException*>(&e) != nullptr;
    }

    Poco::Data::SessionPool pool_;
};

}  // namespace

OMNICHAT_STORAGE_PLUGIN(SqliteStorage, "sqlite", "1.0.0", kOptions)
