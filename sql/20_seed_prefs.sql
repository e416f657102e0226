-- seed systems: user preferences (Inference Gateway UI), usage totals,
-- listing with messages, search_threads (langmiddle), stats and health
\pset null '(null)'


-- ---------------------------------------------------------------- preferences
SELECT id FROM chat_create_thread('seedp-t1', 'seedp-alice', 'first');
SELECT id FROM chat_create_thread('seedp-t2', 'seedp-alice', 'second');
SELECT id FROM chat_create_thread('seedp-bob-t', 'seedp-bob', 'bob''s');

-- no preferences yet: no row
SELECT count(*) AS rows FROM chat_get_preferences('seedp-alice');

-- first set creates the row
SELECT user_id, active_thread_id, selected_model, settings, created_at = updated_at AS fresh
FROM chat_set_preferences('seedp-alice', 'seedp-t1', 'gpt-4o', '{"theme": "dark", "font": 12}');

-- NULL keeps, settings merge shallowly, JSON null removes a key
SELECT user_id, active_thread_id, selected_model, settings
FROM chat_set_preferences('seedp-alice', settings => '{"font": null, "lang": "de"}');
SELECT user_id, active_thread_id, selected_model, settings
FROM chat_set_preferences('seedp-alice', selected_model => 'claude');
SELECT user_id, active_thread_id, selected_model, settings
FROM chat_set_preferences('seedp-alice', active_thread_id => 'seedp-t2');

-- '' clears active thread and model
SELECT user_id, active_thread_id, selected_model, settings
FROM chat_set_preferences('seedp-alice', '', '');
SELECT user_id, active_thread_id, selected_model, settings
FROM chat_set_preferences('seedp-alice', 'seedp-t2', 'gpt-4o');

-- updated_at moves on update (trigger), created_at stays
SELECT pg_sleep(0.01);
BEGIN;
SELECT created_at < now() AS created_before, updated_at = now() AS updated_now
FROM chat_set_preferences('seedp-alice', settings => '{"theme": "light"}');
COMMIT;

-- a thread of no user is reachable only by calls that name no user (1.2,
-- doc/data-model.md#owners), so it is no named user's active thread either
SELECT id FROM chat_create_thread('seedp-shared', NULL, 'shared');
SELECT regress.try($$SELECT chat_set_preferences('seedp-carol', 'seedp-shared')$$) AS shared_refused;
SELECT count(*) AS carol_untouched FROM chat_user_preferences WHERE user_id = 'seedp-carol';

-- deleting the active thread sets it to null, the rest stays
SELECT chat_delete_thread('seedp-t2');
SELECT user_id, active_thread_id, selected_model, settings FROM chat_get_preferences('seedp-alice');

-- errors
SELECT regress.try($$SELECT chat_set_preferences(NULL)$$);
SELECT regress.try($$SELECT chat_set_preferences('')$$);
SELECT regress.try($$SELECT chat_set_preferences('seedp-alice', settings => '[1]')$$);
SELECT regress.try($$SELECT chat_set_preferences('seedp-alice', 'seedp-nope')$$);
SELECT regress.try($$SELECT chat_set_preferences('seedp-alice', 'seedp-bob-t')$$);
-- nothing changed by the failed calls
SELECT user_id, active_thread_id, selected_model, settings FROM chat_get_preferences('seedp-alice');

-- ---------------------------------------------------------------- usage
SELECT saved_count FROM chat_save_messages('seedp-u1', '[
  {"id": "a", "role": "user", "content": "q1", "created_at": "2026-01-01T10:00:00Z"},
  {"id": "b", "role": "assistant", "content": "a1", "created_at": "2026-01-01T10:00:01Z",
   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}},
  {"id": "c", "role": "user", "content": "q2", "created_at": "2026-02-01T10:00:00Z"},
  {"id": "d", "role": "assistant", "content": "a2", "created_at": "2026-02-01T10:00:01Z",
   "usage": {"input_tokens": 100, "output_tokens": 50}}
]', 'seedp-dave');
SELECT saved_count FROM chat_save_messages('seedp-u2', '[
  {"id": "a", "role": "user", "content": "q", "created_at": "2026-02-15T00:00:00Z"},
  {"id": "b", "role": "assistant", "content": "a", "created_at": "2026-02-15T00:00:01Z",
   "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 4}}
]', 'seedp-dave');
SELECT * FROM chat_thread_usage('seedp-u1');
SELECT * FROM chat_thread_usage('seedp-u1', 'seedp-dave');
-- not the owner, unknown thread: no row
SELECT count(*) FROM chat_thread_usage('seedp-u1', 'seedp-alice');
SELECT count(*) FROM chat_thread_usage('seedp-none');
-- per user, all time and over [from, to)
SELECT * FROM chat_user_usage('seedp-dave');
SELECT * FROM chat_user_usage('seedp-dave', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z');
SELECT * FROM chat_user_usage('seedp-dave', '2026-01-01T00:00:00Z', '2026-02-01T10:00:00Z');
SELECT * FROM chat_user_usage('seedp-dave', to_time => '2026-01-01T10:00:01Z');
SELECT * FROM chat_user_usage('seedp-nobody');

-- ---------------------------------------------------------------- thread as JSON
SELECT chat_save_messages('seedp-u1', '[
  {"id": "e", "role": "assistant", "content": null, "created_at": "2026-02-01T10:00:02Z",
   "tool_calls": [{"id": "call1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
  {"id": "f", "role": "tool", "content": "42", "tool_call_id": "call1", "name": "f",
   "created_at": "2026-02-01T10:00:03Z"}]') IS NOT NULL AS saved;
SELECT j - 'created_at' - 'updated_at' - 'messages' AS thread,
       jsonb_array_length(j->'messages') AS n,
       jsonb_path_query_array(j, '$.messages[*].id') AS ids,
       jsonb_path_query_array(j, '$.messages[*].seq') AS seqs,
       (j->'messages'->4) - 'created_at' AS fifth
FROM chat_get_thread_with_messages('seedp-u1') AS j;
-- latest N messages only, still oldest first
SELECT jsonb_path_query_array(j, '$.messages[*].id') FROM chat_get_thread_with_messages('seedp-u1', max_messages => 2) AS j;
-- message created_at is the client's
SELECT j->'messages'->0->>'created_at' FROM chat_get_thread_with_messages('seedp-u1') AS j;
-- not the owner / unknown: NULL
SELECT chat_get_thread_with_messages('seedp-u1', 'seedp-alice') IS NULL AS hidden,
       chat_get_thread_with_messages('seedp-none') IS NULL AS unknown;
-- a thread with no messages has an empty array
SELECT j->'messages' FROM chat_get_thread_with_messages('seedp-t1') AS j;

-- tool_calls containment, the Inference Gateway UI way
SELECT thread_id, id FROM chat_messages
WHERE tool_calls @> '[{"type": "function"}]' AND thread_id LIKE 'seedp-%' ORDER BY 1, 2;

-- ---------------------------------------------------------------- sessions with messages
UPDATE chat_threads SET updated_at = '2026-03-01T00:00:00Z' WHERE id = 'seedp-u1';
UPDATE chat_threads SET updated_at = '2026-03-02T00:00:00Z' WHERE id = 'seedp-u2';
SELECT s->>'id' AS id, (s->>'message_count')::int AS message_count,
       jsonb_array_length(s->'messages') AS messages,
       jsonb_path_query_array(s, '$.messages[*].id') AS ids
FROM jsonb_array_elements(chat_list_threads_with_messages('seedp-dave')) AS s;
-- offset paging
SELECT jsonb_path_query_array(chat_list_threads_with_messages('seedp-dave', 1, page_offset => 1), '$[*].id');
-- keyset paging: after the newest
SELECT jsonb_path_query_array(chat_list_threads_with_messages('seedp-dave', 10, '2026-03-02T00:00:00Z', 'seedp-u2'), '$[*].id');
-- latest message per session
SELECT jsonb_path_query_array(chat_list_threads_with_messages('seedp-dave', max_messages => 1), '$[*].messages[*].id');
SELECT chat_list_threads_with_messages('seedp-nobody');
-- metadata filter
UPDATE chat_threads SET metadata = '{"pinned": true}' WHERE id = 'seedp-u1';
SELECT jsonb_path_query_array(chat_list_threads_with_messages('seedp-dave', metadata_filter => '{"pinned": true}'), '$[*].id');

-- ---------------------------------------------------------------- search_threads
SELECT id FROM chat_create_thread('seedp-s1', 'seedp-erin', 'b title', '{"topic": "x"}', '{"stage": 1, "tags": ["a"]}');
SELECT id FROM chat_create_thread('seedp-s2', 'seedp-erin', 'a title', '{"topic": "x"}', '{"stage": 2}');
SELECT id FROM chat_create_thread('seedp-s3', 'seedp-erin', 'c title', '{"topic": "y"}', '{"stage": 1}');
SELECT chat_add_message('seedp-s3', 'user', 'hello') IS NOT NULL;
SELECT id FROM chat_search_threads('seedp-erin', sort_by => 'title', sort_order => 'asc');
SELECT id FROM chat_search_threads('seedp-erin', sort_by => 'title', sort_order => 'DESC');
SELECT id FROM chat_search_threads('seedp-erin', sort_by => 'message_count', max_threads => 1);
SELECT id FROM chat_search_threads(thread_ids => ARRAY['seedp-s1', 'seedp-s3', 'seedp-none'], sort_by => 'id');
SELECT id FROM chat_search_threads('seedp-erin', state_filter => '{"stage": 1}', sort_by => 'id');
SELECT id FROM chat_search_threads('seedp-erin', state_filter => '{"tags": ["a"]}');
SELECT id FROM chat_search_threads('seedp-erin', metadata_filter => '{"topic": "x"}', sort_by => 'id', sort_order => 'asc', max_threads => 1, page_offset => 1);
SELECT id FROM chat_search_threads('seedp-other');
SELECT regress.try($$SELECT * FROM chat_search_threads('seedp-erin', sort_by => 'state')$$);
SELECT regress.try($$SELECT * FROM chat_search_threads('seedp-erin', sort_by => NULL)$$);
SELECT regress.try($$SELECT * FROM chat_search_threads('seedp-erin', sort_order => 'sideways')$$);
SELECT regress.try($$SELECT * FROM chat_search_threads('seedp-erin', max_threads => -1)$$);
SELECT regress.try($$SELECT * FROM chat_search_threads('seedp-erin', page_offset => -1)$$);

-- ---------------------------------------------------------------- health and stats
SELECT j->>'status' AS status, j->>'extension_version' AS version,
       j->>'schema' AS schema, j->>'tenant' AS tenant, j ? 'server_version' AS has_server
FROM chat_health() AS j;
SELECT j->>'extension_version' AS version, j->>'schema' AS schema,
       (j->'tables'->'chat_threads'->>'rows')::bigint = (SELECT count(*) FROM chat_threads) AS threads_ok,
       (j->'tables'->'chat_messages'->>'rows')::bigint = (SELECT count(*) FROM chat_messages) AS messages_ok,
       (j->'tables'->'chat_user_preferences'->>'rows')::bigint = (SELECT count(*) FROM chat_user_preferences) AS prefs_ok,
       (j->'tables'->'chat_threads'->>'bytes')::bigint > 0 AS has_size,
       (j->>'total_bytes')::bigint >= (SELECT sum((v->>'bytes')::bigint) FROM jsonb_each(j->'tables') AS e(k, v)) AS total_ok,
       j->'tables' ?& ARRAY['chat_threads', 'chat_messages', 'chat_user_preferences', 'chat_kv',
                            'chat_lists', 'chat_list_items', 'chat_agent_states'] AS all_tables
FROM chat_stats() AS j;
SELECT (j->>'exact')::boolean AS exact, jsonb_typeof(j->'tables'->'chat_threads'->'rows') AS rows_type
FROM chat_stats(false) AS j;
