-- thread functions: create, get, list, update, delete, fork
\pset null '(null)'

SELECT id, user_id, title, metadata, state, message_count, last_seq, archived
FROM chat_create_thread('t-a', 'tina', 'First', '{"project": "x", "tags": ["a"]}', '{"step": 1}');
-- no id: a uuid is generated
SELECT id ~ '^[0-9a-f-]{36}$' AS uuid, user_id, title FROM chat_create_thread(user_id => 'tina');
SELECT regress.try($$SELECT chat_create_thread('t-a')$$);
SELECT regress.try($$SELECT chat_create_thread('')$$);
SELECT regress.try($$SELECT chat_create_thread('t-bad', metadata => '[1]')$$);
SELECT regress.try($$SELECT chat_create_thread('t-bad', state => '"s"')$$);
SELECT regress.try(format('SELECT chat_create_thread(%L)', repeat('i', 513)));
SELECT regress.try(format('SELECT chat_create_thread(%L, %L)', 't-bad', repeat('u', 513)));
SELECT count(*) AS none_created FROM chat_threads WHERE id = 't-bad';

-- get: no row when missing or owned by someone else
SELECT id, title FROM chat_get_thread('t-a');
SELECT id, title FROM chat_get_thread('t-a', 'tina');
SELECT count(*) FROM chat_get_thread('t-a', 'someone-else');
SELECT count(*) FROM chat_get_thread('missing');

-- update: title replaced, metadata merged, state replaced; updated_at bumped
SELECT updated_at AS before FROM chat_threads WHERE id = 't-a' \gset
SELECT id, title, metadata, state FROM chat_update_thread('t-a', 'Renamed', '{"tags": ["b"], "pinned": true}', '{"step": 2}', 'tina');
SELECT updated_at >= :'before' AS bumped FROM chat_threads WHERE id = 't-a';
SELECT id, title, metadata FROM chat_update_thread('t-a', metadata => '{"more": 1}');
SELECT count(*) FROM chat_update_thread('t-a', 'hijack', user_id => 'someone-else');
SELECT count(*) FROM chat_update_thread('missing', 'x');
SELECT title FROM chat_threads WHERE id = 't-a';
-- an explicit updated_at in an UPDATE is kept (importers keep their times)
UPDATE chat_threads SET updated_at = '2020-01-01 00:00:00+00' WHERE id = 't-a';
SELECT updated_at FROM chat_threads WHERE id = 't-a';

-- list: newest first by updated_at, keyset and offset paging, filters
SELECT count(*) FROM (SELECT chat_create_thread('t-l' || i, 'lena', 'L' || i, jsonb_build_object('n', i, 'even', i % 2 = 0))
                      FROM generate_series(1, 7) i) s;
-- (to_timestamp: immutable, so Citus runs it on the shards; timestamptz +
-- interval is only stable, and Citus refuses it of a column in an UPDATE)
UPDATE chat_threads SET updated_at = to_timestamp(1704067200 + substr(id, 4)::int * 3600)   -- 2024-01-01 00:00 UTC + n hours
WHERE id LIKE 't-l%';
SELECT id, title FROM chat_list_threads('lena', 3);
SELECT id FROM chat_list_threads('lena', 3, before_updated_at => '2024-01-01 05:00:00+00', before_id => 't-l5');
SELECT id FROM chat_list_threads('lena', 3, page_offset => 3);
SELECT id FROM chat_list_threads('lena', 10, metadata_filter => '{"even": true}');
-- equal updated_at: the id breaks the tie, and keyset paging still sees every row once
UPDATE chat_threads SET updated_at = '2024-06-01 00:00:00+00' WHERE id IN ('t-l2', 't-l3', 't-l4');
SELECT id FROM chat_list_threads('lena', 2);
SELECT id FROM chat_list_threads('lena', 2, before_updated_at => '2024-06-01 00:00:00+00', before_id => 't-l3');
-- archived threads are hidden unless asked for
UPDATE chat_threads SET archived = true WHERE id = 't-l7';
SELECT count(*) AS visible, (SELECT count(*) FROM chat_list_threads('lena', 100, include_archived => true)) AS all_
FROM chat_list_threads('lena', 100);
SELECT count(*) FROM chat_list_threads('nobody');
-- the index gives a user's threads newest first without a sort (the
-- planner picks it on big tables; here we hide the alternatives)
-- (chat_list_threads is PL/pgSQL: the statistics of the index tell which
-- path ran)
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT pg_stat_force_next_flush() AS flushed \gset
SELECT regress.scans('chat_threads') AS before_ \gset
SELECT pg_stat_force_next_flush(), count(*) FROM chat_list_threads('lena', 20);
SELECT regress.scans('chat_threads', :'before_');
RESET enable_seqscan;
RESET enable_bitmapscan;

-- delete: cascades to messages; false when missing or not the owner
SELECT saved_count FROM chat_save_messages('t-del', '[{"role": "user", "content": "bye"}]', 'dora');
SELECT chat_delete_thread('t-del', 'someone-else') AS refused;
SELECT chat_delete_thread('t-del', 'dora') AS deleted;
SELECT chat_delete_thread('t-del') AS again;
SELECT count(*) FROM chat_messages WHERE thread_id = 't-del';

-- fork: messages up to a seq copied with their ids, seq from 1, sums recomputed
SELECT saved_count FROM chat_save_messages('t-f', '[
  {"id": "f1", "role": "user", "content": "one", "usage": {"input_tokens": 1, "output_tokens": 2}},
  {"id": "f2", "role": "assistant", "content": "two", "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 31}},
  {"id": "f3", "role": "user", "content": "three"}
]', 'fred');
SELECT chat_fork_thread('t-f', 't-f2', 2);
SELECT id, user_id, message_count, last_seq, prompt_tokens, completion_tokens, total_tokens, metadata
FROM chat_threads WHERE id IN ('t-f', 't-f2') ORDER BY id;
SELECT thread_id, seq, id, content FROM chat_messages WHERE thread_id = 't-f2' ORDER BY seq;
-- the fork is a normal thread: saving continues its seq, the same ids dedup
SELECT saved_count, skipped_count, first_seq FROM chat_save_messages('t-f2', '[
  {"id": "f1", "role": "user", "content": "one"}, {"id": "f4", "role": "user", "content": "four"}]', 'fred');
-- whole thread, generated id, new owner
SELECT length(chat_fork_thread('t-f', user_id => NULL)) = 36 AS uuid_len;
SELECT regress.try($$SELECT chat_fork_thread('t-f', 't-f3', NULL, 'mallory')$$);
SELECT regress.try($$SELECT chat_fork_thread('missing', 't-f4')$$);
SELECT regress.try($$SELECT chat_fork_thread('t-f', 't-f2')$$);
SELECT regress.try($$SELECT chat_fork_thread(NULL)$$);
SELECT count(*) FROM chat_threads WHERE id IN ('t-f3', 't-f4');
-- forking a thread whose old messages were deleted renumbers from 1
DELETE FROM chat_messages WHERE thread_id = 't-f' AND seq = 1;
SELECT chat_fork_thread('t-f', 't-f5');
SELECT seq, id FROM chat_messages WHERE thread_id = 't-f5' ORDER BY seq;

-- the updated_at trigger refuses to be misused
CREATE TABLE pg_temp.other (x int);
CREATE TRIGGER bad AFTER INSERT ON pg_temp.other FOR EACH ROW EXECUTE FUNCTION chat_set_updated_at_trigger();
SELECT regress.try($$INSERT INTO pg_temp.other VALUES (1)$$);
CREATE TABLE pg_temp.noupd (x int);
CREATE TRIGGER bad2 BEFORE UPDATE ON pg_temp.noupd FOR EACH ROW EXECUTE FUNCTION chat_set_updated_at_trigger();
INSERT INTO pg_temp.noupd VALUES (1);
SELECT regress.try($$UPDATE pg_temp.noupd SET x = 2$$);

-- the schema: every table's data is dumped by pg_dump
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'chatstore' AND c.relname IN ('chat_threads', 'chat_messages') ORDER BY 1;
