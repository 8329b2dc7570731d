// The postgres plugin's appends that arrive together, through the host's
// storage port, against the test database.
#include <libpq-fe.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "plugins/plugin_config.hpp"
#include "ports/host_table.hpp"
#include "ports/plugin_storage.hpp"
#include "throwaway_postgres.hpp"

namespace omnichat {
namespace {

// A session of its own on the test database, to hold row locks and look.
class Session {
public:
    Session() : conn_(PQconnectdb(omnichat::testing::sharedTestDatabaseUrl().c_str()), &PQfinish) {
        if (PQstatus(conn_.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn_.get()));
    }
    // The first cell of `sql`'s answer.
    std::string value(const std::string& sql) {
        std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn_.get(), sql.c_str()), &PQclear);
        auto status = PQresultStatus(r.get());
        if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
            throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
        return status == PGRES_TUPLES_OK && PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
    }
    int pid() const { return PQbackendPID(conn_.get()); }

private:
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

// Polls `done` until it holds, for at most ten seconds.
bool eventually(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

// Whether the thread `tid` of this process sleeps (waits for a lock or a
// condition).
bool sleeping(pid_t tid) {
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto end = line.rfind(')');
    return end != std::string::npos && end + 2 < line.size() && line[end + 2] == 'S';
}

class PostgresStorageTest : public ::testing::Test {
protected:
    void SetUp() override {
        // One transaction appending at a time: what waits meanwhile goes
        // together in the next.
        storage_ = std::make_unique<PluginStorage>(
            plugins_.createInstance({"postgres",
                                     {{"url", {omnichat::testing::sharedTestDatabaseUrl(), "f.yaml:2"}},
                                      {"concurrent_appends", {"1", "f.yaml:3"}}},
                                     "f.yaml:1"},
                                    "storage", OMNICHAT_PLUGIN_STORAGE));
        storage_->migrate();
    }

    std::string newConversation() {
        domain::Conversation c;
        c.id = newUuid();
        c.projectId = owner_;
        c.userId = owner_;
        storage_->createConversation(c);
        return c.id;
    }

    // Appends an exchange to each conversation, each from a thread of its
    // own, while the first one's transaction waits for `holder`'s lock on
    // that conversation: the others wait in the plugin meanwhile. Then
    // releases the lock. Returns each append's result: "appended",
    // "gone" or the error.
    std::vector<std::string> appendWhileTheFirstWaits(Session& holder, const std::vector<std::string>& conversations,
                                                      const std::vector<std::string>& contents) {
        holder.value("BEGIN");
        holder.value("SELECT 1 FROM conversations WHERE id = '" + conversations[0] + "' FOR UPDATE");
        std::vector<std::string> results(conversations.size());
        std::vector<std::atomic<pid_t>> tids(conversations.size());
        std::vector<std::thread> threads;
        auto append = [&](size_t i) {
            tids[i] = static_cast<pid_t>(syscall(SYS_gettid));
            domain::StoredMessage user, reply;
            user.id = newUuid();
            user.conversationId = conversations[i];
            user.content = contents[i];
            reply.id = newUuid();
            reply.conversationId = conversations[i];
            reply.role = OMNICHAT_ROLE_ASSISTANT;
            reply.content = "an answer";
            try {
                results[i] = storage_->appendExchange(user, reply) ? "appended" : "gone";
            } catch (const StorageError& e) {
                results[i] = std::string("error: ") + e.what();
            }
        };
        threads.emplace_back(append, 0);
        std::string blocked = "SELECT count(*) FROM pg_stat_activity WHERE " + std::to_string(holder.pid()) +
                              " = ANY(pg_blocking_pids(pid))";
        EXPECT_TRUE(eventually([&] { return holder.value(blocked) == "1"; }));
        for (size_t i = 1; i < conversations.size(); ++i) threads.emplace_back(append, i);
        EXPECT_TRUE(eventually([&] {
            for (size_t i = 1; i < tids.size(); ++i)
                if (tids[i] == 0 || !sleeping(tids[i])) return false;
            return true;
        }));
        holder.value("COMMIT");
        for (auto& t : threads) t.join();
        return results;
    }

    // The transactions that wrote the messages of `conversations`.
    std::string transactionsWriting(Session& session, const std::vector<std::string>& conversations) {
        std::string ids;
        for (const auto& id : conversations) {
            ids += ids.empty() ? "'" : ", '";
            ids += id;
            ids += "'";
        }
        return session.value("SELECT count(DISTINCT xmin::text) FROM messages WHERE conversation_id IN (" + ids + ")");
    }

    const std::string owner_ = "u";
    PluginLibraries plugins_{OMNICHAT_PLUGIN_DIR, hostTable()};
    std::unique_ptr<PluginStorage> storage_;
};

TEST_F(PostgresStorageTest, ExchangesArrivingTogetherShareOneCommit) {
    Session holder;
    std::vector<std::string> conversations;
    for (int i = 0; i < 5; ++i) conversations.push_back(newConversation());
    auto results = appendWhileTheFirstWaits(holder, conversations, std::vector<std::string>(5, "a question"));
    for (const auto& r : results) EXPECT_EQ(r, "appended");
    std::vector<std::string> waited(conversations.begin() + 1, conversations.end());
    EXPECT_EQ(transactionsWriting(holder, waited), "1");
    EXPECT_EQ(holder.value("SELECT count(*) FROM messages WHERE conversation_id = '" + conversations[2] + "'"), "2");
}

TEST_F(PostgresStorageTest, AnExchangeFailingInAGroupFailsAlone) {
    Session holder;
    std::vector<std::string> conversations;
    for (int i = 0; i < 4; ++i) conversations.push_back(newConversation());
    // PostgreSQL refuses text that is not UTF-8.
    auto results =
        appendWhileTheFirstWaits(holder, conversations, {"a question", "fine", "bad \xc3\x28 bytes", "also fine"});
    EXPECT_EQ(results[0], "appended");
    EXPECT_EQ(results[1], "appended");
    EXPECT_EQ(results[2].rfind("error: ", 0), 0u) << results[2];
    EXPECT_EQ(results[3], "appended");
    auto count = [&](const std::string& id) {
        return holder.value("SELECT count(*) || '/' || (SELECT message_count FROM conversations WHERE id = '" + id +
                            "') FROM messages WHERE conversation_id = '" + id + "'");
    };
    EXPECT_EQ(count(conversations[1]), "2/2");
    EXPECT_EQ(count(conversations[2]), "0/0");
    EXPECT_EQ(count(conversations[3]), "2/2");
}

}  // namespace
}  // namespace omnichat
