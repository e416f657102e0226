#!/usr/bin/env bash
# chatstore benchmark suite: every workload for every implementation, side by
# side, in one run, with pgbench custom scripts over the unix socket
# (-M prepared; the W1_net rows over TCP through a delay proxy).  See README
# "Performance".
#
#   BENCH_SCALE=smoke    a check that the suite works (< 2 minutes, never timed)
#   BENCH_SCALE=default  the numbers in README (< 15 minutes)
#   BENCH_SCALE=large    default + the scaling run: W1 and W3 at 100k, 1M and
#                        10M stored messages, bytes on disk per message
#
# With PGHOST/PGPORT set it uses that server (database chatstore_bench, created
# and dropped); otherwise it starts a throwaway cluster (scripts/lib.sh) in
# /tmp/chatstore-bench on port ${BENCH_PORT:-55440} and stops it.  The
# extension must be installed (make bench does that).  BENCH_KEEP=1 keeps the
# database (to profile in it afterwards); BENCH_DURATION=N overrides the
# seconds per timed workload.
#
# Output: a table on stdout, test/bench/results/latest.csv
# (workload,impl,clients,scale_messages,tps,p50_ms,p99_ms) and
# test/bench/results/summary.txt (ratios chatstore/peer and the targets).
# Exits non-zero only when something fails (a pgbench error, a gap in seq), never
# because a target is missed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
SCALE=${BENCH_SCALE:-default}
DB=chatstore_bench

case $SCALE in
smoke)
    DUR=2 ROUNDS=1 W1_THREADS=50 W1_PER=20 W2_TX=60 W3_THREADS=4 W4_THREADS=2
    W5_THREADS=1000 W6_BATCHES=10 BG_MSGS=10000 ;;
default)
    DUR=6 ROUNDS=3 W1_THREADS=1000 W1_PER=20 W2_TX=1000 W3_THREADS=20 W4_THREADS=10
    W5_THREADS=1000 W6_BATCHES=100 BG_MSGS=100000 ;;
large)
    DUR=6 ROUNDS=3 W1_THREADS=1000 W1_PER=20 W2_TX=1000 W3_THREADS=20 W4_THREADS=10
    W5_THREADS=1000 W6_BATCHES=100 BG_MSGS=100000 ;;
*)
    echo "BENCH_SCALE must be smoke, default or large (got '$SCALE')" >&2
    exit 2 ;;
esac
[ -n "${BENCH_DURATION:-}" ] && DUR=$BENCH_DURATION

# ---------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------
OWN_CLUSTER=0
if [ -z "${PGHOST:-}" ] || [ -z "${PGPORT:-}" ]; then
    export CHATSTORE_TMP=/tmp/chatstore-bench CHATSTORE_PORT=${BENCH_PORT:-55440}
    # shellcheck source=../../scripts/lib.sh
    source "$ROOT/scripts/lib.sh"
    cs_cluster_start
    OWN_CLUSTER=1
    # the data set of the default scale (~1.5 GB at the end) fits in memory;
    # no forced checkpoints in the middle of a measurement
    psql -X -q -d postgres -c "ALTER SYSTEM SET shared_buffers = '1GB'" \
        -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
        -c "ALTER SYSTEM SET log_autovacuum_min_duration = '1s'" \
        -c "ALTER SYSTEM SET listen_addresses = '127.0.0.1'"   # W1_net (network.sh) goes over TCP
    as_pg pg_ctl -D "$CHATSTORE_TMP/data" -l "$CHATSTORE_TMP/server.log" -w restart >/dev/null
fi
export PGUSER=${PGUSER:-postgres}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$("$PG_CONFIG" --bindir):$PATH"

WORK=$(mktemp -d /tmp/chatstore-bench-work.XXXXXX)
chmod 755 "$WORK"
RESULTS=$BENCH_DIR/results
mkdir -p "$RESULTS"
CSV=$RESULTS/latest.csv
SUMMARY=$RESULTS/summary.txt

cleanup() {
    local rc=$?
    if [ -z "${BENCH_KEEP:-}" ]; then
        dropdb --if-exists chatstore_bench >/dev/null 2>&1 || true
        dropdb --if-exists chatstore_bench_scale >/dev/null 2>&1 || true
    fi
    if [ "$OWN_CLUSTER" = 1 ]; then cs_cluster_stop; fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

say "BENCH_SCALE=$SCALE, ${DUR}s per timed workload, server $PGHOST:$PGPORT"
dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb "$DB"
q -c "CREATE EXTENSION chatstore" \
  -f "$BENCH_DIR/setup.sql" -f "$BENCH_DIR/peers/plpgsql.sql"

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
say "loading data"
IMPLS_W1="chatstore plainsql plpgsql langmiddle fluxrag floor"
{
    for impl in $IMPLS_W1; do
        echo "CALL bench_load('w1-$impl-', 1, $W1_THREADS, $W1_PER, 'u', 100);"
    done
    # W2: one thread per transaction (pgbench -t, a per-client counter), each
    # holding exactly the 100 messages the client re-sends
    for v in single a c plainsql plpgsql floor; do
        echo "CALL bench_load('w2$v-0-', 1, $W2_TX, 100, 'w2user', 10);"
    done
    echo "CALL bench_load('w3-', 1, $W3_THREADS, 1000, 'w3user', 1);"
    for t in $(seq 1 "$W3_THREADS"); do
        echo "CALL bench_load_branched('w3b-$t', true); CALL bench_load_branched('w3l-$t', false);"
    done
    for t in $(seq 1 "$W4_THREADS"); do echo "CALL bench_load_tools('w4-$t', 1000);"; done
    echo "CALL bench_load('w5-', 1, $W5_THREADS, 2, 'w5user', 1);"
    for impl in chatstore plainsql plpgsql copy; do
        echo "INSERT INTO chat_threads (id, user_id) SELECT 'w6-$impl-' || i, 'importer' FROM generate_series(1, $W6_BATCHES) i;"
    done
    # W2(b): the 100 id-less messages saved by chatstore (they carry fingerprints)
    echo "SELECT count(chat_save_messages('w2b-0-' || i, bench_batch(1, 100, NULL)::jsonb)) FROM generate_series(1, $W2_TX) i;"
    echo "INSERT INTO chat_threads (id) VALUES ('w7one'), ('w7one-plpgsql');"
    echo "INSERT INTO chat_threads (id) SELECT 'w7-floor-' || i FROM generate_series(0, 7) i;"
} > "$WORK/load.sql"
q -f "$WORK/load.sql" >/dev/null
# background data up to BG_MSGS stored messages
have=$(qv "SELECT count(*) FROM chat_messages")
if [ "$have" -lt "$BG_MSGS" ]; then
    q -c "CALL bench_load('bg-', 1, $(( (BG_MSGS - have + 99) / 100 )), 100, 'bguser', 1000)"
fi
q -c "VACUUM ANALYZE chat_threads" -c "VACUUM ANALYZE chat_messages"
say "loaded $(qv "SELECT count(*) FROM chat_messages") messages in $(qv "SELECT count(*) FROM chat_threads") threads"

# ---------------------------------------------------------------------------
# pgbench scripts (generated: the batches are embedded as literals that are
# re-parsed on every call: replace(literal, '@', :u)::jsonb -- the parameter
# keeps the planner from folding it into a constant at prepare time)
# ---------------------------------------------------------------------------
S=$WORK/scripts
mkdir -p "$S"
qv "SELECT bench_batch(1, 10, '@-')" > "$WORK/b10.json"
qv "SELECT bench_batch(101, 1, '@-')" > "$WORK/b1.json"
qv "SELECT (bench_batch(1, 100, 'm')::jsonb || bench_batch(101, 1, '@-')::jsonb)::text" > "$WORK/b101ids.json"
qv "SELECT bench_batch(1, 101, NULL)" > "$WORK/b101noids.json"
qv "SELECT array_agg('m' || i ORDER BY i)::text FROM generate_series(1, 100) i" > "$WORK/hint.txt"
qv "SELECT bench_batch(1, 1000, '@-')" > "$WORK/b1000.json"

# render TEMPLATE OUT ARG...: an ARG KEY=FILE puts the file's text as a SQL
# string literal in place of KEY; an ARG %TEXT=EXPR replaces TEXT by EXPR
# (in order).  Comment lines are dropped (pgbench would send them along).
render() {
    python3 - "$@" <<'PY'
import sys
tmpl, out = sys.argv[1], sys.argv[2]
s = open(tmpl).read()
s = '\n'.join(l for l in s.split('\n') if not l.lstrip().startswith('--'))
for kv in sys.argv[3:]:
    k, v = kv.split('=', 1)
    if k.startswith('%'):
        k = k[1:]
    else:
        v = "'" + open(v).read().strip().replace("'", "''") + "'"
    s = s.replace(k, v)
open(out, 'w').write(s)
PY
}

UNIQ="'c' || :client_id::text || 'u' || :u::text || '-'"
J10="replace(@B10@, '@', $UNIQ)::jsonb"

# W1: a new batch of 10 messages into an existing thread
cat > "$WORK/w1_chatstore.t" <<EOF
\\set t random(1, $W1_THREADS)
\\set u random(1, 1000000000000)
SELECT * FROM chat_save_messages('w1-chatstore-' || :t::text, $J10);
EOF
render "$WORK/w1_chatstore.t" "$S/w1_chatstore.sql" @B10@="$WORK/b10.json"
cat > "$WORK/w1_plpgsql.t" <<EOF
\\set t random(1, $W1_THREADS)
\\set u random(1, 1000000000000)
SELECT * FROM bench_plpgsql_save('w1-plpgsql-' || :t::text, $J10);
EOF
render "$WORK/w1_plpgsql.t" "$S/w1_plpgsql.sql" @B10@="$WORK/b10.json"
printf '\\set t random(1, %s)\n\\set u random(1, 1000000000000)\n' "$W1_THREADS" > "$WORK/w1_plainsql.t"
cat "$BENCH_DIR/peers/plainsql_save.sql" >> "$WORK/w1_plainsql.t"
render "$WORK/w1_plainsql.t" "$S/w1_plainsql.sql" "%@MESSAGES@=$J10" "%:tid=('w1-plainsql-' || :t::text)" @B10@="$WORK/b10.json"

# the storage floor (peers/floor_save.sql): the W1 batch as constant rows
qv "SELECT string_agg(format('(%s, %L, %L, %L, %L::jsonb, %L::jsonb, %s::int)', k, m->>'role',
                             m->>'content', m->>'model', m->'metadata', m->'usage',
                             COALESCE(m->'usage'->>'completion_tokens', 'NULL')), ', ' ORDER BY k)
    FROM generate_series(1, 10) k, LATERAL (SELECT bench_msg(k, NULL) AS m) s" > "$WORK/b10values.sql"
# floor_script OUT THREAD-EXPR HEADER-FILE: the floor statement after the
# pgbench commands in HEADER-FILE, into thread THREAD-EXPR
floor_script() {
    cat "$3" "$BENCH_DIR/peers/floor_save.sql" > "$1.t"
    render "$1.t" "$1" "%:tid=($2)" "%@UNIQ@=$UNIQ" "%@VALUES@=$(cat "$WORK/b10values.sql")"
}
printf '\\set t random(1, %s)\n\\set u random(1, 1000000000000)\n' "$W1_THREADS" > "$WORK/w1.head"
floor_script "$S/w1_floor.sql" "'w1-floor-' || :t::text" "$WORK/w1.head"

# client-side peers: the message fields are pgbench variables (-D), sent as
# bind parameters like a driver would
CLIENT_VARS=()
for k in $(seq 1 10); do
    CLIENT_VARS+=(-D "c$k=$(qv "SELECT bench_content($k)")")
    CLIENT_VARS+=(-D "m$k=$(qv "SELECT (bench_msg($k, NULL)->'metadata')::text")")
done
CLIENT_VARS+=(-D 'usage={"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}')
TIDW="'w1-IMPL-' || :t::text"
for impl in langmiddle fluxrag; do
    tid=${TIDW/IMPL/$impl}
    f=$S/w1_$impl.sql
    printf '\\set t random(1, %s)\n\\set u random(1, 1000000000000)\nBEGIN;\n' "$W1_THREADS" > "$f"
    if [ "$impl" = langmiddle ]; then
        # the thread row locked, the thread's stored ids read (the client
        # keeps the ones it does not know), one INSERT ... ON CONFLICT each
        echo "SELECT last_seq FROM chat_threads WHERE id = $tid FOR UPDATE \\gset" >> "$f"
        echo "SELECT id FROM chat_messages WHERE thread_id = $tid;" >> "$f"
    fi
    for k in $(seq 1 10); do
        if [ $((k % 2)) = 1 ]; then role=user model=NULL usage=NULL tc=NULL p=0 c=0
        else role=assistant model="'gpt-4o-mini'" usage=":usage::jsonb" tc=80 p=120 c=80; fi
        if [ "$impl" = fluxrag ]; then
            # one thread update (it locks the row and hands out the seq) and
            # one insert per message
            echo "UPDATE chat_threads SET message_count = message_count + 1, last_seq = last_seq + 1, prompt_tokens = prompt_tokens + $p, completion_tokens = completion_tokens + $c, total_tokens = total_tokens + $((p + c)), last_message_at = GREATEST(last_message_at, now()) WHERE id = $tid RETURNING last_seq \\gset" >> "$f"
            echo "INSERT INTO chat_messages (thread_id, id, seq, role, content, model, metadata, usage, token_count) VALUES ($tid, gen_random_uuid()::text, :last_seq::bigint, '$role', :c$k, $model, :m$k::jsonb, $usage, $tc);" >> "$f"
        else
            echo "INSERT INTO chat_messages (thread_id, id, seq, role, content, model, metadata, usage, token_count) VALUES ($tid, $UNIQ || '$k', :last_seq::bigint + $k, '$role', :c$k, $model, :m$k::jsonb, $usage, $tc) ON CONFLICT DO NOTHING;" >> "$f"
        fi
    done
    if [ "$impl" = langmiddle ]; then
        echo "UPDATE chat_threads SET message_count = message_count + 10, last_seq = :last_seq::bigint + 10, prompt_tokens = prompt_tokens + 600, completion_tokens = completion_tokens + 400, total_tokens = total_tokens + 1000, last_message_at = GREATEST(last_message_at, now()) WHERE id = $tid;" >> "$f"
    fi
    echo "END;" >> "$f"
done

# W2: a thread of 100 stored messages; the client re-sends them plus 1 new
# one; each transaction uses a thread of its own (per-client counter :i)
W2T="'w2V-' || :client_id::text || '-' || :i::text"
HEAD='\\set i :i + 1\n\\set u random(1, 1000000000000)\n'
J101="replace(@B101@, '@', $UNIQ)::jsonb"
printf "$HEAD"'SELECT * FROM chat_save_messages(%s, replace(@B1@, '"'@'"', %s)::jsonb);\n' "${W2T/V/single}" "$UNIQ" > "$WORK/w2_single.t"
render "$WORK/w2_single.t" "$S/w2_single_chatstore.sql" @B1@="$WORK/b1.json"
printf "$HEAD"'SELECT * FROM chat_save_messages(%s, %s);\n' "${W2T/V/a}" "$J101" > "$WORK/w2a.t"
render "$WORK/w2a.t" "$S/w2a_chatstore.sql" @B101@="$WORK/b101ids.json"
printf "$HEAD"'SELECT * FROM chat_save_messages(%s, %s, NULL, replace(@HINT@, '"'@'"', :u::text)::text[]);\n' "${W2T/V/c}" "$J101" > "$WORK/w2c.t"
render "$WORK/w2c.t" "$S/w2c_chatstore.sql" @B101@="$WORK/b101ids.json" @HINT@="$WORK/hint.txt"
printf "$HEAD"'SELECT * FROM chat_save_messages(%s, replace(@B101@, '"'@'"', :u::text)::jsonb);\n' "${W2T/V/b}" > "$WORK/w2b.t"
render "$WORK/w2b.t" "$S/w2b_chatstore.sql" @B101@="$WORK/b101noids.json"
printf "$HEAD"'SELECT * FROM bench_plpgsql_save(%s, %s);\n' "${W2T/V/plpgsql}" "$J101" > "$WORK/w2a_plpgsql.t"
render "$WORK/w2a_plpgsql.t" "$S/w2a_plpgsql.sql" @B101@="$WORK/b101ids.json"
# the floor: only the server's parse of the 101-message JSON (jsonb_in)
printf "$HEAD"'SELECT jsonb_array_length(%s);\n' "$J101" > "$WORK/w2parse.t"
render "$WORK/w2parse.t" "$S/w2_parse.sql" @B101@="$WORK/b101ids.json"
# the floor of W2: the 1-message save and the parse of the 101-message JSON in
# one statement (what any re-send must cost at least, the JSON being jsonb)
printf "$HEAD"'SELECT s.*, jsonb_array_length(%s) FROM chat_save_messages(%s, replace(@B1@, '"'@'"', %s)::jsonb) s;\n' \
    "$J101" "${W2T/V/floor}" "$UNIQ" > "$WORK/w2floor.t"
render "$WORK/w2floor.t" "$S/w2_floor.sql" @B101@="$WORK/b101ids.json" @B1@="$WORK/b1.json"
printf "$HEAD" > "$WORK/w2a_plainsql.t"
cat "$BENCH_DIR/peers/plainsql_save.sql" >> "$WORK/w2a_plainsql.t"
render "$WORK/w2a_plainsql.t" "$S/w2a_plainsql.sql" "%@MESSAGES@=$J101" "%:tid=(${W2T/V/plainsql})" @B101@="$WORK/b101ids.json"

# W3: the latest 50 messages of a 1,000-message thread
printf '\\set t random(1, %s)\nSELECT * FROM chat_history(%s, 50);\n' \
    "$W3_THREADS" "'w3-' || :t::text" > "$S/w3_chatstore.sql"
printf '\\set t random(1, %s)\n' "$W3_THREADS" > "$WORK/w3_plainsql.t"
cat "$BENCH_DIR/peers/plainsql_history.sql" >> "$WORK/w3_plainsql.t"
render "$WORK/w3_plainsql.t" "$S/w3_plainsql.sql" "%:tid=('w3-' || :t::text)"

# W3 on a branched thread (1.3): the latest 50, and all, of a 990-message
# active path with 20 branches ("branched"), against the same 990 messages
# saved as one line ("line")
for v in line branched; do
    t=w3l; [ "$v" = branched ] && t=w3b
    printf '\\set t random(1, %s)\nSELECT * FROM chat_history(%s, 50);\n' \
        "$W3_THREADS" "'$t-' || :t::text" > "$S/w3path_$v.sql"
    printf '\\set t random(1, %s)\nSELECT * FROM chat_history(%s);\n' \
        "$W3_THREADS" "'$t-' || :t::text" > "$S/w3pathall_$v.sql"
done

# W4: a token budget over a 1,000-message thread with tool calls
printf '\\set t random(1, %s)\nSELECT * FROM chat_history(%s, max_tokens => 4000);\n' \
    "$W4_THREADS" "'w4-' || :t::text" > "$S/w4_chatstore.sql"
printf '\\set t random(1, %s)\n' "$W4_THREADS" > "$WORK/w4_plainsql.t"
cat "$BENCH_DIR/peers/plainsql_budget.sql" >> "$WORK/w4_plainsql.t"
render "$WORK/w4_plainsql.t" "$S/w4_plainsql.sql" "%:tid=('w4-' || :t::text)" "%:budget=4000"

# W5: a page of 20 of a user's 1,000 threads
echo "SELECT * FROM chat_list_threads('w5user0', 20);" > "$S/w5_chatstore.sql"
render "$BENCH_DIR/peers/plainsql_list.sql" "$S/w5_plainsql.sql" "%:uid='w5user0'"

# W6: bulk import, 1,000 messages per call, one (existing) thread per batch
J1000="replace(@B1000@, '@', $UNIQ)::jsonb"
cat > "$WORK/w6_chatstore.t" <<EOF
\\set i :i + 1
\\set u random(1, 1000000000000)
SELECT * FROM chat_save_messages('w6-chatstore-' || :i::text, $J1000);
EOF
render "$WORK/w6_chatstore.t" "$S/w6_chatstore.sql" @B1000@="$WORK/b1000.json"
cat > "$WORK/w6_plpgsql.t" <<EOF
\\set i :i + 1
\\set u random(1, 1000000000000)
SELECT * FROM bench_plpgsql_save('w6-plpgsql-' || :i::text, $J1000);
EOF
render "$WORK/w6_plpgsql.t" "$S/w6_plpgsql.sql" @B1000@="$WORK/b1000.json"
printf '\\set i :i + 1\n\\set u random(1, 1000000000000)\n' > "$WORK/w6_plainsql.t"
cat "$BENCH_DIR/peers/plainsql_save.sql" >> "$WORK/w6_plainsql.t"
render "$WORK/w6_plainsql.t" "$S/w6_plainsql.sql" "%@MESSAGES@=$J1000" "%:tid=('w6-plainsql-' || :i::text)" @B1000@="$WORK/b1000.json"

# W7: 8 clients, into 8 threads (one per client) or all into one thread
for impl in chatstore plpgsql; do
    fn=chat_save_messages; [ "$impl" = plpgsql ] && fn=bench_plpgsql_save
    for mode in own one; do
        if [ "$mode" = own ]; then tid="'w7-$impl-' || :client_id::text"
        elif [ "$impl" = chatstore ]; then tid="'w7one'"
        else tid="'w7one-plpgsql'"; fi
        printf '\\set u random(1, 1000000000000)\nSELECT * FROM %s(%s, %s);\n' "$fn" "$tid" "$J10" > "$WORK/w7_${mode}_$impl.t"
        render "$WORK/w7_${mode}_$impl.t" "$S/w7_${mode}_$impl.sql" @B10@="$WORK/b10.json"
    done
done
# the storage floor, one thread per client: how far the machine itself scales
printf '\\set u random(1, 1000000000000)\n' > "$WORK/w7.head"
floor_script "$S/w7_own_floor.sql" "'w7-floor-' || :client_id::text" "$WORK/w7.head"

# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------
RAW=$WORK/raw.csv
: > "$RAW"
SCALE_MSGS=0
count_messages() { SCALE_MSGS=$(qv "SELECT count(*) FROM chat_messages"); }

# percentiles (ms) of the per-transaction latencies (us, 3rd field) in the logs
percentiles() {
    cat "$@" | awk '{print $3}' | sort -n | awk '
        { v[NR] = $1 }
        END { if (NR == 0) { print ","; exit }
              i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
              printf "%.3f,%.3f\n", v[i50] / 1000, v[i99] / 1000 }'
}

# bench WORKLOAD IMPL CLIENTS SCRIPT [pgbench options...]
bench() {
    local workload=$1 impl=$2 clients=$3 script=$4; shift 4
    local d=$WORK/log/$workload-$impl-$clients jobs=1 out tps
    mkdir -p "$d"
    [ "$clients" -gt 1 ] && jobs=2
    local len=(-T "$DUR")
    case " $* " in *" -t "*) len=() ;; esac
    qv "CHECKPOINT" >/dev/null
    out=$d/pgbench.out
    if ! pgbench -n -M prepared -c "$clients" -j "$jobs" "${len[@]}" -f "$script" \
            -l --log-prefix="$d/tx" "$@" "$DB" > "$out" 2>&1; then
        echo "pgbench failed: $workload $impl -c $clients" >&2
        tail -20 "$out" >&2
        exit 1
    fi
    if grep -q 'failed transactions: [1-9]' "$out" || grep -qi 'error' "$out"; then
        echo "pgbench reported errors: $workload $impl -c $clients" >&2
        tail -20 "$out" >&2
        exit 1
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
    echo "$workload,$impl,$clients,$SCALE_MSGS,$tps,$(percentiles "$d"/tx.*)" >> "$RAW"
    rm -f "$d"/tx.*
    printf '%s  %-12s %-11s -c %-2s %10.1f tps\n' "$(date -u +%H:%M:%S)" "$workload" "$impl" "$clients" "$tps"
}

count_messages
# the timed workloads run ROUNDS times, interleaved; the best round is kept
reads_and_w1() {
    for impl in chatstore plainsql plpgsql floor; do bench W1 "$impl" 1 "$S/w1_$impl.sql"; done
    for impl in langmiddle fluxrag; do bench W1 "$impl" 1 "$S/w1_$impl.sql" "${CLIENT_VARS[@]}"; done
    for impl in chatstore plainsql; do bench W3 "$impl" 1 "$S/w3_$impl.sql"; done
    for v in line branched; do bench W3_path "$v" 1 "$S/w3path_$v.sql"; done
    for v in line branched; do bench W3_path_all "$v" 1 "$S/w3pathall_$v.sql"; done
    for impl in chatstore plainsql; do bench W4 "$impl" 1 "$S/w4_$impl.sql"; done
    for impl in chatstore plainsql; do bench W5 "$impl" 1 "$S/w5_$impl.sql"; done
}
for round in $(seq 1 "$ROUNDS"); do reads_and_w1; done

# W2 (-t: one fresh thread per transaction)
bench W2_single chatstore 1 "$S/w2_single_chatstore.sql" -t "$W2_TX" -D i=0
bench W2a_ids chatstore 1 "$S/w2a_chatstore.sql" -t "$W2_TX" -D i=0
bench W2a_ids plainsql 1 "$S/w2a_plainsql.sql" -t "$W2_TX" -D i=0
bench W2a_ids plpgsql 1 "$S/w2a_plpgsql.sql" -t "$W2_TX" -D i=0
bench W2b_noids chatstore 1 "$S/w2b_chatstore.sql" -t "$W2_TX" -D i=0
bench W2c_hint chatstore 1 "$S/w2c_chatstore.sql" -t "$W2_TX" -D i=0
bench W2_parse_only jsonb_in 1 "$S/w2_parse.sql" -t "$W2_TX" -D i=0
bench W2_floor save1+parse 1 "$S/w2_floor.sql" -t "$W2_TX" -D i=0
# every W2 re-send stored exactly its 1 new message
bad=$(qv "SELECT count(*) FROM chat_threads WHERE id ~ '^w2[a-z]+-' AND (message_count <> 101 OR last_seq <> 101)")
used=$(qv "SELECT count(*) FROM chat_threads WHERE id ~ '^w2[a-z]+-' AND message_count = 101")
if [ "$bad" != 0 ] || [ "$used" != "$((7 * W2_TX))" ]; then
    echo "W2: $used threads got their 1 new message (expected $((7 * W2_TX))), $bad did not" >&2
    exit 1
fi

# W6: 1,000 messages per batch; COPY (psql, same batches) is the limit
for impl in chatstore plainsql plpgsql; do
    bench W6 "$impl" 1 "$S/w6_$impl.sql" -t "$W6_BATCHES" -D i=0
done
copy_w6() {
    local d=$WORK/log/W6-copy-1 i
    mkdir -p "$d"
    qv "COPY (SELECT '@T@', 'x-' || k, k, m->>'role', m->>'content', m->>'model', m->'metadata', m->'usage', (m->'usage'->>'completion_tokens')::int FROM generate_series(1, 1000) k, LATERAL (SELECT bench_msg(k, NULL) AS m) s ORDER BY k) TO STDOUT" > "$d/block.tsv"
    {
        echo '\timing on'
        for i in $(seq 1 "$W6_BATCHES"); do
            echo "COPY chat_messages (thread_id, id, seq, role, content, model, metadata, usage, token_count) FROM STDIN;"
            sed "s/@T@/w6-copy-$i/" "$d/block.tsv"
            echo '\.'
        done
    } > "$d/copy.sql"
    qv "CHECKPOINT" >/dev/null
    q -f "$d/copy.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' > "$d/times"
    awk '{ s += $1; printf "0 %d %d\n", NR, $1 * 1000 }
         END { printf "%.3f\n", NR / (s / 1000) > "/dev/stderr" }' "$d/times" > "$d/tx.0" 2> "$d/tps"
    echo "W6,copy,1,$SCALE_MSGS,$(cat "$d/tps"),$(percentiles "$d/tx.0")" >> "$RAW"
    printf '%s  %-12s %-11s -c %-2s %10.1f tps\n' "$(date -u +%H:%M:%S)" W6 copy 1 "$(cat "$d/tps")"
}
copy_w6
# W6 and W7 add ~1M rows: vacuum now rather than let autovacuum (and a GIN
# pending-list flush) run in the middle of W7
q -c "VACUUM ANALYZE chat_messages" -c "VACUUM ANALYZE chat_threads"
count_messages

# W7: one client vs 8 clients into 8 threads vs 8 clients into one thread
for round in $(seq 1 "$ROUNDS"); do
    for impl in chatstore plpgsql; do
        bench W7_1client "$impl" 1 "$S/w7_own_$impl.sql"
        bench W7_8threads "$impl" 8 "$S/w7_own_$impl.sql"
        bench W7_onethread "$impl" 8 "$S/w7_one_$impl.sql"
    done
    bench W7_1client floor 1 "$S/w7_own_floor.sql"
    bench W7_8threads floor 8 "$S/w7_own_floor.sql"
done
gaps=$(qv "SELECT bad FROM bench_check_gapless('w7')")
checked=$(qv "SELECT threads FROM bench_check_gapless('w7')")
echo "W7: $checked threads checked for gapless seq and exact aggregates: $gaps bad" | tee "$WORK/w7check"
if [ "$gaps" != 0 ]; then
    q -c "SELECT id, message_count, last_seq, (SELECT count(*) FROM chat_messages m WHERE m.thread_id = t.id) FROM chat_threads t WHERE id LIKE 'w7%'" >&2
    exit 1
fi

# bytes on disk per message (table + indexes + TOAST)
size_line() {
    qv "SELECT format('%s messages: %s bytes per message (heap+TOAST %s, indexes %s)', n, round(total / n), round(heap / n), round(idx / n))
        FROM (SELECT count(*) AS n, pg_total_relation_size('chat_messages') AS total,
                     pg_table_size('chat_messages') AS heap, pg_indexes_size('chat_messages') AS idx
              FROM chat_messages) s"
}
SIZES=$(size_line)

# ---- W1_net (issue 15, item 4): test/bench/network.sh ----------------------
# W1 for chatstore and the client-side peers (langmiddle, fluxrag) over TCP,
# directly and through test/bench/delay_proxy.py adding 0, 0.25 and 1 ms per
# round trip.  Its rows (W1_net_direct, W1_net_0, W1_net_025, W1_net_1) go to
# $RAW, its ratios and the target (>= 5x at 1 ms) to report.py through
# BENCH_NET_SUMMARY.  TCP to 127.0.0.1:$PGPORT (this script's own cluster
# listens there); without it, "not run".  Smoke: < 40 s.
export BENCH_NET_SUMMARY=$WORK/network.json
NET_RAW=$RAW NET_SUMMARY=$BENCH_NET_SUMMARY BENCH_SCALE=$SCALE "$BENCH_DIR/network.sh" "$DB"
# ---- end W1_net ------------------------------------------------------------

# ---- S1_stream, S2_items (1.4): test/bench/items_stream.py ------------------
# Streaming vs re-saving the growing message vs saving it once (time, WAL),
# and Responses items saved turn by turn and read back whole vs a plain jsonb
# table.  Python 3 + psycopg 3 (Debian's); the connection from PG*, the same
# database.  Its rows go to $RAW (so to latest.csv), its WAL / bytes figures
# and targets to report.py through BENCH_ITEMS_SUMMARY.  Without 1.4 it
# reports "not run".  Smoke: 1 run of S1, 2 threads of S2 (< 30 s).
say "S1_stream, S2_items (items_stream.py)"
export BENCH_ITEMS_SUMMARY=$WORK/items_stream.json
/usr/bin/python3 "$BENCH_DIR/items_stream.py" --db "$DB" --scale "$SCALE" \
    --raw "$RAW" --summary "$BENCH_ITEMS_SUMMARY"
# ---- end S1_stream, S2_items -------------------------------------------------

# ---- F1_langgraph, F2_vercel, F3_langchain_pg: test/bench/frameworks ---------
# What framework users run today against chatstore (issue 15 item 4): LangGraph.js
# with @langchain/langgraph-checkpoint-postgres vs the chatstore checkpointer
# (clients/js) vs plain chat_save_messages; the Vercel chatbot's Message_v2
# pattern and langchain-postgres's message_store vs chatstore.  Node + npm
# (npm ci of test/bench/frameworks/package-lock.json; builds clients/js if its
# dist/ is stale); each store in a database of its own, created from $DB and
# dropped.  Rows to $RAW, lines and targets to report.py through
# BENCH_FRAMEWORKS_SUMMARY.  Smoke: 20 turns, 1 thread (< 60 s).
export BENCH_FRAMEWORKS_SUMMARY=$WORK/frameworks.json
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    say "F1_langgraph, F2_vercel, F3_langchain_pg (frameworks/bench.mjs)"
    "$BENCH_DIR/frameworks/run.sh" --db "$DB" --scale "$SCALE" \
        --raw "$RAW" --summary "$BENCH_FRAMEWORKS_SUMMARY"
else
    say "F1-F3 (frameworks) SKIPPED: node and npm are needed (not found on PATH)"
    echo '{"targets": [], "lines": ["F1-F3 not run: node/npm not found"]}' > "$BENCH_FRAMEWORKS_SUMMARY"
fi
# ---- end F1_langgraph, F2_vercel, F3_langchain_pg ----------------------------

# ---------------------------------------------------------------------------
# scaling (large): W1 and W3 at 100k, 1M, 10M stored messages
# ---------------------------------------------------------------------------
# In a database of its own, so that the levels are exact: the W1 and W3
# threads, then background threads of 100 messages up to each level.  W3
# runs before W1 at each level (W1 adds ~10 messages per transaction).
if [ "$SCALE" = large ]; then
    if [ -z "${BENCH_KEEP:-}" ]; then dropdb --if-exists "$DB"; fi   # frees ~1.5 GB
    DB=${DB}_scale
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    createdb "$DB"
    q -c "CREATE EXTENSION chatstore" -f "$BENCH_DIR/setup.sql" \
      -c "CALL bench_load('w1-chatstore-', 1, $W1_THREADS, $W1_PER, 'u', 100)" \
      -c "CALL bench_load('w1-floor-', 1, $W1_THREADS, $W1_PER, 'u', 100)" \
      -c "CALL bench_load('w3-', 1, $W3_THREADS, 1000, 'w3user', 1)" >/dev/null
    SIZES="$SIZES
scaling database:"
    next=1
    for target in ${BENCH_SCALING_LEVELS:-100000 1000000 10000000}; do
        have=$(qv "SELECT count(*) FROM chat_messages")
        if [ "$have" -lt "$target" ]; then
            say "growing to $target messages"
            left=$(( (target - have + 99) / 100 ))
            while [ "$left" -gt 0 ]; do   # 1,000 threads (100,000 messages) per transaction
                n=$(( left < 1000 ? left : 1000 ))
                q -c "CALL bench_load('bg-', $next, $n, 100, 'bguser', 1000)"
                next=$((next + n)); left=$((left - n))
            done
        fi
        q -c "VACUUM ANALYZE chat_messages" -c "VACUUM ANALYZE chat_threads"
        count_messages
        SIZES="$SIZES
$(size_line)"
        bench "scale_W3" chatstore 1 "$S/w3_chatstore.sql"
        bench "scale_W3" plainsql 1 "$S/w3_plainsql.sql"
        bench "scale_W1" chatstore 1 "$S/w1_chatstore.sql"
        bench "scale_W1" floor 1 "$S/w1_floor.sql"
    done
fi

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
# one row per workload x impl x clients x scale: the round with the best TPS
{
    echo "workload,impl,clients,scale_messages,tps,p50_ms,p99_ms"
    awk -F, '{ k = $1 FS $2 FS $3 FS $4
               if (!(k in best)) order[++n] = k
               if (!(k in best) || $5 + 0 > best[k] + 0) { best[k] = $5; row[k] = $0 } }
             END { for (i = 1; i <= n; i++) print row[order[i]] }' "$RAW"
} > "$CSV"
echo
python3 "$BENCH_DIR/report.py" "$CSV" "$SCALE" "$(cat "$WORK/w7check")" "$SIZES" | tee "$SUMMARY"
for f in latest.csv latest.md summary.txt; do cp "$RESULTS/$f" "$RESULTS/$SCALE-$f"; done
say "results: $CSV, $RESULTS/latest.md, $SUMMARY (and copies named $SCALE-*)"
