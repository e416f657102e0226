-- chatstore -- part 50: deleting all data of a user
--
-- A user's data is the threads they own (with their messages) and their
-- preferences.  Messages the user saved into threads owned by someone else
-- belong to that thread's owner and are kept.

CREATE FUNCTION @extschema@.chat_delete_user_data(user_id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n_threads  bigint;
    n_messages bigint;
    n_prefs    bigint;
BEGIN
    IF user_id IS NULL OR user_id = '' THEN
        RAISE EXCEPTION 'user_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Threads without an owner are deleted one by one with chat_delete_thread.';
    END IF;
    -- lock the threads first, so that saves into them finish before we count
    PERFORM 1 FROM @extschema@.chat_threads AS t
    WHERE t.user_id = chat_delete_user_data.user_id
    ORDER BY t.id
    FOR UPDATE;
    WITH d AS (
        DELETE FROM @extschema@.chat_messages AS m
        USING @extschema@.chat_threads AS t
        WHERE m.thread_id = t.id AND t.user_id = chat_delete_user_data.user_id
        RETURNING 1)
    SELECT count(*) INTO n_messages FROM d;
    WITH d AS (
        DELETE FROM @extschema@.chat_threads AS t
        WHERE t.user_id = chat_delete_user_data.user_id
        RETURNING 1)
    SELECT count(*) INTO n_threads FROM d;
    -- no trace of the user is kept: not even the ids of their deleted threads
    DELETE FROM @extschema@.chat_thread_tombstones AS x
    WHERE x.user_id = chat_delete_user_data.user_id;
    WITH d AS (
        DELETE FROM @extschema@.chat_user_preferences AS p
        WHERE p.user_id = chat_delete_user_data.user_id
        RETURNING 1)
    SELECT count(*) INTO n_prefs FROM d;
    RETURN jsonb_build_object('threads', n_threads, 'messages', n_messages,
                              'preferences', n_prefs);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_user_data(text) IS
    'delete every thread (with its messages) and the preferences of a user; returns the counts as JSON';
