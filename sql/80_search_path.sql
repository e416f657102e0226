-- search_path attack: a non-superuser owns a schema that the victim puts
-- first on search_path (before pg_catalog) and fills it with functions,
-- aggregates and operators that shadow the built-ins chatstore uses.  Each
-- hostile object bumps a sequence (not undone by a rollback) and raises a
-- WARNING when called.  Every chatstore function is then called, three
-- times (plausible arguments, all NULL, hostile strings), with that
-- search_path; not one hostile object may be called.
\pset null '(null)'

CREATE ROLE regress_chatstore_evil LOGIN NOSUPERUSER;
CREATE SCHEMA cs_evil AUTHORIZATION regress_chatstore_evil;
SET ROLE regress_chatstore_evil;
CREATE SEQUENCE cs_evil.hits;
GRANT USAGE ON SCHEMA cs_evil TO PUBLIC;
GRANT USAGE, UPDATE ON SEQUENCE cs_evil.hits TO PUBLIC;

-- a hostile shadow of every overload of these built-in functions ...
CREATE TABLE cs_evil.shadowed (kind text, sig text);
DO $build$
DECLARE
    p record;
    args text;
    call text;
    body text;
    ret text;
    n int := 0;
BEGIN
    FOR p IN
        SELECT f.oid, f.proname, f.pronargs, f.proretset, f.prorettype,
               pg_catalog.pg_get_function_identity_arguments(f.oid) AS idargs,
               pg_catalog.format_type(f.prorettype, NULL) AS rettype
        FROM pg_catalog.pg_proc f
        WHERE f.pronamespace = 'pg_catalog'::regnamespace
          AND f.prokind = 'f'
          AND f.proallargtypes IS NULL
          AND f.provariadic = 0
          AND f.proname = ANY (ARRAY[
              'now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp',
              'gen_random_uuid', 'random', 'md5', 'hashtext', 'hashtextextended',
              'current_setting', 'current_user', 'session_user',
              'jsonb_typeof', 'jsonb_array_length', 'jsonb_array_elements', 'jsonb_array_elements_text',
              'jsonb_each', 'jsonb_each_text', 'jsonb_object_keys', 'jsonb_set', 'jsonb_insert',
              'jsonb_strip_nulls', 'jsonb_pretty', 'jsonb_path_exists', 'jsonb_path_query',
              'jsonb_extract_path', 'jsonb_extract_path_text', 'jsonb_exists', 'jsonb_contains',
              'jsonb_concat', 'to_jsonb', 'row_to_json', 'jsonb_populate_record', 'jsonb_to_record',
              'left', 'right', 'length', 'octet_length', 'char_length', 'lower', 'upper', 'btrim',
              'ltrim', 'rtrim', 'substr', 'substring', 'replace', 'strpos', 'position', 'starts_with',
              'split_part', 'regexp_replace', 'regexp_match', 'like_escape', 'quote_ident',
              'quote_literal', 'quote_nullable', 'textcat', 'texteq', 'textlike', 'lpad', 'rpad',
              'repeat', 'reverse', 'translate', 'encode', 'decode', 'convert_to', 'convert_from',
              'unnest', 'array_length', 'array_upper', 'array_lower', 'cardinality', 'array_position',
              'array_append', 'array_cat', 'array_remove', 'generate_series', 'generate_subscripts',
              'to_tsvector', 'to_tsquery', 'plainto_tsquery', 'websearch_to_tsquery', 'phraseto_tsquery',
              'ts_rank', 'ts_rank_cd', 'ts_headline', 'setweight', 'strip', 'numnode', 'querytree',
              'date_trunc', 'date_part', 'extract', 'age', 'make_interval', 'to_timestamp', 'to_char',
              'timezone', 'abs', 'ceil', 'floor', 'round', 'trunc', 'int8', 'int4', 'text', 'numeric',
              'pg_advisory_xact_lock', 'pg_try_advisory_xact_lock', 'txid_current',
              'pg_column_size', 'pg_relation_size', 'pg_total_relation_size', 'pg_size_pretty',
              'pg_table_size', 'pg_indexes_size', 'pg_database_size', 'format_type', 'has_table_privilege',
              'set_config', 'nextval', 'currval', 'setval', 'pg_notify', 'pg_extension_config_dump',
              'row_number', 'greatest', 'least'])
          -- only argument / result types a plpgsql function can have
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(f.proargtypes::oid[] || f.prorettype) AS t(oid)
                          JOIN pg_catalog.pg_type AS ty ON ty.oid = t.oid
                          WHERE ty.typtype = 'p'
                            AND ty.typname NOT IN ('anyelement', 'anyarray', 'anynonarray',
                                                   'anycompatible', 'anycompatiblearray', 'void', 'record'))
          AND NOT (f.prorettype = 'record'::regtype)
        ORDER BY f.oid
    LOOP
        SELECT pg_catalog.string_agg(pg_catalog.format('$%s', i), ', ')
        INTO args FROM pg_catalog.generate_series(1, p.pronargs) AS i;
        call := pg_catalog.format('pg_catalog.%I(%s)', p.proname, COALESCE(args, ''));
        IF p.proretset THEN
            body := pg_catalog.format('RETURN QUERY SELECT * FROM %s;', call);
        ELSIF p.prorettype = 'void'::regtype THEN
            body := pg_catalog.format('PERFORM %s; RETURN;', call);
        ELSE
            body := pg_catalog.format('RETURN %s;', call);
        END IF;
        ret := CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END || p.rettype;
        BEGIN
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION cs_evil.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
                p.proname, p.idargs, ret,
                pg_catalog.format('BEGIN PERFORM pg_catalog.nextval(''cs_evil.hits''); '
                                  'RAISE WARNING ''hostile %%(%%) called'', %L, %L; %s END',
                                  p.proname, p.idargs, body));
            INSERT INTO cs_evil.shadowed VALUES ('function', pg_catalog.format('%s(%s)', p.proname, p.idargs));
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO cs_evil.shadowed VALUES ('skipped', pg_catalog.format('%s(%s): %s', p.proname, p.idargs, SQLERRM));
        END;
    END LOOP;
END
$build$;

-- ... of some exact-type overloads of variadic "any" built-ins (a
-- non-superuser cannot write a "any" function, but an exact match wins
-- over pg_catalog's variadic one) ...
DO $var$
DECLARE sig text[];
BEGIN
    FOREACH sig SLICE 1 IN ARRAY ARRAY[
        ['jsonb_build_object', 'text, text', 'jsonb'], ['jsonb_build_object', 'text, jsonb', 'jsonb'],
        ['jsonb_build_object', 'text, bigint', 'jsonb'], ['jsonb_build_object', 'text, text, text, text', 'jsonb'],
        ['jsonb_build_object', 'text, text, text, jsonb', 'jsonb'], ['jsonb_build_array', 'text', 'jsonb'],
        ['jsonb_build_array', 'jsonb', 'jsonb'], ['format', 'text, text', 'text'],
        ['format', 'text, text, text', 'text'], ['concat', 'text, text', 'text'],
        ['concat_ws', 'text, text, text', 'text'], ['json_build_object', 'text, text', 'json']] LOOP
        EXECUTE pg_catalog.format(
            'CREATE FUNCTION cs_evil.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L', sig[1], sig[2], sig[3],
            pg_catalog.format('BEGIN PERFORM pg_catalog.nextval(''cs_evil.hits''); '
                              'RAISE WARNING ''hostile %s(%s) called''; RETURN NULL; END', sig[1], sig[2]));
        INSERT INTO cs_evil.shadowed VALUES ('function', pg_catalog.format('%s(%s)', sig[1], sig[2]));
    END LOOP;
END
$var$;

-- ... of these aggregates (the state function reports the call) ...
CREATE FUNCTION cs_evil.agg_hit(state bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN state; END $$;
CREATE FUNCTION cs_evil.agg_hit(state anycompatible, v anycompatible) RETURNS anycompatible LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN v; END $$;
CREATE FUNCTION cs_evil.agg_hit_j(state jsonb, v anyelement) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN state; END $$;
CREATE FUNCTION cs_evil.agg_hit_a(state anyarray, v anyelement) RETURNS anyarray LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN state; END $$;
CREATE FUNCTION cs_evil.agg_hit_t(state text, v text, d text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN state; END $$;
CREATE FUNCTION cs_evil.agg_hit_b(state boolean, v boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN v; END $$;
CREATE AGGREGATE cs_evil.count(*) (sfunc = cs_evil.agg_hit, stype = bigint, initcond = '0');
CREATE FUNCTION cs_evil.agg_hit_c(state bigint, v anyelement) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.nextval('cs_evil.hits'); RAISE WARNING 'hostile aggregate called'; RETURN state; END $$;
CREATE AGGREGATE cs_evil.count(anyelement) (sfunc = cs_evil.agg_hit_c, stype = bigint, initcond = '0');
DO $agg$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bigint', 'integer', 'numeric', 'real', 'double precision',
                             'timestamp with time zone', 'text', 'jsonb', 'interval'] LOOP
        EXECUTE pg_catalog.format('CREATE AGGREGATE cs_evil.max(%s) (sfunc = cs_evil.agg_hit, stype = %s)', t, t);
        EXECUTE pg_catalog.format('CREATE AGGREGATE cs_evil.min(%s) (sfunc = cs_evil.agg_hit, stype = %s)', t, t);
        IF t NOT IN ('text', 'jsonb', 'timestamp with time zone') THEN
            EXECUTE pg_catalog.format('CREATE AGGREGATE cs_evil.sum(%s) (sfunc = cs_evil.agg_hit, stype = %s)', t, t);
            EXECUTE pg_catalog.format('CREATE AGGREGATE cs_evil.avg(%s) (sfunc = cs_evil.agg_hit, stype = %s)', t, t);
        END IF;
    END LOOP;
END
$agg$;
CREATE AGGREGATE cs_evil.jsonb_agg(anyelement) (sfunc = cs_evil.agg_hit_j, stype = jsonb, initcond = '[]');
CREATE AGGREGATE cs_evil.array_agg(anyelement) (sfunc = cs_evil.agg_hit_a, stype = anyarray);
CREATE AGGREGATE cs_evil.string_agg(text, text) (sfunc = cs_evil.agg_hit_t, stype = text);
CREATE AGGREGATE cs_evil.bool_and(boolean) (sfunc = cs_evil.agg_hit_b, stype = boolean);
CREATE AGGREGATE cs_evil.bool_or(boolean) (sfunc = cs_evil.agg_hit_b, stype = boolean);
INSERT INTO cs_evil.shadowed
SELECT 'aggregate', format('%s(%s)', p.proname, CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_identity_arguments(p.oid) END) FROM pg_proc p
WHERE p.pronamespace = 'cs_evil'::regnamespace AND p.prokind = 'a';

-- ... and of every overload of these operators
DO $ops$
DECLARE
    o record;
    fn text;
    n int := 0;
BEGIN
    FOR o IN
        SELECT op.oid, op.oprname, op.oprleft, op.oprright, op.oprresult,
               pg_catalog.format_type(op.oprleft, NULL) AS l,
               pg_catalog.format_type(op.oprright, NULL) AS r,
               pg_catalog.format_type(op.oprresult, NULL) AS res
        FROM pg_catalog.pg_operator AS op
        WHERE op.oprnamespace = 'pg_catalog'::regnamespace
          AND op.oprkind = 'b'
          AND op.oprname = ANY (ARRAY['=', '<>', '<', '<=', '>', '>=', '||', '@>', '<@', '?', '?|', '?&',
                                      '->', '->>', '#>', '#>>', '-', '+', '*', '/', '%', '~~', '~~*',
                                      '!~~', '~', '~*', '@@', '&&', '#-'])
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type AS ty
                          WHERE ty.oid IN (op.oprleft, op.oprright, op.oprresult)
                            AND ty.typtype = 'p'
                            AND ty.typname NOT IN ('anyelement', 'anyarray', 'anynonarray',
                                                   'anycompatible', 'anycompatiblearray'))
        ORDER BY op.oid
    LOOP
        n := n + 1;
        fn := pg_catalog.format('op_%s', o.oid);
        BEGIN
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION cs_evil.%I(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
                fn, o.l, o.r, o.res,
                pg_catalog.format('BEGIN PERFORM pg_catalog.nextval(''cs_evil.hits''); '
                                  'RAISE WARNING ''hostile operator %%(%%, %%) called'', %L, %L, %L; '
                                  'RETURN $1 OPERATOR(pg_catalog.%s) $2; END',
                                  o.oprname, o.l, o.r, o.oprname));
            EXECUTE pg_catalog.format('CREATE OPERATOR cs_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = cs_evil.%I)',
                                      o.oprname, o.l, o.r, fn);
            INSERT INTO cs_evil.shadowed VALUES ('operator', pg_catalog.format('%s %s %s', o.l, o.oprname, o.r));
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO cs_evil.shadowed VALUES ('skipped', pg_catalog.format('%s %s %s: %s', o.l, o.oprname, o.r, SQLERRM));
        END;
    END LOOP;
END
$ops$;
RESET ROLE;

-- what is shadowed: the built-ins the brief names are all there
SELECT kind, count(*) > 10 AS many FROM cs_evil.shadowed WHERE kind <> 'skipped' GROUP BY kind ORDER BY kind;
SELECT s AS must_be_shadowed, EXISTS (SELECT 1 FROM cs_evil.shadowed WHERE sig = s) AS shadowed
FROM unnest(ARRAY['text = text', 'text <> text', 'jsonb || jsonb', 'jsonb @> jsonb', 'text || text',
                  'bigint + bigint', 'bigint = bigint', 'now()', 'gen_random_uuid()',
                  'jsonb_typeof(jsonb)', 'jsonb_build_object(text, jsonb)', 'unnest(anyarray)',
                  'to_tsvector(regconfig, text)', 'left(text, integer)', 'current_setting(text, boolean)',
                  'count(*)', 'max(bigint)', 'jsonb_agg(anyelement)', 'to_jsonb(anyelement)']) AS s;

-- the positive control: the traps work.  A function that does not pin its
-- search_path, called with the hostile one, calls the hostile objects.
CREATE FUNCTION pg_temp.unsafe() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RETURN now() IS NOT NULL AND 'a' = 'a'; END $$;
SET search_path = cs_evil, pg_catalog, public;
SELECT pg_temp.unsafe() AS unsafe_ran;
RESET search_path;
SELECT nextval('cs_evil.hits') > 2 AS traps_fired;
ALTER SEQUENCE cs_evil.hits RESTART;

-- data the calls work on (written with the normal search_path)
SELECT saved_count FROM chat_save_messages('sp_thread', '[
  {"id":"s1","role":"system","content":"be brief","token_count":3},
  {"id":"s2","role":"user","content":"hello world","metadata":{"k":"v"}},
  {"id":"s3","role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}],
   "usage":{"input_tokens":5,"output_tokens":7}},
  {"id":"s4","role":"tool","tool_call_id":"c1","content":"42"},
  {"id":"s5","role":"assistant","content":[{"type":"text","text":"the answer"}],"model":"m1"}]', 'sp_user');
SELECT chat_set_preferences('sp_user', 'sp_thread', 'm1', '{"theme":"dark"}') IS NOT NULL AS prefs;
SELECT chat_kv_set('sp_key', '{"v":1}', '1 hour') IS NOT NULL AS kv;
SELECT chat_kvlist_append('sp_key', '{"v":1}', '{"m":1}') IS NOT NULL AS list;
SELECT chat_agent_state_save('sp_agent', 'sp_session', '{"step":1}') IS NOT NULL AS agent_state;

-- plausible arguments by parameter name (else by type)
CREATE TEMP TABLE argval (name text, type regtype, val text);
INSERT INTO argval VALUES
  ('thread_id', NULL, 'sp_thread'), ('new_thread_id', NULL, 'sp_thread_fork'),
  ('user_id', NULL, 'sp_user'), ('id', NULL, 'sp_new_thread'), ('message_id', NULL, 'sp_new_msg'),
  ('messages', NULL, '[{"role":"user","content":"again"},{"id":"s2","role":"user","content":"dup"},
                       {"id":"n1","role":"ai","content":"new","usage_metadata":{"total_tokens":3}},
                       {"type":"human","content":[{"type":"text","text":"part"}]}]'),
  ('saved_ids', NULL, '{s1,zz}'), ('role', NULL, 'assistant'), ('roles', NULL, '{user,assistant}'),
  ('content', NULL, 'hello again'), ('query', NULL, 'hello'), ('metadata', NULL, '{"k":"v"}'),
  ('metadata_filter', NULL, '{"k":"v"}'), ('state', NULL, '{"s":1}'), ('state_filter', NULL, '{"step":1}'),
  ('settings', NULL, '{"theme":"light"}'), ('tool_calls', NULL, '[{"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}]'),
  ('usage', NULL, '{"prompt_tokens":1,"completion_tokens":2}'), ('kind', NULL, 'total'),
  ('key', NULL, 'sp_key'), ('prefix', NULL, 'sp_'), ('value', NULL, '{"v":2}'), ('values', NULL, '[1,2,3]'),
  ('agent_id', NULL, 'sp_agent'), ('session_id', NULL, 'sp_session'), ('expected_version', NULL, '1'),
  ('thread_ids', NULL, '{sp_thread}'), ('sort_by', NULL, 'updated_at'), ('sort_order', NULL, 'desc'),
  ('time_zone', NULL, 'UTC'), ('title', NULL, 'a title'), ('max_tokens', NULL, '20'),
  ('confined_tenant', NULL, 'sp_user'), ('max_batch_messages', NULL, '100'), ('max_message_bytes', NULL, '1048576'),
  ('max_messages', NULL, '3'), ('start', NULL, '0'), ('stop', NULL, '-1'), ('older_than', NULL, '1 day'),
  ('ttl', NULL, '1 hour'), ('config', NULL, 'simple'), ('force', NULL, 'false'),
  ('role_name', NULL, 'regress_chatstore_evil'), ('after_thread_id', NULL, 'sp_thread'), ('after_seq', NULL, '2'),
  ('thread', NULL, '{"id":"sp_import","user_id":"sp_user","title":"imported"}'), ('source_schema', NULL, 'sp_src'), ('active_thread_id', NULL, 'sp_thread'), ('selected_model', NULL, 'm2'),
  (NULL, 'text', 'x'), (NULL, 'jsonb', '{}'), (NULL, 'integer', '10'), (NULL, 'bigint', '2'),
  (NULL, 'real', '0.5'), (NULL, 'double precision', '0.5'), (NULL, 'boolean', 'true'), (NULL, 'interval', '1 day'),
  (NULL, 'timestamp with time zone', '2000-01-01 00:00+00'), (NULL, 'text[]', '{x}'),
  (NULL, 'regconfig', 'simple'), (NULL, 'regrole', 'regress_chatstore_evil');

-- hostile strings for every text argument in the third round
CREATE TEMP TABLE nasty AS SELECT E'\'; DROP TABLE chat_threads; --\\ $$ $fn$ %s %I @S@ \x01\x1f"\t' AS val;

-- the extension's functions, with three calls each.  On Citus a call of a
-- delegated function (_chat_*_at) with a NULL thread id crashes the server
-- while Citus plans it (13.2.2: its function-call delegation hashes the NULL
-- distribution argument); the public functions never pass a NULL thread id
-- to one, and there the NULL call passes a thread id
SELECT _chat_is_distributed() AS distributed \gset
CREATE TEMP TABLE calls AS
SELECT p.oid::regprocedure AS fn, v.variant,
       pg_catalog.format('SELECT * FROM %I.%I(%s)', n.nspname, p.proname,
           (SELECT COALESCE(string_agg(
                CASE v.variant
                  WHEN 'nulls' THEN CASE WHEN :'distributed'::boolean AND p.proname LIKE '\_chat\_%\_at' AND a.i = 1
                                         THEN quote_literal('sp_thread') ELSE 'NULL' END
                  WHEN 'hostile' THEN CASE WHEN a.t = 'text'::regtype THEN quote_literal((SELECT val FROM nasty))
                                           ELSE COALESCE(quote_literal(COALESCE(
                                                  (SELECT val FROM argval WHERE name = a.n),
                                                  (SELECT val FROM argval WHERE name IS NULL AND type = a.t))), 'NULL') END
                  ELSE COALESCE(quote_literal(COALESCE(
                         (SELECT val FROM argval WHERE name = a.n),
                         (SELECT val FROM argval WHERE name IS NULL AND type = a.t))), 'NULL')
                END || '::' || quote_ident(tn.nspname) || '.' || quote_ident(ty.typname), ', ' ORDER BY a.i), '')
            FROM unnest(p.proargtypes::oid[], p.proargnames[1:p.pronargs]) WITH ORDINALITY AS a(t, n, i)
            JOIN pg_type ty ON ty.oid = a.t JOIN pg_namespace tn ON tn.oid = ty.typnamespace)) AS sql
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
CROSS JOIN (VALUES ('plausible'), ('nulls'), ('hostile')) AS v(variant)
WHERE p.prorettype <> 'trigger'::regtype;

-- the driver: each call runs with the hostile search_path, in a
-- subtransaction that is always rolled back (so calls do not disturb each
-- other); the hit counter and the warnings survive the rollback.
CREATE FUNCTION pg_temp.run_calls()
RETURNS TABLE (fn regprocedure, variant text, state text, message text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM pg_temp.calls ORDER BY calls.fn::text, calls.variant LOOP
        fn := c.fn; variant := c.variant;
        BEGIN
            EXECUTE 'SET LOCAL search_path = cs_evil, pg_catalog, public';
            EXECUTE c.sql;
            EXECUTE 'SET LOCAL search_path = pg_catalog, pg_temp';
            RAISE EXCEPTION USING ERRCODE = 'SP000', MESSAGE = 'rollback';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
CREATE TEMP TABLE results AS SELECT * FROM pg_temp.run_calls();

-- every function of the extension (but the trigger function, fired by the
-- updates) was called
SELECT count(DISTINCT fn) > 40 AS many_functions,
       count(DISTINCT fn) = (SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
                             WHERE d.classid = 'pg_proc'::regclass AND p.prorettype <> 'trigger'::regtype) AS all_functions
FROM results;
-- THE ASSERTION: no hostile object was ever called (no WARNING above either)
SELECT last_value, is_called FROM cs_evil.hits;
-- with plausible arguments most calls succeed (SP000 = ran and was rolled
-- back); the few that cannot succeed with generic arguments (the importers
-- need a source schema), and why:
SELECT fn, state FROM results
WHERE variant = 'plausible' AND state <> 'SP000' ORDER BY fn::text;
SELECT count(*) FILTER (WHERE state = 'SP000') > 40 AS plausible_calls_ran FROM results WHERE variant = 'plausible';
-- hostile strings never reach SQL text: no call fails with a syntax or
-- name-resolution error (what splicing a value into SQL would cause)
SELECT fn, variant, state, message FROM results
WHERE state IN ('42601', '42P01', '42703', '42883', '42P02', '42704', '22P02') AND variant <> 'plausible'
ORDER BY 1::text, 2;
-- no call, whatever its arguments, ends in an internal error
SELECT fn, variant, state, message FROM results
WHERE state LIKE 'XX%' OR state LIKE '58%' ORDER BY 1::text, 2;

-- the state is untouched by all those rolled-back calls
SELECT message_count, last_seq FROM chat_threads WHERE id = 'sp_thread';

-- clean up
SELECT chat_delete_thread('sp_thread');
SELECT chat_kv_delete('sp_key');
SELECT chat_kvlist_delete('sp_key');
SELECT chat_agent_state_delete('sp_agent', 'sp_session');
SELECT chat_delete_user_data('sp_user') IS NOT NULL AS user_data_deleted;
SET client_min_messages = warning;
DROP SCHEMA cs_evil CASCADE;
RESET client_min_messages;
DROP ROLE regress_chatstore_evil;
