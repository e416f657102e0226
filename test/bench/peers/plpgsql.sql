-- Peer "plpgsql": chat_save_messages written in PL/pgSQL by a skilled user,
-- with the same semantics: thread created when missing and locked FOR UPDATE
-- first (so seq is gapless under any concurrency: every later statement takes
-- a new snapshot), owner check, dedup by stored id and by repeats in the
-- batch, seq numbered on from last_seq, aggregates updated in the same
-- transaction.  Created by the benchmark in its own database only.
-- Shortcuts (none affect the benchmarked batches): no role aliases
-- (human/ai), no content-parts arrays, no id-less alignment (an id-less
-- message gets a uuid and is always stored), no input validation beyond the
-- table's constraints.
CREATE FUNCTION bench_plpgsql_save(p_thread text, p_messages jsonb,
                                   p_user text DEFAULT NULL,
                                   p_saved_ids text[] DEFAULT NULL,
                                   OUT saved_count int, OUT skipped_count int,
                                   OUT first_seq bigint, OUT last_seq bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_owner text;
  v_last  bigint;
  v_p bigint; v_c bigint; v_t bigint;
  v_known text[];
BEGIN
  SELECT t.user_id, t.last_seq INTO v_owner, v_last
  FROM chat_threads t WHERE t.id = p_thread FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO chat_threads (id, user_id) VALUES (p_thread, p_user) ON CONFLICT (id) DO NOTHING;
    SELECT t.user_id, t.last_seq INTO v_owner, v_last
    FROM chat_threads t WHERE t.id = p_thread FOR UPDATE;
  END IF;
  IF p_user IS NOT NULL AND v_owner IS NOT NULL AND v_owner <> p_user THEN
    RAISE EXCEPTION 'thread "%" belongs to another user', p_thread USING ERRCODE = '42501';
  END IF;

  -- the stored ids among the batch's: one index scan of chat_messages_pkey
  -- (an anti-join would be planned generically and could read the thread)
  IF v_last > 0 THEN
    SELECT array_agg(m.id) INTO v_known FROM chat_messages m
    WHERE m.thread_id = p_thread
      AND m.id = ANY (ARRAY(SELECT e->>'id' FROM jsonb_array_elements(p_messages) e
                            WHERE e->>'id' IS NOT NULL));
  END IF;
  v_known := COALESCE(v_known, '{}') || COALESCE(p_saved_ids, '{}');

  WITH b AS (
    SELECT r.*, COALESCE(r.id, gen_random_uuid()::text) AS fid
    FROM ROWS FROM (jsonb_to_recordset(p_messages) AS (id text, role text, content text,
           name text, model text, tool_calls jsonb, tool_call_id text, metadata jsonb,
           usage jsonb, token_count int, parent_id text, created_at timestamptz))
         WITH ORDINALITY AS r(id, role, content, name, model, tool_calls, tool_call_id,
                              metadata, usage, token_count, parent_id, created_at, ord)
  ), fresh AS (
    SELECT DISTINCT ON (b.fid) b.* FROM b
    WHERE b.fid <> ALL (v_known)
    ORDER BY b.fid, b.ord
  ), num AS (
    SELECT f.*, v_last + row_number() OVER (ORDER BY f.ord) AS seq,
           COALESCE((f.usage->>'input_tokens')::bigint, (f.usage->>'prompt_tokens')::bigint, 0) AS p,
           COALESCE((f.usage->>'output_tokens')::bigint, (f.usage->>'completion_tokens')::bigint, 0) AS c,
           (f.usage->>'output_tokens') IS NOT NULL OR (f.usage->>'completion_tokens') IS NOT NULL AS has_c
    FROM fresh f
  ), ins AS (
    INSERT INTO chat_messages (thread_id, id, seq, role, content, name, model, tool_calls,
                               tool_call_id, metadata, usage, token_count, parent_id,
                               user_id, created_at)
    SELECT p_thread, n.fid, n.seq, n.role, n.content, n.name, n.model, n.tool_calls,
           n.tool_call_id, COALESCE(n.metadata, '{}'), n.usage,
           COALESCE(n.token_count, CASE WHEN n.has_c THEN n.c::int END), n.parent_id,
           p_user, COALESCE(n.created_at, now())
    FROM num n
    RETURNING seq, usage
  )
  SELECT count(*), min(i.seq), max(i.seq),
         COALESCE(sum(COALESCE((i.usage->>'input_tokens')::bigint, (i.usage->>'prompt_tokens')::bigint, 0)), 0),
         COALESCE(sum(COALESCE((i.usage->>'output_tokens')::bigint, (i.usage->>'completion_tokens')::bigint, 0)), 0),
         COALESCE(sum(COALESCE((i.usage->>'total_tokens')::bigint,
                  COALESCE((i.usage->>'input_tokens')::bigint, (i.usage->>'prompt_tokens')::bigint, 0) +
                  COALESCE((i.usage->>'output_tokens')::bigint, (i.usage->>'completion_tokens')::bigint, 0))), 0)
    INTO saved_count, first_seq, last_seq, v_p, v_c, v_t
  FROM ins i;

  skipped_count := jsonb_array_length(p_messages) - saved_count;
  IF saved_count > 0 THEN
    UPDATE chat_threads t
    SET message_count = t.message_count + saved_count,
        last_seq = bench_plpgsql_save.last_seq,
        prompt_tokens = t.prompt_tokens + v_p,
        completion_tokens = t.completion_tokens + v_c,
        total_tokens = t.total_tokens + v_t,
        last_message_at = GREATEST(t.last_message_at, now())
    WHERE t.id = p_thread;
  END IF;
END
$fn$;
