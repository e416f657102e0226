-- chatstore -- part 85: Citus (distributed PostgreSQL)
--
-- chat_distribute() turns the chat tables of a database that has the citus
-- extension into distributed tables: threads and everything that belongs to
-- a thread by thread id, in one colocation group, so that every statement
-- about one thread runs on the one node that holds it; the per-user and
-- per-key tables by a key that spreads a tenant over all nodes.  The
-- configuration tables stay on the coordinator.  README.md#scaling-out says
-- when and how, and what differs.
--
-- What Citus refuses, and what replaces it on a distributed database:
--   - row triggers that write other tables or run per row on the workers
--     ("unsafe triggers"): the updated_at triggers are dropped (every
--     chatstore function sets updated_at itself) and so is the statement
--     trigger that leaves a tombstone for every deleted thread (the
--     functions that delete threads write the tombstones themselves);
--   - a foreign key from chat_user_preferences.active_thread_id (by user)
--     to chat_threads (by thread): dropped; chat_get_preferences does not
--     return an active thread that no longer exists;
--   - the trigger that copies a thread's new user_id into its rows'
--     thread_user_id: dropped (no function changes a thread's user_id;
--     README.md#scaling-out says what a hand-written change must do);
--   - the generic plans of the C functions' kept statements: those
--     functions get plan_cache_mode = force_custom_plan (on one node they
--     keep their generic plans, which are faster there).
-- Every other function is written so that it runs the same on both: no
-- SQL-language function reads a table, settings are read into variables
-- before a statement uses them, no FOR UPDATE spans shards.

-- the tables chat_distribute distributes: name, distribution column, the
-- table it is colocated with (NULL: the first of a colocation group), in
-- the order they are distributed.  Internal.
CREATE FUNCTION @extschema@._chat_distribution()
RETURNS TABLE (relname name, dist_column name, colocate_with name)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT * FROM (VALUES
        -- a thread and all that belongs to it, on one node
        ('chat_threads'::pg_catalog.name, 'id'::pg_catalog.name, NULL::pg_catalog.name),
        ('chat_messages', 'thread_id', 'chat_threads'),
        ('chat_message_tombstones', 'thread_id', 'chat_threads'),
        ('chat_thread_tombstones', 'id', 'chat_threads'),
        ('chat_stream_deltas', 'thread_id', 'chat_threads'),
        ('chat_summaries', 'thread_id', 'chat_threads'),
        ('chat_feedback', 'thread_id', 'chat_threads'),
        ('chat_checkpoints', 'thread_id', 'chat_threads'),
        ('chat_checkpoint_writes', 'thread_id', 'chat_threads'),
        -- per user and per session: spread over the same shards
        ('chat_user_preferences', 'user_id', 'chat_threads'),
        ('chat_agent_states', 'session_id', 'chat_threads'),
        -- keys (collation "C"): a group of their own
        ('chat_kv', 'key', NULL),
        ('chat_lists', 'key', 'chat_kv'),
        ('chat_list_items', 'key', 'chat_lists')) AS v(relname, dist_column, colocate_with);
END;

COMMENT ON FUNCTION @extschema@._chat_distribution() IS
    'chatstore internal: the tables chat_distribute distributes, by which column, colocated with which';

-- true when chat_threads is a distributed table (Citus installed and
-- chat_distribute run).  Internal.
CREATE FUNCTION @extschema@._chat_is_distributed()
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    yes boolean := false;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    -- (dynamic: the catalog exists only where Citus is installed)
    EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)'
        INTO yes USING '@extschema@.chat_threads'::pg_catalog.regclass;
    RETURN yes;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_is_distributed() IS
    'chatstore internal: whether the chat tables are distributed by Citus';

-- The delegated variants of the writing functions of one thread (or of
-- one list): the extension's functions _chat_<name>_at, whose first
-- argument is the thread id (thread_id, or id) or the list's key, and whose
-- public function <name> passes its call to them on Citus
-- (_chat_delegating, part 05); colocate_with: the table whose shards hold
-- that thread or list.  Internal.
CREATE FUNCTION @extschema@._chat_at_functions()
RETURNS TABLE (at_function pg_catalog.regprocedure, public_function pg_catalog.regprocedure,
               colocate_with pg_catalog.regclass)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.oid::pg_catalog.regprocedure, q.oid::pg_catalog.regprocedure,
           CASE WHEN p.proargnames[1] OPERATOR(pg_catalog.=) 'key'
                THEN '@extschema@.chat_lists'::pg_catalog.regclass
                ELSE '@extschema@.chat_threads'::pg_catalog.regclass END
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) d.objid
    JOIN pg_catalog.pg_proc AS q
      ON q.pronamespace OPERATOR(pg_catalog.=) p.pronamespace
     AND ('_' OPERATOR(pg_catalog.||) q.proname OPERATOR(pg_catalog.||) '_at') OPERATOR(pg_catalog.=) p.proname
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                             WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore')
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
      AND p.proname OPERATOR(pg_catalog.~) '^_chat_.*_at$'
    ORDER BY 1;
END;

COMMENT ON FUNCTION @extschema@._chat_at_functions() IS
    'chatstore internal: the delegated variants (_chat_<name>_at) of the writing functions of one thread, and those functions';

-- The per-function settings a distributed database needs.  Run by
-- chat_distribute and by every update script after it re-creates the
-- functions (re-creating a function with CREATE OR REPLACE clears its settings).
-- Internal.
CREATE FUNCTION @extschema@._chat_citus_functions()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f       pg_catalog.regprocedure;
    r       record;
    v_ddl   text;
    v_group integer;
BEGIN
    -- on the coordinator of a distributed database, and on every worker
    -- (group > 0; chat_distribute runs this there before its own commit
    -- makes the distribution visible): a statement that calls a reader and
    -- reads a chat table is sent whole to a worker, where an inlined reader
    -- would read the worker's empty shell table (a silently wrong result)
    -- and its PL/pgSQL variant is refused by Citus
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN;
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO v_group;
    IF NOT (v_group OPERATOR(pg_catalog.>) 0 OR @extschema@._chat_is_distributed()) THEN
        RETURN;
    END IF;
    -- On this node only (chat_distribute runs this on each node): Citus
    -- would send these commands to the workers too, which it refuses in a
    -- transaction that has just distributed tables in parallel
    v_ddl := pg_catalog.current_setting('citus.enable_ddl_propagation');
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    -- the C functions keep generic plans (faster on one node); Citus
    -- routes a statement by the values of its parameters, so it needs a
    -- custom plan, and so does chat_context (generic on one node).  So do
    -- the PL/pgSQL functions: Citus cannot plan a generic plan of a
    -- statement over several shards (a user's threads, search, retention),
    -- which a session's plan_cache_mode = force_generic_plan would ask for
    FOREACH f IN ARRAY ARRAY[
        '@extschema@.chat_save_messages(text, jsonb, text, text[])',
        '@extschema@.chat_append_messages(text, jsonb, text)',
        '@extschema@.chat_add_message(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamp with time zone)',
        '@extschema@._chat_history_budget(text, integer, bigint, bigint, integer)']::pg_catalog.regprocedure[]
        OPERATOR(pg_catalog.||) ARRAY(
            SELECT p.oid::pg_catalog.regprocedure
            FROM pg_catalog.pg_depend AS d
            JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) d.objid
            JOIN pg_catalog.pg_language AS l ON l.oid OPERATOR(pg_catalog.=) p.prolang
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
              AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
              AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                                     WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore')
              AND d.deptype OPERATOR(pg_catalog.=) 'e'
              AND l.lanname OPERATOR(pg_catalog.=) 'plpgsql'
              AND p.prorettype OPERATOR(pg_catalog.<>) 'pg_catalog.trigger'::pg_catalog.regtype
            ORDER BY 1)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET plan_cache_mode = force_custom_plan', f);
    END LOOP;
    -- and the writing functions of one thread (the saves: src/save.c) pass
    -- each call to their _at variant (_chat_delegating, part 05)
    FOR f IN SELECT a.public_function FROM @extschema@._chat_at_functions() AS a
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET chatstore.delegate_saves = on', f);
    END LOOP;
    -- chat_history, chat_get_thread, chat_list_threads, chat_get_preferences
    -- and chat_agent_state_load are inlined SQL functions on one node (the
    -- fastest there); Citus refuses an inlined function's parameterized
    -- statements: on Citus each calls its PL/pgSQL variant _<name>_routed
    -- (the same signature, defaults, owner, privileges and comment: only the
    -- body changes; running this again changes nothing)
    FOR r IN
        SELECT pg_catalog.format('%s.%I', p.pronamespace::pg_catalog.regnamespace, p.proname) AS fname,
               p.pronargs, p.proretset, p.prorows, p.proparallel,
               pg_catalog.pg_get_function_arguments(p.oid) AS args,
               pg_catalog.pg_get_function_result(p.oid) AS result,
               v.oid::pg_catalog.regproc AS routed
        FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_proc AS v
          ON v.pronamespace OPERATOR(pg_catalog.=) p.pronamespace
         AND v.proname OPERATOR(pg_catalog.=) ('_' OPERATOR(pg_catalog.||) p.proname OPERATOR(pg_catalog.||) '_routed')
         AND v.proargtypes OPERATOR(pg_catalog.=) p.proargtypes
        WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
          AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['chat_history', 'chat_get_thread', 'chat_list_threads',
                                                         'chat_get_preferences', 'chat_agent_state_load'])
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE OR REPLACE FUNCTION %s(%s) RETURNS %s LANGUAGE sql STABLE %s %s AS %L',
            r.fname, r.args, r.result,
            CASE r.proparallel WHEN 's' THEN 'PARALLEL SAFE' WHEN 'r' THEN 'PARALLEL RESTRICTED' ELSE 'PARALLEL UNSAFE' END,
            CASE WHEN r.proretset THEN 'ROWS ' OPERATOR(pg_catalog.||) r.prorows::pg_catalog.text ELSE '' END,
            pg_catalog.format('SELECT * FROM %s(%s)', r.routed,
                              (SELECT pg_catalog.string_agg('$' OPERATOR(pg_catalog.||) i::pg_catalog.text, ', ' ORDER BY i)
                               FROM pg_catalog.generate_series(1, r.pronargs) AS i)));
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_ddl, true);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_citus_functions() IS
    'chatstore internal: the function settings of a node of a distributed database (custom plans, delegated saves, the readers'' PL/pgSQL variants)';

CREATE FUNCTION @extschema@.chat_distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, distribution_column name, colocated_with regclass, shards integer, action text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ext_nsp  name;
    n_shards integer;
    r        record;
    trg      text[];
    done     boolean;
    moved    pg_catalog.regclass[] := '{}';
    t        pg_catalog.regclass;
    v_msgs   text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        RAISE EXCEPTION 'chat_distribute needs the citus extension'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Install Citus, add it to shared_preload_libraries, CREATE EXTENSION citus and add the worker nodes first (README.md#scaling-out).';
    END IF;
    IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000, got %', shard_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n_shards := COALESCE(shard_count, pg_catalog.current_setting('citus.shard_count')::integer);
    SELECT n.nspname INTO STRICT ext_nsp
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'chatstore';

    -- what Citus refuses on a distributed table (see the head of this part)
    FOREACH trg SLICE 1 IN ARRAY ARRAY[
            ['chat_threads', 'chat_threads_updated_at'],
            ['chat_threads', 'chat_threads_tombstone'],
            ['chat_threads', 'chat_threads_owner'],
            ['chat_user_preferences', 'chat_user_preferences_updated_at'],
            ['chat_kv', 'chat_kv_updated_at'],
            ['chat_lists', 'chat_lists_updated_at'],
            ['chat_agent_states', 'chat_agent_states_updated_at']]
    LOOP
        -- (Citus refuses even DROP TRIGGER IF EXISTS on a distributed
        -- table: on a second run there is nothing to drop)
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                   WHERE g.tgrelid = pg_catalog.format('%I.%I', ext_nsp, trg[1])::pg_catalog.regclass
                     AND g.tgname = trg[2]) THEN
            EXECUTE pg_catalog.format('DROP TRIGGER %I ON %I.%I', trg[2], ext_nsp, trg[1]);
        END IF;
    END LOOP;
    -- (no IF EXISTS: its NOTICE on every later run would be noise)
    IF EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
               WHERE k.conrelid = pg_catalog.format('%I.chat_user_preferences', ext_nsp)::pg_catalog.regclass
                 AND k.conname = 'chat_user_preferences_active_thread_fkey') THEN
        EXECUTE pg_catalog.format('ALTER TABLE %I.chat_user_preferences DROP CONSTRAINT chat_user_preferences_active_thread_fkey',
                                  ext_nsp);
    END IF;

    -- quietly: Citus's notices about copying rows end with a hint to truncate
    -- the local copies, which this function does (below)
    v_msgs := pg_catalog.current_setting('client_min_messages');
    PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);
    FOR r IN SELECT d.relname, d.dist_column, d.colocate_with FROM @extschema@._chat_distribution() AS d
    LOOP
        table_name := pg_catalog.format('%I.%I', ext_nsp, r.relname)::pg_catalog.regclass;
        distribution_column := r.dist_column;
        colocated_with := CASE WHEN r.colocate_with IS NOT NULL
                               THEN pg_catalog.format('%I.%I', ext_nsp, r.colocate_with)::pg_catalog.regclass END;
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = $1)'
            INTO done USING table_name;
        IF done THEN
            action := 'already distributed';
        ELSIF r.colocate_with IS NULL THEN
            -- the first table of a colocation group decides its shard count
            EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2, colocate_with => ''none'', shard_count => $3)'
                USING table_name, r.dist_column::text, n_shards;
            action := 'distributed';
        ELSE
            EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2, colocate_with => $3)'
                USING table_name, r.dist_column::text, colocated_with::text;
            action := 'distributed';
        END IF;
        IF action = 'distributed' THEN
            moved := table_name OPERATOR(pg_catalog.||) moved;
        END IF;
        EXECUTE 'SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_dist_shard AS s WHERE s.logicalrelid = $1'
            INTO shards USING table_name;
        RETURN NEXT;
    END LOOP;
    -- the rows copied into the shards stay in the coordinator's own files
    -- (invisible) until truncated there: free that space, last distributed
    -- first (a table's rows before those they reference; each truncation
    -- cascades over the local copies only)
    FOREACH t IN ARRAY moved
    LOOP
        EXECUTE 'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)' USING t;
    END LOOP;
    PERFORM pg_catalog.set_config('client_min_messages', v_msgs, true);
    -- The writing functions of one thread run on the worker that holds the
    -- thread: their _at variants are distributed functions on the thread id,
    -- colocated with the threads, delegated even inside a transaction
    -- (force_delegation: a call made by a public function is in one).  (Here, not in
    -- _chat_citus_functions: an update script cannot, the workers get the
    -- new version's functions only after it ran on the coordinator.)
    FOR r IN SELECT a.at_function, a.colocate_with FROM @extschema@._chat_at_functions() AS a
    LOOP
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_object AS o
                                WHERE o.classid OPERATOR(pg_catalog.=) ''pg_catalog.pg_proc''::pg_catalog.regclass
                                  AND o.objid OPERATOR(pg_catalog.=) $1
                                  AND o.distribution_argument_index IS NOT NULL)'
            INTO done USING r.at_function::pg_catalog.oid;
        IF NOT done THEN
            EXECUTE 'SELECT pg_catalog.create_distributed_function($1, ''$1'', colocate_with => $2, force_delegation => true)'
                USING r.at_function, r.colocate_with::pg_catalog.text;
        END IF;
    END LOOP;
    PERFORM @extschema@._chat_citus_functions();
    -- and on the workers (their own connections: what this transaction
    -- changed is not visible to them before it commits)
    FOR r IN EXECUTE 'SELECT w.nodename, w.nodeport, w.success, w.result
                      FROM pg_catalog.run_command_on_workers($1) AS w'
             USING pg_catalog.format('SELECT %I._chat_citus_functions()', ext_nsp)
    LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'chat_distribute could not set up the functions on worker %:%: %',
                r.nodename, r.nodeport, r.result
                USING ERRCODE = 'connection_failure';
        END IF;
    END LOOP;
    -- tenant isolation, when on: its policies read the tenant on the node
    -- that holds the rows from now on (_chat_tenant_isolation_apply).  Last:
    -- its DDL locks the workers' tables, which the workers' own connections
    -- above would wait for
    IF EXISTS (SELECT FROM @extschema@.chat_tenant_isolation_config) THEN
        PERFORM @extschema@._chat_tenant_isolation_apply(
            (SELECT c.force FROM @extschema@.chat_tenant_isolation_config AS c));
    END IF;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_distribute(integer) IS
    'distribute the chat tables with Citus (threads and their messages by thread id, colocated); harmless to run again';
