-- chat_history: order, paging, token budget
\pset null '(null)'
-- seqs of a history call, as one line
CREATE FUNCTION pg_temp.seqs(tid text, mm int DEFAULT NULL, bs bigint DEFAULT NULL,
                             aft bigint DEFAULT NULL, mt int DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT COALESCE(string_agg(h.seq::text || ':' || h.role, ' '), '(none)')
    FROM chat_history(tid, mm, bs, aft, mt) h); END
$$;

-- ten messages, created_at all equal (one transaction): order is by seq
SELECT saved_count FROM chat_save_messages('h1',
    (SELECT jsonb_agg(jsonb_build_object('id', 'h' || i, 'role',
                      CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END,
                      'content', 'message ' || i, 'created_at', '2024-01-01T00:00:00Z'))
     FROM generate_series(1, 10) i));
SELECT seq, id, role, content FROM chat_history('h1');
SELECT pg_temp.seqs('h1', 3);                 -- the latest 3, oldest first
SELECT pg_temp.seqs('h1', 3, 5);              -- the latest 3 before seq 5
SELECT pg_temp.seqs('h1', NULL, 4);           -- everything before 4
SELECT pg_temp.seqs('h1', 3, NULL, 6);        -- forward paging: the first 3 after 6
SELECT pg_temp.seqs('h1', NULL, NULL, 8);     -- everything after 8
SELECT pg_temp.seqs('h1', NULL, 7, 3);        -- between the cursors
SELECT pg_temp.seqs('h1', 100);               -- more than there is
SELECT pg_temp.seqs('h1', 0);                 -- none
SELECT pg_temp.seqs('h1', NULL, 1);           -- nothing before the first
SELECT pg_temp.seqs('h1', NULL, NULL, 10);    -- nothing after the last
SELECT pg_temp.seqs('h1', NULL, 3, 5);        -- crossed cursors
SELECT pg_temp.seqs('no-such-thread');        -- unknown thread: empty, no error
SELECT pg_temp.seqs('no-such-thread', 5, NULL, NULL, 100);
-- full rows come back, with every column
SELECT * FROM chat_history('h1', 1);

-- ---------------------------------------------------------------------
-- max_tokens
-- ---------------------------------------------------------------------
-- sys(10) u(5) a(5) u(5) a+tool_calls(4) tool(3) tool(3) a(6) u(2)
SELECT saved_count FROM chat_save_messages('h2', '[
  {"id": "s",  "role": "system", "content": "sys", "token_count": 10},
  {"id": "u1", "role": "user", "content": "q1", "token_count": 5},
  {"id": "a1", "role": "assistant", "content": "r1", "token_count": 5},
  {"id": "u2", "role": "user", "content": "q2", "token_count": 5},
  {"id": "a2", "role": "assistant", "content": null, "token_count": 4,
   "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                  {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
  {"id": "t1", "role": "tool", "tool_call_id": "c1", "content": "x", "token_count": 3},
  {"id": "t2", "role": "tool", "tool_call_id": "c2", "content": "y", "token_count": 3},
  {"id": "a3", "role": "assistant", "content": "r3", "token_count": 6},
  {"id": "u3", "role": "user", "content": "q3", "token_count": 2}
]');
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 1000);  -- everything fits
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 18);    -- sys + u3 + a3 (10+2+6)
-- 27 = sys 10 + u3 2 + a3 6 = 18, then the tool group (4+3+3=10) does not
-- fit: it is never split, so the run stops there
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 27);
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 28);    -- the whole tool group fits
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 33);    -- + u2
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 10);    -- only the system message
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 9);     -- system alone over budget: only it
SELECT pg_temp.seqs('h2', NULL, NULL, NULL, 0);
-- max_tokens applies last, and the thread's leading system messages are
-- kept wherever the window is: within the latest 4 (t1 t2 a3 u3) the tool
-- answers have lost their assistant: an answer comes only with its call
-- (1.4), so they are left out
SELECT pg_temp.seqs('h2', 4, NULL, NULL, 100);
SELECT pg_temp.seqs('h2', 4, NULL, NULL, 10);
SELECT pg_temp.seqs('h2', 4, NULL, NULL, 13);
-- forward paging with a budget: the window is seq 2..5; the system message
-- (10) still comes first, and leaves nothing for the window
SELECT pg_temp.seqs('h2', 4, NULL, 1, 10);
-- a window that starts with the system message keeps it
SELECT pg_temp.seqs('h2', 3, 4, NULL, 12);
-- cursors with a budget
SELECT pg_temp.seqs('h2', NULL, 5, NULL, 15);
SELECT pg_temp.seqs('h2', NULL, NULL, 2, 100);

-- estimates: no token_count => ceil(bytes of content + tool_calls / 4)
SELECT saved_count FROM chat_save_messages('h3', '[
  {"role": "system", "content": "12345678"},
  {"role": "user", "content": "123456789"},
  {"role": "assistant", "content": "1234"},
  {"role": "user", "content": "ééé"}
]');
-- sizes: sys 2, user 3 (9 bytes), assistant 1, user 2 (6 bytes)
SELECT pg_temp.seqs('h3', NULL, NULL, NULL, 5);
SELECT pg_temp.seqs('h3', NULL, NULL, NULL, 4);
SELECT pg_temp.seqs('h3', NULL, NULL, NULL, 8);
-- leading developer messages count as system instructions too
SELECT saved_count FROM chat_save_messages('h4', '[
  {"role": "developer", "content": "d", "token_count": 1},
  {"role": "system", "content": "s", "token_count": 1},
  {"role": "user", "content": "u", "token_count": 50},
  {"role": "system", "content": "late system", "token_count": 1}
]');
SELECT pg_temp.seqs('h4', NULL, NULL, NULL, 3);
-- the newest message alone over budget: only the system messages
SELECT pg_temp.seqs('h4', NULL, NULL, NULL, 2);

-- a long thread with a small budget stops early and is exact
SELECT saved_count FROM chat_save_messages('h5',
    (SELECT jsonb_agg(jsonb_build_object('role', CASE WHEN i = 1 THEN 'system' ELSE 'user' END,
                      'content', 'm' || i, 'token_count', 3) ORDER BY i)
     FROM generate_series(1, 2000) i));
SELECT pg_temp.seqs('h5', NULL, NULL, NULL, 10);
SELECT count(*), min(seq), max(seq) FROM chat_history('h5', NULL, NULL, NULL, 3000);

-- errors
-- a NULL or empty thread id is refused (22023, as every read function does
-- since 1.2); an unknown thread is an empty result
SELECT regress.try($$SELECT count(*) FROM chat_history(NULL)$$) AS null_thread;
SELECT regress.try($$SELECT count(*) FROM chat_history('')$$) AS empty_thread;
SELECT regress.try($$SELECT count(*) FROM chat_history(NULL, max_tokens => 10)$$) AS null_thread_budget;
SELECT regress.try($$SELECT chat_context(NULL)$$) AS null_thread_context;
SELECT count(*) AS unknown_thread FROM chat_history('h-no-such-thread');
SELECT regress.try($$SELECT * FROM chat_history('h1', -1)$$);
SELECT regress.try($$SELECT * FROM chat_history('h1', NULL, NULL, NULL, -1)$$);

-- the internal functions check their arguments themselves too
SELECT count(*) FROM _chat_history_budget(NULL, NULL, NULL, NULL, 5);
SELECT regress.try($$SELECT * FROM _chat_history_budget('h1', -2, NULL, NULL, 5)$$);
SELECT regress.try($$SELECT * FROM _chat_history_budget('h1', NULL, NULL, NULL, -2)$$);
SELECT regress.try($$SELECT _chat_history_limit(-1)$$);
SELECT _chat_history_limit(7) AS seven, _chat_history_limit(NULL) AS no_limit;
-- with max_messages as a bind parameter the check still runs, once
PREPARE hist(int) AS SELECT count(*) FROM chat_history('h1', $1);
EXECUTE hist(3);
SELECT regress.try($$EXECUTE hist(-3)$$);
DEALLOCATE hist;
-- ... and serves the token budget only (chat_history reads without one)
SELECT regress.try($$SELECT * FROM _chat_history_budget('h1', 3, NULL, NULL, NULL)$$);
SELECT (SELECT string_agg(seq::text, ' ') FROM _chat_history_budget('h1', 3, NULL, NULL, 1000)) AS last3,
       (SELECT string_agg(seq::text, ' ') FROM _chat_history_budget('h1', 2, NULL, 4, 1000)) AS after4,
       (SELECT count(*) FROM _chat_history_budget('h1', NULL, NULL, NULL, 1000)) AS all_,
       (SELECT count(*) FROM _chat_history_budget('h1', 0, NULL, NULL, 1000)) AS none;

-- without a budget chat_history reads by the index over (thread_id, seq)
-- (its statements are PL/pgSQL's, so EXPLAIN shows a function scan: the
-- statistics of the index tell which path ran; a sequential scan of
-- chat_messages would show in the table's)
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT pg_stat_force_next_flush() AS flushed \gset
SELECT regress.scans('chat_messages') AS before_ \gset
SELECT pg_stat_force_next_flush(), count(*) FROM chat_history('h1');
SELECT pg_stat_force_next_flush(), count(*) FROM chat_history('h1', 5);
SELECT pg_stat_force_next_flush(), count(*) FROM chat_history('h1', 2, after_seq => 1);
SELECT regress.scans('chat_messages', :'before_');
RESET enable_seqscan;
RESET enable_bitmapscan;

-- ---------------------------------------------------------------------
-- chat_context: the same limits, OpenAI message shape
-- ---------------------------------------------------------------------
SELECT jsonb_pretty(chat_context('h2', max_tokens => 28));
SELECT chat_context('h1', 2);
SELECT chat_context('no-such-thread');
SELECT chat_context('s3') -> 9 AS parts_come_back_as_array;
