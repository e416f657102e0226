-- chatstore -- part 15: branches (a message tree inside a thread)
--
-- A thread starts as one line: every message's parent is the message before
-- it, chat_threads.active_path is NULL and nothing about the tree is stored
-- (a save appends as it always did).  Editing a message or regenerating a
-- reply adds a sibling under the same parent; the first time that happens
-- the thread's messages get their parent_seq written (the line becomes a
-- tree) and active_path holds the seqs of the active path, from the root to
-- the active leaf.  From then on a save appends to the active leaf (its
-- first message's parent_seq is the leaf), the history and the context
-- follow the active path, and the other branches stay in the log
-- (chat_thread_tree).  Children always have larger seqs than their parent,
-- so a path is increasing in seq and its last seq is the active leaf.

-- The thread a branching call may change: locked, owner and tenant checked;
-- P0002 when it does not exist for the caller.  Internal.
CREATE FUNCTION @extschema@._chat_branch_thread(thread_id text, user_id text)
RETURNS @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(_chat_branch_thread.user_id);
    t        @extschema@.chat_threads;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    SELECT * INTO t FROM @extschema@.chat_threads AS c
    WHERE c.id = _chat_branch_thread.thread_id FOR UPDATE;
    -- another user's or tenant's thread does not exist for this caller
    IF NOT FOUND
       OR (v_user IS NOT NULL AND t.user_id IS DISTINCT FROM v_user)
       OR (v_tenant IS NOT NULL AND t.user_id IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_branch_thread(text, text) IS
    'chatstore internal: lock the thread a branching call changes, after the owner and tenant checks';

-- A message of a locked thread by id: its seq and its parent's seq (in a
-- one-line thread the message before it).  P0002 when it is not there.
CREATE FUNCTION @extschema@._chat_branch_message(t @extschema@.chat_threads, message_id text,
                                                 OUT seq bigint, OUT parent_seq bigint, OUT role text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_required(message_id, 'message_id');
    SELECT m.seq, m.parent_seq, m.role INTO seq, parent_seq, role
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = t.id AND m.id = _chat_branch_message.message_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'message "%" does not exist in thread "%"', message_id, t.id
            USING ERRCODE = 'no_data_found';
    END IF;
    -- in a line: the one before it, a deleted one included (as the line
    -- becomes a tree, _chat_branch_start)
    IF t.active_path IS NULL THEN
        SELECT max(u.seq) INTO parent_seq FROM (
            SELECT m.seq FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = t.id AND m.seq < _chat_branch_message.seq
            UNION ALL
            SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
            WHERE x.thread_id = t.id AND x.seq < _chat_branch_message.seq) AS u;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_branch_message(@extschema@.chat_threads, text) IS
    'chatstore internal: seq, parent seq and role of a message of a locked thread (P0002 when missing)';

-- Make a one-line thread a tree: every message's parent_seq is the seq of
-- the message before it, and the active path is the whole line.  Once per
-- thread, by the first branching call.  Internal.
CREATE FUNCTION @extschema@._chat_branch_start(t @extschema@.chat_threads)
RETURNS pg_catalog.int8multirange
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    path  int8multirange;
    v_now timestamptz := @extschema@._chat_now();   -- (a value: on Citus the UPDATE runs on a worker)
BEGIN
    IF t.active_path IS NOT NULL THEN
        RETURN t.active_path;
    END IF;
    -- the line's order, deleted messages included (their tombstones keep
    -- their place: a path through them still aligns a client that has them)
    WITH line AS (
        SELECT u.seq, lag(u.seq) OVER (ORDER BY u.seq) AS prev
        FROM (SELECT c.seq FROM @extschema@.chat_messages AS c WHERE c.thread_id = t.id
              UNION ALL
              SELECT y.seq FROM @extschema@.chat_message_tombstones AS y WHERE y.thread_id = t.id) AS u),
    stored AS (
        UPDATE @extschema@.chat_messages AS m SET parent_seq = p.prev
        FROM line AS p
        WHERE m.thread_id = t.id AND m.seq = p.seq AND p.prev IS NOT NULL)
    UPDATE @extschema@.chat_message_tombstones AS x SET parent_seq = p.prev
    FROM line AS p
    WHERE x.thread_id = t.id AND x.seq = p.seq AND p.prev IS NOT NULL;
    -- every seq so far (deleted ones included: their tombstones stay on the path)
    path := CASE WHEN t.last_seq > 0 THEN int8multirange(int8range(1, t.last_seq, '[]'))
                 ELSE '{}'::int8multirange END;
    -- (updated_at as the trigger would move it: the trigger is dropped on
    -- Citus, chat_distribute)
    UPDATE @extschema@.chat_threads AS c SET active_path = path, updated_at = v_now WHERE c.id = t.id;
    RETURN path;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_branch_start(@extschema@.chat_threads) IS
    'chatstore internal: write the parent_seq of a one-line thread''s messages and give it an active path';

-- The path from the root to a message of a branched thread (its seqs),
-- through deleted messages (their tombstones keep their parent).  Internal.
CREATE FUNCTION @extschema@._chat_path_to(thread_id text, seq bigint)
RETURNS pg_catalog.int8multirange
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN (
        WITH RECURSIVE up(seq, parent_seq) AS (
            SELECT n.seq, n.parent_seq FROM (
                SELECT m.seq, m.parent_seq FROM @extschema@.chat_messages AS m
                WHERE m.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                  AND m.seq OPERATOR(pg_catalog.=) _chat_path_to.seq
                UNION ALL
                SELECT x.seq, x.parent_seq FROM @extschema@.chat_message_tombstones AS x
                WHERE x.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                  AND x.seq OPERATOR(pg_catalog.=) _chat_path_to.seq) AS n
            UNION ALL
            SELECT p.seq, p.parent_seq FROM up,
            LATERAL (SELECT m.seq, m.parent_seq FROM @extschema@.chat_messages AS m
                     WHERE m.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                       AND m.seq OPERATOR(pg_catalog.=) up.parent_seq
                     UNION ALL
                     SELECT x.seq, x.parent_seq FROM @extschema@.chat_message_tombstones AS x
                     WHERE x.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                       AND x.seq OPERATOR(pg_catalog.=) up.parent_seq) AS p)
        SELECT COALESCE(pg_catalog.range_agg(pg_catalog.int8range(up.seq, up.seq, '[]')),
                        '{}'::pg_catalog.int8multirange)
        FROM up);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_path_to(text, bigint) IS
    'chatstore internal: the seqs of the path from the root to a message of a branched thread';

-- The newest leaf below a message: from it, always to the newest child.
-- Internal.
CREATE FUNCTION @extschema@._chat_newest_leaf(thread_id text, seq bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN (
        WITH RECURSIVE down(seq) AS (
            SELECT _chat_newest_leaf.seq
            UNION ALL
            SELECT (SELECT pg_catalog.max(c.seq) FROM @extschema@.chat_messages AS c
                    WHERE c.thread_id OPERATOR(pg_catalog.=) _chat_newest_leaf.thread_id
                      AND c.parent_seq OPERATOR(pg_catalog.=) down.seq)
            FROM down WHERE down.seq IS NOT NULL)
        SELECT pg_catalog.max(down.seq) FROM down);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_newest_leaf(text, bigint) IS
    'chatstore internal: the leaf reached from a message by always taking the newest child';

-- A new sibling of a message (same parent), saved through chat_save_messages
-- so it gets seq, aggregates and checks like any message; the active path
-- goes through it.  Internal (chat_edit_message, chat_regenerate_message).
CREATE FUNCTION @extschema@._chat_add_sibling(t @extschema@.chat_threads, parent_seq bigint,
                                              message jsonb, user_id text,
                                              OUT id text, OUT seq bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r      @extschema@.chat_save_result;
    v_path int8multirange;
BEGIN
    PERFORM @extschema@._chat_branch_start(t);
    -- the active leaf becomes the parent: the save appends below it (the
    -- path computed first: Citus refuses a function call inside CASE in an
    -- UPDATE of a distributed table)
    v_path := CASE WHEN _chat_add_sibling.parent_seq IS NULL THEN '{}'::int8multirange
                   ELSE @extschema@._chat_path_to(t.id, _chat_add_sibling.parent_seq) END;
    UPDATE @extschema@.chat_threads AS c
    SET active_path = v_path
    WHERE c.id = t.id;
    -- with an id, so that the save never takes it for a re-sent message
    IF message->>'id' IS NULL THEN
        message := message || jsonb_build_object('id', gen_random_uuid()::text);
    END IF;
    SELECT * INTO r FROM @extschema@.chat_save_messages(t.id, jsonb_build_array(message), user_id);
    IF r.saved_count <> 1 THEN
        RAISE EXCEPTION 'message "%" already exists in thread "%"', message->>'id', t.id
            USING ERRCODE = 'unique_violation';
    END IF;
    id := r.saved_ids[1];
    seq := r.first_seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_add_sibling(@extschema@.chat_threads, bigint, jsonb, text) IS
    'chatstore internal: save a message as a new child of parent_seq and make it the active leaf';

-- How far a batch's messages, by fingerprint, follow the message tree from
-- a root (at each step the newest child with that fingerprint): a whole
-- conversation re-sent without ids along an older branch.  Called by the
-- save path of a branched thread when the batch does not continue the
-- active path's tail.  Internal.
CREATE FUNCTION @extschema@._chat_align_tree(thread_id text, fps bigint[],
                                             OUT matched integer, OUT last_seq bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur bigint;
    nxt bigint;
    i   integer;
BEGIN
    matched := 0;
    FOR i IN 1 .. coalesce(array_length(fps, 1), 0) LOOP
        -- the stored messages and the tombstones (a client may hold deleted messages)
        SELECT n.seq INTO nxt FROM (
            SELECT m.seq FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = _chat_align_tree.thread_id
              AND m.parent_seq IS NOT DISTINCT FROM cur
              AND fps[i] = CASE WHEN m.fingerprint_version = 2 THEN m.fingerprint
                                ELSE @extschema@._chat_fingerprint(m.role, m.content, m.parts, m.name,
                                                                   m.tool_call_id, m.tool_calls) END
            UNION ALL
            SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
            WHERE x.thread_id = _chat_align_tree.thread_id
              AND x.parent_seq IS NOT DISTINCT FROM cur AND x.fingerprint = fps[i]) AS n
        ORDER BY n.seq DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        matched := i;
        last_seq := nxt;
        cur := nxt;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_align_tree(text, bigint[]) IS
    'chatstore internal: how many of a batch''s fingerprints follow the message tree from a root, and the seq reached';

-- ---------------------------------------------------------------------------
-- the public functions
-- ---------------------------------------------------------------------------

-- Edit: a new version of a message, as a sibling under the same parent, with
-- the same role and the new content; the active path goes through it (the
-- old version and its replies stay, as another branch).
CREATE FUNCTION @extschema@.chat_edit_message(
    thread_id      text,
    message_id     text,
    content        text,
    user_id        text  DEFAULT NULL,
    metadata       jsonb DEFAULT NULL,
    new_message_id text  DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t   @extschema@.chat_threads;
    old record;
    s   record;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- save's NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_edit_message.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_notifies jsonb;
        BEGIN
            SELECT * INTO id, seq, v_notifies
            FROM @extschema@._chat_edit_message_at(thread_id, message_id, content, user_id, metadata, new_message_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(v_notifies);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    old := @extschema@._chat_branch_message(t, message_id);
    IF content IS NULL THEN
        RAISE EXCEPTION 'content must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    s := @extschema@._chat_add_sibling(t, old.parent_seq,
            jsonb_strip_nulls(jsonb_build_object('id', new_message_id, 'role', old.role,
                                                 'content', content, 'metadata', metadata)),
            user_id);
    id := s.id;
    seq := s.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_edit_message(text, text, text, text, jsonb, text) IS
    'a new version of a message (a sibling with the same role and new content) that becomes the active branch';

CREATE FUNCTION @extschema@._chat_edit_message_at(thread_id text, message_id text, content text, user_id text, metadata jsonb, new_message_id text, ctx jsonb,
                                                  OUT id text, OUT seq bigint, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO id, seq FROM @extschema@.chat_edit_message(thread_id, message_id, content, user_id, metadata, new_message_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_edit_message_at(text, text, text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_edit_message run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

-- Regenerate: another reply, as a sibling of an assistant message.
CREATE FUNCTION @extschema@.chat_regenerate_message(
    thread_id  text,
    message_id text,
    message    jsonb,
    user_id    text DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t   @extschema@.chat_threads;
    old record;
    s   record;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- save's NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_regenerate_message.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_notifies jsonb;
        BEGIN
            SELECT * INTO id, seq, v_notifies
            FROM @extschema@._chat_regenerate_message_at(thread_id, message_id, message, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(v_notifies);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    old := @extschema@._chat_branch_message(t, message_id);
    IF old.role <> 'assistant' THEN
        RAISE EXCEPTION 'message "%" is not an assistant reply (its role is %)', message_id, old.role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To change a message of another role, use chat_edit_message.';
    END IF;
    IF message IS NULL OR jsonb_typeof(message) <> 'object' THEN
        RAISE EXCEPTION 'message must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF message->>'role' IS DISTINCT FROM 'assistant' THEN
        RAISE EXCEPTION 'the new reply must have the role assistant'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s := @extschema@._chat_add_sibling(t, old.parent_seq, message, user_id);
    id := s.id;
    seq := s.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_regenerate_message(text, text, jsonb, text) IS
    'another assistant reply: a sibling of an assistant message that becomes the active branch';

CREATE FUNCTION @extschema@._chat_regenerate_message_at(thread_id text, message_id text, message jsonb, user_id text, ctx jsonb,
                                                        OUT id text, OUT seq bigint, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO id, seq FROM @extschema@.chat_regenerate_message(thread_id, message_id, message, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_regenerate_message_at(text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_regenerate_message run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

-- Switch: make the branch through a message active, down to its newest leaf.
CREATE FUNCTION @extschema@.chat_switch_branch(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL,
    OUT leaf_id  text,
    OUT leaf_seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t      @extschema@.chat_threads;
    msg    record;
    v_path int8multirange;
    v_now  timestamptz := @extschema@._chat_now();
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_switch_branch.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
        BEGIN
            SELECT * INTO leaf_id, leaf_seq FROM @extschema@._chat_switch_branch_at(thread_id, message_id, user_id, v_ctx);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    PERFORM @extschema@._chat_branch_start(t);
    leaf_seq := @extschema@._chat_newest_leaf(t.id, msg.seq);
    v_path := @extschema@._chat_path_to(t.id, leaf_seq);
    -- updated_at moves when the path does (as the trigger, dropped on Citus,
    -- would move it)
    UPDATE @extschema@.chat_threads AS c
    SET active_path = v_path,
        updated_at = CASE WHEN c.active_path IS DISTINCT FROM v_path THEN v_now ELSE c.updated_at END
    WHERE c.id = t.id;
    SELECT m.id INTO leaf_id FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = t.id AND m.seq = leaf_seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_switch_branch(text, text, text) IS
    'make the branch through a message active (down to its newest leaf); returns the new active leaf';

CREATE FUNCTION @extschema@._chat_switch_branch_at(thread_id text, message_id text, user_id text, ctx jsonb, OUT leaf_id text, OUT leaf_seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO leaf_id, leaf_seq FROM @extschema@.chat_switch_branch(thread_id, message_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_switch_branch_at(text, text, text, jsonb) IS
    'chatstore internal: chat_switch_branch run on the worker that holds the thread (Citus), with the calling session''s values';

-- The versions of a message: it and its siblings (same parent), oldest
-- first, with their position ("2 of 3") and which one is on the active path.
CREATE FUNCTION @extschema@.chat_message_siblings(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL)
RETURNS TABLE (id text, seq bigint, role text, content text, "position" integer,
               total integer, active boolean, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT s.id, s.seq, s.role, s.content,
               (pg_catalog.row_number() OVER (ORDER BY s.seq))::integer,
               (pg_catalog.count(*) OVER ())::integer,
               (t.active_path IS NULL OR s.seq OPERATOR(pg_catalog.<@) t.active_path),
               s.created_at
        FROM @extschema@.chat_threads AS t
        JOIN @extschema@.chat_messages AS me
          ON me.thread_id OPERATOR(pg_catalog.=) t.id
         AND me.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_message_siblings.message_id, 'message_id')
        JOIN @extschema@.chat_messages AS s
          ON s.thread_id OPERATOR(pg_catalog.=) t.id
         AND (CASE WHEN t.active_path IS NULL THEN s.seq OPERATOR(pg_catalog.=) me.seq
                   ELSE s.parent_seq IS NOT DISTINCT FROM me.parent_seq END)
        WHERE t.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_message_siblings.thread_id, 'thread_id')
          AND (@extschema@._chat_user_arg(chat_message_siblings.user_id) IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_message_siblings.user_id)
        ORDER BY s.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_message_siblings(text, text, text) IS
    'the versions of a message (it and its siblings) with their position, total and which is active; no row when not found or not the owner';

-- The whole log of a thread as a tree: every message with its parent, its
-- position among its siblings and whether it is on the active path.
CREATE FUNCTION @extschema@.chat_thread_tree(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS TABLE (id text, seq bigint, parent_id text, parent_seq bigint, role text, content text,
               "position" integer, total integer, active boolean, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT n.id, n.seq, p.id, n.parent, n.role, n.content,
               (pg_catalog.row_number() OVER (PARTITION BY n.parent ORDER BY n.seq))::integer,
               (pg_catalog.count(*) OVER (PARTITION BY n.parent))::integer,
               n.active, n.created_at
        FROM (SELECT m.id, m.seq, m.role, m.content, m.created_at,
                     CASE WHEN t.active_path IS NULL
                          THEN pg_catalog.lag(m.seq) OVER (ORDER BY m.seq)
                          ELSE m.parent_seq END AS parent,
                     (t.active_path IS NULL OR m.seq OPERATOR(pg_catalog.<@) t.active_path) AS active,
                     t.id AS tid
              FROM @extschema@.chat_threads AS t
              JOIN @extschema@.chat_messages AS m ON m.thread_id OPERATOR(pg_catalog.=) t.id
              WHERE t.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_thread_tree.thread_id, 'thread_id')
                AND (@extschema@._chat_user_arg(chat_thread_tree.user_id) IS NULL
                     OR t.user_id OPERATOR(pg_catalog.=) chat_thread_tree.user_id)) AS n
        LEFT JOIN @extschema@.chat_messages AS p
          ON p.thread_id OPERATOR(pg_catalog.=) n.tid AND p.seq OPERATOR(pg_catalog.=) n.parent
        ORDER BY n.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_thread_tree(text, text) IS
    'every message of a thread (all branches) with its parent, its position among its siblings and whether it is on the active path';
