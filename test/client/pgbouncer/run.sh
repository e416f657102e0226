#!/usr/bin/env bash
# chatstore behind a real PgBouncer (Debian's package) in transaction pool mode:
# 50 concurrent clients of 5 tenants through it, each setting its tenant per
# transaction (SET LOCAL / set_config(..., true)), some forgetting it, some
# using a session SET (the mistake, measured in a pool of its own); then the
# owner checks owners, aggregates and seqs, and the server log (driver.py).
# What the application must do under a pooler: doc/tenants-and-security.md.
#
# Needs PGHOST/PGPORT/PGUSER (scripts/test.sh sets them; the cluster listens on
# a unix socket in $PGHOST) and /usr/sbin/pgbouncer (scripts/lib.sh's
# cs_setup_packages installs it).  Creates and drops its own two databases and
# application role.  PGBOUNCER_PORT picks the port (default: a free one),
# PGBOUNCER_SECONDS the length of the run (default 25).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"

pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
if [ ! -x "$pgbouncer" ]; then
    echo "FAIL: pgbouncer not found (Debian package pgbouncer; scripts/lib.sh's cs_setup_packages installs it)" >&2
    exit 1
fi
: "${PGHOST:?PGHOST: the socket directory of the cluster}" "${PGPORT:?}" "${PGUSER:?}"

main_db=cs_client_pgbouncer_$$
leak_db=cs_client_pgbouncer_leak_$$
app_role=cs_pgbouncer_app_$$
port=${PGBOUNCER_PORT:-$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
dir=$(mktemp -d /tmp/cs-pgbouncer.XXXXXX)
log="$PGHOST/server.log" offset=0 status=0

# pgbouncer refuses to run as root: as the postgres OS user then, in files it owns
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"

cleanup() {
    if [ -f "$dir/pgbouncer.pid" ]; then
        local pid; pid=$(cat "$dir/pgbouncer.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    dropdb --if-exists --force "$main_db" >/dev/null 2>&1 || true
    dropdb --if-exists --force "$leak_db" >/dev/null 2>&1 || true
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $app_role" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

# two databases, each with chatstore, tenant isolation on, and the application
# role granted as the documentation says (a non-owner LOGIN role)
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $app_role LOGIN"
for db in "$main_db" "$leak_db"; do
    createdb "$db"
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE EXTENSION chatstore;
SELECT * FROM chat_enable_tenant_isolation();
SELECT * FROM chat_grant_app_role('$app_role');
SQL
done

# main_db: the pool the suite asserts on (SET LOCAL clients and forgetful ones);
# leak_db: a pool of its own for the session-SET clients, whose leak is measured
cat > "$dir/pgbouncer.ini" <<INI
[databases]
$main_db = host=$PGHOST port=$PGPORT dbname=$main_db pool_size=5
$leak_db = host=$PGHOST port=$PGPORT dbname=$leak_db pool_size=2

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = $PGUSER
pool_mode = transaction
default_pool_size = 5
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
printf '"%s" ""\n"%s" ""\n' "$app_role" "$PGUSER" > "$dir/userlist.txt"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"/*

echo "$("$pgbouncer" --version | head -1), transaction pool mode on 127.0.0.1:$port"
as_pg "$pgbouncer" -d "$dir/pgbouncer.ini"
up=no
for _ in $(seq 50); do
    psql -X -q -At -h 127.0.0.1 -p "$port" -U "$app_role" -d "$main_db" -c 'SELECT 1' >/dev/null 2>&1 && { up=yes; break; }
    sleep 0.1
done
if [ $up = no ]; then
    echo "FAIL: pgbouncer does not answer on 127.0.0.1:$port" >&2
    tail -20 "$dir/pgbouncer.log" >&2 || true
    exit 1
fi

[ -f "$log" ] && offset=$(stat -c %s "$log")
start=$(date +%s)
PGBOUNCER_PORT=$port CS_MAIN_DB=$main_db CS_LEAK_DB=$leak_db CS_APP_ROLE=$app_role \
    /usr/bin/python3 "$here/driver.py" || status=1
echo "elapsed: $(( $(date +%s) - start )) s"

echo "pgbouncer pools (SHOW POOLS; sv_* are the server connections):"
psql -X -h 127.0.0.1 -p "$port" -U "$PGUSER" -d pgbouncer -c 'SHOW POOLS' 2>&1 \
    | grep -E "database|cs_client" || true
if grep -E "FATAL|ERROR|WARNING" "$dir/pgbouncer.log" | head -5 | grep .; then
    echo "FAIL: pgbouncer logged the errors above"
    status=1
fi

if [ -f "$log" ]; then
    if tail -c +"$((offset + 1))" "$log" | grep -E "terminated by signal|was terminated|PANIC|TRAP:|server process .* exited with exit code [^0]|all server processes terminated"; then
        echo "FAIL: the server log reports a crash during the run"
        status=1
    else
        echo "server log: no crash during the run"
    fi
    # the only errors the run may cause are the documented 42501 ones
    other=$(tail -c +"$((offset + 1))" "$log" | grep 'ERROR:' | grep -v -E 'is not accessible|chatstore.tenant is not set|violates row-level security policy|permission denied' || true)
    if [ -n "$other" ]; then
        echo "FAIL: the server log has errors other than 42501:"; echo "$other" | head -10
        status=1
    else
        echo "server log: $(tail -c +"$((offset + 1))" "$log" | grep -c 'ERROR:' || true) errors, all of them 42501 ones"
    fi
else
    echo "server log not found at $log; relying on the backend-alive check"
fi
psql -X -q -At -d "$main_db" -c 'SELECT 1' >/dev/null || { echo "FAIL: the server does not answer"; status=1; }
exit $status
