#!/usr/bin/env bash
# Live notifications seen by a real client: a second connection LISTENs on
# chatstore_messages (Python, psycopg 3) while the first one saves.
# Needs PGHOST/PGPORT/PGUSER; creates and drops its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=cs_client_notify_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
PGDATABASE=$db /usr/bin/python3 "$here/notify_test.py"
