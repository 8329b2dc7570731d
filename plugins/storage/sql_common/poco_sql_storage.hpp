// The chat-domain storage over Poco::Data, shared by the postgres and sqlite
// plugins. Both speak the same portable SQL (TEXT ids, BIGINT epoch
// milliseconds); a Dialect supplies what differs: placeholders, the
// migration lock and which failures mean "database unavailable".
#pragma once

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <omnichat/plugin.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace omnichat_sql {

using Poco::Data::Session;
using Poco::Data::Statement;
using namespace Poco::Data::Keywords;

struct Dialect {
    std::string connector;    // Poco connector name
    bool dollarPlaceholders;  // $1..$n instead of ?
    // Run inside the migration transaction, first: serializes concurrent
    // migrations across processes.
    std::vector<std::string> migrationLock;
    // A failure of this kind means the database cannot be reached now.
    std::function<bool(const Poco::Exception&)> isUnavailable;
};

// Schema versions, applied in order; each entry is one migration.
inline const std::vector<std::vector<std::string>>& migrations() {
    static const std::vector<std::vector<std::string>> list{
        {
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, user_id TEXT NOT NULL, "
            "title TEXT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, "
            "message_count BIGINT NOT NULL DEFAULT 0)",
            "CREATE INDEX conversations_by_owner ON conversations (user_id, project_id, created_at_ms)",
            "CREATE TABLE messages (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, seq BIGINT NOT NULL, "
            "role SMALLINT NOT NULL, content TEXT NOT NULL, created_at_ms BIGINT NOT NULL, provider TEXT, "
            "model TEXT, finish_reason TEXT, prompt_tokens BIGINT, completion_tokens BIGINT, latency_ms BIGINT)",
            "CREATE UNIQUE INDEX messages_by_conversation ON messages (conversation_id, seq)",
        },
        {
            // Per-conversation choices and running totals; accounting per reply.
            "ALTER TABLE conversations ADD COLUMN provider TEXT",
            "ALTER TABLE conversations ADD COLUMN model TEXT",
            "ALTER TABLE conversations ADD COLUMN system_prompt TEXT",
            "ALTER TABLE conversations ADD COLUMN prompt_tokens BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE conversations ADD COLUMN completion_tokens BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE conversations ADD COLUMN cost DOUBLE PRECISION NOT NULL DEFAULT 0",
            "ALTER TABLE messages ADD COLUMN cached_tokens BIGINT",
            "ALTER TABLE messages ADD COLUMN reasoning_tokens BIGINT",
            "ALTER TABLE messages ADD COLUMN cost DOUBLE PRECISION",
        },
    };
    return list;
}

class PocoSqlStorage : public omnichat::Storage {
public:
    // `secret` (a password) is masked in every error message.
    PocoSqlStorage(const omnichat::Host& host, Dialect dialect, const std::string& connectionString, int poolSize,
                   std::string secret = "")
        : Storage(host), dialect_(std::move(dialect)), secret_(std::move(secret)) {
        pool_ = std::make_unique<Poco::Data::SessionPool>(dialect_.connector, connectionString, 1, poolSize, 60);
    }

    void migrate() override {
        run([&](Session& s) {
            transaction(s, [&] {
                for (const auto& sql : dialect_.migrationLock) s << sql, now;
                s << "CREATE TABLE IF NOT EXISTS omnichat_schema (version BIGINT NOT NULL)", now;
                Poco::Int64 version = 0;
                Statement st(s);
                st << sql("SELECT COALESCE(MAX(version), 0) FROM omnichat_schema"), into(version), now;
                const auto& all = migrations();
                for (size_t v = static_cast<size_t>(version); v < all.size(); ++v) {
                    for (const auto& ddl : all[v]) s << ddl, now;
                    Poco::Int64 next = static_cast<Poco::Int64>(v + 1);
                    s << sql("INSERT INTO omnichat_schema (version) VALUES (?)"), use(next), now;
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
            s << sql(
                "INSERT INTO conversations (id, project_id, user_id, title, created_at_ms, updated_at_ms, "
                "provider, model, system_prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                use(id), use(project), use(user), use(title), use(created), use(updated), use(provider), use(model),
                use(prompt), now;
        });
    }

    void getConversation(std::string_view id, std::string_view userId,
                         const omnichat::ConversationSink& sink) override {
        run([&](Session& s) {
            std::string i(id), u(userId);
            Statement st(s);
            st << sql(selectConversations() + " WHERE id = ? AND user_id = ?"), use(i), use(u);
            st.execute();
            if (!emitConversations(st, sink)) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
        });
    }

    void listConversations(std::string_view userId, std::string_view projectId,
                           const omnichat::ConversationSink& sink) override {
        run([&](Session& s) {
            std::string u(userId), p(projectId);
            Statement st(s);
            st << sql(selectConversations() + " WHERE user_id = ? AND project_id = ? ORDER BY created_at_ms DESC, id"),
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
                del << sql("DELETE FROM conversations WHERE id = ? AND user_id = ?"), use(i), use(u);
                if (del.execute() == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
                s << sql("DELETE FROM messages WHERE conversation_id = ?"), use(i), now;
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
                s << sql(
                    "SELECT m.seq FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                    "WHERE m.id = ? AND c.id = ? AND c.user_id = ?"),
                    use(a), use(c), use(u), into(seqs), now;
                if (seqs.empty()) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such message");
                afterSeq = seqs.front();
            }
            // Ownership is part of the history query; only an empty answer
            // needs a second look to tell "no messages" from "not yours".
            Poco::Int64 max = limit < 0 ? std::numeric_limits<Poco::Int64>::max() : limit;
            Statement st(s);
            st << sql(
                "SELECT m.id, m.role, m.content, m.created_at_ms, m.provider, m.model, m.finish_reason, "
                "m.prompt_tokens, m.completion_tokens, m.latency_ms, m.cached_tokens, m.reasoning_tokens, m.cost "
                "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE c.id = ? AND c.user_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"),
                use(c), use(u), use(afterSeq), use(max);
            st.execute();
            Poco::Data::RecordSet rs(st);
            if (rs.rowCount() == 0) {
                Poco::Int64 owned = 0;
                s << sql("SELECT COUNT(*) FROM conversations WHERE id = ? AND user_id = ?"), use(c), use(u),
                    into(owned), now;
                if (owned == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
                return;
            }
            omnichat::StoredMessage m;
            m.conversationId = c;
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
            }
        });
    }

    void appendExchange(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant) override {
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
                std::vector<Poco::Int64> counts;
                s << sql(
                    "UPDATE conversations SET message_count = message_count + 2, updated_at_ms = ?, "
                    "prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, "
                    "cost = cost + ? WHERE id = ? RETURNING message_count"),
                    use(touched), use(prompt), use(completion), use(cost), use(c), into(counts), now;
                if (counts.empty()) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "conversation is gone");
                insertMessage(s, user, counts.front() - 1);
                insertMessage(s, assistant, counts.front());
            });
        });
    }

protected:
    void execute(const std::string& statement) {
        run([&](Session& s) { s << statement, now; });
    }

private:
    static std::string selectConversations() {
        return "SELECT id, project_id, user_id, title, created_at_ms, updated_at_ms, provider, model, system_prompt, "
               "message_count, prompt_tokens, completion_tokens, cost FROM conversations";
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

    void insertMessage(Session& s, const omnichat::StoredMessage& m, Poco::Int64 seq) {
        std::string id = m.id, conv = m.conversationId, content = m.content;
        int role = m.role;
        Poco::Int64 created = m.createdAtMs;

        auto optInt = [](int64_t v) { return v < 0 ? Poco::Nullable<Poco::Int64>() : Poco::Nullable<Poco::Int64>(v); };
        auto provider = optionalText(m.provider), model = optionalText(m.model), finish = optionalText(m.finishReason);
        auto prompt = optInt(m.promptTokens), completion = optInt(m.completionTokens), latency = optInt(m.latencyMs);
        auto cached = optInt(m.cachedTokens), reasoning = optInt(m.reasoningTokens);
        auto cost = m.cost ? Poco::Nullable<double>(*m.cost) : Poco::Nullable<double>();
        s << sql(
            "INSERT INTO messages (id, conversation_id, seq, role, content, created_at_ms, provider, model, "
            "finish_reason, prompt_tokens, completion_tokens, latency_ms, cached_tokens, reasoning_tokens, cost) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            use(id), use(conv), use(seq), use(role), use(content), use(created), use(provider), use(model), use(finish),
            use(prompt), use(completion), use(latency), use(cached), use(reasoning), use(cost), now;
    }

    // Writes `?` placeholders as the dialect wants them.
    std::string sql(const std::string& text) const {
        if (!dialect_.dollarPlaceholders) return text;
        std::string out;
        int n = 0;
        for (char ch : text) {
            if (ch == '?') {
                // Two appends, not "$" + ...: GCC 12 -O3 warns falsely
                // (-Wrestrict) about that concatenation.
                out += '$';
                out += std::to_string(++n);
            } else {
                out += ch;
            }
        }
        return out;
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
                Session s = pool_->get();
                body(s);
                return;
            } catch (const omnichat::Error&) {
                throw;
            } catch (const Poco::Data::SessionPoolExhaustedException&) {
                throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, "storage session pool exhausted");
            } catch (const Poco::Exception& e) {
                if (dialect_.isUnavailable(e)) {
                    if (attempt == 0) continue;
                    throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, redacted(e.displayText()));
                }
                throw omnichat::Error(OMNICHAT_ERR_INTERNAL, redacted(e.displayText()));
            }
        }
    }

    std::string redacted(std::string text) const {
        if (secret_.empty()) return text;
        for (size_t at; (at = text.find(secret_)) != std::string::npos;) text.replace(at, secret_.size(), "***");
        return text;
    }

    Dialect dialect_;
    std::string secret_;
    std::unique_ptr<Poco::Data::SessionPool> pool_;
};

}  // namespace omnichat_sql
