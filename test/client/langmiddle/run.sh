#!/usr/bin/env bash
# langmiddle, the way its storage backend talks to chatstore (Python, psycopg 3).
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
db=cs_client_langmiddle_$$
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
PGDATABASE=$db /usr/bin/python3 "$here/test_langmiddle.py"
