-- chatstore 1.4: streamed messages (start, append, read, finish) and their
-- notifications on channel chatstore_stream
\pset null '(null)'
CREATE SCHEMA st_dblink;
CREATE EXTENSION dblink SCHEMA st_dblink;
SELECT st_dblink.dblink_connect('st',
    format('host=%s port=%s dbname=%s user=%s',
           split_part(current_setting('unix_socket_directories'), ',', 1),
           current_setting('port'), current_database(), current_user));
SELECT st_dblink.dblink_exec('st', 'LISTEN chatstore_stream');
SELECT st_dblink.dblink_exec('st', 'LISTEN chatstore_messages');
-- what the listener received up to a marker (sent by the caller after the
-- action under test, in its own transaction)
CREATE FUNCTION pg_temp.received() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    n record;
    seen boolean := false;
    deadline timestamptz := clock_timestamp() + interval '10 seconds';
BEGIN
    WHILE NOT seen AND clock_timestamp() < deadline LOOP
        FOR n IN SELECT * FROM st_dblink.dblink_get_notify('st') LOOP
            IF n.extra = 'marker' THEN seen := true;
            ELSE RETURN NEXT n.notify_name || ' ' ||
                regexp_replace(n.extra, '"message_id": "[0-9a-f-]{36}"', '"message_id": "(generated)"'); END IF;
        END LOOP;
        IF NOT seen THEN PERFORM pg_sleep(0.01); END IF;
    END LOOP;
END $$;
SET chatstore.notify = on;

SELECT saved_count FROM chat_save_messages('sm1', '[{"role":"user","content":"tell me"}]', 'ann');
SELECT * FROM chat_stream_start('sm1', message_id => 'a1', model => 'gpt-s', user_id => 'ann');
SELECT pg_notify('chatstore_stream', 'marker');
SELECT * FROM pg_temp.received();
SELECT chat_stream_append('sm1', 'a1', 'Hello, ', 'ann');
SELECT chat_stream_append('sm1', 'a1', 'wörld');
SELECT chat_stream_append('sm1', 'a1', '');
SELECT pg_notify('chatstore_stream', 'marker');
SELECT * FROM pg_temp.received();
-- readers see the status and the text so far, from any offset
SELECT * FROM chat_stream_read('sm1', 'a1');
SELECT * FROM chat_stream_read('sm1', 'a1', 8);
SELECT * FROM chat_stream_read('sm1', 'a1', 100);
SELECT * FROM chat_stream_read('sm1', 'a1', -5, 'ann');
SELECT count(*) AS other_user_reads FROM chat_stream_read('sm1', 'a1', 0, 'bob');
SELECT seq, status, content FROM chat_history('sm1');
-- chat_context leaves the unfinished message out unless asked
SELECT chat_context('sm1'), chat_context('sm1', include_incomplete => true);
-- starting again under the same id resumes the stream
SELECT * FROM chat_stream_start('sm1', message_id => 'a1', user_id => 'ann');
SELECT (chat_stream_finish('sm1', 'a1', finish_reason => 'stop',
                           usage => '{"input_tokens": 12, "output_tokens": 4}', user_id => 'ann')).status;
SELECT pg_notify('chatstore_stream', 'marker');
SELECT * FROM pg_temp.received();
SELECT seq, status, finish_reason, content, token_count, usage FROM chat_history('sm1');
SELECT * FROM chat_stream_read('sm1', 'a1', 7);
SELECT count(*) AS deltas_left FROM chat_stream_deltas;
-- the thread's sums equal its messages' (exact aggregates)
SELECT t.prompt_tokens = s.p AND t.completion_tokens = s.c AND t.total_tokens = s.tot AS sums_exact,
       t.message_count, t.last_seq
FROM chat_threads AS t,
     (SELECT sum(chat_usage_tokens(usage, 'prompt')) AS p, sum(chat_usage_tokens(usage, 'completion')) AS c,
             sum(chat_usage_tokens(usage, 'total')) AS tot FROM chat_messages WHERE thread_id = 'sm1') AS s
WHERE t.id = 'sm1';
-- an id-less re-send of the finished conversation stores nothing
SELECT saved_count, skipped_count FROM chat_save_messages('sm1',
    '[{"role":"user","content":"tell me"},{"role":"assistant","content":"Hello, wörld"}]');
SELECT chat_context('sm1');
-- a stream with a generated id, finished failed
SELECT seq FROM chat_stream_start('sm1');
-- (the id looked up first: a statement that reads a chat table and calls a
-- chatstore function would run the function on a Citus worker)
SELECT id AS sm1_3 FROM chat_messages WHERE thread_id = 'sm1' AND seq = 3 \gset
SELECT (chat_stream_finish('sm1', :'sm1_3', 'failed')).status;
SELECT pg_notify('chatstore_stream', 'marker');
SELECT * FROM pg_temp.received();

-- errors
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT * FROM chat_stream_start('sm2', message_id => 'b1');
SELECT pg_temp.try($$SELECT chat_stream_append('sm2', 'b1', NULL)$$);
SELECT pg_temp.try($$SELECT chat_stream_append('nope', 'b1', 'x')$$);
SELECT pg_temp.try($$SELECT chat_stream_append('sm2', 'nope', 'x')$$);
SELECT pg_temp.try($$SELECT chat_stream_append('sm2', 'b1', 'x', 'bob')$$);
SELECT pg_temp.try($$SELECT chat_stream_append('sm2', 'b1', 'x', '')$$);
SELECT pg_temp.try($$SELECT chat_stream_append(NULL, 'b1', 'x')$$);
SELECT pg_temp.try($$SELECT chat_stream_append('sm1', 'a1', 'x')$$);
SET chatstore.max_message_bytes = 1024;
SELECT pg_temp.try($$SELECT chat_stream_append('sm2', 'b1', repeat('x', 1000))$$);
SELECT pg_temp.try($$SELECT chat_stream_append('sm2', 'b1', repeat('y', 25))$$);
RESET chatstore.max_message_bytes;
SELECT pg_temp.try($$SELECT chat_stream_finish('sm2', 'b1', 'done')$$);
SELECT pg_temp.try($$SELECT chat_stream_finish('sm2', 'b1', NULL)$$);
SELECT pg_temp.try($$SELECT chat_stream_finish('sm2', 'b1', finish_reason => repeat('r', 65))$$);
SELECT pg_temp.try($$SELECT chat_stream_finish('sm2', 'b1', usage => '[1]')$$);
SELECT pg_temp.try($$SELECT chat_stream_finish('sm2', 'b1', usage => '{"output_tokens": 1.5}')$$);
SELECT pg_temp.try($$SELECT chat_stream_finish('sm2', 'b1', usage => '{"output_tokens": 3000000000}')$$);
SELECT pg_temp.try($$SELECT chat_update_message('sm2', 'b1', content => 'x')$$);
SELECT pg_temp.try($$SELECT chat_stream_start('sm1', message_id => 'a1')$$);
SELECT pg_temp.try($$SELECT chat_stream_start('sm2', role => NULL)$$);
SELECT pg_temp.try($$SELECT chat_stream_start('sm2', role => 'robot')$$);
SELECT pg_temp.try($$SELECT chat_stream_start('sm1', user_id => 'bob')$$);
-- nothing of the failed calls was written
SELECT * FROM chat_stream_read('sm2', 'b1');
SELECT message_count, total_tokens FROM chat_threads WHERE id = 'sm2';
-- a deleted message's stream: its text goes with the next purge
SELECT chat_stream_append('sm2', 'b1', 'abc');
SELECT chat_delete_message('sm2', 'b1');
SELECT count(*) AS orphan_deltas FROM chat_stream_deltas WHERE thread_id = 'sm2';
SELECT message_tombstones >= 0 AS purged FROM chat_retention_purge_tombstones();
SELECT count(*) AS orphan_deltas FROM chat_stream_deltas WHERE thread_id = 'sm2';
SELECT pg_temp.try($$SELECT chat_stream_start('sm2', message_id => 'b1')$$);
SELECT pg_notify('chatstore_stream', 'marker');
SELECT * FROM pg_temp.received();
RESET chatstore.notify;
SELECT st_dblink.dblink_disconnect('st');
DROP SCHEMA st_dblink CASCADE;
