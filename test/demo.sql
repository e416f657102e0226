-- chatstore demo: what scripts/demo.sh runs against a throwaway cluster
\set ON_ERROR_STOP 1
\pset null '(null)'
\echo '--- CREATE EXTENSION chatstore'
DROP EXTENSION IF EXISTS chatstore CASCADE;
CREATE EXTENSION chatstore;
SELECT extversion FROM pg_extension WHERE extname = 'chatstore';

\echo '--- turn 1: the app saves the conversation so far (no ids: chatstore aligns re-sends)'
SELECT * FROM chat_save_messages('demo-thread', '[
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "What is the capital of Norway?"},
  {"role": "assistant", "content": "Oslo.", "model": "gpt-4o",
   "usage": {"prompt_tokens": 21, "completion_tokens": 2, "total_tokens": 23}}
]', 'alice');

\echo '--- turn 2: the app re-sends the whole conversation plus one new message'
SELECT saved_count, skipped_count, first_seq, last_seq FROM chat_save_messages('demo-thread', '[
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "What is the capital of Norway?"},
  {"role": "assistant", "content": "Oslo.", "model": "gpt-4o"},
  {"role": "user", "content": "And its population?"}
]', 'alice');

\echo '--- another user may not write into alice''s thread'
\set ON_ERROR_STOP 0
SELECT * FROM chat_save_messages('demo-thread', '[{"role": "user", "content": "hi"}]', 'mallory');
\set ON_ERROR_STOP 1

\echo '--- the history, in seq order'
SELECT seq, role, content, model, token_count FROM chat_history('demo-thread');

\echo '--- the thread and its aggregates'
SELECT id, user_id, message_count, last_seq, prompt_tokens, completion_tokens, total_tokens
FROM chat_threads WHERE id = 'demo-thread';

\echo '--- model-ready context: the system prompt plus the newest messages that fit in 12 tokens'
SELECT jsonb_pretty(chat_context('demo-thread', max_tokens => 12));
