-- injection: quotes, backslashes, dollar quotes, control characters (no
-- NUL: PostgreSQL text cannot hold one), format() and @S@ placeholders,
-- SQL fragments, unicode and very long strings in every text argument are
-- stored and returned verbatim.  Each check compares what comes back with
-- what went in and prints only whether they are equal.
\pset null '(null)'

CREATE TEMP TABLE nasty (i int PRIMARY KEY, v text NOT NULL);
INSERT INTO nasty VALUES
  (1, ''''),
  (2, '''; DROP TABLE chat_threads; --'),
  (3, E'\\'),
  (4, E'\\''; SELECT 1; --'),
  (5, '$$'),
  (6, '$fn$ $$ $x$ END; $$'),
  (7, E'\x01\x02\x07\x08\x0b\x0c\x1b\x1f\x7f'),
  (8, E'tab\there\nnew line\r\ncarriage'),
  (9, '%s %I %L %% %1$s'),
  (10, '@S@ @extschema@ "@S@"'),
  (11, '" OR "1"="1'),
  (12, 'héllo 日本語 🦄 ‮ reversed ﻿ bom'),
  (13, ')); SELECT pg_sleep(10); --'),
  (14, '*/ /* -- '),
  (15, E'E''\\x00'' \\u0000 \\n'),
  (16, '{"a": 1, "b": [null]}'),
  (17, 'NULL'),
  (18, ' '),
  (19, E'\\\\'),
  (20, repeat('''"\$', 125)),                  -- 500 bytes, near the 512-byte id limit
  (21, repeat('x''y\z$', 50000));               -- 300 kB, content only

-- ids are limited to 512 bytes; the long one is only used for content
CREATE TEMP VIEW idval AS SELECT i, v FROM nasty WHERE octet_length(v) <= 512;

-- ----- chat_save_messages: every text field of a message --------------
SELECT count(*) AS saved
FROM idval n, chat_save_messages(
    'inj_t' || n.i,
    jsonb_build_array(
        jsonb_build_object('id', n.v, 'role', 'user', 'content', (SELECT v FROM nasty WHERE i = 21) || n.v,
                           'name', n.v, 'model', n.v, 'tool_call_id', n.v, 'parent_id', n.v,
                           'metadata', jsonb_build_object(n.v, n.v)),
        jsonb_build_object('id', n.v || '2', 'role', 'assistant', 'content', n.v,
                           'tool_calls', jsonb_build_array(jsonb_build_object('id', n.v, 'type', 'function',
                               'function', jsonb_build_object('name', n.v, 'arguments', n.v))))),
    n.v) AS r
WHERE r.saved_count = 2 AND r.saved_ids = ARRAY[n.v, n.v || '2'];
SELECT count(*) AS expected FROM idval;

-- read back through chat_history: every field equal
SELECT n.i, bool_and(h.id IN (n.v, n.v || '2')) AS ids,
       bool_and(CASE h.seq WHEN 1 THEN h.content = (SELECT v FROM nasty WHERE i = 21) || n.v
                           ELSE h.content = n.v END) AS content,
       bool_and(h.seq = 2 OR (h.name = n.v AND h.model = n.v AND h.tool_call_id = n.v AND h.parent_id = n.v
                              AND h.metadata = jsonb_build_object(n.v, n.v))) AS fields,
       bool_and(h.user_id = n.v) AS user_id,
       bool_and(h.seq = 1 OR h.tool_calls -> 0 ->> 'id' = n.v AND h.tool_calls -> 0 -> 'function' ->> 'arguments' = n.v) AS tool_calls,
       count(*) AS n
FROM idval n, chat_history('inj_t' || n.i) h
GROUP BY n.i ORDER BY n.i;

-- the thread: its id and owner are the strings sent
SELECT count(*) AS threads_ok
FROM idval n JOIN chat_threads t ON t.id = 'inj_t' || n.i
WHERE t.user_id = n.v AND t.message_count = 2;
-- chat_get_thread / chat_list_threads with the string as user_id
SELECT count(*) AS get_thread_ok FROM idval n, chat_get_thread('inj_t' || n.i, n.v) t WHERE t.user_id = n.v;
SELECT count(*) AS list_threads_ok FROM idval n, chat_list_threads(n.v, 10) t WHERE t.id = 'inj_t' || n.i;
-- chat_context returns the same content (the user message; the assistant's
-- tool call has no answer, so chat_context does not send it to a model)
SELECT count(*) AS context_ok
FROM idval n WHERE chat_context('inj_t' || n.i) -> 0 ->> 'content' = (SELECT v FROM nasty WHERE i = 21) || n.v
              AND chat_context('inj_t' || n.i) -> 0 ->> 'name' = n.v;
-- a re-send is recognised by the stored (hostile) ids
SELECT count(*) AS resend_skipped
FROM idval n, chat_save_messages('inj_t' || n.i,
    jsonb_build_array(jsonb_build_object('id', n.v, 'role', 'user', 'content', 'x')), n.v) r
WHERE r.saved_count = 0 AND r.skipped_count = 1;
-- saved_ids hint with the hostile strings
SELECT count(*) AS hint_skipped
FROM idval n, chat_save_messages('inj_t' || n.i,
    jsonb_build_array(jsonb_build_object('id', n.v || 'h', 'role', 'user', 'content', 'x')), n.v,
    ARRAY[n.v || 'h']) r
WHERE r.saved_count = 0 AND r.skipped_count = 1;

-- ----- chat_add_message: every text argument -----------------------------
SELECT count(*) AS added
FROM idval n, chat_add_message('inj_t' || n.i, 'user', n.v, n.v, jsonb_build_object(n.v, n.v), n.v || '3',
                               n.v, n.v, NULL, n.v, NULL, NULL, n.v) r
WHERE r.id = n.v || '3' AND r.seq = 3;
SELECT count(*) AS added_ok
FROM idval n JOIN chat_messages m ON m.thread_id = 'inj_t' || n.i AND m.seq = 3
WHERE m.id = n.v || '3' AND m.content = n.v AND m.user_id = n.v AND m.model = n.v AND m.name = n.v
  AND m.tool_call_id = n.v AND m.parent_id = n.v AND m.metadata = jsonb_build_object(n.v, n.v);

-- ----- threads: create, update, fork, search, delete -----------------------
SELECT count(*) AS created
FROM idval n, chat_create_thread('inj_c' || n.i || n.v, n.v, n.v, jsonb_build_object(n.v, n.v),
                                 jsonb_build_object('s', n.v)) t
WHERE t.id = 'inj_c' || n.i || n.v AND t.user_id = n.v AND t.title = n.v
  AND t.metadata = jsonb_build_object(n.v, n.v) AND t.state ->> 's' = n.v;
SELECT count(*) AS updated
FROM idval n, chat_update_thread('inj_c' || n.i || n.v, n.v || n.v, jsonb_build_object('m', n.v), NULL, n.v) t
WHERE t.title = n.v || n.v AND t.metadata ->> 'm' = n.v AND t.metadata ->> n.v = n.v;
SELECT count(*) AS metadata_filter_ok
FROM idval n, chat_list_threads(n.v, 10, NULL, NULL, jsonb_build_object('m', n.v)) t
WHERE t.id = 'inj_c' || n.i || n.v;
SELECT count(*) AS search_threads_ok
FROM idval n, chat_search_threads(n.v, ARRAY['inj_t' || n.i]) t;
SELECT count(*) AS forked
FROM idval n WHERE chat_fork_thread('inj_t' || n.i, 'inj_f' || n.i || n.v, NULL, n.v) = 'inj_f' || n.i || n.v;
SELECT count(*) AS fork_ok
FROM idval n JOIN chat_messages m ON m.thread_id = 'inj_f' || n.i || n.v AND m.seq = 2
WHERE m.id = n.v || '2' AND m.content = n.v;
-- full-text search with the hostile string as query: no error, scoped
SELECT count(*) AS searched FROM idval n, LATERAL (SELECT count(*) FROM chat_search(n.v, n.v)) s;
SELECT count(*) AS usage_ok FROM idval n, chat_thread_usage('inj_t' || n.i, n.v) u;

-- ----- preferences -------------------------------------------------------
SELECT count(*) AS prefs_set
FROM idval n, chat_set_preferences(n.v, 'inj_t' || n.i, n.v, jsonb_build_object(n.v, n.v)) p
WHERE p.user_id = n.v;
SELECT count(*) AS prefs_ok
FROM idval n, chat_get_preferences(n.v) p
WHERE p.active_thread_id = 'inj_t' || n.i AND p.selected_model = n.v AND p.settings = jsonb_build_object(n.v, n.v);

-- ----- key-value: keys, prefixes (% and _ literal), values ------------------
SELECT count(*) AS kv_set FROM idval n, chat_kv_set('inj_k' || n.v, to_jsonb(n.v)) k;
SELECT count(*) AS kv_ok FROM idval n WHERE chat_kv_get('inj_k' || n.v) = to_jsonb(n.v);
SELECT count(*) AS kv_prefix_ok
FROM idval n WHERE (SELECT array_agg(key) FROM chat_kv_list('inj_k' || n.v)) @> ARRAY['inj_k' || n.v];
SELECT n.i, (SELECT count(*) FROM chat_kv_list('inj_k' || n.v)) AS keys_under_prefix
FROM idval n WHERE n.v LIKE '%\%%' OR n.v LIKE '%\_%' ORDER BY n.i;

-- ----- lists -----------------------------------------------------------
SELECT count(*) AS list_appended FROM idval n WHERE chat_kvlist_append('inj_l' || n.v, to_jsonb(n.v), jsonb_build_object(n.v, n.v)) IS NOT NULL;
SELECT count(*) AS list_ok
FROM idval n WHERE (SELECT array_agg(value) FROM chat_kvlist_range('inj_l' || n.v)) = ARRAY[to_jsonb(n.v)]
               AND chat_kvlist_length('inj_l' || n.v) = 1
               AND (SELECT metadata FROM chat_kvlist_info('inj_l' || n.v)) = jsonb_build_object(n.v, n.v);

-- ----- agent states ------------------------------------------------------
SELECT count(*) AS state_saved FROM idval n WHERE chat_agent_state_save('inj_a' || n.v, n.v, jsonb_build_object(n.v, n.v)) = 1;
SELECT count(*) AS state_ok
FROM idval n, chat_agent_state_load('inj_a' || n.v, n.v) s
WHERE s.agent_id = 'inj_a' || n.v AND s.session_id = n.v AND s.state = jsonb_build_object(n.v, n.v);
SELECT count(*) AS state_listed FROM idval n, chat_agent_state_list('inj_a' || n.v) s WHERE s.session_id = n.v;

-- nothing outside the test's rows was touched by any of the SQL fragments
SELECT to_regclass('chat_threads') IS NOT NULL AS threads_table_still_there;

-- ----- clean up (the delete functions with the hostile strings) ----------
SELECT count(*) FILTER (WHERE chat_kv_delete('inj_k' || n.v)) AS kv_deleted,
       count(*) FILTER (WHERE chat_kvlist_delete('inj_l' || n.v)) AS lists_deleted,
       count(*) FILTER (WHERE chat_agent_state_delete('inj_a' || n.v, n.v)) AS states_deleted
FROM idval n;
SELECT count(*) FILTER (WHERE chat_delete_thread('inj_t' || n.i, n.v)) AS threads_deleted,
       count(*) FILTER (WHERE chat_delete_thread('inj_c' || n.i || n.v, n.v)) AS created_deleted,
       count(*) FILTER (WHERE chat_delete_thread('inj_f' || n.i || n.v, n.v)) AS forks_deleted
FROM idval n;
SELECT count(*) AS user_data_deleted FROM idval n WHERE chat_delete_user_data(n.v) IS NOT NULL;
SELECT count(*) AS left_over FROM chat_threads WHERE id LIKE 'inj\_%';
SELECT count(*) AS prefs_left_over FROM chat_user_preferences p JOIN idval n ON p.user_id = n.v;
