#!/usr/bin/env bash
# Update timings: how long each `ALTER EXTENSION chatstore UPDATE` step takes
# on a big database, which locks it holds on chat_messages and chat_threads
# and for how long, and how long a concurrent reader and writer wait
# (issue 16, item 3; doc/performance.md "Updating a big database").
#
#   test/bench/update_timings.sh
#
# Environment:
#   UPD_MESSAGES   messages to load (default 10000000; rounded down to a
#                  multiple of UPD_PER_THREAD)
#   UPD_PER_THREAD messages per thread (default 100)
#   UPD_SAMPLE_MS  sampler period in ms (default 50)
#   UPD_SETTLE     seconds the reader and writer run before and after each
#                  step (default 2)
#   UPD_CSV        also write the result table as CSV to this file
#   UPD_KEEP=1     leave the cluster running afterwards (default: stopped and
#                  its directory deleted: at 10M messages it holds ~10 GB)
#   CHATSTORE_TMP, CHATSTORE_PORT  where the throwaway cluster lives
#                  (default /tmp/chatstore-updates, port 55441)
#
# It needs the versions 1.0 ... 1.4 and the update scripts installed (make
# install); it never installs anything.  What it does:
#
#  1. starts a throwaway cluster (scripts/lib.sh: shared_buffers 256MB,
#     fsync and synchronous_commit off; plus max_wal_size 16GB so that no
#     checkpoint is forced in the middle of a step);
#  2. CREATE EXTENSION chatstore VERSION '1.0' in database chatstore_upd and
#     loads UPD_MESSAGES messages set-based (INSERT ... SELECT
#     generate_series) as the owner: ~300-byte texts, user / assistant /
#     system / tool messages, assistant usage with token counts (0.1% of them
#     fractional, which 1.1->1.2 rounds), tool calls every tenth message, 2%
#     of the threads owned by '' (which 1.2 turns into NULL).  For speed the
#     indexes of chat_messages are dropped during the load and rebuilt from
#     their saved definitions afterwards (the script checks that the rebuilt
#     set is identical), and the foreign key is not checked row by row
#     (session_replication_role = replica): the rows are consistent by
#     construction, and the thread aggregates (message_count, last_seq, token
#     sums by 1.0's rules: input|prompt, output|completion, total or their
#     sum, each rounded, as 1.0 summed fractions; last_message_at) are
#     computed from the loaded messages.  Then VACUUM ANALYZE and CHECKPOINT;
#  3. for each step 1.0->1.1->1.2->1.3->1.4, while
#       - a sampler (application_name cs_sampler) inserts every UPD_SAMPLE_MS
#         the relation locks of the updating backend (cs_update) and of the
#         reader and writer on chat_messages and chat_threads, with their
#         wait events (pg_locks joined to pg_stat_activity, one transaction
#         per sample),
#       - a reader (cs_reader) runs SELECT ... FROM chat_messages WHERE
#         thread_id = $1 LIMIT 10 on a random thread every 10 ms,
#       - a thread reader (cs_treader) reads one chat_threads row by id every
#         10 ms (what every chatstore function does first),
#       - a writer (cs_writer) saves one message with chat_save_messages into
#         a random existing thread every 20 ms (the function of the version
#         installed at that moment; the signature is the same in all),
#     it runs BEGIN; ALTER EXTENSION chatstore UPDATE TO 'X'; (the relation
#     locks it then holds, saved); COMMIT and records its start and end
#     (clock_timestamp around it), the relfilenode and sizes of
#     chat_messages before and after, and the rows of chat_messages updated
#     (pg_stat_user_tables.n_tup_upd; the writer only inserts).  Reader and
#     writer latencies are measured in the server (clock_timestamp around
#     each statement) and each is committed on its own;
#  4. prints one line per step: total time; the strongest lock mode the
#     update held on chat_messages (exact: from pg_locks before its commit)
#     and for how long (from the first sample that saw it granted to the end
#     of the update, as locks are held until commit; resolution
#     UPD_SAMPLE_MS: "< 0.05" when no sample saw it); the same for
#     chat_threads; the longest reader, thread reader and writer statements
#     that overlapped the update; whether chat_messages was rewritten (new
#     relfilenode); its size (table + indexes + toast) before and after.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
N=${UPD_MESSAGES:-10000000}
PER=${UPD_PER_THREAD:-100}
SAMPLE_MS=${UPD_SAMPLE_MS:-50}
SETTLE=${UPD_SETTLE:-2}
THREADS=$((N / PER))
N=$((THREADS * PER))
DB=chatstore_upd
STEPS="1.1 1.2 1.3 1.4"

export CHATSTORE_TMP=${CHATSTORE_TMP:-/tmp/chatstore-updates}
export CHATSTORE_PORT=${CHATSTORE_PORT:-55441}
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"

[ "$THREADS" -ge 1 ] || { echo "UPD_MESSAGES must be at least UPD_PER_THREAD" >&2; exit 2; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

BG_PIDS=()
cleanup() {
    local rc=$?
    for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    if [ "${UPD_KEEP:-0}" = 1 ]; then
        echo "cluster kept: PGHOST=$CHATSTORE_TMP PGPORT=$CHATSTORE_PORT psql -d $DB"
    else
        cs_cluster_stop
        rm -rf "$CHATSTORE_TMP"
    fi
    exit $rc
}
trap cleanup EXIT

cs_cluster_start
psql -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "ALTER SYSTEM SET max_wal_size = '16GB'" \
    -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" \
    -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB"

# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------
log "loading $N messages in $THREADS threads (chatstore 1.0)"
T_LOAD=$(now)
q <<'SQL'
CREATE EXTENSION chatstore VERSION '1.0';
CREATE SCHEMA bench;
-- the indexes of chat_messages as 1.0 made them (rebuilt after the load)
CREATE TABLE bench.msg_indexes AS
SELECT c.relname AS name,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS def,
       k.contype, k.conname
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                             AND k.contype IN ('p', 'u')
WHERE i.indrelid = 'public.chat_messages'::regclass;
SQL
q -At -c "SELECT format('ALTER TABLE public.chat_messages DROP CONSTRAINT %I;', conname) FROM bench.msg_indexes WHERE conname IS NOT NULL
          UNION ALL SELECT format('DROP INDEX public.%I;', name) FROM bench.msg_indexes WHERE conname IS NULL" | q

T0=$(now)
q -v threads="$THREADS" -v per="$PER" <<'SQL'
SET session_replication_role = replica;   -- no row-by-row foreign key check
SET work_mem = '256MB';
SELECT setseed(0.16) \g /dev/null
-- 4096 texts of ~300 bytes from a small vocabulary
CREATE TEMP TABLE pool AS
WITH w AS (
    SELECT string_to_array(
        'the a to of and in is it that for you this with on be can are as not your we '
        'have will if or at by from an was what but all so do there how use which one '
        'message thread user assistant model token context window search index query '
        'table database update lock column row history summary tool call function result '
        'weather forecast city temperature order invoice customer account payment refund '
        'shipping address product price discount coupon question answer explain example '
        'code python error stack trace request response timeout retry server client '
        'network latency cache memory disk storage backup restore migration schema '
        'version release deploy build test review merge branch commit feature bug fix '
        'please thanks sure here steps first then next finally also however because '
        'meeting calendar schedule tomorrow today week month report chart data analysis', ' ') AS a)
SELECT k, (SELECT string_agg(w.a[1 + floor(random() * array_length(w.a, 1))::int + 0 * g.x], ' ')
           FROM generate_series(1, 46 + k % 5) AS g(x)) AS s
FROM w, generate_series(0, 4095) AS k;

INSERT INTO public.chat_messages
    (thread_id, id, seq, role, content, model, tool_calls, tool_call_id,
     metadata, usage, token_count, user_id, created_at, fingerprint)
SELECT 't' || t, 'm' || t || '-' || j, j, r.role,
       CASE WHEN r.role = 'assistant' AND j % 10 = 5 THEN NULL
            WHEN r.role = 'tool' THEN '{"temperature": ' || (t % 35) || ', "unit": "C", "summary": "' || left(p.s, 250) || '"}'
            ELSE p.s END,
       CASE WHEN r.role = 'assistant' THEN 'gpt-4o-mini' END,
       CASE WHEN r.role = 'assistant' AND j % 10 = 5 THEN
            jsonb_build_array(jsonb_build_object(
                'id', 'call_' || t || '_' || j, 'type', 'function',
                'function', jsonb_build_object('name', 'get_weather',
                                               'arguments', '{"city": "Paris", "days": ' || (j % 7) || '}')))
       END,
       CASE WHEN r.role = 'tool' THEN 'call_' || t || '_' || (j - 1) END,
       CASE WHEN j % 7 = 0 THEN '{"client": "web", "lang": "en"}'::jsonb ELSE '{}'::jsonb END,
       CASE WHEN r.role <> 'assistant' THEN NULL
            WHEN t % 3 = 0 THEN   -- Anthropic style keys
                jsonb_build_object('input_tokens', u.pt, 'output_tokens', u.ct)
            WHEN (t + j) % 997 = 0 THEN   -- fractional: 1.1->1.2 rounds them
                jsonb_build_object('prompt_tokens', u.pt + 0.5, 'completion_tokens', u.ct,
                                   'total_tokens', u.pt + u.ct + 0.5)
            ELSE jsonb_build_object('prompt_tokens', u.pt, 'completion_tokens', u.ct,
                                    'total_tokens', u.pt + u.ct,
                                    'prompt_tokens_details', jsonb_build_object('cached_tokens', u.pt / 2))
       END,
       CASE WHEN r.role = 'assistant' AND j % 10 = 5 THEN 12 ELSE octet_length(p.s) / 4 END,
       CASE WHEN r.role = 'user' AND t % 50 NOT IN (0, 25) THEN 'user-' || (t % 5000) END,
       timestamptz '2024-01-01 00:00+00' + t * interval '5 minutes' + j * interval '20 seconds',
       hashtextextended(p.s || j, t)
FROM generate_series(1, :threads) AS t,
     generate_series(1, :per) AS j,
     LATERAL (SELECT CASE WHEN j = 1 THEN 'system'
                          WHEN j % 10 = 6 THEN 'tool'
                          WHEN j % 2 = 0 THEN 'user'
                          ELSE 'assistant' END AS role) AS r,
     LATERAL (SELECT 200 + (t * 37 + j * 11) % 3000 AS pt, 20 + (t * 13 + j * 5) % 600 AS ct) AS u
,
     pool AS p
WHERE p.k = (t * 131 + j * 7) % 4096;

-- threads: aggregates computed from the messages, as 1.0 keeps them
INSERT INTO public.chat_threads
    (id, user_id, title, metadata, state, message_count, last_seq,
     prompt_tokens, completion_tokens, total_tokens, last_message_at,
     created_at, updated_at)
SELECT m.thread_id,
       CASE WHEN x.t % 50 = 0 THEN '' WHEN x.t % 50 = 25 THEN NULL ELSE 'user-' || (x.t % 5000) END,
       'Conversation ' || x.t, '{"source": "bench"}', '{}',
       count(*), max(m.seq),
       coalesce(sum(u.p), 0), coalesce(sum(u.c), 0), coalesce(sum(u.tot), 0),
       max(m.created_at), min(m.created_at), max(m.created_at)
FROM public.chat_messages AS m,
     LATERAL (SELECT substr(m.thread_id, 2)::int AS t) AS x,
     LATERAL (SELECT round(coalesce(m.usage->>'input_tokens', m.usage->>'prompt_tokens')::numeric) AS p,
                     round(coalesce(m.usage->>'output_tokens', m.usage->>'completion_tokens')::numeric) AS c) AS v,
     LATERAL (SELECT v.p, v.c, coalesce(round((m.usage->>'total_tokens')::numeric), v.p + v.c) AS tot) AS u
GROUP BY m.thread_id, x.t;
SQL
echo "rows: $(since "$T0")"

# rebuild the indexes of chat_messages, two connections in parallel (the
# full-text GIN index alone in one); then the constraints on their indexes
T0=$(now)
q -At -c "SELECT def || ';' FROM bench.msg_indexes WHERE def ~ 'to_tsvector'" \
    | q -c "SET maintenance_work_mem = '1GB'" -f - &
BG_PIDS+=($!)
q -At -c "SELECT def || ';' FROM bench.msg_indexes WHERE def !~ 'to_tsvector' ORDER BY conname NULLS LAST" \
    | q -c "SET maintenance_work_mem = '1GB'" -f -
wait "${BG_PIDS[-1]}"
BG_PIDS=()
q -At -c "SELECT format('ALTER TABLE public.chat_messages ADD CONSTRAINT %I %s USING INDEX %I;',
                        conname, CASE contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, name)
          FROM bench.msg_indexes WHERE conname IS NOT NULL ORDER BY contype" | q
q -At <<'SQL' | grep -q '^0$' || { echo "the rebuilt indexes of chat_messages differ from 1.0's" >&2; exit 1; }
SELECT count(*) FROM (
    (SELECT name, def, contype, conname FROM bench.msg_indexes
     EXCEPT
     SELECT c.relname, pg_get_indexdef(i.indexrelid), k.contype, k.conname
     FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
     LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                                  AND k.contype IN ('p', 'u')
     WHERE i.indrelid = 'public.chat_messages'::regclass)
    UNION ALL
    (SELECT c.relname, pg_get_indexdef(i.indexrelid), k.contype, k.conname
     FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
     LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                                  AND k.contype IN ('p', 'u')
     WHERE i.indrelid = 'public.chat_messages'::regclass
     EXCEPT
     SELECT name, def, contype, conname FROM bench.msg_indexes)) AS d;
SQL
echo "indexes: $(since "$T0")"

T0=$(now)
q -c "VACUUM (ANALYZE) public.chat_messages" -c "VACUUM (ANALYZE) public.chat_threads" -c "CHECKPOINT"
echo "vacuum analyze + checkpoint: $(since "$T0")"
echo "load total: $(since "$T_LOAD")"
q -At -F ' ' -c "SELECT 'chat_messages:', count(*), 'rows,', pg_size_pretty(pg_total_relation_size('public.chat_messages'))
                 FROM public.chat_messages"

# ---------------------------------------------------------------------------
# measurement helpers (schema bench: not part of the extension)
# ---------------------------------------------------------------------------
q -v threads="$THREADS" -v sample_ms="$SAMPLE_MS" <<'SQL'
CREATE TABLE bench.ctl (stop boolean NOT NULL);
INSERT INTO bench.ctl VALUES (false);
CREATE TABLE bench.samples (
    step text, ts timestamptz, pid int, app text, relname text, mode text,
    granted boolean, wait_event_type text, wait_event text);
CREATE TABLE bench.ops (step text, who text, t0 timestamptz, t1 timestamptz, err text);
-- the locks the update holds when its script has run (all of them are held
-- until it commits): the exact strongest mode, even one held for less than a
-- sampling period
CREATE TABLE bench.final_locks (step text, relname text, mode text);
CREATE TABLE bench.steps (
    step text PRIMARY KEY, t0 timestamptz, t1 timestamptz,
    filenode_before oid, filenode_after oid,
    size_before bigint, size_after bigint,
    upd_before bigint, upd_after bigint);

CREATE PROCEDURE bench.sampler(step text, period_ms int)
LANGUAGE plpgsql AS $$
DECLARE
    msgs oid := 'public.chat_messages'::regclass;
    thr  oid := 'public.chat_threads'::regclass;
    db   oid := (SELECT oid FROM pg_database WHERE datname = current_database());
BEGIN
    LOOP
        INSERT INTO bench.samples
        SELECT step, clock_timestamp(), a.pid, a.application_name,
               CASE l.relation WHEN msgs THEN 'chat_messages' WHEN thr THEN 'chat_threads' END,
               l.mode, l.granted, a.wait_event_type, a.wait_event
        FROM pg_stat_activity AS a
        LEFT JOIN pg_locks AS l
               ON l.pid = a.pid AND l.locktype = 'relation' AND l.database = db
              AND l.relation IN (msgs, thr)
        WHERE a.application_name IN ('cs_update', 'cs_reader', 'cs_treader', 'cs_writer');
        COMMIT;   -- also a fresh pg_stat_activity snapshot
        EXIT WHEN (SELECT stop FROM bench.ctl);
        PERFORM pg_sleep(period_ms / 1000.0);
    END LOOP;
END
$$;

-- what: 'messages' (the reader of the issue) or 'threads' (a thread row by id,
-- which every chatstore function reads first)
CREATE PROCEDURE bench.reader(step text, threads int, what text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    e  text;
    sql text := CASE what
        WHEN 'threads' THEN 'SELECT id, title, message_count FROM public.chat_threads WHERE id = $1'
        ELSE 'SELECT id, role, content FROM public.chat_messages WHERE thread_id = $1 LIMIT 10' END;
BEGIN
    LOOP
        t0 := clock_timestamp();
        e := NULL;
        BEGIN
            EXECUTE sql USING 't' || (1 + floor(random() * threads)::int);
        EXCEPTION WHEN OTHERS THEN
            e := SQLSTATE || ' ' || SQLERRM;
        END;
        INSERT INTO bench.ops VALUES (step, CASE what WHEN 'threads' THEN 'thread_reader' ELSE 'reader' END,
                                      t0, clock_timestamp(), e);
        COMMIT;
        EXIT WHEN (SELECT stop FROM bench.ctl);
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;

-- one message into a random existing thread of a real owner (not '' or NULL)
CREATE PROCEDURE bench.writer(step text, threads int)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    e  text;
    t  int;
    n  bigint := 0;
BEGIN
    LOOP
        t := 1 + floor(random() * threads)::int;
        IF t % 50 IN (0, 25) THEN t := t - 1; END IF;
        IF t < 1 THEN t := 1; END IF;
        n := n + 1;
        t0 := clock_timestamp();
        e := NULL;
        BEGIN
            EXECUTE 'SELECT public.chat_save_messages($1, $2, $3)'
                USING 't' || t,
                      jsonb_build_array(jsonb_build_object(
                          'id', 'w-' || step || '-' || n, 'role', 'user',
                          'content', 'a message written during the update to ' || step)),
                      'user-' || (t % 5000);
        EXCEPTION WHEN OTHERS THEN
            e := SQLSTATE || ' ' || SQLERRM;
        END;
        INSERT INTO bench.ops VALUES (step, 'writer', t0, clock_timestamp(), e);
        COMMIT;
        EXIT WHEN (SELECT stop FROM bench.ctl);
        PERFORM pg_sleep(0.02);
    END LOOP;
END
$$;
SQL

rel_state() {   # filenode, total size, rows updated of chat_messages
    q -At -F ' ' -c "SELECT pg_relation_filenode('public.chat_messages'),
                            pg_total_relation_size('public.chat_messages'),
                            (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'public.chat_messages'::regclass)"
}

# ---------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------
FROM=1.0
for TO in $STEPS; do
    STEP="$FROM->$TO"
    log "ALTER EXTENSION chatstore UPDATE TO '$TO' ($STEP)"
    q -c "SELECT pg_stat_clear_snapshot()" >/dev/null
    read -r FN0 SZ0 UP0 < <(rel_state)
    q -c "UPDATE bench.ctl SET stop = false" \
      -c "INSERT INTO bench.steps (step, filenode_before, size_before, upd_before) VALUES ('$STEP', $FN0, $SZ0, $UP0)"
    PGAPPNAME=cs_sampler q -c "CALL bench.sampler('$STEP', $SAMPLE_MS)" & BG_PIDS+=($!)
    PGAPPNAME=cs_reader q -c "CALL bench.reader('$STEP', $THREADS, 'messages')" & BG_PIDS+=($!)
    PGAPPNAME=cs_treader q -c "CALL bench.reader('$STEP', $THREADS, 'threads')" & BG_PIDS+=($!)
    PGAPPNAME=cs_writer q -c "CALL bench.writer('$STEP', $THREADS)" & BG_PIDS+=($!)
    sleep "$SETTLE"
    PGAPPNAME=cs_update q -v step="$STEP" -v to="$TO" <<'SQL'
BEGIN;
UPDATE bench.steps SET t0 = clock_timestamp() WHERE step = :'step';
ALTER EXTENSION chatstore UPDATE TO :'to';
INSERT INTO bench.final_locks
SELECT :'step', CASE l.relation WHEN 'public.chat_messages'::regclass THEN 'chat_messages' ELSE 'chat_threads' END, l.mode
FROM pg_locks AS l
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation IN ('public.chat_messages'::regclass, 'public.chat_threads'::regclass);
COMMIT;
UPDATE bench.steps SET t1 = clock_timestamp() WHERE step = :'step';
SQL
    sleep "$SETTLE"
    q -c "UPDATE bench.ctl SET stop = true"
    for p in "${BG_PIDS[@]}"; do wait "$p"; done
    BG_PIDS=()
    sleep 1   # the backends' statistics are flushed
    read -r FN1 SZ1 UP1 < <(rel_state)
    q -c "UPDATE bench.steps SET filenode_after = $FN1, size_after = $SZ1, upd_after = $UP1 WHERE step = '$STEP'"
    q -At -c "SELECT 'took ' || round(extract(epoch FROM t1 - t0)::numeric, 2) || ' s' FROM bench.steps WHERE step = '$STEP'"
    FROM=$TO
done

[ "$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'chatstore'")" = 1.4 ]
q -At -c "SELECT 'threads owned by '''' after the updates: ' || count(*) FROM public.chat_threads WHERE user_id = ''"

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
log "results: $N messages, $THREADS threads, sampling every $SAMPLE_MS ms"
REPORT=$(cat <<'SQL'
WITH lockrank(mode, rank) AS (
    SELECT m, r FROM unnest(ARRAY['AccessShareLock', 'RowShareLock', 'RowExclusiveLock',
                                  'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock',
                                  'ExclusiveLock', 'AccessExclusiveLock']) WITH ORDINALITY AS x(m, r)),
held AS (   -- per step and relation: the strongest mode the update held, first sampled when
    SELECT DISTINCT ON (f.step, f.relname) f.step, f.relname, f.mode,
           (SELECT min(s.ts) FROM bench.samples AS s
            WHERE s.step = f.step AND s.relname = f.relname AND s.mode = f.mode
              AND s.app = 'cs_update' AND s.granted) AS first_ts
    FROM bench.final_locks AS f JOIN lockrank AS k ON k.mode = f.mode
    ORDER BY f.step, f.relname, k.rank DESC),
waits AS (
    SELECT o.step, o.who, max(o.t1 - o.t0) AS longest, count(*) AS n,
           count(o.err) AS errors, min(o.err) AS an_error
    FROM bench.ops AS o JOIN bench.steps AS st ON st.step = o.step
    WHERE o.t1 >= st.t0 AND o.t0 <= st.t1
    GROUP BY o.step, o.who),
blocked AS (   -- samples in which the reader / writer waited for a lock
    SELECT s.step, s.app, count(DISTINCT s.ts) AS n
    FROM bench.samples AS s
    WHERE s.app IN ('cs_reader', 'cs_treader', 'cs_writer') AND s.wait_event_type = 'Lock'
    GROUP BY s.step, s.app)
SELECT st.step,
       round(extract(epoch FROM st.t1 - st.t0)::numeric, 2) AS total_s,
       coalesce(hm.mode, '-') AS msgs_lock,
       CASE WHEN hm.mode IS NULL THEN '-'
            WHEN hm.first_ts IS NULL THEN '< ' || :'period'
            ELSE round(extract(epoch FROM st.t1 - hm.first_ts)::numeric, 2)::text END AS msgs_held_s,
       coalesce(ht.mode, '-') AS threads_lock,
       CASE WHEN ht.mode IS NULL THEN '-'
            WHEN ht.first_ts IS NULL THEN '< ' || :'period'
            ELSE round(extract(epoch FROM st.t1 - ht.first_ts)::numeric, 2)::text END AS threads_held_s,
       round(extract(epoch FROM wr.longest)::numeric * 1000, 1) AS reader_max_ms,
       coalesce(br.n, 0) AS reader_blocked_samples,
       round(extract(epoch FROM wt.longest)::numeric * 1000, 1) AS thread_reader_max_ms,
       coalesce(bt.n, 0) AS thread_reader_blocked_samples,
       round(extract(epoch FROM ww.longest)::numeric * 1000, 1) AS writer_max_ms,
       coalesce(bw.n, 0) AS writer_blocked_samples,
       coalesce(wr.errors, 0) + coalesce(wt.errors, 0) + coalesce(ww.errors, 0) AS errors,
       CASE WHEN st.filenode_before <> st.filenode_after THEN 'yes' ELSE 'no' END AS rewritten,
       pg_size_pretty(st.size_before) AS size_before,
       pg_size_pretty(st.size_after) AS size_after,
       st.upd_after - st.upd_before AS rows_updated
FROM bench.steps AS st
LEFT JOIN held AS hm ON hm.step = st.step AND hm.relname = 'chat_messages'
LEFT JOIN held AS ht ON ht.step = st.step AND ht.relname = 'chat_threads'
LEFT JOIN waits AS wr ON wr.step = st.step AND wr.who = 'reader'
LEFT JOIN waits AS ww ON ww.step = st.step AND ww.who = 'writer'
LEFT JOIN waits AS wt ON wt.step = st.step AND wt.who = 'thread_reader'
LEFT JOIN blocked AS bt ON bt.step = st.step AND bt.app = 'cs_treader'
LEFT JOIN blocked AS br ON br.step = st.step AND br.app = 'cs_reader'
LEFT JOIN blocked AS bw ON bw.step = st.step AND bw.app = 'cs_writer'
ORDER BY st.t0
SQL
)
PERIOD=$(awk -v ms="$SAMPLE_MS" 'BEGIN { printf "%g", ms / 1000 }')
q -P pager=off -v period="$PERIOD" -f - <<< "$REPORT;"
q -At -c "SELECT 'error: ' || step || ' ' || who || ': ' || err FROM bench.ops WHERE err IS NOT NULL GROUP BY 1 LIMIT 10"
if [ -n "${UPD_CSV:-}" ]; then
    q -v period="$PERIOD" -f - <<< "COPY ($REPORT) TO STDOUT WITH (FORMAT csv, HEADER);" > "$UPD_CSV"
fi
