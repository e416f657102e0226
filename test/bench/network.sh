#!/usr/bin/env bash
# Network round trips (issue 15, item 4): W1 over TCP through a delay proxy.
#
# W1 (a batch of 10 new messages into an existing thread) for chatstore (one
# chat_save_messages call per batch: 1 round trip) and for the client-side
# peers of run.sh (one statement per message, the pattern apps use:
# langmiddle 15 round trips per batch, fluxrag 22), pgbench -c 1 -M prepared
# over TCP: directly to the server (a reference), then through
# test/bench/delay_proxy.py adding 0, 0.25 and 1 ms per round trip (the
# proxy alone; a same-zone hop; a cross-zone hop).  Reports TPS per
# implementation and delay and the ratio chatstore/peer at each delay; the
# target is chatstore >= 5x each client-side peer at 1 ms (reported met or
# missed, never enforced).  Doc: doc/performance.md "Network round trips".
#
#   test/bench/network.sh [DATABASE]         (default chatstore_bench)
#
# The database must have the extension and test/bench/setup.sql; the server
# must accept TCP connections on NET_TCP_HOST:NET_TCP_PORT (default
# 127.0.0.1 and $PGPORT; run.sh's own cluster listens there).  Without a TCP
# listener it reports "not run" and exits 0.  It loads its own threads
# (wnet-IMPL-N, once) and leaves them.
#
# Environment: PGHOST/PGPORT/PGUSER (psql, to prepare), BENCH_SCALE (smoke:
# < 40 s; default: about 2 minutes), NET_DURATION (seconds per run),
# NET_DELAYS (added RTTs in ms, default "0 0.25 1").  Output: a table on
# stdout; with NET_RAW set (run.sh sets it) the rows are appended there
# (workload,impl,clients,scale_messages,tps,p50_ms,p99_ms; workloads
# W1_net_direct, W1_net_0, W1_net_025, W1_net_1), and NET_SUMMARY gets the
# targets and lines as JSON for report.py (BENCH_NET_SUMMARY); without them
# test/bench/results/network.csv and network.txt.  Exits non-zero only when
# something fails (pgbench, the proxy).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DB=${1:-${NET_DB:-chatstore_bench}}
SCALE=${BENCH_SCALE:-default}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir)
export PATH="$PG_BINDIR:$PATH"
export PGUSER=${PGUSER:-postgres}
PY=/usr/bin/python3
TCP_HOST=${NET_TCP_HOST:-127.0.0.1}
TCP_PORT=${NET_TCP_PORT:-${PGPORT:-5432}}
DELAYS=${NET_DELAYS:-0 0.25 1}
IMPLS="chatstore langmiddle fluxrag"
case $SCALE in
smoke) DUR=2 ROUNDS=1 THREADS=50 PER=20 ;;
*)     DUR=4 ROUNDS=2 THREADS=1000 PER=20 ;;
esac
[ -n "${NET_DURATION:-}" ] && DUR=$NET_DURATION
RESULTS=$BENCH_DIR/results
STANDALONE=0
if [ -z "${NET_RAW:-}" ]; then
    STANDALONE=1
    mkdir -p "$RESULTS"
fi
NET_SUMMARY=${NET_SUMMARY:-$RESULTS/network.json}

W=$(mktemp -d /tmp/chatstore-net.XXXXXX)
PIDS=()
cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
    exit $rc
}
trap cleanup EXIT

say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# over TCP only from here on; no SSL or GSS negotiation round trip
tcp() { PGSSLMODE=disable PGGSSENCMODE=disable "$@"; }

if ! tcp psql -X -q -At -w -h "$TCP_HOST" -p "$TCP_PORT" -d "$DB" -c 'SELECT 1' >/dev/null 2>&1; then
    say "W1_net: not run: no TCP listener at $TCP_HOST:$TCP_PORT"
    "$PY" - "$NET_SUMMARY" "$TCP_HOST:$TCP_PORT" <<'PY'
import json, sys
json.dump({'targets': [[f'W1_net_1 chatstore/{p} >= 5x', None, False] for p in ('langmiddle', 'fluxrag')],
           'lines': [f'W1_net (network.sh): not run, no TCP listener at {sys.argv[2]}']},
          open(sys.argv[1], 'w'))
PY
    exit 0
fi

# ---------------------------------------------------------------------------
# data: THREADS threads of PER messages per implementation (once)
# ---------------------------------------------------------------------------
# (a set left incomplete, e.g. by a smaller scale whose chatstore saves
# created other threads, is deleted and loaded again)
for impl in $IMPLS; do
    have=$(qv "SELECT count(*) FROM chat_threads WHERE id IN (SELECT 'wnet-$impl-' || t FROM generate_series(1, $THREADS) t)")
    if [ "$have" -lt "$THREADS" ]; then
        qv "DELETE FROM chat_threads WHERE id LIKE 'wnet-$impl-%'"
        qv "CALL bench_load('wnet-$impl-', 1, $THREADS, $PER, 'u', 100)"
    fi
done
SCALE_MSGS=$(qv "SELECT count(*) FROM chat_messages")

# ---------------------------------------------------------------------------
# pgbench scripts: those of run.sh's W1 (chatstore: the batch as a literal
# re-parsed on every call; the peers: the fields as bind parameters, -D)
# ---------------------------------------------------------------------------
UNIQ="'c' || :client_id::text || 'u' || :u::text || '-'"
B10=$(qv "SELECT quote_literal(bench_batch(1, 10, '@-'))")
cat > "$W/chatstore.sql" <<EOF
\\set t random(1, $THREADS)
\\set u random(1, 1000000000000)
SELECT * FROM chat_save_messages('wnet-chatstore-' || :t::text, replace($B10, '@', $UNIQ)::jsonb);
EOF
CLIENT_VARS=()
for k in $(seq 1 10); do
    CLIENT_VARS+=(-D "c$k=$(qv "SELECT bench_content($k)")")
    CLIENT_VARS+=(-D "m$k=$(qv "SELECT (bench_msg($k, NULL)->'metadata')::text")")
done
CLIENT_VARS+=(-D 'usage={"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}')
for impl in langmiddle fluxrag; do
    tid="'wnet-$impl-' || :t::text"
    f=$W/$impl.sql
    printf '\\set t random(1, %s)\n\\set u random(1, 1000000000000)\nBEGIN;\n' "$THREADS" > "$f"
    if [ "$impl" = langmiddle ]; then
        echo "SELECT last_seq FROM chat_threads WHERE id = $tid FOR UPDATE \\gset" >> "$f"
        echo "SELECT id FROM chat_messages WHERE thread_id = $tid;" >> "$f"
    fi
    for k in $(seq 1 10); do
        if [ $((k % 2)) = 1 ]; then role=user model=NULL usage=NULL tc=NULL p=0 c=0
        else role=assistant model="'gpt-4o-mini'" usage=":usage::jsonb" tc=80 p=120 c=80; fi
        if [ "$impl" = fluxrag ]; then
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
# round trips per transaction: one per SQL statement (pgbench -M prepared
# sends Bind/Execute/Sync per statement and waits for its result)
RTS=""
# shellcheck disable=SC1003
for impl in $IMPLS; do RTS="$RTS $impl=$(grep -vc '^\\' "$W/$impl.sql")"; done

# ---------------------------------------------------------------------------
# the proxies, one per delay
# ---------------------------------------------------------------------------
for d in $DELAYS; do
    "$PY" "$BENCH_DIR/delay_proxy.py" --target-host "$TCP_HOST" --target-port "$TCP_PORT" \
        --rtt-ms "$d" --port-file "$W/port.$d" --stats "$W/proxy.$d.json" &
    PIDS+=($!)
done
for d in $DELAYS; do
    for _ in $(seq 1 100); do [ -s "$W/port.$d" ] && break; sleep 0.05; done
    [ -s "$W/port.$d" ] || { echo "delay_proxy.py ($d ms) did not start" >&2; exit 1; }
done

# ---------------------------------------------------------------------------
# running: every setting and implementation, ROUNDS interleaved rounds
# ---------------------------------------------------------------------------
RAW=$W/raw.csv
: > "$RAW"
percentiles() {
    cat "$@" | awk '{print $3}' | sort -n | awk '
        { v[NR] = $1 }
        END { if (NR == 0) { print ","; exit }
              i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
              printf "%.3f,%.3f\n", v[i50] / 1000, v[i99] / 1000 }'
}
# run SETTING PORT IMPL
run() {
    local setting=$1 port=$2 impl=$3 d out tps extra=()
    d=$W/log/$setting-$impl
    rm -rf "$d"; mkdir -p "$d"
    [ "$impl" = chatstore ] || extra=("${CLIENT_VARS[@]}")
    out=$d/pgbench.out
    qv "CHECKPOINT" >/dev/null   # as run.sh: no checkpoint inside a run
    if ! tcp pgbench -n -M prepared -h "$TCP_HOST" -p "$port" -c 1 -j 1 -T "$DUR" -f "$W/$impl.sql" \
            -l --log-prefix="$d/tx" "${extra[@]}" "$DB" > "$out" 2>&1; then
        echo "pgbench failed: W1_net_$setting $impl" >&2
        tail -20 "$out" >&2
        exit 1
    fi
    if grep -q 'failed transactions: [1-9]' "$out" || grep -qi 'error' "$out"; then
        echo "pgbench reported errors: W1_net_$setting $impl" >&2
        tail -20 "$out" >&2
        exit 1
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
    echo "W1_net_$setting,$impl,1,$SCALE_MSGS,$tps,$(percentiles "$d"/tx.*)" >> "$RAW"
    printf '%s  %-14s %-11s -c 1  %10.1f tps\n' "$(date -u +%H:%M:%S)" "W1_net_$setting" "$impl" "$tps"
}
say "W1_net: BENCH_SCALE=$SCALE, ${DUR}s per run, $ROUNDS round(s), TCP $TCP_HOST:$TCP_PORT, added RTT: direct, $DELAYS ms"
for _ in $(seq 1 "$ROUNDS"); do
    for impl in $IMPLS; do run direct "$TCP_PORT" "$impl"; done
    for d in $DELAYS; do
        for impl in $IMPLS; do run "${d//./}" "$(cat "$W/port.$d")" "$impl"; done
    done
done
# the proxies write their stats (how late the chunks left) on SIGTERM
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()

# ---------------------------------------------------------------------------
# report: the best round per workload x impl; ratios; the target
# ---------------------------------------------------------------------------
awk -F, '{ k = $1 FS $2
           if (!(k in best)) order[++n] = k
           if (!(k in best) || $5 + 0 > best[k] + 0) { best[k] = $5; row[k] = $0 } }
         END { for (i = 1; i <= n; i++) print row[order[i]] }' "$RAW" > "$W/best.csv"
if [ "$STANDALONE" = 1 ]; then
    { echo "workload,impl,clients,scale_messages,tps,p50_ms,p99_ms"; cat "$W/best.csv"; } > "$RESULTS/network.csv"
else
    cat "$RAW" >> "$NET_RAW"   # run.sh keeps the best round itself
fi
"$PY" - "$W" "$NET_SUMMARY" "$DELAYS" "$RTS" "$DUR" "$ROUNDS" <<'PY' | tee "$W/summary.txt"
import csv, json, os, sys
w, out, delays, rts, dur, rounds = sys.argv[1:7]
delays = delays.split()
rts = dict(x.split('=') for x in rts.split())
rows = {(r[0], r[1]): r for r in csv.reader(open(f'{w}/best.csv'))}
impls = ['chatstore', 'langmiddle', 'fluxrag']
settings = [('direct', 'direct')] + [(d.replace('.', ''), f'+{d} ms') for d in delays]


def tps(s, i):
    r = rows.get((f'W1_net_{s}', i))
    return float(r[4]) if r and r[4] else None


def p50(s, i):
    r = rows.get((f'W1_net_{s}', i))
    return float(r[5]) if r and r[5] else None


lines = [f'W1 over TCP (network.sh): pgbench -c 1 -M prepared, best of {rounds} x {dur}s; '
         'TPS, directly and through delay_proxy.py adding the RTT shown']
lines.append(f'  {"impl":<12}{"RT/batch":>9}' + ''.join(f'{lab:>11}' for _, lab in settings))
for i in impls:
    lines.append(f'  {i:<12}{rts[i]:>9}' + ''.join(
        f'{tps(s, i):>11.1f}' if tps(s, i) else f'{"-":>11}' for s, _ in settings))
for peer in impls[1:]:
    lines.append(f'  {"chatstore/" + peer:<21}' + ''.join(
        f'{tps(s, "chatstore") / tps(s, peer):>10.2f}x' if tps(s, 'chatstore') and tps(s, peer) else f'{"-":>11}'
        for s, _ in settings))
# the proxy's own cost (0 ms against direct) and the RTT it really added,
# per round trip, from the p50 latencies
parts = []
for i in impls:
    a, b = p50('direct', i), p50('0', i)
    if a and b:
        parts.append(f'{i} {1000 * (b - a) / int(rts[i]):+.0f} us')
if parts:
    lines.append('  proxy overhead at 0 ms, per round trip (p50 through the proxy - p50 direct): ' + ', '.join(parts))
for d in delays:
    if float(d) == 0:
        continue
    parts = []
    for i in impls:
        a, b = p50('0', i), p50(d.replace('.', ''), i)
        if a and b:
            parts.append(f'{i} {(b - a) / int(rts[i]):.3f}')
    late = ''
    try:
        st = json.load(open(f'{w}/proxy.{d}.json'))
        if st.get('late_us_p50') is not None:
            late = f' (chunks left {st["late_us_p50"]} us late p50, {st["late_us_p99"]} us p99)'
    except (OSError, ValueError):
        pass
    lines.append(f'  added RTT measured at +{d} ms, ms per round trip: ' + ', '.join(parts) + late)
targets = []
last = delays[-1].replace('.', '')
for peer in impls[1:]:
    a, b = tps(last, 'chatstore'), tps(last, peer)
    x = a / b if a and b else None
    targets.append([f'W1_net_{last} chatstore/{peer} >= 5x', f'{x:.2f}x' if x else None,
                    bool(x is not None and x >= 5.0)])
for name, detail, ok in targets:
    lines.append(f'  target {name}: {detail or "not measured"}  {"met" if ok else "MISSED"}')
print('\n'.join(lines))
json.dump({'targets': targets, 'lines': lines}, open(out, 'w'))
PY
if [ "$STANDALONE" = 1 ]; then
    cp "$W/summary.txt" "$RESULTS/network.txt"
    say "results: $RESULTS/network.csv, $RESULTS/network.txt, $NET_SUMMARY"
fi
