-- usage analytics: per day / user (thread owner) / model messages and
-- tokens, totals per user, top threads by tokens.  This file's messages are
-- dated March 2019 and its users are "ana-..."; queries stay inside those.
\pset null '(null)'


-- usage shapes: OpenAI prompt/completion(/total), Anthropic-style
-- input/output; total defaults to the sum of the two
SELECT saved_count FROM chat_save_messages('ana-t1', '[
  {"id": "1", "role": "user", "content": "q", "created_at": "2019-03-01T10:00:00Z"},
  {"id": "2", "role": "assistant", "content": "a", "model": "gpt-a", "created_at": "2019-03-01T10:00:01Z",
   "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 125}},
  {"id": "3", "role": "user", "content": "q", "created_at": "2019-03-01T23:30:00Z"},
  {"id": "4", "role": "assistant", "content": "a", "model": "claude-b", "created_at": "2019-03-01T23:30:01Z",
   "usage": {"input_tokens": 50, "output_tokens": 5}},
  {"id": "5", "role": "assistant", "content": "a", "model": "gpt-a", "created_at": "2019-03-02T08:00:00Z",
   "usage": {"prompt_tokens": 10, "completion_tokens": 1}}
]', 'ana-u1');
SELECT saved_count FROM chat_save_messages('ana-t2', '[
  {"id": "1", "role": "user", "content": "q", "created_at": "2019-03-02T09:00:00Z"},
  {"id": "2", "role": "assistant", "content": "a", "model": "gpt-a", "created_at": "2019-03-02T09:00:01Z",
   "usage": {"prompt_tokens": 1000, "completion_tokens": 300}}
]', 'ana-u1');
SELECT saved_count FROM chat_save_messages('ana-t3', '[
  {"id": "1", "role": "user", "content": "q", "created_at": "2019-03-01T12:00:00Z"},
  {"id": "2", "role": "assistant", "content": "a", "model": "gpt-a", "created_at": "2019-03-01T12:00:01Z",
   "usage": {"prompt_tokens": 7, "completion_tokens": 3}}
]', 'ana-u2');

-- per day (UTC), user, model; user messages (no model) form their own rows
SELECT * FROM chat_usage_daily(user_id => 'ana-u1');
-- one user's range: since inclusive, until exclusive
SELECT * FROM chat_usage_daily(user_id => 'ana-u1', since => '2019-03-01T23:30:00Z', until => '2019-03-02T09:00:00Z');
-- every user, by time range
SELECT * FROM chat_usage_daily(since => '2019-03-01', until => '2019-03-03');
-- days in another time zone: 23:30 UTC on March 1 is March 2 in Tokyo
SELECT day, user_id, model, messages FROM chat_usage_daily(user_id => 'ana-u1', time_zone => 'Asia/Tokyo');

-- totals per user: all time from the thread aggregates, or over a range
SELECT * FROM chat_usage_totals(user_id => 'ana-u1');
SELECT * FROM chat_usage_totals(user_id => 'ana-u1', since => '2019-03-02');
SELECT * FROM chat_usage_totals(since => '2019-03-01', until => '2019-03-02');
-- the same figures both ways
SELECT (SELECT (threads, messages, prompt_tokens, completion_tokens, total_tokens)
        FROM chat_usage_totals(user_id => 'ana-u1'))
     = (SELECT (threads, messages, prompt_tokens, completion_tokens, total_tokens)
        FROM chat_usage_totals(user_id => 'ana-u1', since => '-infinity'))
    AS aggregates_match_messages;

-- top threads by total tokens, from the thread aggregates
SELECT id, user_id, total_tokens FROM chat_top_threads(user_id => 'ana-u1');
SELECT id, total_tokens FROM chat_top_threads(user_id => 'ana-u1', max_threads => 1);
SELECT id FROM chat_top_threads(user_id => 'ana-u1', since => now() + interval '1 day');
-- it reads no message: the statistics show scans of chat_threads and none
-- of chat_messages (chat_top_threads is PL/pgSQL since 1.5: EXPLAIN shows a
-- function scan)
SELECT pg_stat_force_next_flush() AS flushed \gset
SELECT regress.scans('chat_messages') AS before_m \gset
SELECT regress.scans('chat_threads') AS before_t \gset
SELECT pg_stat_force_next_flush(), count(*) FROM chat_top_threads(user_id => 'ana-u1');
SELECT pg_stat_force_next_flush(), count(*) FROM chat_top_threads();
SELECT scan, n FROM regress.scans('chat_messages', :'before_m');
SELECT count(*) > 0 AS threads_read FROM regress.scans('chat_threads', :'before_t');

-- errors
SELECT regress.try($$SELECT * FROM chat_usage_daily(time_zone => NULL)$$);
SELECT regress.try($$SELECT * FROM chat_usage_daily(user_id => 'ana-u1', time_zone => 'Mars/Olympus')$$);
SELECT regress.try($$SELECT * FROM chat_usage_daily(since => '2019-03-02', until => '2019-03-01')$$);
SELECT regress.try($$SELECT * FROM chat_usage_totals(since => '2019-03-02', until => '2019-03-01')$$);
