-- chatstore 1.4 under tenant isolation, used by a non-owner application
-- role: items, streams, summaries and feedback stay in their tenant, and
-- the role cannot write the new tables but through the functions
\pset null '(null)'
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- tenant B's data, written by the owner
SELECT saved_count FROM chat_save_messages('mt_b', '[{"id":"bq","role":"user","content":"B asks"},
  {"id":"ba","role":"assistant","content":"B answer","model":"m"}]', 'mt_tenant_b');
SELECT chat_compact('mt_b', 1, '"summary of B"');
SELECT rating FROM chat_set_feedback('mt_b', 'ba', 1);
SELECT id FROM chat_stream_start('mt_b', message_id => 'bs', user_id => 'mt_tenant_b');
SELECT chat_stream_append('mt_b', 'bs', 'B streams');

CREATE ROLE regress_chatstore_mt_app LOGIN NOSUPERUSER NOBYPASSRLS;
SELECT count(*) > 0 AS granted FROM chat_grant_app_role('regress_chatstore_mt_app');
-- This file sets the tenant for the session, which a distributed database
-- (Citus) refuses (80_tenant checks that and the rows of summaries and
-- feedback there, with the tenant set for each transaction): there it
-- ends, after the cleanup it ends with
SELECT _chat_is_distributed() AS distributed \gset
\if :distributed
DROP OWNED BY regress_chatstore_mt_app;
DROP ROLE regress_chatstore_mt_app;
\quit
\endif
SELECT table_name, keyed_on FROM chat_enable_tenant_isolation()
WHERE table_name::text IN ('chat_summaries', 'chat_feedback', 'chat_stream_deltas') ORDER BY 1;
-- the new tables have the policy (the unlogged stream deltas are internal:
-- no policy, no grant; only the stream functions touch them)
SELECT table_name, rls_enabled, has_policy FROM chat_tenant_isolation_status()
WHERE table_name::text IN ('chat_summaries', 'chat_feedback', 'chat_stream_deltas') ORDER BY 1;
SELECT has_table_privilege('regress_chatstore_mt_app', 'chat_stream_deltas', 'SELECT') AS deltas_readable,
       has_table_privilege('regress_chatstore_mt_app', 'chat_feedback', 'INSERT') AS feedback_insertable,
       has_table_privilege('regress_chatstore_mt_app', 'chat_summaries', 'UPDATE') AS summaries_updatable;

SET ROLE regress_chatstore_mt_app;
SET chatstore.tenant = 'mt_tenant_a';
-- tenant A works with items, streams, summaries, feedback
SELECT saved_count FROM chat_append_messages('mt_a', '[{"type":"message","role":"user","content":"A asks"},
  {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
  {"type":"function_call_output","call_id":"c","output":"r"}]');
SELECT user_id FROM chat_threads WHERE id = 'mt_a';
SELECT id FROM chat_stream_start('mt_a', message_id => 'as');
SELECT chat_stream_append('mt_a', 'as', 'A streams');
SELECT status, text FROM chat_stream_read('mt_a', 'as');
SELECT status FROM chat_stream_finish('mt_a', 'as');
SELECT chat_compact('mt_a', 1, '"summary of A"');
SELECT rating, user_id FROM chat_set_feedback('mt_a', 'as', -1, 'slow');
SELECT jsonb_array_length(chat_context('mt_a', format => 'responses')) AS a_items;
-- and sees nothing of B
SELECT count(*) AS b_summaries FROM chat_summaries WHERE thread_id = 'mt_b';
SELECT count(*) AS b_feedback FROM chat_feedback WHERE thread_id = 'mt_b';
SELECT count(*) AS b_summaries_fn FROM chat_summaries('mt_b');
SELECT count(*) AS b_feedback_fn FROM chat_list_feedback('mt_b');
SELECT count(*) AS b_stream_read FROM chat_stream_read('mt_b', 'bs');
SELECT chat_context('mt_b') AS b_context, chat_context('mt_b', format => 'responses') AS b_items;
SELECT count(*) AS b_chat_items FROM chat_items('mt_b');
SELECT sum(feedback_up) AS up, sum(feedback_down) AS down FROM chat_usage_daily();
-- and cannot touch B through the functions
SELECT pg_temp.try($$SELECT chat_stream_append('mt_b', 'bs', 'x')$$);
SELECT pg_temp.try($$SELECT chat_stream_finish('mt_b', 'bs')$$);
SELECT pg_temp.try($$SELECT chat_compact('mt_b', 1, '"x"')$$);
SELECT pg_temp.try($$SELECT chat_delete_summary('mt_b', 1)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('mt_b', 'ba', -1)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('mt_b', 'ba', -1, rater => 'mt_tenant_a')$$);
SELECT pg_temp.try($$SELECT chat_delete_feedback('mt_b', 'ba')$$);
SELECT pg_temp.try($$SELECT chat_append_messages('mt_b', '[{"role":"user","content":"x"}]')$$);
-- nor write the tables directly
SELECT pg_temp.try($$INSERT INTO chat_feedback (thread_id, message_id, user_id, rating) VALUES ('mt_a', 'as', 'x', 1)$$);
SELECT pg_temp.try($$UPDATE chat_summaries SET up_to_seq = 2$$);
SELECT pg_temp.try($$SELECT * FROM chat_stream_deltas$$);
-- without a tenant set, writes are refused
RESET chatstore.tenant;
SELECT pg_temp.try($$SELECT chat_stream_start('mt_a')$$);
SELECT pg_temp.try($$SELECT chat_compact('mt_a', 1, '"x"')$$);
RESET ROLE;
-- B's data is as it was
SELECT (SELECT count(*) FROM chat_summaries WHERE thread_id = 'mt_b') AS b_summaries,
       (SELECT rating FROM chat_feedback WHERE thread_id = 'mt_b') AS b_rating,
       (SELECT text FROM chat_stream_read('mt_b', 'bs')) AS b_stream,
       (SELECT count(*) FROM chat_messages WHERE thread_id = 'mt_b') AS b_messages;
SELECT count(*) > 0 AS disabled FROM chat_disable_tenant_isolation();
DROP OWNED BY regress_chatstore_mt_app;
DROP ROLE regress_chatstore_mt_app;
