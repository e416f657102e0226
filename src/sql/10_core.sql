-- chatstore -- part 10: the write path, history and thread functions
--
-- C functions run with search_path = pg_catalog, pg_temp (SET clause) and
-- schema-qualify every name in the SQL they build, so nothing on a caller's
-- search_path is ever called.  SQL functions use standard (BEGIN ATOMIC)
-- bodies: their names are resolved once, when the extension is created.

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
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_save_messages(text, jsonb, text, text[]) IS
    'save a batch of messages into a thread (created when missing), skipping ones already stored';

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
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_add_message(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamptz) IS
    'append one message to a thread and return its id and seq';

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

-- chat_history is a single SQL statement so that the planner inlines it into
-- the calling query: without a token budget it is exactly the indexed range
-- scan over (thread_id, seq) a hand-written SELECT would be.  Each branch is
-- gated by conditions on the arguments alone, so only one of them runs.
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
          AND m.thread_id OPERATOR(pg_catalog.=) chat_history.thread_id
          AND m.seq OPERATOR(pg_catalog.>) COALESCE(chat_history.after_seq, 0)
          AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
        UNION ALL
        -- the latest max_messages (the gate stands outside the LIMIT
        -- subquery, so a false gate removes the branch from the plan)
        SELECT l.* FROM (
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) chat_history.thread_id
              AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
            ORDER BY m.seq DESC
            LIMIT @extschema@._chat_history_limit(chat_history.max_messages)) AS l
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NOT NULL
          AND chat_history.after_seq IS NULL
        UNION ALL
        -- forward paging: the first max_messages after after_seq
        SELECT f.* FROM (
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) chat_history.thread_id
              AND m.seq OPERATOR(pg_catalog.>) chat_history.after_seq
              AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
            ORDER BY m.seq
            LIMIT @extschema@._chat_history_limit(chat_history.max_messages)) AS f
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NOT NULL
          AND chat_history.after_seq IS NOT NULL
        UNION ALL
        -- a token budget
        SELECT b.* FROM @extschema@._chat_history_budget(chat_history.thread_id,
                chat_history.max_messages, chat_history.before_seq,
                chat_history.after_seq, chat_history.max_tokens) AS b
        WHERE chat_history.max_tokens IS NOT NULL
    ) AS h
    ORDER BY h.seq;
END;

COMMENT ON FUNCTION @extschema@.chat_history(text, integer, bigint, bigint, integer) IS
    'messages of a thread in seq order, optionally paged and cut to a token budget';

-- the history as one JSON array in the OpenAI chat-completions message shape.
-- A model API rejects a tool answer without the assistant call before it, and
-- an assistant call without answers, so a window that cuts such a pair is
-- trimmed: each run of tool messages must follow an assistant message with
-- tool_calls, and that assistant message must be followed by its answers.
CREATE FUNCTION @extschema@.chat_context(
    thread_id    text,
    max_messages integer DEFAULT NULL,
    before_seq   bigint  DEFAULT NULL,
    after_seq    bigint  DEFAULT NULL,
    max_tokens   integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    WITH h AS (
        SELECT x.*,
               -- group: a non-tool message and the tool messages after it
               pg_catalog.count(*) FILTER (WHERE x.role OPERATOR(pg_catalog.<>) 'tool')
                   OVER (ORDER BY x.seq) AS grp
        FROM @extschema@.chat_history(chat_context.thread_id, chat_context.max_messages,
                                      chat_context.before_seq, chat_context.after_seq,
                                      chat_context.max_tokens) AS x),
    g AS (
        SELECT h.*,
               pg_catalog.first_value(h.role OPERATOR(pg_catalog.=) 'assistant' AND h.tool_calls IS NOT NULL)
                   OVER (PARTITION BY h.grp ORDER BY h.seq) AS after_call,
               pg_catalog.count(*) OVER (PARTITION BY h.grp) AS group_size
        FROM h)
    SELECT COALESCE(
        pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object(
                'role', g.role,
                'content', CASE WHEN g.parts IS NOT NULL THEN g.parts
                                ELSE pg_catalog.to_jsonb(g.content) END)
            OPERATOR(pg_catalog.||) CASE WHEN g.name IS NULL THEN '{}'::pg_catalog.jsonb
                ELSE pg_catalog.jsonb_build_object('name', g.name) END
            OPERATOR(pg_catalog.||) CASE WHEN g.tool_calls IS NULL THEN '{}'::pg_catalog.jsonb
                ELSE pg_catalog.jsonb_build_object('tool_calls', g.tool_calls) END
            OPERATOR(pg_catalog.||) CASE WHEN g.tool_call_id IS NULL THEN '{}'::pg_catalog.jsonb
                ELSE pg_catalog.jsonb_build_object('tool_call_id', g.tool_call_id) END
            ORDER BY g.seq),
        '[]'::pg_catalog.jsonb)
    FROM g
    WHERE CASE
            -- a tool answer: only right after its assistant call (or other answers)
            WHEN g.role OPERATOR(pg_catalog.=) 'tool' THEN g.after_call
            -- an assistant call: only when its answers follow
            WHEN g.role OPERATOR(pg_catalog.=) 'assistant' AND g.tool_calls IS NOT NULL
                THEN g.group_size OPERATOR(pg_catalog.>) 1
            ELSE true
          END;
END;

COMMENT ON FUNCTION @extschema@.chat_context(text, integer, bigint, bigint, integer) IS
    'chat_history as a JSON array of OpenAI chat-completions messages, ready to send to a model';

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
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.chat_threads;
BEGIN
    IF id = '' THEN
        RAISE EXCEPTION 'id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(id) > 512 OR octet_length(user_id) > 512 THEN
        RAISE EXCEPTION '% is too long', CASE WHEN octet_length(id) > 512 THEN 'id' ELSE 'user_id' END
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The limit is 512 bytes.';
    END IF;
    IF jsonb_typeof(metadata) <> 'object' OR jsonb_typeof(state) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object',
                        CASE WHEN jsonb_typeof(metadata) <> 'object' THEN 'metadata' ELSE 'state' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.chat_threads AS c (id, user_id, title, metadata, state)
    VALUES (COALESCE(chat_create_thread.id, gen_random_uuid()::text),
            chat_create_thread.user_id,
            COALESCE(chat_create_thread.title, ''),
            COALESCE(chat_create_thread.metadata, '{}'::jsonb),
            COALESCE(chat_create_thread.state, '{}'::jsonb))
    RETURNING c.* INTO t;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_create_thread(text, text, text, jsonb, jsonb) IS
    'create a thread (a uuid id when none is given); an existing id is an error (23505)';

-- one thread; no row when it does not exist or belongs to another user
CREATE FUNCTION @extschema@.chat_get_thread(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT t.* FROM @extschema@.chat_threads AS t
    WHERE t.id OPERATOR(pg_catalog.=) chat_get_thread.thread_id
      AND (chat_get_thread.user_id IS NULL OR t.user_id IS NULL
           OR t.user_id OPERATOR(pg_catalog.=) chat_get_thread.user_id);
END;

COMMENT ON FUNCTION @extschema@.chat_get_thread(text, text) IS
    'one thread, or no row when it does not exist or is owned by another user';

-- a user's threads, newest first (updated_at DESC, id DESC).  Keyset paging:
-- pass the last row's updated_at and id as before_updated_at / before_id.
-- Offset paging: page_offset.  user_id NULL lists every user's threads.
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
    WHERE (chat_list_threads.user_id IS NULL
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

COMMENT ON FUNCTION @extschema@.chat_list_threads(text, integer, timestamptz, text, jsonb, integer, boolean) IS
    'a user''s threads newest first, with keyset or offset paging and an optional metadata @> filter';

-- title: replaced when given; metadata: merged (||) when given; state:
-- replaced when given.  No row when the thread does not exist or is owned by
-- another user.
CREATE FUNCTION @extschema@.chat_update_thread(
    thread_id text,
    title     text  DEFAULT NULL,
    metadata  jsonb DEFAULT NULL,
    state     jsonb DEFAULT NULL,
    user_id   text  DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    UPDATE @extschema@.chat_threads AS t
    SET title    = COALESCE(chat_update_thread.title, t.title),
        metadata = t.metadata OPERATOR(pg_catalog.||)
                   COALESCE(chat_update_thread.metadata, '{}'::pg_catalog.jsonb),
        state    = COALESCE(chat_update_thread.state, t.state)
    WHERE t.id OPERATOR(pg_catalog.=) chat_update_thread.thread_id
      AND (chat_update_thread.user_id IS NULL OR t.user_id IS NULL
           OR t.user_id OPERATOR(pg_catalog.=) chat_update_thread.user_id)
    RETURNING t.*;
END;

COMMENT ON FUNCTION @extschema@.chat_update_thread(text, text, jsonb, jsonb, text) IS
    'set the title, merge into metadata, replace state; no row when not found or not the owner';

CREATE FUNCTION @extschema@.chat_delete_thread(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS boolean
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    WITH d AS (
        DELETE FROM @extschema@.chat_threads AS t
        WHERE t.id OPERATOR(pg_catalog.=) chat_delete_thread.thread_id
          AND (chat_delete_thread.user_id IS NULL OR t.user_id IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_delete_thread.user_id)
        RETURNING 1)
    SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 FROM d;
END;

COMMENT ON FUNCTION @extschema@.chat_delete_thread(text, text) IS
    'delete a thread and its messages; false when not found or not the owner';

-- fork: copy a thread's messages up to a seq (ids kept, seq renumbered from 1)
-- into a new thread.
CREATE FUNCTION @extschema@.chat_fork_thread(
    thread_id     text,
    new_thread_id text   DEFAULT NULL,
    up_to_seq     bigint DEFAULT NULL,
    user_id       text   DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src   @extschema@.chat_threads;
    newid text := coalesce(new_thread_id, gen_random_uuid()::text);
BEGIN
    IF thread_id IS NULL OR thread_id = '' THEN
        RAISE EXCEPTION 'thread_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a consistent cut: saves into the source wait for us, and we for them
    SELECT * INTO src FROM @extschema@.chat_threads AS t
    WHERE t.id = chat_fork_thread.thread_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF user_id IS NOT NULL AND src.user_id IS NOT NULL AND src.user_id <> user_id THEN
        RAISE EXCEPTION 'thread "%" belongs to another user', thread_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    INSERT INTO @extschema@.chat_threads (id, user_id, title, metadata, state)
    VALUES (newid, coalesce(chat_fork_thread.user_id, src.user_id), src.title,
            src.metadata || jsonb_build_object('forked_from', src.id), src.state);

    INSERT INTO @extschema@.chat_messages
        (thread_id, id, seq, role, content, parts, name, model, tool_calls,
         tool_call_id, metadata, usage, token_count, parent_id, user_id,
         created_at, fingerprint)
    SELECT newid, m.id, row_number() OVER (ORDER BY m.seq), m.role, m.content,
           m.parts, m.name, m.model, m.tool_calls, m.tool_call_id, m.metadata,
           m.usage, m.token_count, m.parent_id, m.user_id, m.created_at,
           m.fingerprint
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = chat_fork_thread.thread_id
      AND (up_to_seq IS NULL OR m.seq <= up_to_seq)
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
    'copy a thread''s messages up to a seq into a new thread (ids kept) and return the new id';
