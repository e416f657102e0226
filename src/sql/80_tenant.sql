-- chatstore -- part 80: tenant isolation (row-level security)
--
-- chat_enable_tenant_isolation() puts one row-level security policy, named
-- chatstore_tenant_isolation, on EVERY table of the extension (found through
-- pg_depend, so a table added by a later part or version is never missed:
-- a table the function does not know how to key is an error, not a silent
-- gap).  Each policy compares the row's tenant with the session setting
-- chatstore.tenant; a missing or empty setting matches no row.
--   * a table with a column "tenant"                 -> tenant = setting
--   * a table with a column "thread_user_id" (the rows of a thread:
--     chat_messages, ...; its thread's user_id, written with the row)
--                                                    -> thread_user_id = setting
--   * a table with a column "user_id" (chat_threads, preferences)
--                                                    -> user_id = setting
-- No policy looks up another table (Citus refuses a subquery in a policy).
-- On a distributed database the setting is read by _chat_policy_tenant()
-- on the node that holds the rows, where a missing setting is an error
-- (42501), not an empty result: a worker sees only a transaction's setting
-- (SET LOCAL with citus.propagate_set_commands = local), never a session's.
-- The policy expressions are parsed while search_path = pg_catalog, pg_temp
-- and name every object with its schema, so they call nothing a caller put on
-- search_path.  Table owners (and superusers / BYPASSRLS roles) are not
-- subject to the policies unless force => true (FORCE ROW LEVEL SECURITY);
-- that is the owner's choice: with force, maintenance jobs run by the owner
-- (retention with pg_cron, imports) see only the tenant they set.
--
-- pg_dump does not dump the row-level security switches and policies of an
-- extension's tables.  So that isolation survives a dump and restore, the
-- switch is also kept as a row of chat_tenant_isolation_config (registered
-- with pg_extension_config_dump); when pg_restore loads that row, a trigger
-- switches isolation on again before any client can connect to the new
-- database.  FORCE is not re-applied during a restore (pg_restore runs with
-- row_security = off, and a forced table would refuse the restoring owner's
-- COPY); run chat_enable_tenant_isolation(force => true) again afterwards.

-- the switch: one row while tenant isolation is on (no tenant data here; it
-- is not isolated itself and not granted to applications)
CREATE TABLE @extschema@.chat_tenant_isolation_config (
    singleton  boolean     NOT NULL DEFAULT true,
    force      boolean     NOT NULL DEFAULT false,
    enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_tenant_isolation_config_pkey PRIMARY KEY (singleton),
    CONSTRAINT chat_tenant_isolation_config_singleton_check CHECK (singleton)
);

COMMENT ON TABLE @extschema@.chat_tenant_isolation_config IS
    'chatstore: one row while tenant isolation is switched on (kept by pg_dump, re-applied on restore)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_tenant_isolation_config', '');


-- Every table and sequence of the extension except its configuration tables
-- (chat_tenant_isolation_config, chat_search_index_config: no tenant data,
-- nothing an application touches) and chat_stream_deltas (only the stream
-- functions, which check owners and tenants themselves, touch it).  Internal.
CREATE FUNCTION @extschema@._chat_data_relations()
RETURNS TABLE (rel regclass, relname name, relkind "char")
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass, c.relname, c.relkind
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
    JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) d.objid
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
      AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
      AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'S']::"char"[])
      AND c.relname OPERATOR(pg_catalog.<>) ALL (
            ARRAY['chat_tenant_isolation_config', 'chat_search_index_config',
                  'chat_stream_deltas']::pg_catalog.name[])
    ORDER BY c.relname;
END;

COMMENT ON FUNCTION @extschema@._chat_data_relations() IS
    'chatstore internal: every table and sequence of the extension but its configuration tables';

CREATE FUNCTION @extschema@._chat_tenant_isolation_apply(force boolean)
RETURNS TABLE (table_name regclass, keyed_on text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant    text := 'COALESCE(pg_catalog.current_setting(''chatstore.tenant'', true), '''')';
    cond      text;
    r         record;
    col       text;
BEGIN
    IF @extschema@._chat_is_distributed() THEN
        -- read on the node that holds the rows; unset there: 42501
        tenant := '@extschema@._chat_policy_tenant()';
        cond := 'true';
    ELSE
        -- the setting must be non-empty; the comparisons below are never true for NULL
        cond := tenant || ' OPERATOR(pg_catalog.<>) ''''';
    END IF;

    FOR r IN
        SELECT c.oid::regclass AS rel, c.relname,
               (SELECT a.attname FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
                  AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['tenant', 'thread_user_id', 'user_id']::pg_catalog.name[])
                  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                ORDER BY pg_catalog.array_position(ARRAY['tenant', 'thread_user_id', 'user_id']::pg_catalog.name[], a.attname)
                LIMIT 1) AS key
        FROM @extschema@._chat_data_relations() AS t
        JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.rel
        WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
        ORDER BY c.relname
    LOOP
        IF r.key IS NULL THEN
            RAISE EXCEPTION 'table % has no tenant key', r.rel
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Tenant isolation keys every chatstore table on a column "tenant", "thread_user_id" (its thread''s user_id) or "user_id".',
                      HINT = 'Give the table one of those columns, or teach chat_enable_tenant_isolation how to key it.';
        END IF;
        keyed_on := r.key;
        col := pg_catalog.quote_ident(r.key);
        -- replace an earlier policy of ours (idempotent re-enable; in this
        -- transaction, so no session sees the table without one).  IF
        -- EXISTS: a table Citus distributed after the policy was made has
        -- it on the coordinator only
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) r.rel
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS chatstore_tenant_isolation ON %s', r.rel);
        END IF;
        EXECUTE pg_catalog.format(
            'CREATE POLICY chatstore_tenant_isolation ON %1$s AS PERMISSIVE FOR ALL TO PUBLIC '
            'USING (%2$s OPERATOR(pg_catalog.=) %3$s AND %4$s) '
            'WITH CHECK (%2$s OPERATOR(pg_catalog.=) %3$s AND %4$s)',
            r.rel, col, tenant, cond);
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', r.rel);
        IF force THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', r.rel);
        ELSE
            EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', r.rel);
        END IF;
        table_name := r.rel;
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_tenant_isolation_apply(boolean) IS
    'chatstore internal: put the tenant policy and row-level security on every chatstore table (use chat_enable_tenant_isolation)';

CREATE FUNCTION @extschema@.chat_enable_tenant_isolation(force boolean DEFAULT false)
RETURNS TABLE (table_name regclass, keyed_on text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- the tables first (only their owner can), then the switch, which pg_dump keeps
    RETURN QUERY SELECT a.table_name, a.keyed_on
                 FROM @extschema@._chat_tenant_isolation_apply(COALESCE(force, false)) AS a;
    INSERT INTO @extschema@.chat_tenant_isolation_config AS c (singleton, force, enabled_at)
    VALUES (true, COALESCE(chat_enable_tenant_isolation.force, false), pg_catalog.now())
    ON CONFLICT (singleton) DO UPDATE SET force = excluded.force, enabled_at = excluded.enabled_at;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_enable_tenant_isolation(boolean) IS
    'switch on row-level security on every chatstore table, keyed on the session setting chatstore.tenant (empty sees nothing); force also confines the table owner';

-- pg_restore loads the switch's row: switch isolation on in the new database
CREATE FUNCTION @extschema@._chat_tenant_isolation_config_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_tenant_isolation_apply(
        NEW.force AND COALESCE(pg_catalog.current_setting('row_security', true), 'on') OPERATOR(pg_catalog.<>) 'off');
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_tenant_isolation_config_trigger() IS
    'chatstore internal: re-applies tenant isolation when its switch row is inserted (by chat_enable_tenant_isolation or pg_restore)';

CREATE TRIGGER chat_tenant_isolation_config_apply
    AFTER INSERT OR UPDATE ON @extschema@.chat_tenant_isolation_config
    FOR EACH ROW EXECUTE FUNCTION @extschema@._chat_tenant_isolation_config_trigger();

CREATE FUNCTION @extschema@.chat_disable_tenant_isolation()
RETURNS TABLE (table_name regclass)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    DELETE FROM @extschema@.chat_tenant_isolation_config;
    FOR r IN
        SELECT t.rel FROM @extschema@._chat_data_relations() AS t
        WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
        ORDER BY t.relname
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) r.rel
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS chatstore_tenant_isolation ON %s', r.rel);
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', r.rel);
        EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', r.rel);
        table_name := r.rel;
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_disable_tenant_isolation() IS
    'switch off the row-level security that chat_enable_tenant_isolation switched on (drops its policies)';

-- which chatstore tables are isolated (for monitoring and tests)
CREATE FUNCTION @extschema@.chat_tenant_isolation_status()
RETURNS TABLE (table_name regclass, rls_enabled boolean, rls_forced boolean, has_policy boolean)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation')
    FROM @extschema@._chat_data_relations() AS t
    JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.rel
    WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
    ORDER BY c.relname;
END;

COMMENT ON FUNCTION @extschema@.chat_tenant_isolation_status() IS
    'every chatstore table holding tenant data, with whether row-level security is enabled and forced and whether the tenant policy is on it';

-- A thread's user_id is copied into its rows (thread_user_id, which tenant
-- isolation keys them on).  The functions never change a thread's user_id;
-- when the owner changes it by hand, this trigger moves the thread's rows
-- along (every table of the extension with the columns thread_id and
-- thread_user_id).  On a distributed database chat_distribute drops it
-- (Citus refuses triggers on distributed tables): there such an UPDATE must
-- change the rows' thread_user_id too (README.md#scaling-out).
CREATE FUNCTION @extschema@._chat_thread_owner_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT t.rel FROM @extschema@._chat_data_relations() AS t
        WHERE t.relkind OPERATOR(pg_catalog.=) 'r'
          AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) t.rel AND a.attname OPERATOR(pg_catalog.=) 'thread_user_id'
                        AND NOT a.attisdropped)
          AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) t.rel AND a.attname OPERATOR(pg_catalog.=) 'thread_id'
                        AND NOT a.attisdropped)
        ORDER BY t.relname
    LOOP
        EXECUTE pg_catalog.format(
            'UPDATE %s AS x SET thread_user_id = $1 WHERE x.thread_id OPERATOR(pg_catalog.=) $2', r.rel)
            USING NEW.user_id, NEW.id;
    END LOOP;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_thread_owner_trigger() IS
    'chatstore internal: a thread''s new user_id copied into the thread_user_id of its rows';

CREATE TRIGGER chat_threads_owner
    AFTER UPDATE OF user_id ON @extschema@.chat_threads
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION @extschema@._chat_thread_owner_trigger();

-- The grants an application role needs to use chatstore (see the
-- documentation, Tenants and security): USAGE on the extension schema,
-- SELECT on every chatstore table and sequence (reads go through row-level
-- security when tenant isolation is on), and EXECUTE on the functions an
-- application calls.  No INSERT, UPDATE or DELETE: every write goes through
-- a SECURITY DEFINER function, which keeps the invariants.  Not granted:
-- the maintenance functions (retention, importers, tenant isolation, search
-- indexes, chat_delete_user_data, chat_kv_purge_expired), which the owner
-- runs, and the internal helpers the application does not call.  Run it as
-- the owner; running it again is harmless.
CREATE FUNCTION @extschema@.chat_grant_app_role(role_name regrole)
RETURNS TABLE (object_name text, privileges text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'role_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR r IN
        SELECT e.extnamespace::regnamespace AS nsp
        FROM pg_catalog.pg_extension AS e WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore'
    LOOP
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %s', r.nsp, role_name);
        object_name := r.nsp::text;
        privileges := 'USAGE';
        RETURN NEXT;
    END LOOP;
    FOR r IN
        SELECT t.rel, t.relkind FROM @extschema@._chat_data_relations() AS t
        ORDER BY t.relkind, t.relname
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON %s %s TO %s',
                                  CASE WHEN r.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                  r.rel, role_name);
        object_name := r.rel::text;
        privileges := 'SELECT';
        RETURN NEXT;
    END LOOP;
    FOR r IN
        SELECT f.fn FROM @extschema@._chat_app_functions() AS f ORDER BY f.fn::text
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', r.fn, role_name);
        object_name := r.fn::text;
        privileges := 'EXECUTE';
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_grant_app_role(regrole) IS
    'grant a role what an application needs: USAGE on the schema, SELECT on the tables, EXECUTE on the application functions (run as the owner)';

-- The functions an application role may execute: every function of the
-- extension but the maintenance functions, the trigger functions and the
-- internal helpers (names starting with _) other than those the
-- application's own calls run (inlined SQL functions call them as the
-- caller).  Internal.
CREATE FUNCTION @extschema@._chat_app_functions()
RETURNS TABLE (fn regprocedure)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.oid::pg_catalog.regprocedure
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
    JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) d.objid
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
      AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
      AND p.prorettype OPERATOR(pg_catalog.<>) 'pg_catalog.trigger'::pg_catalog.regtype
      AND (p.proname OPERATOR(pg_catalog.!~~) '\_%'
           OR p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['_chat_history_budget', '_chat_history_limit',
                                                         '_chat_required', '_chat_user_arg', '_chat_list_threads_routed',
                                                         '_chat_history_routed', '_chat_get_thread_routed',
                                                         '_chat_get_preferences_routed', '_chat_agent_state_load_routed',
                                                         '_chat_item', '_chat_tool_calls_openai', '_chat_as_chat',
                                                         '_chat_as_items', '_chat_call_ids', '_chat_context_format',
                                                         '_chat_api_item']::pg_catalog.name[]))
      AND p.proname OPERATOR(pg_catalog.<>) ALL (ARRAY[
            'chat_grant_app_role', 'chat_enable_tenant_isolation', 'chat_disable_tenant_isolation',
            'chat_retention_keep_last', 'chat_retention_delete_old_messages',
            'chat_retention_delete_idle_threads', 'chat_retention_purge_tombstones', 'chat_kv_purge_expired',
            'chat_import_langmiddle', 'chat_import_inference_gateway', 'chat_import_flux_rag',
            'chat_create_search_index', 'chat_drop_search_index', 'chat_search_index_ddl',
            'chat_delete_user_data', 'chat_distribute']::pg_catalog.name[]);
END;

COMMENT ON FUNCTION @extschema@._chat_app_functions() IS
    'chatstore internal: the functions chat_grant_app_role grants EXECUTE on';
