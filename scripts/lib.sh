# Shared helpers for scripts/demo.sh, scripts/test.sh and test/bench/run.sh.
# Source it; it does nothing by itself.
#
# Environment it honours:
#   PG_CONFIG        pg_config of the target server (default: PostgreSQL 15's)
#   CHATSTORE_TMP    where the throwaway cluster lives (default /tmp/chatstore-cluster)
#   CHATSTORE_PORT   its port (default 54329); it listens on a unix socket only

set -euo pipefail

CS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BIN=$("$PG_CONFIG" --bindir)
export PATH="$PG_BIN:$PATH"
CHATSTORE_TMP=${CHATSTORE_TMP:-/tmp/chatstore-cluster}
CHATSTORE_PORT=${CHATSTORE_PORT:-54329}

log() { printf '\n== %s\n' "$*"; }

# Run a command as the postgres OS user (initdb/pg_ctl refuse root).
as_pg() {
    # from /: the caller's directory may be one postgres cannot enter
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Install the Debian packages the build and the tests need (idempotent).
cs_setup_packages() {
    # (debhelper, postgresql-server-dev-all, dpkg-dev: the Debian
    # package that test/client/package builds)
    local pkgs="postgresql-server-dev-15 libipc-run-perl python3-psycopg
        postgresql-15-cron sqlite3 golang-go golang-github-jackc-pgx-v4-dev golang-golang-x-sync-dev
        debhelper postgresql-server-dev-all dpkg-dev pgbouncer"
    local missing=""
    # Node.js may come from another packager that bundles npm: only ask
    # Debian for it when the commands are missing
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "missing packages:$missing (run as root to install them)" >&2
            return 1
        fi
        log "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}

# Build (warnings are errors: the project's own builds pass COPT=-Werror, the
# Makefile itself only turns on -Wall -Wextra) and install the extension.
cs_build_install() {
    log "building and installing chatstore"
    # one build at a time in a tree (scripts/dev-install.sh takes the same lock)
    flock /tmp/chatstore-build.lock sh -c '
        make -C "$1" -s PG_CONFIG="$2" clean >/dev/null &&
        make -C "$1" -s PG_CONFIG="$2" COPT=-Werror &&
        make -C "$1" -s PG_CONFIG="$2" COPT=-Werror install >/dev/null' sh "$CS_ROOT" "$PG_CONFIG"
}

# Start a throwaway cluster (unix socket only) and export PGHOST/PGPORT/PGUSER.
cs_cluster_start() {
    cs_cluster_stop
    log "starting a throwaway cluster in $CHATSTORE_TMP"
    rm -rf "$CHATSTORE_TMP"
    mkdir -p "$CHATSTORE_TMP"
    chown postgres:postgres "$CHATSTORE_TMP" 2>/dev/null || true
    as_pg initdb -D "$CHATSTORE_TMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$CHATSTORE_TMP/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$CHATSTORE_TMP'
port = $CHATSTORE_PORT
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
max_connections = 60
shared_buffers = 256MB
fsync = off
synchronous_commit = off
log_min_messages = warning
CONF
    as_pg pg_ctl -D "$CHATSTORE_TMP/data" -l "$CHATSTORE_TMP/server.log" -w start >/dev/null
    export PGHOST="$CHATSTORE_TMP" PGPORT="$CHATSTORE_PORT" PGUSER=postgres PGDATABASE=postgres
}

cs_cluster_stop() {
    if [ -f "$CHATSTORE_TMP/data/postmaster.pid" ]; then
        as_pg pg_ctl -D "$CHATSTORE_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}
