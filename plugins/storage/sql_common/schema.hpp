// The chat-domain schema, shared by the postgres and sqlite plugins: portable
// SQL (TEXT ids, BIGINT epoch milliseconds) both databases accept as is.
#pragma once

#include <string>
#include <vector>

namespace omnichat_sql {

// Schema versions, applied in order; each entry is one migration. Append
// only: a database records the number of entries it has applied.
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

inline const char* const kSchemaTable = "CREATE TABLE IF NOT EXISTS omnichat_schema (version BIGINT NOT NULL)";

}  // namespace omnichat_sql
