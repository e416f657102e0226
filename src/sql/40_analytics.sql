-- chatstore -- part 40: usage analytics
--
-- "User" here is the thread's owner (chat_threads.user_id), the same owner
-- that scopes every other function.  Token figures follow the thread sums'
-- rules (chat_usage_tokens).  Per-day figures read messages, found by time
-- through chat_messages_created_at_brin_idx (part 35) or, for one user,
-- through the user's threads (chat_threads_user_recent_idx) and their
-- messages; totals without a time range and the top threads are answered
-- from the thread aggregates, without reading any message.
--
-- Each function runs one plain statement per case (one user or all; IF in
-- PL/pgSQL, not "arg IS NULL OR ..." in one statement), so that each has a
-- good generic plan; a time range is written as bounds the created_at index
-- can use whether or not since / until are given.  On a distributed
-- database (part 85) these are multi-shard reads: workers group their
-- shards' rows, the coordinator merges; the arguments travel as values.

CREATE TYPE @extschema@.chat_usage_row AS (
    day               date,
    user_id           text,
    model             text,
    messages          bigint,
    prompt_tokens     bigint,
    completion_tokens bigint,
    total_tokens      bigint,
    -- 1.4: feedback on those messages (ratings above and below zero)
    feedback_up       bigint,
    feedback_down     bigint
);

COMMENT ON TYPE @extschema@.chat_usage_row IS
    'chatstore: messages, token sums and feedback counts of one day, user and model (chat_usage_daily)';

-- per day (in time_zone), per thread owner, per model: messages and tokens
-- of the messages created in [since, until)
CREATE FUNCTION @extschema@.chat_usage_daily(
    user_id   text        DEFAULT NULL,
    since     timestamptz DEFAULT NULL,
    until     timestamptz DEFAULT NULL,
    time_zone text        DEFAULT 'UTC')
RETURNS SETOF @extschema@.chat_usage_row
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user  text := @extschema@._chat_user_arg(chat_usage_daily.user_id);
    -- [since, until) as bounds an index can use: lo <= created_at <= hi,
    -- and < until when until is given (hi alone would keep created_at =
    -- until)
    v_lo    timestamptz := coalesce(since, '-infinity');
    v_hi    timestamptz := coalesce(until, 'infinity');
    v_until timestamptz := until;
BEGIN
    IF time_zone IS NULL THEN
        RAISE EXCEPTION 'time_zone must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF since IS NOT NULL AND until IS NOT NULL AND until < since THEN
        RAISE EXCEPTION 'until must not be earlier than since'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- feedback counts under the rated message's day, owner and model
    IF v_user IS NOT NULL THEN
        RETURN QUERY
        WITH u AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) AS messages,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint AS p,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint AS c,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint AS tot
            FROM @extschema@.chat_messages AS m
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE t.user_id = v_user
              AND m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3),
        fb AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) FILTER (WHERE f.rating > 0) AS up,
                   count(*) FILTER (WHERE f.rating < 0) AS down
            FROM @extschema@.chat_feedback AS f
            JOIN @extschema@.chat_messages AS m ON m.thread_id = f.thread_id AND m.id = f.message_id
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE t.user_id = v_user
              AND m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3)
        SELECT u.day, u.user_id, u.model, u.messages, u.p, u.c, u.tot,
               coalesce(fb.up, 0), coalesce(fb.down, 0)
        FROM u
        LEFT JOIN fb ON fb.day = u.day AND fb.user_id IS NOT DISTINCT FROM u.user_id
                    AND fb.model IS NOT DISTINCT FROM u.model
        ORDER BY 1, 2 NULLS FIRST, 3 NULLS FIRST;
    ELSE
        RETURN QUERY
        WITH u AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) AS messages,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint AS p,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint AS c,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint AS tot
            FROM @extschema@.chat_messages AS m
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3),
        fb AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) FILTER (WHERE f.rating > 0) AS up,
                   count(*) FILTER (WHERE f.rating < 0) AS down
            FROM @extschema@.chat_feedback AS f
            JOIN @extschema@.chat_messages AS m ON m.thread_id = f.thread_id AND m.id = f.message_id
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3)
        SELECT u.day, u.user_id, u.model, u.messages, u.p, u.c, u.tot,
               coalesce(fb.up, 0), coalesce(fb.down, 0)
        FROM u
        LEFT JOIN fb ON fb.day = u.day AND fb.user_id IS NOT DISTINCT FROM u.user_id
                    AND fb.model IS NOT DISTINCT FROM u.model
        ORDER BY 1, 2 NULLS FIRST, 3 NULLS FIRST;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_usage_daily(text, timestamptz, timestamptz, text) IS
    'messages, token sums and feedback counts per day, thread owner and model over a time range';

CREATE TYPE @extschema@.chat_usage_total AS (
    user_id           text,
    threads           bigint,
    messages          bigint,
    prompt_tokens     bigint,
    completion_tokens bigint,
    total_tokens      bigint
);

COMMENT ON TYPE @extschema@.chat_usage_total IS
    'chatstore: message and token totals of one thread owner (chat_usage_totals)';

-- per thread owner: threads, messages and tokens.  Without since/until the
-- thread aggregates answer (no message is read); with a range, the
-- messages created in [since, until) are summed.
CREATE FUNCTION @extschema@.chat_usage_totals(
    user_id text        DEFAULT NULL,
    since   timestamptz DEFAULT NULL,
    until   timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.chat_usage_total
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user  text := @extschema@._chat_user_arg(chat_usage_totals.user_id);
    -- [since, until) as index bounds (see chat_usage_daily)
    v_lo    timestamptz := coalesce(since, '-infinity');
    v_hi    timestamptz := coalesce(until, 'infinity');
    v_until timestamptz := until;
BEGIN
    IF since IS NOT NULL AND until IS NOT NULL AND until < since THEN
        RAISE EXCEPTION 'until must not be earlier than since'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF since IS NULL AND until IS NULL THEN
        IF v_user IS NOT NULL THEN
            RETURN QUERY
            SELECT t.user_id, count(*), sum(t.message_count)::bigint,
                   sum(t.prompt_tokens)::bigint, sum(t.completion_tokens)::bigint,
                   sum(t.total_tokens)::bigint
            FROM @extschema@.chat_threads AS t
            WHERE t.user_id = v_user
            GROUP BY t.user_id;
        ELSE
            RETURN QUERY
            SELECT t.user_id, count(*), sum(t.message_count)::bigint,
                   sum(t.prompt_tokens)::bigint, sum(t.completion_tokens)::bigint,
                   sum(t.total_tokens)::bigint
            FROM @extschema@.chat_threads AS t
            GROUP BY t.user_id
            ORDER BY t.user_id NULLS FIRST;
        END IF;
    ELSIF v_user IS NOT NULL THEN
        RETURN QUERY
        SELECT t.user_id, count(DISTINCT t.id), count(*),
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint
        FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
        WHERE t.user_id = v_user
          AND m.created_at >= v_lo AND m.created_at <= v_hi
          AND (v_until IS NULL OR m.created_at < v_until)
        GROUP BY t.user_id;
    ELSE
        RETURN QUERY
        SELECT t.user_id, count(DISTINCT t.id), count(*),
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint
        FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
        WHERE m.created_at >= v_lo AND m.created_at <= v_hi
          AND (v_until IS NULL OR m.created_at < v_until)
        GROUP BY t.user_id
        ORDER BY t.user_id NULLS FIRST;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_usage_totals(text, timestamptz, timestamptz) IS
    'threads, messages and token sums per thread owner, all time (from thread aggregates) or over a time range';

-- the threads that used the most tokens (thread aggregates only), optionally
-- of one user and active (updated_at) since a time.  PL/pgSQL (Citus cannot
-- plan an SQL function's statement on a distributed table); since as a bound
-- (-infinity when not given: updated_at is never null), so that one
-- statement per case serves with or without it.
CREATE FUNCTION @extschema@.chat_top_threads(
    user_id     text        DEFAULT NULL,
    max_threads integer     DEFAULT 10,
    since       timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user  text := @extschema@._chat_user_arg(chat_top_threads.user_id);
    v_since timestamptz := coalesce(chat_top_threads.since, '-infinity');
    v_limit integer := greatest(coalesce(chat_top_threads.max_threads, 10), 0);
BEGIN
    IF v_user IS NOT NULL THEN
        RETURN QUERY
        SELECT t.* FROM @extschema@.chat_threads AS t
        WHERE t.user_id = v_user AND t.updated_at >= v_since
        ORDER BY t.total_tokens DESC, t.id
        LIMIT v_limit;
    ELSE
        RETURN QUERY
        SELECT t.* FROM @extschema@.chat_threads AS t
        WHERE t.updated_at >= v_since
        ORDER BY t.total_tokens DESC, t.id
        LIMIT v_limit;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_top_threads(text, integer, timestamptz) IS
    'threads ordered by total tokens (from the thread aggregates), optionally of one user and active since a time';
