-- chatstore -- part 10: the write path, history and thread functions
--
-- C functions run with search_path = pg_catalog, pg_temp (SET clause) and
-- schema-qualify every name in the SQL they build, so nothing on a caller's
-- search_path is ever called.  SQL functions use standard (BEGIN ATOMIC)
-- bodies: their names are resolved once, when the extension is created.

-- ---------------------------------------------------------------------------
-- the write model (see doc: tenants and security)
-- ---------------------------------------------------------------------------
-- The functions that write are SECURITY DEFINER: an application role gets
-- SELECT on the tables and EXECUTE on the functions (chat_grant_app_role),
-- never INSERT, UPDATE or DELETE, so the invariants the functions keep
-- (gapless seq, exact aggregates, fingerprints, owners, tenants) cannot be
-- broken by plain DML.  Running as the owner, they are not subject to
-- row-level security, so they confine a caller to its tenant themselves:
-- _chat_tenant() (part 05) says whether row-level security would confine
-- the calling role, and to which tenant.

-- an owner is a non-empty string; no owner is NULL (1.0 and 1.1 accepted '')
ALTER TABLE @extschema@.chat_threads
    ADD CONSTRAINT chat_threads_user_id_not_empty_check CHECK (user_id OPERATOR(pg_catalog.<>) '');

-- a user_id argument: NULL (no user) or a non-empty string.  Internal.
CREATE FUNCTION @extschema@._chat_user_arg(user_id text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF user_id = '' THEN
        RAISE EXCEPTION 'user_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for no user.';
    END IF;
    RETURN user_id;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_user_arg(text) IS
    'chatstore internal: a user_id argument, refusing the empty string (22023)';

-- the tenant a write of the calling role is confined to: NULL when tenant
-- isolation does not confine the caller; an error (42501) when it does and
-- chatstore.tenant is not set.  Internal.
CREATE FUNCTION @extschema@._chat_write_tenant()
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text := @extschema@._chat_tenant();
BEGIN
    IF t = '' THEN
        RAISE EXCEPTION 'chatstore.tenant is not set'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Tenant isolation is on: the current role can only write the rows of its tenant.',
                  HINT = 'SET chatstore.tenant (SET LOCAL inside a transaction) before calling chatstore.';
    END IF;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_write_tenant() IS
    'chatstore internal: the tenant a write is confined to (NULL: not confined); 42501 when confined and chatstore.tenant is unset';

-- the tenant key of the key-value, list and agent-state rows a write
-- touches: the confined tenant, else chatstore.tenant, else ''.  Internal.
CREATE FUNCTION @extschema@._chat_tenant_key()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(@extschema@._chat_write_tenant(),
                    pg_catalog.current_setting('chatstore.tenant', true), '');
END;

COMMENT ON FUNCTION @extschema@._chat_tenant_key() IS
    'chatstore internal: the tenant key a key-value, list or agent-state write uses';

-- token sums of a usage object, by the rules the thread aggregates use:
-- prompt = input_tokens | prompt_tokens, completion = output_tokens |
-- completion_tokens, total = total_tokens, else prompt + completion
CREATE FUNCTION @extschema@.chat_usage_tokens(usage jsonb, kind text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'chat_usage_tokens'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.chat_usage_tokens(jsonb, text) IS
    'token count of a usage object: kind is prompt, completion or total';

CREATE FUNCTION @extschema@.chat_save_messages(
    thread_id text,
    messages  jsonb,
    user_id   text   DEFAULT NULL,
    saved_ids text[] DEFAULT NULL)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_save_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_save_messages(text, jsonb, text, text[]) IS
    'save a batch of messages into a thread (created when missing), skipping ones already stored';

-- a batch appended whole, as a log: nothing aligned or skipped (see
-- src/save.c; doc/items.md#sessions)
CREATE FUNCTION @extschema@.chat_append_messages(
    thread_id text,
    messages  jsonb,
    user_id   text DEFAULT NULL)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_append_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_append_messages(text, jsonb, text) IS
    'append a batch of messages or items to a thread as given: no dedup (an item''s id stays in the item; rows get new ids)';

CREATE FUNCTION @extschema@.chat_add_message(
    thread_id    text,
    role         text,
    content      text,
    user_id      text    DEFAULT NULL,
    metadata     jsonb   DEFAULT NULL,
    message_id   text    DEFAULT NULL,
    model        text    DEFAULT NULL,
    name         text    DEFAULT NULL,
    tool_calls   jsonb   DEFAULT NULL,
    tool_call_id text    DEFAULT NULL,
    usage        jsonb   DEFAULT NULL,
    token_count  integer DEFAULT NULL,
    parent_id    text    DEFAULT NULL,
    created_at   timestamptz DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'chat_add_message'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_add_message(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamptz) IS
    'append one message to a thread and return its id and seq';

-- The three saves with what the calling session knows as arguments
-- (confined_tenant: the tenant a confined caller is confined to, NULL when
-- not confined; tenant: chatstore.tenant, the owner of a thread the save
-- creates without user_id; at: the transaction's time; time_zone: the
-- session's, which reads the messages' times; the session's limits, kept
-- only where lower than the node's), and no NOTIFY.  On
-- Citus, chat_distribute makes them distributed functions delegated to the
-- worker that holds the thread, and the public saves call them there
-- (src/save.c, delegate_save).  Owner only: the tenant is an argument.
-- Custom plans on every node: Citus routes a statement by its values.
CREATE FUNCTION @extschema@._chat_save_messages_at(
    thread_id       text,
    messages        jsonb,
    user_id         text,
    saved_ids       text[],
    confined_tenant text,
    tenant          text,
    at              timestamptz,
    time_zone       text,
    max_batch_messages integer,
    max_message_bytes  integer)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_save_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION @extschema@._chat_save_messages_at(text, jsonb, text, text[], text, text, timestamptz, text, integer, integer) IS
    'chatstore internal: chat_save_messages run where the thread is (Citus), the session''s values as arguments';

CREATE FUNCTION @extschema@._chat_append_messages_at(
    thread_id       text,
    messages        jsonb,
    user_id         text,
    confined_tenant text,
    tenant          text,
    at              timestamptz,
    time_zone       text,
    max_batch_messages integer,
    max_message_bytes  integer)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_append_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION @extschema@._chat_append_messages_at(text, jsonb, text, text, text, timestamptz, text, integer, integer) IS
    'chatstore internal: chat_append_messages run where the thread is (Citus), the session''s values as arguments';

CREATE FUNCTION @extschema@._chat_add_message_at(
    thread_id       text,
    role            text,
    content         text,
    user_id         text,
    metadata        jsonb,
    message_id      text,
    model           text,
    name            text,
    tool_calls      jsonb,
    tool_call_id    text,
    usage           jsonb,
    token_count     integer,
    parent_id       text,
    created_at      timestamptz,
    confined_tenant text,
    tenant          text,
    at              timestamptz,
    time_zone       text,
    max_batch_messages integer,
    max_message_bytes  integer,
    OUT id  text,
    OUT seq bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'chat_add_message'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION @extschema@._chat_add_message_at(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamptz, text, text, timestamptz, text, integer, integer) IS
    'chatstore internal: chat_add_message run where the thread is (Citus), the session''s values as arguments';

-- The token-budget path of chat_history, in C (see src/history.c).  It also
-- serves every other mode, but chat_history only routes max_tokens to it.
CREATE FUNCTION @extschema@._chat_history_budget(
    thread_id    text,
    max_messages integer,
    before_seq   bigint,
    after_seq    bigint,
    max_tokens   integer)
RETURNS SETOF @extschema@.chat_messages
AS 'MODULE_PATHNAME', 'chat_history'
LANGUAGE C STABLE PARALLEL SAFE ROWS 50
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@._chat_history_budget(text, integer, bigint, bigint, integer) IS
    'chatstore internal: the max_tokens path of chat_history';

-- max_messages, or 22023 when it is negative: chat_history checks it in its
-- LIMIT, which is evaluated once and adds no node to the plan
CREATE FUNCTION @extschema@._chat_history_limit(max_messages integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'chat_history_limit'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_history_limit(integer) IS
    'chatstore internal: checks max_messages for chat_history';

-- chat_history: on one node an SQL function, inlined into the caller's
-- query (a false gate removes a mode's branch from the plan).  Citus cannot
-- plan an inlined function's parameterized statements on distributed
-- tables: on Citus _chat_citus_functions (run by chat_distribute and by
-- every update script) makes it call _chat_history_routed, its PL/pgSQL
-- variant below (a PL/pgSQL call costs about 20 us more: 0.78x for 20 of 50
-- messages on one node).
CREATE FUNCTION @extschema@.chat_history(
    thread_id    text,
    max_messages integer DEFAULT NULL,
    before_seq   bigint  DEFAULT NULL,
    after_seq    bigint  DEFAULT NULL,
    max_tokens   integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE sql STABLE PARALLEL SAFE ROWS 50
BEGIN ATOMIC
    SELECT h.* FROM (
        -- every message in the range
        SELECT m.* FROM @extschema@.chat_messages AS m
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NULL
          AND m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_history.thread_id, 'thread_id')
          AND m.seq OPERATOR(pg_catalog.>) COALESCE(chat_history.after_seq, 0)
          AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
          -- (the active path of a branched thread; written so that the
          -- planner does not take it for a selective condition)
          AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                (SELECT t.active_path FROM @extschema@.chat_threads AS t
                 WHERE t.id OPERATOR(pg_catalog.=) chat_history.thread_id), true)
        UNION ALL
        -- the latest max_messages (the gate stands outside the LIMIT
        -- subquery, so a false gate removes the branch from the plan)
        SELECT l.* FROM (
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_history.thread_id, 'thread_id')
              AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) chat_history.thread_id), true)
            ORDER BY m.seq DESC
            LIMIT @extschema@._chat_history_limit(chat_history.max_messages)) AS l
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NOT NULL
          AND chat_history.after_seq IS NULL
        UNION ALL
        -- forward paging: the first max_messages after after_seq
        SELECT f.* FROM (
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_history.thread_id, 'thread_id')
              AND m.seq OPERATOR(pg_catalog.>) chat_history.after_seq
              AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) chat_history.thread_id), true)
            ORDER BY m.seq
            LIMIT @extschema@._chat_history_limit(chat_history.max_messages)) AS f
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NOT NULL
          AND chat_history.after_seq IS NOT NULL
        UNION ALL
        -- a token budget
        SELECT b.* FROM @extschema@._chat_history_budget(
                @extschema@._chat_required(chat_history.thread_id, 'thread_id'),
                chat_history.max_messages, chat_history.before_seq,
                chat_history.after_seq, chat_history.max_tokens) AS b
        WHERE chat_history.max_tokens IS NOT NULL
    ) AS h
    ORDER BY h.seq;
END;

-- chat_history on Citus (see above): one statement per mode, each the
-- indexed range scan over (thread_id, seq), routed by Citus with the thread
-- id as a value.  Internal; application roles may execute it.
CREATE FUNCTION @extschema@._chat_history_routed(
    thread_id    text,
    max_messages integer DEFAULT NULL,
    before_seq   bigint  DEFAULT NULL,
    after_seq    bigint  DEFAULT NULL,
    max_tokens   integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 50
AS $fn$
DECLARE
    v_thread pg_catalog.text := @extschema@._chat_required(_chat_history_routed.thread_id, 'thread_id');
    v_before pg_catalog.int8 := COALESCE(_chat_history_routed.before_seq, 9223372036854775807);
BEGIN
    -- (operators are schema-qualified and there is no aggregate: the
    -- function runs with the caller's search_path, which a SET clause would
    -- cost every call 5-7 % to change; on Citus too, where the statements
    -- sent to a worker resolve names by the caller's search_path, no name
    -- here can be taken by another schema: 80_search_path under scripts/citus.sh)
    IF _chat_history_routed.max_tokens IS NOT NULL THEN
        -- a token budget (C)
        RETURN QUERY
            SELECT b.* FROM @extschema@._chat_history_budget(v_thread, _chat_history_routed.max_messages,
                                                           _chat_history_routed.before_seq, _chat_history_routed.after_seq,
                                                           _chat_history_routed.max_tokens) AS b;
    ELSIF _chat_history_routed.max_messages IS NULL THEN
        -- every message in the range (of the active path of a branched
        -- thread; written so that the planner does not take it for a
        -- selective condition)
        RETURN QUERY
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) v_thread
              AND m.seq OPERATOR(pg_catalog.>) COALESCE(_chat_history_routed.after_seq, 0)
              AND m.seq OPERATOR(pg_catalog.<) v_before
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread), true)
            ORDER BY m.seq;
    ELSIF _chat_history_routed.after_seq IS NULL THEN
        -- the latest max_messages
        RETURN QUERY
            SELECT l.* FROM (
                SELECT m.* FROM @extschema@.chat_messages AS m
                WHERE m.thread_id OPERATOR(pg_catalog.=) v_thread
                  AND m.seq OPERATOR(pg_catalog.<) v_before
                  AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                        (SELECT t.active_path FROM @extschema@.chat_threads AS t
                         WHERE t.id OPERATOR(pg_catalog.=) v_thread), true)
                ORDER BY m.seq DESC
                LIMIT @extschema@._chat_history_limit(_chat_history_routed.max_messages)) AS l
            ORDER BY l.seq;
    ELSE
        -- forward paging: the first max_messages after after_seq
        RETURN QUERY
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) v_thread
              AND m.seq OPERATOR(pg_catalog.>) _chat_history_routed.after_seq
              AND m.seq OPERATOR(pg_catalog.<) v_before
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread), true)
            ORDER BY m.seq
            LIMIT @extschema@._chat_history_limit(_chat_history_routed.max_messages);
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_history_routed(text, integer, bigint, bigint, integer) IS
    'chatstore internal: chat_history as PL/pgSQL, which chat_history calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_history(text, integer, bigint, bigint, integer) IS
    'messages of a thread''s active path (all of a thread that never branched) in seq order, optionally paged and cut to a token budget';

-- ---------------------------------------------------------------------------
-- threads
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.chat_create_thread(
    id       text  DEFAULT NULL,
    user_id  text  DEFAULT NULL,
    title    text  DEFAULT '',
    metadata jsonb DEFAULT '{}',
    state    jsonb DEFAULT '{}')
RETURNS @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t        @extschema@.chat_threads;
    v_tenant text;
    v_owner  text;
    v_set    text;
    -- (the id as a value: Citus routes a delegated call by it, and in that
    -- call every statement must name the thread by that value)
    v_id     text := COALESCE(chat_create_thread.id, gen_random_uuid()::text);
    v_now    timestamptz := @extschema@._chat_now();
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating,
    -- part 05), with its id made here (Citus routes the call by it)
    IF @extschema@._chat_delegating() THEN
        -- (values: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result @extschema@.chat_threads;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_create_thread_at(v_id, user_id, title, metadata, state, v_ctx);
            RETURN v_result;
        END;
    END IF;
    v_tenant := @extschema@._chat_write_tenant();
    v_owner := @extschema@._chat_user_arg(chat_create_thread.user_id);
    v_set := NULLIF(current_setting('chatstore.tenant', true), '');
    IF id = '' THEN
        RAISE EXCEPTION 'id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(id) > 512 OR octet_length(v_owner) > 512 THEN
        RAISE EXCEPTION '% is too long', CASE WHEN octet_length(id) > 512 THEN 'id' ELSE 'user_id' END
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The limit is 512 bytes.';
    END IF;
    IF jsonb_typeof(metadata) <> 'object' OR jsonb_typeof(state) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object',
                        CASE WHEN jsonb_typeof(metadata) <> 'object' THEN 'metadata' ELSE 'state' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_tenant IS NOT NULL THEN
        IF v_owner IS NOT NULL AND v_owner <> v_tenant THEN
            RAISE EXCEPTION 'user_id "%" is not the current tenant', v_owner
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Tenant isolation is on: threads are owned by the tenant set in chatstore.tenant.';
        END IF;
        v_owner := v_tenant;
    END IF;
    INSERT INTO @extschema@.chat_threads AS c (id, user_id, title, metadata, state, created_at, updated_at)
    VALUES (v_id,
            COALESCE(v_owner, v_set),
            COALESCE(chat_create_thread.title, ''),
            COALESCE(chat_create_thread.metadata, '{}'::jsonb),
            COALESCE(chat_create_thread.state, '{}'::jsonb),
            v_now, v_now)
    RETURNING c.* INTO t;
    -- asked for explicitly: a thread deleted under this id may be made again
    DELETE FROM @extschema@.chat_thread_tombstones AS x WHERE x.id = t.id;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_create_thread(text, text, text, jsonb, jsonb) IS
    'create a thread (a uuid id when none is given; also the id of a deleted thread); an existing id is an error (23505)';

CREATE FUNCTION @extschema@._chat_create_thread_at(id text, user_id text, title text, metadata jsonb, state jsonb, ctx jsonb)
RETURNS @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.chat_threads;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    t := @extschema@.chat_create_thread(id, user_id, title, metadata, state);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_create_thread_at(text, text, text, jsonb, jsonb, jsonb) IS
    'chatstore internal: chat_create_thread run on the worker that holds the thread (Citus), with the calling session''s values';

-- Owners.  A call that names a user reaches only that user's threads; a
-- thread without an owner (user_id NULL) is reached only by calls that name
-- no user (trusted code).  Tenant isolation confines further (part 80).

-- one thread; no row when it does not exist or belongs to another user.
-- An inlined SQL function on one node; on Citus it calls
-- _chat_get_thread_routed (PL/pgSQL: run as the caller with the caller's
-- search_path, every operator and type in it is schema-qualified).
CREATE FUNCTION @extschema@.chat_get_thread(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT t.* FROM @extschema@.chat_threads AS t
    WHERE t.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_thread.thread_id, 'thread_id')
      AND (@extschema@._chat_user_arg(chat_get_thread.user_id) IS NULL
           OR t.user_id OPERATOR(pg_catalog.=) chat_get_thread.user_id);
END;

-- chat_get_thread on Citus: PL/pgSQL, routed by Citus.  Internal;
-- application roles may execute it.
CREATE FUNCTION @extschema@._chat_get_thread_routed(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_thread pg_catalog.text := @extschema@._chat_required(_chat_get_thread_routed.thread_id, 'thread_id');
    v_user   pg_catalog.text := @extschema@._chat_user_arg(_chat_get_thread_routed.user_id);
BEGIN
    IF v_user IS NULL THEN
        RETURN QUERY SELECT t.* FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread;
    ELSE
        RETURN QUERY SELECT t.* FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread
                       AND t.user_id OPERATOR(pg_catalog.=) v_user;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_get_thread_routed(text, text) IS
    'chatstore internal: chat_get_thread as PL/pgSQL, which chat_get_thread calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_get_thread(text, text) IS
    'one thread, or no row when it does not exist or is owned by another user';

-- a user's threads, newest first (updated_at DESC, id DESC).  Keyset paging:
-- pass the last row's updated_at and id as before_updated_at / before_id.
-- Offset paging: page_offset.  user_id NULL lists every user's threads.
-- On one node: an SQL function, inlined into the caller's query (planned
-- with the caller's values: about twice as fast as the PL/pgSQL variant
-- below for a page of 20).  On Citus, whose planner refuses an inlined
-- function's parameterized statement, _chat_citus_functions (run by
-- chat_distribute and by every update script) makes it call that variant.
CREATE FUNCTION @extschema@.chat_list_threads(
    user_id           text        DEFAULT NULL,
    max_threads       integer     DEFAULT 20,
    before_updated_at timestamptz DEFAULT NULL,
    before_id         text        DEFAULT NULL,
    metadata_filter   jsonb       DEFAULT NULL,
    page_offset       integer     DEFAULT 0,
    include_archived  boolean     DEFAULT false)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT t.* FROM @extschema@.chat_threads AS t
    WHERE (@extschema@._chat_user_arg(chat_list_threads.user_id) IS NULL
           OR t.user_id OPERATOR(pg_catalog.=) chat_list_threads.user_id)
      AND (chat_list_threads.before_updated_at IS NULL
           OR (t.updated_at, t.id) OPERATOR(pg_catalog.<)
              (chat_list_threads.before_updated_at,
               COALESCE(chat_list_threads.before_id, '')))
      AND (chat_list_threads.metadata_filter IS NULL
           OR t.metadata OPERATOR(pg_catalog.@>) chat_list_threads.metadata_filter)
      AND (chat_list_threads.include_archived OR NOT t.archived)
    ORDER BY t.updated_at DESC, t.id DESC
    OFFSET GREATEST(COALESCE(chat_list_threads.page_offset, 0), 0)
    LIMIT chat_list_threads.max_threads;
END;

-- chat_list_threads on Citus (see above): one statement per case, routed by
-- Citus with the values of its parameters.  Internal; application roles may
-- execute it (chat_list_threads calls it as the caller).
CREATE FUNCTION @extschema@._chat_list_threads_routed(
    user_id           text        DEFAULT NULL,
    max_threads       integer     DEFAULT 20,
    before_updated_at timestamptz DEFAULT NULL,
    before_id         text        DEFAULT NULL,
    metadata_filter   jsonb       DEFAULT NULL,
    page_offset       integer     DEFAULT 0,
    include_archived  boolean     DEFAULT false)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_user   pg_catalog.text := @extschema@._chat_user_arg(_chat_list_threads_routed.user_id);
    v_offset pg_catalog.int4 := GREATEST(COALESCE(_chat_list_threads_routed.page_offset, 0), 0);
BEGIN
    -- one user's threads (the index on (user_id, updated_at, id)), or
    -- every user's
    IF v_user IS NOT NULL THEN
        RETURN QUERY
            SELECT t.* FROM @extschema@.chat_threads AS t
            WHERE t.user_id OPERATOR(pg_catalog.=) v_user
              AND (_chat_list_threads_routed.before_updated_at IS NULL
                   OR (t.updated_at, t.id) OPERATOR(pg_catalog.<)
                      (_chat_list_threads_routed.before_updated_at,
                       COALESCE(_chat_list_threads_routed.before_id, '')))
              AND (_chat_list_threads_routed.metadata_filter IS NULL
                   OR t.metadata OPERATOR(pg_catalog.@>) _chat_list_threads_routed.metadata_filter)
              AND (_chat_list_threads_routed.include_archived OR NOT t.archived)
            ORDER BY t.updated_at DESC, t.id DESC
            OFFSET v_offset
            LIMIT _chat_list_threads_routed.max_threads;
    ELSE
        RETURN QUERY
            SELECT t.* FROM @extschema@.chat_threads AS t
            WHERE (_chat_list_threads_routed.before_updated_at IS NULL
                   OR (t.updated_at, t.id) OPERATOR(pg_catalog.<)
                      (_chat_list_threads_routed.before_updated_at,
                       COALESCE(_chat_list_threads_routed.before_id, '')))
              AND (_chat_list_threads_routed.metadata_filter IS NULL
                   OR t.metadata OPERATOR(pg_catalog.@>) _chat_list_threads_routed.metadata_filter)
              AND (_chat_list_threads_routed.include_archived OR NOT t.archived)
            ORDER BY t.updated_at DESC, t.id DESC
            OFFSET v_offset
            LIMIT _chat_list_threads_routed.max_threads;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_list_threads_routed(text, integer, timestamptz, text, jsonb, integer, boolean) IS
    'chatstore internal: chat_list_threads as PL/pgSQL, which chat_list_threads calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_list_threads(text, integer, timestamptz, text, jsonb, integer, boolean) IS
    'a user''s threads newest first, with keyset or offset paging and an optional metadata @> filter';

-- title: replaced when given; metadata: merged (||) when given; state:
-- replaced when given.  No row when the thread does not exist or is owned by
-- another user.  A call that changes nothing writes nothing (updated_at is
-- kept) and returns the thread as it is.
CREATE FUNCTION @extschema@.chat_update_thread(
    thread_id text,
    title     text  DEFAULT NULL,
    metadata  jsonb DEFAULT NULL,
    state     jsonb DEFAULT NULL,
    user_id   text  DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_update_thread.user_id);
    v_now    timestamptz := @extschema@._chat_now();
    t        @extschema@.chat_threads;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_update_thread.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
        BEGIN
            RETURN QUERY SELECT * FROM @extschema@._chat_update_thread_at(thread_id, title, metadata, state, user_id, v_ctx);
            RETURN;
        END;
    END IF;
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object'
       OR state IS NOT NULL AND jsonb_typeof(state) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object',
                        CASE WHEN jsonb_typeof(metadata) <> 'object' THEN 'metadata' ELSE 'state' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.* INTO t FROM @extschema@.chat_threads AS c
    WHERE c.id = chat_update_thread.thread_id
      AND (v_user IS NULL OR c.user_id = v_user)
      AND (v_tenant IS NULL OR c.user_id = v_tenant)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF (title IS NOT NULL AND title IS DISTINCT FROM t.title)
       OR (metadata IS NOT NULL AND t.metadata || metadata IS DISTINCT FROM t.metadata)
       OR (state IS NOT NULL AND state IS DISTINCT FROM t.state) THEN
        UPDATE @extschema@.chat_threads AS c
        SET title    = COALESCE(chat_update_thread.title, c.title),
            metadata = c.metadata || COALESCE(chat_update_thread.metadata, '{}'::jsonb),
            state    = COALESCE(chat_update_thread.state, c.state),
            -- (something changes: the trigger, dropped on Citus, would move it)
            updated_at = v_now
        WHERE c.id = chat_update_thread.thread_id
        RETURNING c.* INTO t;
    END IF;
    RETURN NEXT t;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_update_thread(text, text, jsonb, jsonb, text) IS
    'set the title, merge into metadata, replace state (updated_at moves only when something changes); no row when not found or not the owner';

CREATE FUNCTION @extschema@._chat_update_thread_at(thread_id text, title text, metadata jsonb, state jsonb, user_id text, ctx jsonb)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    RETURN QUERY SELECT * FROM @extschema@.chat_update_thread(thread_id, title, metadata, state, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_update_thread_at(text, text, jsonb, jsonb, text, jsonb) IS
    'chatstore internal: chat_update_thread run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE FUNCTION @extschema@.chat_delete_thread(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_delete_thread.user_id);
    v_owner  text;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_thread.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result boolean;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_thread_at(thread_id, user_id, v_ctx);
            RETURN v_result;
        END;
    END IF;
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    DELETE FROM @extschema@.chat_threads AS t
    WHERE t.id = chat_delete_thread.thread_id
      AND (v_user IS NULL OR t.user_id = v_user)
      AND (v_tenant IS NULL OR t.user_id = v_tenant)
    RETURNING t.user_id INTO v_owner;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- its tombstone: the statement trigger writes it on one node, nothing
    -- does on Citus (chat_distribute drops the trigger), so write it here;
    -- the second write of the same row is harmless
    INSERT INTO @extschema@.chat_thread_tombstones AS x (id, user_id, deleted_at)
    VALUES (chat_delete_thread.thread_id, v_owner, @extschema@._chat_now())
    ON CONFLICT ON CONSTRAINT chat_thread_tombstones_pkey
    DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
    RETURN true;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_thread(text, text) IS
    'delete a thread and its messages (a save into it is refused from then on, CS002); false when not found or not the owner';

CREATE FUNCTION @extschema@._chat_delete_thread_at(thread_id text, user_id text, ctx jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r boolean;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_thread(thread_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_thread_at(text, text, jsonb) IS
    'chatstore internal: chat_delete_thread run on the worker that holds the thread (Citus), with the calling session''s values';

-- Every deleted thread leaves a tombstone (its id and owner), whatever
-- deleted it (chat_delete_thread, retention, a DELETE by the owner): a save
-- into it is refused (CS002) until chat_create_thread makes it again.
-- Statement-level, one INSERT per DELETE statement.  Internal.
CREATE FUNCTION @extschema@._chat_thread_tombstone_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO @extschema@.chat_thread_tombstones AS x (id, user_id)
    SELECT o.id, o.user_id FROM deleted_threads AS o
    ON CONFLICT ON CONSTRAINT chat_thread_tombstones_pkey
    DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_thread_tombstone_trigger() IS
    'chatstore internal: records the threads a DELETE removed in chat_thread_tombstones';

CREATE TRIGGER chat_threads_tombstone
    AFTER DELETE ON @extschema@.chat_threads
    REFERENCING OLD TABLE AS deleted_threads
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._chat_thread_tombstone_trigger();

-- fork: copy a thread's messages up to a seq (ids kept, seq renumbered from 1)
-- into a new thread.
CREATE FUNCTION @extschema@.chat_fork_thread(
    thread_id     text,
    new_thread_id text   DEFAULT NULL,
    up_to_seq     bigint DEFAULT NULL,
    user_id       text   DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src      @extschema@.chat_threads;
    newid    text := coalesce(new_thread_id, gen_random_uuid()::text);
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_fork_thread.user_id);
BEGIN
    IF thread_id IS NULL OR thread_id = '' THEN
        RAISE EXCEPTION 'thread_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF new_thread_id = '' THEN
        RAISE EXCEPTION 'new_thread_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a consistent cut: saves into the source wait for us, and we for them
    SELECT * INTO src FROM @extschema@.chat_threads AS t
    WHERE t.id = chat_fork_thread.thread_id FOR SHARE;
    IF NOT FOUND OR (v_tenant IS NOT NULL AND src.user_id IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF v_user IS NOT NULL AND src.user_id IS DISTINCT FROM v_user THEN
        RAISE EXCEPTION 'thread "%" belongs to another user', thread_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    INSERT INTO @extschema@.chat_threads (id, user_id, title, metadata, state)
    VALUES (newid, coalesce(v_user, src.user_id), src.title,
            src.metadata || jsonb_build_object('forked_from', src.id), src.state);
    -- the new id was named explicitly: a thread deleted under it is made again
    DELETE FROM @extschema@.chat_thread_tombstones AS x WHERE x.id = newid;

    INSERT INTO @extschema@.chat_messages
        (thread_id, id, seq, role, content, parts, name, model, tool_calls,
         tool_call_id, metadata, usage, token_count, parent_id, user_id,
         created_at, fingerprint, fingerprint_version, item, status, finish_reason,
         thread_user_id)
    SELECT newid, m.id, row_number() OVER (ORDER BY m.seq), m.role, m.content,
           m.parts, m.name, m.model, m.tool_calls, m.tool_call_id, m.metadata,
           m.usage, m.token_count, m.parent_id, m.user_id, m.created_at,
           m.fingerprint, m.fingerprint_version, m.item, m.status, m.finish_reason,
           coalesce(v_user, src.user_id)
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = chat_fork_thread.thread_id
      AND (up_to_seq IS NULL OR m.seq <= up_to_seq)
      -- a branched thread: its active path only (the copy is one line)
      AND (src.active_path IS NULL OR m.seq <@ src.active_path)
    ORDER BY m.seq;

    UPDATE @extschema@.chat_threads AS t
    SET message_count     = a.n,
        last_seq          = a.n,
        prompt_tokens     = a.p,
        completion_tokens = a.c,
        total_tokens      = a.tot,
        last_message_at   = a.last_at
    FROM (SELECT count(*) AS n,
                 coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
                 coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0) AS c,
                 coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0) AS tot,
                 max(m.created_at) AS last_at
          FROM @extschema@.chat_messages AS m
          WHERE m.thread_id = newid) AS a
    WHERE t.id = newid;
    RETURN newid;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_fork_thread(text, text, bigint, text) IS
    'copy a thread''s messages (its active path) up to a seq into a new thread (ids kept) and return the new id';
