#!/usr/bin/env bash
# A long mixed load (issue 16, item 4; doc/performance.md "A long mixed load"):
# MIX_CLIENTS clients call chatstore as chat applications do, at realistic
# proportions, for MIX_SECONDS on a database of MIX_MESSAGES messages, while
# pg_cron runs retention and chat_delete_user_data every minute; then it
# reports throughput and p50 / p99 per operation over time (a CSV of 10 s
# windows and a plot) and checks the database.
#
#   test/bench/mixed_load.sh                 # 64 clients, 10 minutes, 3,000,000 messages
#   MIX_SMOKE=1 test/bench/mixed_load.sh     # 8 clients, 20 s, 20,000 messages: under 90 s
#
# Environment:
#   MIX_CLIENTS    clients, each its own connection (default 64; smoke 8)
#   MIX_SECONDS    seconds of load (default 600; smoke 20).  The load goes on
#                  past it until every pg_cron job has finished a run that
#                  started during the load (pg_cron 1.4 runs jobs at minute
#                  boundaries; at most 90 s more), so a short run still
#                  overlaps every job
#   MIX_MESSAGES   messages loaded before (default 3000000; smoke 20000)
#   MIX_PROCS      client processes the clients' threads are spread over
#                  (default 4)
#   MIX_OUT        where the results go, a path prefix: <prefix>.csv (the
#                  10 s windows) and <prefix>.png (the plot).  Default
#                  doc/img/mixed_load (the figures of the performance doc);
#                  smoke: test/bench/results/mixed_load_smoke.  The summary
#                  (the table per operation, errors, pg_cron runs) goes to
#                  stdout and test/bench/results/<basename of the prefix>.txt,
#                  next to the server log (_server.log), the run's times and
#                  pg_cron runs (_run.json) and the 1 s activity samples
#                  (_monitor.csv)
#   MIX_KEEP=1     leave the cluster running afterwards (default: stopped and
#                  its directory deleted)
#   MIX_SMOKE=1    the small defaults above, and no plot when matplotlib is
#                  missing (the full run installs python3-matplotlib when it
#                  runs as root, and stops otherwise)
#   CHATSTORE_TMP, CHATSTORE_PORT  the throwaway cluster (default
#                  /tmp/chatstore-mixed, port 55461)
#
# It needs the extension installed (make install), pg_cron
# (postgresql-15-cron) and python3-psycopg; it installs nothing but
# python3-matplotlib (the full run, as root, for the plot).  What it does:
#
#  1. starts a throwaway cluster (scripts/lib.sh: pg_cron preloaded, fsync
#     and synchronous_commit off) with shared_buffers 1GB, max_connections
#     MIX_CLIENTS + 40, max_wal_size 8GB, log_lock_waits on, the SQLSTATE
#     and application in every log line, and auto_explain logging the plan
#     of every statement over 5 s (nested ones too); the server log is copied
#     to test/bench/results/<basename of MIX_OUT>_server.log at the end;
#  2. loads MIX_MESSAGES messages set-based into database chatstore_mix under
#     the current version (as update_timings.sh does: the indexes of
#     chat_messages dropped during the load and rebuilt from their saved
#     definitions, and the foreign keys that reference it dropped and added
#     again, all checked identical; no row-by-row foreign-key check): threads
#     of 3 to 121 messages (mean about 42; a system prompt, then user and
#     assistant turns; every fifth thread an agent with tool calls and tool
#     answers), 25 threads per user, assistant usage in OpenAI or Anthropic
#     keys, texts drawn from a Zipf-like vocabulary of 8,128 words (so
#     that search words have realistic selectivities), created_at spread over
#     the last 720 days, fingerprints as chat_save_messages computes them; the
#     thread aggregates computed from the messages with chat_usage_tokens; one
#     preferences row per user; VACUUM ANALYZE, CHECKPOINT;
#  3. schedules five pg_cron jobs, each every minute, in the database
#     (pointed at the unix socket, doc/retention.md): keep_last(100),
#     delete_old_messages('400 days'), delete_idle_threads('600 days'), the
#     tombstone and key-value purges, and chat_delete_user_data of one of the
#     100 most active users;
#  4. runs test/bench/mixed_load.py (the clients, their proportions and what
#     each one records are described there), then reports;
#  5. checks, each failing the script when violated:
#       - every client error is documented for its call (mixed_load.py);
#       - every pg_cron run succeeded, and each job ran;
#       - no deadlock: pg_stat_database.deadlocks did not move, the server
#         log has no "deadlock detected" (nor a crash);
#       - every thread's aggregates are exact: message_count, the token sums
#         (chat_usage_tokens over its messages), tombstone_count equal its
#         rows; last_message_at is the newest message's created_at (a thread
#         that lost messages: not older than its newest message left);
#       - seq is gapless: a thread's stored messages and the tombstones of
#         its deleted ones hold each seq from 1 to last_seq exactly once
#         (doc/branches.md: gapless when assigned, never reused; tombstones
#         are purged only after chatstore.tombstone_retention, 30 days);
#       - the message tree is sound: every parent_seq names a message or a
#         tombstone of the thread with a smaller seq; an active path lies in
#         1..last_seq;
#       - amcheck: bt_index_parent_check(heapallindexed, rootdescend) on every
#         btree index of every chatstore table, verify_heapam (with TOAST) on
#         every chatstore table (PostgreSQL 15's amcheck has no GIN check).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
if [ "${MIX_SMOKE:-0}" = 1 ]; then
    CLIENTS=${MIX_CLIENTS:-8} SECS=${MIX_SECONDS:-20} N=${MIX_MESSAGES:-20000}
    OUT=${MIX_OUT:-$BENCH_DIR/results/mixed_load_smoke}
else
    CLIENTS=${MIX_CLIENTS:-64} SECS=${MIX_SECONDS:-600} N=${MIX_MESSAGES:-3000000}
    OUT=${MIX_OUT:-$ROOT/doc/img/mixed_load}
fi
PROCS=${MIX_PROCS:-4}
DB=chatstore_mix
PY=/usr/bin/python3

export CHATSTORE_TMP=${CHATSTORE_TMP:-/tmp/chatstore-mixed}
export CHATSTORE_PORT=${CHATSTORE_PORT:-55461}
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"

[ "$N" -ge 1000 ] || { echo "MIX_MESSAGES must be at least 1000" >&2; exit 2; }
"$PY" -c 'import psycopg' 2>/dev/null || { echo "needs python3-psycopg" >&2; exit 2; }
PLOT=("--plot" "$OUT.png")
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    if [ "${MIX_SMOKE:-0}" = 1 ]; then
        echo "matplotlib is missing: no plot (apt-get install python3-matplotlib)"
        PLOT=()
    elif [ "$(id -u)" = 0 ]; then
        log "installing python3-matplotlib (for the plot)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null; }
    else
        echo "the plot needs python3-matplotlib: apt-get install python3-matplotlib (or MIX_SMOKE=1)" >&2
        exit 2
    fi
fi
mkdir -p "$(dirname "$OUT")" "$BENCH_DIR/results"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
qp() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

FAILS=0
ok()  { echo "ok - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

BG_PIDS=()
cleanup() {
    local rc=$?
    for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    # the server log (errors, lock waits, the plans of statements over 5 s),
    # and the run's times, pg_cron runs and 1 s activity samples
    [ -f "$CHATSTORE_TMP/server.log" ] && cp "$CHATSTORE_TMP/server.log" "$BENCH_DIR/results/$(basename "$OUT")_server.log"
    [ -f "$CHATSTORE_TMP/run/run.json" ] && cp "$CHATSTORE_TMP/run/run.json" "$BENCH_DIR/results/$(basename "$OUT")_run.json"
    [ -f "$CHATSTORE_TMP/run/monitor.csv" ] && cp "$CHATSTORE_TMP/run/monitor.csv" "$BENCH_DIR/results/$(basename "$OUT")_monitor.csv"
    if [ "${MIX_KEEP:-0}" = 1 ]; then
        echo "cluster kept: PGHOST=$CHATSTORE_TMP PGPORT=$CHATSTORE_PORT psql -d $DB"
    else
        cs_cluster_stop
        rm -rf "$CHATSTORE_TMP"
    fi
    exit $rc
}
trap cleanup EXIT

T_ALL=$(now)
log "conditions: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(free -g | awk '/^Mem/ {print $2 " GB RAM"}'); $CLIENTS clients, $SECS s, $N messages"
cs_cluster_start
qp -c "ALTER SYSTEM SET max_connections = $((CLIENTS + 40))" \
   -c "ALTER SYSTEM SET shared_buffers = '1GB'" \
   -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
   -c "ALTER SYSTEM SET log_lock_waits = on" \
   -c "ALTER SYSTEM SET log_autovacuum_min_duration = '10s'" \
   -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] %a %e: '" \
   -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
   -c "LOAD 'auto_explain'" \
   -c "ALTER SYSTEM SET auto_explain.log_min_duration = '5s'" \
   -c "ALTER SYSTEM SET auto_explain.log_nested_statements = on" >/dev/null
as_pg pg_ctl -D "$CHATSTORE_TMP/data" -l "$CHATSTORE_TMP/server.log" -w restart >/dev/null
qp -c "CREATE DATABASE $DB" -c "CREATE EXTENSION pg_cron"
echo "pg_cron $(qp -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'"), chatstore $(qp -At -c "SELECT default_version FROM pg_available_extensions WHERE name = 'chatstore'")"

# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------
log "loading about $N messages"
T_LOAD=$(now)
q <<'SQL'
CREATE EXTENSION chatstore;
CREATE EXTENSION amcheck;
CREATE SCHEMA bench;
-- the indexes of chat_messages as the extension made them (rebuilt after the load)
CREATE TABLE bench.msg_indexes AS
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, k.contype, k.conname
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                             AND k.contype IN ('p', 'u')
WHERE i.indrelid = 'public.chat_messages'::regclass;
-- the foreign keys that reference chat_messages (they depend on its key)
CREATE TABLE bench.msg_fkeys AS
SELECT k.conrelid::regclass::text AS tab, k.conname, pg_get_constraintdef(k.oid) AS def
FROM pg_constraint AS k WHERE k.confrelid = 'public.chat_messages'::regclass AND k.contype = 'f';
SQL
q -At -c "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I;', tab, conname) FROM bench.msg_fkeys" | q
q -At -c "SELECT format('ALTER TABLE public.chat_messages DROP CONSTRAINT %I;', conname) FROM bench.msg_indexes WHERE conname IS NOT NULL
          UNION ALL SELECT format('DROP INDEX public.%I;', name) FROM bench.msg_indexes WHERE conname IS NULL" | q

T0=$(now)
q -v n="$N" <<'SQL'
SET session_replication_role = replica;   -- no row-by-row foreign key check
SET work_mem = '256MB';
SELECT setseed(0.16) \g /dev/null

-- the vocabulary: 128 common words, then 8,000 made-up ones (three
-- syllables); word k is drawn with probability about 1 / (k ln V)
CREATE TABLE bench.vocab (k int PRIMARY KEY, w text NOT NULL);
INSERT INTO bench.vocab
SELECT k, w FROM unnest(string_to_array(
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
    'meeting calendar schedule tomorrow today week month report chart data analysis', ' '))
    WITH ORDINALITY AS x(w, k);
INSERT INTO bench.vocab
SELECT (SELECT max(k) FROM bench.vocab) + 1 + i,
       s[1 + i % 20] || s[1 + (i / 20) % 20] || s[1 + (i / 400) % 20]
FROM generate_series(0, 7999) AS i,
     (SELECT '{ka,lo,mi,ne,ru,so,ti,va,ze,po,du,fe,gi,ha,jo,ku,le,mo,na,pi}'::text[] AS s) AS y;

-- 16,384 texts: 8-40 words (user turns, tool answers), 40-160 words (replies)
CREATE TEMP TABLE pool AS
SELECT d.k, string_agg(v.w, ' ' ORDER BY d.g) AS s
FROM (SELECT k, g, least(floor(exp(random() * ln(n.v + 1)))::int, n.v) AS wk
      FROM (SELECT count(*)::int AS v FROM bench.vocab) AS n,
           generate_series(0, 16383) AS k,
           LATERAL generate_series(1, CASE WHEN k < 8192 THEN 8 + k % 33 ELSE 40 + k % 121 END) AS g) AS d
JOIN bench.vocab AS v ON v.k = d.wk
GROUP BY d.k;
CREATE UNIQUE INDEX ON pool (k);
ANALYZE pool;

-- the threads: 3 to 121 messages (mean about 42), 25 per user, started
-- between 720 days and an hour ago, a message every 30 s
CREATE TABLE bench.plan AS
WITH g AS (
    SELECT t, 3 + 2 * floor(power(random(), 2) * 60)::int AS len, random() AS r
    FROM generate_series(1, :n / 20 + 10) AS t),
c AS (SELECT *, sum(len) OVER (ORDER BY t) AS cum FROM g)
SELECT t, len, t % 5 = 0 AS agent, t % 3 = 0 AS anthropic,
       now() - interval '1 hour' - r * interval '719 days' - len * interval '30 seconds' AS started,
       'u' || (1 + (t - 1) % greatest(2, ceil(count(*) OVER () / 25.0)::int)) AS owner
FROM c WHERE cum <= :n;

INSERT INTO public.chat_messages
    (thread_id, id, seq, role, content, model, tool_calls, tool_call_id, metadata,
     usage, token_count, user_id, created_at, fingerprint, fingerprint_version)
SELECT 't' || s.t, 'm' || s.t || '-' || s.j, s.j, s.role, f.content, f.model, f.tool_calls,
       f.tool_call_id, '{}', f.usage, f.token_count, s.owner,
       s.started + s.j * interval '30 seconds',
       public._chat_fingerprint(s.role, f.content, NULL, NULL, f.tool_call_id, f.tool_calls), 2
FROM (SELECT p.t, p.owner, p.started, p.agent, p.anthropic, j, r.role,
             CASE WHEN r.role IN ('user', 'tool') THEN (p.t * 131 + j * 7) % 8192
                  ELSE 8192 + (p.t * 197 + j * 13) % 8192 END AS k
      FROM bench.plan AS p,
           generate_series(1, p.len) AS j,
           LATERAL (SELECT CASE WHEN j = 1 THEN 'system'
                                WHEN p.agent AND j % 10 = 6 THEN 'tool'
                                WHEN j % 2 = 0 THEN 'user'
                                ELSE 'assistant' END AS role) AS r) AS s
JOIN pool ON pool.k = s.k,
LATERAL (SELECT s.agent AND s.role = 'assistant' AND s.j % 10 = 5 AS is_call,
                100 + s.j * 40 + (s.t * 37) % 300 AS pt) AS x,
LATERAL (SELECT CASE WHEN s.role = 'system'
                     THEN 'You are a helpful assistant. Answer briefly and precisely; ask a question when the request is ambiguous.'
                     WHEN x.is_call THEN NULL
                     WHEN s.role = 'tool' THEN '{"result": "' || left(pool.s, 200) || '"}'
                     ELSE pool.s END AS content) AS c,
LATERAL (SELECT c.content,
                CASE WHEN s.role = 'assistant' THEN 'gpt-4o-mini' END AS model,
                CASE WHEN x.is_call THEN jsonb_build_array(jsonb_build_object(
                     'id', 'call_' || s.t || '_' || s.j, 'type', 'function',
                     'function', jsonb_build_object('name', 'search_docs',
                                                    'arguments', '{"query": "' || split_part(pool.s, ' ', 1) || '"}')))
                END AS tool_calls,
                CASE WHEN s.role = 'tool' THEN 'call_' || s.t || '_' || (s.j - 1) END AS tool_call_id,
                CASE WHEN s.role <> 'assistant' THEN NULL
                     WHEN s.anthropic THEN jsonb_build_object('input_tokens', x.pt,
                                                              'output_tokens', coalesce(octet_length(c.content) / 4, 20))
                     ELSE jsonb_build_object('prompt_tokens', x.pt,
                                             'completion_tokens', coalesce(octet_length(c.content) / 4, 20),
                                             'total_tokens', x.pt + coalesce(octet_length(c.content) / 4, 20))
                END AS usage,
                -- what a save stores: the usage's completion count
                CASE WHEN s.role = 'assistant' THEN coalesce(octet_length(c.content) / 4, 20) END AS token_count
        ) AS f;

-- the threads, with their aggregates computed from their messages
INSERT INTO public.chat_threads
    (id, user_id, title, metadata, state, message_count, last_seq, prompt_tokens,
     completion_tokens, total_tokens, last_message_at, created_at, updated_at)
SELECT 't' || p.t, p.owner, 'Conversation ' || p.t,
       jsonb_build_object('source', 'bench', 'project', 'p' || p.t % 7), '{}',
       a.n, a.last_seq, a.p, a.c, a.tot, a.last_at, a.first_at, a.last_at
FROM bench.plan AS p
JOIN (SELECT m.thread_id, count(*) AS n, max(m.seq) AS last_seq,
             coalesce(sum(public.chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
             coalesce(sum(public.chat_usage_tokens(m.usage, 'completion')), 0) AS c,
             coalesce(sum(public.chat_usage_tokens(m.usage, 'total')), 0) AS tot,
             min(m.created_at) AS first_at, max(m.created_at) AS last_at
      FROM public.chat_messages AS m GROUP BY m.thread_id) AS a ON a.thread_id = 't' || p.t;

-- one preferences row per user, its newest thread active
INSERT INTO public.chat_user_preferences (user_id, active_thread_id, selected_model, settings)
SELECT DISTINCT ON (user_id) user_id, id, 'gpt-4o-mini', '{"theme": "dark"}'
FROM public.chat_threads ORDER BY user_id, updated_at DESC;

CREATE TABLE bench.info AS
SELECT (SELECT count(DISTINCT owner) FROM bench.plan)::int AS users,
       (SELECT count(*) FROM bench.plan)::int AS threads,
       (SELECT sum(len) FROM bench.plan)::bigint AS messages;
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
q -At -c "SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', tab, conname, def) FROM bench.msg_fkeys" | q
q -At <<'SQL' | grep -q '^0$' || { echo "the rebuilt indexes or foreign keys of chat_messages differ from the extension's" >&2; exit 1; }
WITH now_fk AS (
    SELECT k.conrelid::regclass::text AS tab, k.conname, pg_get_constraintdef(k.oid) AS def
    FROM pg_constraint AS k WHERE k.confrelid = 'public.chat_messages'::regclass AND k.contype = 'f'),
now_idx AS (
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, k.contype, k.conname
    FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
    LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                                 AND k.contype IN ('p', 'u')
    WHERE i.indrelid = 'public.chat_messages'::regclass)
SELECT count(*) FROM ((TABLE bench.msg_indexes EXCEPT TABLE now_idx)
                      UNION ALL (TABLE now_idx EXCEPT TABLE bench.msg_indexes)
                      UNION ALL SELECT tab, def, NULL, conname FROM (TABLE bench.msg_fkeys EXCEPT TABLE now_fk) AS a
                      UNION ALL SELECT tab, def, NULL, conname FROM (TABLE now_fk EXCEPT TABLE bench.msg_fkeys) AS b) AS d;
SQL
echo "indexes: $(since "$T0")"
T0=$(now)
q -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
echo "vacuum analyze + checkpoint: $(since "$T0")"
echo "load total: $(since "$T_LOAD")"
read -r USERS THREADS MESSAGES < <(q -At -F ' ' -c "SELECT users, threads, messages FROM bench.info")
q -At -F ' ' -c "SELECT 'loaded:', $MESSAGES, 'messages,', $THREADS, 'threads,', $USERS, 'users; chat_messages',
                        pg_size_pretty(pg_total_relation_size('public.chat_messages')),
                        '(table, TOAST and indexes)'"

# ---------------------------------------------------------------------------
# pg_cron: retention and chat_delete_user_data every minute, in our database
# ---------------------------------------------------------------------------
TOP=$((USERS < 100 ? USERS : 100))
SOCK=$(qp -At -c "SELECT split_part(current_setting('unix_socket_directories'), ',', 1)")
qp -v db="$DB" -v top="$TOP" -v sock="$SOCK" >/dev/null <<'SQL'
SELECT cron.schedule_in_database('mix-keep-last', '* * * * *',
    'SELECT count(*) FROM chat_retention_keep_last(100, max_threads => 100)', :'db');
SELECT cron.schedule_in_database('mix-old-messages', '* * * * *',
    $$SELECT count(*) FROM chat_retention_delete_old_messages('400 days', max_threads => 100)$$, :'db');
SELECT cron.schedule_in_database('mix-idle-threads', '* * * * *',
    $$SELECT count(*) FROM chat_retention_delete_idle_threads('600 days', max_threads => 50)$$, :'db');
SELECT cron.schedule_in_database('mix-purge', '* * * * *',
    'SELECT * FROM chat_retention_purge_tombstones(); SELECT count(*) FROM chat_kv_purge_expired(all_tenants => true)', :'db');
SELECT cron.schedule_in_database('mix-delete-user', '* * * * *',
    format('SELECT chat_delete_user_data(''u'' || (1 + floor(random() * %s))::int)', :'top'), :'db');
-- pg_cron connects to cron.host (localhost, TCP); this cluster listens on a socket only
UPDATE cron.job SET nodename = :'sock' WHERE jobname LIKE 'mix-%';
SQL
JOBS=mix-keep-last,mix-old-messages,mix-idle-threads,mix-purge,mix-delete-user

# ---------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------
WORK="$CHATSTORE_TMP/run"
rm -rf "$WORK"
DL0=$(qp -At -c "SELECT sum(deadlocks) FROM pg_stat_database")
T_RUN=$(qp -At -c "SELECT now()")
log "mixed load: $CLIENTS clients for $SECS s (pg_cron jobs every minute)"
RUN_RC=0
"$PY" "$BENCH_DIR/mixed_load.py" run --db "$DB" --clients "$CLIENTS" --seconds "$SECS" \
    --procs "$PROCS" --workdir "$WORK" --cron-jobs "$JOBS" || RUN_RC=$?
[ "$RUN_RC" = 0 ] || bad "the client processes failed (exit $RUN_RC)"

# no more pg_cron runs; wait for the ones running
qp -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'mix-%'" >/dev/null
for _ in $(seq 1 120); do
    [ "$(qp -At -c "SELECT count(*) FROM cron.job_run_details WHERE start_time >= '$T_RUN'
                    AND status NOT IN ('succeeded', 'failed')")" = 0 ] && break
    sleep 0.5
done

log "report"
REPORT_RC=0
SUMMARY="$BENCH_DIR/results/$(basename "$OUT").txt"
"$PY" "$BENCH_DIR/mixed_load.py" report --workdir "$WORK" --csv "$OUT.csv" --summary "$SUMMARY" \
    "${PLOT[@]}" || REPORT_RC=$?
[ "$REPORT_RC" = 0 ] || FAILS=$((FAILS + 1))

# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
log "checks"
# pg_cron: every run since the load started (the job table names them)
CRON=$(qp -At -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE d.status = 'succeeded'),
                                count(DISTINCT d.jobid)
                         FROM cron.job_run_details AS d WHERE d.start_time >= '$T_RUN'")
read -r CRON_N CRON_OK CRON_JOBS <<< "$CRON"
if [ "$CRON_N" = "$CRON_OK" ] && [ "$CRON_JOBS" = 5 ]; then
    ok "pg_cron: $CRON_N runs of 5 jobs, all succeeded"
else
    bad "pg_cron: $CRON_OK of $CRON_N runs succeeded, $CRON_JOBS of 5 jobs ran"
    qp -At -c "SELECT count(*) || ' runs of job ' || jobid || ' ' || status || ': ' || coalesce(return_message, '')
               FROM cron.job_run_details WHERE start_time >= '$T_RUN' AND status <> 'succeeded'
               GROUP BY jobid, status, return_message"
fi

sleep 1   # the backends' statistics are flushed
DL1=$(qp -At -c "SELECT sum(deadlocks) FROM pg_stat_database")
[ "$DL1" = "$DL0" ] && ok "pg_stat_database.deadlocks did not move ($DL0)" \
    || bad "pg_stat_database.deadlocks went from $DL0 to $DL1"
LOG="$CHATSTORE_TMP/server.log"
n=$(grep -c 'deadlock detected' "$LOG" || true)
[ "$n" = 0 ] && ok "no 'deadlock detected' in the server log" || bad "$n 'deadlock detected' in the server log"
n=$(grep -cE 'PANIC|TRAP:|terminated by signal|was terminated by' "$LOG" || true)
[ "$n" = 0 ] && ok "no crash in the server log" || bad "$n crash lines in the server log"
echo "server log: errors by application and SQLSTATE:"
grep -E ' (ERROR|FATAL): ' "$LOG" | sed -E 's/^[^]]*\] ([^ ]*) ([0-9A-Z]{5}): (ERROR|FATAL).*/  \1 \2 \3/' \
    | sort | uniq -c || echo "  none"
WAITS=$(grep -c 'still waiting for' "$LOG" || true)
LONGEST=$(grep -oE 'acquired [A-Za-z]+ on .* after [0-9.]+ ms' "$LOG" | grep -oE '[0-9.]+ ms' \
          | sort -n | tail -1 || true)
echo "lock waits longer than deadlock_timeout (1 s) logged: $WAITS${LONGEST:+, longest $LONGEST}"
grep -E 'still waiting for' "$LOG" | sed -E 's/^[^]]*\] ([^ ]*) .*still waiting for ([A-Za-z]+) on ([a-z]+).*/  \1 waited for \2 on \3/' \
    | sort | uniq -c | head -10 || true

T0=$(now)
q -At <<'SQL' > "$WORK/threads_check.txt"
CREATE TEMP TABLE chk AS
WITH m AS (
    SELECT thread_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi,
           coalesce(sum(chat_usage_tokens(usage, 'prompt')), 0) AS p,
           coalesce(sum(chat_usage_tokens(usage, 'completion')), 0) AS c,
           coalesce(sum(chat_usage_tokens(usage, 'total')), 0) AS tot,
           max(created_at) AS last_at
    FROM chat_messages GROUP BY thread_id),
x AS (
    SELECT thread_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi
    FROM chat_message_tombstones GROUP BY thread_id)
SELECT t.id, t.message_count, coalesce(m.n, 0) AS rows, t.tombstone_count, coalesce(x.n, 0) AS tombs,
       t.prompt_tokens, coalesce(m.p, 0) AS p, t.completion_tokens, coalesce(m.c, 0) AS c,
       t.total_tokens, coalesce(m.tot, 0) AS tot, t.last_message_at, m.last_at,
       t.last_seq, least(m.lo, x.lo) AS lo, greatest(m.hi, x.hi) AS hi, t.active_path
FROM chat_threads AS t
LEFT JOIN m ON m.thread_id = t.id
LEFT JOIN x ON x.thread_id = t.id;

SELECT 'threads', count(*), count(*) FILTER (WHERE tombs > 0), count(*) FILTER (WHERE active_path IS NOT NULL)
FROM chk;
-- aggregates
SELECT 'bad_aggregates', count(*) FROM chk
WHERE message_count <> rows OR tombstone_count <> tombs
   OR prompt_tokens <> p OR completion_tokens <> c OR total_tokens <> tot
   OR CASE WHEN tombs = 0 THEN last_message_at IS DISTINCT FROM last_at
           ELSE last_at IS NOT NULL AND (last_message_at IS NULL OR last_message_at < last_at) END;
SELECT 'bad_aggregate_example', id, message_count, rows, tombstone_count, tombs, prompt_tokens, p,
       completion_tokens, c, total_tokens, tot, last_message_at, last_at FROM chk
WHERE message_count <> rows OR tombstone_count <> tombs
   OR prompt_tokens <> p OR completion_tokens <> c OR total_tokens <> tot
   OR CASE WHEN tombs = 0 THEN last_message_at IS DISTINCT FROM last_at
           ELSE last_at IS NOT NULL AND (last_message_at IS NULL OR last_message_at < last_at) END
LIMIT 5;
-- seq gapless: stored and deleted seqs are 1..last_seq, each once
SELECT 'seq_overlap', count(*) FROM chat_messages AS m
JOIN chat_message_tombstones AS x ON x.thread_id = m.thread_id AND x.seq = m.seq;
SELECT 'bad_seq', count(*) FROM chk
WHERE rows + tombs <> last_seq OR (last_seq > 0 AND (lo <> 1 OR hi <> last_seq));
SELECT 'bad_seq_example', id, rows, tombs, lo, hi, last_seq FROM chk
WHERE rows + tombs <> last_seq OR (last_seq > 0 AND (lo <> 1 OR hi <> last_seq)) LIMIT 5;
-- the message tree
SELECT 'bad_parent', count(*) FROM chat_messages AS m
WHERE m.parent_seq IS NOT NULL
  AND (m.parent_seq >= m.seq
       OR NOT EXISTS (SELECT FROM chat_messages AS p WHERE p.thread_id = m.thread_id AND p.seq = m.parent_seq)
          AND NOT EXISTS (SELECT FROM chat_message_tombstones AS p
                          WHERE p.thread_id = m.thread_id AND p.seq = m.parent_seq));
SELECT 'bad_path', count(*) FROM chk
WHERE active_path IS NOT NULL AND NOT isempty(active_path)
  AND (lower(active_path) < 1 OR upper(active_path) - 1 > last_seq);
SQL
cat "$WORK/threads_check.txt" | grep -E '^bad_.*example' || true
val() { awk -F'|' -v k="$1" '$1 == k { print $2 }' "$WORK/threads_check.txt"; }
read -r NT NTT NTB < <(awk -F'|' '$1 == "threads" { print $2, $3, $4 }' "$WORK/threads_check.txt")
echo "threads after the run: $NT ($NTT with tombstones, $NTB branched); checked in $(since "$T0")"
[ "$(val bad_aggregates)" = 0 ] && ok "every thread's aggregates equal its rows (message_count, tombstone_count, token sums, last_message_at)" \
    || bad "$(val bad_aggregates) threads with wrong aggregates"
[ "$(val seq_overlap)" = 0 ] && [ "$(val bad_seq)" = 0 ] \
    && ok "seq gapless: every thread's messages and tombstones hold 1..last_seq, each seq once" \
    || bad "seq: $(val bad_seq) threads with a gap or a seq out of range, $(val seq_overlap) seqs both stored and deleted"
[ "$(val bad_parent)" = 0 ] && [ "$(val bad_path)" = 0 ] \
    && ok "message tree: every parent_seq names an earlier message or tombstone, every active path lies in 1..last_seq" \
    || bad "message tree: $(val bad_parent) bad parent_seq, $(val bad_path) bad active paths"

T0=$(now)
AMCHECK=$(q -At -F ' ' <<'SQL'
CREATE TEMP TABLE rels AS
SELECT c.oid, c.relname FROM pg_depend AS d JOIN pg_class AS c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'chatstore');
CREATE TEMP TABLE problems (rel text, problem text);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT i.indexrelid::regclass AS idx FROM pg_index AS i JOIN rels ON rels.oid = i.indrelid
             JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam
             WHERE a.amname = 'btree' ORDER BY 1 LOOP
        BEGIN
            PERFORM bt_index_parent_check(r.idx, heapallindexed => true, rootdescend => true);
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO problems VALUES (r.idx::text, SQLSTATE || ' ' || SQLERRM);
        END;
    END LOOP;
END $$;
INSERT INTO problems
SELECT rels.relname, format('block %s offset %s attribute %s: %s', v.blkno, v.offnum, v.attnum, v.msg)
FROM rels, LATERAL verify_heapam(rels.oid, check_toast => true) AS v;
SELECT (SELECT count(*) FROM pg_index AS i JOIN rels ON rels.oid = i.indrelid
        JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam
        WHERE a.amname = 'btree'),
       (SELECT count(*) FROM rels), (SELECT count(*) FROM problems);
SELECT 'problem', rel, problem FROM problems LIMIT 10;
SQL
)
read -r AM_IDX AM_TAB AM_BAD <<< "$(head -1 <<< "$AMCHECK")"
tail -n +2 <<< "$AMCHECK"
[ "$AM_BAD" = 0 ] && ok "amcheck: $AM_IDX btree indexes (bt_index_parent_check, heapallindexed) and $AM_TAB tables (verify_heapam) clean, in $(since "$T0")" \
    || bad "amcheck: $AM_BAD problems"

q -At -F ' ' -c "SELECT 'after the run:', (SELECT count(*) FROM chat_messages), 'messages,',
                        (SELECT count(*) FROM chat_message_tombstones), 'message tombstones,',
                        (SELECT count(*) FROM chat_thread_tombstones), 'thread tombstones'"
log "done in $(since "$T_ALL"): $OUT.csv${PLOT:+, $OUT.png}, $SUMMARY"
if [ "$FAILS" != 0 ]; then
    echo "mixed load: $FAILS checks FAILED"
    exit 1
fi
echo "mixed load: every check passed"
