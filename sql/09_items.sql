-- chatstore 1.4: Responses / Conversations items next to chat messages,
-- the two output formats of chat_context, tool calls paired by id
\pset null '(null)'

-- every item type round-trips as saved (jsonb equality), in one batch with
-- chat messages; a reasoning item's encrypted_content comes back equal
CREATE TEMP TABLE sent AS SELECT jsonb_build_array(
  '{"type":"message","role":"user","content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"https://x/y.png","detail":"low"},{"type":"input_file","file_id":"file_1","filename":"a.pdf"}]}'::jsonb,
  '{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thinking"}],"encrypted_content":"gAAAAABn0x+/=="}'::jsonb,
  '{"type":"function_call","id":"fc_1","call_id":"call_a","name":"lookup","arguments":"{\"q\":\"x\"}","status":"completed"}'::jsonb,
  '{"type":"function_call_output","call_id":"call_a","output":[{"type":"input_text","text":"found"}]}'::jsonb,
  '{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Here.","annotations":[]},{"type":"refusal","refusal":"not that"}]}'::jsonb,
  '{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"q"}}'::jsonb,
  '{"type":"compaction","id":"cmp_1","encrypted_content":"opaque"}'::jsonb,
  '{"type":"message","role":"developer","content":"be brief"}'::jsonb) AS items;
SELECT saved_count, first_seq, last_seq FROM chat_save_messages('it1', (SELECT items FROM sent));
SELECT (SELECT jsonb_agg(i.item ORDER BY i.seq) FROM chat_items('it1') AS i) = (SELECT items FROM sent) AS round_trip;
SELECT i.item -> 'encrypted_content' AS encrypted_content FROM chat_items('it1') AS i WHERE i.id = 'rs_1';
-- the columns: role, content (text of the parts), call ids
SELECT seq, CASE WHEN id ~ '^[0-9a-f]{8}-' THEN '(generated)' ELSE id END AS id, role, content, tool_call_id, item ->> 'type' AS type
FROM chat_messages WHERE thread_id = 'it1' ORDER BY seq;
-- an item's id is the message id: a re-send stores nothing, with or without ids
SELECT saved_count, skipped_count FROM chat_save_messages('it1', (SELECT items FROM sent));
-- the chatstore keys of an item go to the columns, not into the item
SELECT saved_count FROM chat_save_messages('it1', '[{"type":"message","role":"assistant","content":"tok","model":"gpt-x","usage":{"input_tokens":3,"output_tokens":2},"metadata":{"k":1},"created_at":"2024-01-01T00:00:00Z"}]');
SELECT model, usage, metadata, token_count, created_at = '2024-01-01T00:00:00Z' AS created, chat_message_json(ROW(m.*)::chat_messages) -> 'item' AS item
FROM chat_messages AS m WHERE thread_id = 'it1' AND seq = 9;
SELECT prompt_tokens, completion_tokens, total_tokens FROM chat_threads WHERE id = 'it1';
-- the Agents SDK's own shapes (callId, function_call_result) are items too
SELECT saved_count FROM chat_save_messages('it2', '[
  {"type":"message","role":"user","content":"hi"},
  {"type":"function_call","callId":"c9","name":"f","arguments":"{}","status":"completed","providerData":{"x":1}},
  {"type":"function_call_result","callId":"c9","name":"f","status":"completed","output":{"type":"text","text":"ok"}}]');
SELECT seq, role, tool_call_id FROM chat_messages WHERE thread_id = 'it2' ORDER BY seq;
SELECT chat_context('it2');

-- ---------------------------------------------------------------------
-- conversions
-- ---------------------------------------------------------------------
-- items -> chat: parts converted, reasoning/other items left out, calls in
-- the OpenAI shape, the answer a tool message
SELECT jsonb_pretty(chat_context('it1'));
-- items -> responses: as saved
SELECT chat_context('it1', format => 'responses') = (SELECT jsonb_agg(i.item ORDER BY i.seq) FROM chat_items('it1') AS i) AS same_items;
-- chat -> responses: a message per text, a function_call per tool call,
-- a function_call_output per tool message; LangChain calls converted
SELECT saved_count FROM chat_save_messages('cv1', '[
  {"role":"system","content":"sys"},
  {"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"https://i/p.png","detail":"high"}}]},
  {"role":"assistant","content":"calling","tool_calls":[{"id":"k1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
  {"role":"tool","tool_call_id":"k1","content":"r1"},
  {"type":"ai","content":"","tool_calls":[{"name":"g","args":{"b":2},"id":"k2","type":"tool_call"}]},
  {"type":"tool","tool_call_id":"k2","content":"r2"},
  {"role":"assistant","content":"done"}]');
SELECT jsonb_pretty(chat_context('cv1', format => 'responses'));
-- LangChain tool_calls come out of the chat format in the OpenAI shape
SELECT chat_context('cv1') -> 4 AS langchain_call_as_openai;
-- chat_items is the raw form: nothing left out
SELECT seq, item ->> 'type' AS type, item ->> 'call_id' AS call_id FROM chat_items('cv1');
-- consecutive function_call items after an assistant message: one assistant
-- message with every call; the answers follow it
SELECT saved_count FROM chat_save_messages('cv2', '[
  {"type":"message","role":"user","content":"two things"},
  {"type":"reasoning","id":"rs_9","summary":[]},
  {"type":"message","role":"assistant","content":[{"type":"output_text","text":"on it","annotations":[]}]},
  {"type":"function_call","call_id":"p1","name":"f","arguments":"1"},
  {"type":"function_call","call_id":"p2","name":"f","arguments":"2"},
  {"type":"function_call_output","call_id":"p2","output":"two"},
  {"type":"function_call_output","call_id":"p1","output":"one"}]');
SELECT jsonb_pretty(chat_context('cv2'));
-- calls made one after the other stay separate messages
SELECT saved_count FROM chat_save_messages('cv3', '[
  {"type":"message","role":"user","content":"q"},
  {"type":"function_call","call_id":"s1","name":"f","arguments":"1"},
  {"type":"function_call_output","call_id":"s1","output":"one"},
  {"type":"function_call","call_id":"s2","name":"f","arguments":"2"},
  {"type":"function_call_output","call_id":"s2","output":"two"}]');
SELECT jsonb_path_query_array(chat_context('cv3'), '$[*].role') AS roles;

-- ---------------------------------------------------------------------
-- tool calls by id (the issue's thread: user, assistant calling call_a and
-- call_b, answer a, answer b, assistant)
-- ---------------------------------------------------------------------
SELECT saved_count FROM chat_save_messages('pr1', '[
  {"role":"user","content":"q"},
  {"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"call_b","type":"function","function":{"name":"f","arguments":"{}"}}]},
  {"role":"tool","tool_call_id":"call_a","content":"A"},
  {"role":"tool","tool_call_id":"call_b","content":"B"},
  {"role":"assistant","content":"done"}]');
-- the window ends inside the group: neither the call nor answer a
SELECT chat_context('pr1', before_seq => 4);
SELECT chat_context('pr1', before_seq => 4, format => 'responses');
-- the window starts inside the group: answers without their call are out
SELECT chat_context('pr1', after_seq => 2);
SELECT chat_context('pr1', max_messages => 3);
-- chat_history with a budget: the same rule on its rows
SELECT string_agg(seq || ':' || role, ' ' ORDER BY seq) FROM chat_history('pr1', before_seq => 4, max_tokens => 1000);
SELECT string_agg(seq || ':' || role, ' ' ORDER BY seq) FROM chat_history('pr1', max_messages => 3, max_tokens => 1000);
SELECT string_agg(seq || ':' || role, ' ' ORDER BY seq) FROM chat_history('pr1', max_tokens => 1000);
-- answers stored apart from their call (another message between them):
-- the answers follow their call in the output
SELECT saved_count FROM chat_save_messages('pr2', '[
  {"role":"user","content":"q"},
  {"role":"assistant","content":null,"tool_calls":[{"id":"x1","type":"function","function":{"name":"f","arguments":"{}"}}]},
  {"role":"user","content":"hurry"},
  {"role":"tool","tool_call_id":"x1","content":"X"}]');
SELECT jsonb_path_query_array(chat_context('pr2'), '$[*].role') AS roles;
-- a call never answered, an answer to nothing, a call without an id
SELECT saved_count FROM chat_save_messages('pr3', '[
  {"role":"user","content":"q"},
  {"role":"assistant","content":"c","tool_calls":[{"id":"n1","type":"function","function":{"name":"f","arguments":"{}"}}]},
  {"role":"tool","tool_call_id":"zz","content":"stray"},
  {"role":"assistant","content":"","tool_calls":[{"name":"g","args":{},"id":null}]},
  {"role":"user","content":"end"}]');
SELECT chat_context('pr3');
SELECT string_agg(seq || ':' || role, ' ' ORDER BY seq) FROM chat_history('pr3', max_tokens => 1000);

-- ---------------------------------------------------------------------
-- errors: each a clear SQLSTATE; nothing is written
-- ---------------------------------------------------------------------
CREATE FUNCTION pg_temp.try(batch text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chat_save_messages('ie1', ('[' || batch || ']')::jsonb);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try('{"type":"message","role":"tool","content":"x"}');
SELECT pg_temp.try('{"type":"message","content":"x"}');
SELECT pg_temp.try('{"type":"message","role":"user"}');
SELECT pg_temp.try('{"type":"message","role":"user","content":5}');
SELECT pg_temp.try('{"type":"function_call","name":"f","arguments":"{}"}');
SELECT pg_temp.try('{"type":"function_call","call_id":7,"name":"f","arguments":"{}"}');
SELECT pg_temp.try('{"type":"function_call","call_id":"","name":"f","arguments":"{}"}');
SELECT pg_temp.try('{"type":"function_call","call_id":"c","arguments":"{}"}');
SELECT pg_temp.try('{"type":"function_call","call_id":"c","name":"f","arguments":{}}');
SELECT pg_temp.try('{"type":"function_call_output","call_id":"c"}');
SELECT pg_temp.try('{"type":"function_call_output","call_id":"c","output":true}');
SELECT pg_temp.try('{"type":"function_call_output","output":"x"}');
SELECT pg_temp.try('{"type":"","content":"x"}');
SELECT pg_temp.try('{"type":"' || repeat('t', 65) || '"}');
SELECT pg_temp.try('{"type":"reasoning","id":5}');
SELECT pg_temp.try('{"type":"reasoning","metadata":[]}');
SELECT pg_temp.try('{"type":"reasoning","created_at":"yesterday"}');
SELECT count(*) AS rows_written FROM chat_messages WHERE thread_id = 'ie1';
SELECT pg_temp.try('{"type":"message","role":"user","content":"' || repeat('x', 11) || '"}') AS a_valid_item_saves;
SELECT chat_context('it1', format => 'xml');
SELECT chat_context('it1', format => NULL);

-- ---------------------------------------------------------------------
-- chat_append_messages: a batch appended whole (a session store's log)
-- ---------------------------------------------------------------------
-- the same id-less text again, items sharing an id (the Agents SDK's Chat
-- Completions model gives every item of a response one id): all kept; an
-- item keeps its own id inside, the rows get new ones
SELECT saved_count, skipped_count FROM chat_append_messages('ap1', '[
  {"type":"message","role":"user","content":"ok"},
  {"type":"message","role":"user","content":"ok"},
  {"id":"chatcmpl-1","type":"message","role":"assistant","content":[{"type":"output_text","text":"Looking."}]},
  {"id":"chatcmpl-1","type":"function_call","callId":"cx","name":"f","arguments":"{}","providerData":{"i":0}},
  {"type":"function_call_result","callId":"cx","name":"f","status":"completed","output":{"type":"text","text":"done"}}]');
SELECT saved_count, skipped_count FROM chat_append_messages('ap1', '[{"type":"message","role":"user","content":"ok"}]');
SELECT count(*) AS rows, count(DISTINCT id) AS ids, count(*) FILTER (WHERE id = 'chatcmpl-1') AS item_id_as_row_id
FROM chat_messages WHERE thread_id = 'ap1';
SELECT jsonb_agg(i.item ORDER BY i.seq) -> 3 AS kept_as_given FROM chat_items('ap1') AS i;
-- a chat message's id is its message id, and must be new
SELECT saved_count FROM chat_append_messages('ap1', '[{"id":"c1","role":"user","content":"x"}]');
DO $$
BEGIN
    PERFORM chat_append_messages('ap1', '[{"id":"c1","role":"user","content":"again"}]');
EXCEPTION WHEN unique_violation THEN
    RAISE NOTICE '23505: %', SQLERRM;
END $$;
-- the Responses API's shapes for the SDK's items in format 'responses'
SELECT jsonb_pretty(chat_context('ap1', format => 'responses', max_messages => 4));
SELECT chat_context('ap1', max_messages => 4);

-- an answer answers the latest call with its id before it: providers that
-- number calls per turn (call_0 each turn) reuse ids
SELECT saved_count FROM chat_save_messages('ru1', '[{"role":"user","content":"weather Porto?"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"call_0","type":"function","function":{"name":"w","arguments":"{\"c\":\"Porto\"}"}}]},
 {"role":"tool","tool_call_id":"call_0","content":"18C"},{"role":"assistant","content":"18C in Porto"},
 {"role":"user","content":"and Lisbon?"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"call_0","type":"function","function":{"name":"w","arguments":"{\"c\":\"Lisbon\"}"}}]},
 {"role":"tool","tool_call_id":"call_0","content":"21C"}]');
SELECT jsonb_path_query_array(chat_context('ru1'), '$[*] ? (@.role == "tool" || @.tool_calls != null)') AS calls_and_answers;
-- the last call still pending: it is left out, the first turn stays whole
SELECT saved_count FROM chat_save_messages('ru2', '[{"type":"message","role":"user","content":"a"},
 {"type":"function_call","call_id":"call_0","name":"f","arguments":"1"},
 {"type":"function_call_output","call_id":"call_0","output":"one"},
 {"type":"message","role":"user","content":"b"},
 {"type":"function_call","call_id":"call_0","name":"f","arguments":"2"}]');
SELECT jsonb_path_query_array(chat_context('ru2', format => 'responses'), '$[*].type') AS types;
SELECT string_agg(seq || ':' || role, ' ' ORDER BY seq) FROM chat_history('ru2', max_tokens => 1000);
-- an answer saved before its call answers nothing
SELECT saved_count FROM chat_save_messages('ru3', '[{"role":"user","content":"q"},{"role":"tool","tool_call_id":"c1","content":"18C"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
 {"role":"user","content":"thanks"}]');
SELECT string_agg(seq || ':' || role, ' ' ORDER BY seq) FROM chat_history('ru3', max_tokens => 1000);
SELECT chat_context('ru3');
