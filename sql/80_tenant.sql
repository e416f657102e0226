-- tenant isolation: row-level security keyed on the setting chatstore.tenant,
-- used by a non-owner application role
\pset null '(null)'

CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END $$;
-- the clean-up this file ends with (the threads deleted one call at a time:
-- a statement that reads a chat table and calls a chatstore function would
-- run the function on a Citus worker)
CREATE FUNCTION pg_temp.cleanup() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; n int := 0;
BEGIN
    FOR r IN SELECT id FROM chat_threads WHERE id LIKE 'ten\_%' ORDER BY id LOOP
        IF chat_delete_thread(r.id) THEN n := n + 1; END IF;
    END LOOP;
    DELETE FROM chat_user_preferences WHERE user_id LIKE 'tenant\_%';
    DELETE FROM chat_kv WHERE key LIKE 'ten\_%';
    DELETE FROM chat_lists WHERE key = 'ten_list';
    DELETE FROM chat_agent_states WHERE agent_id = 'ten_agent';
    DROP OWNED BY regress_chatstore_app;
    DROP ROLE regress_chatstore_app;
    RETURN n || ' threads deleted';
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- data of two tenants (and of nobody), written by the owner
SELECT saved_count FROM chat_save_messages('ten_a1', '[{"id":"a1m1","role":"user","content":"secret of A"},
                                                      {"id":"a1m2","role":"assistant","content":"reply to A"}]', 'tenant_a');
SELECT saved_count FROM chat_save_messages('ten_b1', '[{"id":"b1m1","role":"user","content":"secret of B"}]', 'tenant_b');
SELECT saved_count FROM chat_save_messages('ten_nobody', '[{"id":"n1","role":"user","content":"no owner"}]');
-- '' is not an owner (1.2): refused, nothing written
SELECT pg_temp.try($$SELECT chat_save_messages('ten_empty', '[{"id":"e1","role":"user","content":"empty owner"}]', '')$$);
SELECT count(*) AS empty_owner_threads FROM chat_threads WHERE id = 'ten_empty';
-- preferences, key-values, lists and agent states of both tenants (the
-- functions file them under the tenant set in the session)
SELECT user_id FROM chat_set_preferences('tenant_a', 'ten_a1', 'model-a', '{"theme": "a"}');
SELECT user_id FROM chat_set_preferences('tenant_b', 'ten_b1', 'model-b', '{"theme": "b"}');
SET chatstore.tenant = 'tenant_a';
SELECT key FROM chat_kv_set('ten_key', '"value of A"');
SELECT chat_kvlist_append('ten_list', '"item of A"');
SELECT chat_agent_state_save('ten_agent', 'ten_session', '{"of": "A"}');
SET chatstore.tenant = 'tenant_b';
SELECT key FROM chat_kv_set('ten_key', '"value of B"');
SELECT key FROM chat_kv_set('ten_key_b_only', '"only B"');
SELECT chat_kvlist_append('ten_list', '"item of B"');
SELECT chat_agent_state_save('ten_agent', 'ten_session', '{"of": "B"}');
RESET chatstore.tenant;

-- the application role: not the owner, no BYPASSRLS; the grants it needs:
-- SELECT on the tables, EXECUTE on the application functions, never
-- INSERT, UPDATE or DELETE (every write goes through a function)
CREATE ROLE regress_chatstore_app LOGIN NOSUPERUSER NOBYPASSRLS;
-- before the grants it cannot even call a function: none is executable by PUBLIC
SET ROLE regress_chatstore_app;
SELECT pg_temp.try($$SELECT chat_save_messages('ten_x', '[{"role":"user","content":"x"}]')$$) LIKE '42501: permission denied for function chat_save_messages' AS refused_before_grant;
RESET ROLE;
-- (but _chat_policy_tenant, which the policies of a distributed database
-- call as whoever reads, on every node: it returns the caller's own setting)
SELECT string_agg(p.proname, ', ') AS public_executable
FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'chatstore')
  AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT count(*) > 0 AS granted,
       bool_and(privileges IN ('USAGE', 'SELECT', 'EXECUTE')) AS expected_privileges
FROM chat_grant_app_role('regress_chatstore_app');
SELECT count(*) AS tables_not_readable
FROM chat_tenant_isolation_status() s
WHERE NOT has_table_privilege('regress_chatstore_app', s.table_name, 'SELECT');
SELECT count(*) AS tables_writable
FROM chat_tenant_isolation_status() s
WHERE has_table_privilege('regress_chatstore_app', s.table_name, 'INSERT')
   OR has_table_privilege('regress_chatstore_app', s.table_name, 'UPDATE')
   OR has_table_privilege('regress_chatstore_app', s.table_name, 'DELETE');
-- the maintenance functions and the internal helpers of writes are not granted
SELECT p.proname AS granted_but_should_not_be
FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'chatstore')
  AND has_function_privilege('regress_chatstore_app', p.oid, 'EXECUTE')
  AND (p.proname IN ('chat_retention_keep_last', 'chat_delete_user_data', 'chat_enable_tenant_isolation',
                     'chat_import_langmiddle', 'chat_create_search_index', 'chat_kv_purge_expired')
       OR p.proname IN ('_chat_retention_delete_range', '_chat_import_thread', '_chat_fingerprint',
                        '_chat_write_tenant', '_chat_tenant_isolation_apply'));
SELECT pg_temp.try($$SELECT chat_grant_app_role(NULL)$$);

-- before isolation is on, the application role sees every tenant
SET ROLE regress_chatstore_app;
SELECT count(*) AS visible_threads FROM chat_threads WHERE id LIKE 'ten\_%';
-- plain DML cannot break what the functions keep: a message with a gap in
-- seq, counters changed by hand, a stolen thread, a deleted message
SELECT pg_temp.try($$INSERT INTO chat_messages (thread_id, id, seq, role, content) VALUES ('ten_a1', 'x', 99, 'user', 'gap')$$);
SELECT pg_temp.try($$UPDATE chat_threads SET message_count = 0 WHERE id = 'ten_a1'$$);
SELECT pg_temp.try($$UPDATE chat_threads SET user_id = 'tenant_b' WHERE id = 'ten_a1'$$);
SELECT pg_temp.try($$DELETE FROM chat_messages WHERE thread_id = 'ten_a1'$$);
SELECT pg_temp.try($$INSERT INTO chat_kv (tenant, key, value) VALUES ('tenant_b', 'planted', '1')$$);
-- nor can it reach the internal helpers that write
SELECT pg_temp.try($$SELECT _chat_retention_delete_range('ten_a1', 1, 2)$$);
-- the functions work for it
SELECT saved_count FROM chat_save_messages('ten_app', '[{"id":"p1","role":"user","content":"by the app"}]', 'app_user');
SELECT chat_delete_thread('ten_app', 'app_user') AS app_deleted;
-- and it cannot switch isolation on or off: only the owner can
SELECT pg_temp.try($$SELECT chat_enable_tenant_isolation()$$);
SELECT pg_temp.try($$SELECT chat_disable_tenant_isolation()$$);
RESET ROLE;

-- ===================== the rows of a thread carry its owner =====================
-- every table of a thread's rows has thread_user_id, the thread's user_id,
-- written with the row by the functions: tenant isolation keys the rows on
-- it (no policy looks up the thread, which Citus could not run)
CREATE FUNCTION pg_temp.owners(prefix text) RETURNS TABLE (tbl text, n bigint, not_the_threads bigint)
LANGUAGE plpgsql AS $$
BEGIN
    FOREACH tbl IN ARRAY ARRAY['chat_messages', 'chat_message_tombstones', 'chat_summaries', 'chat_feedback',
                               'chat_checkpoints', 'chat_checkpoint_writes'] LOOP
        EXECUTE format('SELECT count(*), count(*) FILTER (WHERE x.thread_user_id IS DISTINCT FROM t.user_id)
                        FROM %I AS x JOIN chat_threads AS t ON t.id = x.thread_id WHERE x.thread_id LIKE $1', tbl)
            INTO n, not_the_threads USING prefix;
        RETURN NEXT;
    END LOOP;
END $$;
-- the rows of each tenant's thread visible to the session, per table
CREATE FUNCTION pg_temp.visible() RETURNS TABLE (tbl text, of_a bigint, of_b bigint)
LANGUAGE plpgsql AS $$
BEGIN
    FOREACH tbl IN ARRAY ARRAY['chat_threads', 'chat_messages', 'chat_message_tombstones', 'chat_summaries',
                               'chat_feedback', 'chat_checkpoints', 'chat_checkpoint_writes'] LOOP
        EXECUTE format('SELECT count(*) FILTER (WHERE %1$I = ''tiso_a''), count(*) FILTER (WHERE %1$I = ''tiso_b'')
                        FROM %2$I WHERE %1$I LIKE ''tiso\_%%''',
                       CASE tbl WHEN 'chat_threads' THEN 'id' ELSE 'thread_id' END, tbl)
            INTO of_a, of_b;
        RETURN NEXT;
    END LOOP;
END $$;
-- a count, or the error it ends with
CREATE FUNCTION pg_temp.try_count(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint; st text; msg text;
BEGIN
    EXECUTE sql INTO n;
    RETURN n::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.visible(), pg_temp.try_count(text) TO PUBLIC;
SELECT saved_count FROM chat_save_messages('tiso_a', '[{"id":"m1","role":"user","content":"A1"},
    {"id":"m2","role":"assistant","content":"A2"}, {"id":"m3","role":"user","content":"A3"}]', 'tenant_a');
SELECT saved_count FROM chat_save_messages('tiso_b', '[{"id":"m1","role":"user","content":"B1"},
    {"id":"m2","role":"assistant","content":"B2"}, {"id":"m3","role":"user","content":"B3"}]', 'tenant_b');
SELECT chat_delete_message('tiso_a', 'm3') AS a_deleted;
SELECT chat_delete_message('tiso_b', 'm3') AS b_deleted;
SELECT chat_compact('tiso_a', 1, '"summary of A"') AS a_summary;
SELECT chat_compact('tiso_b', 1, '"summary of B"') AS b_summary;
SELECT rating FROM chat_set_feedback('tiso_a', 'm2', 1);
SELECT rating FROM chat_set_feedback('tiso_b', 'm2', -1);
SELECT chat_checkpoint_put(thread_id => 'tiso_a', checkpoint_id => 'c1', record => '\x01',
    writes => '[{"k": "w", "thread_id": "tiso_a", "checkpoint_id": "c1", "task": "t1", "reg": {"0": "of A"}}]') AS a_put;
SELECT chat_checkpoint_put(thread_id => 'tiso_b', checkpoint_id => 'c1', record => '\x02',
    writes => '[{"k": "w", "thread_id": "tiso_b", "checkpoint_id": "c1", "task": "t1", "reg": {"0": "of B"}}]') AS b_put;
SELECT chat_fork_thread('tiso_a', 'tiso_a_fork') AS a_fork;
SELECT * FROM pg_temp.owners('tiso\_%');

-- isolation on: an application role reads its tenant's rows only.  The
-- tenant for one transaction: SET LOCAL, with citus.propagate_set_commands
-- = local, which a distributed database needs to see it on the workers
-- (a placeholder, harmless, on one node)
SELECT count(*) > 0 AS enabled FROM chat_enable_tenant_isolation();
SET ROLE regress_chatstore_app;
BEGIN;
SET LOCAL citus.propagate_set_commands = local;
SET LOCAL chatstore.tenant = 'tenant_a';
SELECT * FROM pg_temp.visible();
SELECT count(*) AS a_history FROM chat_history('tiso_a');
COMMIT;
BEGIN;
SET LOCAL citus.propagate_set_commands = local;
SET LOCAL chatstore.tenant = 'tenant_b';
SELECT * FROM pg_temp.visible();
COMMIT;
-- no tenant: nothing on one node; on a distributed database an error on the
-- worker (42501), so that a tenant the worker did not get fails loudly
BEGIN;
SET LOCAL citus.propagate_set_commands = local;
SELECT pg_temp.try_count($$SELECT count(*) FROM chat_messages WHERE thread_id LIKE 'tiso\_%'$$) AS no_tenant;
COMMIT;
-- a session-level SET: the rows of the tenant on one node; on a distributed
-- database it stays on the coordinator: 42501 from the worker, never 0 rows
SET chatstore.tenant = 'tenant_a';
SELECT pg_temp.try_count($$SELECT count(*) FROM chat_messages WHERE thread_id LIKE 'tiso\_%'$$) AS session_tenant;
-- the functions confine by the session's tenant themselves (they run as the
-- owner and pass it to the worker with the call)
SELECT saved_count FROM chat_save_messages('tiso_a', '[{"id":"m5","role":"user","content":"A5"}]', 'tenant_a');
SELECT pg_temp.try($$SELECT chat_save_messages('tiso_b', '[{"id":"x","role":"user","content":"intrusion"}]')$$);
RESET chatstore.tenant;
RESET ROLE;
-- forced on the owner: its saves get the tenant on the worker with the call
SELECT count(*) > 0 AS forced FROM chat_enable_tenant_isolation(force => true);
SET chatstore.tenant = 'tenant_b';
SELECT saved_count FROM chat_save_messages('tiso_b', '[{"id":"m6","role":"user","content":"B6"}]', 'tenant_b');
RESET chatstore.tenant;
SELECT count(*) > 0 AS disabled FROM chat_disable_tenant_isolation();
SELECT * FROM pg_temp.owners('tiso\_%');
SELECT _chat_is_distributed() AS distributed \gset
\if :distributed
\else
-- on one node a thread's user_id changed by hand moves its rows along (a
-- trigger, which chat_distribute drops: README.md#scaling-out)
UPDATE chat_threads SET user_id = 'tenant_b' WHERE id = 'tiso_a';
SELECT * FROM pg_temp.owners('tiso_a');
SELECT count(*) AS a_rows_now_of_b FROM chat_messages WHERE thread_id = 'tiso_a' AND thread_user_id = 'tenant_b';
\endif
SELECT chat_delete_thread('tiso_a') AND chat_delete_thread('tiso_b') AND chat_delete_thread('tiso_a_fork') AS deleted;

-- The rest of this file sets the tenant for the session, which a
-- distributed database refuses (above): there the file ends, after the
-- cleanup it ends with
\if :distributed
SELECT pg_temp.cleanup();
\quit
\endif

-- switch it on; every chatstore table is covered, each keyed as documented
CREATE TEMP TABLE enabled AS SELECT * FROM chat_enable_tenant_isolation();
SELECT table_name, keyed_on FROM enabled
WHERE table_name::text IN ('chat_threads', 'chat_messages') ORDER BY 1::text;
-- no table of the extension is left without row-level security and policy
SELECT table_name FROM chat_tenant_isolation_status() WHERE NOT (rls_enabled AND has_policy AND NOT rls_forced);
SELECT (SELECT count(*) FROM enabled) = (SELECT count(*) FROM chat_tenant_isolation_status()) AS every_table_returned;
-- enabling twice is fine (the policy is replaced)
SELECT count(*) = (SELECT count(*) FROM enabled) AS reenabled FROM chat_enable_tenant_isolation();
SELECT count(*) = (SELECT count(*) FROM enabled) AS one_policy_per_table FROM pg_policy p JOIN enabled e ON p.polrelid = e.table_name;

-- the switch is recorded (pg_dump keeps it; a restore switches isolation on)
SELECT singleton, force FROM chat_tenant_isolation_config;

-- a table the function cannot key is an error, not a silent gap
CREATE TABLE chat_unkeyed (k text PRIMARY KEY, v jsonb);
ALTER EXTENSION chatstore ADD TABLE chat_unkeyed;
SELECT pg_temp.try($$SELECT chat_enable_tenant_isolation()$$);
ALTER EXTENSION chatstore DROP TABLE chat_unkeyed;
DROP TABLE chat_unkeyed;

-- ===================== tenant A =====================
SET ROLE regress_chatstore_app;
SET chatstore.tenant = 'tenant_a';
-- reads: only A's rows, through the functions and directly
SELECT id, user_id, message_count FROM chat_list_threads(NULL, 100) WHERE id LIKE 'ten\_%';
SELECT id, user_id FROM chat_threads WHERE id LIKE 'ten\_%' ORDER BY id;
SELECT thread_id, id, content FROM chat_messages WHERE thread_id LIKE 'ten\_%' ORDER BY thread_id, seq;
SELECT count(*) AS b_history FROM chat_history('ten_b1');
SELECT chat_context('ten_b1') AS b_context;
SELECT count(*) AS b_thread FROM chat_get_thread('ten_b1');
SELECT count(*) AS b_thread_by_owner FROM chat_get_thread('ten_b1', 'tenant_b');
SELECT count(*) AS b_messages FROM chat_messages WHERE id = 'b1m1';
SELECT content FROM chat_history('ten_a1');
SELECT user_id, selected_model FROM chat_get_preferences('tenant_b');
SELECT user_id, selected_model FROM chat_get_preferences('tenant_a');
SELECT user_id, selected_model FROM chat_user_preferences ORDER BY 1;
SELECT chat_kv_get('ten_key') AS kv, chat_kv_get('ten_key_b_only') AS kv_b_only;
SELECT key, value FROM chat_kv_list('ten_');
SELECT tenant, key, value FROM chat_kv WHERE key LIKE 'ten\_%' ORDER BY 1, 2;
SELECT idx, value FROM chat_kvlist_range('ten_list');
SELECT chat_kvlist_length('ten_list') AS list_length;
SELECT tenant, key, value FROM chat_list_items WHERE key = 'ten_list';
SELECT tenant, key FROM chat_lists WHERE key = 'ten_list';
SELECT agent_id, session_id, state, version FROM chat_agent_state_load('ten_agent', 'ten_session');
SELECT count(*) AS states FROM chat_agent_state_list('ten_agent');
SELECT chat_agent_state_count('ten_agent') AS state_count;
SELECT tenant, agent_id, state FROM chat_agent_states WHERE agent_id = 'ten_agent';
-- writes to B's preferences, key-values, lists, states: through the functions
-- they land in A's own rows (the functions file by the session's tenant) or
-- are refused; directly they touch nothing or are refused
SELECT pg_temp.try($$SELECT chat_set_preferences('tenant_b', NULL, 'hacked')$$);
SELECT pg_temp.try($$SELECT chat_set_preferences('tenant_a', 'ten_b1')$$);
SELECT pg_temp.try($$INSERT INTO chat_user_preferences (user_id) VALUES ('tenant_c')$$);
SELECT pg_temp.try($$UPDATE chat_user_preferences SET user_id = 'tenant_b' WHERE user_id = 'tenant_a'$$);
WITH u AS (UPDATE chat_user_preferences SET selected_model = 'hacked' WHERE user_id = 'tenant_b' RETURNING 1) SELECT count(*) AS b_prefs_updated FROM u;
WITH d AS (DELETE FROM chat_user_preferences WHERE user_id = 'tenant_b' RETURNING 1) SELECT count(*) AS b_prefs_deleted FROM d;
SELECT pg_temp.try($$INSERT INTO chat_kv (tenant, key, value) VALUES ('tenant_b', 'planted', '1')$$);
SELECT pg_temp.try($$UPDATE chat_kv SET tenant = 'tenant_b' WHERE tenant = 'tenant_a'$$);
WITH u AS (UPDATE chat_kv SET value = '"hacked"' WHERE tenant = 'tenant_b' RETURNING 1) SELECT count(*) AS b_kv_updated FROM u;
WITH d AS (DELETE FROM chat_kv WHERE tenant = 'tenant_b' RETURNING 1) SELECT count(*) AS b_kv_deleted FROM d;
SELECT chat_kv_delete('ten_key_b_only') AS kv_b_only_deleted;
SELECT pg_temp.try($$INSERT INTO chat_list_items (tenant, key, pos, value) VALUES ('tenant_b', 'ten_list', 99, '"planted"')$$);
SELECT pg_temp.try($$INSERT INTO chat_lists (tenant, key) VALUES ('tenant_b', 'planted')$$);
WITH d AS (DELETE FROM chat_lists WHERE tenant = 'tenant_b' RETURNING 1) SELECT count(*) AS b_lists_deleted FROM d;
WITH d AS (DELETE FROM chat_list_items WHERE tenant = 'tenant_b' RETURNING 1) SELECT count(*) AS b_items_deleted FROM d;
SELECT pg_temp.try($$INSERT INTO chat_agent_states (tenant, agent_id, session_id, state) VALUES ('tenant_b', 'ten_agent', 'x', '{}')$$);
WITH u AS (UPDATE chat_agent_states SET state = '{"hacked": true}' WHERE tenant = 'tenant_b' RETURNING 1) SELECT count(*) AS b_states_updated FROM u;
WITH d AS (DELETE FROM chat_agent_states WHERE tenant = 'tenant_b' RETURNING 1) SELECT count(*) AS b_states_deleted FROM d;
-- own writes through the functions work
SELECT key, value FROM chat_kv_set('ten_key', '"A again"');
SELECT chat_kvlist_append('ten_list', '"second item of A"') AS list_length;
SELECT chat_agent_state_save('ten_agent', 'ten_session', '{"of": "A", "step": 2}', 1) AS version;
SELECT selected_model FROM chat_set_preferences('tenant_a', NULL, 'model-a2');
-- writes into B's thread: refused through the functions...
SELECT pg_temp.try($$SELECT chat_save_messages('ten_b1', '[{"id":"x1","role":"user","content":"intrusion"}]', 'tenant_a')$$);
SELECT pg_temp.try($$SELECT chat_save_messages('ten_b1', '[{"id":"x1","role":"user","content":"intrusion"}]', 'tenant_b')$$);
SELECT pg_temp.try($$SELECT chat_save_messages('ten_b1', '[{"id":"x1","role":"user","content":"intrusion"}]')$$);
SELECT pg_temp.try($$SELECT chat_save_messages('ten_b1', '[{"id":"b1m1","role":"user","content":"probe"}]')$$);
SELECT pg_temp.try($$SELECT chat_add_message('ten_b1', 'user', 'intrusion')$$);
-- the branch and single-message functions (1.3): B's thread does not exist for A
SELECT pg_temp.try($$SELECT chat_edit_message('ten_b1', 'b1m1', 'edited by A')$$);
SELECT pg_temp.try($$SELECT chat_switch_branch('ten_b1', 'b1m1')$$);
SELECT pg_temp.try($$SELECT chat_update_message('ten_b1', 'b1m1', 'changed by A')$$);
SELECT pg_temp.try($$SELECT chat_delete_message('ten_b1', 'b1m1')$$);
SELECT pg_temp.try($$SELECT chat_delete_messages_after('ten_b1', 'b1m1')$$);
SELECT count(*) AS b_message_unseen FROM chat_get_message('ten_b1', 'b1m1');
SELECT count(*) AS b_siblings_unseen FROM chat_message_siblings('ten_b1', 'b1m1');
SELECT count(*) AS b_tree_unseen FROM chat_thread_tree('ten_b1');
SELECT count(*) AS b_updated FROM chat_update_thread('ten_b1', title => 'hacked', state => '{"x":1}');
SELECT chat_delete_thread('ten_b1') AS b_deleted;
SELECT pg_temp.try($$SELECT chat_fork_thread('ten_b1', 'ten_a_stolen')$$);
-- ... and creating rows owned by B, or giving A's rows to B
SELECT pg_temp.try($$SELECT chat_save_messages('ten_new_b', '[{"id":"x1","role":"user","content":"planted"}]', 'tenant_b')$$);
SELECT pg_temp.try($$SELECT chat_create_thread('ten_new_b2', 'tenant_b')$$);
SELECT pg_temp.try($$SELECT chat_fork_thread('ten_a1', 'ten_a1_for_b', NULL, 'tenant_b')$$);
-- ... and directly
SELECT pg_temp.try($$INSERT INTO chat_threads (id, user_id) VALUES ('ten_new_b3', 'tenant_b')$$);
SELECT pg_temp.try($$INSERT INTO chat_messages (thread_id, id, seq, role, content) VALUES ('ten_b1', 'x2', 99, 'user', 'planted')$$);
SELECT pg_temp.try($$UPDATE chat_threads SET user_id = 'tenant_b' WHERE id = 'ten_a1'$$);
SELECT pg_temp.try($$UPDATE chat_messages SET thread_id = 'ten_b1' WHERE thread_id = 'ten_a1'$$);
WITH u AS (UPDATE chat_threads SET title = 'hacked' WHERE id = 'ten_b1' RETURNING 1) SELECT count(*) AS b_threads_updated FROM u;
WITH u AS (UPDATE chat_messages SET content = 'hacked' WHERE thread_id = 'ten_b1' RETURNING 1) SELECT count(*) AS b_messages_updated FROM u;
WITH d AS (DELETE FROM chat_messages WHERE thread_id = 'ten_b1' RETURNING 1) SELECT count(*) AS b_messages_deleted FROM d;
WITH d AS (DELETE FROM chat_threads WHERE user_id = 'tenant_b' RETURNING 1) SELECT count(*) AS b_threads_deleted FROM d;
-- own writes work through the functions (directly: nothing, no grant)
SELECT saved_count, first_seq FROM chat_save_messages('ten_a1', '[{"id":"a1m3","role":"user","content":"more from A"}]', 'tenant_a');
SELECT seq FROM chat_add_message('ten_a1', 'assistant', 'answer to A', 'tenant_a');
SELECT saved_count FROM chat_save_messages('ten_a2', '[{"id":"a2m1","role":"user","content":"A again"}]', 'tenant_a');
SELECT chat_fork_thread('ten_a1', 'ten_a1_fork', 2);
SELECT title FROM chat_update_thread('ten_a2', title => 'mine');
SELECT pg_temp.try($$INSERT INTO chat_threads (id, user_id) VALUES ('ten_a3', 'tenant_a')$$);
-- a save without user_id creates the thread owned by the session's tenant
SELECT pg_temp.try($$SELECT chat_save_messages('ten_unowned', '[{"id":"u1","role":"user","content":"x"}]')$$);

-- ===================== no tenant =====================
RESET chatstore.tenant;
SELECT count(*) AS threads_seen_without_tenant FROM chat_threads;
SELECT count(*) AS messages_seen_without_tenant FROM chat_messages;
SELECT count(*) AS listed_without_tenant FROM chat_list_threads(NULL, 100);
SELECT count(*) AS history_without_tenant FROM chat_history('ten_a1');
SELECT pg_temp.try($$SELECT chat_save_messages('ten_a1', '[{"id":"z1","role":"user","content":"x"}]', 'tenant_a')$$);
SELECT pg_temp.try($$SELECT chat_save_messages('ten_z', '[{"id":"z1","role":"user","content":"x"}]', '')$$);
SELECT count(*) AS prefs_seen FROM chat_user_preferences;
SELECT count(*) AS kv_seen, chat_kv_get('ten_key') AS kv FROM chat_kv;
SELECT count(*) AS list_items_seen, chat_kvlist_length('ten_list') AS list_length FROM chat_list_items;
SELECT count(*) AS states_seen, chat_agent_state_count('ten_agent') AS state_count FROM chat_agent_states;
SELECT pg_temp.try($$SELECT chat_kv_set('ten_key', '"no tenant"')$$);
SELECT pg_temp.try($$SELECT chat_agent_state_save('ten_agent', 'ten_session', '{}')$$);
SET chatstore.tenant = '';
SELECT count(*) AS threads_seen_with_empty_tenant FROM chat_threads;
SELECT count(*) AS kv_seen_with_empty_tenant FROM chat_kv;
SELECT pg_temp.try($$SELECT count(*) FROM chat_get_thread('ten_a1', '')$$) AS empty_user;

-- ===================== tenant B =====================
SET chatstore.tenant = 'tenant_b';
SELECT id, user_id, title, state FROM chat_threads WHERE id LIKE 'ten\_%' ORDER BY id;
SELECT thread_id, id, content FROM chat_messages WHERE thread_id LIKE 'ten\_%' ORDER BY thread_id, seq;
SELECT count(*) AS a_history FROM chat_history('ten_a1');
SELECT user_id, selected_model FROM chat_user_preferences ORDER BY 1;
SELECT key, value FROM chat_kv WHERE key LIKE 'ten\_%' ORDER BY 1;
SELECT value FROM chat_kvlist_range('ten_list');
SELECT state, version FROM chat_agent_state_load('ten_agent', 'ten_session');
RESET chatstore.tenant;
RESET ROLE;

-- the owner sees the truth: B's thread is untouched, nothing was planted
SELECT t.id, t.user_id, t.title, t.message_count, t.last_seq,
       (SELECT count(*) FROM chat_messages m WHERE m.thread_id = t.id) AS real_count
FROM chat_threads t WHERE t.id LIKE 'ten\_%' ORDER BY t.id;

SELECT user_id, selected_model, active_thread_id FROM chat_user_preferences WHERE user_id LIKE 'tenant\_%' ORDER BY 1;
SELECT tenant, key, value FROM chat_kv WHERE key LIKE 'ten\_%' ORDER BY 1, 2;
SELECT tenant, key, pos, value FROM chat_list_items WHERE key = 'ten_list' ORDER BY 1, 3;
SELECT tenant, agent_id, session_id, state, version FROM chat_agent_states WHERE agent_id = 'ten_agent' ORDER BY 1;

-- force: the owner's choice, recorded on every table
SELECT count(*) = (SELECT count(*) FROM enabled) AS forced_tables FROM chat_enable_tenant_isolation(force => true);
SELECT bool_and(rls_forced) AS all_forced FROM chat_tenant_isolation_status();
SELECT singleton, force FROM chat_tenant_isolation_config;
-- what a restore does: the switch row arrives (as COPY in a session with
-- row_security = off); the trigger switches isolation on again, unforced
SELECT count(*) = (SELECT count(*) FROM enabled) AS disabled FROM chat_disable_tenant_isolation();
SET row_security = off;
INSERT INTO chat_tenant_isolation_config (force) VALUES (true);
RESET row_security;
SELECT count(*) AS forced_by_restore FROM chat_tenant_isolation_status() WHERE rls_forced;
SELECT count(*) = (SELECT count(*) FROM enabled) AS all_isolated_by_restore FROM chat_tenant_isolation_status() WHERE rls_enabled AND has_policy;

-- switch it off: the application role sees every tenant again
SELECT count(*) = (SELECT count(*) FROM enabled) AS disabled FROM chat_disable_tenant_isolation();
SELECT count(*) AS still_enabled FROM chat_tenant_isolation_status() WHERE rls_enabled OR has_policy OR rls_forced;
SELECT count(*) AS switch_rows FROM chat_tenant_isolation_config;
SET ROLE regress_chatstore_app;
SELECT count(*) AS visible_threads FROM chat_threads WHERE id LIKE 'ten\_%';
RESET ROLE;

-- clean up
SELECT pg_temp.cleanup();
