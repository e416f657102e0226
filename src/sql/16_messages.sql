-- chatstore -- part 16: one message at a time (get, update in place, delete,
-- delete everything after a message)
--
-- A deleted message leaves a tombstone (part 00), as a trimmed one does: a
-- client re-sending it does not bring it back.  The thread's aggregates
-- (message_count, token sums) follow every change; last_seq stays (seq is
-- never reused) and so does last_message_at (the newest message ever saved).

-- Delete messages of a locked thread by seq: tombstones, aggregates.
-- Internal (chat_delete_message, chat_delete_messages_after).
CREATE FUNCTION @extschema@._chat_delete_messages(thread_id text, seqs bigint[],
                                                  replies_moved_up boolean DEFAULT false,
                                                  activity boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n   bigint;
    p   bigint;
    c   bigint;
    tot bigint;
    nt  bigint;
    -- (a value, not now() in the statement: Citus refuses a non-immutable
    -- function inside CASE in an UPDATE of a distributed table)
    v_now timestamptz := @extschema@._chat_now();
BEGIN
    WITH d AS (
        DELETE FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = _chat_delete_messages.thread_id AND m.seq = ANY (seqs)
        RETURNING m.seq, m.id, m.usage, m.fingerprint, m.fingerprint_version, m.role, m.content,
                  m.parts, m.name, m.tool_call_id, m.tool_calls, m.parent_seq, m.thread_user_id),
    tomb AS (
        INSERT INTO @extschema@.chat_message_tombstones AS x (thread_id, seq, id, fingerprint, parent_seq,
                                                              replies_moved_up, thread_user_id, deleted_at)
        SELECT _chat_delete_messages.thread_id, d.seq, d.id,
               CASE WHEN d.fingerprint_version = 2 THEN d.fingerprint
                    ELSE @extschema@._chat_fingerprint(d.role, d.content, d.parts, d.name,
                                                       d.tool_call_id, d.tool_calls) END,
               d.parent_seq, _chat_delete_messages.replies_moved_up, d.thread_user_id, v_now
        FROM d
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'prompt')), 0),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'completion')), 0),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'total')), 0),
           (SELECT count(*) FROM tomb)
    INTO n, p, c, tot, nt
    FROM d;
    IF n > 0 THEN
        UPDATE @extschema@.chat_threads AS t
        SET message_count     = t.message_count - n,
            prompt_tokens     = greatest(t.prompt_tokens - p, 0),
            completion_tokens = greatest(t.completion_tokens - c, 0),
            total_tokens      = greatest(t.total_tokens - tot, 0),
            tombstone_count   = t.tombstone_count + nt,
            -- a retention trim is not activity: it keeps updated_at
            updated_at        = CASE WHEN activity THEN v_now ELSE t.updated_at END
        WHERE t.id = _chat_delete_messages.thread_id;
    END IF;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_messages(text, bigint[], boolean, boolean) IS
    'chatstore internal: delete messages of a locked thread by seq, leaving tombstones, and correct its aggregates (the delete of a user, or with activity false a retention trim)';

-- The seqs of a message and everything below it (in a one-line thread:
-- everything after it).  Internal.
CREATE FUNCTION @extschema@._chat_subtree(t @extschema@.chat_threads, seq bigint)
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    -- no thread: no messages (and no query: on Citus one without a thread id
    -- would have to run the recursive query over every shard, which it refuses)
    IF t.id IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (
        -- (through deleted messages: their tombstones keep their parent)
        WITH RECURSIVE down(seq) AS (
            SELECT _chat_subtree.seq
            UNION ALL
            SELECT c.seq FROM down,
            LATERAL (SELECT m.seq FROM @extschema@.chat_messages AS m
                     WHERE m.thread_id OPERATOR(pg_catalog.=) t.id AND m.parent_seq OPERATOR(pg_catalog.=) down.seq
                     UNION ALL
                     SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
                     WHERE x.thread_id OPERATOR(pg_catalog.=) t.id AND x.parent_seq OPERATOR(pg_catalog.=) down.seq) AS c
            WHERE t.active_path IS NOT NULL)
        SELECT CASE WHEN t.active_path IS NULL
                    THEN (SELECT pg_catalog.array_agg(m.seq) FROM @extschema@.chat_messages AS m
                          WHERE m.thread_id OPERATOR(pg_catalog.=) t.id
                            AND m.seq OPERATOR(pg_catalog.>=) _chat_subtree.seq)
                    ELSE (SELECT pg_catalog.array_agg(down.seq) FROM down) END);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_subtree(@extschema@.chat_threads, bigint) IS
    'chatstore internal: the seqs of a message and of every message below it';

-- one message; no row when it does not exist or the thread is another user's
CREATE FUNCTION @extschema@.chat_get_message(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT m.* FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS t ON t.id OPERATOR(pg_catalog.=) m.thread_id
        WHERE m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_message.thread_id, 'thread_id')
          AND m.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_message.message_id, 'message_id')
          AND (@extschema@._chat_user_arg(chat_get_message.user_id) IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_get_message.user_id);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_get_message(text, text, text) IS
    'one message of a thread; no row when not found or not the owner';

-- Update a message in place: new content and/or metadata merged in;
-- edited_at records when.  (To keep the old version, use chat_edit_message:
-- a branch.)
CREATE FUNCTION @extschema@.chat_update_message(
    thread_id  text,
    message_id text,
    content    text  DEFAULT NULL,
    metadata   jsonb DEFAULT NULL,
    user_id    text  DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_now timestamptz := @extschema@._chat_now();   -- (a value: see _chat_delete_messages)
    t   @extschema@.chat_threads;
    msg record;
    r   @extschema@.chat_messages;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_update_message.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
        BEGIN
            RETURN QUERY SELECT * FROM @extschema@._chat_update_message_at(thread_id, message_id, content, metadata, user_id, v_ctx);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(content) > pg_size_bytes(current_setting('chatstore.max_message_bytes')) THEN
        RAISE EXCEPTION 'content is too long'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('It has %s bytes; chatstore.max_message_bytes is %s.',
                                  octet_length(content), current_setting('chatstore.max_message_bytes'));
    END IF;
    IF content IS NOT NULL AND EXISTS (
            SELECT FROM @extschema@.chat_messages AS x
            WHERE x.thread_id = t.id AND x.seq = msg.seq AND x.status = 'in_progress') THEN
        RAISE EXCEPTION 'message "%" is being streamed', message_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Append with chat_stream_append, or finish it with chat_stream_finish first.';
    END IF;
    UPDATE @extschema@.chat_messages AS m
    SET content    = COALESCE(chat_update_message.content, m.content),
        parts      = CASE WHEN chat_update_message.content IS NULL THEN m.parts END,
        metadata   = m.metadata || COALESCE(chat_update_message.metadata, '{}'::jsonb),
        edited_at  = v_now
    WHERE m.thread_id = t.id AND m.seq = msg.seq
    RETURNING m.* INTO r;
    -- the fingerprint follows the content (an id-less re-send of the edited
    -- conversation aligns against it)
    UPDATE @extschema@.chat_messages AS m
    SET fingerprint = @extschema@._chat_fingerprint(m.role, m.content, m.parts, m.name,
                                                    m.tool_call_id, m.tool_calls, m.item),
        fingerprint_version = 2
    WHERE m.thread_id = t.id AND m.seq = msg.seq
    RETURNING m.* INTO r;
    -- an edit is activity
    UPDATE @extschema@.chat_threads AS c SET updated_at = v_now WHERE c.id = t.id;
    RETURN NEXT r;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_update_message(text, text, text, jsonb, text) IS
    'change a message in place (content, metadata merged in) and set its edited_at; P0002 when not found';

CREATE FUNCTION @extschema@._chat_update_message_at(thread_id text, message_id text, content text, metadata jsonb, user_id text, ctx jsonb)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    RETURN QUERY SELECT * FROM @extschema@.chat_update_message(thread_id, message_id, content, metadata, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_update_message_at(text, text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_update_message run on the worker that holds the thread (Citus), with the calling session''s values';

-- Delete one message.  Its replies move up to its parent (the conversation
-- reads on without it), or with with_replies they are deleted with it (in a
-- one-line thread: everything after it).  Returns how many were deleted.
CREATE FUNCTION @extschema@.chat_delete_message(
    thread_id    text,
    message_id   text,
    user_id      text    DEFAULT NULL,
    with_replies boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t    @extschema@.chat_threads;
    msg  record;
    seqs bigint[];
    n    bigint;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_message.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_message_at(thread_id, message_id, user_id, with_replies, v_ctx);
            RETURN v_result;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    IF with_replies IS NULL THEN
        RAISE EXCEPTION 'with_replies must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- a line is made a tree first: the tree then says who the replies' and
    -- the next message's parent is (not the deleted message)
    IF t.active_path IS NULL THEN
        t.active_path := @extschema@._chat_branch_start(t);
        SELECT * INTO msg FROM @extschema@._chat_branch_message(t, message_id);
    END IF;
    IF with_replies THEN
        seqs := @extschema@._chat_subtree(t, msg.seq);
        n := @extschema@._chat_delete_messages(t.id, seqs);
    ELSE
        -- the replies move up to the parent
        UPDATE @extschema@.chat_messages AS m SET parent_seq = msg.parent_seq
        WHERE m.thread_id = t.id AND m.parent_seq = msg.seq;
        UPDATE @extschema@.chat_message_tombstones AS x SET parent_seq = msg.parent_seq
        WHERE x.thread_id = t.id AND x.parent_seq = msg.seq;
        n := @extschema@._chat_delete_messages(t.id, ARRAY[msg.seq], true);
    END IF;
    -- The active path keeps the seqs of deleted messages that were on it
    -- (their tombstones align an id-less re-send), but it always ends at a
    -- stored message, the active leaf: when the leaf went (or, with
    -- with_replies, the part of the path below the message), the path ends
    -- at the message's parent.
    IF t.active_path IS NOT NULL AND msg.seq <@ t.active_path
       AND (with_replies OR msg.seq = upper(t.active_path) - 1) THEN
        UPDATE @extschema@.chat_threads AS c
        SET active_path = CASE WHEN msg.parent_seq IS NULL THEN '{}'::int8multirange
                               ELSE c.active_path * int8multirange(int8range(NULL, msg.parent_seq, '[]')) END
        WHERE c.id = t.id;
    END IF;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_message(text, text, text, boolean) IS
    'delete one message (its replies move up to its parent, or go with it with with_replies); returns how many were deleted';

CREATE FUNCTION @extschema@._chat_delete_message_at(thread_id text, message_id text, user_id text, with_replies boolean, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_message(thread_id, message_id, user_id, with_replies);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_message_at(text, text, text, boolean, jsonb) IS
    'chatstore internal: chat_delete_message run on the worker that holds the thread (Citus), with the calling session''s values';

-- Delete everything after a message on the active path (regenerating
-- without keeping a branch): the rest of the path below it, with whatever
-- branches from there.  Other branches of the message itself stay.
CREATE FUNCTION @extschema@.chat_delete_messages_after(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t     @extschema@.chat_threads;
    msg   record;
    child bigint;
    n     bigint := 0;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_messages_after.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_messages_after_at(thread_id, message_id, user_id, v_ctx);
            RETURN v_result;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    -- a line is made a tree first (as for chat_delete_message)
    IF t.active_path IS NULL THEN
        t.active_path := @extschema@._chat_branch_start(t);
        SELECT * INTO msg FROM @extschema@._chat_branch_message(t, message_id);
    END IF;
    IF NOT msg.seq <@ t.active_path THEN
        RAISE EXCEPTION 'message "%" is not on the active path of thread "%"', message_id, t.id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Switch to its branch first (chat_switch_branch).';
    END IF;
    -- its child on the path (a trimmed one included; not one whose replies
    -- chat_delete_message moved up to it: it has none)
    SELECT min(c.seq) INTO child FROM (
        SELECT m.seq FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = t.id AND m.parent_seq = msg.seq AND m.seq <@ t.active_path
        UNION ALL
        SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
        WHERE x.thread_id = t.id AND x.parent_seq = msg.seq AND x.seq <@ t.active_path
          AND NOT x.replies_moved_up) AS c;
    IF child IS NOT NULL THEN
        n := @extschema@._chat_delete_messages(t.id, @extschema@._chat_subtree(t, child));
    END IF;
    UPDATE @extschema@.chat_threads AS c
    SET active_path = c.active_path * int8multirange(int8range(NULL, msg.seq, '[]'))
    WHERE c.id = t.id;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_messages_after(text, text, text) IS
    'delete the messages after one on the active path (with what branches below them); returns how many were deleted';

CREATE FUNCTION @extschema@._chat_delete_messages_after_at(thread_id text, message_id text, user_id text, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_messages_after(thread_id, message_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_messages_after_at(text, text, text, jsonb) IS
    'chatstore internal: chat_delete_messages_after run on the worker that holds the thread (Citus), with the calling session''s values';
