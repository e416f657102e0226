-- chat_distribute (README.md#scaling-out).  On one node: a clear error
-- (0A000) whatever the arguments, and nothing changes.  Under
-- scripts/citus.sh (which has already distributed the tables, after
-- checking that it refuses while tenant isolation is on, 55000) the Citus
-- variant of this file (test/citus/expected/85_citus.out) shows a second
-- run changing nothing, the 22023 of a bad shard count, the colocation,
-- and tenant isolation refused (0A000).
SELECT _chat_is_distributed() AS distributed;
SELECT regress.try($$SELECT * FROM chat_distribute()$$);
SELECT regress.try($$SELECT * FROM chat_distribute(0)$$);
SELECT regress.try($$SELECT * FROM chat_distribute(64001)$$);
-- a second run: every table already distributed, in its group
CREATE FUNCTION pg_temp.second_run() RETURNS TABLE (table_name regclass, distribution_column name,
                                                    colocated_with regclass, action text)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT _chat_is_distributed() THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT d.table_name, d.distribution_column, d.colocated_with, d.action FROM chat_distribute() AS d;
END $$;
SELECT * FROM pg_temp.second_run();
-- the distribution Citus recorded: thread-keyed tables in chat_threads'
-- colocation group, the key tables in chat_kv's, the configuration tables local
CREATE FUNCTION pg_temp.citus_tables() RETURNS TABLE (table_name text, column_name text, with_threads boolean, with_kv boolean)
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT p.logicalrelid::text, column_to_column_name(p.logicalrelid, p.partkey),
               p.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'chat_threads'::regclass),
               p.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'chat_kv'::regclass)
        FROM pg_dist_partition p ORDER BY 1 $q$;
END $$;
SELECT * FROM pg_temp.citus_tables();
-- tenant isolation by row-level security switches on (and off again here)
-- on both; no policy has a subquery (Citus refuses one), and on a
-- distributed database each reads the tenant with _chat_policy_tenant() on
-- the node that holds the rows (80_tenant uses it)
SELECT count(*) > 0 AS enabled FROM chat_enable_tenant_isolation();
SELECT count(*) > 10 AS policies,
       count(*) FILTER (WHERE pg_get_expr(p.polqual, p.polrelid) LIKE '%_chat_policy_tenant()%'
                          AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%_chat_policy_tenant()%') = count(*) AS read_on_the_node,
       count(*) FILTER (WHERE pg_get_expr(p.polqual, p.polrelid) ~* 'select') AS with_subquery
FROM pg_policy p WHERE p.polname = 'chatstore_tenant_isolation';
SELECT count(*) > 0 AS disabled FROM chat_disable_tenant_isolation();
SELECT count(*) AS policies FROM pg_policy WHERE polname = 'chatstore_tenant_isolation';
-- chat_history, chat_get_thread, chat_list_threads: inlined SQL functions
-- on one node; on a distributed database each calls its PL/pgSQL variant
-- (_chat_citus_functions), so that a prepared call with a generic plan
-- works there too
SELECT p.proname, p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql') AS sql_function,
       p.prosrc LIKE '%\_' || p.proname || '\_routed(%' AS calls_routed_variant,
       pg_get_function_arguments(p.oid) = pg_get_function_arguments(v.oid) AS same_arguments
FROM pg_proc p JOIN pg_proc v ON v.proname = '_' || p.proname || '_routed'
WHERE p.proname IN ('chat_history', 'chat_get_thread', 'chat_list_threads', 'chat_get_preferences', 'chat_agent_state_load')
ORDER BY 1;
SELECT saved_count FROM chat_save_messages('c85-list', '[{"role": "user", "content": "x"}]', 'c85-user');
-- a statement that reads a chat table and calls a reader: on Citus it is sent
-- whole to the thread's worker, where the reader is refused (every node has
-- the PL/pgSQL variants: an inlined reader there would read the worker's
-- empty shell table and give 0, a silently wrong result)
CREATE FUNCTION pg_temp.nested() RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    SELECT (SELECT count(*) FROM chat_history('c85-list')) INTO n FROM chat_threads WHERE id = 'c85-list';
    RETURN 'messages: ' || n;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.nested();
PREPARE c85_list(text) AS SELECT id, message_count FROM chat_list_threads($1, 5);
PREPARE c85_thread(text) AS SELECT id, user_id FROM chat_get_thread($1, 'c85-user');
PREPARE c85_history(text, int) AS SELECT seq, content FROM chat_history($1, $2);
SET plan_cache_mode = force_generic_plan;
EXECUTE c85_list('c85-user');
EXECUTE c85_thread('c85-list');
EXECUTE c85_history('c85-list', 10);
RESET plan_cache_mode;
EXECUTE c85_list('c85-user');
EXECUTE c85_thread('c85-list');
EXECUTE c85_history('c85-list', NULL);
DEALLOCATE ALL;
SELECT chat_delete_thread('c85-list') AS deleted;
-- whether a function is a Citus distributed function on its first argument,
-- colocated with a table (false on one node)
CREATE FUNCTION pg_temp.distributed_with(name text, tbl regclass) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_object') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_dist_object o JOIN pg_proc p ON p.oid = o.objid
                                WHERE o.classid = ''pg_proc''::regclass AND p.proname = $1
                                  AND o.distribution_argument_index = 0
                                  AND o.colocationid = (SELECT d.colocationid FROM pg_dist_partition d
                                                        WHERE d.logicalrelid = $2))' INTO r USING name, tbl;
    END IF;
    RETURN r;
END $$;
-- Saves on Citus run on the worker that holds the thread, in one round
-- trip: chat_distribute gives the three public saves chatstore.delegate_saves
-- = on, and each passes its call to its _at variant, a distributed function
-- on the thread id that Citus delegates to that worker.  What only the
-- calling session knows travels as arguments (the tenant that owns a new
-- thread, the transaction's time, the time zone that reads naive times in
-- the messages, lowered limits), the NOTIFY is sent by the coordinator
-- (30_notify), and an error reads as on one node.  On one node the setting
-- passes each save to its _at variant in this server: the same results.
SELECT p.proname, 'chatstore.delegate_saves=on' = ANY (p.proconfig) AS delegates
FROM pg_proc p
WHERE p.proname IN ('chat_save_messages', 'chat_append_messages', 'chat_add_message')
ORDER BY 1;
-- (1.7, 1.8) and so do the other writing functions of one thread (those that
-- send a NOTIFY since 1.8) and of one list (1.8), whose _at variants are
-- distributed functions colocated with the threads or the lists: the
-- functions _chat_at_functions() finds
SELECT p.proname, 'chatstore.delegate_saves=on' = ANY (p.proconfig) AS delegates, a.colocate_with,
       pg_temp.distributed_with(a.at_function::regproc::text, a.colocate_with) AS at_distributed
FROM _chat_at_functions() AS a JOIN pg_proc p ON p.oid = a.public_function
WHERE p.proname NOT IN ('chat_save_messages', 'chat_append_messages', 'chat_add_message')
ORDER BY 1;
SET chatstore.delegate_saves = on;
-- (counts the calls of functions run on this node: below, the _at variants)
SET track_functions = 'all';
SET chatstore.tenant = 'c85-acme';
SET TimeZone = 'Asia/Tokyo';
BEGIN;
SELECT now() AS t0 \gset
SELECT saved_count, first_seq, last_seq
FROM chat_save_messages('c85-d1', '[{"role": "user", "content": "a", "created_at": "2024-05-01T10:00:00"},
                                    {"role": "assistant", "content": "b"}]');
SELECT seq FROM chat_add_message('c85-d1', 'user', 'c');
SELECT saved_count, first_seq FROM chat_append_messages('c85-d1', '[{"role": "assistant", "content": "d"}]');
COMMIT;
RESET chatstore.tenant;
SELECT user_id, created_at = :'t0' AS created_now, updated_at = :'t0' AS updated_now, message_count
FROM chat_get_thread('c85-d1');
SELECT seq, content,
       CASE WHEN created_at = :'t0' THEN 'the transaction''s time'
            ELSE to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') END AS created
FROM chat_history('c85-d1');
RESET TimeZone;
-- errors: the save's own, without context lines; nothing written
SELECT chat_save_messages('c85-d1', '[{"role": "bogus", "content": "x"}]');
SELECT chat_add_message('c85-d1', 'user', NULL);
SELECT chat_save_messages(NULL, '[]');
SET chatstore.max_message_bytes = 1024;
SELECT regress.try($$SELECT chat_append_messages('c85-d1', jsonb_build_array(jsonb_build_object('role', 'user', 'content', repeat('x', 1025))))$$);
RESET chatstore.max_message_bytes;
SELECT message_count FROM chat_get_thread('c85-d1');
-- the writing functions of one thread that send no NOTIFY (1.7) pass their
-- call to their _at variant the same way: each gives the one-node result,
-- at the calling transaction's time, confined as its caller is
SELECT id AS m2 FROM chat_history('c85-d1') WHERE seq = 2 \gset
SELECT id AS m3 FROM chat_history('c85-d1') WHERE seq = 3 \gset
SELECT id AS m4 FROM chat_history('c85-d1') WHERE seq = 4 \gset
BEGIN;
SELECT now() AS t1 \gset
SELECT title, updated_at = :'t1' AS updated_now FROM chat_update_thread('c85-d1', title => 'delegated');
SELECT chat_compact('c85-d1', 2, '"the first two"') AS summary_id;
SELECT rating, user_id, created_at = :'t1' AS created_now FROM chat_set_feedback('c85-d1', :'m2', 1, rater => 'c85-rater');
SELECT content, edited_at = :'t1' AS edited_now FROM chat_update_message('c85-d1', :'m3', 'c, edited');
SELECT leaf_seq FROM chat_switch_branch('c85-d1', :'m4');
COMMIT;
SELECT id, up_to_seq FROM chat_summaries('c85-d1');
SELECT chat_delete_feedback('c85-d1', :'m2', rater => 'c85-rater') AS feedback_deleted,
       chat_delete_summary('c85-d1', 1) AS summary_deleted;
SELECT chat_delete_messages_after('c85-d1', :'m3') AS deleted_after;
-- an application role confined to another tenant: as refused as without delegation
CREATE ROLE regress_c85_app LOGIN NOSUPERUSER NOBYPASSRLS;
SELECT count(*) > 0 AS granted FROM chat_grant_app_role('regress_c85_app');
GRANT USAGE ON SCHEMA regress TO regress_c85_app;
SELECT count(*) > 0 AS isolated FROM chat_enable_tenant_isolation();
SET ROLE regress_c85_app;
SET chatstore.tenant = 'c85-other';
SELECT regress.try(format('SELECT chat_delete_message(%L, %L)', 'c85-d1', :'m3')) AS other_tenant_delete;
SELECT count(*) AS other_tenant_updated FROM chat_update_thread('c85-d1', title => 'stolen');
SELECT chat_delete_thread('c85-d1') AS other_tenant_deleted;
RESET chatstore.tenant;
RESET ROLE;
SELECT count(*) > 0 AS not_isolated FROM chat_disable_tenant_isolation();
DROP OWNED BY regress_c85_app;
DROP ROLE regress_c85_app;
-- the caller's confinement is what the call carries (here the owner's
-- call, not confined itself, carrying another tenant's)
SELECT regress.try(format('SELECT _chat_delete_message_at(%L, %L, NULL, false, %L)', 'c85-d1', :'m3',
                          _chat_delegate_ctx() || '{"confined": "c85-other", "tenant": "c85-other"}')) AS carried_confinement;
SELECT title, message_count FROM chat_get_thread('c85-d1');
SELECT chat_delete_message('c85-d1', :'m3') AS deleted;
SELECT string_agg(seq || ' ' || content, ', ' ORDER BY seq) AS history FROM chat_history('c85-d1');
-- the _at variants are the owner's: an application role cannot pass a tenant
SELECT count(*) AS app_role_grants FROM _chat_app_functions() AS f WHERE f.fn::text LIKE '%\_at(%';
-- each call above that ended went through its _at variant: on one node
-- run here, on Citus run on the worker that holds the thread (none here)
RESET track_functions;
SELECT pg_stat_force_next_flush();
SELECT funcname, calls FROM pg_stat_user_functions WHERE funcname LIKE '\_chat\_%\_at' AND calls > 0 ORDER BY 1;
RESET chatstore.delegate_saves;
SELECT chat_delete_thread('c85-d1') AS deleted;

-- (1.8) The writing functions of one thread that send a NOTIFY (edit,
-- regenerate, the stream functions) pass their call too: on the worker the
-- call keeps its notifications (_chat_notify) and returns them with its
-- result, and the coordinator sends them (_chat_notify_relayed), where the
-- listeners are connected: a listener on this node (a second connection)
-- gets what a call on one node sends.  chat_create_thread makes the id
-- here when none is given (Citus routes the call by it).
CREATE SCHEMA c85_dblink;
CREATE EXTENSION dblink SCHEMA c85_dblink;
SELECT c85_dblink.dblink_connect('c85',
    format('host=%s port=%s dbname=%s user=%s',
           split_part(current_setting('unix_socket_directories'), ',', 1),
           current_setting('port'), current_database(), current_user));
SELECT c85_dblink.dblink_exec('c85', 'LISTEN chatstore_messages');
SELECT c85_dblink.dblink_exec('c85', 'LISTEN chatstore_stream');
-- what the listener received up to a marker sent after the action (in a
-- statement of its own: a notification is sent when its transaction commits)
CREATE FUNCTION pg_temp.received() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    got text[] := '{}';
    n record;
    seen_marker boolean := false;
    deadline timestamptz := clock_timestamp() + interval '10 seconds';
BEGIN
    WHILE NOT seen_marker AND clock_timestamp() < deadline LOOP
        FOR n IN SELECT * FROM c85_dblink.dblink_get_notify('c85') LOOP
            IF n.extra = 'marker' THEN
                seen_marker := true;
            ELSE
                got := got || (n.notify_name || ' ' || (n.extra::jsonb)::text);
            END IF;
        END LOOP;
        IF NOT seen_marker THEN PERFORM pg_sleep(0.01); END IF;
    END LOOP;
    IF NOT seen_marker THEN
        RAISE EXCEPTION 'marker notification not received';
    END IF;
    RETURN QUERY SELECT unnest(got);
END $$;
SELECT p.proname, 'chatstore.delegate_saves=on' = ANY (p.proconfig) AS delegates
FROM pg_proc p
WHERE p.proname IN ('chat_create_thread', 'chat_edit_message', 'chat_regenerate_message',
                    'chat_stream_start', 'chat_stream_append', 'chat_stream_finish')
ORDER BY 1;
SET chatstore.delegate_saves = on;
SET chatstore.notify = on;
SET chatstore.tenant = 'c85-acme';
SET track_functions = 'pl';
BEGIN;
SELECT now() AS t2 \gset
SELECT id, user_id, created_at = :'t2' AS created_now, updated_at = :'t2' AS updated_now
FROM chat_create_thread('c85-n1', title => 'delegated');
SELECT id AS no_id FROM chat_create_thread(title => 'no id') \gset
SELECT id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$' AS uuid_made, user_id, title,
       created_at = :'t2' AS created_now
FROM chat_get_thread(:'no_id');
SELECT saved_count, first_seq FROM chat_save_messages('c85-n1', '[{"id": "q", "role": "user", "content": "question"},
                                                                  {"id": "a", "role": "assistant", "content": "answer"}]');
SELECT id, seq FROM chat_edit_message('c85-n1', 'q', 'question, edited', new_message_id => 'q2');
SELECT id, seq FROM chat_regenerate_message('c85-n1', 'a', '{"id": "a2", "role": "assistant", "content": "another"}');
SELECT id, seq FROM chat_stream_start('c85-n1', message_id => 's1');
SELECT chat_stream_append('c85-n1', 's1', 'Hel') AS end1, chat_stream_append('c85-n1', 's1', 'lo') AS end2;
SELECT seq, status, content, created_at = :'t2' AS created_now FROM chat_stream_finish('c85-n1', 's1');
-- on one node each call went through its _at variant in this server; on
-- Citus the _at variants ran on the worker (none here)
SELECT funcname, calls FROM pg_stat_xact_user_functions
WHERE funcname ~ '^_chat_(create_thread|edit_message|regenerate_message|stream_start|stream_append|stream_finish)_at$'
ORDER BY 1;
COMMIT;
-- what the listener got, in order: what a call on one node sends
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();
SELECT seq, id, parent_seq, content FROM chat_history('c85-n1');
SELECT user_id, message_count, updated_at = :'t2' AS updated_then FROM chat_get_thread('c85-n1');
-- errors read as on one node; a failed or rolled-back call sends nothing
SELECT regress.try($$SELECT chat_edit_message('c85-n1', 'nope', 'x')$$);
SELECT regress.try($$SELECT chat_stream_append('c85-n1', 's1', 'more')$$);
SELECT regress.try($$SELECT chat_regenerate_message('c85-n1', 'q2', '{"role": "assistant", "content": "x"}')$$);
SELECT regress.try($$SELECT chat_create_thread('c85-n1')$$);
SELECT regress.try($$SELECT chat_create_thread('')$$);
BEGIN;
SELECT seq FROM chat_stream_start('c85-n1', message_id => 's2');
ROLLBACK;
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();
-- the worker sees the caller's chatstore.notify: off, nothing is sent
SET chatstore.notify = off;
SELECT seq FROM chat_edit_message('c85-n1', 'q2', 'quiet edit');
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();
RESET chatstore.notify;
-- (1.8) a list's appends and trims run on the worker that holds the list
-- (by key, colocated with the lists), with the caller's tenant and time
BEGIN;
SELECT now() AS t3 \gset
SELECT chat_kvlist_append_many('c85-list', '[1, 2, 3, 4]', '{"k": 1}') AS len;
SELECT chat_list_append('c85-list', '5') AS len;
SELECT chat_kvlist_trim('c85-list', 1, -2) AS len;
SELECT funcname, calls FROM pg_stat_xact_user_functions WHERE funcname ~ '^_chat_kvlist_.*_at$' ORDER BY 1;
COMMIT;
SELECT tenant, metadata, head_pos, next_pos, created_at = :'t3' AS created_now, updated_at = :'t3' AS updated_now
FROM chat_lists WHERE key = 'c85-list';
SELECT tenant, pos, value, created_at = :'t3' AS created_now FROM chat_list_items WHERE key = 'c85-list' ORDER BY pos;
SELECT regress.try($$SELECT chat_kvlist_append_many('c85-list', '{}')$$);
SELECT regress.try($$SELECT chat_kvlist_trim('c85-list', NULL, 1)$$);
SELECT regress.try($$SELECT chat_kvlist_append_many(NULL, '[1]')$$);
SELECT regress.try($$SELECT chat_kvlist_trim('', 0, 1)$$);
SELECT string_agg(r.value::text, ', ' ORDER BY r.idx) AS kept FROM chat_kvlist_range('c85-list') AS r;
SELECT chat_kvlist_delete('c85-list') AS deleted;
-- (1.8) chat_checkpoint_put of one thread runs on the worker that holds it,
-- its save's NOTIFY sent here; one whose pending writes name another thread
-- is routed statement by statement (the same results)
SET chatstore.notify = on;
BEGIN;
SELECT chat_checkpoint_put('c85-n1', 'cp1', '\x01',
                           messages => '[{"id": "cpm", "role": "user", "content": "from a checkpoint"}]',
                           writes => '[{"k": "w1", "thread_id": "c85-n1", "checkpoint_id": "cp1", "task": "t1", "reg": {"0": 1}}]') AS had;
SELECT chat_checkpoint_put('c85-n1',
                           writes => '[{"k": "w2", "thread_id": "c85-n1", "checkpoint_id": "cp1", "task": "t1", "reg": {"1": 2}},
                                       {"k": "w3", "thread_id": "c85-cp-other", "checkpoint_id": "cpx", "task": "t1", "reg": {"0": 3}}]') AS had_routed;
SELECT funcname, calls FROM pg_stat_xact_user_functions WHERE funcname = '_chat_checkpoint_put_at';
COMMIT;
RESET chatstore.notify;
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();
SELECT thread_id, id, thread_user_id FROM chat_checkpoints WHERE thread_id = 'c85-n1';
SELECT thread_id, checkpoint_id, task, writes, thread_user_id FROM chat_checkpoint_writes
WHERE thread_id IN ('c85-n1', 'c85-cp-other') ORDER BY 1;
SELECT regress.try($$SELECT chat_checkpoint_put('c85-n1', 'cp2', '\x01', message_ids => '{nope}',
                                                messages => '[{"id": "cpm2", "role": "user", "content": "x"}]')$$) AS not_an_append;
SELECT count(*) AS cp2_stored FROM chat_checkpoints WHERE id = 'cp2';
SELECT chat_delete_thread('c85-cp-other') AS deleted;
RESET track_functions;
RESET chatstore.tenant;
RESET chatstore.delegate_saves;
-- the relay's own checks (internal functions, the owner's)
SELECT regress.try($$SELECT _chat_notify('elsewhere', 'x')$$);
SELECT regress.try($$SELECT _chat_notify_relayed('{"a": 1}')$$);
SELECT regress.try($$SELECT _chat_notify_relayed('[["chatstore_stream"]]')$$);
SELECT regress.try($$SELECT _chat_notify_relayed('[["chatstore_stream", 1]]')$$);
SELECT regress.try($$SELECT _chat_notify_relayed('[["elsewhere", "x"]]')$$);
SELECT _chat_notify_relayed(NULL) AS nothing_to_send, _chat_notify_relayed('[]') AS empty;
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();
SELECT c85_dblink.dblink_disconnect('c85');
DROP SCHEMA c85_dblink CASCADE;
SELECT chat_delete_thread('c85-n1') AS deleted, chat_delete_thread(:'no_id') AS deleted_no_id;
