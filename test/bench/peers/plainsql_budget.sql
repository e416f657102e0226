-- Peer "plainsql" for W4: the newest messages whose running token estimate
-- fits in :budget (token_count, else 1 token per 4 bytes of content and
-- tool_calls, rounded up), oldest first.  Shortcuts: it neither keeps the
-- leading system message nor keeps an assistant's tool_calls together with
-- the tool answers, and it reads the whole thread (a window sum cannot stop
-- early).
SELECT s.thread_id, s.id, s.seq, s.role, s.content, s.parts, s.name, s.model, s.tool_calls,
       s.tool_call_id, s.metadata, s.usage, s.token_count, s.parent_id, s.user_id,
       s.created_at, s.fingerprint
FROM (
  SELECT m.*, sum(COALESCE(m.token_count::bigint,
                           (COALESCE(octet_length(m.content), 0)
                            + COALESCE(octet_length(m.tool_calls::text), 0) + 3) / 4))
              OVER (ORDER BY m.seq DESC) AS running
  FROM chat_messages m WHERE m.thread_id = :tid
) s
WHERE s.running <= :budget
ORDER BY s.seq;
