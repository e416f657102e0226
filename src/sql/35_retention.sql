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
--
-- Written so that a distributed database (Citus, part 85) runs them as well:
-- candidates are found with a plain read (no row lock: FOR UPDATE over
-- several shards is refused), then each thread is locked and processed by
-- its id, one statement on one shard at a time, re-checking under the lock
-- what made it a candidate; settings and now() are read once into
-- variables; every UPDATE assigns updated_at itself (there is no updated_at
-- trigger on a distributed table) and every DELETE of threads writes their
-- tombstones itself where no tombstone trigger does.

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
    tid  text := _chat_retention_delete_range.thread_id;
    n    bigint;
    seqs bigint[];
    leaf bigint;
    path int8multirange;
    res  @extschema@.chat_trim_result;
BEGIN
    PERFORM 1 FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
    -- the deleted messages become tombstones and the aggregates follow (as
    -- for any delete); a trim is not activity: updated_at stays.  The seqs
    -- are read first: a function that writes, called from a statement that
    -- reads a distributed table, would run on a worker, inside the shard
    -- query (refused by Citus)
    seqs := ARRAY(SELECT m.seq FROM @extschema@.chat_messages AS m
                  WHERE m.thread_id = tid AND m.seq >= from_seq AND m.seq < to_seq);
    n := @extschema@._chat_delete_messages(tid, seqs, replies_moved_up => false, activity => false);
    res.thread_id := tid;
    res.deleted_count := n;
    SELECT t.message_count INTO res.kept_count
    FROM @extschema@.chat_threads AS t WHERE t.id = tid;
    -- a branched thread's active path goes on through the tombstones, to
    -- its newest stored message (or, when all of it went, stays as it was)
    IF n > 0 THEN
        SELECT max(m.seq) INTO leaf
        FROM @extschema@.chat_messages AS m, @extschema@.chat_threads AS c
        WHERE c.id = tid AND m.thread_id = tid AND m.thread_id = c.id AND m.seq <@ c.active_path;
        IF leaf IS NOT NULL THEN
            path := @extschema@._chat_path_to(tid, leaf);
            UPDATE @extschema@.chat_threads AS t
            SET active_path = path,
                updated_at  = t.updated_at
            WHERE t.id = tid AND t.active_path IS NOT NULL;
        END IF;
    END IF;
    SELECT min(m.seq) INTO res.first_kept_seq
    FROM @extschema@.chat_messages AS m WHERE m.thread_id = tid;
    RETURN res;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_delete_range(text, bigint, bigint) IS
    'chatstore internal: delete a seq range of a locked thread (leaving tombstones) and correct its aggregates';

-- first seq after the thread's leading system/developer messages (1 when
-- the thread does not start with one); NULL when the thread does not exist.
-- PL/pgSQL: Citus cannot plan an SQL function's statements on a distributed
-- table.
CREATE FUNCTION @extschema@._chat_retention_first_non_system(thread_id text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid   text := _chat_retention_first_non_system.thread_id;
    first bigint;
BEGIN
    SELECT m.seq INTO first FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = tid AND m.role <> ALL (ARRAY['system', 'developer']::text[])
    ORDER BY m.seq LIMIT 1;
    IF first IS NULL THEN
        SELECT t.last_seq + 1 INTO first FROM @extschema@.chat_threads AS t WHERE t.id = tid;
    END IF;
    RETURN first;
END
$fn$;

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
-- The oldest idle threads first (updated_at, then id); a thread being saved
-- to right now is skipped (it is not idle: SKIP LOCKED), and the delete
-- checks idleness (and the other filters) again on the row it locked.
-- Threads skipped that way do not count against max_threads.  Candidates
-- are read in batches in that order (keyset on updated_at, id), without a
-- lock; each is then locked and deleted by its id.
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
    v_user     text := @extschema@._chat_user_arg(chat_retention_delete_idle_threads.user_id);
    v_archived boolean := chat_retention_delete_idle_threads.archived;
    v_now      timestamptz := now();
    -- whether the statement trigger of part 10 (chat_threads_tombstone)
    -- writes the tombstones of the threads deleted here, as on one node;
    -- chat_distribute drops it (part 85), and then this function writes
    -- each tombstone itself.  Read once, from the catalog (fired: enabled,
    -- as session_replication_role decides), rather than writing every
    -- tombstone anyway with an upsert: on one node that would write each
    -- row twice, in a call that may delete thousands of threads.
    v_tomb_trigger boolean := EXISTS (
        SELECT FROM pg_catalog.pg_trigger AS g
        WHERE g.tgrelid = '@extschema@.chat_threads'::pg_catalog.regclass
          AND g.tgname = 'chat_threads_tombstone'
          AND (g.tgenabled = 'A'
               OR g.tgenabled = CASE WHEN pg_catalog.current_setting('session_replication_role') = 'replica'
                                     THEN 'R' ELSE 'O' END));
    cutoff     timestamptz;
    batch      integer;
    fetched    integer;
    done       bigint := 0;
    last_upd   timestamptz := '-infinity';
    last_id    text := '';       -- below every id (ids are not empty)
    cands      refcursor;
    c_id       text;
    c_upd      timestamptz;
    t          @extschema@.chat_threads;
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
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := v_now - older_than;

    LOOP
        batch := least(coalesce(max_threads - done, 1000), 1000);
        EXIT WHEN batch <= 0;
        -- one plain statement per case (a good generic plan for each)
        IF v_user IS NULL THEN
            OPEN cands FOR
                SELECT x.id, x.updated_at FROM @extschema@.chat_threads AS x
                WHERE x.updated_at < cutoff
                  AND (x.updated_at, x.id) > (last_upd, last_id)
                  AND (v_archived IS NULL OR x.archived = v_archived)
                ORDER BY x.updated_at, x.id
                LIMIT batch;
        ELSE
            OPEN cands FOR
                SELECT x.id, x.updated_at FROM @extschema@.chat_threads AS x
                WHERE x.user_id = v_user
                  AND x.updated_at < cutoff
                  AND (x.updated_at, x.id) > (last_upd, last_id)
                  AND (v_archived IS NULL OR x.archived = v_archived)
                ORDER BY x.updated_at, x.id
                LIMIT batch;
        END IF;
        fetched := 0;
        LOOP
            FETCH cands INTO c_id, c_upd;
            EXIT WHEN NOT FOUND;
            fetched := fetched + 1;
            last_upd := c_upd;
            last_id := c_id;
            -- lock it unless a save holds it, if it still qualifies
            PERFORM 1 FROM @extschema@.chat_threads AS x
            WHERE x.id = c_id AND x.updated_at < cutoff
              AND (v_user IS NULL OR x.user_id = v_user)
              AND (v_archived IS NULL OR x.archived = v_archived)
            FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            DELETE FROM @extschema@.chat_threads AS x WHERE x.id = c_id RETURNING x.* INTO t;
            IF NOT v_tomb_trigger THEN
                INSERT INTO @extschema@.chat_thread_tombstones AS y (id, user_id, deleted_at)
                VALUES (t.id, t.user_id, v_now)
                ON CONFLICT ON CONSTRAINT chat_thread_tombstones_pkey
                DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
            END IF;
            done := done + 1;
            RETURN NEXT t;
        END LOOP;
        CLOSE cands;
        EXIT WHEN fetched < batch;
    END LOOP;
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
    -- (each statement reads one thread by its id: one shard when distributed)
    LOOP
        IF keep_system THEN
            sys_end := @extschema@._chat_retention_first_non_system(tid);
        ELSE
            sys_end := 0;
        END IF;
        IF max_messages IS NULL THEN
            -- the first message at or after cutoff
            SELECT m.seq INTO cut FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = tid AND m.seq >= sys_end AND m.created_at >= cutoff
            ORDER BY m.seq LIMIT 1;
            cut := coalesce(cut, 9223372036854775807);
        ELSIF max_messages = 0 THEN
            cut := 9223372036854775807;
        ELSE
            -- the max_messages-th newest message after the system prefix
            SELECT m.seq INTO cut FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = tid AND m.seq >= sys_end
            ORDER BY m.seq DESC
            OFFSET max_messages - 1 LIMIT 1;
            IF cut IS NULL THEN
                RETURN NULL;    -- no more than max_messages
            END IF;
        END IF;
        -- never keep tool answers whose assistant message is deleted
        SELECT m.seq INTO cut FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = tid AND m.seq >= cut AND m.role <> 'tool'
        ORDER BY m.seq LIMIT 1;
        cut := coalesce(cut, 9223372036854775807);
        PERFORM 1 FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = tid AND m.seq >= sys_end AND m.seq < cut
        LIMIT 1;
        IF NOT FOUND THEN
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
-- The candidates are read without a lock (one plain statement per case, so
-- that each has a good generic plan; one shard when thread_id is given);
-- _chat_retention_trim_thread locks each and looks again.
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
    v_thread text := _chat_retention_trim_threads.thread_id;
    v_user   text := @extschema@._chat_user_arg(_chat_retention_trim_threads.user_id);
    cands    refcursor;
    tid      text;
    done     integer := 0;
    r        @extschema@.chat_trim_result;
BEGIN
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF max_messages IS NOT NULL THEN
        IF v_thread IS NOT NULL THEN
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.id = v_thread AND c.message_count > max_messages
                  AND (v_user IS NULL OR c.user_id = v_user);
        ELSIF v_user IS NOT NULL THEN
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.user_id = v_user AND c.message_count > max_messages
                ORDER BY c.id;
        ELSE
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.message_count > max_messages
                ORDER BY c.id;
        END IF;
    ELSE
        IF v_thread IS NOT NULL THEN
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.id = v_thread AND (v_user IS NULL OR c.user_id = v_user)
                  AND EXISTS (SELECT FROM @extschema@.chat_messages AS m
                              WHERE m.thread_id = v_thread AND m.created_at < cutoff);
        ELSIF v_user IS NOT NULL THEN
            OPEN cands FOR
                SELECT DISTINCT m.thread_id FROM @extschema@.chat_messages AS m
                JOIN @extschema@.chat_threads AS c ON c.id = m.thread_id
                WHERE c.user_id = v_user AND m.created_at < cutoff
                ORDER BY 1;
        ELSE
            -- (every message has its thread: foreign key)
            OPEN cands FOR
                SELECT DISTINCT m.thread_id FROM @extschema@.chat_messages AS m
                WHERE m.created_at < cutoff
                ORDER BY 1;
        END IF;
    END IF;
    LOOP
        EXIT WHEN done >= max_threads;
        FETCH cands INTO tid;
        EXIT WHEN NOT FOUND;
        r := @extschema@._chat_retention_trim_thread(tid, max_messages, cutoff, keep_system);
        IF r.deleted_count > 0 THEN
            done := done + 1;
            RETURN NEXT r;
        END IF;
    END LOOP;
    CLOSE cands;
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
    v_now    timestamptz := now();
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    IF archived IS NULL THEN
        RAISE EXCEPTION 'archived must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- updated_at moves when the flag changes (what the updated_at trigger
    -- does on one node; a distributed table has no trigger)
    UPDATE @extschema@.chat_threads AS t
    SET archived   = chat_archive_thread.archived,
        updated_at = CASE WHEN t.archived IS DISTINCT FROM chat_archive_thread.archived
                          THEN v_now ELSE t.updated_at END
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
-- Each thread's tombstone_count is corrected (it keeps updated_at): the
-- threads that have old message tombstones are read first, then each is
-- locked (as a save or a trim locks it) and its old tombstones deleted and
-- counted, by its id, in id order.
CREATE FUNCTION @extschema@.chat_retention_purge_tombstones(older_than interval DEFAULT NULL)
RETURNS TABLE (message_tombstones bigint, thread_tombstones bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- first: a call of the C library defines the chatstore.* settings, and
    -- a new session (a pg_cron job's) may not have loaded it yet (42704)
    loaded integer := @extschema@._chat_history_limit(NULL);
    keep   interval := COALESCE(older_than,
                                pg_catalog.current_setting('chatstore.tombstone_retention')::interval);
    cutoff timestamptz;
    tid    text;
    n      bigint;
BEGIN
    IF keep < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', keep);
    END IF;
    cutoff := now() - keep;
    message_tombstones := 0;
    FOR tid IN
        SELECT DISTINCT x.thread_id FROM @extschema@.chat_message_tombstones AS x
        WHERE x.deleted_at < cutoff
        ORDER BY 1
    LOOP
        PERFORM 1 FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
        DELETE FROM @extschema@.chat_message_tombstones AS x
        WHERE x.thread_id = tid AND x.deleted_at < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            UPDATE @extschema@.chat_threads AS t
            SET tombstone_count = greatest(t.tombstone_count - n, 0),
                updated_at      = t.updated_at    -- not activity
            WHERE t.id = tid;
            message_tombstones := message_tombstones + n;
        END IF;
    END LOOP;
    DELETE FROM @extschema@.chat_thread_tombstones AS x
    WHERE x.deleted_at < cutoff;
    GET DIAGNOSTICS thread_tombstones = ROW_COUNT;
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
-- chat_kv_get / chat_kv_list; this frees their space.  The oldest expiries
-- first (ties by tenant and key), at most max_keys; a key another
-- transaction holds right now is skipped (SKIP LOCKED) and does not count.
-- Candidates are read in batches in that order without a lock, then each key
-- is locked and deleted by itself (one shard of a distributed table), its
-- expiry checked again; the tenant and the time are read once, here.
CREATE FUNCTION @extschema@.chat_kv_purge_expired(
    all_tenants boolean DEFAULT false,
    max_keys    integer DEFAULT NULL)
RETURNS TABLE (tenant text, key text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_all    boolean := coalesce(chat_kv_purge_expired.all_tenants, false);
    v_tenant text := coalesce(current_setting('chatstore.tenant', true), '');
    v_now    timestamptz := now();
    batch    integer;
    fetched  integer;
    done     bigint := 0;
    -- (keyset: expires_at, tenant, key; it starts below every row:
    -- expires_at >= -infinity, and '' is the least text)
    last_exp timestamptz := '-infinity';
    last_ten text := '';
    last_key text := '';
    cands    refcursor;
    c_ten    text;
    c_key    text;
    c_exp    timestamptz;
    d_tenant text[] := '{}';
    d_key    text[] := '{}';
    d_exp    timestamptz[] := '{}';
BEGIN
    IF max_keys < 0 THEN
        RAISE EXCEPTION 'max_keys must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        batch := least(coalesce(max_keys - done, 1000), 1000);
        EXIT WHEN batch <= 0;
        IF v_all THEN
            OPEN cands FOR
                SELECT kv.tenant, kv.key, kv.expires_at FROM @extschema@.chat_kv AS kv
                WHERE kv.expires_at <= v_now
                  AND (kv.expires_at, kv.tenant, kv.key) > (last_exp, last_ten, last_key)
                ORDER BY kv.expires_at, kv.tenant, kv.key
                LIMIT batch;
        ELSE
            OPEN cands FOR
                SELECT kv.tenant, kv.key, kv.expires_at FROM @extschema@.chat_kv AS kv
                WHERE kv.tenant = v_tenant AND kv.expires_at <= v_now
                  AND (kv.expires_at, kv.tenant, kv.key) > (last_exp, last_ten, last_key)
                ORDER BY kv.expires_at, kv.tenant, kv.key
                LIMIT batch;
        END IF;
        fetched := 0;
        LOOP
            FETCH cands INTO c_ten, c_key, c_exp;
            EXIT WHEN NOT FOUND;
            fetched := fetched + 1;
            last_exp := c_exp; last_ten := c_ten; last_key := c_key;
            -- lock it unless another transaction holds it, if still expired
            PERFORM 1 FROM @extschema@.chat_kv AS kv
            WHERE kv.key = c_key AND kv.tenant = c_ten AND kv.expires_at <= v_now
            FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            DELETE FROM @extschema@.chat_kv AS kv
            WHERE kv.key = c_key AND kv.tenant = c_ten
            RETURNING kv.expires_at INTO c_exp;
            d_tenant := d_tenant || c_ten;
            d_key := d_key || c_key;
            d_exp := d_exp || c_exp;
            done := done + 1;
        END LOOP;
        CLOSE cands;
        EXIT WHEN fetched < batch;
    END LOOP;
    RETURN QUERY
    SELECT d.tenant, d.key, d.expires_at
    FROM unnest(d_tenant, d_key, d_exp) AS d(tenant, key, expires_at)
    ORDER BY d.tenant, d.key COLLATE "C";   -- the collation of chat_kv.key
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_purge_expired(boolean, integer) IS
    'delete expired key-values of the current tenant (or of all tenants); returns the deleted keys';
