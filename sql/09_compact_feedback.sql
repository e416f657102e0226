-- chatstore 1.4: compaction (chat_compact: a summary standing for the
-- messages up to a seq) and feedback on messages
\pset null '(null)'
SELECT saved_count FROM chat_save_messages('cp1', '[
  {"id":"s","role":"system","content":"be kind"},
  {"id":"u1","role":"user","content":"one"},
  {"id":"a1","role":"assistant","content":"uno"},
  {"id":"u2","role":"user","content":"two"},
  {"id":"a2","role":"assistant","content":"dos"},
  {"id":"u3","role":"user","content":"three"}]', 'cara');
SELECT chat_compact('cp1', 3, '"They counted to one."', 'cara');
-- leading system message, the summary, the messages after it
SELECT chat_context('cp1');
SELECT chat_context('cp1', max_messages => 1);
SELECT chat_context('cp1', format => 'responses');
-- a budget counts the system message and the summary (token_count given)
SELECT chat_compact('cp1', 4, '{"role":"user","content":"Counted to two."}', 'cara', token_count => 5);
SELECT jsonb_path_query_array(chat_context('cp1', max_tokens => 9), '$[*].content') AS within_9;
SELECT jsonb_path_query_array(chat_context('cp1', max_tokens => 100), '$[*].content') AS within_100;
-- the summarized messages stay readable
SELECT count(*) FROM chat_history('cp1');
-- a window that ends before the summary's messages does not use it
SELECT jsonb_path_query_array(chat_context('cp1', before_seq => 4), '$[*].content') AS before_4;
-- forward paging (after_seq) reads messages, not summaries
SELECT jsonb_path_query_array(chat_context('cp1', after_seq => 4), '$[*].content') AS after_4;
-- a provider's opaque compaction item: kept as given; no chat form
SELECT chat_compact('cp1', 5, '{"type":"compaction","id":"cmp_9","encrypted_content":"zzz"}', 'cara');
SELECT chat_context('cp1', format => 'responses');
SELECT chat_context('cp1');
SELECT id, up_to_seq, summary, token_count FROM chat_summaries('cp1', 'cara');
SELECT count(*) AS others FROM chat_summaries('cp1', 'dan');
SELECT chat_delete_summary('cp1', 3, 'cara'), chat_delete_summary('cp1', 3, 'cara');
SELECT jsonb_path_query_array(chat_context('cp1'), '$[*].content') AS after_delete;
-- a branched thread: a summary of another branch does not apply
SELECT id FROM chat_edit_message('cp1', 'u2', 'deux', user_id => 'cara', new_message_id => 'u2b');
SELECT jsonb_path_query_array(chat_context('cp1'), '$[*].content') AS on_new_branch;
SELECT chat_switch_branch('cp1', 'u3', 'cara') IS NOT NULL AS switched_back;
SELECT jsonb_path_query_array(chat_context('cp1'), '$[*].content') AS on_old_branch;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try($$SELECT chat_compact('cp1', NULL, '"x"')$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 99, '"x"')$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 4, '"x"')$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, NULL)$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, '[1]')$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, '{"role":"tool","content":"x"}')$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, '{"type":""}')$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, '"x"', token_count => -1)$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, to_jsonb(repeat('x', 2000000)))$$);
SELECT pg_temp.try($$SELECT chat_compact('cp1', 2, '"x"', 'dan')$$);
SELECT pg_temp.try($$SELECT chat_compact('nope', 2, '"x"')$$);
SELECT count(*) AS summaries FROM chat_summaries('cp1');

-- ---------------------------------------------------------------------
-- feedback
-- ---------------------------------------------------------------------
SELECT thread_id, message_id, user_id, rating, tag, comment FROM chat_set_feedback('cp1', 'a1', 1, user_id => 'cara');
SELECT rating, tag, comment, updated_at >= created_at AS changed FROM chat_set_feedback('cp1', 'a1', -1, 'wrong', 'It said uno.', 'cara');
SELECT message_id, user_id, rating, tag FROM chat_set_feedback('cp1', 'a2', 5, rater => 'reviewer');
SELECT message_id, user_id, rating, tag FROM chat_set_feedback('cp1', 'a2', 1);
SELECT message_id, user_id, rating, tag FROM chat_list_feedback('cp1');
SELECT count(*) AS others FROM chat_list_feedback('cp1', 'dan');
SELECT chat_delete_feedback('cp1', 'a2', rater => 'reviewer'), chat_delete_feedback('cp1', 'a2', rater => 'reviewer');
-- counted per model and day
SELECT saved_count FROM chat_save_messages('cp2', '[{"id":"q","role":"user","content":"q","created_at":"2025-05-05T10:00:00Z"},
  {"id":"r","role":"assistant","content":"r","model":"m1","created_at":"2025-05-05T10:00:01Z"},
  {"id":"r2","role":"assistant","content":"r2","model":"m1","created_at":"2025-05-05T10:00:02Z"}]', 'cara');
SELECT rating FROM chat_set_feedback('cp2', 'r', 1);
SELECT rating FROM chat_set_feedback('cp2', 'r2', -1);
SELECT rating FROM chat_set_feedback('cp2', 'r2', 1, rater => 'other');
SELECT day, model, messages, feedback_up, feedback_down FROM chat_usage_daily('cara', since => '2025-05-05', until => '2025-05-06');
-- a deleted message takes its feedback with it
SELECT chat_delete_message('cp2', 'r2');
SELECT day, model, messages, feedback_up, feedback_down FROM chat_usage_daily('cara', since => '2025-05-05', until => '2025-05-06');
-- errors
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', NULL)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 11)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', -11)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 1, '')$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 1, repeat('t', 65))$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 1, NULL, repeat('c', 10001))$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'zz', 1)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('nope', 'a1', 1)$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 1, user_id => 'dan')$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 1, user_id => 'cara', rater => 'eve')$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', 'a1', 1, user_id => '')$$);
SELECT pg_temp.try($$SELECT chat_set_feedback('cp1', NULL, 1)$$);
SELECT saved_count FROM chat_save_messages('cp3', '[{"id":"m","role":"assistant","content":"x"}]');
SELECT pg_temp.try($$SELECT chat_set_feedback('cp3', 'm', 1)$$);
SELECT pg_temp.try($$SELECT chat_delete_feedback('cp1', 'zz', 'cara')$$);
SELECT count(*) AS feedback_rows FROM chat_feedback;

-- with a summary, max_messages picks the newest messages after it before
-- the budget pairs the calls (as without a summary)
SELECT saved_count FROM chat_save_messages('cp9', '[{"role":"system","content":"sys"},{"role":"user","content":"u2"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"c2","type":"function","function":{"name":"f","arguments":"{}"}}]},
 {"role":"user","content":"u4"}]');
SELECT chat_compact('cp9', 1, '"sum"');
SELECT chat_context('cp9', max_messages => 2, max_tokens => 1000, format => 'responses') AS with_budget,
       chat_context('cp9', max_messages => 2, format => 'responses') AS without;
SELECT chat_context('cp9', max_messages => 0);

-- the required ids of the new reading functions (22023), and unknown threads
SELECT pg_temp.try($$SELECT * FROM chat_summaries(NULL)$$);
SELECT pg_temp.try($$SELECT * FROM chat_list_feedback('')$$);
SELECT pg_temp.try($$SELECT * FROM chat_stream_read(NULL, 'a')$$);
SELECT pg_temp.try($$SELECT * FROM chat_stream_read('cp1', '')$$);
SELECT pg_temp.try($$SELECT * FROM chat_items(NULL)$$);
SELECT pg_temp.try($$SELECT chat_context('cp1', max_messages => -1)$$);
SELECT pg_temp.try($$SELECT chat_context('cp1', max_tokens => -1)$$);
SELECT pg_temp.try($$SELECT chat_context(NULL)$$);
SELECT pg_temp.try($$SELECT chat_delete_summary('nope', 1)$$);
SELECT pg_temp.try($$SELECT chat_append_messages('cp1', NULL)$$);
SELECT pg_temp.try($$SELECT chat_append_messages('', '[]')$$);
SELECT count(*) AS unknown_thread_reads FROM chat_items('nope');
