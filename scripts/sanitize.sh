#!/usr/bin/env bash
# `make sanitize`: build chatstore with -fsanitize=address,undefined and run
# the whole pg_regress and isolation suites against a throwaway cluster that
# loads it, failing on any sanitizer report or crash.
#
# The server itself is the ordinary (uninstrumented) PostgreSQL build; only
# chatstore.so is instrumented.  ASan's runtime must then be the first
# library of the process, so the postmaster is started with LD_PRELOAD of
# libasan (inherited by every backend), and leak detection is off (the
# server frees memory contexts, not malloc blocks, at exit).  UBSan aborts
# on the first report (-fno-sanitize-recover=all); our objects are built
# with -fno-wrapv so that signed overflow in chatstore's C is reported.
#
# Nothing touches the shared installation: the PostgreSQL binaries,
# libraries and share directory are copied into a private tree (PostgreSQL
# finds its share and lib directories relative to its binary), the source
# is copied and built there, and the instrumented build is installed into
# the copy with DESTDIR.
#
# Environment: PG_CONFIG, SANITIZE_DIR (default /tmp/chatstore-sanitize),
# SANITIZE_PORT (default 54399), SANITIZE_CC (default gcc).
set -euo pipefail

CS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
WORK=${SANITIZE_DIR:-/tmp/chatstore-sanitize}
PORT=${SANITIZE_PORT:-54399}
CC_SAN=${SANITIZE_CC:-gcc}
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -fno-wrapv -g -O1"
UBSAN_ONLY_FLAGS="-fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -fno-wrapv -g -O1"

as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
log() { printf '\n== %s\n' "$*"; }

bindir=$("$PG_CONFIG" --bindir)
sharedir=$("$PG_CONFIG" --sharedir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
pgxs_dir=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
libasan=$("$CC_SAN" -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "no libasan for $CC_SAN" >&2; exit 1; }

stop_cluster() {
    if [ -f "$WORK/data/postmaster.pid" ]; then
        as_pg "$WORK/root$bindir/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}
stop_cluster
rm -rf "$WORK"
mkdir -p "$WORK/root" "$WORK/src" "$WORK/out" "$WORK/san"

# Can an uninstrumented postgres run with the ASan runtime preloaded?  On
# Debian 12 (glibc 2.36; gcc 12 and clang 14 runtimes alike) it deadlocks in
# glibc's bindtextdomain at startup (set_pglocale_pgservice).  A tiny shim,
# preloaded after the runtime, makes bindtextdomain a no-op (messages stay
# untranslated), which avoids it.  If postgres still cannot start, fall back
# to UBSan alone, which needs no preloading (libubsan is a plain dependency
# of chatstore.so).
mkdir -p "$WORK/shim"
cat > "$WORK/shim/nonls.c" <<'SHIM'
char *bindtextdomain(const char *domainname, const char *dirname) { (void) domainname; return (char *) dirname; }
char *bind_textdomain_codeset(const char *domainname, const char *codeset) { (void) domainname; return (char *) codeset; }
SHIM
"$CC_SAN" -shared -fPIC -o "$WORK/shim/nonls.so" "$WORK/shim/nonls.c"
preload="$libasan:$WORK/shim/nonls.so"
if timeout 20 env LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 "$bindir/postgres" -V >/dev/null 2>&1; then
    echo "NOTE: using AddressSanitizer + UBSan (runtime preloaded: $preload)"
else
    echo "NOTE: postgres cannot start with $libasan preloaded; running with UBSan only"
    SAN_FLAGS=$UBSAN_ONLY_FLAGS
    preload=
fi


log "a private copy of the PostgreSQL installation in $WORK/root"
for d in "$bindir" "$pkglibdir" "$sharedir"; do
    mkdir -p "$WORK/root$d"
    cp -a "$d/." "$WORK/root$d/"
done
rm -f "$WORK/root$pkglibdir"/chatstore.so "$WORK/root$sharedir"/extension/chatstore*

log "building chatstore with $SAN_FLAGS ($CC_SAN)"
(cd "$CS_ROOT" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$CS_ROOT" && xargs -0 cp --parents -t "$WORK/src" 2>/dev/null || true)
# (-Werror: warnings are errors in the project's own builds, as in scripts/lib.sh)
make -C "$WORK/src" -s PG_CONFIG="$PG_CONFIG" CC="$CC_SAN" COPT="$SAN_FLAGS -Werror" clean >/dev/null
make -C "$WORK/src" -s PG_CONFIG="$PG_CONFIG" CC="$CC_SAN" COPT="$SAN_FLAGS -Werror"
make -C "$WORK/src" -s PG_CONFIG="$PG_CONFIG" CC="$CC_SAN" COPT="$SAN_FLAGS -Werror" DESTDIR="$WORK/root" install >/dev/null
so="$WORK/root$pkglibdir/chatstore.so"
# (no `| grep -q` under pipefail: grep's early exit can kill the writer with
# SIGPIPE, and the pipeline then fails although the text matched)
if ! grep -Eq 'NEEDED.*(libasan|libubsan)' <<<"$(readelf -d "$so" 2>/dev/null)"; then
    echo "chatstore.so is not instrumented: $so" >&2
    ls -l "$WORK/src"/*.so "$WORK/src"/src/*.o "$so" >&2 2>&1 || true
    readelf -d "$so" 2>&1 | grep NEEDED >&2 || true
    exit 1
fi
chown -R postgres:postgres "$WORK" 2>/dev/null || true

log "a throwaway cluster${preload:+ that preloads the ASan runtime}"
as_pg "$WORK/root$bindir/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
max_connections = 40
fsync = off
max_stack_depth = 6MB
CONF
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0:log_path=$WORK/san/asan:print_summary=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$WORK/san/ubsan"
as_pg env ${preload:+LD_PRELOAD="$preload"} ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
    "$WORK/root$bindir/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
trap stop_cluster EXIT
export PGHOST="$WORK" PGPORT="$PORT" PGUSER=postgres

status=0
cd "$CS_ROOT"
# the instrumentation is really in the backends that run the tests
maps=$(psql -X -At -d postgres -c "LOAD 'chatstore'; SELECT pg_read_file('/proc/self/maps')")
if [ -n "$preload" ]; then
    grep -q libasan <<<"$maps" || { echo "FAIL: the backend has no ASan runtime"; status=1; }
fi
grep -q libubsan <<<"$maps" || { echo "FAIL: the backend has no UBSan runtime"; status=1; }
grep -q "$WORK/root.*chatstore.so" <<<"$maps" || { echo "FAIL: the backend did not load the instrumented chatstore.so"; status=1; }
regress=$(ls sql/*.sql 2>/dev/null | xargs -n1 basename | sed 's/\.sql$//' | sort)
isolation=$(ls test/isolation/specs/*.spec 2>/dev/null | xargs -n1 basename | sed 's/\.spec$//' | sort)
log "pg_regress ($(echo $regress | wc -w) files)"
"$pgxs_dir/src/test/regress/pg_regress" --inputdir="$CS_ROOT" --outputdir="$WORK/out/regress" \
    --bindir="$bindir" --load-extension=chatstore --dbname=contrib_regression \
    --host="$PGHOST" --port="$PGPORT" --user=postgres $regress || status=1
log "pg_isolation_regress ($(echo $isolation | wc -w) specs)"
"$pgxs_dir/src/test/isolation/pg_isolation_regress" --inputdir="$CS_ROOT/test/isolation" \
    --outputdir="$WORK/out/isolation" --bindir="$bindir" --load-extension=chatstore \
    --dbname=isolation_regression --host="$PGHOST" --port="$PGPORT" --user=postgres $isolation || status=1
for f in "$WORK/out/regress/regression.diffs" "$WORK/out/isolation/regression.diffs"; do
    [ -s "$f" ] && head -c 20000 "$f"
done

log "sanitizer reports"
stop_cluster
trap - EXIT
reports=$(ls "$WORK"/san/ 2>/dev/null | wc -l)
if [ "$reports" != 0 ]; then
    echo "sanitizer reports in $WORK/san:"
    head -n 60 "$WORK"/san/*
    status=1
fi
if grep -E "runtime error:|AddressSanitizer|terminated by signal|exited with exit code [1-9]|PANIC|TRAP:" "$WORK/server.log"; then
    echo "the server log shows a sanitizer report or a crash ($WORK/server.log)"
    status=1
fi
if [ "$status" = 0 ]; then
    echo "sanitize: pg_regress and isolation suites passed with $SAN_FLAGS, no report"
else
    echo "sanitize: FAILED"
fi
exit $status
