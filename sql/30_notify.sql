-- live notifications: with chatstore.notify on, every save call that
-- inserts at least one message sends one NOTIFY on channel
-- chatstore_messages, payload {"thread_id", "first_seq", "last_seq",
-- "saved_count"}, delivered when the transaction commits.  A second
-- connection (dblink, schema ntf_dblink, dropped at the end) listens.
\pset null '(null)'
CREATE SCHEMA ntf_dblink;
CREATE EXTENSION dblink SCHEMA ntf_dblink;
SELECT ntf_dblink.dblink_connect('ntf',
    format('host=%s port=%s dbname=%s user=%s',
           split_part(current_setting('unix_socket_directories'), ',', 1),
           current_setting('port'), current_database(), current_user));
SELECT ntf_dblink.dblink_exec('ntf', 'LISTEN chatstore_messages');

-- what the listener received up to a marker notification (sent by the
-- caller in its own transaction after the action under test, so that
-- everything the action sent has arrived when the marker has)
CREATE FUNCTION pg_temp.received() RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
DECLARE
    got jsonb[] := '{}';
    n record;
    seen_marker boolean := false;
    deadline timestamptz := clock_timestamp() + interval '10 seconds';
BEGIN
    WHILE NOT seen_marker AND clock_timestamp() < deadline LOOP
        FOR n IN SELECT * FROM ntf_dblink.dblink_get_notify('ntf') LOOP
            IF n.notify_name = 'chatstore_messages' AND n.extra = 'marker' THEN
                seen_marker := true;
            ELSE
                got := got || jsonb_build_object('channel', n.notify_name, 'payload', n.extra::jsonb);
            END IF;
        END LOOP;
        IF NOT seen_marker THEN PERFORM pg_sleep(0.01); END IF;
    END LOOP;
    IF NOT seen_marker THEN
        RAISE EXCEPTION 'marker notification not received';
    END IF;
    RETURN QUERY SELECT unnest(got);
END $$;

-- the setting is off by default: a save sends nothing
SELECT saved_count FROM chat_save_messages('ntf-t1', '[{"id": "a", "role": "user", "content": "hi"}]', 'ntf-u1');
SHOW chatstore.notify;
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

SET chatstore.notify = on;
-- one notification for a call that saves three messages
SELECT saved_count, first_seq, last_seq FROM chat_save_messages('ntf-t1', '[
  {"id": "b", "role": "assistant", "content": "hello"},
  {"id": "c", "role": "user", "content": "more"},
  {"id": "d", "role": "assistant", "content": "sure"}]');
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

-- a call that skips some and saves one: one notification, its seqs
SELECT saved_count, skipped_count FROM chat_save_messages('ntf-t1', '[
  {"id": "c", "role": "user", "content": "more"},
  {"id": "e", "role": "user", "content": "new"}]');
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

-- a call that only skips: nothing
SELECT saved_count, skipped_count FROM chat_save_messages('ntf-t1', '[{"id": "a", "role": "user", "content": "hi"}]');
SELECT saved_count, skipped_count FROM chat_save_messages('ntf-t1', '[{"id": "z", "role": "user", "content": "x"}]', saved_ids => ARRAY['z']);
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

-- chat_add_message: one notification
SELECT id, seq FROM chat_add_message('ntf-t1', 'assistant', 'one more', message_id => 'f');
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

-- two calls in one transaction: two notifications, sent at commit, in order
BEGIN;
SELECT saved_count FROM chat_save_messages('ntf-t2', '[{"id": "a", "role": "user", "content": "x"}]');
SELECT saved_count FROM chat_save_messages('ntf-t1', '[{"id": "g", "role": "user", "content": "y"}]');
COMMIT;
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

-- a rolled-back save sends nothing; a failed save sends nothing
BEGIN;
SELECT saved_count FROM chat_save_messages('ntf-t1', '[{"id": "h", "role": "user", "content": "x"}]');
ROLLBACK;
SELECT saved_count FROM chat_save_messages('ntf-t1', '[{"id": "h", "role": "user", "content": "x"}, {"id": "i", "role": "nobody", "content": "x"}]');
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

-- the thread id is JSON-escaped in the payload
SELECT saved_count FROM chat_save_messages(E'ntf-"quoted"\\ \u00e9', '[{"id": "a", "role": "user", "content": "x"}]');
NOTIFY chatstore_messages, 'marker';
SELECT p->'payload'->>'thread_id' = E'ntf-"quoted"\\ \u00e9' AS same_id, p FROM pg_temp.received() AS p;

-- switched off again: nothing
SET chatstore.notify = off;
SELECT saved_count FROM chat_save_messages('ntf-t1', '[{"id": "j", "role": "user", "content": "x"}]');
NOTIFY chatstore_messages, 'marker';
SELECT * FROM pg_temp.received();

SELECT ntf_dblink.dblink_disconnect('ntf');
DROP SCHEMA ntf_dblink CASCADE;
