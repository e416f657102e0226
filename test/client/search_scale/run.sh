#!/usr/bin/env bash
# Search and retention on a 100,000-message table:
#  - the plan of chat_search's query (captured with auto_explain from inside
#    the function) uses the GIN index chat_messages_content_fts_idx
#  - keep_last / delete_idle_threads at scale, while two pgbench clients keep
#    saving into the same threads: no error, and afterwards every thread's
#    aggregates equal its real count and token sums, seqs strictly increase
# Needs PGHOST/PGPORT/PGUSER; creates and drops its own database.
set -euo pipefail
db=cs_client_search_scale_$$
work=$(mktemp -d)
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export PGDATABASE=$db
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
fail=0 pass=0
ok()  { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }

q -c 'CREATE EXTENSION chatstore'

# 1000 threads x 100 messages, 50 users, dated one hour apart per thread; words from a 2000-word vocabulary,
# "quasarflux" in 1 message of every 500, "nebulight" in every 10th
start=$(date +%s)
q >/dev/null <<'SQL'
SELECT count(*) FROM (
  SELECT chat_save_messages(
    'sc-' || t,
    (SELECT jsonb_agg(jsonb_build_object(
        'id', 'm' || i,
        'role', CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END,
        'content', (SELECT string_agg('w' || ((t * 7919 + i * 104729 + k * 31) % 2000), ' ')
                    FROM generate_series(1, 12) k)
                   || CASE WHEN (t * 100 + i) % 500 = 0 THEN ' quasarflux' ELSE '' END
                   || CASE WHEN (t * 100 + i) % 10 = 0 THEN ' nebulight' ELSE '' END,
        'created_at', timestamptz '2026-01-01 00:00:00+00' + t * interval '1 hour' + i * interval '1 second',
        'usage', CASE WHEN i % 2 = 0 THEN jsonb_build_object('prompt_tokens', i, 'completion_tokens', 3) END)
      ORDER BY i)
     FROM generate_series(1, 100) i),
    'user-' || (t % 50))
  FROM generate_series(1, 1000) t) s;
ANALYZE;
SQL
n=$(q -c 'SELECT count(*) FROM chat_messages')
echo "# loaded $n messages in $(( $(date +%s) - start )) s"
[ "$n" = 100000 ] && ok "100000 messages" || bad "expected 100000 messages, got $n"

# --- search uses the GIN index ----------------------------------------------
plan_of() {  # the plan of chat_search's inner query, for the given call
    psql -X -q -v ON_ERROR_STOP=1 -At 2>&1 >/dev/null <<SQL
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = warning;
SELECT count(*) FROM $1;
SQL
}
for call in "chat_search('quasarflux')" \
            "chat_search('quasarflux', user_id => 'user-7')" \
            "chat_search('nebulight w5', user_id => 'user-3', max_results => 5)" \
            "chat_search('\"nebulight quasarflux\"')"; do
    plan=$(plan_of "$call")
    if grep -q 'Bitmap Index Scan on chat_messages_content_fts_idx' <<<"$plan"; then
        ok "$call: plan uses chat_messages_content_fts_idx"
    else
        bad "$call: plan does not use the GIN index"; echo "$plan" | sed 's/^/#   /'
    fi
done
echo "# plan of chat_search('quasarflux', user_id => 'user-7'):"
plan_of "chat_search('quasarflux', user_id => 'user-7')" | grep -E '^\s+(->|Bitmap|Index|Hash|Nested|Sort|Limit|Seq)|Scan' | sed 's/^/#   /' | head -20

# daily usage over a time range reads only that range's messages (BRIN index)
for call in "chat_usage_daily(since => '2026-01-20', until => '2026-01-22')" \
            "chat_usage_totals(since => '2026-01-20', until => '2026-01-22')"; do
    plan=$(plan_of "$call")
    if grep -q 'Bitmap Index Scan on chat_messages_created_at_brin_idx' <<<"$plan"; then
        ok "$call: plan uses chat_messages_created_at_brin_idx"
    else
        bad "$call: plan does not use the created_at index"; echo "$plan" | sed 's/^/#   /'
    fi
done
daily=$(q -c "SELECT sum(messages) FROM chat_usage_daily(since => '2026-01-20', until => '2026-01-22')")
[ "$daily" = 4800 ] && ok "two days hold 48 threads' 4800 messages" || bad "daily sum $daily"
echo "# plan of chat_usage_daily(user_id => 'user-7', since => '2026-01-20'):"
plan_of "chat_usage_daily(user_id => 'user-7', since => '2026-01-20')" | grep -E 'Scan|Join' | sed 's/^/#   /'

hits=$(q -c "SELECT count(*) FROM chat_search('quasarflux', max_results => 1000)")
want=$(q -c "SELECT count(*) FROM chat_messages WHERE content LIKE '%quasarflux%'")
[ "$hits" = "$want" ] && ok "search finds all $want quasarflux messages" || bad "search found $hits of $want"
t0=$(date +%s%N)
for i in $(seq 1 20); do q -c "SELECT count(*) FROM chat_search('nebulight', user_id => 'user-$i', max_results => 20)" >/dev/null; done
echo "# 20 user-scoped searches for a word in 10% of messages: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# --- retention at scale, with concurrent saves ----------------------------------
# a save into a thread that the idle-thread retention deleted meanwhile is
# refused with CS002 (a deleted thread stays deleted, 1.3): the clients count
# those refusals, any other error fails the test
q -c "CREATE TABLE sc_refused (thread_id text)" >/dev/null
q -c "CREATE FUNCTION sc_save(tid text, mid text) RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
    PERFORM chat_save_messages(tid, ('[{\"id\": \"c' || mid || 'a\", \"role\": \"user\", \"content\": \"late\"}, {\"id\": \"c' || mid || 'b\", \"role\": \"assistant\", \"content\": \"late\", \"usage\": {\"prompt_tokens\": 5, \"completion_tokens\": 1}}]')::jsonb);
EXCEPTION WHEN SQLSTATE 'CS002' THEN
    INSERT INTO sc_refused VALUES (tid);
END \$f\$" >/dev/null
cat > "$work/save.sql" <<'SQL'
\set t random(1, 1000)
\set r random(1, 2000000000)
SELECT sc_save('sc-' || :t, :r::text);
SQL
pgbench -n -c 2 -j 2 -T 4 -f "$work/save.sql" "$db" > "$work/pgbench.out" 2>&1 &
bench=$!
sleep 0.5
t0=$(date +%s%N)
trimmed=$(q -c "SELECT count(*), sum(deleted_count) FROM chat_retention_keep_last(20)")
echo "# keep_last(20) over 1000 threads: $trimmed (threads, messages deleted) in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
# idle threads: 300 made old, deleted in batches of 100 while saves go on
q -c "UPDATE chat_threads SET updated_at = now() - interval '400 days' WHERE id IN (SELECT 'sc-' || g FROM generate_series(701, 1000) g)"
deleted=0
for b in 1 2 3 4; do
    d=$(q -c "SELECT count(*) FROM chat_retention_delete_idle_threads('365 days', max_threads => 100)")
    deleted=$((deleted + d))
done
wait "$bench" || { bad "pgbench failed"; cat "$work/pgbench.out"; }
grep -E 'number of (transactions actually processed|failed)' "$work/pgbench.out" | sed 's/^/# pgbench: /'
if grep -qiE 'error|aborted' "$work/pgbench.out"; then bad "concurrent saves had errors"; cat "$work/pgbench.out"; else ok "concurrent saves ran without error"; fi
# (no refusal at all, when the saves ended before the deletes began: bool_and
# of no rows is NULL, so the text says so instead)
refused=$(q -c "SELECT count(*) || ' refused, all into deleted threads: ' || COALESCE(bool_and(NOT EXISTS (SELECT 1 FROM chat_threads t WHERE t.id = r.thread_id) AND EXISTS (SELECT 1 FROM chat_thread_tombstones x WHERE x.id = r.thread_id))::text, 'none to check') FROM sc_refused r")
echo "# saves into threads deleted meanwhile (CS002): $refused"
[[ "$refused" == "0 refused"* || "$refused" == *": true" ]] && ok "a save into a deleted thread is refused, never creates it again" || bad "refusals: $refused"
# a save during the run may have made an old thread active again (then it stays)
left_old=$(q -c "SELECT count(*) FROM chat_threads WHERE updated_at < now() - interval '365 days'")
[ "$left_old" = 0 ] && ok "idle threads deleted in batches ($deleted)" || bad "$left_old idle threads left"
[[ "$trimmed" == 1000\|* ]] && ok "keep_last trimmed all 1000 threads" || bad "keep_last: $trimmed"

bad_threads=$(q <<'SQL'
SELECT count(*) FROM chat_threads t
LEFT JOIN LATERAL (
    SELECT count(*) AS n, max(m.seq) AS maxseq,
           coalesce(sum(chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
           coalesce(sum(chat_usage_tokens(m.usage, 'completion')), 0) AS c,
           coalesce(sum(chat_usage_tokens(m.usage, 'total')), 0) AS tot
    FROM chat_messages m WHERE m.thread_id = t.id) a ON true
WHERE t.id LIKE 'sc-%'
  AND (t.message_count <> a.n OR t.last_seq <> a.maxseq
       OR (t.prompt_tokens, t.completion_tokens, t.total_tokens) <> (a.p, a.c, a.tot));
SQL
)
[ "$bad_threads" = 0 ] && ok "every thread's aggregates equal its stored messages" || bad "$bad_threads threads with wrong aggregates"
# once the saves have stopped, a second run leaves at most 20 in every
# thread
q -c "SELECT count(*) FROM chat_retention_keep_last(20)" >/dev/null
counts=$(q -c "SELECT max(message_count) || ' ' || count(*) FILTER (WHERE message_count = 20) FROM chat_threads WHERE id LIKE 'sc-%'")
[[ "$counts" == "20 "* && ${counts#20 } -ge 700 ]] && ok "keep_last(20) leaves at most 20 messages a thread ($counts)" || bad "message counts after keep_last: $counts"
orphans=$(q -c "SELECT count(*) FROM chat_messages m WHERE NOT EXISTS (SELECT 1 FROM chat_threads t WHERE t.id = m.thread_id)")
[ "$orphans" = 0 ] && ok "no message without its thread" || bad "$orphans orphan messages"
# the next save continues after last_seq
last=$(q -c "SELECT last_seq FROM chat_threads WHERE id = 'sc-1'")
next=$(q -c "SELECT (chat_save_messages('sc-1', '[{\"id\": \"after\", \"role\": \"user\", \"content\": \"x\"}]')).first_seq = $last + 1")
[ "$next" = t ] && ok "seq continues after a trim" || bad "seq after trim"

echo "search_scale: $pass passed, $fail failed"
[ "$fail" = 0 ]
