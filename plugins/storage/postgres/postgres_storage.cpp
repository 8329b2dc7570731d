// Storage on PostgreSQL, over libpq directly: every statement is prepared
// once per pooled connection and each operation is one round trip (the
// append is one statement that locks the conversation row, bumps its counter
// and inserts both messages; appends arriving together share a
// transaction). Poco::Data prepared and tore down every statement per call
// and decoded each cell through Dynamic::Var, which was most of a send's
// cost (docs/PERFORMANCE.md).
#include <libpq-fe.h>
#include <omnichat/plugin.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schema.hpp"

namespace {

const omnichat_option_t kOptions[] = {
    omnichat::option("url", OMNICHAT_OPTION_SECRET, nullptr, true,
                     "postgresql://user:password@host:port/db (or DATABASE_URL)"),
    omnichat::option("pool_size", OMNICHAT_OPTION_INT, "16", false, "Connections kept to the database."),
    omnichat::option("concurrent_appends", OMNICHAT_OPTION_INT, "2", false,
                     "Transactions appending exchanges at once. Exchanges arriving while all are busy wait and are "
                     "appended together in the next, with one commit."),
    omnichat::option("connect_timeout_seconds", OMNICHAT_OPTION_INT, "5", false,
                     "How long one connection attempt may take, and how long a request waits for a free connection."),
};

// Prepared statements, by index into statements().
enum StatementId : size_t {
    kInsertConversation,
    kGetConversation,
    kListConversations,
    kDeleteConversation,
    kMessageSeq,
    kHistory,
    kLoad,
    kAppendExchange,
    kAppendIfUnchanged,
    kAppendMissed,
    kCountConversations,
    kStatementCount,
};

// Column lists in the order conversationAt() and messageAt() read them.
std::string columns(const char* table, std::initializer_list<const char*> names) {
    std::string out;
    for (const char* name : names) out += std::string(out.empty() ? "" : ", ") + table + "." + name;
    return out;
}
std::string conversationColumns(const char* table) {
    return columns(table, {"id", "project_id", "user_id", "title", "created_at_ms", "updated_at_ms", "provider",
                           "model", "system_prompt", "message_count", "prompt_tokens", "completion_tokens", "cost"});
}
constexpr int kConversationColumnCount = 13;
std::string messageColumns(const char* table) {
    return columns(table,
                   {"id", "role", "content", "created_at_ms", "provider", "model", "finish_reason", "prompt_tokens",
                    "completion_tokens", "latency_ms", "cached_tokens", "reasoning_tokens", "cost"});
}

// One message's 13 value parameters, numbered from `base`, in the order of
// messageColumns(); conversation_id ($5), seq and created_at come from
// `seq` and `createdAt`, which may use the host's value (its parameter
// `base + 3`).
std::string messageValues(int base, const char* seq, const std::string& createdAt) {
    auto p = [&](int i, const char* type) { return "$" + std::to_string(base + i) + "::" + type; };
    return "SELECT " + p(0, "text") + ", $5::text, " + seq + ", " + p(1, "int2") + ", " + p(2, "text") + ", " +
           createdAt + ", " + p(4, "text") + ", " + p(5, "text") + ", " + p(6, "text") + ", " + p(7, "int8") + ", " +
           p(8, "int8") + ", " + p(9, "int8") + ", " + p(10, "int8") + ", " + p(11, "int8") + ", " + p(12, "float8") +
           " FROM c";
}

// The exchange's two messages after the conversation's last, `condition`
// added to the conversation's WHERE. Timestamps follow the history: the
// conversation's updated_at is its last reply's, and an exchange whose reply
// is not later (a slower clock, or a send that finished first and appended
// second) goes after it, its question at that reply's time.
std::string appendExchangeSql(const char* condition) {
    return std::string(
               "WITH c AS (UPDATE conversations SET message_count = message_count + 2, "
               "updated_at_ms = GREATEST(updated_at_ms + 1, $1), "
               "prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3, "
               "cost = cost + $4 WHERE id = $5") +
           condition +
           " RETURNING message_count, updated_at_ms) "
           "INSERT INTO messages (id, conversation_id, seq, role, content, created_at_ms, provider, model, "
           "finish_reason, prompt_tokens, completion_tokens, latency_ms, cached_tokens, reasoning_tokens, cost) " +
           messageValues(6, "c.message_count - 1", "GREATEST($9::int8, c.updated_at_ms - 1)") + " UNION ALL " +
           messageValues(19, "c.message_count", "GREATEST($22::int8, c.updated_at_ms)");
}

const std::array<std::string, kStatementCount>& statements() {
    static const std::array<std::string, kStatementCount> sql{
        "INSERT INTO conversations (id, project_id, user_id, title, created_at_ms, updated_at_ms, provider, model, "
        "system_prompt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        "SELECT " + conversationColumns("c") + " FROM conversations c WHERE c.id = $1 AND c.user_id = $2",
        "SELECT " + conversationColumns("c") +
            " FROM conversations c WHERE c.user_id = $1 AND c.project_id = $2 ORDER BY c.created_at_ms DESC, c.id",
        // One statement, so one transaction: the messages go with their
        // conversation, and only the owner's.
        "WITH d AS (DELETE FROM conversations WHERE id = $1 AND user_id = $2 RETURNING id), "
        "m AS (DELETE FROM messages WHERE conversation_id IN (SELECT id FROM d)) SELECT count(*) FROM d",
        "SELECT m.seq FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.id = $1 AND c.id = $2 AND c.user_id = $3",
        // The owner's conversation row, joined with its page of messages: no
        // row means "not yours or gone", one row of NULLs an empty page.
        "SELECT " + messageColumns("m") +
            " FROM conversations c LEFT JOIN LATERAL (SELECT * FROM messages WHERE conversation_id = c.id AND "
            "seq > $3 ORDER BY seq LIMIT $4) m ON true WHERE c.id = $1 AND c.user_id = $2 ORDER BY m.seq",
        // The messages after the first $3 beside the conversation's own
        // columns: a send's reads in one round trip and one snapshot. seq
        // numbers a conversation's messages 1, 2, ... (see oc_append).
        "SELECT " + conversationColumns("c") + ", " + messageColumns("m") +
            " FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq > $3 WHERE c.id = $1 "
            "AND c.user_id = $2 ORDER BY m.seq",
        // Bumping the counter locks the conversation row until the statement
        // commits, so concurrent appends (from any host) take turns and each
        // pair gets adjacent sequence numbers.
        appendExchangeSql(""),
        // A concurrent append makes the UPDATE wait, then read the row
        // anew: its count no longer matches, and nothing is appended.
        appendExchangeSql(" AND message_count = $32 AND ($32 = 0 OR EXISTS (SELECT 1 FROM messages "
                          "WHERE conversation_id = $5 AND seq = $32 AND id = $33))"),
        // Why a conditional append appended nothing: its own user message is
        // there (a retry after a lost answer), or the conversation is.
        "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1), EXISTS (SELECT 1 FROM conversations WHERE id = $2)",
        "SELECT count(*) FROM conversations WHERE user_id = $1",
    };
    return sql;
}

// Text-format parameters; a missing value is SQL NULL.
class Params {
public:
    Params& text(std::string_view v) {
        values_.emplace_back(std::string(v));
        return *this;
    }
    Params& optionalText(std::string_view v) {  // empty is NULL
        if (v.empty()) return null();
        return text(v);
    }
    Params& integer(int64_t v) { return text(std::to_string(v)); }
    Params& optionalInteger(int64_t v) {  // negative is NULL
        if (v < 0) return null();
        return integer(v);
    }
    Params& real(std::optional<double> v) {
        if (!v) return null();
        char buffer[32];
        auto end = std::to_chars(buffer, buffer + sizeof buffer, *v).ptr;
        return text(std::string_view(buffer, static_cast<size_t>(end - buffer)));
    }
    Params& null() {
        values_.emplace_back(std::nullopt);
        return *this;
    }
    std::vector<const char*> pointers() const {
        std::vector<const char*> out;
        out.reserve(values_.size());
        for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
        return out;
    }

private:
    std::vector<std::optional<std::string>> values_;
};

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Whether a statement inserted, updated or deleted any row.
bool changedRows(PGresult* r) { return std::strcmp(PQcmdTuples(r), "0") != 0; }

// Typed reads of one text-format result row.
class Row {
public:
    Row(const PGresult* r, int row) : r_(r), row_(row) {}
    bool isNull(int col) const { return PQgetisnull(r_, row_, col) != 0; }
    std::string text(int col) const {
        return std::string(PQgetvalue(r_, row_, col), static_cast<size_t>(PQgetlength(r_, row_, col)));
    }
    int64_t integer(int col, int64_t ifNull = -1) const {
        if (isNull(col)) return ifNull;
        int64_t v = 0;
        const char* s = PQgetvalue(r_, row_, col);
        std::from_chars(s, s + PQgetlength(r_, row_, col), v);
        return v;
    }
    std::optional<double> real(int col) const {
        if (isNull(col)) return std::nullopt;
        double v = 0;
        const char* s = PQgetvalue(r_, row_, col);
        std::from_chars(s, s + PQgetlength(r_, row_, col), v);
        return v;
    }

private:
    const PGresult* r_;
    int row_;
};

// A statement failed; `unavailable` when the connection or server is the
// cause (the statement may be retried elsewhere), not the statement.
struct StatementFailed {
    std::string message;
    std::string sqlState;
    bool unavailable;
};

// One connection and the statements prepared on it. Used by one thread at a
// time (the pool hands it out).
class Connection {
public:
    explicit Connection(PGconn* c) : conn_(c) {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { PQfinish(conn_); }

    bool broken() const { return unusable_ || PQstatus(conn_) != CONNECTION_OK; }
    // libpq prints the server's notices to stderr unless told where.
    void onNotice(PQnoticeProcessor processor, void* arg) { PQsetNoticeProcessor(conn_, processor, arg); }
    std::string errorMessage() const { return PQerrorMessage(conn_); }

    Result run(StatementId id, const Params& params) {
        prepare(id);
        auto values = params.pointers();
        return check(
            Result(PQexecPrepared(conn_, name(id), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0),
                   &PQclear));
    }

    Result run(const std::string& sql) { return check(Result(PQexec(conn_, sql.c_str()), &PQclear)); }

    // Runs the statements in one implicit transaction: libpq's pipeline mode
    // sends them all and then one Sync, so together they cost one round trip
    // and one commit. Returns whether each changed a row. Throws when one
    // failed, and then none took effect (unless the connection was lost
    // after the commit).
    std::vector<bool> runTogether(const std::vector<std::pair<StatementId, const Params*>>& statements) {
        for (const auto& [id, params] : statements) prepare(id);
        if (PQenterPipelineMode(conn_) != 1) check(Result(nullptr, &PQclear));
        std::vector<bool> changed;
        std::optional<StatementFailed> failure;
        try {
            for (const auto& [id, params] : statements) {
                auto values = params->pointers();
                if (PQsendQueryPrepared(conn_, name(id), static_cast<int>(values.size()), values.data(), nullptr,
                                        nullptr, 0) != 1)
                    check(Result(nullptr, &PQclear));
            }
            if (PQpipelineSync(conn_) != 1) check(Result(nullptr, &PQclear));
            // Each statement's result, then a null; then the Sync's. After a
            // failure the statements that follow report PIPELINE_ABORTED.
            for (size_t i = 0; i < statements.size(); ++i) {
                Result r(PQgetResult(conn_), &PQclear);
                if (!r) check(std::move(r));  // the connection is gone
                if (PQresultStatus(r.get()) != PGRES_PIPELINE_ABORTED) {
                    try {
                        changed.push_back(changedRows(check(std::move(r)).get()));
                    } catch (StatementFailed& e) {
                        if (!failure) failure = std::move(e);
                    }
                }
                while (Result(PQgetResult(conn_), &PQclear)) {
                }
            }
            Result sync(PQgetResult(conn_), &PQclear);
            if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) check(std::move(sync));
        } catch (StatementFailed& e) {
            if (!failure) failure = std::move(e);
        }
        // Results still unread: the connection is in no state to reuse.
        if (PQexitPipelineMode(conn_) != 1) unusable_ = true;
        if (failure) throw std::move(*failure);
        return changed;
    }

private:
    void prepare(StatementId id) {
        if (prepared_[id]) return;
        check(Result(PQprepare(conn_, name(id), statements()[id].c_str(), 0, nullptr), &PQclear));
        prepared_[id] = true;
    }

    static const char* name(StatementId id) {
        static const std::array<const char*, kStatementCount> names{
            "oc_ins_conv", "oc_get_conv", "oc_list_conv", "oc_del_conv",      "oc_msg_seq",   "oc_history",
            "oc_load",     "oc_append",   "oc_append_if", "oc_append_missed", "oc_count_conv"};
        return names[id];
    }

    Result check(Result r) const {
        auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
        const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
        std::string sqlState = state ? state : "";
        // Class 08 is connection exceptions; 57P0x an administrator's or a
        // crash's shutdown of the server.
        bool unavailable = broken() || sqlState.rfind("08", 0) == 0 || sqlState.rfind("57P0", 0) == 0;
        std::string message = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_);
        throw StatementFailed{std::move(message), std::move(sqlState), unavailable};
    }

    PGconn* conn_;
    bool unusable_ = false;
    std::array<bool, kStatementCount> prepared_{};
};

class PostgresStorage : public omnichat::Storage {
public:
    explicit PostgresStorage(const omnichat::Host& host)
        : Storage(host),
          url_(host.option("url", "")),
          connectTimeout_(std::to_string(host.intOption("connect_timeout_seconds", 5))),
          waitLimit_(std::chrono::seconds(host.intOption("connect_timeout_seconds", 5))),
          poolSize_(static_cast<size_t>(std::max<int64_t>(1, host.intOption("pool_size", 16)))),
          concurrentAppends_(static_cast<size_t>(
              std::clamp<int64_t>(host.intOption("concurrent_appends", 2), 1, static_cast<int64_t>(poolSize_)))) {
        char* error = nullptr;
        PQconninfoOption* parsed = PQconninfoParse(url_.c_str(), &error);
        if (!parsed) {
            // libpq's message quotes the string, password and all.
            PQfreemem(error);
            throw omnichat::Error(OMNICHAT_ERR_BAD_REQUEST, "url is not a valid postgresql:// URL");
        }
        for (auto* o = parsed; o->keyword; ++o)
            if (std::strcmp(o->keyword, "password") == 0 && o->val) password_ = o->val;
        PQconninfoFree(parsed);
    }

    void migrate() override {
        withConnection([&](Connection& c) {
            c.run("BEGIN");
            try {
                // Serializes concurrent migrations across processes.
                c.run("SELECT pg_advisory_xact_lock(7243501)");
                c.run(omnichat_sql::kSchemaTable);
                auto version = Row(c.run("SELECT COALESCE(MAX(version), 0) FROM omnichat_schema").get(), 0).integer(0);
                const auto& all = omnichat_sql::migrations();
                for (auto v = static_cast<size_t>(version); v < all.size(); ++v) {
                    for (const auto& ddl : all[v]) c.run(ddl);
                    c.run("INSERT INTO omnichat_schema (version) VALUES (" + std::to_string(v + 1) + ")");
                }
                c.run("COMMIT");
            } catch (...) {
                try {
                    c.run("ROLLBACK");
                } catch (const StatementFailed&) {
                    // The connection is gone; so is its transaction.
                }
                throw;
            }
        });
    }

    void ping() override {
        withConnection([&](Connection& c) { c.run("SELECT 1"); });
    }

    void createConversation(const omnichat::Conversation& conv) override {
        Params p;
        p.text(conv.id).text(conv.projectId).text(conv.userId);
        if (conv.title)
            p.text(*conv.title);
        else
            p.null();
        p.integer(conv.createdAtMs)
            .integer(conv.updatedAtMs)
            .optionalText(conv.provider)
            .optionalText(conv.model)
            .optionalText(conv.systemPrompt);
        withConnection([&](Connection& c) { c.run(kInsertConversation, p); });
    }

    void getConversation(std::string_view id, std::string_view userId,
                         const omnichat::ConversationSink& sink) override {
        Params p;
        p.text(id).text(userId);
        withConnection([&](Connection& c) {
            auto r = c.run(kGetConversation, p);
            if (PQntuples(r.get()) == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
            emitConversations(r.get(), sink);
        });
    }

    void listConversations(std::string_view userId, std::string_view projectId,
                           const omnichat::ConversationSink& sink) override {
        Params p;
        p.text(userId).text(projectId);
        withConnection([&](Connection& c) { emitConversations(c.run(kListConversations, p).get(), sink); });
    }

    int64_t countConversations(std::string_view userId) override {
        Params p;
        p.text(userId);
        int64_t count = 0;
        withConnection([&](Connection& c) { count = Row(c.run(kCountConversations, p).get(), 0).integer(0); });
        return count;
    }

    void deleteConversation(std::string_view id, std::string_view userId) override {
        Params p;
        p.text(id).text(userId);
        withConnection([&](Connection& c) {
            if (Row(c.run(kDeleteConversation, p).get(), 0).integer(0) == 0)
                throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
        });
    }

    void listMessages(std::string_view conversationId, std::string_view userId, std::string_view afterId, int64_t limit,
                      const omnichat::MessageSink& sink) override {
        withConnection([&](Connection& c) {
            int64_t afterSeq = -1;
            if (!afterId.empty()) {
                Params p;
                p.text(afterId).text(conversationId).text(userId);
                auto r = c.run(kMessageSeq, p);
                if (PQntuples(r.get()) == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such message");
                afterSeq = Row(r.get(), 0).integer(0);
            }
            Params p;
            p.text(conversationId).text(userId).integer(afterSeq);
            if (limit < 0)
                p.null();  // LIMIT NULL: all
            else
                p.integer(limit);
            auto r = c.run(kHistory, p);
            int rows = PQntuples(r.get());
            if (rows == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
            omnichat::StoredMessage m;
            m.conversationId = std::string(conversationId);
            for (int i = 0; i < rows; ++i) {
                Row row(r.get(), i);
                if (row.isNull(0)) continue;  // the conversation has no messages in this page
                readMessage(row, 0, m);
                sink(m);
            }
        });
    }

    void loadConversationSince(std::string_view id, std::string_view userId, int64_t knownCount,
                               const omnichat::ConversationSink& conversation,
                               const omnichat::MessageSink& messages) override {
        Params p;
        p.text(id).text(userId).integer(knownCount);
        withConnection([&](Connection& c) {
            auto r = c.run(kLoad, p);
            int rows = PQntuples(r.get());
            if (rows == 0) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "no such conversation");
            conversation(conversationAt(Row(r.get(), 0)));
            omnichat::StoredMessage m;
            m.conversationId = std::string(id);
            for (int i = 0; i < rows; ++i) {
                Row row(r.get(), i);
                if (row.isNull(kConversationColumnCount)) continue;  // no messages yet
                readMessage(row, kConversationColumnCount, m);
                messages(m);
            }
        });
    }

    void appendExchange(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant) override {
        auto p = exchangeParams(user, assistant);
        auto grouped = appendTogether(kAppendExchange, p, user.conversationId);
        if (grouped == Grouped::Failed) {
            // Alone now. The group may have failed after its commit (its
            // answer lost): the ids, made once by the host, are then stored
            // already, and so is the exchange.
            withConnection([&](Connection& c) {
                try {
                    grouped =
                        changedRows(c.run(kAppendExchange, p).get()) ? Grouped::Appended : Grouped::NothingAppended;
                } catch (const StatementFailed& e) {
                    if (e.sqlState != "23505") throw;
                    grouped = Grouped::Appended;
                }
            });
        }
        if (grouped == Grouped::NothingAppended) throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "conversation is gone");
    }

    void appendExchangeIfUnchanged(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant,
                                   int64_t expectedCount, std::string_view expectedLastId) override {
        auto p = exchangeParams(user, assistant);
        p.integer(expectedCount).text(expectedLastId);
        auto grouped = appendTogether(kAppendIfUnchanged, p, user.conversationId);
        if (grouped == Grouped::Appended) return;
        withConnection([&](Connection& c) {
            if (grouped == Grouped::Failed && changedRows(c.run(kAppendIfUnchanged, p).get())) return;
            Params q;
            q.text(user.id).text(user.conversationId);
            auto r = c.run(kAppendMissed, q);
            Row row(r.get(), 0);
            if (row.text(0) == "t") return;  // appended by an attempt whose answer was lost
            if (row.text(1) == "t") throw omnichat::Error(OMNICHAT_ERR_CONFLICT, "the history changed");
            throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, "conversation is gone");
        });
    }

    Stats stats() const override {
        std::lock_guard lock(mutex_);
        return {static_cast<int64_t>(open_), static_cast<int64_t>(open_ - idle_.size()), waits_};
    }

private:
    enum class Grouped { Appended, NothingAppended, Failed };

    // An append waiting for a transaction to carry it.
    struct PendingAppend {
        StatementId statement;
        const Params* params;
        const std::string* conversationId;
        bool taken = false;  // into a transaction
        bool done = false;   // that transaction ended
        Grouped outcome = Grouped::Failed;
        // It is done, or a transaction's place is free for it to lead.
        std::condition_variable wake;
    };

    // Runs the append in a transaction shared with the appends waiting
    // beside it. At most concurrent_appends such transactions run at once;
    // an append arriving while they all do waits, and everything that waited
    // goes in the next one. A burst of replies then costs PostgreSQL a few
    // commits instead of one each, and a lone append waits for nothing.
    // Measured (scripts/bench/run.sh --only throughput with
    // concurrent_appends 16, i.e. never grouping, against the default 2):
    // send-64conn 1.60 times its storage floor against 1.97-2.38. Failed: the
    // shared transaction failed, perhaps after committing; the caller tries
    // alone.
    Grouped appendTogether(StatementId statement, const Params& params, const std::string& conversationId) {
        PendingAppend me{statement, &params, &conversationId, false, false, Grouped::Failed, {}};
        std::unique_lock lock(groupMutex_);
        waiting_.push_back(&me);
        while (!me.done) {
            if (me.taken || appending_ >= concurrentAppends_) {
                me.wake.wait(lock);
                continue;
            }
            // Lead a transaction: whatever waits, up to kMaxGroup (maybe
            // without this append, when more wait; then lead again).
            std::vector<PendingAppend*> group;
            while (!waiting_.empty() && group.size() < kMaxGroup) {
                group.push_back(waiting_.front());
                group.back()->taken = true;
                waiting_.pop_front();
            }
            ++appending_;
            lock.unlock();
            appendGroup(group);
            lock.lock();
            --appending_;
            // Wakes only the appends it carried and the next one to lead:
            // waking every waiting thread sent most of them back to sleep.
            for (auto* pending : group) {
                pending->done = true;
                pending->wake.notify_one();
            }
            if (!waiting_.empty()) waiting_.front()->wake.notify_one();
        }
        return me.outcome;
    }

    // Sets each append's outcome; on any failure they stay Failed, and each
    // append tries alone, failing or not on its own.
    void appendGroup(const std::vector<PendingAppend*>& group) noexcept {
        // One order of row locks for every transaction: two of them touching
        // the same conversations cannot wait for each other.
        try {
            auto ordered = group;
            std::stable_sort(ordered.begin(), ordered.end(), [](const PendingAppend* a, const PendingAppend* b) {
                return *a->conversationId < *b->conversationId;
            });
            std::vector<std::pair<StatementId, const Params*>> statements;
            for (const auto* pending : ordered) statements.emplace_back(pending->statement, pending->params);
            withConnection([&](Connection& c) {
                auto changed = c.runTogether(statements);
                for (size_t i = 0; i < ordered.size(); ++i)
                    ordered[i]->outcome = changed[i] ? Grouped::Appended : Grouped::NothingAppended;
            });
        } catch (...) {
            // Every outcome is still Failed: each append tries alone.
        }
    }

    static Params exchangeParams(const omnichat::StoredMessage& user, const omnichat::StoredMessage& assistant) {
        Params p;
        p.integer(assistant.createdAtMs)
            .integer(std::max<int64_t>(0, assistant.promptTokens))
            .integer(std::max<int64_t>(0, assistant.completionTokens))
            .real(assistant.cost.value_or(0.0))
            .text(user.conversationId);
        for (const auto* m : {&user, &assistant}) {
            p.text(m->id)
                .integer(m->role)
                .text(m->content)
                .integer(m->createdAtMs)
                .optionalText(m->provider)
                .optionalText(m->model)
                .optionalText(m->finishReason)
                .optionalInteger(m->promptTokens)
                .optionalInteger(m->completionTokens)
                .optionalInteger(m->latencyMs)
                .optionalInteger(m->cachedTokens)
                .optionalInteger(m->reasoningTokens)
                .real(m->cost);
        }
        return p;
    }

    using Lease = std::unique_ptr<Connection>;

    // Runs `body` on a pooled connection. A connection that went stale (the
    // database restarted) fails once: the body runs again on a fresh one.
    // Every operation is a transaction of its own, so a retried statement
    // either had no effect or (the append) says so.
    template <class F>
    void withConnection(F&& body) {
        for (int attempt = 0;; ++attempt) {
            Lease c = acquire();
            try {
                body(*c);
                release(std::move(c));
                return;
            } catch (const StatementFailed& e) {
                if (c->broken()) {
                    c.reset();
                    forget();
                } else {
                    release(std::move(c));
                }
                if (e.unavailable) {
                    // The server went away: the idle connections went with it.
                    dropIdle();
                    if (attempt == 0) continue;
                    throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, redacted(e.message));
                }
                throw omnichat::Error(OMNICHAT_ERR_INTERNAL, redacted(e.message));
            } catch (...) {
                // omnichat::Error from the body: the connection is fine.
                release(std::move(c));
                throw;
            }
        }
    }

    // An idle connection, or a new one while fewer than pool_size exist;
    // otherwise waits for one up to connect_timeout_seconds.
    Lease acquire() {
        {
            std::unique_lock lock(mutex_);
            if (idle_.empty() && open_ >= poolSize_) ++waits_;
            if (!available_.wait_for(lock, waitLimit_, [&] { return !idle_.empty() || open_ < poolSize_; }))
                throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, "all storage connections are busy");
            if (!idle_.empty()) {
                Lease c = std::move(idle_.back());
                idle_.pop_back();
                return c;
            }
            ++open_;
        }
        try {
            return connect();
        } catch (...) {
            forget();
            throw;
        }
    }

    Lease connect() {
        // Every statement finds rows by key, so one plan per statement
        // serves all calls. Left to choose, PostgreSQL planned oc_load anew
        // on every call (its range on seq looks selective to a custom plan):
        // 0.32 ms a call against 0.10 ms with the generic plan (pgbench,
        // one client).
        const char* keys[] = {"connect_timeout", "options", "dbname", nullptr};
        // The URL comes last: what it says itself wins.
        const char* values[] = {connectTimeout_.c_str(), "-c plan_cache_mode=force_generic_plan", url_.c_str(),
                                nullptr};
        auto c = std::make_unique<Connection>(PQconnectdbParams(keys, values, 1));
        if (c->broken()) {
            // Connection's destructor frees the failed PGconn.
            throw omnichat::Error(OMNICHAT_ERR_UNAVAILABLE, redacted(c->errorMessage()));
        }
        // Into the host's log, in its format ("relation ... already exists,
        // skipping" at every start's migration).
        c->onNotice(
            [](void* self, const char* message) {
                std::string_view text(message);
                while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
                static_cast<const PostgresStorage*>(self)->host().log(OMNICHAT_LOG_DEBUG, text);
            },
            this);
        return c;
    }

    void release(Lease c) {
        {
            std::lock_guard lock(mutex_);
            idle_.push_back(std::move(c));
        }
        available_.notify_one();
    }

    // A leased connection was closed: its place is free.
    void forget() {
        {
            std::lock_guard lock(mutex_);
            --open_;
        }
        available_.notify_one();
    }

    void dropIdle() {
        std::vector<Lease> stale;
        {
            std::lock_guard lock(mutex_);
            stale.swap(idle_);
            open_ -= stale.size();
        }
        available_.notify_all();
    }

    static void emitConversations(const PGresult* r, const omnichat::ConversationSink& sink) {
        for (int i = 0, rows = PQntuples(r); i < rows; ++i) sink(conversationAt(Row(r, i)));
    }

    static omnichat::Conversation conversationAt(const Row& row) {
        omnichat::Conversation c;
        c.id = row.text(0);
        c.projectId = row.text(1);
        c.userId = row.text(2);
        if (!row.isNull(3)) c.title = row.text(3);
        c.createdAtMs = row.integer(4);
        c.updatedAtMs = row.integer(5);
        c.provider = row.text(6);
        c.model = row.text(7);
        c.systemPrompt = row.text(8);
        c.messageCount = row.integer(9);
        c.promptTokens = row.integer(10);
        c.completionTokens = row.integer(11);
        c.cost = row.real(12).value_or(0.0);
        return c;
    }

    // The messageColumns() starting at column `first` into `m`, whose
    // conversation id the caller sets.
    static void readMessage(const Row& row, int first, omnichat::StoredMessage& m) {
        m.id = row.text(first);
        m.role = static_cast<omnichat_role_t>(row.integer(first + 1));
        m.content = row.text(first + 2);
        m.createdAtMs = row.integer(first + 3);
        m.provider = row.text(first + 4);
        m.model = row.text(first + 5);
        m.finishReason = row.text(first + 6);
        m.promptTokens = row.integer(first + 7);
        m.completionTokens = row.integer(first + 8);
        m.latencyMs = row.integer(first + 9);
        m.cachedTokens = row.integer(first + 10);
        m.reasoningTokens = row.integer(first + 11);
        m.cost = row.real(first + 12);
    }

    std::string redacted(std::string text) const {
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        if (password_.empty()) return text;
        for (size_t at; (at = text.find(password_)) != std::string::npos;) text.replace(at, password_.size(), "***");
        return text;
    }

    const std::string url_, connectTimeout_;
    std::string password_;
    const std::chrono::seconds waitLimit_;
    const size_t poolSize_;

    // Appends waiting for a transaction to carry them (appendTogether):
    // one per calling thread at most.
    static constexpr size_t kMaxGroup = 32;
    const size_t concurrentAppends_;
    std::mutex groupMutex_;
    std::deque<PendingAppend*> waiting_;
    size_t appending_ = 0;  // transactions running

    mutable std::mutex mutex_;
    std::condition_variable available_;
    std::vector<Lease> idle_;
    size_t open_ = 0;    // idle and leased
    int64_t waits_ = 0;  // acquisitions that found every connection busy
};

}  // namespace

OMNICHAT_STORAGE_PLUGIN(PostgresStorage, "postgres", "1.0.0", kOptions)
