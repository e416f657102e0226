-- One message at a time (1.3): get, update in place, delete (replies move
-- up, or go with it), delete everything after a message.  Aggregates stay
-- exact; deleted messages leave tombstones.
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.path(tid text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT string_agg(m.id, ' ' ORDER BY m.seq) FROM chat_history(tid) AS m); END
$$;
CREATE FUNCTION pg_temp.exact(tid text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT format('%s messages, tokens %s/%s/%s, tombstones %s, %s',
                  t.message_count, t.prompt_tokens, t.completion_tokens, t.total_tokens, t.tombstone_count,
                  CASE WHEN t.message_count = a.n AND t.prompt_tokens = a.p AND t.completion_tokens = a.c
                            AND t.total_tokens = a.tot
                            AND t.tombstone_count = (SELECT count(*) FROM chat_message_tombstones x WHERE x.thread_id = tid)
                       THEN 'exact' ELSE 'WRONG' END)
    FROM chat_threads t,
         LATERAL (SELECT count(*) AS n,
                         coalesce(sum(chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
                         coalesce(sum(chat_usage_tokens(m.usage, 'completion')), 0) AS c,
                         coalesce(sum(chat_usage_tokens(m.usage, 'total')), 0) AS tot
                  FROM chat_messages m WHERE m.thread_id = tid) AS a
    WHERE t.id = tid); END
$$;
CREATE FUNCTION pg_temp.conv(tid text) RETURNS int LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT saved_count FROM chat_save_messages(tid,
        (SELECT jsonb_agg(jsonb_build_object('id', 'm' || i, 'role', CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END,
                                             'content', 'c' || i, 'usage', jsonb_build_object('prompt_tokens', i, 'completion_tokens', 1))
                          ORDER BY i) FROM generate_series(1, 6) AS i), 'msg-user')); END
$$;

-- get
SELECT pg_temp.conv('msg-1');
SELECT id, seq, role, content, edited_at FROM chat_get_message('msg-1', 'm3');
SELECT count(*) AS other_user FROM chat_get_message('msg-1', 'm3', 'someone-else');
SELECT count(*) AS unknown FROM chat_get_message('msg-1', 'nope');

-- update in place: content and metadata, edited_at set, fingerprint follows
SELECT id, seq, content, metadata, edited_at IS NOT NULL AS edited
FROM chat_update_message('msg-1', 'm3', 'c3, corrected', '{"fixed": true}', 'msg-user');
SELECT pg_temp.path('msg-1') AS path, pg_temp.exact('msg-1') AS exact;
SELECT fingerprint = _chat_fingerprint(role, content, parts, name, tool_call_id, tool_calls) AS fingerprint_follows
FROM chat_messages WHERE thread_id = 'msg-1' AND id = 'm3';
-- metadata only keeps the content
SELECT content, metadata FROM chat_update_message('msg-1', 'm3', metadata => '{"more": 1}');
-- an id-less re-send of the corrected conversation aligns against it
SELECT saved_count FROM chat_save_messages('msg-idless', '[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]');
SELECT id AS first_id FROM chat_messages WHERE thread_id = 'msg-idless' AND seq = 1 \gset
SELECT content FROM chat_update_message('msg-idless', :'first_id', 'a!');
SELECT saved_count, skipped_count FROM chat_save_messages('msg-idless', '[{"role": "user", "content": "a!"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]');

-- delete one message: its reply moves up, the conversation reads on
SELECT chat_delete_message('msg-1', 'm4', 'msg-user') AS deleted;
SELECT pg_temp.path('msg-1') AS path, pg_temp.exact('msg-1') AS exact;
SELECT id, seq FROM chat_message_tombstones WHERE thread_id = 'msg-1';
-- a re-send of the whole conversation does not bring it back
SELECT saved_count, skipped_count FROM chat_save_messages('msg-1',
    (SELECT jsonb_agg(jsonb_build_object('id', 'm' || i, 'role', 'user', 'content', 'c' || i) ORDER BY i) FROM generate_series(1, 6) i));
-- with its replies: in a one-line thread, everything after it
SELECT chat_delete_message('msg-1', 'm5', with_replies => true) AS deleted;
SELECT pg_temp.path('msg-1') AS path, pg_temp.exact('msg-1') AS exact;

-- delete everything after a message (regenerate without a branch)
SELECT pg_temp.conv('msg-2');
SELECT chat_delete_messages_after('msg-2', 'm2') AS deleted;
SELECT pg_temp.path('msg-2') AS path, pg_temp.exact('msg-2') AS exact;
SELECT saved_count, first_seq FROM chat_save_messages('msg-2', '[{"id": "r3", "role": "user", "content": "again"}]');
SELECT pg_temp.path('msg-2') AS path;
SELECT chat_delete_messages_after('msg-2', 'r3') AS nothing_after;

-- in a branched thread
SELECT pg_temp.conv('msg-3');
SELECT id FROM chat_edit_message('msg-3', 'm3', 'c3 v2', new_message_id => 'm3b');
SELECT saved_count FROM chat_save_messages('msg-3', '[{"id": "m4b", "role": "assistant", "content": "r4 v2"}, {"id": "m5b", "role": "user", "content": "q5 v2"}]');
SELECT pg_temp.path('msg-3') AS path;
-- deleting m4b: m5b moves up to m3b
SELECT chat_delete_message('msg-3', 'm4b') AS deleted;
-- (two statements: one that reads a chat table and calls a pg_temp function
-- would run on a Citus worker, which lacks the function)
SELECT parent_seq AS m5b_parent FROM chat_messages WHERE thread_id = 'msg-3' AND id = 'm5b' \gset
SELECT pg_temp.path('msg-3') AS path, :m5b_parent AS m5b_parent;
-- deleting the active leaf: its parent is the leaf, a save appends there
SELECT chat_delete_message('msg-3', 'm5b') AS deleted;
SELECT pg_temp.path('msg-3') AS path;
SELECT saved_count FROM chat_save_messages('msg-3', '[{"id": "m6c", "role": "assistant", "content": "r v3"}]');
SELECT parent_seq AS m6c_parent FROM chat_messages WHERE thread_id = 'msg-3' AND id = 'm6c' \gset
SELECT pg_temp.path('msg-3') AS path, :m6c_parent AS m6c_parent;
-- delete after m2 on the path: the m3b branch goes, m3's branch stays
SELECT chat_delete_messages_after('msg-3', 'm2') AS deleted;
SELECT pg_temp.path('msg-3') AS path, pg_temp.exact('msg-3') AS exact;
SELECT id FROM chat_thread_tree('msg-3') ORDER BY seq;
SELECT * FROM chat_switch_branch('msg-3', 'm3');
SELECT pg_temp.path('msg-3') AS path;
-- a message and its whole subtree
SELECT chat_delete_message('msg-3', 'm3', with_replies => true) AS deleted;
SELECT pg_temp.path('msg-3') AS path, pg_temp.exact('msg-3') AS exact;

-- errors: nothing is written
SELECT regress.try($$SELECT chat_update_message('msg-1', 'nope', 'x')$$);
SELECT regress.try($$SELECT chat_update_message('msg-1', 'm1', 'x', user_id => 'someone-else')$$);
SELECT regress.try($$SELECT chat_update_message('msg-1', 'm1', metadata => '[1]')$$);
SET chatstore.max_message_bytes = '1kB';
SELECT regress.try($$SELECT chat_update_message('msg-1', 'm1', repeat('x', 1025))$$);
RESET chatstore.max_message_bytes;
SELECT regress.try($$SELECT chat_delete_message('msg-1', 'nope')$$);
SELECT regress.try($$SELECT chat_delete_message('msg-1', 'm1', with_replies => NULL)$$);
SELECT regress.try($$SELECT chat_delete_message(NULL, 'm1')$$);
SELECT regress.try($$SELECT chat_delete_messages_after('msg-1', '')$$);
SELECT regress.try($$SELECT chat_delete_messages_after('msg-3', 'm3b')$$);
SELECT regress.try($$SELECT count(*) FROM chat_get_message('msg-1', NULL)$$);
SELECT pg_temp.path('msg-1') AS unchanged, pg_temp.exact('msg-1') AS exact;

DELETE FROM chat_threads WHERE id LIKE 'msg-%';
DELETE FROM chat_thread_tombstones WHERE id LIKE 'msg-%';
