-- chat_save_messages / chat_add_message: every bad input gets a specific
-- SQLSTATE and a message naming the element; the thread stays unchanged.
\pset null '(null)'
-- save(batch): try to save batch into thread e1 (one good message first,
-- so a partial write would show)
CREATE FUNCTION pg_temp.save(batch text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT regress.try(format('SELECT chat_save_messages(%L, %L::jsonb, %L)', 'e1',
        '[{"id": "ok-' || md5(batch) || '", "role": "user", "content": "fine"}, ' || batch || ']', 'erin'))); END
$$;
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT format('count=%s last_seq=%s rows=%s', t.message_count, t.last_seq,
                  (SELECT count(*) FROM chat_messages m WHERE m.thread_id = t.id))
    FROM chat_threads t WHERE t.id = 'e1'); END
$$;

SELECT saved_count FROM chat_save_messages('e1', '[{"id": "first", "role": "user", "content": "hello"}]', 'erin');
SELECT pg_temp.state();

-- arguments
SELECT regress.try($$SELECT chat_save_messages(NULL, '[]')$$);
SELECT regress.try($$SELECT chat_save_messages('', '[]')$$);
SELECT regress.try(format('SELECT chat_save_messages(%L, %L)', repeat('t', 513), '[]'));
SELECT regress.try($$SELECT chat_save_messages('e1', NULL)$$);
SELECT regress.try($$SELECT chat_save_messages('e1', 'null')$$);
SELECT regress.try($$SELECT chat_save_messages('e1', '{"role": "user"}')$$);
SELECT regress.try($$SELECT chat_save_messages('e1', '"text"')$$);
SELECT regress.try(format('SELECT chat_save_messages(%L, %L, %L)', 'e1', '[]', repeat('u', 513)));
SELECT pg_temp.state();

-- elements (index 1: the good message is index 0)
SELECT pg_temp.save('"just a string"');
SELECT pg_temp.save('[1, 2]');
SELECT pg_temp.save('{"content": "no role"}');
SELECT pg_temp.save('{"role": "robot", "content": "x"}');
SELECT pg_temp.save('{"role": 1, "content": "x"}');
-- (a type that is not a role is a Responses item of that type, kept: 1.4)
SELECT pg_temp.save('{"type": "chatbot", "content": "x"}');
SELECT pg_temp.save('{"type": true, "content": "x"}');
SELECT pg_temp.save('{"role": "user", "id": 7, "content": "x"}');
SELECT pg_temp.save('{"role": "user", "id": "", "content": "x"}');
SELECT pg_temp.save(format('{"role": "user", "id": "%s", "content": "x"}', repeat('i', 513)));
SELECT pg_temp.save('{"role": "user"}');
SELECT pg_temp.save('{"role": "user", "content": null}');
SELECT pg_temp.save('{"role": "user", "content": 42}');
SELECT pg_temp.save('{"role": "user", "content": {"text": "x"}}');
SELECT pg_temp.save('{"role": "user", "content": ["ok", 3]}');
SELECT pg_temp.save('{"role": "user", "content": [{"type": "text"}]}');
SELECT pg_temp.save('{"role": "user", "content": "x", "name": 5}');
SELECT pg_temp.save('{"role": "user", "content": "x", "model": ["m"]}');
SELECT pg_temp.save('{"role": "tool", "content": "x", "tool_call_id": {}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "parent_id": false}');
SELECT pg_temp.save(format('{"role": "user", "content": "x", "parent_id": "%s"}', repeat('p', 513)));
SELECT pg_temp.save('{"role": "assistant", "tool_calls": {"id": "c"}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "metadata": [1]}');
SELECT pg_temp.save('{"role": "user", "content": "x", "metadata": "m"}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": 3}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage_metadata": []}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": {"input_tokens": "12"}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": {"output_tokens": -1}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": {"total_tokens": 1e30}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": {"output_tokens": 3000000000}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "token_count": "5"}');
SELECT pg_temp.save('{"role": "user", "content": "x", "token_count": 1.5}');
SELECT pg_temp.save('{"role": "user", "content": "x", "token_count": -1}');
SELECT pg_temp.save('{"role": "user", "content": "x", "token_count": 2147483648}');
SELECT pg_temp.save('{"role": "user", "content": "x", "created_at": 1700000000}');
SELECT pg_temp.save('{"role": "user", "content": "x", "created_at": "yesterday-ish"}');
SELECT pg_temp.save('{"role": "user", "content": "x", "created_at": "2024-13-45T00:00:00Z"}');
-- token sums never overflow silently: within a message, across a batch,
-- and in the thread's totals
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": {"input_tokens": 9223372036854775807, "output_tokens": 5}}');
SELECT pg_temp.save('{"role": "user", "content": "x", "usage": {"input_tokens": 4611686018427387904}}, {"role": "user", "content": "y", "usage": {"input_tokens": 4611686018427387904}}');
SELECT saved_count FROM chat_save_messages('e-sum', '[{"role": "user", "content": "x", "usage": {"input_tokens": 9223372036854775000}}]');
SELECT regress.try($$SELECT chat_save_messages('e-sum', '[{"role": "user", "content": "y", "usage": {"input_tokens": 1000}}]')$$);
SELECT message_count, prompt_tokens FROM chat_threads WHERE id = 'e-sum';
-- the error names the right element deep in a batch
SELECT pg_temp.save('{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "nope", "content": "c"}');
SELECT pg_temp.state();

-- limits (documented in README), enforced with 54000
SET chatstore.max_batch_messages = 2;
SELECT pg_temp.save('{"role": "user", "content": "a"}, {"role": "user", "content": "b"}');
RESET chatstore.max_batch_messages;
SET chatstore.max_message_bytes = 1024;
SELECT pg_temp.save(format('{"role": "user", "content": "%s"}', repeat('x', 1025)));
SELECT pg_temp.save(format('{"role": "user", "content": ["%s"]}', repeat('x', 1025)));
-- exactly at the limit is fine
SELECT pg_temp.save(format('{"id": "at-limit", "role": "user", "content": "%s"}', repeat('x', 1024)));
RESET chatstore.max_message_bytes;
SELECT regress.try($$SET chatstore.max_batch_messages = 0$$);
SELECT regress.try($$SET chatstore.no_such_setting = 1$$);
SELECT pg_temp.state();

-- ---------------------------------------------------------------------
-- chat_add_message
-- ---------------------------------------------------------------------
SELECT seq, id ~ '^[0-9a-f-]{36}$' AS uuid FROM chat_add_message('e2', 'user', 'first', 'erin');
SELECT * FROM chat_add_message('e2', 'ai', 'second', 'erin', '{"k": 1}', 'given-id', 'gpt-x',
    NULL, NULL, NULL, '{"prompt_tokens": 3, "completion_tokens": 9}', NULL, NULL, '2024-05-06 07:08:09+00');
-- an identical message appended again is a new message (append never dedups)
SELECT seq FROM chat_add_message('e2', 'user', 'first', 'erin');
SELECT * FROM chat_add_message(thread_id => 'e2', role => 'assistant', content => NULL,
    tool_calls => '[{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]',
    message_id => 'tc');
SELECT * FROM chat_add_message(thread_id => 'e2', role => 'tool', content => 'result',
    tool_call_id => 'c9', name => 'f', token_count => 2, parent_id => 'tc', message_id => 'tr');
SELECT seq, id, role, content, model, metadata, token_count, usage, tool_call_id, parent_id,
       CASE WHEN id = 'given-id' THEN created_at::text ELSE 'recent: ' || (created_at BETWEEN now() - interval '1 hour' AND now()) END AS created
FROM chat_messages WHERE thread_id = 'e2' AND id IN ('given-id', 'tc', 'tr') ORDER BY seq;
SELECT message_count, last_seq, prompt_tokens, completion_tokens, total_tokens FROM chat_threads WHERE id = 'e2';
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'dup', message_id => 'given-id')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'dup', message_id => 'tr')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'x', 'mallory')$$);
SELECT regress.try($$SELECT chat_add_message(NULL, 'user', 'x')$$);
SELECT regress.try($$SELECT chat_add_message('', 'user', 'x')$$);
SELECT regress.try($$SELECT chat_add_message('e2', NULL, 'x')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'wizard', 'x')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', NULL)$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'x', metadata => '[]')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'x', message_id => '')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'assistant', NULL, tool_calls => '{}')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'assistant', NULL, tool_calls => '[]')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'x', usage => '5')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'x', usage => '{"input_tokens": "a"}')$$);
SELECT regress.try($$SELECT chat_add_message('e2', 'user', 'x', token_count => -5)$$);
SELECT regress.try(format('SELECT chat_add_message(%L, %L, %L, parent_id => %L)', 'e2', 'user', 'x', repeat('p', 600)));
SET chatstore.max_message_bytes = 1024;
SELECT regress.try(format('SELECT chat_add_message(%L, %L, %L)', 'e2', 'user', repeat('x', 2000)));
RESET chatstore.max_message_bytes;
SELECT message_count, last_seq FROM chat_threads WHERE id = 'e2';

-- chat_usage_tokens
SELECT chat_usage_tokens('{"input_tokens": 3, "output_tokens": 4}', 'prompt') AS p,
       chat_usage_tokens('{"input_tokens": 3, "output_tokens": 4}', 'completion') AS c,
       chat_usage_tokens('{"input_tokens": 3, "output_tokens": 4}', 'total') AS t,
       chat_usage_tokens('{"prompt_tokens": 3, "total_tokens": 10}', 'total') AS t2,
       chat_usage_tokens('{}', 'total') AS none;
SELECT regress.try($$SELECT chat_usage_tokens('{}', 'bogus')$$);
SELECT regress.try($$SELECT chat_usage_tokens('[1]', 'total')$$);
SELECT regress.try($$SELECT chat_usage_tokens('{"total_tokens": true}', 'total')$$);
