-- chatstore -- part 35: retention and archiving
--
-- Every function here is safe to run while applications save: a thread is
-- locked (FOR UPDATE, the lock the save path takes) before its messages are
-- deleted and its aggregates corrected, so a concurrent save either waits
-- for the trim or is waited for.  Threads are locked in id order, so two
-- retention runs never deadlock with each other.  seq is never reused: a
-- thread's last_seq stays, so the next message continues after it.
--
-- Trimming a thread does not make it "recently active": its updated_at is
-- kept (_chat_retention_delete_range assigns it its own value, which the
-- updated_at trigger respects), so list order and idle retention are not
-- disturbed by a retention run.

-- what a trim removed from one thread
CREATE TYPE @extschema@.chat_trim_result AS (
    thread_id      text,
    deleted_count  bigint,
    kept_count     bigint,
    first_kept_seq bigint
);

COMMENT ON TYPE @extschema@.chat_trim_result IS
    'chatstore: what chat_retention_keep_last / chat_retention_delete_old_messages removed from one thread';

-- Delete one thread's messages with from_seq <= seq < to_seq and correct
-- the thread's count and token sums, under the thread row lock (the callers
-- hold it already; taking it again costs nothing).  Internal.
CREATE FUNCTION @extschema@._chat_retention_delete_range(
    thread_id text,
    from_seq  bigint,
    to_seq    bigint)
RETURNS @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n   bigint;
    res @extschema@.chat_trim_result;
BEGIN
    PERFORM 1 FROM @extschema@.chat_threads AS t
    WHERE t.id = _chat_retention_delete_range.thread_id FOR UPDATE;
    -- the deleted messages become tombstones and the aggregates follow (as
    -- for any delete); a trim is not activity: updated_at stays
    n := @extschema@._chat_delete_messages(
            _chat_retention_delete_range.thread_id,
            ARRAY(SELECT m.seq FROM @extschema@.chat_messages AS m
                  WHERE m.thread_id = _chat_retention_delete_range.thread_id
                    AND m.seq >= from_seq AND m.seq < to_seq),
            replies_moved_up => false, activity => false);
    res.thread_id := _chat_retention_delete_range.thread_id;
    res.deleted_count := n;
    SELECT t.message_count INTO res.kept_count
    FROM @extschema@.chat_threads AS t
    WHERE t.id = _chat_retention_delete_range.thread_id;
    -- a branched thread's active path goes on through the tombstones, to
    -- its newest stored message (or, when all of it went, stays as it was)
    IF n > 0 THEN
        UPDATE @extschema@.chat_threads AS t
        SET active_path = @extschema@._chat_path_to(t.id, l.leaf),
            updated_at  = t.updated_at
        FROM (SELECT max(m.seq) AS leaf FROM @extschema@.chat_messages AS m, @extschema@.chat_threads AS c
              WHERE c.id = _chat_retention_delete_range.thread_id AND m.thread_id = c.id
                AND m.seq <@ c.active_path) AS l
        WHERE t.id = _chat_retention_delete_range.thread_id AND t.active_path IS NOT NULL
          AND l.leaf IS NOT NULL;
    END IF;
    SELECT min(m.seq) INTO res.first_kept_seq
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = _chat_retention_delete_range.thread_id;
    RETURN res;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_delete_range(text, bigint, bigint) IS
    'chatstore internal: delete a seq range of a locked thread (leaving tombstones) and correct its aggregates';

-- first seq after the thread's leading system/developer messages (1 when
-- the thread does not start with one)
CREATE FUNCTION @extschema@._chat_retention_first_non_system(thread_id text)
RETURNS bigint
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT COALESCE(
        (SELECT m.seq FROM @extschema@.chat_messages AS m
         WHERE m.thread_id OPERATOR(pg_catalog.=) _chat_retention_first_non_system.thread_id
           AND m.role OPERATOR(pg_catalog.<>) ALL (ARRAY['system', 'developer']::pg_catalog.text[])
         ORDER BY m.seq LIMIT 1),
        (SELECT t.last_seq OPERATOR(pg_catalog.+) 1 FROM @extschema@.chat_threads AS t
         WHERE t.id OPERATOR(pg_catalog.=) _chat_retention_first_non_system.thread_id));
END;

COMMENT ON FUNCTION @extschema@._chat_retention_first_non_system(text) IS
    'chatstore internal: seq of the first message that is not part of the thread''s leading system messages';

-- messages by creation time: daily usage analytics (part 40) and
-- chat_retention_delete_old_messages.  BRIN, because messages arrive in
-- time order: it costs a save next to nothing (a btree would add an index
-- insert to every message) and stays correct, only less selective, when
-- clients import old messages with their original times.
CREATE INDEX chat_messages_created_at_brin_idx
    ON @extschema@.chat_messages USING brin (created_at) WITH (pages_per_range = 16);

-- ---------------------------------------------------------------------------
-- delete idle threads
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.chat_retention_delete_idle_threads(
    older_than  interval,
    user_id     text    DEFAULT NULL,
    archived    boolean DEFAULT NULL,
    max_threads integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cutoff timestamptz;
BEGIN
    PERFORM @extschema@._chat_user_arg(chat_retention_delete_idle_threads.user_id);
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', older_than);
    END IF;
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := now() - older_than;

    -- the oldest idle threads first; a thread being saved to right now is
    -- skipped (it is not idle), and the delete checks idleness again on the
    -- row it locked
    RETURN QUERY
    DELETE FROM @extschema@.chat_threads AS t
    WHERE t.id IN (
            SELECT c.id FROM @extschema@.chat_threads AS c
            WHERE c.updated_at < cutoff
              AND (chat_retention_delete_idle_threads.user_id IS NULL
                   OR c.user_id = chat_retention_delete_idle_threads.user_id)
              AND (chat_retention_delete_idle_threads.archived IS NULL
                   OR c.archived = chat_retention_delete_idle_threads.archived)
            ORDER BY c.updated_at, c.id
            LIMIT max_threads
            FOR UPDATE SKIP LOCKED)
      AND t.updated_at < cutoff
    RETURNING t.*;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_delete_idle_threads(interval, text, boolean, integer) IS
    'delete threads (with their messages) not updated for longer than an interval; returns the deleted threads';

-- ---------------------------------------------------------------------------
-- trim one thread
-- ---------------------------------------------------------------------------
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
CREATE FUNCTION @extschema@._chat_retention_trim_thread(
    thread_id    text,
    max_messages integer,
    cutoff       timestamptz,
    keep_system  boolean)
RETURNS @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid     text := _chat_retention_trim_thread.thread_id;
    sys_end bigint;     -- first seq after the leading system messages
    cut     bigint;     -- first seq kept after them; NULL: nothing to delete
    locked  boolean := false;
BEGIN
    LOOP
        sys_end := CASE WHEN keep_system
                        THEN @extschema@._chat_retention_first_non_system(tid)
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
    RETURN @extschema@._chat_retention_delete_range(tid, sys_end, cut);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_trim_thread(text, integer, timestamptz, boolean) IS
    'chatstore internal: find, under the thread lock, the run of messages a retention trim deletes from one thread and delete it';

-- Trim the candidate threads of one call, in thread id order, at most
-- max_threads of them (threads with nothing to delete are passed over and do
-- not count).  max_messages given: the threads holding more messages than
-- that, from the thread aggregates (no message scan); otherwise the threads
-- holding a message created before cutoff, through the created_at index.
-- Internal: the body of chat_retention_keep_last and
-- chat_retention_delete_old_messages.
CREATE FUNCTION @extschema@._chat_retention_trim_threads(
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
    PERFORM @extschema@._chat_user_arg(_chat_retention_trim_threads.user_id);
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR tid IN
        SELECT c.id FROM @extschema@.chat_threads AS c
        WHERE max_messages IS NOT NULL
          AND c.message_count > max_messages
          AND (_chat_retention_trim_threads.thread_id IS NULL
               OR c.id = _chat_retention_trim_threads.thread_id)
          AND (_chat_retention_trim_threads.user_id IS NULL
               OR c.user_id = _chat_retention_trim_threads.user_id)
        UNION ALL
        SELECT DISTINCT m.thread_id FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS c ON c.id = m.thread_id
        WHERE max_messages IS NULL
          AND m.created_at < cutoff
          AND (_chat_retention_trim_threads.thread_id IS NULL
               OR m.thread_id = _chat_retention_trim_threads.thread_id)
          AND (_chat_retention_trim_threads.user_id IS NULL
               OR c.user_id = _chat_retention_trim_threads.user_id)
        ORDER BY 1
    LOOP
        EXIT WHEN done >= max_threads;
        r := @extschema@._chat_retention_trim_thread(tid, max_messages, cutoff, keep_system);
        IF r.deleted_count > 0 THEN
            done := done + 1;
            RETURN NEXT r;
        END IF;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_trim_threads(integer, timestamptz, text, text, boolean, integer) IS
    'chatstore internal: trim the candidate threads of chat_retention_keep_last or chat_retention_delete_old_messages';

-- ---------------------------------------------------------------------------
-- keep the last N messages of each thread
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.chat_retention_keep_last(
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
    RETURN QUERY SELECT * FROM @extschema@._chat_retention_trim_threads(
        max_messages, NULL, thread_id, user_id, keep_system, max_threads);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_keep_last(integer, text, text, boolean, integer) IS
    'keep only the newest N messages of each thread (after its leading system messages); returns what was removed per thread';

-- ---------------------------------------------------------------------------
-- delete messages older than an interval
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.chat_retention_delete_old_messages(
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
    RETURN QUERY SELECT * FROM @extschema@._chat_retention_trim_threads(
        NULL, now() - older_than, thread_id, user_id, keep_system, max_threads);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_delete_old_messages(interval, text, text, boolean, integer) IS
    'delete the messages created longer ago than an interval (the oldest contiguous run of each thread); returns what was removed per thread';

-- ---------------------------------------------------------------------------
-- archive flag
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.chat_archive_thread(
    thread_id text,
    archived  boolean DEFAULT true,
    user_id   text    DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_archive_thread.user_id);
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    IF archived IS NULL THEN
        RAISE EXCEPTION 'archived must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE @extschema@.chat_threads AS t
    SET archived = chat_archive_thread.archived
    WHERE t.id = chat_archive_thread.thread_id
      AND (v_user IS NULL OR t.user_id = v_user)
      AND (v_tenant IS NULL OR t.user_id = v_tenant);
    RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_archive_thread(text, boolean, text) IS
    'set or clear a thread''s archived flag (archived threads are hidden from lists and search by default); false when not found or not the owner';

-- Tombstones older than older_than (default: the setting
-- chatstore.tombstone_retention, 30 days) are purged: after that a re-send of
-- such a message stores it again and a save into such a thread creates it.
-- Each thread's tombstone_count is corrected (it keeps updated_at).
CREATE FUNCTION @extschema@.chat_retention_purge_tombstones(older_than interval DEFAULT NULL)
RETURNS TABLE (message_tombstones bigint, thread_tombstones bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    keep   interval := COALESCE(older_than,
                                pg_catalog.current_setting('chatstore.tombstone_retention')::interval);
    cutoff timestamptz;
BEGIN
    IF keep < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', keep);
    END IF;
    cutoff := now() - keep;
    WITH d AS (
        DELETE FROM @extschema@.chat_message_tombstones AS x
        WHERE x.deleted_at < cutoff
        RETURNING x.thread_id),
    per_thread AS (
        SELECT d.thread_id, count(*) AS n FROM d GROUP BY d.thread_id),
    fixed AS (
        UPDATE @extschema@.chat_threads AS t
        SET tombstone_count = greatest(t.tombstone_count - p.n, 0),
            updated_at      = t.updated_at    -- not activity
        FROM per_thread AS p
        WHERE t.id = p.thread_id
        RETURNING 1)
    SELECT coalesce(sum(p.n), 0)::bigint INTO message_tombstones FROM per_thread AS p;
    WITH d AS (
        DELETE FROM @extschema@.chat_thread_tombstones AS x
        WHERE x.deleted_at < cutoff
        RETURNING 1)
    SELECT count(*) INTO thread_tombstones FROM d;
    -- the text of streams whose message was deleted (or that a restart of a
    -- crashed server left without an in_progress message)
    DELETE FROM @extschema@.chat_stream_deltas AS x
    WHERE NOT EXISTS (SELECT FROM @extschema@.chat_messages AS m
                      WHERE m.thread_id = x.thread_id AND m.seq = x.seq
                        AND m.status = 'in_progress');
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_purge_tombstones(interval) IS
    'purge the tombstones of deleted messages and threads older than older_than (default chatstore.tombstone_retention); returns the counts';

-- ---------------------------------------------------------------------------
-- expired key-values (chat_kv, part 20)
-- ---------------------------------------------------------------------------
-- Deletes the keys whose expiry has passed: those of the current tenant
-- (chatstore.tenant), or of every tenant the role can see when all_tenants
-- (the scheduled job's form).  Expired keys are already invisible to
-- chat_kv_get / chat_kv_list; this frees their space.
CREATE FUNCTION @extschema@.chat_kv_purge_expired(
    all_tenants boolean DEFAULT false,
    max_keys    integer DEFAULT NULL)
RETURNS TABLE (tenant text, key text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    IF max_keys < 0 THEN
        RAISE EXCEPTION 'max_keys must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH d AS (
        DELETE FROM @extschema@.chat_kv AS kv
        USING (SELECT c.tenant, c.key FROM @extschema@.chat_kv AS c
               WHERE c.expires_at <= now()
                 AND (coalesce(chat_kv_purge_expired.all_tenants, false)
                      OR c.tenant = coalesce(current_setting('chatstore.tenant', true), ''))
               ORDER BY c.expires_at
               LIMIT chat_kv_purge_expired.max_keys
               FOR UPDATE SKIP LOCKED) AS s
        WHERE kv.tenant = s.tenant
          AND kv.key = s.key
          AND kv.expires_at <= now()
        RETURNING kv.tenant, kv.key, kv.expires_at)
    SELECT d.tenant, d.key::text, d.expires_at FROM d
    ORDER BY d.tenant, d.key;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_purge_expired(boolean, integer) IS
    'delete expired key-values of the current tenant (or of all tenants); returns the deleted keys';
