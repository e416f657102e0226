-- chat_save_messages: the write path
-- (the extension is created by pg_regress --load-extension)
\pset null '(null)'


-- a thread's shape: its aggregates and the messages in seq order
CREATE FUNCTION pg_temp.shape(tid text) RETURNS TABLE (what text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN QUERY SELECT format('thread %s owner=%s count=%s last_seq=%s tokens=%s/%s/%s',
                  t.id, t.user_id, t.message_count, t.last_seq,
                  t.prompt_tokens, t.completion_tokens, t.total_tokens)
    FROM chat_threads t WHERE t.id = tid
    UNION ALL
    (SELECT format('  %s %s %s: %s', m.seq, m.id, m.role, m.content)
     FROM chat_messages m WHERE m.thread_id = tid ORDER BY m.seq); END
$$;

-- first save creates the thread, owned by the caller; seq starts at 1
SELECT * FROM chat_save_messages('s1', '[
  {"id": "m1", "role": "system", "content": "You are terse."},
  {"id": "m2", "role": "user", "content": "Hi"},
  {"id": "m3", "role": "assistant", "content": "Hello.", "model": "gpt-x",
   "usage": {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}}
]', 'alice');
SELECT * FROM pg_temp.shape('s1');
SELECT title, metadata, state, last_message_at IS NOT NULL AS has_last,
       created_at <= updated_at AS times_ok FROM chat_threads WHERE id = 's1';
-- the assistant's token_count comes from usage.output_tokens
SELECT id, token_count, model, usage, user_id, metadata FROM chat_messages WHERE thread_id = 's1' ORDER BY seq;

-- re-send with one new message: existing ids are skipped, never modified
SELECT * FROM chat_save_messages('s1', '[
  {"id": "m1", "role": "system", "content": "CHANGED"},
  {"id": "m2", "role": "user", "content": "Hi"},
  {"id": "m3", "role": "assistant", "content": "Hello."},
  {"id": "m4", "role": "user", "content": "Bye", "usage": {"prompt_tokens": 4, "completion_tokens": 0}}
]', 'alice');
SELECT * FROM pg_temp.shape('s1');

-- saved_ids hint: listed ids are skipped without looking; a repeat inside
-- the batch is skipped too (the first occurrence wins)
SELECT * FROM chat_save_messages('s1', '[
  {"id": "m4", "role": "user", "content": "Bye"},
  {"id": "m5", "role": "assistant", "content": "first"},
  {"id": "m5", "role": "assistant", "content": "second"},
  {"id": "m6", "role": "user", "content": "hinted"}
]', 'alice', ARRAY['m4', 'm6']);
SELECT * FROM pg_temp.shape('s1');

-- stored ids are found among the thread's newest messages and, for older
-- ones, by a lookup per id: m1 (seq 1) is far outside the newest 2
SELECT * FROM chat_save_messages('s1', '[
  {"id": "m1", "role": "system", "content": "old"},
  {"id": "m5", "role": "assistant", "content": "newest"}
]', 'alice');

-- the three ways stored ids are looked up, on a thread of 40 messages.
-- The lookups the save chose are asserted by its DEBUG1 lines ("stored
-- ids: ..."), so a change of the choice fails this test.
CREATE FUNCTION pg_temp.batch(ids int[]) RETURNS jsonb LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT jsonb_agg(jsonb_build_object('id', 'k' || i, 'role', 'user', 'content', 'c' || i) ORDER BY o)
    FROM unnest(ids) WITH ORDINALITY AS u(i, o)); END
$$;
SET client_min_messages = debug1;
-- a new thread: nothing to look up (no line)
SELECT saved_count, skipped_count, first_seq, last_seq
FROM chat_save_messages('s-ids', pg_temp.batch(ARRAY(SELECT generate_series(1, 40))));
-- (1) as many ids as the thread has messages and more (the whole
-- conversation re-sent + 1): the thread's ids are read whole, nothing else
SELECT saved_count, skipped_count, saved_ids
FROM chat_save_messages('s-ids', pg_temp.batch(ARRAY(SELECT generate_series(1, 41))));
-- (2) a re-sent tail of more than 16 ids, fewer than the thread has: the
-- newest are read by seq; what they do not hold, k1 (seq 1, older than
-- them) and the new k42, is looked up by a probe
SELECT saved_count, skipped_count, saved_ids
FROM chat_save_messages('s-ids', pg_temp.batch(ARRAY[1] || ARRAY(SELECT generate_series(24, 42))));
-- (2') a re-sent tail that the newest messages hold whole: no probe
SELECT saved_count, skipped_count, saved_ids
FROM chat_save_messages('s-ids', pg_temp.batch(ARRAY(SELECT generate_series(23, 42))));
-- (3) a few ids: a probe each (k2 is stored, k43 is not), no range read
SELECT saved_count, skipped_count, saved_ids
FROM chat_save_messages('s-ids', pg_temp.batch(ARRAY[2, 43]));
RESET client_min_messages;
SELECT count(*) AS n, count(DISTINCT id) AS ids, min(seq), max(seq),
       (SELECT last_seq FROM chat_threads WHERE id = 's-ids') AS last_seq
FROM chat_messages WHERE thread_id = 's-ids';

-- nothing new: counts only, no seqs, the thread is not touched
SELECT updated_at AS before_upd FROM chat_threads WHERE id = 's1' \gset
SELECT * FROM chat_save_messages('s1', '[{"id": "m1", "role": "system", "content": "x"}]', 'alice');
SELECT updated_at = :'before_upd' AS untouched FROM chat_threads WHERE id = 's1';

-- an empty batch creates the thread and saves nothing
SELECT * FROM chat_save_messages('s-empty', '[]', 'carol');
SELECT * FROM pg_temp.shape('s-empty');

-- ---------------------------------------------------------------------
-- messages without ids: re-sends are aligned to the stored tail
-- ---------------------------------------------------------------------
-- turn 1
SELECT saved_count, skipped_count, first_seq, last_seq FROM chat_save_messages('s2', '[
  {"role": "user", "content": "ok"},
  {"role": "assistant", "content": "Sure."}
]');
-- turn 2: the client re-sends the whole conversation plus the new message,
-- which repeats the first one ("ok" again): it is stored again
SELECT saved_count, skipped_count, first_seq, last_seq FROM chat_save_messages('s2', '[
  {"role": "user", "content": "ok"},
  {"role": "assistant", "content": "Sure."},
  {"role": "user", "content": "ok"}
]');
-- turn 3: the client sends only the tail (the last two) plus a new answer
SELECT saved_count, skipped_count, first_seq, last_seq FROM chat_save_messages('s2', '[
  {"role": "assistant", "content": "Sure."},
  {"role": "user", "content": "ok"},
  {"role": "assistant", "content": "Sure."}
]');
-- turn 4: only the new message, which repeats an earlier one: stored
SELECT saved_count, skipped_count FROM chat_save_messages('s2', '[{"role": "user", "content": "ok"}]');
-- the whole conversation re-sent again: nothing new
SELECT saved_count, skipped_count FROM chat_save_messages('s2', '[
  {"role": "user", "content": "ok"}, {"role": "assistant", "content": "Sure."},
  {"role": "user", "content": "ok"}, {"role": "assistant", "content": "Sure."},
  {"role": "user", "content": "ok"}
]');
SELECT seq, role, content, id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_id
FROM chat_messages WHERE thread_id = 's2' ORDER BY seq;
-- the fingerprint covers the role: the whole conversation re-sent with a
-- new assistant "ok" stores just that one
SELECT saved_count, skipped_count FROM chat_save_messages('s2', '[
  {"role": "user", "content": "ok"}, {"role": "assistant", "content": "Sure."},
  {"role": "user", "content": "ok"}, {"role": "assistant", "content": "Sure."},
  {"role": "user", "content": "ok"}, {"role": "assistant", "content": "ok"}
]');
-- a batch that overlaps the stored tail only partly: the overlap (the
-- last 2 stored) is skipped, the rest is new
SELECT saved_count, skipped_count FROM chat_save_messages('s2', '[
  {"role": "user", "content": "ok"}, {"role": "assistant", "content": "ok"},
  {"role": "user", "content": "new"}
]');
-- the same text with another name or tool_call_id is another message
SELECT saved_count, skipped_count FROM chat_save_messages('s2', '[
  {"role": "user", "content": "new"}, {"role": "user", "content": "new", "name": "x"}
]');
SELECT seq, role, content, name FROM chat_messages WHERE thread_id = 's2' AND seq > 5 ORDER BY seq;

-- ---------------------------------------------------------------------
-- input shapes: aliases, LangChain, content parts, tool calls, times
-- ---------------------------------------------------------------------
SELECT saved_count FROM chat_save_messages('s3', '[
  {"id": "a", "role": "human", "content": "alias human"},
  {"id": "b", "role": "ai", "content": "alias ai"},
  {"id": "c", "type": "human", "content": "LangChain type"},
  {"id": "d", "type": "ai", "content": "LangChain ai", "usage_metadata": {"input_tokens": 7, "output_tokens": 5}},
  {"id": "e", "role": "User", "type": "ai", "content": "role wins over type, any case"},
  {"id": "f", "role": "developer", "content": "dev"},
  {"id": "g", "role": "assistant", "content": null,
   "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
  {"id": "h", "role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "-3C"},
  {"id": "i", "role": "assistant", "content": "", "tool_calls": []},
  {"id": "j", "role": "user", "content": [
      {"type": "text", "text": "What is "},
      {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
      "in this ",
      {"type": "input_text", "text": "picture?"}]},
  {"id": "k", "role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
  {"id": "l", "role": "user", "content": "client time", "created_at": "2024-01-02T03:04:05Z",
   "metadata": {"lang": "en"}, "parent_id": "k", "name": "bob", "token_count": 42,
   "extra_key": "ignored", "additional_kwargs": {}}
]', NULL);
SELECT id, role, content, parts, tool_calls, tool_call_id, name, token_count, usage
FROM chat_messages WHERE thread_id = 's3' ORDER BY seq;
SELECT created_at, metadata, parent_id FROM chat_messages WHERE thread_id = 's3' AND id = 'l';
SELECT message_count, prompt_tokens, completion_tokens, total_tokens,
       user_id IS NULL AS unowned FROM chat_threads WHERE id = 's3';
-- the thread's tool_calls are found by containment (GIN-indexed column)
SELECT id FROM chat_messages WHERE tool_calls @> '[{"type": "function"}]' ORDER BY thread_id, seq;

-- ---------------------------------------------------------------------
-- owners
-- ---------------------------------------------------------------------
-- another user may not save into alice's thread: 42501, nothing written,
-- even when every message would have been skipped
SELECT regress.try($$SELECT chat_save_messages('s1', '[{"id": "new", "role": "user", "content": "x"}]', 'mallory')$$);
SELECT regress.try($$SELECT chat_save_messages('s1', '[{"id": "m1", "role": "user", "content": "x"}]', 'mallory')$$);
SELECT regress.try($$SELECT chat_save_messages('s1', '[]', 'mallory')$$);
-- trusted server code (user_id null) may save; the owner does not change
SELECT saved_count FROM chat_save_messages('s1', '[{"id": "m7", "role": "user", "content": "server"}]');
-- a thread without owner belongs to no user: a call that names a user is
-- refused (42501, nothing written); trusted code (no user_id) reaches it,
-- and it stays without owner
SELECT regress.try($$SELECT chat_save_messages('s3', '[{"id": "m", "role": "user", "content": "x"}]', 'dave')$$);
SELECT regress.try($$SELECT chat_add_message('s3', 'user', 'x', 'dave')$$);
SELECT saved_count FROM chat_save_messages('s3', '[{"id": "m", "role": "user", "content": "x"}]');
-- '' is not a user: refused everywhere (22023), pass NULL for no user
SELECT regress.try($$SELECT chat_save_messages('s3', '[{"id": "m2", "role": "user", "content": "x"}]', '')$$);
SELECT regress.try($$SELECT chat_add_message('s3', 'user', 'x', '')$$);
SELECT regress.try($$SELECT chat_save_messages('s-empty-owner', '[]', '')$$);
SELECT count(*) AS empty_owner_thread FROM chat_threads WHERE id = 's-empty-owner';
SELECT id, user_id, message_count FROM chat_threads WHERE id IN ('s1', 's3') ORDER BY id;
-- a thread created by a save without user_id belongs to the session's
-- tenant when one is set (so it is visible under tenant isolation)
SET chatstore.tenant = 'acme';
SELECT saved_count FROM chat_save_messages('s-tenant', '[{"role": "user", "content": "x"}]');
RESET chatstore.tenant;
SELECT saved_count FROM chat_save_messages('s-notenant', '[{"role": "user", "content": "x"}]');
SELECT id, user_id FROM chat_threads WHERE id IN ('s-tenant', 's-notenant') ORDER BY id;
SELECT * FROM pg_temp.shape('s1');
