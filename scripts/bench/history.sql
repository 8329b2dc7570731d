-- pgbench: the SQL omnichat runs for one history read (the postgres plugin's
-- message page with the owner check, no limit) on a random one of the
-- conversations with 20-message histories, in one round trip as omnichat does.
\set n random(1, 1000)
SELECT m.id, m.role, m.content, m.created_at_ms, m.provider, m.model, m.finish_reason, m.prompt_tokens, m.completion_tokens, m.latency_ms, m.cached_tokens, m.reasoning_tokens, m.cost FROM conversations c LEFT JOIN LATERAL (SELECT * FROM messages WHERE conversation_id = c.id AND seq > 0 ORDER BY seq LIMIT ALL) m ON true WHERE c.id = (SELECT id FROM bench_read_ids WHERE n = :n) AND c.user_id = 'bench' ORDER BY m.seq;
