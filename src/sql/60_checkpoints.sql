-- chatstore -- part 60: checkpoints of agent frameworks (LangGraph)
--
-- A checkpointer (clients/js ChatstoreSaver) keeps a conversation's messages
-- as chatstore messages and, per checkpoint, one row of chat_checkpoints: the
-- record of what the framework needs besides the messages (channel versions,
-- metadata, the parent checkpoint, small channel values, a reference to the
-- message path) and the larger channel values it wrote; the pending writes of
-- the checkpoint's tasks are rows of chat_checkpoint_writes.  Record and blobs
-- are the client's encoding: chatstore stores them and never reads into them;
-- the pending writes are JSON, which chat_checkpoint_put merges.  The rows
-- are keyed by their thread (thread_id first): deleted with it
-- (chat_delete_thread, retention, chat_delete_user_data), isolated with it
-- (tenant isolation keys them on thread_user_id, their thread's user_id).

CREATE TABLE @extschema@.chat_checkpoints (
    thread_id  text NOT NULL,
    id         text COLLATE "C" NOT NULL,
    ns         text NOT NULL DEFAULT '',
    record     bytea NOT NULL,
    blobs      bytea,
    -- the channels whose values another checkpoint's blobs hold: {channel: checkpoint id}
    refs       jsonb,
    thread_user_id text,   -- 1.7: the thread's user_id
    CONSTRAINT chat_checkpoints_pkey PRIMARY KEY (thread_id, id),
    CONSTRAINT chat_checkpoints_thread_fkey FOREIGN KEY (thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE CASCADE,
    CONSTRAINT chat_checkpoints_id_check CHECK (id OPERATOR(pg_catalog.<>) ''),
    CONSTRAINT chat_checkpoints_refs_check
        CHECK (refs IS NULL OR pg_catalog.jsonb_typeof(refs) OPERATOR(pg_catalog.=) 'object')
);

COMMENT ON TABLE @extschema@.chat_checkpoints IS
    'chatstore: checkpoints of an agent framework (LangGraph), one row per checkpoint of a thread: the client''s record and larger channel values (chat_checkpoint_put)';
COMMENT ON COLUMN @extschema@.chat_checkpoints.record IS
    'the client''s record of the checkpoint (its own encoding)';
COMMENT ON COLUMN @extschema@.chat_checkpoints.blobs IS
    'the channel values the checkpoint wrote and its record does not hold (the client''s encoding)';
COMMENT ON COLUMN @extschema@.chat_checkpoints.refs IS
    'the channels whose values the blobs of an earlier checkpoint of the thread hold: {channel: checkpoint id}';

-- The pending writes of a checkpoint's tasks: one row per task, the writes by
-- idx (a row of their own: the checkpoint's row is written once).
CREATE TABLE @extschema@.chat_checkpoint_writes (
    thread_id     text NOT NULL,
    checkpoint_id text COLLATE "C" NOT NULL,
    task          text COLLATE "C" NOT NULL,
    path          text NOT NULL DEFAULT '',
    writes        jsonb NOT NULL,
    thread_user_id text,   -- 1.7: the thread's user_id
    CONSTRAINT chat_checkpoint_writes_pkey PRIMARY KEY (thread_id, checkpoint_id, task),
    CONSTRAINT chat_checkpoint_writes_thread_fkey FOREIGN KEY (thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE CASCADE,
    CONSTRAINT chat_checkpoint_writes_writes_check
        CHECK (pg_catalog.jsonb_typeof(writes) OPERATOR(pg_catalog.=) 'object')
);

COMMENT ON TABLE @extschema@.chat_checkpoint_writes IS
    'chatstore: the pending writes of a checkpoint''s task (chat_checkpoint_put): {idx: write}, the client''s JSON';

-- their rows are user data: pg_dump dumps them (as the other tables' rows)
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_checkpoint_writes', '');

-- The thread a checkpoint call writes to: made when it does not exist (as
-- chat_create_thread does, for user_id), else checked: another user's or
-- tenant's thread does not exist for the caller (P0002).  Internal.
CREATE FUNCTION @extschema@._chat_checkpoint_thread(thread_id text, user_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(_chat_checkpoint_thread.user_id);
    owner    text;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    SELECT t.user_id INTO owner FROM @extschema@.chat_threads AS t
    WHERE t.id OPERATOR(pg_catalog.=) _chat_checkpoint_thread.thread_id;
    IF NOT FOUND THEN
        BEGIN
            PERFORM @extschema@.chat_create_thread(id => _chat_checkpoint_thread.thread_id,
                                                   user_id => _chat_checkpoint_thread.user_id);
            RETURN;
        EXCEPTION WHEN unique_violation THEN
            -- made meanwhile by another session: checked like an existing one
            SELECT t.user_id INTO owner FROM @extschema@.chat_threads AS t
            WHERE t.id OPERATOR(pg_catalog.=) _chat_checkpoint_thread.thread_id;
        END;
    END IF;
    IF (v_user IS NOT NULL AND owner IS DISTINCT FROM v_user)
       OR (v_tenant IS NOT NULL AND owner IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_checkpoint_thread(text, text) IS
    'chatstore internal: make or check (owner, tenant) the thread a checkpoint call writes to';

-- Store a checkpoint and/or pending writes, in one call (one round trip per
-- LangGraph put):
--  * messages (a JSON array, as chat_save_messages takes it): saved first
--    with chat_save_messages; when message_ids is given and the ids saved
--    differ from it (the messages are not an append to the checkpoint's
--    path), nothing is stored: CS003.  When the first message is a stored
--    message of a one-line thread but not its last, the thread becomes a
--    tree first (as chat_edit_message makes it), so the new messages are a
--    branch below it.
--  * checkpoint_id and record: the checkpoint's row (replaced when the id is
--    stored; its pending writes are kept), with blobs and refs.  The thread
--    is made (for user_id) when it does not exist.
--  * writes: a JSON array of pending writes {"k": key, "thread_id", "ns",
--    "checkpoint_id", "task", "path", "reg": {idx: write}, "spec": {idx:
--    write}}: merged into the writes of that checkpoint's task (a regular
--    write already stored is kept, a special one replaced).  A write may
--    carry messages to save first ("save", as chat_save_messages takes them,
--    the first one the stored message they follow; "ids", what the save must
--    return, else CS003): its own entries then name them by id.
--  * patches: a JSON array {"thread_id", "checkpoint_id", "task", "w": {idx:
--    write}}: stored writes replaced (idx that are stored only).
-- Returns {key: [idx stored before the call]} for the writes.
CREATE FUNCTION @extschema@.chat_checkpoint_put(
    thread_id     text,
    checkpoint_id text  DEFAULT NULL,
    record        bytea DEFAULT NULL,
    ns            text  DEFAULT '',
    blobs         bytea DEFAULT NULL,
    refs          jsonb DEFAULT NULL,
    messages      jsonb DEFAULT NULL,
    message_ids   text[] DEFAULT NULL,
    writes        jsonb DEFAULT NULL,
    patches       jsonb DEFAULT NULL,
    user_id       text  DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_saved  text[];
    v_done   text[] := '{}';
    w        jsonb;
    v_had    jsonb := '{}';
    v_thread text;
    v_t      @extschema@.chat_threads;
    v_old    jsonb;
    v_anchor text;
    v_seq    bigint;
    v_tenant text;
    v_confined boolean;
    v_owner_of text;    -- the thread v_owner is the user_id of (NULL: none read)
    v_owner  text;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating,
    -- part 05) when the call writes to that thread only (pending writes may
    -- name others: then routed statement by statement); the saves' NOTIFY
    -- comes back for this node to send
    IF @extschema@._chat_delegating() AND chat_checkpoint_put.thread_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(CASE jsonb_typeof(writes) WHEN 'array' THEN writes ELSE '[]' END
                                                        || CASE jsonb_typeof(patches) WHEN 'array' THEN patches ELSE '[]' END) AS e
                       WHERE e.value ->> 'thread_id' IS DISTINCT FROM chat_checkpoint_put.thread_id) THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            r record;
        BEGIN
            SELECT * INTO r
            FROM @extschema@._chat_checkpoint_put_at(thread_id, checkpoint_id, record, ns, blobs, refs, messages,
                                                     message_ids, writes, patches, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(r.notifies);
            RETURN r.result;
        END;
    END IF;
    IF checkpoint_id IS NOT NULL OR messages IS NOT NULL THEN
        PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    END IF;
    IF (checkpoint_id IS NULL) <> (record IS NULL) THEN
        RAISE EXCEPTION 'checkpoint_id and record go together'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF checkpoint_id = '' THEN
        RAISE EXCEPTION 'checkpoint_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF refs IS NOT NULL AND jsonb_typeof(refs) <> 'object' THEN
        RAISE EXCEPTION 'refs must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (writes IS NOT NULL AND jsonb_typeof(writes) <> 'array')
       OR (patches IS NOT NULL AND jsonb_typeof(patches) <> 'array') THEN
        RAISE EXCEPTION '% must be a JSON array', CASE WHEN jsonb_typeof(writes) <> 'array' THEN 'writes' ELSE 'patches' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF messages IS NOT NULL THEN
        -- a batch that starts at a stored message of a one-line thread that is not its last: the
        -- new messages go below it, as a branch (the thread becomes a tree, as chat_edit_message
        -- makes it); a batch that starts elsewhere in a tree thread does so already
        IF jsonb_typeof(messages) = 'array' AND jsonb_typeof(messages -> 0 -> 'id') = 'string' THEN
            v_anchor := messages -> 0 ->> 'id';
            SELECT t.* INTO v_t FROM @extschema@.chat_threads AS t WHERE t.id = chat_checkpoint_put.thread_id;
            IF FOUND AND v_t.active_path IS NULL THEN
                SELECT m.seq INTO v_seq FROM @extschema@.chat_messages AS m
                WHERE m.thread_id = chat_checkpoint_put.thread_id AND m.id = v_anchor;
                IF v_seq < v_t.last_seq THEN
                    v_t := @extschema@._chat_branch_thread(thread_id, user_id);
                    PERFORM @extschema@._chat_branch_start(v_t);
                END IF;
            END IF;
        END IF;
        SELECT s.saved_ids INTO v_saved
        FROM @extschema@.chat_save_messages(thread_id => chat_checkpoint_put.thread_id,
                                            messages => chat_checkpoint_put.messages,
                                            user_id => chat_checkpoint_put.user_id) AS s;
        IF message_ids IS NOT NULL AND coalesce(v_saved, '{}') IS DISTINCT FROM message_ids THEN
            RAISE EXCEPTION 'the messages are not an append to the checkpoint''s messages'
                USING ERRCODE = 'CS003',
                      DETAIL = format('Saved %s, expected %s.', coalesce(v_saved, '{}'), message_ids);
        END IF;
        v_done := ARRAY[thread_id];
    END IF;
    -- the threads written to (chat_save_messages checked its own): made, or checked for the caller;
    -- a thread that exists and that the caller may write to (what _chat_checkpoint_thread checks:
    -- its owner is the user_id given, if any, and the caller's tenant, if confined) is read here
    -- only, the others (made, refused, an error) by _chat_checkpoint_thread
    FOR v_thread IN
        SELECT DISTINCT x.t FROM (
            SELECT chat_checkpoint_put.thread_id AS t WHERE checkpoint_id IS NOT NULL
            UNION ALL SELECT e.value ->> 'thread_id' FROM jsonb_array_elements(coalesce(writes, '[]')) AS e
            UNION ALL SELECT e.value ->> 'thread_id' FROM jsonb_array_elements(coalesce(patches, '[]')) AS e) AS x
        WHERE x.t IS NULL OR NOT x.t = ANY (v_done)
    LOOP
        IF v_confined IS NULL THEN
            v_tenant := @extschema@._chat_tenant();
            v_confined := v_tenant IS NOT NULL;
        END IF;
        SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = v_thread;
        v_owner_of := CASE WHEN FOUND THEN v_thread END;
        CONTINUE WHEN FOUND
            AND (chat_checkpoint_put.user_id IS NULL
                 OR (chat_checkpoint_put.user_id <> '' AND v_owner = chat_checkpoint_put.user_id))
            AND (NOT v_confined OR (v_tenant <> '' AND v_owner = v_tenant));
        PERFORM @extschema@._chat_checkpoint_thread(v_thread, user_id);
        v_owner_of := NULL;
    END LOOP;
    IF checkpoint_id IS NOT NULL THEN
        -- the rows carry their thread's user_id (tenant isolation keys them on it)
        IF v_owner_of IS DISTINCT FROM chat_checkpoint_put.thread_id THEN
            SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = chat_checkpoint_put.thread_id;
            v_owner_of := chat_checkpoint_put.thread_id;
        END IF;
        INSERT INTO @extschema@.chat_checkpoints AS c (thread_id, id, ns, record, blobs, refs, thread_user_id)
        VALUES (chat_checkpoint_put.thread_id, chat_checkpoint_put.checkpoint_id,
                coalesce(chat_checkpoint_put.ns, ''), chat_checkpoint_put.record, chat_checkpoint_put.blobs,
                chat_checkpoint_put.refs, v_owner)
        ON CONFLICT ON CONSTRAINT chat_checkpoints_pkey DO UPDATE
        SET ns = excluded.ns, record = excluded.record, blobs = excluded.blobs, refs = excluded.refs;
    END IF;
    FOR w IN SELECT e.value FROM jsonb_array_elements(coalesce(writes, '[]')) AS e LOOP
        v_thread := w ->> 'thread_id';
        IF w ->> 'checkpoint_id' IS NULL OR w ->> 'checkpoint_id' = '' OR w ->> 'task' IS NULL THEN
            RAISE EXCEPTION 'a pending write needs checkpoint_id and task'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- messages the write holds, saved first (save: as chat_save_messages takes them, the first
        -- one the stored message they follow; ids: what the save must return, else CS003)
        IF w ? 'save' THEN
            IF jsonb_typeof(w -> 'save') = 'array' AND jsonb_typeof(w -> 'save' -> 0 -> 'id') = 'string' THEN
                v_anchor := w -> 'save' -> 0 ->> 'id';
                SELECT t.* INTO v_t FROM @extschema@.chat_threads AS t WHERE t.id = v_thread;
                IF FOUND AND v_t.active_path IS NULL THEN
                    SELECT m.seq INTO v_seq FROM @extschema@.chat_messages AS m
                    WHERE m.thread_id = v_thread AND m.id = v_anchor;
                    IF v_seq < v_t.last_seq THEN
                        v_t := @extschema@._chat_branch_thread(v_thread, user_id);
                        PERFORM @extschema@._chat_branch_start(v_t);
                    END IF;
                END IF;
            END IF;
            SELECT s.saved_ids INTO v_saved
            FROM @extschema@.chat_save_messages(thread_id => v_thread, messages => w -> 'save',
                                                user_id => chat_checkpoint_put.user_id) AS s;
            IF coalesce(v_saved, '{}') IS DISTINCT FROM
               ARRAY(SELECT jsonb_array_elements_text(coalesce(w -> 'ids', '[]'))) THEN
                RAISE EXCEPTION 'the messages are not an append to the checkpoint''s messages'
                    USING ERRCODE = 'CS003',
                          DETAIL = format('Saved %s, expected %s.', coalesce(v_saved, '{}'), w -> 'ids');
            END IF;
        END IF;
        -- the task's writes before (their idx are returned), then the merge
        SELECT x.writes INTO v_old FROM @extschema@.chat_checkpoint_writes AS x
        WHERE x.thread_id = v_thread AND x.checkpoint_id = w ->> 'checkpoint_id' AND x.task = w ->> 'task'
        FOR UPDATE;
        v_had := v_had || jsonb_build_object(w ->> 'k',
                     coalesce((SELECT jsonb_agg(z) FROM jsonb_object_keys(v_old) AS z), '[]'));
        IF v_owner_of IS DISTINCT FROM v_thread THEN
            SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = v_thread;
            v_owner_of := v_thread;
        END IF;
        INSERT INTO @extschema@.chat_checkpoint_writes AS x (thread_id, checkpoint_id, task, path, writes,
                                                             thread_user_id)
        VALUES (v_thread, w ->> 'checkpoint_id', w ->> 'task', coalesce(w ->> 'path', ''),
                coalesce(w -> 'reg', '{}') || coalesce(v_old, '{}') || coalesce(w -> 'spec', '{}'), v_owner)
        ON CONFLICT ON CONSTRAINT chat_checkpoint_writes_pkey DO UPDATE
        SET path = excluded.path,
            writes = coalesce(w -> 'reg', '{}') || x.writes || coalesce(w -> 'spec', '{}');
    END LOOP;
    FOR w IN SELECT e.value FROM jsonb_array_elements(coalesce(patches, '[]')) AS e LOOP
        UPDATE @extschema@.chat_checkpoint_writes AS x
        SET writes = x.writes || (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
                                  FROM jsonb_each(w -> 'w') AS e WHERE x.writes ? e.key)
        WHERE x.thread_id = w ->> 'thread_id' AND x.checkpoint_id = w ->> 'checkpoint_id'
          AND x.task = w ->> 'task' AND jsonb_typeof(w -> 'w') = 'object';
    END LOOP;
    RETURN v_had;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_checkpoint_put(text, text, bytea, text, bytea, jsonb, jsonb, text[], jsonb, jsonb, text) IS
    'store a checkpoint (its record and blobs), its new messages (chat_save_messages; CS003 when they are not the expected append) and pending writes, in one call';

CREATE FUNCTION @extschema@._chat_checkpoint_put_at(
    thread_id text, checkpoint_id text, record bytea, ns text, blobs bytea, refs jsonb, messages jsonb,
    message_ids text[], writes jsonb, patches jsonb, user_id text, ctx jsonb,
    OUT result jsonb, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    result := @extschema@.chat_checkpoint_put(thread_id, checkpoint_id, record, ns, blobs, refs, messages,
                                              message_ids, writes, patches, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_checkpoint_put_at(text, text, bytea, text, bytea, jsonb, jsonb, text[], jsonb, jsonb, text, jsonb) IS
    'chatstore internal: chat_checkpoint_put of one thread run on the worker that holds it (Citus), with the calling session''s values; returns its notifications';
