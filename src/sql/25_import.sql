-- chatstore -- part 25: importers from the seed systems' own tables
--
--   chat_import_langmiddle(source_schema)                chat_threads / chat_messages
--   chat_import_inference_gateway(source_schema)         chat_sessions / messages / user_preferences
--   chat_import_flux_rag(source_schema, user_id)         sessions / messages
--
-- The source tables live in another schema of the same database (for
-- flux-rag's SQLite file, scripts/import_flux_sqlite.py loads them into
-- temporary tables and calls chat_import_flux_rag('pg_temp')).  Every
-- importer keeps thread and message ids, message order and timestamps, and
-- is idempotent: messages go through chat_save_messages with their ids, so a
-- second run (or a run after the source grew) adds only what is missing.
-- Threads that already exist keep their title, metadata and state.  Source
-- rows are read with to_jsonb(row), so optional columns may be absent.
-- Timestamps without a time zone in the source are taken as UTC.

-- a source value that may hold JSON as text: parsed; JSON null: SQL NULL.
-- A searched CASE, not a simple one (CASE x WHEN ...): inlined into a
-- statement on a distributed table and constant-folded, a simple CASE hits
-- a Citus bug ("operator does not exist: text = boolean" on the worker).
CREATE FUNCTION @extschema@._chat_import_json(v jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'null' THEN NULL
                WHEN pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'string'
                THEN NULLIF((v OPERATOR(pg_catalog.#>>) '{}'::pg_catalog.text[]), '')::pg_catalog.jsonb
                ELSE v END;
END;

COMMENT ON FUNCTION @extschema@._chat_import_json(jsonb) IS
    'importer helper: a JSON value that may be stored as text, parsed; JSON null becomes NULL';

-- a source message row (as JSON) in chat_save_messages input form; keys of
-- the usual names are picked, absent or null ones left out
CREATE FUNCTION @extschema@._chat_import_message(r jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::pg_catalog.jsonb)
    FROM pg_catalog.jsonb_each(pg_catalog.jsonb_build_object(
        'id',           r OPERATOR(pg_catalog.->>) 'id',
        'role',         COALESCE(r OPERATOR(pg_catalog.->>) 'role', r OPERATOR(pg_catalog.->>) 'type'),
        'content',      r OPERATOR(pg_catalog.->) 'content',
        'name',         r OPERATOR(pg_catalog.->) 'name',
        'model',        r OPERATOR(pg_catalog.->) 'model',
        'tool_calls',   @extschema@._chat_import_json(r OPERATOR(pg_catalog.->) 'tool_calls'),
        'tool_call_id', r OPERATOR(pg_catalog.->) 'tool_call_id',
        'metadata',     @extschema@._chat_import_json(r OPERATOR(pg_catalog.->) 'metadata'),
        'usage',        @extschema@._chat_import_json(COALESCE(r OPERATOR(pg_catalog.->) 'usage',
                                                              r OPERATOR(pg_catalog.->) 'usage_metadata')),
        'token_count',  r OPERATOR(pg_catalog.->) 'token_count',
        'parent_id',    r OPERATOR(pg_catalog.->) 'parent_id',
        'created_at',   r OPERATOR(pg_catalog.->) 'created_at')) AS e
    WHERE e.value IS NOT NULL AND e.value OPERATOR(pg_catalog.<>) 'null'::pg_catalog.jsonb;
END;

COMMENT ON FUNCTION @extschema@._chat_import_message(jsonb) IS
    'importer helper: a source message row as JSON, in chat_save_messages input form';

-- Import one thread: thread is an object with id, user_id, title, metadata,
-- state, created_at, updated_at and optionally prompt_tokens,
-- completion_tokens, total_tokens (session totals kept when larger than what
-- the messages' usage adds up to); messages is an array for
-- chat_save_messages, in order.  Every statement names the thread by id (one
-- shard on a distributed database), and every value is computed into a
-- variable first, so that a statement carries values, not expressions.
CREATE FUNCTION @extschema@._chat_import_thread(
    thread   jsonb,
    messages jsonb,
    OUT created       boolean,
    OUT saved_count   integer,
    OUT skipped_count integer)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    tid         text := thread->>'id';
    v_owner     text := NULLIF(thread->>'user_id', '');  -- a source's '' is no owner
    src_created timestamptz := (thread->>'created_at')::timestamptz;
    src_updated timestamptz := (thread->>'updated_at')::timestamptz;
    v_now       timestamptz := now();
    v_title     text;
    v_metadata  jsonb;
    v_state     jsonb;
    v_prompt    bigint;
    v_compl     bigint;
    v_total     bigint;
    v_had       timestamptz;  -- the thread's updated_at before the import
    v_old       record;
    res         @extschema@.chat_save_result;
BEGIN
    IF tid IS NULL OR tid = '' THEN
        RAISE EXCEPTION 'source thread without an id'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The source row is %s.', left(thread::text, 200));
    END IF;
    IF messages IS NULL OR jsonb_typeof(messages) <> 'array' THEN
        RAISE EXCEPTION 'messages of source thread "%" must be a JSON array', tid
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    created := false;
    saved_count := 0;
    skipped_count := 0;

    SELECT t.user_id, t.updated_at INTO v_old
    FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
    IF NOT FOUND THEN
        v_title := coalesce(thread->>'title', '');
        v_metadata := coalesce(@extschema@._chat_import_json(thread->'metadata'), '{}');
        v_state := coalesce(@extschema@._chat_import_json(thread->'state'), '{}');
        INSERT INTO @extschema@.chat_threads AS t (id, user_id, title, metadata, state, created_at, updated_at)
        VALUES (tid, v_owner, v_title, v_metadata, v_state,
                coalesce(src_created, v_now),
                coalesce(src_updated, src_created, v_now))
        ON CONFLICT (id) DO NOTHING;
        created := FOUND;
        -- an import is explicit: a thread deleted under this id is made again
        DELETE FROM @extschema@.chat_thread_tombstones AS x WHERE x.id = tid;
        IF NOT created THEN   -- created concurrently: treat as existing
            SELECT t.user_id, t.updated_at INTO v_old
            FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
        END IF;
    END IF;
    IF NOT created AND v_owner IS NOT NULL AND v_old.user_id IS DISTINCT FROM v_owner THEN
        RAISE EXCEPTION 'thread "%" already exists and belongs to another user', tid
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The source thread belongs to "%s".', v_owner);
    END IF;

    IF jsonb_array_length(messages) > 0 THEN
        res := @extschema@.chat_save_messages(tid, messages, v_owner);
        saved_count := res.saved_count;
        skipped_count := res.skipped_count;
    END IF;

    -- session-level token totals (Inference Gateway UI) when the messages
    -- carry less.  updated_at is assigned here as the updated_at trigger
    -- would (a distributed database has no such trigger); the statement
    -- below sets its final value anyway.
    IF thread ? 'prompt_tokens' OR thread ? 'completion_tokens' OR thread ? 'total_tokens' THEN
        v_prompt := coalesce((thread->>'prompt_tokens')::bigint, 0);
        v_compl := coalesce((thread->>'completion_tokens')::bigint, 0);
        v_total := coalesce((thread->>'total_tokens')::bigint, 0);
        UPDATE @extschema@.chat_threads AS t
        SET prompt_tokens     = greatest(t.prompt_tokens, v_prompt),
            completion_tokens = greatest(t.completion_tokens, v_compl),
            total_tokens      = greatest(t.total_tokens, v_total),
            updated_at        = v_now
        WHERE t.id = tid
          AND (t.prompt_tokens < v_prompt OR t.completion_tokens < v_compl OR t.total_tokens < v_total);
    END IF;

    -- keep the source's recency: the newest of the source's updated_at, what
    -- chatstore had, and the newest imported message
    v_had := CASE WHEN created THEN NULL ELSE v_old.updated_at END;
    UPDATE @extschema@.chat_threads AS t
    SET updated_at = coalesce(greatest(src_updated, v_had, t.last_message_at), t.created_at)
    WHERE t.id = tid
      AND t.updated_at IS DISTINCT FROM coalesce(greatest(src_updated, v_had, t.last_message_at), t.created_at);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_import_thread(jsonb, jsonb) IS
    'importer core: create a thread when missing (keeping its timestamps) and save the messages it lacks';

-- checks shared by the importers
CREATE FUNCTION @extschema@._chat_import_check_source(source_schema text, tables text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    IF source_schema IS NULL OR source_schema = '' THEN
        RAISE EXCEPTION 'source_schema must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF source_schema <> 'pg_temp' AND to_regnamespace(quote_ident(source_schema)) IS NULL THEN
        RAISE EXCEPTION 'schema "%" does not exist', source_schema
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    FOREACH t IN ARRAY tables LOOP
        IF to_regclass(format('%I.%I', source_schema, t)) IS NULL THEN
            RAISE EXCEPTION 'table "%.%" does not exist', source_schema, t
                USING ERRCODE = 'undefined_table',
                      HINT = 'Point source_schema at the schema that holds the source system''s tables.';
        END IF;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_import_check_source(text, text[]) IS
    'importer helper: the source schema and its tables exist';

-- langmiddle: chat_threads(id, user_id, title, metadata, custom_state,
-- created_at, updated_at) and chat_messages(id, thread_id, role, content,
-- metadata, usage_metadata, created_at, ...), messages ordered by
-- created_at then physical order (ties are common in langmiddle).
CREATE FUNCTION @extschema@.chat_import_langmiddle(source_schema text)
RETURNS TABLE (threads_created bigint, threads_seen bigint,
               messages_saved bigint, messages_skipped bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    r   record;
    res record;
BEGIN
    PERFORM @extschema@._chat_import_check_source(source_schema, ARRAY['chat_threads', 'chat_messages']);
    threads_created := 0; threads_seen := 0; messages_saved := 0; messages_skipped := 0;
    FOR r IN EXECUTE format(
        $q$SELECT jsonb_build_object(
                      'id', tj->>'id', 'user_id', tj->>'user_id', 'title', tj->>'title',
                      'metadata', tj->'metadata',
                      'state', coalesce(tj->'custom_state', tj->'state'),
                      'created_at', tj->'created_at', 'updated_at', tj->'updated_at') AS thread,
                  (SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(to_jsonb(m))
                                             ORDER BY m.created_at, m.ctid), '[]')
                   FROM %1$I.chat_messages AS m WHERE m.thread_id = t.id) AS messages
           FROM %1$I.chat_threads AS t, LATERAL to_jsonb(t) AS tj
           ORDER BY t.created_at, t.id$q$, source_schema)
    LOOP
        res := @extschema@._chat_import_thread(r.thread, r.messages);
        threads_seen := threads_seen + 1;
        threads_created := threads_created + res.created::int;
        messages_saved := messages_saved + res.saved_count;
        messages_skipped := messages_skipped + res.skipped_count;
    END LOOP;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_import_langmiddle(text) IS
    'import langmiddle''s chat_threads / chat_messages from a schema, idempotently (ids, order, timestamps kept)';

-- Inference Gateway UI: chat_sessions(id, user_id, title, created_at,
-- updated_at, prompt_tokens, completion_tokens, total_tokens),
-- messages(id, chat_session_id | session_id, role, content, model,
-- tool_calls, tool_call_id, name, created_at, sequence_number?) and
-- user_preferences(user_id, active_chat_id, selected_model, created_at,
-- updated_at).  The older layout without a messages table (a jsonb array
-- chat_sessions.messages and chat_sessions.token_usage) is read too.
CREATE FUNCTION @extschema@.chat_import_inference_gateway(source_schema text)
RETURNS TABLE (threads_created bigint, threads_seen bigint, messages_saved bigint,
               messages_skipped bigint, preferences_imported bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    r        record;
    res      record;
    fk       text;
    msgs     text;
    seqorder text := '';
    v_now     timestamptz := now();
    p_user    text;
    p_active  text;
    p_model   text;
    p_created timestamptz;
    p_updated timestamptz;
BEGIN
    PERFORM @extschema@._chat_import_check_source(source_schema, ARRAY['chat_sessions']);
    threads_created := 0; threads_seen := 0; messages_saved := 0; messages_skipped := 0;
    preferences_imported := 0;

    IF to_regclass(format('%I.messages', source_schema)) IS NOT NULL THEN
        SELECT a.attname INTO fk FROM pg_attribute AS a
        WHERE a.attrelid = to_regclass(format('%I.messages', source_schema))
          AND a.attname IN ('chat_session_id', 'session_id') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attname LIMIT 1;
        IF fk IS NULL THEN
            RAISE EXCEPTION 'table "%.messages" has no chat_session_id or session_id column', source_schema
                USING ERRCODE = 'undefined_column';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_attribute AS a
                   WHERE a.attrelid = to_regclass(format('%I.messages', source_schema))
                     AND a.attname = 'sequence_number' AND a.attnum > 0 AND NOT a.attisdropped) THEN
            seqorder := 'm.sequence_number, ';
        END IF;
        msgs := format(
            $q$(SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(to_jsonb(m))
                                          ORDER BY %3$s m.created_at, m.ctid), '[]')
                FROM %1$I.messages AS m WHERE m.%2$I = s.id)$q$, source_schema, fk, seqorder);
    ELSE
        -- messages without a time of their own get the session's
        msgs := $q$(SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(
                                        jsonb_build_object('created_at', sj->'created_at') || e.value)
                                      ORDER BY e.n), '[]')
                    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(sj->'messages') = 'array'
                                              THEN sj->'messages' ELSE '[]' END)
                         WITH ORDINALITY AS e(value, n))$q$;
    END IF;

    FOR r IN EXECUTE format(
        $q$SELECT jsonb_build_object(
                      'id', sj->>'id', 'user_id', sj->>'user_id', 'title', sj->>'title',
                      'created_at', sj->'created_at', 'updated_at', sj->'updated_at',
                      'prompt_tokens', coalesce(sj->'prompt_tokens', sj->'token_usage'->'prompt_tokens'),
                      'completion_tokens', coalesce(sj->'completion_tokens', sj->'token_usage'->'completion_tokens'),
                      'total_tokens', coalesce(sj->'total_tokens', sj->'token_usage'->'total_tokens')) AS thread,
                  %2$s AS messages
           FROM %1$I.chat_sessions AS s, LATERAL to_jsonb(s) AS sj
           ORDER BY s.created_at, s.id$q$, source_schema, msgs)
    LOOP
        res := @extschema@._chat_import_thread(jsonb_strip_nulls(r.thread), r.messages);
        threads_seen := threads_seen + 1;
        threads_created := threads_created + res.created::int;
        messages_saved := messages_saved + res.saved_count;
        messages_skipped := messages_skipped + res.skipped_count;
    END LOOP;

    -- preferences: imported when the user has none yet; an active chat that
    -- does not exist (or is another user's) is dropped.  One source row at
    -- a time, in the source's order (the first row of a user wins): the
    -- active chat is looked up by its id and the row inserted by its user,
    -- each a statement on one shard of a distributed database (an INSERT
    -- ... SELECT from a local table with a subquery on chat_threads is not
    -- one Citus can plan).
    IF to_regclass(format('%I.user_preferences', source_schema)) IS NOT NULL THEN
        FOR r IN EXECUTE format(
            $q$SELECT pj FROM %1$I.user_preferences AS p, LATERAL to_jsonb(p) AS pj
               WHERE coalesce(pj->>'user_id', '') <> ''$q$, source_schema)
        LOOP
            p_user := r.pj->>'user_id';
            p_active := r.pj->>'active_chat_id';
            IF p_active IS NOT NULL THEN
                SELECT t.id INTO p_active FROM @extschema@.chat_threads AS t
                WHERE t.id = p_active AND t.user_id = p_user;
            END IF;
            p_created := coalesce((r.pj->>'created_at')::timestamptz, v_now);
            p_updated := coalesce((r.pj->>'updated_at')::timestamptz, (r.pj->>'created_at')::timestamptz, v_now);
            p_model := r.pj->>'selected_model';
            INSERT INTO @extschema@.chat_user_preferences AS up
                (user_id, active_thread_id, selected_model, created_at, updated_at)
            VALUES (p_user, p_active, p_model, p_created, p_updated)
            ON CONFLICT (user_id) DO NOTHING;
            IF FOUND THEN
                preferences_imported := preferences_imported + 1;
            END IF;
        END LOOP;
    END IF;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_import_inference_gateway(text) IS
    'import Inference Gateway UI''s chat_sessions / messages / user_preferences from a schema, idempotently';

-- flux-rag: sessions(id, title, metadata, created_at, updated_at) and
-- messages(id, session_id, role, content, metadata, created_at); message
-- ids become text; metadata stored as JSON text is parsed.  flux-rag has no
-- users: the threads are owned by user_id (NULL = no owner).
CREATE FUNCTION @extschema@.chat_import_flux_rag(source_schema text, user_id text DEFAULT NULL)
RETURNS TABLE (threads_created bigint, threads_seen bigint,
               messages_saved bigint, messages_skipped bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    r   record;
    res record;
BEGIN
    PERFORM @extschema@._chat_import_check_source(source_schema, ARRAY['sessions', 'messages']);
    threads_created := 0; threads_seen := 0; messages_saved := 0; messages_skipped := 0;
    FOR r IN EXECUTE format(
        $q$SELECT jsonb_build_object(
                      'id', sj->>'id', 'user_id', $1, 'title', sj->>'title',
                      'metadata', sj->'metadata',
                      'created_at', sj->'created_at', 'updated_at', sj->'updated_at') AS thread,
                  (SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(to_jsonb(m))
                                             ORDER BY m.created_at, m.ctid), '[]')
                   FROM %1$I.messages AS m WHERE m.session_id = s.id) AS messages
           FROM %1$I.sessions AS s, LATERAL to_jsonb(s) AS sj
           ORDER BY s.created_at, s.id$q$, source_schema)
        USING user_id
    LOOP
        res := @extschema@._chat_import_thread(r.thread, r.messages);
        threads_seen := threads_seen + 1;
        threads_created := threads_created + res.created::int;
        messages_saved := messages_saved + res.saved_count;
        messages_skipped := messages_skipped + res.skipped_count;
    END LOOP;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_import_flux_rag(text, text) IS
    'import flux-rag''s sessions / messages from a schema (or pg_temp), idempotently, owned by user_id';
