-- retention: keep the last N messages, delete old messages, delete idle
-- threads, archive flag, purge expired key-values.  Every call is scoped to
-- this file's users / threads ("ret-...") because the files share a database.
\pset null '(null)'
-- first in a new session (as a pg_cron job's): the purge reads its default
-- from a setting the C library defines, not loaded yet (1.4: 42704)
SELECT regress.try($$SELECT * FROM chat_retention_purge_tombstones()$$) AS purge_in_a_new_session;

-- a thread's messages in order, and whether its aggregates equal the real
-- count and token sums of what is stored
CREATE FUNCTION pg_temp.shape(tid text) RETURNS TABLE (what text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN QUERY SELECT format('thread %s count=%s last_seq=%s tokens=%s/%s/%s consistent=%s',
                  t.id, t.message_count, t.last_seq, t.prompt_tokens, t.completion_tokens,
                  t.total_tokens,
                  (t.message_count, t.prompt_tokens, t.completion_tokens, t.total_tokens) =
                  (SELECT count(*), coalesce(sum(chat_usage_tokens(m.usage, 'prompt')), 0),
                           coalesce(sum(chat_usage_tokens(m.usage, 'completion')), 0),
                           coalesce(sum(chat_usage_tokens(m.usage, 'total')), 0)
                   FROM chat_messages m WHERE m.thread_id = tid))
    FROM chat_threads t WHERE t.id = tid
    UNION ALL
    (SELECT format('  %s %s %s', m.seq, m.id, m.role)
     FROM chat_messages m WHERE m.thread_id = tid ORDER BY m.seq); END
$$;

-- a conversation: system prompt, turns with usage, a tool call and its answer
CREATE FUNCTION pg_temp.conversation(tid text, uid text) RETURNS void LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN PERFORM chat_save_messages(tid, '[
      {"id": "s1", "role": "system", "content": "Be brief."},
      {"id": "u1", "role": "user", "content": "one", "usage": {"input_tokens": 1}},
      {"id": "a1", "role": "assistant", "content": "two", "model": "m-a", "usage": {"input_tokens": 10, "output_tokens": 2}},
      {"id": "u2", "role": "user", "content": "weather?", "usage": {"input_tokens": 3}},
      {"id": "a2", "role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}], "usage": {"prompt_tokens": 20, "completion_tokens": 5}},
      {"id": "t1", "role": "tool", "tool_call_id": "c1", "content": "sunny"},
      {"id": "a3", "role": "assistant", "content": "It is sunny.", "usage": {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 40}},
      {"id": "u3", "role": "user", "content": "thanks"}
    ]'::jsonb, uid); END
$$;

-- keep_last ------------------------------------------------------------------
SELECT pg_temp.conversation('ret-k1', 'ret-u1');
SELECT pg_temp.conversation('ret-k2', 'ret-u1');
SELECT pg_temp.conversation('ret-k3', 'ret-u2');
SELECT * FROM pg_temp.shape('ret-k1');
CREATE TEMP TABLE ret_before AS SELECT id, updated_at FROM chat_threads WHERE id LIKE 'ret-k%';

-- keep the last 3 of one thread: the leading system message stays and does
-- not count; the last 3 start with the tool answer t1, whose assistant call
-- a2 is deleted: an orphan tool answer is never kept, so t1 goes as well
-- (u1, a1, u2, a2, t1 go; 2 + the system prompt kept); count and token
-- sums follow; last_seq stays
SELECT * FROM chat_retention_keep_last(3, thread_id => 'ret-k1');
SELECT * FROM pg_temp.shape('ret-k1');
-- a trim does not make the thread "recently active": updated_at is kept
-- exactly (the trim assigns updated_at its own value; no setting involved)
SELECT t.updated_at = b.updated_at AS updated_at_kept
FROM chat_threads t JOIN ret_before b USING (id) WHERE t.id = 'ret-k1';
-- chatstore.touch_updated_at is deprecated and ignored (1.2): turning it off
-- no longer stops an UPDATE that changes a value from moving updated_at
SELECT pg_temp.conversation('ret-touch', 'ret-u9');
UPDATE chat_threads SET updated_at = '2025-03-01T00:00:00Z' WHERE id = 'ret-touch';
SET chatstore.touch_updated_at = off;
UPDATE chat_threads SET title = 'renamed' WHERE id = 'ret-touch';
SELECT title, updated_at > '2025-03-01T00:00:00Z' AS touched FROM chat_threads WHERE id = 'ret-touch';
RESET chatstore.touch_updated_at;
-- an UPDATE that assigns updated_at keeps what it assigned
UPDATE chat_threads SET title = 'renamed again', updated_at = '2025-03-01T00:00:00Z' WHERE id = 'ret-touch';
SELECT title, updated_at = '2025-03-01T00:00:00Z' AS kept FROM chat_threads WHERE id = 'ret-touch';
DELETE FROM chat_threads WHERE id = 'ret-touch';
-- nothing more to remove: no row
SELECT * FROM chat_retention_keep_last(3, thread_id => 'ret-k1');
-- seq is never reused: the next message continues after last_seq
SELECT id, seq FROM chat_add_message('ret-k1', 'user', 'again', message_id => 'u4');
-- a deleted id is not saved again (1.3): its tombstone makes a re-send skip it
SELECT saved_count, skipped_count, first_seq FROM chat_save_messages('ret-k1', '[{"id": "u1", "role": "user", "content": "one"}]');

-- keep 4 of ret-k2: a2 (the tool call), t1, a3, u3 stay together
SELECT * FROM chat_retention_keep_last(4, thread_id => 'ret-k2');
SELECT * FROM pg_temp.shape('ret-k2');

-- keep_system => false: the system message counts like any other
SELECT * FROM chat_retention_keep_last(2, thread_id => 'ret-k3', keep_system => false);
SELECT * FROM pg_temp.shape('ret-k3');

-- keep 0: every message but the system prompt goes
SELECT * FROM chat_retention_keep_last(0, thread_id => 'ret-k2');
SELECT * FROM pg_temp.shape('ret-k2');

-- scope by user, and max_threads bounds the work of one call (id order)
SELECT pg_temp.conversation('ret-k4', 'ret-u3');
SELECT pg_temp.conversation('ret-k5', 'ret-u3');
SELECT pg_temp.conversation('ret-k6', 'ret-u4');
SELECT * FROM chat_retention_keep_last(1, user_id => 'ret-u3', max_threads => 1);
SELECT * FROM chat_retention_keep_last(1, user_id => 'ret-u3');
SELECT id, message_count FROM chat_threads WHERE id IN ('ret-k4', 'ret-k5', 'ret-k6') ORDER BY id;

-- max_threads counts threads actually trimmed: a thread that is a candidate
-- by its count but has nothing to remove (system prompt + 1 message) does
-- not use up the batch
SELECT saved_count FROM chat_save_messages('ret-p1', '[{"id": "s", "role": "system", "content": "s"}, {"id": "u", "role": "user", "content": "u"}]', 'ret-u9');
SELECT saved_count FROM chat_save_messages('ret-p2', '[{"id": "s", "role": "system", "content": "s"}, {"id": "u1", "role": "user", "content": "u"}, {"id": "u2", "role": "user", "content": "u"}]', 'ret-u9');
SELECT * FROM chat_retention_keep_last(1, user_id => 'ret-u9', max_threads => 1);

-- delete_old_messages ----------------------------------------------------------
SELECT saved_count FROM chat_save_messages('ret-o1', '[
  {"id": "s", "role": "system", "content": "sys", "created_at": "2020-01-01T00:00:00Z"},
  {"id": "o1", "role": "user", "content": "old", "created_at": "2020-01-01T00:01:00Z", "usage": {"input_tokens": 7}},
  {"id": "o2", "role": "assistant", "content": "old", "created_at": "2020-01-01T00:02:00Z"},
  {"id": "n1", "role": "user", "content": "new"},
  {"id": "o3", "role": "assistant", "content": "imported late, old time", "created_at": "2020-01-01T00:03:00Z"},
  {"id": "n2", "role": "user", "content": "new"}
]', 'ret-u5');
-- o1 and o2 go; o3 is old too but comes after a kept message: the kept
-- history stays contiguous, so it stays
SELECT * FROM chat_retention_delete_old_messages('30 days', user_id => 'ret-u5');
SELECT * FROM pg_temp.shape('ret-o1');
SELECT * FROM chat_retention_delete_old_messages('30 days', thread_id => 'ret-o1');
-- ret-o1 (old o3 that must stay) does not use up a batch of one
SELECT saved_count FROM chat_save_messages('ret-o2', '[
  {"id": "o1", "role": "user", "content": "old", "created_at": "2020-01-01T00:01:00Z"},
  {"id": "n1", "role": "user", "content": "new"}
]', 'ret-u5');
SELECT * FROM chat_retention_delete_old_messages('30 days', user_id => 'ret-u5', max_threads => 1);
SELECT * FROM chat_retention_delete_old_messages('30 days', thread_id => 'ret-o1', keep_system => false);
SELECT * FROM pg_temp.shape('ret-o1');

-- delete_idle_threads ----------------------------------------------------------
SELECT pg_temp.conversation('ret-i1', 'ret-u6');
SELECT pg_temp.conversation('ret-i2', 'ret-u6');
SELECT pg_temp.conversation('ret-i3', 'ret-u6');
SELECT pg_temp.conversation('ret-i4', 'ret-u7');
-- setting updated_at explicitly keeps it (the trigger only fills in now())
UPDATE chat_threads SET updated_at = '2025-01-01T00:00:00Z' WHERE id IN ('ret-i1', 'ret-i4');
UPDATE chat_threads SET updated_at = '2025-02-01T00:00:00Z' WHERE id = 'ret-i2';
SELECT chat_archive_thread('ret-i2');
UPDATE chat_threads SET updated_at = '2025-02-01T00:00:00Z' WHERE id = 'ret-i2';
-- archived => false spares the archived thread
SELECT id, user_id, message_count, archived FROM chat_retention_delete_idle_threads('90 days', user_id => 'ret-u6', archived => false);
-- max_threads => 0 deletes nothing
SELECT id FROM chat_retention_delete_idle_threads('90 days', user_id => 'ret-u6', max_threads => 0);
-- the recently active thread stays
SELECT id, archived FROM chat_retention_delete_idle_threads('90 days', user_id => 'ret-u6');
SELECT id FROM chat_threads WHERE user_id IN ('ret-u6', 'ret-u7') ORDER BY id;
SELECT count(*) AS messages_left FROM chat_messages WHERE thread_id IN ('ret-i1', 'ret-i2');
-- another user's idle thread was not touched; now it goes
SELECT id FROM chat_retention_delete_idle_threads('90 days', user_id => 'ret-u7');

-- archive ------------------------------------------------------------------------
SELECT pg_temp.conversation('ret-a1', 'ret-u8');
SELECT pg_temp.conversation('ret-a2', 'ret-u8');
SELECT chat_archive_thread('ret-a1', user_id => 'ret-u8');
SELECT chat_archive_thread('ret-a2', user_id => 'someone-else');   -- not the owner
SELECT chat_archive_thread('ret-none');                            -- no such thread
SELECT id, archived FROM chat_list_threads('ret-u8') ORDER BY id;
SELECT id, archived FROM chat_list_threads('ret-u8', include_archived => true) ORDER BY id;
SELECT chat_archive_thread('ret-a1', archived => false);
SELECT id, archived FROM chat_list_threads('ret-u8') ORDER BY id;

-- expired key-values ---------------------------------------------------------------
INSERT INTO chat_kv (tenant, key, value, expires_at) VALUES
  ('', 'ret-kv-expired', '1', now() - interval '1 minute'),
  ('', 'ret-kv-live', '2', now() + interval '1 hour'),
  ('', 'ret-kv-forever', '3', NULL),
  ('ret-tenant', 'ret-kv-expired', '4', now() - interval '1 minute'),
  ('ret-tenant', 'ret-kv-expired2', '5', now() - interval '2 minutes');
-- the current tenant ('') only
SELECT tenant, key FROM chat_kv_purge_expired() WHERE key LIKE 'ret-%';
-- every tenant, at most one key a call (the oldest expiry first)
SELECT tenant, key FROM chat_kv_purge_expired(all_tenants => true, max_keys => 1) WHERE key LIKE 'ret-%';
SELECT tenant, key FROM chat_kv_purge_expired(all_tenants => true) WHERE key LIKE 'ret-%';
SELECT tenant, key FROM chat_kv WHERE key LIKE 'ret-%' ORDER BY 1, 2;
-- a session confined to a tenant purges that tenant's keys
INSERT INTO chat_kv (tenant, key, value, expires_at) VALUES
  ('ret-tenant', 'ret-kv-x', '6', now() - interval '1 minute'),
  ('', 'ret-kv-y', '7', now() - interval '1 minute');
SET chatstore.tenant = 'ret-tenant';
SELECT tenant, key FROM chat_kv_purge_expired() WHERE key LIKE 'ret-%';
RESET chatstore.tenant;
SELECT tenant, key FROM chat_kv_purge_expired() WHERE key LIKE 'ret-%';
DELETE FROM chat_kv WHERE key LIKE 'ret-%';

-- errors ---------------------------------------------------------------------------
SELECT regress.try($$SELECT * FROM chat_retention_keep_last(-1)$$);
SELECT regress.try($$SELECT * FROM chat_retention_keep_last(NULL)$$);
SELECT regress.try($$SELECT * FROM chat_retention_keep_last(1, thread_id => 'ret-k1', max_threads => -1)$$);
SELECT regress.try($$SELECT * FROM chat_retention_delete_old_messages(NULL)$$);
SELECT regress.try($$SELECT * FROM chat_retention_delete_old_messages('-1 day')$$);
SELECT regress.try($$SELECT * FROM chat_retention_delete_old_messages('1 day', max_threads => -1)$$);
SELECT regress.try($$SELECT * FROM chat_retention_delete_idle_threads(NULL)$$);
SELECT regress.try($$SELECT * FROM chat_retention_delete_idle_threads('-1 day')$$);
SELECT regress.try($$SELECT * FROM chat_retention_delete_idle_threads('1 day', user_id => 'ret-none', max_threads => -1)$$);
SELECT regress.try($$SELECT chat_archive_thread('ret-a1', NULL)$$);
SELECT regress.try($$SELECT * FROM chat_kv_purge_expired(max_keys => -1)$$);
