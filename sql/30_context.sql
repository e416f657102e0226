-- chat_context: the history as one JSON array in the OpenAI chat-completions
-- message shape, with the limits of chat_history (max_messages, cursors,
-- max_tokens with the system-prefix and tool-pair rules).
\pset null '(null)'


-- which messages a context holds: message N has the content "cN" (the text
-- of its first part for content parts; its role when content is null)
CREATE FUNCTION pg_temp.ids(ctx jsonb) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT coalesce(string_agg(CASE jsonb_typeof(e->'content')
                                   WHEN 'array' THEN (e->'content'->0->>'text') || '(parts)'
                                   WHEN 'string' THEN e->>'content'
                                   ELSE e->>'role' END, ' ' ORDER BY n), '(empty)')
    FROM jsonb_array_elements(ctx) WITH ORDINALITY AS x(e, n)); END
$$;

-- seq: 1 system (10 tokens), 2 developer (5), 3 user (10), 4 assistant (10),
-- 5 user (10), 6 assistant calling two tools (20), 7 and 8 the tool answers
-- (5 each), 9 assistant (10), 10 user with content parts (10).  Aliases
-- human / ai and LangChain "type" are stored canonical.
SELECT saved_count FROM chat_save_messages('ctx-t1', '[
  {"id": "m1", "role": "system", "content": "c1", "token_count": 10},
  {"id": "m2", "role": "developer", "content": "c2", "token_count": 5},
  {"id": "m3", "role": "human", "content": "c3", "token_count": 10, "name": "alice"},
  {"id": "m4", "type": "ai", "content": "c4", "token_count": 10, "model": "gpt-x", "metadata": {"k": 1}},
  {"id": "m5", "role": "user", "content": "c5", "token_count": 10},
  {"id": "m6", "role": "assistant", "content": null, "token_count": 20,
   "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
                  {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
  {"id": "m7", "role": "tool", "tool_call_id": "call_a", "content": "c7", "token_count": 5},
  {"id": "m8", "role": "tool", "tool_call_id": "call_b", "content": "c8", "token_count": 5, "name": "g"},
  {"id": "m9", "role": "assistant", "content": "c9", "token_count": 10},
  {"id": "m10", "role": "user", "token_count": 10,
   "content": [{"type": "text", "text": "c10"}, {"type": "image_url", "image_url": {"url": "https://example.invalid/i.png"}}]}
]', 'ctx-u1');

-- the whole thread, in seq order: role and content always; name,
-- tool_calls and tool_call_id only when present; no store-only fields
-- (id, seq, model, metadata, usage); content parts come back as the array;
-- a tool-call-only assistant message has "content": null
SELECT jsonb_pretty(chat_context('ctx-t1'));
SELECT jsonb_typeof(chat_context('ctx-t1')) AS type,
       jsonb_array_length(chat_context('ctx-t1')) AS n;

-- max_messages: the latest N, oldest first
SELECT pg_temp.ids(chat_context('ctx-t1', max_messages => 2));
SELECT pg_temp.ids(chat_context('ctx-t1', max_messages => 0));
SELECT pg_temp.ids(chat_context('ctx-t1', max_messages => 100));
-- cursors: before_seq / after_seq exclusive; with after_seq, max_messages
-- takes the first N after it (forward paging)
SELECT pg_temp.ids(chat_context('ctx-t1', before_seq => 4));
SELECT pg_temp.ids(chat_context('ctx-t1', after_seq => 8));
SELECT pg_temp.ids(chat_context('ctx-t1', after_seq => 2, max_messages => 2));
SELECT pg_temp.ids(chat_context('ctx-t1', before_seq => 6, max_messages => 2));
SELECT pg_temp.ids(chat_context('ctx-t1', after_seq => 3, before_seq => 6));
SELECT pg_temp.ids(chat_context('ctx-t1', after_seq => 5, before_seq => 6));

-- max_tokens: the leading system messages (system and developer, 15
-- tokens) are always kept and count; then the newest contiguous run that fits
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 1000));
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 35));   -- 15 + c9 + c10
-- next older is the tool answers c8 and c7 (10): they are never taken
-- without their assistant call (20), so the group needs 30 more
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 44));   -- 9 left: no tool answer alone
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 64));   -- 29 left: one short of the group
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 65));   -- the call and both answers, together
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 74));   -- 9 left: c5 (10) does not fit
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 75));
-- the system messages alone fill or exceed the budget: only they come back
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 15));
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 14));
SELECT pg_temp.ids(chat_context('ctx-t1', max_tokens => 0));
-- the budget within cursors: before_seq => 9 ends on the tool answers; the
-- group is taken whole or not at all
SELECT pg_temp.ids(chat_context('ctx-t1', before_seq => 9, max_tokens => 44));
SELECT pg_temp.ids(chat_context('ctx-t1', before_seq => 9, max_tokens => 45));
-- with max_messages the run comes from that window (the latest 2 here), and
-- the thread's leading system messages (15 tokens) are kept wherever the
-- window is: over 10 or 20 tokens only they fit
SELECT pg_temp.ids(chat_context('ctx-t1', max_messages => 2, max_tokens => 10));
SELECT pg_temp.ids(chat_context('ctx-t1', max_messages => 2, max_tokens => 20));

-- messages without token_count are estimated at one token per 4 bytes of
-- content and tool_calls, rounded up: 8 bytes = 2 tokens, 9 bytes = 3
SELECT saved_count FROM chat_save_messages('ctx-t2', '[
  {"id": "a", "role": "user", "content": "12345678"},
  {"id": "b", "role": "assistant", "content": "123456789"},
  {"id": "c", "role": "user", "content": "1234"}
]', 'ctx-u1');
SELECT pg_temp.ids(chat_context('ctx-t2', max_tokens => 4));
SELECT pg_temp.ids(chat_context('ctx-t2', max_tokens => 3));
SELECT pg_temp.ids(chat_context('ctx-t2', max_tokens => 5));
SELECT pg_temp.ids(chat_context('ctx-t2', max_tokens => 6));

-- a thread that is only a system prompt: kept even over budget
SELECT saved_count FROM chat_save_messages('ctx-t3', '[{"id": "s", "role": "system", "content": "only"}]');
SELECT pg_temp.ids(chat_context('ctx-t3', max_tokens => 100));
SELECT pg_temp.ids(chat_context('ctx-t3', max_tokens => 0));

-- a window that cuts a tool call from its answers is trimmed so a model
-- accepts it: the latest 3 (c8 c9 c10) start with the answer c8, whose
-- call (c6) is outside: it is dropped; history itself keeps it
SELECT pg_temp.ids(chat_context('ctx-t1', max_messages => 3));
SELECT string_agg(id, ' ' ORDER BY seq) FROM chat_history('ctx-t1', 3);
-- before seq 7 ends on the call c6, whose answers are outside: dropped
SELECT pg_temp.ids(chat_context('ctx-t1', before_seq => 7));
-- the call and both answers in the window: all kept
SELECT pg_temp.ids(chat_context('ctx-t1', after_seq => 5, before_seq => 9));

-- unknown thread: an empty array, not an error
SELECT chat_context('ctx-none');
SELECT chat_context('ctx-none', max_messages => 5, max_tokens => 10);

-- chat_context equals chat_history converted, for every limit combination,
-- less what a model API would reject: a tool answer whose assistant call is
-- not right before it (only other answers between), and an assistant call
-- that no answer follows (written here with plain subqueries, independently
-- of chat_context's window functions)
SELECT bool_and(
    chat_context('ctx-t1', mm, bs, af, mt) =
    coalesce((WITH h AS (SELECT * FROM chat_history('ctx-t1', mm, bs, af, mt))
              SELECT jsonb_agg(e ORDER BY s) FROM (
        SELECT h.seq AS s,
               jsonb_strip_nulls(jsonb_build_object('name', h.name, 'tool_calls', h.tool_calls,
                                                    'tool_call_id', h.tool_call_id))
               || jsonb_build_object('role', h.role,
                                     'content', coalesce(h.parts, to_jsonb(h.content)))
               AS e
        FROM h
        WHERE CASE
            WHEN h.role = 'tool' THEN EXISTS (
                SELECT 1 FROM h a
                WHERE a.role = 'assistant' AND a.tool_calls IS NOT NULL AND a.seq < h.seq
                  AND NOT EXISTS (SELECT 1 FROM h z WHERE z.seq > a.seq AND z.seq < h.seq
                                                      AND z.role <> 'tool'))
            WHEN h.role = 'assistant' AND h.tool_calls IS NOT NULL THEN
                (SELECT n.role FROM h n WHERE n.seq > h.seq ORDER BY n.seq LIMIT 1) = 'tool'
            ELSE true END) x), '[]'))
    AS context_matches_history
FROM (VALUES (NULL::int), (1), (3)) a(mm),
     (VALUES (NULL::bigint), (7)) b(bs),
     (VALUES (NULL::bigint), (1)) c(af),
     (VALUES (NULL::int), (0), (30), (65)) d(mt);

-- errors (from chat_history)
-- a NULL thread is refused (22023); an unknown one is an empty array
SELECT regress.try($$SELECT chat_context(NULL)$$) AS null_thread;
SELECT chat_context('ctx-no-such-thread') AS unknown_thread;
SELECT regress.try($$SELECT chat_context('ctx-t1', max_messages => -1)$$);
SELECT regress.try($$SELECT chat_context('ctx-t1', max_tokens => -1)$$);
