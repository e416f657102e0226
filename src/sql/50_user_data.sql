-- chatstore -- part 50: deleting all data of a user
--
-- A user's data is the threads they own (with their messages) and their
-- preferences.  Messages the user saved into threads owned by someone else
-- belong to that thread's owner and are kept.

-- The user's threads are read first (a plain read), then each is locked
-- (so that a save into it finishes before its messages are counted),
-- re-checked and deleted by its id, in id order: statements on one shard
-- each on a distributed database, where FOR UPDATE over all shards is
-- refused.  Rounds repeat until one finds no thread, so that a thread the
-- user created meanwhile goes too (as the single DELETE statements of
-- earlier versions would have taken it).
CREATE FUNCTION @extschema@.chat_delete_user_data(user_id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user     text := chat_delete_user_data.user_id;
    ids        text[];
    tid        text;
    n          bigint;
    n_threads  bigint := 0;
    n_messages bigint := 0;
    n_prefs    bigint;
BEGIN
    IF v_user IS NULL OR v_user = '' THEN
        RAISE EXCEPTION 'user_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Threads without an owner are deleted one by one with chat_delete_thread.';
    END IF;
    LOOP
        ids := ARRAY(SELECT t.id FROM @extschema@.chat_threads AS t
                     WHERE t.user_id = v_user ORDER BY t.id);
        EXIT WHEN cardinality(ids) = 0;
        FOREACH tid IN ARRAY ids LOOP
            PERFORM 1 FROM @extschema@.chat_threads AS t
            WHERE t.id = tid AND t.user_id = v_user
            FOR UPDATE;
            CONTINUE WHEN NOT FOUND;    -- deleted meanwhile
            DELETE FROM @extschema@.chat_messages AS m WHERE m.thread_id = tid;
            GET DIAGNOSTICS n = ROW_COUNT;
            n_messages := n_messages + n;
            -- (no tombstone is written here where no trigger writes one: the
            -- user's tombstones are all deleted below)
            DELETE FROM @extschema@.chat_threads AS t WHERE t.id = tid;
            GET DIAGNOSTICS n = ROW_COUNT;
            n_threads := n_threads + n;
        END LOOP;
    END LOOP;
    -- no trace of the user is kept: not even the ids of their deleted threads
    DELETE FROM @extschema@.chat_thread_tombstones AS x
    WHERE x.user_id = v_user;
    DELETE FROM @extschema@.chat_user_preferences AS p
    WHERE p.user_id = v_user;
    GET DIAGNOSTICS n_prefs = ROW_COUNT;
    RETURN jsonb_build_object('threads', n_threads, 'messages', n_messages,
                              'preferences', n_prefs);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_user_data(text) IS
    'delete every thread (with its messages) and the preferences of a user; returns the counts as JSON';
