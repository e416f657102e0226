#!/usr/bin/env bash
# Compare two builds of chatstore side by side in one run: the same workloads,
# interleaved, against two throwaway clusters, one per build.  Reports per
# workload the median TPS of each side and the ratio NEW/OLD (on a shared,
# noisy machine only ratios measured interleaved in one run mean anything).
#
#   test/bench/compare.sh [OLD_REV [NEW_REV]]
#
# OLD_REV  default: the latest commit (first-parent history of HEAD) whose
#          chatstore.control default_version differs from the working tree's,
#          i.e. the last commit of the previous version.
# NEW_REV  default: the working tree, uncommitted and untracked (not ignored)
#          files included.
#
# Each side is exported into a scratch directory (git archive REV, or the
# working tree's `git ls-files -co --exclude-standard`), built with PGXS and
# installed with DESTDIR into a private copy of the PostgreSQL installation
# (PostgreSQL finds its lib and share directories relative to its binary), so
# the shared installation is never touched.  One cluster per side (unix socket
# only, the settings of test/bench/run.sh: fsync and synchronous_commit off,
# shared_buffers 1GB), a database with CREATE EXTENSION chatstore (each side's
# own default version) and the data helpers of test/bench/setup.sql.  Both
# sides get the same data and the same pgbench scripts, those of run.sh:
#
#   W1   chat_save_messages: a new batch of 10 messages into an existing thread
#   W2a  re-send of a 100-message conversation with ids + 1 new message, each
#        transaction into a thread of its own holding exactly those 100
#        (pgbench -t W2A_TX, a fixed count per run; after each run the pool of
#        threads is put back as loaded and vacuumed, untimed, so every run
#        re-sends into the same state)
#   W3   chat_history: the latest 50 messages of a 1,000-message thread
#   W4   chat_history within a 4,000-token budget (agent thread, tool calls)
#   W5   chat_list_threads: a page of 20 of a user's 1,000 threads (its plan
#        changes between rounds with the statistics of chat_threads, on both
#        sides alike: its TPS varies more between rounds than the others')
#
# A workload runs only when the functions it calls exist on both sides.  For
# each round 1..ROUNDS, for each workload, OLD and NEW run one after the other
# (which one goes first alternates every round), DUR seconds each, same client
# count and the same pgbench random seed (another one each round), pgbench
# -M prepared over the unix socket, a CHECKPOINT on both clusters before every
# run.  Autovacuum is off; both sides are vacuumed at the same points (after
# loading, at the start of every round, after every W2a run).
#
# Environment:
#   COMPARE_SCALE      smoke (DUR=2, ROUNDS=1; a check that it works) or
#                      default (DUR=6, ROUNDS=5)
#   COMPARE_DURATION   seconds per timed run (overrides the scale's)
#   COMPARE_ROUNDS     rounds (overrides the scale's)
#   COMPARE_CLIENTS    pgbench clients (default 1)
#   COMPARE_W2A_TX     W2a transactions per run and client (smoke 1000,
#                      default 5000: a few seconds)
#   COMPARE_WORKLOADS  which workloads (default "W1 W2a W3 W4 W5")
#   COMPARE_PORT       port of the OLD cluster; NEW gets +1 (default 55470)
#   COMPARE_KEEP=1     keep the clusters running and the scratch directory
#   PG_CONFIG          default /usr/lib/postgresql/15/bin/pg_config
#
# Output: the table on stdout and in test/bench/results/compare.txt, every run
# in test/bench/results/compare.csv (round,workload,side,order,tps).  Exits
# non-zero only when something fails (a build, a pgbench error, a W2a re-send
# that stored more than its new message, a gap in seq), never on a ratio.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
SCALE=${COMPARE_SCALE:-default}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BIN=$("$PG_CONFIG" --bindir)
export PATH="$PG_BIN:$PATH"
CLIENTS=${COMPARE_CLIENTS:-1}
WORKLOADS=${COMPARE_WORKLOADS:-W1 W2a W3 W4 W5}
PORT0=${COMPARE_PORT:-55470}
DB=chatstore_compare

# data set: run.sh's sizes for the same scale (W2A_TX: transactions per W2a
# run and client, and the threads of 100 messages loaded for them per client)
case $SCALE in
smoke)
    DUR=2 ROUNDS=1 W1_THREADS=50 W1_PER=20 W2A_TX=1000 W3_THREADS=4 W4_THREADS=2
    W5_THREADS=1000 BG_MSGS=10000 ;;
default)
    DUR=6 ROUNDS=5 W1_THREADS=1000 W1_PER=20 W2A_TX=5000 W3_THREADS=20 W4_THREADS=10
    W5_THREADS=1000 BG_MSGS=100000 ;;
*)
    echo "COMPARE_SCALE must be smoke or default (got '$SCALE')" >&2
    exit 2 ;;
esac
[ -n "${COMPARE_DURATION:-}" ] && DUR=$COMPARE_DURATION
[ -n "${COMPARE_ROUNDS:-}" ] && ROUNDS=$COMPARE_ROUNDS
[ -n "${COMPARE_W2A_TX:-}" ] && W2A_TX=$COMPARE_W2A_TX
for w in $WORKLOADS; do
    case $w in W1|W2a|W3|W4|W5) ;; *) echo "unknown workload $w (known: W1 W2a W3 W4 W5)" >&2; exit 2 ;; esac
done

say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { echo "compare.sh: $*" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
git_() { git -C "$ROOT" "$@"; }
control_version() { sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p"; }

# ---------------------------------------------------------------------------
# the two revisions
# ---------------------------------------------------------------------------
WT_VERSION=$(control_version < "$ROOT/chatstore.control")
default_old_rev() {
    local c p
    if [ "$(git_ show HEAD:chatstore.control | control_version)" != "$WT_VERSION" ]; then
        git_ rev-parse HEAD; return
    fi
    for c in $(git_ log --first-parent --format=%H HEAD -- chatstore.control); do
        p=$(git_ rev-parse -q --verify "$c^" 2>/dev/null) || continue
        if [ "$(git_ show "$p:chatstore.control" 2>/dev/null | control_version)" != "$WT_VERSION" ]; then
            echo "$p"; return
        fi
    done
    return 1
}
if [ $# -ge 1 ]; then
    OLD_REV=$(git_ rev-parse --verify -q "$1^{commit}") || die "not a commit: $1"
else
    OLD_REV=$(default_old_rev) || die "no commit with a default_version other than $WT_VERSION; give OLD_REV"
fi
NEW_REV=
if [ $# -ge 2 ]; then
    NEW_REV=$(git_ rev-parse --verify -q "$2^{commit}") || die "not a commit: $2"
fi
[ $# -le 2 ] || die "usage: $0 [OLD_REV [NEW_REV]]"

describe() {   # describe REV|'' -> one line
    if [ -z "$1" ]; then
        local n
        n=$(git_ status --porcelain --untracked-files=normal | wc -l)
        echo "working tree (HEAD $(git_ rev-parse --short HEAD), $n uncommitted or untracked paths)"
    else
        echo "$(git_ rev-parse --short "$1") $(git_ log -1 --format=%s "$1" | cut -c1-60)"
    fi
}
OLD_DESC=$(describe "$OLD_REV")
NEW_DESC=$(describe "$NEW_REV")

# ---------------------------------------------------------------------------
# scratch, cleanup
# ---------------------------------------------------------------------------
SCR=$(mktemp -d /tmp/cs-cmp-XXXXXX)
chmod 755 "$SCR"
RESULTS=$BENCH_DIR/results
mkdir -p "$RESULTS"
SIDES="old new"
bindir=$PG_BIN
pkglibdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)

port_of() { if [ "$1" = old ]; then echo "$PORT0"; else echo $((PORT0 + 1)); fi; }
stop_side() {
    if [ -f "$SCR/$1/run/data/postmaster.pid" ]; then
        as_pg "$SCR/$1/root$bindir/pg_ctl" -D "$SCR/$1/run/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "${COMPARE_KEEP:-}" ]; then
        echo "COMPARE_KEEP: kept $SCR; clusters running:"
        for s in $SIDES; do
            [ -f "$SCR/$s/run/data/postmaster.pid" ] &&
                echo "  $s: psql -h $SCR/$s/run -p $(port_of "$s") -U postgres $DB" \
                     "  (stop: runuser -u postgres -- $SCR/$s/root$bindir/pg_ctl -D $SCR/$s/run/data stop)"
        done
    else
        for s in $SIDES; do stop_side "$s"; done
        rm -rf "$SCR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "COMPARE_SCALE=$SCALE: $ROUNDS rounds x ${DUR}s per side and workload, $CLIENTS client(s); scratch $SCR"
say "OLD: $OLD_DESC"
say "NEW: $NEW_DESC"

# ---------------------------------------------------------------------------
# export, build, install into a private copy of the installation
# ---------------------------------------------------------------------------
export_side() {   # export_side SIDE REV|''
    local src=$SCR/$1/src
    mkdir -p "$src"
    if [ -n "$2" ]; then
        git_ archive "$2" | tar -x -C "$src"
    else
        (cd "$ROOT" && git ls-files -z -co --exclude-standard |
            while IFS= read -r -d '' f; do
                # a tracked file deleted in the working tree is not part of it
                if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
            done | xargs -0 -r cp -P --parents -t "$src")
    fi
}
build_side() {   # build_side SIDE (output in SIDE/build.log)
    local s=$1 root=$SCR/$1/root d
    for d in "$bindir" "$pkglibdir" "$sharedir"; do
        mkdir -p "$root$d"
        cp -a "$d/." "$root$d/"
    done
    rm -rf "$root$pkglibdir"/chatstore.so "$root$pkglibdir"/bitcode/chatstore* \
           "$root$sharedir"/extension/chatstore[.-]*
    make -C "$SCR/$s/src" -j2 PG_CONFIG="$PG_CONFIG" &&
        make -C "$SCR/$s/src" PG_CONFIG="$PG_CONFIG" DESTDIR="$root" install
}
say "exporting and building both sides"
export_side old "$OLD_REV"
export_side new "$NEW_REV"
for s in $SIDES; do
    build_side "$s" > "$SCR/$s/build.log" 2>&1 &
    eval "build_pid_$s=$!"
done
for s in $SIDES; do
    pid_var=build_pid_$s
    if ! wait "${!pid_var}"; then
        tail -30 "$SCR/$s/build.log" >&2
        die "the $s build failed (log above)"
    fi
    [ -f "$SCR/$s/root$pkglibdir/chatstore.so" ] || die "the $s build installed no chatstore.so"
done

# ---------------------------------------------------------------------------
# clusters (settings of scripts/lib.sh + test/bench/run.sh, without pg_cron;
# autovacuum off: a worker on one cluster would run during the other's
# measurement at times that differ between the sides; both are vacuumed at
# the same points instead: after loading, at the start of every round, after
# every W2a run)
# ---------------------------------------------------------------------------
start_side() {
    local s=$1 run=$SCR/$1/run
    mkdir -p "$run"
    chown postgres:postgres "$run" 2>/dev/null || true
    as_pg "$SCR/$s/root$bindir/initdb" -D "$run/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$run/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$run'
port = $(port_of "$s")
max_connections = 60
shared_buffers = 1GB
max_wal_size = 8GB
fsync = off
synchronous_commit = off
log_min_messages = warning
autovacuum = off
CONF
    as_pg "$SCR/$s/root$bindir/pg_ctl" -D "$run/data" -l "$run/server.log" -w start >/dev/null
}
export PGUSER=postgres
# on SIDE: psql
q() { local s=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -h "$SCR/$s/run" -p "$(port_of "$s")" -d "$DB" "$@"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$SCR/$1/run" -p "$(port_of "$1")" -d "$DB" -c "$2"; }

say "starting two clusters (ports $PORT0, $((PORT0 + 1)))"
for s in $SIDES; do start_side "$s"; done
declare -A VERSION
for s in $SIDES; do
    createdb -h "$SCR/$s/run" -p "$(port_of "$s")" "$DB"
    q "$s" -c "CREATE EXTENSION chatstore" -f "$BENCH_DIR/setup.sql"
    VERSION[$s]=$(qv "$s" "SELECT extversion FROM pg_extension WHERE extname = 'chatstore'")
    # the backend really loads this side's own build
    maps=$(qv "$s" "LOAD 'chatstore'; SELECT pg_read_file('/proc/self/maps')")
    grep -q "$SCR/$s/root.*chatstore.so" <<<"$maps" || die "the $s cluster did not load $SCR/$s/root$pkglibdir/chatstore.so"
done
say "OLD is chatstore ${VERSION[old]}, NEW is chatstore ${VERSION[new]}"

# ---------------------------------------------------------------------------
# workloads: which exist on both sides
# ---------------------------------------------------------------------------
fn_of() {
    case $1 in
    W1|W2a) echo chat_save_messages ;;
    W3|W4) echo chat_history ;;
    W5) echo chat_list_threads ;;
    *) die "unknown workload $1 (known: W1 W2a W3 W4 W5)" ;;
    esac
}
RUN_WL=
for w in $WORKLOADS; do
    fn=$(fn_of "$w") || exit 1
    ok=1
    for s in $SIDES; do
        [ "$(qv "$s" "SELECT count(*) FROM pg_proc WHERE proname = '$fn'")" != 0 ] || ok=0
    done
    if [ "$ok" = 1 ]; then RUN_WL="$RUN_WL $w"; else say "skipping $w: $fn is missing on one side"; fi
done
RUN_WL=${RUN_WL# }
[ -n "$RUN_WL" ] || die "no workload exists on both sides"

# ---------------------------------------------------------------------------
# data (the same on both sides, as run.sh loads it)
# ---------------------------------------------------------------------------
say "loading data"
{
    echo "CALL bench_load('w1-chatstore-', 1, $W1_THREADS, $W1_PER, 'u', 100);"
    # W2a: a thread of the 100 re-sent messages per transaction (w2a-CLIENT-I)
    for c in $(seq 0 $((CLIENTS - 1))); do
        echo "CALL bench_load('w2a-$c-', 1, $W2A_TX, 100, 'w2user', 10);"
    done
    # what a W2a save changes besides the counters, put back after each run
    echo "CREATE TABLE bench_w2a_orig AS SELECT id, updated_at, last_message_at FROM chat_threads WHERE id LIKE 'w2a-%';"
    echo "ALTER TABLE bench_w2a_orig ADD PRIMARY KEY (id);"
    echo "CALL bench_load('w3-', 1, $W3_THREADS, 1000, 'w3user', 1);"
    for t in $(seq 1 "$W4_THREADS"); do echo "CALL bench_load_tools('w4-$t', 1000);"; done
    echo "CALL bench_load('w5-', 1, $W5_THREADS, 2, 'w5user', 1);"
} > "$SCR/load.sql"
load_side() {
    local s=$1 have
    q "$s" -f "$SCR/load.sql" >/dev/null
    have=$(qv "$s" "SELECT count(*) FROM chat_messages")
    if [ "$have" -lt "$BG_MSGS" ]; then
        q "$s" -c "CALL bench_load('bg-', 1, $(( (BG_MSGS - have + 99) / 100 )), 100, 'bguser', 1000)"
    fi
    q "$s" -c "VACUUM ANALYZE chat_threads" -c "VACUUM ANALYZE chat_messages" -c "CHECKPOINT"
}
for s in $SIDES; do
    load_side "$s" > "$SCR/$s/load.log" 2>&1 &
    eval "load_pid_$s=$!"
done
for s in $SIDES; do
    pid_var=load_pid_$s
    wait "${!pid_var}" || { cat "$SCR/$s/load.log" >&2; die "loading the $s side failed"; }
done
for s in $SIDES; do
    say "$s: $(qv "$s" "SELECT count(*) FROM chat_messages") messages in $(qv "$s" "SELECT count(*) FROM chat_threads") threads"
done

# ---------------------------------------------------------------------------
# pgbench scripts (the statements of run.sh; the batches embedded as string
# literals re-parsed on every call, replace(literal, '@', :u)::jsonb), made
# once and run on both sides
# ---------------------------------------------------------------------------
S=$SCR/scripts
mkdir -p "$S"
UNIQ="'c' || :client_id::text || 'u' || :u::text || '-'"
lit() { qv new "SELECT quote_literal($1)"; }
B10=$(lit "bench_batch(1, 10, '@-')")
B101=$(lit "(bench_batch(1, 100, 'm')::jsonb || bench_batch(101, 1, '@-')::jsonb)::text")
cat > "$S/W1.sql" <<EOF
\\set t random(1, $W1_THREADS)
\\set u random(1, 1000000000000)
SELECT * FROM chat_save_messages('w1-chatstore-' || :t::text, replace($B10, '@', $UNIQ)::jsonb);
EOF
cat > "$S/W2a.sql" <<EOF
\\set i :i + 1
\\set u random(1, 1000000000000)
SELECT * FROM chat_save_messages('w2a-' || :client_id::text || '-' || :i::text, replace($B101, '@', $UNIQ)::jsonb);
EOF
printf '\\set t random(1, %s)\nSELECT * FROM chat_history(%s, 50);\n' \
    "$W3_THREADS" "'w3-' || :t::text" > "$S/W3.sql"
printf '\\set t random(1, %s)\nSELECT * FROM chat_history(%s, max_tokens => 4000);\n' \
    "$W4_THREADS" "'w4-' || :t::text" > "$S/W4.sql"
echo "SELECT * FROM chat_list_threads('w5user0', 20);" > "$S/W5.sql"

# ---------------------------------------------------------------------------
# running, interleaved
# ---------------------------------------------------------------------------
RAW=$SCR/raw.csv
echo "round,workload,side,order,tps" > "$RAW"
jobs=1
[ "$CLIENTS" -gt 1 ] && jobs=2

# bench ROUND WORKLOAD SIDE ORDER
bench() {
    local r=$1 w=$2 s=$3 order=$4 out tps len
    local d=$SCR/log/$r-$w-$s
    mkdir -p "$d"
    if [ "$w" = W2a ]; then len=(-t "$W2A_TX" -D i=0); else len=(-T "$DUR"); fi
    for x in $SIDES; do qv "$x" "CHECKPOINT" >/dev/null; done
    out=$d/pgbench.out
    # the same random seed for both sides of a round (the same threads and
    # ids), another one each round (W1's new ids must not repeat)
    if ! pgbench -n -M prepared -h "$SCR/$s/run" -p "$(port_of "$s")" -c "$CLIENTS" -j "$jobs" \
            --random-seed="$r" "${len[@]}" -f "$S/$w.sql" "$DB" > "$out" 2>&1; then
        tail -20 "$out" >&2
        die "pgbench failed: $w on $s"
    fi
    if grep -q 'failed transactions: [1-9]' "$out" || grep -qi 'error' "$out"; then
        tail -20 "$out" >&2
        die "pgbench reported errors: $w on $s"
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
    [ -n "$tps" ] || { tail -20 "$out" >&2; die "no tps in the pgbench output: $w on $s"; }
    echo "$r,$w,$s,$order,$tps" >> "$RAW"
    printf '%s  round %s  %-4s %-3s (%s) %10.1f tps\n' "$(date -u +%H:%M:%S)" "$r" "$w" "$s" "$order" "$tps"
    if [ "$w" = W2a ]; then w2a_restore "$s"; fi
}

# after a W2a run on SIDE: every re-send stored exactly its 1 new message (the
# 101st, a user message without usage); then the threads are put back as
# loaded: 100 messages, the counters, updated_at and last_message_at (direct
# SQL with triggers off, as setup.sql loads them), and vacuumed.  (Leaving
# 5,000 threads with the newest updated_at flips W5's plan to a backward scan
# of chat_threads_updated_at_idx, 8x slower, on some rounds and not others.)
w2a_restore() {
    local s=$1 used bad
    used=$(qv "$s" "SELECT count(*) FROM chat_threads WHERE id LIKE 'w2a-%' AND message_count = 101 AND last_seq = 101")
    bad=$(qv "$s" "SELECT count(*) FROM chat_threads WHERE id LIKE 'w2a-%' AND NOT (message_count IN (100, 101) AND last_seq = message_count)")
    if [ "$used" != $((W2A_TX * CLIENTS)) ] || [ "$bad" != 0 ]; then
        die "$s: W2a: $used threads got their 1 new message (expected $((W2A_TX * CLIENTS))), $bad are wrong"
    fi
    q "$s" -c "SET session_replication_role = replica" \
        -c "DELETE FROM chat_messages WHERE thread_id LIKE 'w2a-%' AND seq > 100" \
        -c "UPDATE chat_threads t SET message_count = 100, last_seq = 100, updated_at = o.updated_at,
                   last_message_at = o.last_message_at
            FROM bench_w2a_orig o WHERE t.id = o.id AND t.last_seq <> 100" \
        -c "RESET session_replication_role" \
        -c "VACUUM ANALYZE chat_threads" -c "VACUUM chat_messages"
}

say "running $RUN_WL"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then first=old second=new; else first=new second=old; fi
    for s in $SIDES; do q "$s" -c "VACUUM ANALYZE chat_threads" -c "VACUUM ANALYZE chat_messages"; done
    for w in $RUN_WL; do
        bench "$r" "$w" "$first" first
        bench "$r" "$w" "$second" second
    done
done

# ---------------------------------------------------------------------------
# checks: the W1 and W2a threads gapless with exact aggregates (W2a: each
# re-send stored exactly its new message, checked after every run)
# ---------------------------------------------------------------------------
for s in $SIDES; do
    for p in w1- w2a-; do
        bad=$(qv "$s" "SELECT bad FROM bench_check_gapless('$p')")
        [ "$bad" = 0 ] || die "$s: $bad $p threads have a gap in seq or wrong aggregates"
    done
done

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
cp "$RAW" "$RESULTS/compare.csv"
echo
python3 "$BENCH_DIR/compare.py" "$RAW" \
    "OLD: $OLD_DESC, chatstore ${VERSION[old]}" \
    "NEW: $NEW_DESC, chatstore ${VERSION[new]}" \
    "COMPARE_SCALE=$SCALE: $ROUNDS round(s), ${DUR}s per side and workload (W2a: $W2A_TX transactions per client), $CLIENTS client(s), pgbench -M prepared, unix socket; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
    | tee "$RESULTS/compare.txt"
say "results: $RESULTS/compare.txt, $RESULTS/compare.csv"
