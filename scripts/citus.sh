#!/usr/bin/env bash
# chatstore on Citus: a coordinator and two workers on this machine.
#
#   scripts/citus.sh [run]   start the cluster, run the pg_regress and
#                            isolation suites against the coordinator, stop it
#   scripts/citus.sh start   start the cluster and leave it running (prints
#                            the PGHOST/PGPORT to reach the coordinator)
#   scripts/citus.sh stop    stop it
#
# Needs a Citus build installed into the target PostgreSQL ($PG_CONFIG
# --pkglibdir/citus.so) and chatstore installed there (the script installs
# nothing); without Citus it prints one "skipped: Citus not installed" line
# and exits 0.
#
# Each node is its own initdb'd cluster under $CITUS_TMP, reachable on its
# unix socket there and on 127.0.0.1 (the nodes connect to each other over
# TCP, trust authentication), ports $CITUS_PORT, +1, +2.  In the database
# $CITUS_DB of every node: CREATE EXTENSION citus; the coordinator registers
# itself and the workers, then CREATE EXTENSION chatstore (Citus propagates
# it to the workers), and chat_distribute($CITUS_SHARDS) distributes the chat
# tables (CITUS_DISTRIBUTE=0 leaves them local).
#
# Environment: PG_CONFIG, CITUS_TMP (default /tmp/citus-cluster), CITUS_PORT
# (default 55501), CITUS_DB (default contrib_regression, the database
# `make installcheck` uses), CITUS_SHARDS (default 8: the reviewed variants
# of test/citus/expected count scans per shard), CHATSTORE_SKIP="isolation"
# skips that suite.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

CITUS_TMP=${CITUS_TMP:-/tmp/citus-cluster}
CITUS_PORT=${CITUS_PORT:-55501}
CITUS_DB=${CITUS_DB:-contrib_regression}
CITUS_SHARDS=${CITUS_SHARDS:-8}
NODES="coord worker1 worker2"
PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/..

node_port() {   # node name -> port
    case $1 in
        coord) echo "$CITUS_PORT" ;;
        worker1) echo $((CITUS_PORT + 1)) ;;
        worker2) echo $((CITUS_PORT + 2)) ;;
    esac
}

# psql on a node: node_psql NODE DB psql-args...
node_psql() {
    local node=$1 db=$2; shift 2
    psql -X -q -v ON_ERROR_STOP=1 -h "$CITUS_TMP" -p "$(node_port "$node")" -U postgres -d "$db" "$@"
}

citus_stop() {
    local n
    for n in $NODES; do
        if [ -f "$CITUS_TMP/$n/postmaster.pid" ]; then
            as_pg pg_ctl -D "$CITUS_TMP/$n" -m fast -w stop >/dev/null 2>&1 || true
        fi
    done
}

citus_start() {
    citus_stop
    log "starting a Citus cluster in $CITUS_TMP (coordinator :$CITUS_PORT, workers :$((CITUS_PORT + 1)) :$((CITUS_PORT + 2)))"
    rm -rf "$CITUS_TMP"
    mkdir -p "$CITUS_TMP"
    chown postgres:postgres "$CITUS_TMP" 2>/dev/null || true
    local n
    for n in $NODES; do
        as_pg initdb -D "$CITUS_TMP/$n" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
        # max_prepared_transactions: Citus commits multi-node writes with 2PC;
        # statistics collection would call home (and needs the network)
        cat >> "$CITUS_TMP/$n/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CITUS_TMP'
port = $(node_port "$n")
shared_preload_libraries = 'citus'
citus.enable_statistics_collection = off
max_connections = 100
max_prepared_transactions = 100
shared_buffers = 128MB
fsync = off
synchronous_commit = off
log_min_messages = warning
CONF
        as_pg pg_ctl -D "$CITUS_TMP/$n" -l "$CITUS_TMP/$n.log" -w start >/dev/null
    done
    for n in $NODES; do
        # the database pg_regress would create (it does not with
        # --use-existing), with the settings it gives it
        node_psql "$n" postgres -c "CREATE DATABASE \"$CITUS_DB\" TEMPLATE template0"
        node_psql "$n" postgres <<SQL
ALTER DATABASE "$CITUS_DB" SET lc_messages TO 'C';
ALTER DATABASE "$CITUS_DB" SET lc_monetary TO 'C';
ALTER DATABASE "$CITUS_DB" SET lc_numeric TO 'C';
ALTER DATABASE "$CITUS_DB" SET lc_time TO 'C';
ALTER DATABASE "$CITUS_DB" SET bytea_output TO 'hex';
ALTER DATABASE "$CITUS_DB" SET timezone_abbreviations TO 'Default';
-- pg_regress gives its sessions PGTZ and PGDATESTYLE; Citus does not pass
-- those settings on to its connections to the workers, where a value
-- pushed down is formatted: the same on every node
ALTER DATABASE "$CITUS_DB" SET timezone TO 'PST8PDT';
ALTER DATABASE "$CITUS_DB" SET datestyle TO 'Postgres, MDY';
-- Citus's switch "to be used before vanilla tests": no WARNING for each
-- object it creates only locally (every CREATE FUNCTION pg_temp.f in the
-- tests, a temp view)
ALTER DATABASE "$CITUS_DB" SET citus.enable_unsupported_feature_messages TO off;
-- no connection to a worker outlives its transaction: the worker backend
-- then ends and reports its statistics, which regress.scans (sql/00_setup)
-- sums over the shards
ALTER DATABASE "$CITUS_DB" SET citus.max_cached_conns_per_worker TO 0;
SQL
        node_psql "$n" "$CITUS_DB" -c "CREATE EXTENSION citus"
    done
    node_psql coord "$CITUS_DB" >/dev/null <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $CITUS_PORT);
SELECT citus_add_node('127.0.0.1', $((CITUS_PORT + 1)));
SELECT citus_add_node('127.0.0.1', $((CITUS_PORT + 2)));
CREATE EXTENSION chatstore;
SQL
    if [ "${CITUS_DISTRIBUTE:-1}" = 1 ]; then
        # with data already there (it is moved into the shards), and tenant
        # isolation on: its policies then read the tenant on the node that
        # holds the rows (the regression tests start with it off)
        node_psql coord "$CITUS_DB" >/dev/null <<'SQL'
SELECT chat_save_messages('citus-before', '[{"role": "user", "content": "saved before chat_distribute"}]', 'u');
SELECT chat_enable_tenant_isolation();
SQL
        node_psql coord "$CITUS_DB" -c "SELECT table_name, distribution_column, colocated_with, shards, action FROM chat_distribute($CITUS_SHARDS)"
        local pol
        pol=$(node_psql coord "$CITUS_DB" -Atc "SELECT count(*) FILTER (WHERE pg_get_expr(polqual, polrelid) NOT LIKE '%_chat_policy_tenant()%')
                                                 FROM pg_policy WHERE polname = 'chatstore_tenant_isolation'")
        [ "$pol" = 0 ] || { echo "chat_distribute left $pol tenant policies reading the coordinator's setting" >&2; return 1; }
        echo "chat_distribute with tenant isolation on: its policies read the tenant on the node holding the rows"
        node_psql coord "$CITUS_DB" -c "SELECT chat_disable_tenant_isolation()" >/dev/null
        # the row saved before is in its shard, and the thread is gone again
        # (the regression tests start from empty tables)
        [ "$(node_psql coord "$CITUS_DB" -Atc "SELECT content FROM chat_history('citus-before')")" = "saved before chat_distribute" ] ||
            { echo "the message saved before chat_distribute is lost" >&2; return 1; }
        # and the coordinator's own copy of the moved rows is gone
        local left
        left=$(node_psql coord "$CITUS_DB" -Atc "SELECT sum(pg_relation_size(p.logicalrelid)) FROM pg_dist_partition AS p")
        [ "$left" = 0 ] || { echo "chat_distribute left $left bytes of local rows on the coordinator" >&2; return 1; }
        echo "the message saved before chat_distribute is in its shard; the coordinator keeps no copy"
        node_psql coord "$CITUS_DB" -c "SELECT chat_delete_thread('citus-before'); SELECT chat_retention_purge_tombstones(interval '0')" >/dev/null
    fi
    log "Citus $(node_psql coord "$CITUS_DB" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), chatstore $(node_psql coord "$CITUS_DB" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'chatstore'"); active workers:"
    node_psql coord "$CITUS_DB" -c "SELECT * FROM citus_get_active_worker_nodes() ORDER BY 2"
    export PGHOST="$CITUS_TMP" PGPORT="$CITUS_PORT" PGUSER=postgres PGDATABASE="$CITUS_DB"
}

# `make installcheck`'s pg_regress and pg_isolation_regress invocations,
# against the coordinator's existing database; results go to $CITUS_TMP
citus_regress() {
    local rc=0 out="$CITUS_TMP/regress" iso_out="$CITUS_TMP/output_iso"
    local in="$CITUS_TMP/input" iso_in="$CITUS_TMP/input_iso" tests iso f
    # the one-node expected files, overlaid with the reviewed Citus variants
    # of test/citus/expected (test/citus/README.md says why each differs)
    rm -rf "$in" "$iso_in"
    mkdir -p "$in/expected" "$iso_in/expected"
    ln -s "$CS_ROOT/sql" "$in/sql"
    ln -s "$CS_ROOT/test/isolation/specs" "$iso_in/specs"
    cp "$CS_ROOT"/expected/*.out "$in/expected/"
    cp "$CS_ROOT"/test/isolation/expected/*.out "$iso_in/expected/"
    for f in "$CS_ROOT"/test/citus/expected/*.out; do
        [ -e "$f" ] || continue
        if [ -e "$CS_ROOT/expected/$(basename "$f")" ]; then cp "$f" "$in/expected/"
        else cp "$f" "$iso_in/expected/"; fi
    done
    # every sql/*.sql and test/isolation/specs/*.spec, in name order (the
    # Makefile's REGRESS and ISOLATION)
    tests=$(shopt -s nullglob; cd "$CS_ROOT/sql" && printf '%s\n' *.sql | sed 's/\.sql$//' | LC_ALL=C sort)
    iso=$(shopt -s nullglob; cd "$CS_ROOT/test/isolation/specs" 2>/dev/null &&
          printf '%s\n' *.spec | sed 's/\.spec$//' | LC_ALL=C sort)
    mkdir -p "$out" "$iso_out"
    log "pg_regress against the coordinator (database $CITUS_DB)"
    # shellcheck disable=SC2086
    if ! "$PGXS_DIR/test/regress/pg_regress" --inputdir="$in" --outputdir="$out" \
            --bindir="$PG_BIN" --use-existing --dbname="$CITUS_DB" \
            --host="$CITUS_TMP" --port="$CITUS_PORT" --user=postgres $tests; then
        rc=1
        [ -f "$out/regression.diffs" ] && echo "(diffs: $out/regression.diffs)"
    fi
    case " ${CHATSTORE_SKIP:-} " in *" isolation "*) echo "-- skipped isolation"; return $rc;; esac
    [ -n "$iso" ] || return $rc
    log "pg_isolation_regress against the coordinator (database $CITUS_DB)"
    # a session waiting for a lock on a worker is blocked in Citus's view,
    # not in the coordinator's pg_locks: as Citus's own isolation tests do,
    # the tester's pg_isolation_test_session_is_blocked becomes Citus's
    # (which asks PostgreSQL's first, then Citus's distributed wait graph);
    # the cluster is thrown away afterwards
    node_psql coord "$CITUS_DB" >/dev/null <<'SQL'
ALTER FUNCTION pg_catalog.pg_isolation_test_session_is_blocked(integer, integer[])
    RENAME TO old_pg_isolation_test_session_is_blocked;
ALTER FUNCTION pg_catalog.citus_isolation_test_session_is_blocked(integer, integer[])
    RENAME TO pg_isolation_test_session_is_blocked;
SQL
    # shellcheck disable=SC2086
    if ! timeout "${CITUS_ISOLATION_TIMEOUT:-900}" "$PGXS_DIR/test/isolation/pg_isolation_regress" --inputdir="$iso_in" \
            --outputdir="$iso_out" --bindir="$PG_BIN" --use-existing --dbname="$CITUS_DB" \
            --host="$CITUS_TMP" --port="$CITUS_PORT" --user=postgres $iso; then
        rc=1
        [ -f "$iso_out/regression.diffs" ] && echo "(diffs: $iso_out/regression.diffs)"
    fi
    return $rc
}

# a distributed database of the previous version, updated to this one: its
# rows kept with their thread's owner (thread_user_id), saves delegated to
# the workers right after the update, the writing functions the update adds
# delegation for working routed until chat_distribute runs again (the
# update's WARNING names them), then delegated, their NOTIFY sent by the
# coordinator to a listener there (1.8), and tenant isolation read with the
# tenant of a transaction
citus_update_check() {
    local db=cs_update n prev out
    prev=$(node_psql coord "$CITUS_DB" -Atc "SELECT max(version COLLATE \"C\") FROM pg_available_extension_versions
                                              WHERE name = 'chatstore' AND version COLLATE \"C\" < (SELECT default_version FROM pg_available_extensions WHERE name = 'chatstore')")
    [ -n "$prev" ] || { echo "-- no earlier version to update from"; return 0; }
    log "a distributed database of chatstore $prev, updated (database $db)"
    for n in $NODES; do
        node_psql "$n" postgres -c "CREATE DATABASE $db TEMPLATE template0" >/dev/null
        node_psql "$n" "$db" -c "CREATE EXTENSION citus" >/dev/null
    done
    node_psql coord "$db" >/dev/null <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $CITUS_PORT);
SELECT citus_add_node('127.0.0.1', $((CITUS_PORT + 1)));
SELECT citus_add_node('127.0.0.1', $((CITUS_PORT + 2)));
CREATE EXTENSION chatstore VERSION '$prev';
SELECT count(*) FROM chat_distribute(4);
SELECT chat_save_messages('up-1', '[{"id": "m1", "role": "user", "content": "before the update"}]', 'u');
SELECT chat_save_messages('up-2', '[{"role": "user", "content": "of v"}]', 'v');
CREATE ROLE cs_update_app LOGIN;
SELECT count(*) FROM chat_grant_app_role('cs_update_app');
SQL
    out=$(node_psql coord "$db" -c "ALTER EXTENSION chatstore UPDATE" 2>&1) || { echo "$out" >&2; return 1; }
    case $out in
        *"WARNING:"*"chat_edit_message"*"chat_stream_start"*"run SELECT chat_distribute() once more"*) echo "$out" ;;
        *) echo "the update did not say to run chat_distribute again for the new delegated functions: $out" >&2; return 1 ;;
    esac
    out=$(node_psql coord "$db" -At 2>&1 <<'SQL'
SELECT extversion FROM pg_extension WHERE extname = 'chatstore';
SELECT 'owners ' || string_agg(thread_id || '=' || coalesce(thread_user_id, '-'), ' ' ORDER BY thread_id) FROM chat_messages;
SET client_min_messages = debug1;
SELECT last_seq FROM chat_save_messages('up-1', '[{"role": "assistant", "content": "after the update"}]', 'u');
RESET client_min_messages;
SELECT 'edited ' || seq FROM chat_edit_message('up-1', 'm1', 'edited before chat_distribute', 'u');
SELECT count(*) FROM chat_distribute();
SET chatstore.notify = on;
LISTEN chatstore_stream;
SET client_min_messages = debug1;
SELECT 'streaming ' || seq FROM chat_stream_start('up-1', message_id => 's1', user_id => 'u');
RESET client_min_messages;
SELECT chat_stream_append('up-1', 's1', 'streamed', 'u');
SELECT 'finished ' || status FROM chat_stream_finish('up-1', 's1', user_id => 'u');
UNLISTEN *;
RESET chatstore.notify;
SET client_min_messages = debug1;
SELECT 'title ' || title FROM chat_update_thread('up-1', title => 'delegated writer');
RESET client_min_messages;
SELECT string_agg(seq || ' ' || content, ', ' ORDER BY seq) FROM chat_history('up-1');
SELECT count(*) > 0 FROM chat_enable_tenant_isolation();
SET ROLE cs_update_app;
BEGIN;
SET LOCAL citus.propagate_set_commands = local;
SET LOCAL chatstore.tenant = 'u';
SELECT 'u sees ' || string_agg(DISTINCT thread_id, ' ') || ' ' || count(*) FROM chat_messages;
COMMIT;
RESET ROLE;
SELECT count(*) > 0 FROM chat_disable_tenant_isolation();
SQL
)
    echo "$out"
    node_psql coord "$db" -qc "DROP OWNED BY cs_update_app" >/dev/null 2>&1
    case $out in
        *"owners up-1=u up-2=v"*"pushing down the function call"*"edited 3"*"pushing down the function call"*"streaming 4"*'Asynchronous notification "chatstore_stream" with payload "{"seq": 4, "delta": "streamed"'*'"event": "finish"'*"pushing down the function call"*"title delegated writer"*"3 edited before chat_distribute, 4 streamed"*"u sees up-1 4"*)
            echo "updated from $prev: rows kept with their owners, saves delegated, the new delegated writers routed until chat_distribute, then delegated with their NOTIFY sent by the coordinator, isolation keyed on the owners" ;;
        *) echo "the update of a distributed database from $prev did not end as expected" >&2; return 1 ;;
    esac
}

cmd=${1:-run}
case $cmd in
    stop) citus_stop; exit 0 ;;
    start|run) ;;
    *) echo "usage: $0 [run|start|stop]" >&2; exit 2 ;;
esac
if [ ! -e "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "skipped: Citus not installed"
    exit 0
fi
if [ "$cmd" = start ]; then
    citus_start
    echo "coordinator: PGHOST=$CITUS_TMP PGPORT=$CITUS_PORT PGUSER=postgres PGDATABASE=$CITUS_DB"
    echo "stop with: $0 stop"
    exit 0
fi
trap citus_stop EXIT
citus_start
rc=0
citus_regress || rc=1
citus_update_check || rc=1
log "8 clients saving at once, into one thread and into many (test/citus/save_clients.py)"
PGDATABASE=$CITUS_DB /usr/bin/python3 "$CS_ROOT/test/citus/save_clients.py" || rc=1
exit $rc
