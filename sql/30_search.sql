-- chat_search: ranked full-text search with snippets, scopes, filters and
-- keyset paging.  Words like "zebracorn" are unique to this file, and every
-- search is scoped to this file's users or threads.
\pset null '(null)'


SELECT saved_count FROM chat_save_messages('srch-t1', '[
  {"id": "m1", "role": "system", "content": "You answer questions about zebracorn farming.", "created_at": "2026-01-01T10:00:00Z"},
  {"id": "m2", "role": "user", "content": "How many zebracorn servers do I need?", "created_at": "2026-01-01T10:01:00Z"},
  {"id": "m3", "role": "assistant", "content": "One zebracorn server is enough. A zebracorn zebracorn cluster helps when the herd grows.", "created_at": "2026-01-02T10:02:00Z"},
  {"id": "m4", "role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "count_zebracorn", "arguments": "{}"}}], "created_at": "2026-01-03T10:03:00Z"},
  {"id": "m5", "role": "tool", "tool_call_id": "c1", "content": "42 zebracorn", "created_at": "2026-01-03T10:04:00Z"}
]', 'srch-u1');
SELECT saved_count FROM chat_save_messages('srch-t2', '[
  {"id": "m1", "role": "user", "content": [{"type": "text", "text": "Picture of a zebracorn meadow"}, {"type": "image_url", "image_url": {"url": "https://example.invalid/m.png"}}], "created_at": "2026-02-01T09:00:00Z"},
  {"id": "m2", "role": "assistant", "content": "The meadow shows grazing unicorns, no zebracorn.", "created_at": "2026-02-01T09:01:00Z"}
]', 'srch-u1');
SELECT saved_count FROM chat_save_messages('srch-t3', '[
  {"id": "m1", "role": "user", "content": "zebracorn of another user", "created_at": "2026-03-01T08:00:00Z"}
]', 'srch-u2');

-- ranked: the message that says zebracorn most often first; snippets
-- highlight the matched words; the tool-call-only message (null content)
-- never matches; the text of content parts is searchable
SELECT thread_id, message_id, seq, role, rank > 0 AS ranked, snippet
FROM chat_search('zebracorn', user_id => 'srch-u1');

-- ranks strictly follow the order
SELECT bool_and(ok) AS ordered FROM (
    SELECT rank <= lag(rank) OVER () OR lag(rank) OVER () IS NULL AS ok
    FROM chat_search('zebracorn', user_id => 'srch-u1')) s;

-- user scope: the thread owner decides
SELECT thread_id, message_id FROM chat_search('zebracorn', user_id => 'srch-u2');
SELECT thread_id, message_id FROM chat_search('zebracorn', user_id => 'nobody-srch');
-- thread scope (with or without the user)
SELECT thread_id, message_id FROM chat_search('zebracorn', thread_id => 'srch-t2');
SELECT thread_id, message_id FROM chat_search('zebracorn', user_id => 'srch-u2', thread_id => 'srch-t2');
-- role filter
SELECT thread_id, message_id, role FROM chat_search('zebracorn', user_id => 'srch-u1', roles => ARRAY['user', 'tool']);
-- the aliases human / ai name user / assistant
SELECT thread_id, message_id, role FROM chat_search('zebracorn', user_id => 'srch-u1', roles => ARRAY['ai']);
SELECT count(*) FROM chat_search('zebracorn', user_id => 'srch-u1', roles => ARRAY[]::text[]);
-- time filters: since is inclusive, until exclusive
SELECT thread_id, message_id, created_at FROM chat_search('zebracorn', user_id => 'srch-u1',
    since => '2026-01-02T10:02:00Z', until => '2026-02-01T09:00:00Z');

-- websearch syntax: a quoted phrase, or, negation
SELECT thread_id, message_id FROM chat_search('"zebracorn cluster"', user_id => 'srch-u1');
SELECT thread_id, message_id FROM chat_search('meadow or herd', user_id => 'srch-u1') ORDER BY 1, 2;
SELECT thread_id, message_id FROM chat_search('zebracorn -meadow', user_id => 'srch-u1') ORDER BY 1, 2;
-- case does not matter
SELECT count(*) FROM chat_search('ZEBRACORN Servers', user_id => 'srch-u1');

-- the 'simple' configuration does not stem: "server" does not find "servers";
-- with 'english' it does (served without an index until one is created)
SELECT thread_id, message_id FROM chat_search('server', user_id => 'srch-u1');
SELECT thread_id, message_id FROM chat_search('server', user_id => 'srch-u1', config => 'english') ORDER BY 1, 2;
SELECT chat_search_index_ddl('english');
SELECT chat_create_search_index('english');
SELECT chat_create_search_index('english');   -- exists already: no error
SELECT indexdef FROM pg_indexes WHERE indexname = 'chat_messages_content_fts_english_idx';
-- the configuration is listed where pg_dump keeps it (schema-qualified)
SELECT config FROM chat_search_index_config;
SELECT thread_id, message_id FROM chat_search('server', user_id => 'srch-u1', config => 'english') ORDER BY 1, 2;
-- dropped by hand: chat_create_search_index makes it again
DROP INDEX chat_messages_content_fts_english_idx;
SELECT chat_create_search_index('english');
SELECT count(*) FROM pg_indexes WHERE indexname = 'chat_messages_content_fts_english_idx';
-- chat_drop_search_index drops the index and forgets the configuration
SELECT chat_drop_search_index('english');
SELECT count(*) FROM pg_indexes WHERE indexname = 'chat_messages_content_fts_english_idx';
SELECT count(*) FROM chat_search_index_config;
SELECT chat_drop_search_index('english');   -- nothing left: false
-- what pg_restore does: it loads the row, the trigger creates the index
INSERT INTO chat_search_index_config (config) VALUES ('pg_catalog.english');
SELECT count(*) FROM pg_indexes WHERE indexname = 'chat_messages_content_fts_english_idx';
SELECT chat_drop_search_index('english');
SELECT regress.try($$INSERT INTO chat_search_index_config (config) VALUES ('public.no_such_config')$$);

-- nothing searchable: empty, punctuation only
SELECT count(*) FROM chat_search('', user_id => 'srch-u1');
SELECT count(*) FROM chat_search('  !! ', user_id => 'srch-u1');
SELECT count(*) FROM chat_search('unknownwordsrch', user_id => 'srch-u1');

-- keyset pagination, two hits a page: the pages together are the full result
CREATE TEMP TABLE srch_pages (page int, n int, thread_id text, message_id text, seq bigint, rank float8);
DO $$
DECLARE
    r record; p int := 0; k int; lr float8; lt text; ls bigint;
BEGIN
    LOOP
        p := p + 1; k := 0;
        FOR r IN SELECT * FROM chat_search('zebracorn', user_id => 'srch-u1', max_results => 2,
                                            after_rank => lr, after_thread_id => lt, after_seq => ls) LOOP
            k := k + 1;
            INSERT INTO srch_pages VALUES (p, k, r.thread_id, r.message_id, r.seq, r.rank);
            lr := r.rank; lt := r.thread_id; ls := r.seq;
        END LOOP;
        EXIT WHEN k < 2 OR p > 10;
    END LOOP;
END $$;
SELECT page, n, thread_id, message_id FROM srch_pages ORDER BY page, n;
SELECT (SELECT array_agg(thread_id || '/' || message_id ORDER BY page, n) FROM srch_pages)
     = (SELECT array_agg(thread_id || '/' || message_id) FROM chat_search('zebracorn', user_id => 'srch-u1'))
    AS pages_equal_full_result;

-- archived threads are hidden unless asked for
SELECT chat_archive_thread('srch-t2');
SELECT thread_id, message_id FROM chat_search('meadow', user_id => 'srch-u1');
SELECT thread_id, message_id FROM chat_search('meadow', user_id => 'srch-u1', include_archived => true);
SELECT chat_archive_thread('srch-t2', false);

-- snippet options are ts_headline options
SELECT snippet FROM chat_search('herd', thread_id => 'srch-t1',
    snippet_options => 'StartSel=[, StopSel=], MaxWords=4, MinWords=2');

-- a large message saves and is found by a word in its first 100,000
-- characters; words past that prefix are not indexed (documented limit)
SELECT saved_count FROM chat_save_messages('srch-t4',
    jsonb_build_array(jsonb_build_object('id', 'big', 'role', 'user',
        'content', 'zebracornstart ' || repeat('filler ', 20000) || ' zebracornend')), 'srch-u3');
SELECT message_id, length(snippet) < 400 AS short_snippet FROM chat_search('zebracornstart', user_id => 'srch-u3');
SELECT count(*) FROM chat_search('zebracornend', user_id => 'srch-u3');

-- errors
SELECT regress.try($$SELECT * FROM chat_search(NULL)$$);
SELECT regress.try($$SELECT * FROM chat_search('x', config => NULL)$$);
SELECT regress.try($$SELECT * FROM chat_search('x', max_results => 0)$$);
SELECT regress.try($$SELECT * FROM chat_search('x', max_results => 1001)$$);
SELECT regress.try($$SELECT * FROM chat_search('x', max_results => NULL)$$);
SELECT regress.try($$SELECT * FROM chat_search('x', after_rank => 0.5)$$);
SELECT regress.try($$SELECT * FROM chat_search('x', after_rank => 0.5, after_thread_id => 't')$$);
SELECT regress.try($$SELECT * FROM chat_search('x', config => 'no_such_config')$$);
SELECT regress.try($$SELECT chat_create_search_index(NULL)$$);
SELECT regress.try($$SELECT chat_drop_search_index(NULL)$$);
