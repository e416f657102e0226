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
-- tenant isolation by row-level security: on one node it switches on (and
-- off again here); on a distributed database 0A000
SELECT regress.try($$SELECT * FROM chat_enable_tenant_isolation()$$);
SELECT regress.try($$SELECT * FROM chat_disable_tenant_isolation()$$);
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
