-- hardening (1.2): input rules, limits, overflow-safe arithmetic, the
-- updated_at rule, kept plans across a schema rename, the stable
-- fingerprint, the internal helpers and the tenant check of the write path
\pset null '(null)'
SET TimeZone = 'UTC';
-- the settings exist once the library is loaded
LOAD 'chatstore';

-- ---------------------------------------------------------------------
-- 1. token counts are whole numbers: a fraction is refused (22003, like a
-- negative number), never rounded
-- ---------------------------------------------------------------------
SELECT regress.try($$SELECT chat_usage_tokens('{"input_tokens": 1.5}', 'prompt')$$);
SELECT regress.try($$SELECT chat_usage_tokens('{"total_tokens": 0.1}', 'total')$$);
SELECT regress.try($$SELECT chat_usage_tokens('{"output_tokens": -1}', 'completion')$$);
-- a whole number in any JSON notation is fine
SELECT chat_usage_tokens('{"input_tokens": 2.0, "output_tokens": 1e2}', 'total') AS whole_numbers;
SELECT regress.try($$SELECT chat_save_messages('h1-tok', '[{"role": "user", "content": "x", "usage": {"prompt_tokens": 1.5}}]')$$);
SELECT regress.try($$SELECT chat_save_messages('h1-tok', '[{"role": "user", "content": "x", "usage_metadata": {"output_tokens": 2.25}}]')$$);
SELECT regress.try($$SELECT chat_save_messages('h1-tok', '[{"role": "user", "content": "x", "token_count": 2.5}]')$$);
SELECT regress.try($$SELECT chat_add_message('h1-tok', 'user', 'x', usage => '{"completion_tokens": 0.5}')$$);
SELECT count(*) AS nothing_saved FROM chat_threads WHERE id = 'h1-tok';
SELECT saved_count FROM chat_save_messages('h1-tok', '[{"role": "assistant", "content": "x", "usage": {"prompt_tokens": 3.0, "completion_tokens": 2}}]');
SELECT prompt_tokens, completion_tokens, total_tokens FROM chat_threads WHERE id = 'h1-tok';
SELECT token_count FROM chat_messages WHERE thread_id = 'h1-tok';

-- ---------------------------------------------------------------------
-- 2. created_at: ISO 8601 / RFC 3339 timestamps only (a date alone is its
-- midnight; without an offset the session's TimeZone applies)
-- ---------------------------------------------------------------------
-- the stored created_at of a message saved with this created_at, or the error
CREATE FUNCTION pg_temp.created_at(ts text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    tid text := 'h1-time-' || md5(ts);
    r text;
    stored timestamptz;
BEGIN
    r := regress.try(format('SELECT chat_save_messages(%L, %L::jsonb)', tid,
                            jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'x'),
                                              jsonb_build_object('role', 'user', 'content', 'y', 'created_at', ts))));
    IF r <> 'ok' THEN
        RETURN r;
    END IF;
    -- (formatted here, not in the query: on Citus the query runs on a
    -- worker, which does not have this session's TimeZone)
    SELECT m.created_at INTO stored FROM chat_messages m WHERE m.thread_id = tid AND m.seq = 2;
    RETURN stored::text;
END $$;
SELECT ts AS accepted, pg_temp.created_at(ts) AS stored
FROM unnest(ARRAY['2024-05-01T10:00:00Z', '2024-05-01 10:00:00+02', '2024-05-01T10:00:00.123456',
                  '2024-05-01t10:00:00.5z', '2024-05-01T10:00Z', '2024-05-01T10:00:00+0530',
                  '2024-05-01T10:00:00-03:00', '2024-05-01T10:00:00.1234567+00:00', '2024-05-01']) AS ts;
-- everything else is 22007 naming the element
SELECT ts AS refused, pg_temp.created_at(ts) AS error
FROM unnest(ARRAY['infinity', '-infinity', 'now', 'today', 'tomorrow', 'yesterday', 'epoch',
                  'allballs', '2024-05-01 10:00:00 PST', '2024-05-01T10:00:00 Europe/Oslo',
                  'May 1 2024', '05/01/2024', '2024-05-01T10:00:00Z ', ' 2024-05-01',
                  '20240501T100000Z', '2024-5-1', '2024-05-01T10', '2024-05-01T10:00:00.',
                  '2024-05-01 BC', 'J2451187', '']) AS ts;
-- a well-formed timestamp with a field out of range keeps PostgreSQL's
-- SQLSTATE (22008, 22009) and names the element
SELECT ts AS out_of_range, pg_temp.created_at(ts) AS error
FROM unnest(ARRAY['2024-05-01T25:00:00Z', '2024-02-30', '2024-05-01T10:00:00+25:00']) AS ts;
-- a query cancel while a batch's created_at values are read stays a cancel
-- (57014, not "invalid created_at"), and nothing is written
CREATE TEMP TABLE h1_big AS
SELECT jsonb_agg(jsonb_build_object('role', 'user', 'content', 'm' || i, 'created_at', '2024-05-01T10:00:00Z')) AS b
FROM generate_series(1, 100000) AS i;
\set VERBOSITY terse
SET statement_timeout = '20ms';
SELECT saved_count FROM chat_save_messages('h1-cancel', (SELECT b FROM h1_big));
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) AS nothing_written FROM chat_threads WHERE id = 'h1-cancel';
DROP TABLE h1_big;
-- chat_add_message: a timestamptz, but finite
SELECT regress.try($$SELECT chat_add_message('h1-time', 'user', 'x', created_at => 'infinity')$$);
SELECT regress.try($$SELECT chat_add_message('h1-time', 'user', 'x', created_at => '-infinity')$$);
SELECT seq FROM chat_add_message('h1-time', 'user', 'x', created_at => '2024-05-01 10:00:00+00');
SELECT seq, created_at FROM chat_messages WHERE thread_id = 'h1-time' ORDER BY seq DESC LIMIT 1;

-- ---------------------------------------------------------------------
-- 3. tool_calls elements: an OpenAI or a LangChain tool call, else 22023
-- naming the message and the element
-- ---------------------------------------------------------------------
CREATE FUNCTION pg_temp.tool_calls(tc text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT regress.try(format('SELECT chat_save_messages(%L, %L::jsonb)', 'h1-tc',
        '[{"role": "user", "content": "q"}, {"role": "assistant", "content": null, "tool_calls": ' || tc || '}]'))); END
$$;
SELECT tc AS refused, pg_temp.tool_calls(tc) AS error
FROM unnest(ARRAY[
    '[1, "x", null, true]',
    '[[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]]',
    '[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}, null]',
    '[{"id": "c1", "type": "function"}]',
    '[{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]',
    '[{"type": "function", "function": {"name": "f", "arguments": "{}"}}]',
    '[{"id": 7, "type": "function", "function": {"name": "f", "arguments": "{}"}}]',
    '[{"id": "c1", "type": "function", "function": "f"}]',
    '[{"id": "c1", "type": "function", "function": {"arguments": "{}"}}]',
    '[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]',
    '[{"name": "f", "args": "{}"}]',
    '[{"args": {}}]',
    '[{"name": "f", "args": {}, "id": 7}]',
    '[{"name": "f", "args": {}, "type": "function_call"}]',
    '[{"type": "custom", "custom": {"name": "f", "input": "x"}}]',
    '[{"id": "c1"}]',
    '[{}]']) AS tc;
SELECT count(*) AS nothing_saved FROM chat_threads WHERE id = 'h1-tc';
-- the known shapes, with other keys kept as they are
SELECT tc AS accepted, pg_temp.tool_calls(tc) AS result
FROM unnest(ARRAY[
    '[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}", "x": 1}, "index": 0}]',
    '[{"name": "f", "args": {"a": 1}, "id": "c2", "type": "tool_call"}]',
    '[{"name": "f", "args": {}, "id": null}]',
    '[{"name": "f", "args": {}}]',
    '[{"id": "c3", "type": "function", "function": {"name": "f", "arguments": ""}}, {"name": "g", "args": {}, "id": "c4"}]']) AS tc;
SELECT seq, tool_calls FROM chat_messages WHERE thread_id = 'h1-tc' AND role = 'assistant' ORDER BY seq;
-- chat_add_message checks its tool_calls the same way
SELECT regress.try($$SELECT chat_add_message('h1-tc', 'assistant', NULL, tool_calls => '[1]')$$);
SELECT regress.try($$SELECT chat_add_message('h1-tc', 'assistant', NULL, tool_calls => '[{"id": "c5", "type": "function"}]')$$);
SELECT regress.try($$SELECT chat_add_message('h1-tc', 'assistant', NULL, tool_calls => '[{"name": "g", "args": {}}, [1]]')$$);
SELECT regress.try($$SELECT chat_add_message('h1-tc', 'assistant', NULL, message_id => 'tc-ok',
    tool_calls => '[{"id": "c6", "type": "function", "function": {"name": "f", "arguments": "{}"}}]')$$);
SELECT regress.try($$SELECT chat_add_message('h1-tc', 'tool', '42', tool_call_id => 'c6')$$);
-- a call with its answer is in the model-ready context
SELECT chat_context('h1-tc', max_messages => 2) AS context;

-- ---------------------------------------------------------------------
-- 4. limits: chatstore.max_batch_messages is at most 1,000,000 (the arrays
-- of a larger batch would pass what one allocation may be); both limits
-- are superuser settings; over the limit is 54000
-- ---------------------------------------------------------------------
SET chatstore.max_batch_messages = 1000000;
SHOW chatstore.max_batch_messages;
SELECT regress.try($$SET chatstore.max_batch_messages = 1000001$$);
SELECT regress.try($$SET chatstore.max_batch_messages = 10000000$$);
SET chatstore.max_batch_messages = 3;
SELECT regress.try($$SELECT chat_save_messages('h1-lim', '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                                          {"role": "user", "content": "c"}, {"role": "user", "content": "d"}]')$$);
SELECT saved_count FROM chat_save_messages('h1-lim', '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                                       {"role": "user", "content": "c"}]');
RESET chatstore.max_batch_messages;
SET chatstore.max_message_bytes = '1kB';
SELECT regress.try(format('SELECT chat_save_messages(%L, %L::jsonb)', 'h1-lim',
                          jsonb_build_array(jsonb_build_object('role', 'user', 'content', repeat('x', 1025)))));
RESET chatstore.max_message_bytes;
SELECT name, context FROM pg_settings WHERE name LIKE 'chatstore.%' ORDER BY name;
-- an ordinary role can read the limits but not change them (42501)
CREATE ROLE regress_cs_h1_plain LOGIN;
GRANT USAGE ON SCHEMA regress TO regress_cs_h1_plain;
SET ROLE regress_cs_h1_plain;
SHOW chatstore.max_batch_messages;
SELECT regress.try($$SET chatstore.max_batch_messages = 5$$);
SELECT regress.try($$SET chatstore.max_batch_messages = 1000000$$);
SELECT regress.try($$SELECT set_config('chatstore.max_batch_messages', '5', true)$$);
SELECT regress.try($$SET chatstore.max_message_bytes = '512MB'$$);
-- (the tenant is the session's own choice, see README)
SELECT regress.try($$SET chatstore.tenant = 'anyone'$$);
RESET chatstore.tenant;
RESET ROLE;
REVOKE USAGE ON SCHEMA regress FROM regress_cs_h1_plain;
DROP ROLE regress_cs_h1_plain;

-- ---------------------------------------------------------------------
-- 5. bounds at the ends of bigint: no overflow (the sanitizer suite runs
-- these with -fno-wrapv and UBSan)
-- ---------------------------------------------------------------------
SELECT saved_count FROM chat_save_messages('h1-hist', '[
  {"id": "s", "role": "system", "content": "sys", "token_count": 2},
  {"id": "u", "role": "user", "content": "question", "token_count": 3},
  {"id": "a", "role": "assistant", "content": "answer", "token_count": 3}]');
SELECT count(*) AS none_below_min FROM chat_history('h1-hist', before_seq => -9223372036854775808, max_tokens => 100);
SELECT count(*) AS none_below_min_windowed FROM chat_history('h1-hist', 2, -9223372036854775808, NULL, 100);
SELECT count(*) AS none_above_max FROM chat_history('h1-hist', after_seq => 9223372036854775807, max_tokens => 100);
SELECT count(*) AS none_crossed FROM chat_history('h1-hist', 5, -9223372036854775808, 9223372036854775807, 100);
SELECT count(*) AS none_after_min FROM chat_history('h1-hist', after_seq => -9223372036854775808, before_seq => -9223372036854775807, max_tokens => 100);
SELECT string_agg(seq::text, ' ' ORDER BY seq) AS all_below_max
FROM chat_history('h1-hist', before_seq => 9223372036854775807, after_seq => -9223372036854775808, max_tokens => 2147483647);
SELECT string_agg(seq::text, ' ' ORDER BY seq) AS budget
FROM chat_history('h1-hist', before_seq => 9223372036854775807, max_tokens => 5);
SELECT chat_context('h1-hist', before_seq => -9223372036854775808, max_tokens => 10) AS context_below_min;
-- a thread whose seqs are used up: the save is refused (54000), nothing written
SELECT saved_count FROM chat_save_messages('h1-seqmax', '[{"id": "a", "role": "user", "content": "x"}]');
UPDATE chat_threads SET last_seq = 9223372036854775805 WHERE id = 'h1-seqmax';
SELECT regress.try($$SELECT chat_save_messages('h1-seqmax', '[{"id": "b", "role": "user", "content": "x"}, {"id": "c", "role": "user", "content": "y"}]')$$);
SELECT saved_count, first_seq, last_seq FROM chat_save_messages('h1-seqmax', '[{"id": "b", "role": "user", "content": "x"}]');
SELECT regress.try($$SELECT chat_save_messages('h1-seqmax', '[{"role": "user", "content": "z"}]')$$);
SELECT regress.try($$SELECT chat_add_message('h1-seqmax', 'user', 'z')$$);
UPDATE chat_threads SET last_seq = 9223372036854775807 WHERE id = 'h1-seqmax';
SELECT regress.try($$SELECT chat_save_messages('h1-seqmax', '[{"id": "d", "role": "user", "content": "x"}]')$$);
SELECT seq, id FROM chat_messages WHERE thread_id = 'h1-seqmax' ORDER BY seq;
SELECT string_agg(seq::text, ' ' ORDER BY seq) AS readable
FROM chat_history('h1-seqmax', before_seq => 9223372036854775807, max_tokens => 100);

-- ---------------------------------------------------------------------
-- 6. updated_at: a save sets it itself; the trigger reads no setting and
-- moves it only when an UPDATE changes something without assigning it
-- ---------------------------------------------------------------------
SELECT short_desc FROM pg_settings WHERE name = 'chatstore.touch_updated_at';
SELECT saved_count FROM chat_save_messages('h1-upd', '[{"id": "a", "role": "user", "content": "x"}]');
SELECT saved_count FROM chat_save_messages('h1-upd2', '[{"id": "a", "role": "user", "content": "x"}]');
-- an UPDATE that assigns updated_at keeps what it assigned
UPDATE chat_threads SET updated_at = '2020-01-01T00:00:00Z' WHERE id IN ('h1-upd', 'h1-upd2');
SELECT id, updated_at FROM chat_threads WHERE id IN ('h1-upd', 'h1-upd2') ORDER BY id;
-- the setting is deprecated and ignored: a save still moves updated_at
SET chatstore.touch_updated_at = off;
BEGIN;
SELECT saved_count FROM chat_save_messages('h1-upd', '[{"id": "b", "role": "user", "content": "y"}]');
-- (now() compared here: in a query of a chat table Citus evaluates it on
-- the worker, whose transaction started later)
SELECT updated_at AS h1_upd FROM chat_threads WHERE id = 'h1-upd' \gset
SELECT :'h1_upd'::timestamptz = now() AS save_moved_it;
-- ... and an UPDATE that changes a column moves it too
UPDATE chat_threads SET title = 'with the setting off' WHERE id = 'h1-upd2';
SELECT updated_at AS h1_upd2 FROM chat_threads WHERE id = 'h1-upd2' \gset
SELECT :'h1_upd2'::timestamptz = now() AS update_moved_it;
COMMIT;
RESET chatstore.touch_updated_at;
-- a save that inserts nothing does not touch the thread
UPDATE chat_threads SET updated_at = '2020-01-01T00:00:00Z' WHERE id IN ('h1-upd', 'h1-upd2');
SELECT saved_count FROM chat_save_messages('h1-upd', '[{"id": "b", "role": "user", "content": "y"}]');
-- an UPDATE that changes nothing leaves it
UPDATE chat_threads SET title = title WHERE id = 'h1-upd';
UPDATE chat_threads SET title = title, metadata = metadata, archived = archived WHERE id = 'h1-upd2';
SELECT id, updated_at FROM chat_threads WHERE id IN ('h1-upd', 'h1-upd2') ORDER BY id;
-- one that assigns updated_at (even its old value) keeps it, whatever else changes
UPDATE chat_threads SET updated_at = updated_at, message_count = 0 WHERE id = 'h1-upd2';
SELECT message_count, updated_at FROM chat_threads WHERE id = 'h1-upd2';
-- one that changes a column without assigning updated_at moves it
BEGIN;
UPDATE chat_threads SET title = 'x' WHERE id = 'h1-upd';
UPDATE chat_threads SET user_id = 'someone' WHERE id = 'h1-upd2';
CREATE TEMP TABLE h1_moved AS SELECT id, updated_at FROM chat_threads WHERE id IN ('h1-upd', 'h1-upd2');
SELECT id, updated_at = now() AS moved FROM h1_moved ORDER BY id;
COMMIT;
-- any table can use the trigger (the other chatstore tables with
-- updated_at do): dropped columns, ON CONFLICT DO UPDATE, a table without
-- the column
CREATE TEMP TABLE h1_stamped (k int PRIMARY KEY, gone text, v text,
                              updated_at timestamptz NOT NULL DEFAULT '2020-01-01T00:00:00Z');
CREATE TRIGGER h1_stamped_updated_at BEFORE UPDATE ON h1_stamped
    FOR EACH ROW EXECUTE FUNCTION chat_set_updated_at_trigger();
ALTER TABLE h1_stamped DROP COLUMN gone;
INSERT INTO h1_stamped (k, v) VALUES (1, 'a'), (2, NULL);
UPDATE h1_stamped SET v = v;
INSERT INTO h1_stamped (k, v) VALUES (1, 'a'), (2, NULL) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
SELECT k, v, updated_at FROM h1_stamped ORDER BY k;
BEGIN;
INSERT INTO h1_stamped (k, v) VALUES (1, 'b') ON CONFLICT (k) DO UPDATE SET v = excluded.v;
UPDATE h1_stamped SET v = 'c' WHERE k = 2;
SELECT k, v, updated_at = now() AS moved FROM h1_stamped ORDER BY k;
COMMIT;
CREATE TEMP TABLE h1_unstamped (k int);
CREATE TRIGGER h1_unstamped_updated_at BEFORE UPDATE ON h1_unstamped
    FOR EACH ROW EXECUTE FUNCTION chat_set_updated_at_trigger();
INSERT INTO h1_unstamped VALUES (1);
SELECT regress.try($$UPDATE h1_unstamped SET k = 2$$);

-- ---------------------------------------------------------------------
-- 7. the kept plans follow a rename of the extension's schema in the same
-- session (they were prepared with the old name): the C functions, called
-- directly (chat_history is PL/pgSQL since 1.5 and, like every PL/pgSQL
-- function, names the schema in its text: doc/limits-errors-settings.md)
-- ---------------------------------------------------------------------
SELECT saved_count FROM chat_save_messages('h1-ren', '[{"role": "user", "content": "before"}]');
SELECT count(*) AS budget_rows FROM chat_history('h1-ren', max_tokens => 100);
ALTER SCHEMA public RENAME TO h1_renamed;
SELECT saved_count, first_seq FROM h1_renamed.chat_save_messages('h1-ren', '[{"role": "user", "content": "before"}, {"role": "user", "content": "renamed"}]');
SELECT seq FROM h1_renamed.chat_add_message('h1-ren', 'assistant', 'added');
SELECT string_agg(content, ', ' ORDER BY seq) AS history FROM h1_renamed._chat_history_budget('h1-ren', NULL, NULL, NULL, 100);
ALTER SCHEMA h1_renamed RENAME TO public;
SELECT saved_count, first_seq FROM public.chat_save_messages('h1-ren', '[{"role": "user", "content": "back"}]');
SELECT string_agg(content, ', ' ORDER BY seq) AS history FROM public.chat_history('h1-ren', max_tokens => 100);

-- ---------------------------------------------------------------------
-- 8. the fingerprint, version 2: SHA-256 over a documented encoding, the
-- same on every server (src/msg_input.c)
-- ---------------------------------------------------------------------
-- the encoding, computed here independently with the built-in sha256()
CREATE FUNCTION pg_temp.fp_field(tag text, v text) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT convert_to(tag, 'SQL_ASCII') ||
           CASE WHEN v IS NULL THEN '\xffffffff'::bytea
                ELSE int4send(octet_length(v)) || convert_to(v, getdatabaseencoding()) END); END
$$;
CREATE FUNCTION pg_temp.fp_v2(role text, content text, parts jsonb, name text, tool_call_id text, tool_calls jsonb) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT ('x' || left(encode(sha256(
               convert_to('chatstore-fp-v2', 'SQL_ASCII')
            || pg_temp.fp_field('R', role)
            || CASE WHEN parts IS NOT NULL THEN pg_temp.fp_field('P', parts::text)
                    ELSE pg_temp.fp_field('C', content) END
            || pg_temp.fp_field('N', name)
            || pg_temp.fp_field('I', tool_call_id)
            || pg_temp.fp_field('T', tool_calls::text)), 'hex'), 16))::bit(64)::bigint); END
$$;
SELECT saved_count FROM chat_save_messages('h1-fp', '[
  {"role": "system", "content": "You are terse."},
  {"role": "human", "content": "Grüße, 世界 🌍 \"quoted\"\n"},
  {"role": "user", "content": ""},
  {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}, "!"]},
  {"role": "user", "content": []},
  {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "id": "c1", "function": {"arguments": "{}", "name": "f"}}]},
  {"role": "tool", "content": "42", "tool_call_id": "c1", "name": "f"},
  {"id": "with-id", "role": "assistant", "content": "ok", "name": "bot", "tool_calls": []}]');
-- (the rows copied here first: a statement that reads a chat table and calls
-- a pg_temp function would run on a Citus worker, which lacks the function)
CREATE TEMP TABLE h1_fp AS SELECT * FROM chat_messages WHERE thread_id IN ('h1-fp', 'h1-time');
SELECT seq, role, fingerprint_version,
       fingerprint = pg_temp.fp_v2(role, content, parts, name, tool_call_id, tool_calls) AS independent,
       fingerprint = _chat_fingerprint(role, content, parts, name, tool_call_id, tool_calls) AS sql_function
FROM h1_fp WHERE thread_id = 'h1-fp' ORDER BY seq;
SELECT fingerprint_version, fingerprint = pg_temp.fp_v2(role, content, parts, name, tool_call_id, tool_calls) AS independent
FROM h1_fp WHERE thread_id = 'h1-time' ORDER BY seq;
-- fixed values: these must never change (a dump restored anywhere, any
-- later version, must compute the same)
SELECT v.fp, v.fp = v.independent AS independent
FROM (VALUES
    (_chat_fingerprint('user', 'hello', NULL, NULL, NULL, NULL),
     pg_temp.fp_v2('user', 'hello', NULL, NULL, NULL, NULL)),
    (_chat_fingerprint('assistant', NULL, NULL, NULL, NULL, '[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]'),
     pg_temp.fp_v2('assistant', NULL, NULL, NULL, NULL, '[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]')),
    (_chat_fingerprint('user', NULL, '[{"type": "text", "text": "hi"}]', 'n', 'i', NULL),
     pg_temp.fp_v2('user', NULL, '[{"type": "text", "text": "hi"}]', 'n', 'i', NULL)),
    (_chat_fingerprint(NULL, NULL, NULL, NULL, NULL, NULL),
     pg_temp.fp_v2(NULL, NULL, NULL, NULL, NULL, NULL))) AS v(fp, independent);
-- every field counts, and content differs from parts with the same text
SELECT count(DISTINCT fp) AS distinct_fingerprints, count(*) AS of
FROM (VALUES (_chat_fingerprint('user', 'a', NULL, NULL, NULL, NULL)),
             (_chat_fingerprint('assistant', 'a', NULL, NULL, NULL, NULL)),
             (_chat_fingerprint('user', NULL, '"a"', NULL, NULL, NULL)),
             (_chat_fingerprint('user', '"a"', NULL, NULL, NULL, NULL)),
             (_chat_fingerprint('user', 'a', NULL, 'a', NULL, NULL)),
             (_chat_fingerprint('user', 'a', NULL, NULL, 'a', NULL)),
             (_chat_fingerprint('user', 'a', NULL, NULL, NULL, '[]')),
             (_chat_fingerprint('user', 'a', NULL, '', NULL, NULL)),
             (_chat_fingerprint('user', NULL, NULL, NULL, NULL, NULL)),
             (_chat_fingerprint('user', '', NULL, NULL, NULL, NULL))) AS v(fp);
-- internal: not executable by PUBLIC
SELECT has_function_privilege('public', '_chat_fingerprint(text, text, jsonb, text, text, jsonb)', 'EXECUTE') AS public_may_execute;
SELECT provolatile, proisstrict, proparallel FROM pg_proc WHERE proname = '_chat_fingerprint';
-- rows written by 1.0 and 1.1 (fingerprint_version NULL, fingerprints of
-- another hash) still align an id-less re-send: their fingerprints are
-- computed again from their columns, the rows are not rewritten
SELECT saved_count FROM chat_save_messages('h1-legacy', '[
  {"role": "user", "content": "ok"},
  {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
  {"role": "assistant", "content": null, "tool_calls": [{"name": "f", "args": {"a": 1}, "id": "c1"}]},
  {"role": "tool", "content": "done", "tool_call_id": "c1"}]');
UPDATE chat_messages SET fingerprint = fingerprint # 6148914691236517205, fingerprint_version = NULL
WHERE thread_id = 'h1-legacy';
SELECT count(*) FILTER (WHERE fingerprint_version IS NULL) AS legacy_rows,
       count(*) FILTER (WHERE fingerprint = _chat_fingerprint(role, content, parts, name, tool_call_id, tool_calls)) AS v2_values
FROM chat_messages WHERE thread_id = 'h1-legacy';
-- the whole conversation re-sent with one new message: only that is stored
SELECT saved_count, skipped_count, first_seq FROM chat_save_messages('h1-legacy', '[
  {"role": "user", "content": "ok"},
  {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
  {"role": "assistant", "content": null, "tool_calls": [{"name": "f", "args": {"a": 1}, "id": "c1"}]},
  {"role": "tool", "content": "done", "tool_call_id": "c1"},
  {"role": "user", "content": "next"}]');
-- a tail of legacy and current rows re-sent: nothing new
SELECT saved_count, skipped_count FROM chat_save_messages('h1-legacy', '[
  {"role": "tool", "content": "done", "tool_call_id": "c1"},
  {"role": "user", "content": "next"}]');
SELECT seq, content, fingerprint_version FROM chat_messages WHERE thread_id = 'h1-legacy' ORDER BY seq;
-- a legacy row whose fingerprint is missing altogether aligns as well
UPDATE chat_messages SET fingerprint = NULL, fingerprint_version = NULL WHERE thread_id = 'h1-legacy' AND seq = 5;
SELECT saved_count, skipped_count FROM chat_save_messages('h1-legacy', '[{"role": "user", "content": "next"}]');

-- ---------------------------------------------------------------------
-- 9. internal helpers for SQL functions
-- ---------------------------------------------------------------------
SELECT _chat_required('abc', 'key') AS required;
SELECT regress.try($$SELECT _chat_required(NULL, 'key')$$);
SELECT regress.try($$SELECT _chat_required('', 'thread_id')$$);
SELECT regress.try($$SELECT _chat_required(NULL, NULL)$$);
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p WHERE p.proname IN ('_chat_required', '_chat_tenant') ORDER BY 1;
-- _chat_tenant(): NULL unless row-level security would confine the
-- session's role on chat_threads; then chatstore.tenant ('' when unset)
SELECT _chat_tenant() IS NULL AS superuser_not_confined;

-- everything below runs in one transaction that is rolled back: roles,
-- row-level security, grants and data are gone afterwards
BEGIN;
CREATE ROLE regress_cs_h1_app LOGIN;
CREATE ROLE regress_cs_h1_bypass LOGIN BYPASSRLS;
CREATE ROLE regress_cs_h1_owner LOGIN;
CREATE ROLE regress_cs_h1_member LOGIN IN ROLE regress_cs_h1_owner;
GRANT USAGE ON SCHEMA regress TO regress_cs_h1_app, regress_cs_h1_bypass, regress_cs_h1_owner, regress_cs_h1_member;
GRANT EXECUTE ON FUNCTION _chat_tenant() TO regress_cs_h1_app, regress_cs_h1_bypass, regress_cs_h1_owner, regress_cs_h1_member;
-- a SECURITY DEFINER function of a superuser: RLS does not confine it, the
-- tenant check must still see its caller
CREATE FUNCTION regress.definer_tenant() RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT CASE WHEN r.rolsuper THEN 'a superuser' ELSE 'not a superuser' END
                 || ' sees ' || COALESCE(quote_literal(public._chat_tenant()), 'NULL')
          FROM pg_roles r WHERE r.rolname = current_user $$;
CREATE FUNCTION regress.definer_save(thread_id text, messages jsonb, user_id text DEFAULT NULL)
    RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT format('saved %s, skipped %s', s.saved_count, s.skipped_count)
          FROM public.chat_save_messages(thread_id, messages, user_id) AS s $$;
CREATE FUNCTION regress.definer_add(thread_id text, content text, user_id text DEFAULT NULL)
    RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT a.seq FROM public.chat_add_message(thread_id, 'user', content, user_id) AS a $$;
GRANT EXECUTE ON FUNCTION regress.definer_tenant(), regress.definer_save(text, jsonb, text),
    regress.definer_add(text, text, text) TO PUBLIC;
-- threads of two tenants and one without owner, written by the superuser
SELECT saved_count FROM chat_save_messages('h1-ten-a', '[{"id": "a1", "role": "user", "content": "of a"}]', 'h1_a');
SELECT saved_count FROM chat_save_messages('h1-ten-b', '[{"id": "b1", "role": "user", "content": "of b"}]', 'h1_b');
SELECT saved_count FROM chat_save_messages('h1-ten-none', '[{"id": "n1", "role": "user", "content": "of nobody"}]');

-- row-level security off: nobody is confined
SET LOCAL ROLE regress_cs_h1_app;
SELECT _chat_tenant() IS NULL AS app_not_confined_without_rls;
RESET ROLE;
ALTER TABLE chat_threads ENABLE ROW LEVEL SECURITY;
SET LOCAL ROLE regress_cs_h1_app;
SELECT quote_literal(_chat_tenant()) AS app_unset;
SET LOCAL chatstore.tenant = 'h1_a';
SELECT _chat_tenant() AS app_tenant, regress.definer_tenant() AS through_definer;
RESET ROLE;
SELECT _chat_tenant() IS NULL AS superuser_with_rls, regress.definer_tenant() AS superuser_through_definer;
SET LOCAL ROLE regress_cs_h1_bypass;
SELECT _chat_tenant() IS NULL AS bypassrls_not_confined;
RESET ROLE;
-- the table's owner (and a member of the owner role) is not confined,
-- unless row-level security is forced
ALTER TABLE chat_threads OWNER TO regress_cs_h1_owner;
SET LOCAL ROLE regress_cs_h1_owner;
SELECT _chat_tenant() IS NULL AS owner_not_confined;
SET LOCAL ROLE regress_cs_h1_member;
SELECT _chat_tenant() IS NULL AS owner_member_not_confined;
RESET ROLE;
ALTER TABLE chat_threads FORCE ROW LEVEL SECURITY;
SET LOCAL ROLE regress_cs_h1_owner;
SELECT _chat_tenant() AS forced_owner_confined;
RESET ROLE;
ALTER TABLE chat_threads NO FORCE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------
-- 10. the write path confines a confined caller itself (the functions run
-- as a role that row-level security does not confine)
-- ---------------------------------------------------------------------
SET LOCAL ROLE regress_cs_h1_app;
SET LOCAL chatstore.tenant = '';
SELECT regress.try($$SELECT regress.definer_save('h1-ten-a', '[{"role": "user", "content": "x"}]')$$);
SELECT regress.try($$SELECT regress.definer_add('h1-ten-new', 'x')$$);
SET LOCAL chatstore.tenant = 'h1_a';
-- another tenant's thread, one without owner, another tenant as user_id
SELECT regress.try($$SELECT regress.definer_save('h1-ten-b', '[{"role": "user", "content": "intrusion"}]')$$);
SELECT regress.try($$SELECT regress.definer_save('h1-ten-b', '[{"id": "b1", "role": "user", "content": "probe"}]', 'h1_a')$$);
SELECT regress.try($$SELECT regress.definer_add('h1-ten-b', 'intrusion')$$);
SELECT regress.try($$SELECT regress.definer_save('h1-ten-none', '[{"role": "user", "content": "intrusion"}]')$$);
SELECT regress.try($$SELECT regress.definer_save('h1-ten-a', '[{"role": "user", "content": "as b"}]', 'h1_b')$$);
SELECT regress.try($$SELECT regress.definer_save('h1-ten-new-b', '[{"role": "user", "content": "planted"}]', 'h1_b')$$);
SELECT regress.try($$SELECT regress.definer_save('h1-ten-a', '[{"role": "user", "content": "x"}]', '')$$);
-- its own thread, with or without user_id; a new thread is the tenant's
SELECT regress.definer_save('h1-ten-a', '[{"id": "a1", "role": "user", "content": "of a"}, {"id": "a2", "role": "user", "content": "more"}]');
SELECT regress.definer_save('h1-ten-a', '[{"id": "a3", "role": "user", "content": "again"}]', 'h1_a');
SELECT regress.definer_add('h1-ten-a', 'added') AS seq;
SELECT regress.definer_save('h1-ten-new', '[{"role": "user", "content": "new"}]');
SELECT regress.definer_add('h1-ten-new2', 'new', 'h1_a') AS seq;
RESET ROLE;
SELECT t.id, t.user_id, t.message_count,
       (SELECT string_agg(m.content, ', ' ORDER BY m.seq) FROM chat_messages m WHERE m.thread_id = t.id) AS contents
FROM chat_threads t WHERE t.id LIKE 'h1-ten-%' ORDER BY t.id;
-- a caller that is not confined (the superuser here) is checked as before:
-- a user_id must own the thread; no user_id reaches every thread
SELECT regress.try($$SELECT chat_save_messages('h1-ten-none', '[{"role": "user", "content": "x"}]', 'h1_a')$$);
SELECT regress.try($$SELECT chat_save_messages('h1-ten-b', '[{"role": "user", "content": "x"}]', 'h1_a')$$);
SELECT saved_count FROM chat_save_messages('h1-ten-b', '[{"role": "user", "content": "server"}]');
ROLLBACK;
SELECT count(*) AS rolled_back FROM chat_threads WHERE id LIKE 'h1-ten-%';
SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress_cs_h1%';

-- ---------------------------------------------------------------------
-- 11. chat_update_thread writes nothing when nothing changes (updated_at
-- stays); a real change moves it
-- ---------------------------------------------------------------------
SELECT id FROM chat_create_thread('h1-upd-noop', NULL, 'same title', '{"k": 1}');
UPDATE chat_threads SET updated_at = '2020-01-01T00:00:00Z' WHERE id = 'h1-upd-noop';
SELECT xmin AS row_version FROM chat_threads WHERE id = 'h1-upd-noop' \gset
SELECT title, updated_at = '2020-01-01T00:00:00Z' AS kept FROM chat_update_thread('h1-upd-noop', 'same title', '{"k": 1}');
SELECT updated_at = '2020-01-01T00:00:00Z' AS still_kept, xmin::text = :'row_version' AS row_not_rewritten
FROM chat_threads WHERE id = 'h1-upd-noop';
SELECT title, updated_at > '2020-01-01T00:00:00Z' AS moved FROM chat_update_thread('h1-upd-noop', 'new title');

-- ---------------------------------------------------------------------
-- 12. search indexes of two configurations with one name in two schemas
-- are two indexes: creating one does not hide the other, dropping one
-- leaves the other
-- ---------------------------------------------------------------------
CREATE TEXT SEARCH CONFIGURATION public.english (COPY = pg_catalog.english);
SELECT chat_create_search_index('pg_catalog.english') IS NOT NULL AS made_catalog;
SELECT chat_create_search_index('public.english') IS NOT NULL AS made_public;
SELECT count(*) AS english_indexes FROM pg_indexes
WHERE tablename = 'chat_messages' AND indexdef LIKE '%english%';
SELECT chat_drop_search_index('public.english') AS dropped_public;
SELECT indexname FROM pg_indexes WHERE tablename = 'chat_messages' AND indexdef LIKE '%english%';
SELECT chat_drop_search_index('pg_catalog.english') AS dropped_catalog;
DROP TEXT SEARCH CONFIGURATION public.english;

-- clean up
WITH d AS (DELETE FROM chat_threads WHERE id LIKE 'h1-%' RETURNING 1) SELECT count(*) > 0 AS cleaned FROM d;
