-- Tombstones (1.3): deleted messages and threads are remembered by id, so a
-- re-send or a late write does not bring them back.
SET client_min_messages = warning;

-- the message ids of a thread in seq order
CREATE FUNCTION pg_temp.ids(tid text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT string_agg(coalesce(id, '?'), ' ' ORDER BY seq) FROM chat_messages WHERE thread_id = tid); END
$$;
CREATE FUNCTION pg_temp.contents(tid text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT string_agg(content, ' ' ORDER BY seq) FROM chat_messages WHERE thread_id = tid); END
$$;
-- the thread's aggregates equal its rows
CREATE FUNCTION pg_temp.exact(tid text) RETURNS boolean LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT t.message_count = (SELECT count(*) FROM chat_messages m WHERE m.thread_id = tid)
       AND t.tombstone_count = (SELECT count(*) FROM chat_message_tombstones x WHERE x.thread_id = tid)
    FROM chat_threads t WHERE t.id = tid); END
$$;
CREATE FUNCTION pg_temp.conv(n int, with_ids boolean) RETURNS jsonb LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT jsonb_agg(CASE WHEN with_ids THEN jsonb_build_object('id', 'm' || i, 'role', 'user', 'content', 'c' || i)
                          ELSE jsonb_build_object('role', 'user', 'content', 'c' || i) END ORDER BY i)
    FROM generate_series(1, n) AS i); END
$$;

-- ---------------------------------------------------------------------
-- 1. a trimmed message does not come back when the client re-sends
-- ---------------------------------------------------------------------
-- with ids (the example of the issue: 1.2 read m8 m9 m10 m1 ... m7 m11)
SELECT saved_count FROM chat_save_messages('tb-ids', pg_temp.conv(10, true));
SELECT deleted_count, kept_count FROM chat_retention_keep_last(3, 'tb-ids');
SELECT saved_count, skipped_count, first_seq FROM chat_save_messages('tb-ids', pg_temp.conv(11, true));
SELECT pg_temp.ids('tb-ids') AS ids, pg_temp.exact('tb-ids') AS exact;
SELECT string_agg(id || '@' || seq, ' ' ORDER BY seq) AS tombstones FROM chat_message_tombstones WHERE thread_id = 'tb-ids';
-- again: nothing new
SELECT saved_count, skipped_count FROM chat_save_messages('tb-ids', pg_temp.conv(11, true));
-- without ids: the whole conversation, or only its tail, aligns against what
-- remains and the tombstones (1.2 stored c1 ... c7 again after c10)
SELECT saved_count FROM chat_save_messages('tb-noids', pg_temp.conv(10, false));
SELECT deleted_count FROM chat_retention_keep_last(3, 'tb-noids');
SELECT saved_count, skipped_count FROM chat_save_messages('tb-noids', pg_temp.conv(11, false));
SELECT pg_temp.contents('tb-noids') AS contents, pg_temp.exact('tb-noids') AS exact;
SELECT saved_count, skipped_count FROM chat_save_messages('tb-noids',
    (SELECT jsonb_agg(jsonb_build_object('role', 'user', 'content', 'c' || i) ORDER BY i) FROM generate_series(6, 12) i));
SELECT pg_temp.contents('tb-noids') AS contents;
-- a message that is genuinely new but equals a deleted one is stored: only
-- a batch that starts where the conversation continues aligns
SELECT saved_count FROM chat_save_messages('tb-noids', '[{"role": "user", "content": "c1"}]');
SELECT pg_temp.contents('tb-noids') AS contents;
-- a kept leading system message and a trim: the re-send of what the client
-- shows now (without the trimmed messages) aligns too
SELECT saved_count FROM chat_save_messages('tb-sys', '[{"role": "system", "content": "be brief"},
    {"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}]');
SELECT deleted_count FROM chat_retention_keep_last(2, 'tb-sys');
SELECT saved_count, skipped_count FROM chat_save_messages('tb-sys', '[{"role": "system", "content": "be brief"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}, {"role": "user", "content": "q3"}]');
SELECT pg_temp.contents('tb-sys') AS contents;
-- retention by age leaves tombstones too
SELECT saved_count FROM chat_save_messages('tb-age',
    '[{"id": "a1", "role": "user", "content": "old", "created_at": "2020-01-01T00:00:00Z"},
      {"id": "a2", "role": "user", "content": "new"}]');
SELECT deleted_count FROM chat_retention_delete_old_messages(interval '1 year', 'tb-age');
SELECT saved_count, skipped_count FROM chat_save_messages('tb-age',
    '[{"id": "a1", "role": "user", "content": "old"}, {"id": "a2", "role": "user", "content": "new"}, {"id": "a3", "role": "user", "content": "newer"}]');
SELECT pg_temp.ids('tb-age') AS ids, pg_temp.exact('tb-age') AS exact;
-- chat_add_message with the id of a deleted message: refused, nothing written
SELECT regress.try($$SELECT chat_add_message('tb-ids', 'user', 'x', message_id => 'm1')$$);
SELECT pg_temp.ids('tb-ids') AS unchanged;
-- a fork copies the messages, not the tombstones
SELECT chat_fork_thread('tb-ids', 'tb-ids-fork');
SELECT count(*) AS fork_tombstones, (SELECT tombstone_count FROM chat_threads WHERE id = 'tb-ids-fork') AS fork_count
FROM chat_message_tombstones WHERE thread_id = 'tb-ids-fork';
SELECT saved_count FROM chat_save_messages('tb-ids-fork', '[{"id": "m1", "role": "user", "content": "c1"}]');

-- ---------------------------------------------------------------------
-- 2. a deleted thread stays deleted: a late save is CS002, until
-- chat_create_thread makes it again
-- ---------------------------------------------------------------------
SELECT saved_count FROM chat_save_messages('tb-del', pg_temp.conv(2, true), 'tb-user');
SELECT chat_delete_thread('tb-del', 'tb-user') AS deleted;
SELECT regress.try($$SELECT chat_save_messages('tb-del', '[{"id": "m3", "role": "user", "content": "late"}]', 'tb-user')$$);
SELECT regress.try($$SELECT chat_save_messages('tb-del', '[{"role": "user", "content": "late"}]')$$);
SELECT regress.try($$SELECT chat_add_message('tb-del', 'assistant', 'late')$$);
SELECT count(*) AS not_created FROM chat_threads WHERE id = 'tb-del';
SELECT id, user_id FROM chat_thread_tombstones WHERE id = 'tb-del';
-- asked for explicitly: a new thread with that id, which saves work into
SELECT id, message_count FROM chat_create_thread('tb-del', 'tb-user');
SELECT count(*) AS tombstone_gone FROM chat_thread_tombstones WHERE id = 'tb-del';
SELECT saved_count, first_seq FROM chat_save_messages('tb-del', '[{"id": "m1", "role": "user", "content": "again"}]', 'tb-user');
-- a fork into a deleted thread's id is explicit too
SELECT saved_count FROM chat_save_messages('tb-del2', pg_temp.conv(1, true));
SELECT chat_delete_thread('tb-del2');
SELECT chat_fork_thread('tb-ids', 'tb-del2');
SELECT count(*) AS tombstone_gone FROM chat_thread_tombstones WHERE id = 'tb-del2';
-- idle threads deleted by retention stay deleted as well
SELECT saved_count FROM chat_save_messages('tb-idle', pg_temp.conv(1, true));
UPDATE chat_threads SET updated_at = '2020-01-01T00:00:00Z' WHERE id = 'tb-idle';
SELECT id FROM chat_retention_delete_idle_threads(interval '1 year') WHERE id LIKE 'tb-%';
SELECT regress.try($$SELECT chat_save_messages('tb-idle', '[{"role": "user", "content": "back"}]')$$) LIKE 'CS002:%' AS idle_stays_deleted;
-- deleting a user's data keeps no trace of them, tombstones included
SELECT saved_count FROM chat_save_messages('tb-gdpr', pg_temp.conv(1, true), 'tb-gdpr-user');
SELECT chat_delete_thread('tb-gdpr');
SELECT count(*) AS before FROM chat_thread_tombstones WHERE user_id = 'tb-gdpr-user';
SELECT chat_delete_user_data('tb-gdpr-user') ->> 'threads' AS threads;
SELECT count(*) AS after FROM chat_thread_tombstones WHERE user_id = 'tb-gdpr-user';

-- ---------------------------------------------------------------------
-- 3. how long tombstones are kept: chatstore.tombstone_retention (30 days),
-- set by a superuser; chat_retention_purge_tombstones purges older ones
-- ---------------------------------------------------------------------
SELECT setting, unit, context FROM pg_settings WHERE name = 'chatstore.tombstone_retention';
SHOW chatstore.tombstone_retention;
CREATE ROLE regress_tb_user LOGIN;
SET ROLE regress_tb_user;
SET chatstore.tombstone_retention = '1s';
RESET ROLE;
DROP ROLE regress_tb_user;
-- nothing is 30 days old yet
SELECT * FROM chat_retention_purge_tombstones();
-- four of tb-ids' seven tombstones are 40 days old: the default purges them, the
-- thread's count follows, and a re-send after that stores them again
UPDATE chat_message_tombstones SET deleted_at = now() - interval '40 days'
WHERE thread_id = 'tb-ids' AND seq <= 4;
UPDATE chat_thread_tombstones SET deleted_at = now() - interval '40 days' WHERE id = 'tb-idle';
SELECT * FROM chat_retention_purge_tombstones();
-- (two statements: one that reads a chat table and calls a pg_temp function
-- would run on a Citus worker, which lacks the function)
SELECT tombstone_count FROM chat_threads WHERE id = 'tb-ids' \gset
SELECT :tombstone_count AS tombstone_count, pg_temp.exact('tb-ids') AS exact;
SELECT saved_count, skipped_count FROM chat_save_messages('tb-ids', pg_temp.conv(11, true));
SELECT pg_temp.ids('tb-ids') AS ids;
SELECT saved_count FROM chat_save_messages('tb-idle', '[{"role": "user", "content": "back"}]');
-- an explicit age, and the setting
-- (interval '0' purges every tombstone, also those of the other tests)
SELECT message_tombstones >= 11 AS purged_ours FROM chat_retention_purge_tombstones(interval '0');
SELECT (SELECT count(*) FROM chat_message_tombstones) + (SELECT count(*) FROM chat_thread_tombstones) AS none_left,
       (SELECT sum(tombstone_count) FROM chat_threads) AS counts_zero;
SELECT saved_count FROM chat_save_messages('tb-noids', '[{"id": "x1", "role": "user", "content": "x"}]');
SELECT chat_delete_thread('tb-noids');
SET chatstore.tombstone_retention = 0;
SELECT * FROM chat_retention_purge_tombstones();
RESET chatstore.tombstone_retention;
SELECT regress.try($$SELECT * FROM chat_retention_purge_tombstones(interval '-1 day')$$);
SELECT regress.try($$SET chatstore.tombstone_retention = -1$$);
CREATE TEMP TABLE tb_threads AS SELECT id FROM chat_threads WHERE id LIKE 'tb-%';
SELECT count(*) AS threads_not_exact FROM tb_threads t WHERE NOT pg_temp.exact(t.id);

-- cleanup
DELETE FROM chat_threads WHERE id LIKE 'tb-%';
DELETE FROM chat_thread_tombstones WHERE id LIKE 'tb-%';
