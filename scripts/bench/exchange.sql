-- pgbench: the SQL omnichat runs for one send, on a random conversation:
-- ownership and history reads, then the exchange appended in one transaction.
\set n random(1, 1000)
SELECT id AS cid FROM bench_ids WHERE n = :n \gset
SELECT id, project_id, user_id, title, created_at_ms, updated_at_ms, provider, model, system_prompt, message_count, prompt_tokens, completion_tokens, cost FROM conversations WHERE id = :cid AND user_id = 'bench';
SELECT COUNT(*) FROM conversations WHERE id = :cid AND user_id = 'bench';
SELECT id, role, content, created_at_ms, provider, model, finish_reason, prompt_tokens, completion_tokens, latency_ms, cached_tokens, reasoning_tokens, cost FROM messages WHERE conversation_id = :cid AND seq > -1 ORDER BY seq LIMIT 9223372036854775807;
BEGIN;
UPDATE conversations SET message_count = message_count + 2, updated_at_ms = 1, prompt_tokens = prompt_tokens + 20, completion_tokens = completion_tokens + 6, cost = cost + 0 WHERE id = :cid RETURNING message_count AS mc \gset
\set prev :mc - 1
INSERT INTO messages (id, conversation_id, seq, role, content, created_at_ms, provider, model, finish_reason, prompt_tokens, completion_tokens, latency_ms, cached_tokens, reasoning_tokens, cost) VALUES (gen_random_uuid()::text, :cid, :prev, 1, 'hello from the benchmark', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO messages (id, conversation_id, seq, role, content, created_at_ms, provider, model, finish_reason, prompt_tokens, completion_tokens, latency_ms, cached_tokens, reasoning_tokens, cost) VALUES (gen_random_uuid()::text, :cid, :mc, 2, 'Hello from the bench upstream.', 2, 'bench', 'bench', 'stop', 20, 6, 1, NULL, NULL, NULL);
COMMIT;
