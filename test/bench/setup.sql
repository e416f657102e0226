-- chatstore benchmark: data generation helpers.  Loaded into the bench
-- database (never part of the extension).  Every generated message has about
-- 300 bytes of text content, realistic metadata, and assistant messages carry
-- a model name and a usage object.
--
-- The JSON batches are produced with jsonb::text, whose separators are ": "
-- and ", " -- pgbench would read ":name" (no space) as a variable.

SET client_min_messages = warning;

CREATE FUNCTION bench_words() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['the','a','user','asked','about','postgres','index','query','plan',
    'table','row','thread','message','history','model','token','budget','reply',
    'assistant','tool','call','result','weather','in','paris','tomorrow','please',
    'summarize','document','meeting','notes','action','items','deadline','friday',
    'error','stack','trace','python','function','returns','none','instead','of',
    'list','could','you','explain','why','this','happens','when','running','tests',
    'on','ci','server','with','two','cores','and','eight','gigabytes','memory',
    'latency','throughput','percentile','p99','benchmark','fast','slow','cache',
    'vacuum','autovacuum','bloat','toast','compression','json','jsonb','array',
    'search','ranking','snippet','language','english','french','translate','into',
    'short','answer','long','context','window','retrieval','chunk','embedding',
    'vector','similar','documents','sources','citation','is','are','was','be']
$$;

-- about 300 bytes of text for message k (deterministic)
CREATE FUNCTION bench_content(k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT left(string_agg(w[1 + (hashint8(k * 64 + i) & 2147483647) % 110], ' '), 300)
  FROM (SELECT bench_words() AS w) s, generate_series(1, 60) AS i
$$;

-- 4,096 precomputed texts for the bulk loads
CREATE TABLE bench_texts (k int PRIMARY KEY, content text NOT NULL);
INSERT INTO bench_texts SELECT k, bench_content(k) FROM generate_series(0, 4095) AS k;
ANALYZE bench_texts;

-- message k of a generated conversation as a JSON object (roles alternate
-- user / assistant; assistant messages have model and usage).  id NULL: none.
CREATE FUNCTION bench_msg(k bigint, id text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'id', id,
    'role', CASE WHEN k % 2 = 1 THEN 'user' ELSE 'assistant' END,
    'content', bench_content(k),
    'model', CASE WHEN k % 2 = 0 THEN 'gpt-4o-mini' END,
    'metadata', jsonb_build_object('source', 'web', 'client', 'bench-app/1.4',
                                   'lang', 'en', 'request_id', md5(k::text)),
    'usage', CASE WHEN k % 2 = 0 THEN
      jsonb_build_object('prompt_tokens', 120, 'completion_tokens', 80, 'total_tokens', 200) END))
$$;

-- a batch of n messages k = k0 .. k0+n-1 as JSON text; ids id_prefix || k
-- (id_prefix NULL: no ids)
CREATE FUNCTION bench_batch(k0 bigint, n int, id_prefix text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_agg(bench_msg(k, id_prefix || k) ORDER BY k)::text
  FROM generate_series(k0, k0 + n - 1) AS k
$$;

-- Direct load (bypasses chatstore; used for background data and read
-- workloads): nthreads threads named prefix || t, per_thread messages each
-- with ids 'm' || seq, owned by user_prefix || (t % nusers), aggregates set.
CREATE PROCEDURE bench_load(prefix text, t0 int, nthreads int, per_thread int,
                            user_prefix text, nusers int)
LANGUAGE plpgsql AS $$
DECLARE
  nasst int := per_thread / 2;
  owners boolean := EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'chat_messages'::regclass
                            AND attname = 'thread_user_id' AND NOT attisdropped);
BEGIN
  INSERT INTO chat_threads (id, user_id, title, metadata, message_count, last_seq,
                            prompt_tokens, completion_tokens, total_tokens,
                            last_message_at, created_at, updated_at)
  SELECT prefix || t, user_prefix || (t % nusers), 'conversation ' || t,
         jsonb_build_object('app', 'bench', 'topic', (ARRAY['code','travel','work','misc'])[1 + t % 4]),
         per_thread, per_thread, 120 * nasst, 80 * nasst, 200 * nasst,
         now() - make_interval(secs => t), now() - make_interval(secs => 2 * t),
         now() - make_interval(secs => t)
  FROM generate_series(t0, t0 + nthreads - 1) AS t;
  -- (1.7 and later: each row carries its thread's owner, as the saves write it)
  EXECUTE format($q$
  INSERT INTO chat_messages (thread_id, id, seq, role, content, model, metadata, usage,
                             token_count, created_at %s)
  SELECT $1 || t, 'm' || s, s,
         CASE WHEN s %% 2 = 1 THEN 'user' ELSE 'assistant' END,
         (SELECT x.content FROM bench_texts x WHERE x.k = (t * 1000 + s) %% 4096),
         CASE WHEN s %% 2 = 0 THEN 'gpt-4o-mini' END,
         jsonb_build_object('source', 'web', 'client', 'bench-app/1.4', 'lang', 'en',
                            'request_id', md5((t::bigint * 1000 + s)::text)),
         CASE WHEN s %% 2 = 0 THEN '{"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}'::jsonb END,
         CASE WHEN s %% 2 = 0 THEN 80 END,
         now() - make_interval(secs => $4 - s) %s
  FROM generate_series($2, $2 + $3 - 1) AS t, generate_series(1, $4) AS s$q$,
    CASE WHEN owners THEN ', thread_user_id' ELSE '' END,
    CASE WHEN owners THEN ', $5 || (t % $6)' ELSE '' END)
  USING prefix, t0, nthreads, per_thread, user_prefix, nusers;
END
$$;

-- W4: a 1,000-message agent conversation: a system prompt, then rounds of
-- user -> assistant(tool_calls) -> tool -> assistant answer.
CREATE PROCEDURE bench_load_tools(tid text, n int) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chat_threads (id, user_id, message_count, last_seq) VALUES (tid, 'w4user', n, n);
  INSERT INTO chat_messages (thread_id, id, seq, role, content, tool_calls, tool_call_id,
                             model, metadata, usage, token_count)
  SELECT tid, 'm' || s, s, r.role,
         CASE WHEN r.role = 'system' THEN 'You are a helpful assistant. Answer briefly and cite sources.'
              WHEN r.role = 'assistant' AND s % 4 = 3 THEN NULL
              WHEN r.role = 'tool' THEN '{"temperature": 14, "unit": "C", "sky": "cloudy"} ' || bench_content(s)
              ELSE bench_content(s) END,
         CASE WHEN r.role = 'assistant' AND s % 4 = 3 THEN
           jsonb_build_array(jsonb_build_object('id', 'call_' || s, 'type', 'function',
             'function', jsonb_build_object('name', 'get_weather', 'arguments', '{"city": "Paris"}'))) END,
         CASE WHEN r.role = 'tool' THEN 'call_' || (s - 1) END,
         CASE WHEN r.role = 'assistant' THEN 'gpt-4o-mini' END,
         '{"source": "agent"}'::jsonb,
         CASE WHEN r.role = 'assistant' THEN '{"prompt_tokens": 300, "completion_tokens": 60}'::jsonb END,
         NULL
  FROM generate_series(1, n) AS s,
       LATERAL (SELECT CASE WHEN s = 1 THEN 'system'
                            WHEN s % 4 = 2 THEN 'user'
                            WHEN s % 4 = 3 THEN 'assistant'
                            WHEN s % 4 = 0 THEN 'tool'
                            ELSE 'assistant' END AS role) AS r;
  -- (1.7 and later: each row carries its thread's owner, as the saves write it)
  IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'chat_messages'::regclass
             AND attname = 'thread_user_id' AND NOT attisdropped) THEN
    EXECUTE 'UPDATE chat_messages SET thread_user_id = $1 WHERE thread_id = $2' USING 'w4user', tid;
  END IF;
END
$$;

-- seq of every thread in the set is 1..n with no gap, and the aggregates match
CREATE FUNCTION bench_check_gapless(prefix text) RETURNS TABLE (threads bigint, bad bigint)
LANGUAGE sql AS $$
  SELECT count(*), count(*) FILTER (WHERE NOT ok)
  FROM (SELECT t.id,
               (SELECT count(*) = t.last_seq AND count(*) = t.message_count
                       AND COALESCE(max(m.seq), 0) = t.last_seq AND COALESCE(min(m.seq), 1) = 1
                FROM chat_messages m WHERE m.thread_id = t.id) AS ok
        FROM chat_threads t WHERE t.id LIKE prefix || '%') s
$$;

-- W3 branched (chatstore 1.3): a thread whose active path holds 990
-- messages, with 20 branches (the last message edited 20 times, each time
-- followed by 47 more messages), saved through chatstore's functions; with
-- branched => false the same thread without the edits (one line of the
-- same 990 messages), to compare with
CREATE PROCEDURE bench_load_branched(tid text, branched boolean) LANGUAGE plpgsql AS $$
DECLARE
  k int;
  last_id text;
BEGIN
  PERFORM chat_save_messages(tid, bench_batch(1, 50, 'm')::jsonb, 'w3user');
  FOR k IN 1..20 LOOP
    IF branched THEN
      SELECT h.id INTO last_id FROM chat_history(tid, 1) AS h;
      PERFORM chat_edit_message(tid, last_id, bench_content(50 * k));
    END IF;
    PERFORM chat_save_messages(tid, bench_batch(50 * k + 1, 47, 'm')::jsonb, 'w3user');
  END LOOP;
END $$;
