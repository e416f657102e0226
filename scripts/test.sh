#!/usr/bin/env bash
# Runs every test suite on a fresh machine: installs what is missing, builds
# (warnings are errors), installs, starts a throwaway cluster and runs
#   1. pg_regress (sql/ + expected/) and pg_isolation_regress (test/isolation)
#   2. every client / driver / example test: test/client/*/run.sh
#   3. the TAP tests in test/t (their own clusters, run as the postgres user)
#   4. where Citus is installed, the Citus suite (scripts/citus.sh)
#   5. the benchmark suite at BENCH_SCALE=smoke (a check that it works, never timed)
# and stops the cluster. Exits non-zero when any suite fails.
# CHATSTORE_SKIP="tap bench" skips suites by name while developing.
source "$(dirname "$0")/lib.sh"
cs_setup_packages
cs_build_install
cs_cluster_start
trap cs_cluster_stop EXIT

passed=0 failed=0 failures=""
skip() { case " ${CHATSTORE_SKIP:-} " in *" $1 "*) return 0;; esac; return 1; }
run_suite() {   # name command...
    local name=$1; shift
    if skip "$name"; then echo "-- skipped $name"; return; fi
    log "suite: $name"
    if "$@"; then passed=$((passed + 1)); echo "-- ok: $name"
    else failed=$((failed + 1)); failures="$failures $name"; echo "-- FAILED: $name"; fi
}

installcheck() {
    if ! make -C "$CS_ROOT" -s PG_CONFIG="$PG_CONFIG" installcheck; then
        for f in "$CS_ROOT/regression.diffs" "$CS_ROOT/output_iso/regression.diffs"; do
            [ -f "$f" ] && head -c 20000 "$f"
        done
        return 1
    fi
}
run_suite regress installcheck

for t in "$CS_ROOT"/test/client/*/run.sh; do
    [ -e "$t" ] || continue
    run_suite "client:$(basename "$(dirname "$t")")" bash "$t"
done

prove_tap() (   # a subshell, for its cd
    local dir="$CHATSTORE_TMP/tap"
    # the tests run as the postgres user, who may not be able to read the
    # clone (say, under /root): give them a copy of their own
    mkdir -p "$dir/t" && cp "$CS_ROOT"/test/t/*.pl "$dir/t/" && chown -R postgres:postgres "$dir"
    cd "$dir"   # (a subshell: the cwd must be one postgres can enter)
    as_pg env TESTDIR="$dir" PATH="$PATH" PG_CONFIG="$PG_CONFIG" \
        PG_REGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
        CS_ROOT="$CS_ROOT" \
        PERL5LIB="$(dirname "$("$PG_CONFIG" --pgxs)")/../../src/test/perl" \
        prove --timer "$dir"/t/*.pl
)
if ls "$CS_ROOT"/test/t/*.pl >/dev/null 2>&1; then run_suite tap prove_tap; fi

# chatstore distributed on Citus (a coordinator and two workers, the same
# suites against them): only where Citus is installed, which a fresh
# machine is not (README.md#scaling-out)
if [ -e "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    run_suite citus env CITUS_TMP="$CHATSTORE_TMP/citus" bash "$CS_ROOT/scripts/citus.sh" run
else
    echo "-- skipped citus: Citus not installed"
fi

if [ -x "$CS_ROOT/test/bench/run.sh" ]; then
    run_suite bench-smoke env BENCH_SCALE=smoke "$CS_ROOT/test/bench/run.sh"
fi

echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
