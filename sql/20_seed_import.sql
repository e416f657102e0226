-- seed systems: importers.  Each source is built from that system's DDL
-- (as described in SPEC section 5), filled, imported twice, and the result
-- is checked row by row.
\pset null '(null)'
SET TimeZone = 'UTC';
-- (times are shown AT TIME ZONE 'UTC': on Citus the formatting runs on the
-- workers, which do not have this session's TimeZone)


CREATE FUNCTION pg_temp.threads(pattern text) RETURNS TABLE (r text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN QUERY SELECT format('%s user=%s title=%s meta=%s state=%s n=%s last_seq=%s tokens=%s/%s/%s created=%s updated=%s last_msg=%s',
                  t.id, t.user_id, t.title, t.metadata, t.state, t.message_count, t.last_seq,
                  t.prompt_tokens, t.completion_tokens, t.total_tokens,
                  to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                  to_char(t.last_message_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))
    FROM chat_threads t WHERE t.id LIKE pattern ORDER BY t.id; END
$$;
CREATE FUNCTION pg_temp.messages(pattern text) RETURNS TABLE (r text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN QUERY SELECT format('%s #%s %s %s: %s%s%s%s%s%s%s at %s',
                  m.thread_id, m.seq, m.id, m.role, m.content,
                  CASE WHEN m.name IS NOT NULL THEN ' name=' || m.name ELSE '' END,
                  CASE WHEN m.model IS NOT NULL THEN ' model=' || m.model ELSE '' END,
                  CASE WHEN m.tool_calls IS NOT NULL THEN ' tool_calls=' || m.tool_calls::text ELSE '' END,
                  CASE WHEN m.tool_call_id IS NOT NULL THEN ' tool_call_id=' || m.tool_call_id ELSE '' END,
                  CASE WHEN m.metadata <> '{}' THEN ' meta=' || m.metadata::text ELSE '' END,
                  CASE WHEN m.usage IS NOT NULL THEN ' usage=' || m.usage::text ELSE '' END,
                  to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))
    FROM chat_messages m WHERE m.thread_id LIKE pattern ORDER BY m.thread_id, m.seq; END
$$;

-- ---------------------------------------------------------------- langmiddle
CREATE SCHEMA seed_lm;
CREATE TABLE seed_lm.chat_threads (
    id           text PRIMARY KEY,
    user_id      text NOT NULL,
    title        text,
    metadata     jsonb DEFAULT '{}'::jsonb,
    custom_state jsonb DEFAULT '{}'::jsonb,
    created_at   timestamptz DEFAULT now(),
    updated_at   timestamptz DEFAULT now()
);
CREATE TABLE seed_lm.chat_messages (
    id             text PRIMARY KEY,
    thread_id      text NOT NULL REFERENCES seed_lm.chat_threads (id) ON DELETE CASCADE,
    user_id        text NOT NULL,
    role           text NOT NULL,
    content        text,
    metadata       jsonb DEFAULT '{}'::jsonb,
    usage_metadata jsonb,
    created_at     timestamptz DEFAULT now()
);
INSERT INTO seed_lm.chat_threads VALUES
  ('lmi-1', 'lmi-u1', 'Trip planning', '{"src": "web"}', '{"step": 3}', '2025-06-01 09:00', '2025-06-01 09:05'),
  ('lmi-2', 'lmi-u2', NULL, '{}', '{}', '2025-06-02 10:00', '2025-06-02 10:00');
-- the three messages of one turn share a timestamp (langmiddle saves a turn
-- with one now()); their insert order decides
INSERT INTO seed_lm.chat_messages VALUES
  ('lm-m1', 'lmi-1', 'lmi-u1', 'system', 'be helpful', '{}', NULL, '2025-06-01 09:00'),
  ('lm-m2', 'lmi-1', 'lmi-u1', 'human', 'plan a trip', '{}', NULL, '2025-06-01 09:01'),
  ('lm-m3', 'lmi-1', 'lmi-u1', 'ai', 'where to?', '{"model": "m"}',
   '{"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}', '2025-06-01 09:01'),
  ('lm-m4', 'lmi-1', 'lmi-u1', 'user', 'Rome', '{}', NULL, '2025-06-01 09:01'),
  ('lm-m5', 'lmi-1', 'lmi-u1', 'assistant', 'Rome it is', '{}',
   '{"input_tokens": 20, "output_tokens": 6, "total_tokens": 26}', '2025-06-01 09:02');

SELECT * FROM chat_import_langmiddle('seed_lm');
SELECT * FROM pg_temp.threads('lmi-%');
SELECT * FROM pg_temp.messages('lmi-%');
-- twice: nothing duplicated, nothing changed
SELECT * FROM chat_import_langmiddle('seed_lm');
SELECT * FROM pg_temp.threads('lmi-%');
SELECT count(*) AS messages FROM chat_messages WHERE thread_id LIKE 'lmi-%';
-- the source grows: only the new message is added, after the others
INSERT INTO seed_lm.chat_messages VALUES
  ('lm-m6', 'lmi-1', 'lmi-u1', 'human', 'thanks', '{}', NULL, '2025-06-03 08:00');
UPDATE seed_lm.chat_threads SET updated_at = '2025-06-03 08:00' WHERE id = 'lmi-1';
SELECT * FROM chat_import_langmiddle('seed_lm');
SELECT * FROM pg_temp.threads('lmi-1');
SELECT * FROM pg_temp.messages('lmi-1') OFFSET 4;
-- a thread of the same id owned by someone else: refused, nothing written
SELECT id FROM chat_create_thread('lmi-3', 'someone-else');
INSERT INTO seed_lm.chat_threads VALUES ('lmi-3', 'lmi-u1', 'clash', '{}', '{}', '2025-06-04', '2025-06-04');
INSERT INTO seed_lm.chat_messages VALUES ('lm-x', 'lmi-3', 'lmi-u1', 'user', 'x', '{}', NULL, '2025-06-04');
SELECT regress.try($$SELECT * FROM chat_import_langmiddle('seed_lm')$$);
SELECT count(*) AS not_imported FROM chat_messages WHERE thread_id = 'lmi-3';
DELETE FROM seed_lm.chat_threads WHERE id = 'lmi-3';

-- ---------------------------------------------------------------- Inference Gateway UI
CREATE SCHEMA seed_ig;
CREATE TABLE seed_ig.chat_sessions (
    id                uuid PRIMARY KEY,
    user_id           varchar(255),
    title             varchar(500) NOT NULL,
    created_at        timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
    updated_at        timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
    prompt_tokens     integer DEFAULT 0,
    completion_tokens integer DEFAULT 0,
    total_tokens      integer DEFAULT 0
);
CREATE TABLE seed_ig.messages (
    id              uuid PRIMARY KEY,
    chat_session_id uuid NOT NULL REFERENCES seed_ig.chat_sessions (id) ON DELETE CASCADE,
    role            varchar(50) NOT NULL,
    content         text,
    model           varchar(255),
    tool_calls      jsonb,
    tool_call_id    varchar(255),
    name            varchar(255),
    created_at      timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
    sequence_number integer NOT NULL
);
CREATE TABLE seed_ig.user_preferences (
    user_id        varchar(255) PRIMARY KEY,
    active_chat_id uuid,
    selected_model varchar(255),
    created_at     timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
    updated_at     timestamp with time zone DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO seed_ig.chat_sessions VALUES
  ('00000000-0000-0000-0000-0000000000a1', 'igi-alice', 'Weather', '2025-07-01 12:00', '2025-07-01 12:10', 60, 18, 78),
  ('00000000-0000-0000-0000-0000000000a2', 'igi-alice', 'Empty chat', '2025-07-02 12:00', '2025-07-02 12:00', 0, 0, 0),
  ('00000000-0000-0000-0000-0000000000b1', 'igi-bob', 'Bob', '2025-07-03 12:00', '2025-07-03 12:01', 0, 0, 0);
-- same created_at: sequence_number decides
INSERT INTO seed_ig.messages VALUES
  ('00000000-0000-0000-0000-00000000a103', '00000000-0000-0000-0000-0000000000a1', 'tool', '{"temp":21}', NULL, NULL, 'call_1', 'get_weather', '2025-07-01 12:00', 3),
  ('00000000-0000-0000-0000-00000000a101', '00000000-0000-0000-0000-0000000000a1', 'user', 'Weather in Paris?', NULL, NULL, NULL, NULL, '2025-07-01 12:00', 1),
  ('00000000-0000-0000-0000-00000000a102', '00000000-0000-0000-0000-0000000000a1', 'assistant', NULL, 'openai/gpt-4o',
   '[{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]', NULL, NULL, '2025-07-01 12:00', 2),
  ('00000000-0000-0000-0000-00000000a104', '00000000-0000-0000-0000-0000000000a1', 'assistant', 'It is 21°C', 'openai/gpt-4o', NULL, NULL, NULL, '2025-07-01 12:10', 4),
  ('00000000-0000-0000-0000-00000000b101', '00000000-0000-0000-0000-0000000000b1', 'user', 'hi', NULL, NULL, NULL, NULL, '2025-07-03 12:01', 1);
INSERT INTO seed_ig.user_preferences VALUES
  ('igi-alice', '00000000-0000-0000-0000-0000000000a1', 'openai/gpt-4o', '2025-07-01 11:00', '2025-07-01 12:00'),
  ('igi-bob', '00000000-0000-0000-0000-0000000000a1', 'x', '2025-07-01 11:00', '2025-07-01 11:00'),
  ('igi-carol', '00000000-0000-0000-0000-0000000000ff', NULL, '2025-07-01 11:00', '2025-07-01 11:00');

SELECT * FROM chat_import_inference_gateway('seed_ig');
SELECT * FROM pg_temp.threads('00000000-%');
SELECT * FROM pg_temp.messages('00000000-%');
-- alice's active chat kept; bob's pointed at alice's chat and carol's at a
-- missing one: dropped
SELECT user_id, active_thread_id, selected_model, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS created,
       to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS updated
FROM chat_user_preferences WHERE user_id LIKE 'igi-%' ORDER BY user_id;
-- twice: nothing duplicated; preferences already there are left alone
SELECT * FROM chat_import_inference_gateway('seed_ig');
SELECT * FROM pg_temp.threads('00000000-%');
SELECT count(*) AS messages FROM chat_messages WHERE thread_id LIKE '00000000-%';
-- session usage is visible to the UI's usage call
SELECT * FROM chat_thread_usage('00000000-0000-0000-0000-0000000000a1', 'igi-alice');

-- the older layout: messages as a jsonb array in chat_sessions
CREATE SCHEMA seed_ig_old;
CREATE TABLE seed_ig_old.chat_sessions (
    id          text PRIMARY KEY,
    title       text NOT NULL,
    messages    jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now(),
    user_id     text NOT NULL,
    token_usage jsonb NOT NULL DEFAULT '{"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}'
);
INSERT INTO seed_ig_old.chat_sessions VALUES
  ('igo-1', 'Old one', '[{"id": "o1", "role": "user", "content": "hello"},
                         {"id": "o2", "role": "assistant", "content": "hi", "model": "m"}]',
   '2025-01-01 00:00', 'igo-user', '{"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}');
SELECT * FROM chat_import_inference_gateway('seed_ig_old');
SELECT * FROM chat_import_inference_gateway('seed_ig_old');
SELECT * FROM pg_temp.threads('igo-%');
SELECT * FROM pg_temp.messages('igo-%');

-- ---------------------------------------------------------------- flux-rag (Postgres)
CREATE SCHEMA seed_flux;
CREATE TABLE seed_flux.sessions (
    id         text PRIMARY KEY,
    title      text NOT NULL DEFAULT 'New Chat',
    metadata   jsonb DEFAULT '{}'::jsonb,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE seed_flux.messages (
    id         serial PRIMARY KEY,
    session_id text NOT NULL REFERENCES seed_flux.sessions (id) ON DELETE CASCADE,
    role       text NOT NULL,
    content    text NOT NULL,
    metadata   jsonb DEFAULT '{}'::jsonb,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO seed_flux.sessions VALUES
  ('fxi-1', 'Manuals', '{"collection": "docs"}', '2025-08-01 08:00', '2025-08-01 08:30'),
  ('fxi-2', 'Empty', '{}', '2025-08-02 08:00', '2025-08-02 08:00');
INSERT INTO seed_flux.messages (session_id, role, content, metadata, created_at) VALUES
  ('fxi-1', 'user', 'how do I reset?', '{}', '2025-08-01 08:00'),
  ('fxi-1', 'assistant', 'hold the button', '{"sources": ["m.pdf#3"]}', '2025-08-01 08:00'),
  ('fxi-1', 'user', 'thanks', '{}', '2025-08-01 08:30');
SELECT * FROM chat_import_flux_rag('seed_flux', 'fxi-app');
SELECT * FROM chat_import_flux_rag('seed_flux', 'fxi-app');
SELECT * FROM pg_temp.threads('fxi-%');
SELECT * FROM pg_temp.messages('fxi-%');
-- message_count for get_sessions
SELECT id, message_count FROM chat_list_threads('fxi-app') ORDER BY id;
-- flux-rag's own schema has uuid message ids: messages with one created_at
-- keep the source's order (1.1 sorted them by the random uuid)
CREATE SCHEMA seed_flux_uuid;
CREATE TABLE seed_flux_uuid.sessions (LIKE seed_flux.sessions);
CREATE TABLE seed_flux_uuid.messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), session_id text NOT NULL, role text NOT NULL,
    content text NOT NULL, metadata jsonb DEFAULT '{}'::jsonb, created_at timestamp);
INSERT INTO seed_flux_uuid.sessions VALUES ('fxu-1', 'Ties', '{}', '2025-08-03 08:00', '2025-08-03 08:00');
INSERT INTO seed_flux_uuid.messages (session_id, role, content, created_at)
SELECT 'fxu-1', CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END, 'turn ' || i, '2025-08-03 08:00'
FROM generate_series(1, 12) AS i;
SELECT messages_saved FROM chat_import_flux_rag('seed_flux_uuid', 'fxu-app');
SELECT string_agg(content, ', ' ORDER BY seq) AS source_order FROM chat_messages WHERE thread_id = 'fxu-1';

-- ---------------------------------------------------------------- errors
SELECT regress.try($$SELECT * FROM chat_import_langmiddle(NULL)$$);
SELECT regress.try($$SELECT * FROM chat_import_langmiddle('')$$);
SELECT regress.try($$SELECT * FROM chat_import_langmiddle('seed_no_such')$$);
SELECT regress.try($$SELECT * FROM chat_import_langmiddle('seed_ig')$$);
SELECT regress.try($$SELECT * FROM chat_import_inference_gateway('seed_lm')$$);
SELECT regress.try($$SELECT * FROM chat_import_flux_rag('seed_lm')$$);
CREATE SCHEMA seed_ig_bad;
CREATE TABLE seed_ig_bad.chat_sessions (id text PRIMARY KEY, title text, created_at timestamptz);
CREATE TABLE seed_ig_bad.messages (id text PRIMARY KEY, conversation text);
SELECT regress.try($$SELECT * FROM chat_import_inference_gateway('seed_ig_bad')$$);
CREATE SCHEMA seed_lm_bad;
CREATE TABLE seed_lm_bad.chat_threads (id text, user_id text, created_at timestamptz);
CREATE TABLE seed_lm_bad.chat_messages (id text, thread_id text, role text, content text, created_at timestamptz);
INSERT INTO seed_lm_bad.chat_threads VALUES (NULL, 'u', '2025-01-01');
SELECT regress.try($$SELECT * FROM chat_import_langmiddle('seed_lm_bad')$$);
-- a bad message fails the whole import (nothing written)
UPDATE seed_lm_bad.chat_threads SET id = 'lmb-1';
INSERT INTO seed_lm_bad.chat_threads VALUES ('lmb-0', 'u', '2000-01-01');
INSERT INTO seed_lm_bad.chat_messages VALUES ('b1', 'lmb-1', 'wizard', 'x', now());
SELECT regress.try($$SELECT * FROM chat_import_langmiddle('seed_lm_bad')$$) LIKE '22%' AS refused;
SELECT count(*) AS nothing_written FROM chat_threads WHERE id LIKE 'lmb-%';
SELECT regress.try($$SELECT _chat_import_thread('{"id": "x"}', '{}')$$);

SET client_min_messages = warning;
DROP SCHEMA seed_lm, seed_ig, seed_ig_old, seed_flux, seed_flux_uuid, seed_ig_bad, seed_lm_bad CASCADE;
