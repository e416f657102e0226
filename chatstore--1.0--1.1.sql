-- chatstore 1.0 -> 1.1
--
-- 1.1 adds:
--   * chat_search_index_config: the extra search indexes made by
--     chat_create_search_index are listed there and made again when a
--     pg_dump is restored; chat_drop_search_index drops one and forgets it;
--   * chat_retention_trim_thread / chat_retention_trim_threads: the internal
--     trim that chat_retention_keep_last and
--     chat_retention_delete_old_messages share (their results are unchanged); a trimmed thread keeps its updated_at
--     exactly (1.0 moved it by one microsecond): chat_retention_delete_range
--     runs with the new setting chatstore.touch_updated_at off;
--   * chat_data_relations: the one internal list of the extension's tables
--     that tenant isolation, its status and chat_grant_app_role walk (the new
--     configuration table is not tenant data).
-- The C library is the same for both versions.

\echo Use "ALTER EXTENSION chatstore UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- search: the list of extra search indexes, kept by pg_dump
-- ---------------------------------------------------------------------------
-- The extra search indexes made by chat_create_search_index, one row per
-- text-search configuration (its schema-qualified name: oids differ from one
-- database to another).  pg_dump does not dump an index added to an
-- extension's table, so the list is kept here (registered with
-- pg_extension_config_dump) and a trigger creates the index when pg_restore
-- loads the row.  Not tenant data.
CREATE TABLE @extschema@.chat_search_index_config (
    config     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_search_index_config_pkey PRIMARY KEY (config)
);

COMMENT ON TABLE @extschema@.chat_search_index_config IS
    'chatstore: the text-search configurations that have a search index of their own (kept by pg_dump, re-created on restore)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_search_index_config', '');

-- a row inserted (by chat_create_search_index or pg_restore): create its index
CREATE FUNCTION @extschema@.chat_search_index_config_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE @extschema@.chat_search_index_ddl(NEW.config::pg_catalog.regconfig);
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_search_index_config_trigger() IS
    'chatstore internal: creates the search index of a configuration when its row is inserted (by chat_create_search_index or pg_restore)';

CREATE TRIGGER chat_search_index_config_apply
    AFTER INSERT OR UPDATE ON @extschema@.chat_search_index_config
    FOR EACH ROW EXECUTE FUNCTION @extschema@.chat_search_index_config_trigger();

-- the schema-qualified name of a text-search configuration.  Internal.
CREATE FUNCTION @extschema@.chat_search_config_name(config regconfig)
RETURNS text
LANGUAGE sql STABLE STRICT
BEGIN ATOMIC
    SELECT pg_catalog.format('%I.%I', n.nspname, c.cfgname)
    FROM pg_catalog.pg_ts_config AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.cfgnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) chat_search_config_name.config::pg_catalog.oid;
END;

COMMENT ON FUNCTION @extschema@.chat_search_config_name(regconfig) IS
    'chatstore internal: the schema-qualified name of a text-search configuration';

CREATE OR REPLACE FUNCTION @extschema@.chat_create_search_index(config regconfig)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF config IS NULL THEN
        RAISE EXCEPTION 'config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the trigger creates the index (again, when it was dropped by hand)
    INSERT INTO @extschema@.chat_search_index_config AS s (config)
    VALUES (@extschema@.chat_search_config_name(chat_create_search_index.config))
    ON CONFLICT ON CONSTRAINT chat_search_index_config_pkey DO UPDATE SET created_at = s.created_at;
    RETURN substring(@extschema@.chat_search_index_ddl(config) from '^CREATE INDEX IF NOT EXISTS (\S+) ');
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_create_search_index(regconfig) IS
    'create the GIN index that serves chat_search for another text-search configuration (kept across pg_dump and restore); returns its name';

CREATE FUNCTION @extschema@.chat_drop_search_index(config regconfig)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    idx     text;
    dropped boolean;
BEGIN
    IF config IS NULL THEN
        RAISE EXCEPTION 'config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    idx := '@extschema@.' || substring(@extschema@.chat_search_index_ddl(config)
                                       from '^CREATE INDEX IF NOT EXISTS (\S+) ');
    DELETE FROM @extschema@.chat_search_index_config AS s
    WHERE s.config = @extschema@.chat_search_config_name(chat_drop_search_index.config);
    dropped := FOUND;
    IF pg_catalog.to_regclass(idx) IS NOT NULL THEN
        EXECUTE 'DROP INDEX ' || idx;
        dropped := true;
    END IF;
    RETURN dropped;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_drop_search_index(regconfig) IS
    'drop the search index of a text-search configuration made by chat_create_search_index (and forget it, so a restore does not re-create it); false when there was none';

-- ---------------------------------------------------------------------------
-- retention: one trim for both trims; updated_at kept exactly
-- ---------------------------------------------------------------------------
-- Delete one thread's messages with from_seq <= seq < to_seq and correct
-- the thread's count and token sums, under the thread row lock (the callers
-- hold it already; taking it again costs nothing).  Internal.
CREATE OR REPLACE FUNCTION @extschema@.chat_retention_delete_range(
    thread_id text,
    from_seq  bigint,
    to_seq    bigint)
RETURNS @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET chatstore.touch_updated_at = off
AS $fn$
DECLARE
    n   bigint;
    p   bigint;
    c   bigint;
    tot bigint;
    res @extschema@.chat_trim_result;
BEGIN
    PERFORM 1 FROM @extschema@.chat_threads AS t
    WHERE t.id = chat_retention_delete_range.thread_id FOR UPDATE;
    WITH d AS (
        DELETE FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = chat_retention_delete_range.thread_id
          AND m.seq >= from_seq AND m.seq < to_seq
        RETURNING m.usage)
    SELECT count(*),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'prompt')), 0),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'completion')), 0),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'total')), 0)
    INTO n, p, c, tot
    FROM d;

    res.thread_id := chat_retention_delete_range.thread_id;
    res.deleted_count := n;
    IF n > 0 THEN
        UPDATE @extschema@.chat_threads AS t
        SET message_count     = t.message_count - n,
            prompt_tokens     = greatest(t.prompt_tokens - p, 0),
            completion_tokens = greatest(t.completion_tokens - c, 0),
            total_tokens      = greatest(t.total_tokens - tot, 0)
        WHERE t.id = chat_retention_delete_range.thread_id
        RETURNING t.message_count INTO res.kept_count;
    ELSE
        SELECT t.message_count INTO res.kept_count
        FROM @extschema@.chat_threads AS t
        WHERE t.id = chat_retention_delete_range.thread_id;
    END IF;
    SELECT min(m.seq) INTO res.first_kept_seq
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = chat_retention_delete_range.thread_id;
    RETURN res;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_delete_range(text, bigint, bigint) IS
    'chatstore internal: delete a seq range of a locked thread and correct its aggregates';

-- Both trims delete a contiguous run of a thread's messages that starts
-- right after its leading system messages (or at its start when keep_system
-- is false) and ends before "cut", the first seq kept:
--   max_messages given: keep the newest max_messages messages (0: none);
--   otherwise: delete the messages created before cutoff, as long as they
--   form a run from the start (when a client supplied times out of order,
--   only that run goes, so the kept history stays contiguous).
-- A tool answer is never kept without the assistant message that called it,
-- so the cut moves past tool messages.  The cut is found, the thread locked,
-- and the cut found again under the lock (a save may have come in between).
-- Returns NULL when there is nothing to delete or the thread is gone.
-- Internal.
CREATE FUNCTION @extschema@.chat_retention_trim_thread(
    thread_id    text,
    max_messages integer,
    cutoff       timestamptz,
    keep_system  boolean)
RETURNS @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid     text := chat_retention_trim_thread.thread_id;
    sys_end bigint;     -- first seq after the leading system messages
    cut     bigint;     -- first seq kept after them; NULL: nothing to delete
    locked  boolean := false;
BEGIN
    LOOP
        sys_end := CASE WHEN keep_system
                        THEN @extschema@.chat_retention_first_non_system(tid)
                        ELSE 0 END;
        IF max_messages IS NULL THEN
            -- the first message at or after cutoff
            cut := coalesce((SELECT m.seq FROM @extschema@.chat_messages AS m
                             WHERE m.thread_id = tid AND m.seq >= sys_end
                               AND m.created_at >= cutoff
                             ORDER BY m.seq LIMIT 1),
                            9223372036854775807);
        ELSIF max_messages = 0 THEN
            cut := 9223372036854775807;
        ELSE
            -- the max_messages-th newest message after the system prefix
            cut := (SELECT m.seq FROM @extschema@.chat_messages AS m
                    WHERE m.thread_id = tid AND m.seq >= sys_end
                    ORDER BY m.seq DESC
                    OFFSET max_messages - 1 LIMIT 1);
            IF cut IS NULL THEN
                RETURN NULL;    -- no more than max_messages
            END IF;
        END IF;
        -- never keep tool answers whose assistant message is deleted
        cut := coalesce((SELECT m.seq FROM @extschema@.chat_messages AS m
                         WHERE m.thread_id = tid AND m.seq >= cut AND m.role <> 'tool'
                         ORDER BY m.seq LIMIT 1),
                        9223372036854775807);
        IF NOT EXISTS (SELECT 1 FROM @extschema@.chat_messages AS m
                       WHERE m.thread_id = tid AND m.seq >= sys_end AND m.seq < cut) THEN
            RETURN NULL;
        END IF;
        EXIT WHEN locked;
        PERFORM 1 FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
        IF NOT FOUND THEN
            RETURN NULL;    -- deleted meanwhile
        END IF;
        locked := true;
    END LOOP;
    RETURN @extschema@.chat_retention_delete_range(tid, sys_end, cut);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_trim_thread(text, integer, timestamptz, boolean) IS
    'chatstore internal: find, under the thread lock, the run of messages a retention trim deletes from one thread and delete it';

-- Trim the candidate threads of one call, in thread id order, at most
-- max_threads of them (threads with nothing to delete are passed over and do
-- not count).  max_messages given: the threads holding more messages than
-- that, from the thread aggregates (no message scan); otherwise the threads
-- holding a message created before cutoff, through the created_at index.
-- Internal: the body of chat_retention_keep_last and
-- chat_retention_delete_old_messages.
CREATE FUNCTION @extschema@.chat_retention_trim_threads(
    max_messages integer,
    cutoff       timestamptz,
    thread_id    text,
    user_id      text,
    keep_system  boolean,
    max_threads  integer)
RETURNS SETOF @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid  text;
    done integer := 0;
    r    @extschema@.chat_trim_result;
BEGIN
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR tid IN
        SELECT c.id FROM @extschema@.chat_threads AS c
        WHERE max_messages IS NOT NULL
          AND c.message_count > max_messages
          AND (chat_retention_trim_threads.thread_id IS NULL
               OR c.id = chat_retention_trim_threads.thread_id)
          AND (chat_retention_trim_threads.user_id IS NULL
               OR c.user_id = chat_retention_trim_threads.user_id)
        UNION ALL
        SELECT DISTINCT m.thread_id FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS c ON c.id = m.thread_id
        WHERE max_messages IS NULL
          AND m.created_at < cutoff
          AND (chat_retention_trim_threads.thread_id IS NULL
               OR m.thread_id = chat_retention_trim_threads.thread_id)
          AND (chat_retention_trim_threads.user_id IS NULL
               OR c.user_id = chat_retention_trim_threads.user_id)
        ORDER BY 1
    LOOP
        EXIT WHEN done >= max_threads;
        r := @extschema@.chat_retention_trim_thread(tid, max_messages, cutoff, keep_system);
        IF r.deleted_count > 0 THEN
            done := done + 1;
            RETURN NEXT r;
        END IF;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_trim_threads(integer, timestamptz, text, text, boolean, integer) IS
    'chatstore internal: trim the candidate threads of chat_retention_keep_last or chat_retention_delete_old_messages';

CREATE OR REPLACE FUNCTION @extschema@.chat_retention_keep_last(
    max_messages integer,
    thread_id    text    DEFAULT NULL,
    user_id      text    DEFAULT NULL,
    keep_system  boolean DEFAULT true,
    max_threads  integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF max_messages IS NULL OR max_messages < 0 THEN
        RAISE EXCEPTION 'max_messages must be zero or more'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(max_messages::text, 'null'));
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.chat_retention_trim_threads(
        max_messages, NULL, thread_id, user_id, keep_system, max_threads);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_keep_last(integer, text, text, boolean, integer) IS
    'keep only the newest N messages of each thread (after its leading system messages); returns what was removed per thread';

CREATE OR REPLACE FUNCTION @extschema@.chat_retention_delete_old_messages(
    older_than  interval,
    thread_id   text    DEFAULT NULL,
    user_id     text    DEFAULT NULL,
    keep_system boolean DEFAULT true,
    max_threads integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', older_than);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.chat_retention_trim_threads(
        NULL, now() - older_than, thread_id, user_id, keep_system, max_threads);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_delete_old_messages(interval, text, text, boolean, integer) IS
    'delete the messages created longer ago than an interval (the oldest contiguous run of each thread); returns what was removed per thread';

-- ---------------------------------------------------------------------------
-- tenant isolation: one list of the tables that hold tenant data
-- ---------------------------------------------------------------------------
-- Every table and sequence of the extension except its configuration tables
-- (chat_tenant_isolation_config, chat_search_index_config: no tenant data,
-- nothing an application touches).  Internal.
CREATE FUNCTION @extschema@.chat_data_relations()
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
            ARRAY['chat_tenant_isolation_config', 'chat_search_index_config']::pg_catalog.name[])
    ORDER BY c.relname;
END;

COMMENT ON FUNCTION @extschema@.chat_data_relations() IS
    'chatstore internal: every table and sequence of the extension but its configuration tables';

CREATE OR REPLACE FUNCTION @extschema@.chat_tenant_isolation_apply(force boolean)
RETURNS TABLE (table_name regclass, keyed_on text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ext_nsp   oid;
    threads   regclass;
    tenant    text := 'COALESCE(pg_catalog.current_setting(''chatstore.tenant'', true), '''')';
    has_tenant boolean := false;
    r         record;
    cond      text;
BEGIN
    SELECT e.extnamespace INTO ext_nsp FROM pg_catalog.pg_extension AS e
    WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore';
    SELECT c.oid::regclass INTO threads FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace OPERATOR(pg_catalog.=) ext_nsp AND c.relname OPERATOR(pg_catalog.=) 'chat_threads';
    -- the setting must be non-empty; the comparisons below are never true for NULL
    cond := tenant || ' OPERATOR(pg_catalog.<>) ''''';

    FOR r IN
        SELECT c.oid::regclass AS rel, c.relname,
               EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                       WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'tenant'
                         AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) AS by_tenant,
               EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS k
                       JOIN pg_catalog.pg_attribute AS a
                         ON a.attrelid OPERATOR(pg_catalog.=) k.conrelid
                        AND a.attnum OPERATOR(pg_catalog.=) ANY (k.conkey)
                       WHERE k.conrelid OPERATOR(pg_catalog.=) c.oid AND k.contype OPERATOR(pg_catalog.=) 'f'
                         AND k.confrelid OPERATOR(pg_catalog.=) threads
                         AND pg_catalog.array_length(k.conkey, 1) OPERATOR(pg_catalog.=) 1
                         AND a.attname OPERATOR(pg_catalog.=) 'thread_id' AND a.attnotnull) AS by_thread,
               EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                       WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'user_id'
                         AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) AS by_user
        FROM @extschema@.chat_data_relations() AS t
        JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.rel
        WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
        ORDER BY c.relname
    LOOP
        IF r.by_tenant THEN
            keyed_on := 'tenant';
            has_tenant := true;
            EXECUTE pg_catalog.format(
                'CREATE POLICY chatstore_tenant_isolation_new ON %s AS PERMISSIVE FOR ALL TO PUBLIC '
                'USING (tenant OPERATOR(pg_catalog.=) %s AND %s) '
                'WITH CHECK (tenant OPERATOR(pg_catalog.=) %s AND %s)',
                r.rel, tenant, cond, tenant, cond);
        ELSIF r.by_thread THEN
            keyed_on := 'thread_id -> chat_threads.user_id';
            EXECUTE pg_catalog.format(
                'CREATE POLICY chatstore_tenant_isolation_new ON %1$s AS PERMISSIVE FOR ALL TO PUBLIC '
                'USING (EXISTS (SELECT 1 FROM %2$s AS cs_t WHERE cs_t.id OPERATOR(pg_catalog.=) %3$s.thread_id '
                '  AND cs_t.user_id OPERATOR(pg_catalog.=) %4$s AND %5$s)) '
                'WITH CHECK (EXISTS (SELECT 1 FROM %2$s AS cs_t WHERE cs_t.id OPERATOR(pg_catalog.=) %3$s.thread_id '
                '  AND cs_t.user_id OPERATOR(pg_catalog.=) %4$s AND %5$s))',
                r.rel, threads, pg_catalog.quote_ident(r.relname), tenant, cond);
        ELSIF r.by_user THEN
            keyed_on := 'user_id';
            EXECUTE pg_catalog.format(
                'CREATE POLICY chatstore_tenant_isolation_new ON %s AS PERMISSIVE FOR ALL TO PUBLIC '
                'USING (user_id OPERATOR(pg_catalog.=) %s AND %s) '
                'WITH CHECK (user_id OPERATOR(pg_catalog.=) %s AND %s)',
                r.rel, tenant, cond, tenant, cond);
        ELSE
            RAISE EXCEPTION 'table % has no tenant key', r.rel
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Tenant isolation keys every chatstore table on a column "tenant", a NOT NULL "thread_id" referencing chat_threads, or "user_id".',
                      HINT = 'Give the table one of those columns, or teach chat_enable_tenant_isolation how to key it.';
        END IF;
        -- replace an earlier policy of ours atomically (idempotent re-enable)
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) r.rel
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY chatstore_tenant_isolation ON %s', r.rel);
        END IF;
        EXECUTE pg_catalog.format('ALTER POLICY chatstore_tenant_isolation_new ON %s RENAME TO chatstore_tenant_isolation', r.rel);
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

COMMENT ON FUNCTION @extschema@.chat_tenant_isolation_apply(boolean) IS
    'chatstore internal: put the tenant policy and row-level security on every chatstore table (use chat_enable_tenant_isolation)';

CREATE OR REPLACE FUNCTION @extschema@.chat_disable_tenant_isolation()
RETURNS TABLE (table_name regclass)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    DELETE FROM @extschema@.chat_tenant_isolation_config;
    FOR r IN
        SELECT t.rel FROM @extschema@.chat_data_relations() AS t
        WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
        ORDER BY t.relname
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) r.rel
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY chatstore_tenant_isolation ON %s', r.rel);
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
CREATE OR REPLACE FUNCTION @extschema@.chat_tenant_isolation_status()
RETURNS TABLE (table_name regclass, rls_enabled boolean, rls_forced boolean, has_policy boolean)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation')
    FROM @extschema@.chat_data_relations() AS t
    JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.rel
    WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
    ORDER BY c.relname;
END;

COMMENT ON FUNCTION @extschema@.chat_tenant_isolation_status() IS
    'every chatstore table holding tenant data, with whether row-level security is enabled and forced and whether the tenant policy is on it';

-- the grants an application role needs to use chatstore (see README, Tenant isolation):
-- USAGE on the extension schema, SELECT/INSERT/UPDATE/DELETE on every
-- chatstore table, USAGE/SELECT/UPDATE on every chatstore sequence.  EXECUTE
-- on the functions is granted to PUBLIC by default.  Run it as the owner.
CREATE OR REPLACE FUNCTION @extschema@.chat_grant_app_role(role_name regrole)
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
        SELECT t.rel, t.relkind FROM @extschema@.chat_data_relations() AS t
        ORDER BY t.relkind, t.relname
    LOOP
        IF r.relkind OPERATOR(pg_catalog.=) 'S' THEN
            privileges := 'USAGE, SELECT, UPDATE';
            EXECUTE pg_catalog.format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO %s', r.rel, role_name);
        ELSE
            privileges := 'SELECT, INSERT, UPDATE, DELETE';
            EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO %s', r.rel, role_name);
        END IF;
        object_name := r.rel::text;
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_grant_app_role(regrole) IS
    'grant a role what an application needs on every chatstore table, sequence and the schema (run as the owner)';
