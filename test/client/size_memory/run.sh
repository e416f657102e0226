#!/usr/bin/env bash
# Size and memory: a 100,000-message batch and a 10 MB message save; the
# backend's peak memory while saving the big batch is measured and must stay
# bounded; the limits chatstore.max_batch_messages and
# chatstore.max_message_bytes are enforced with clear errors.
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
db=cs_client_size_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
PGDATABASE=$db exec /usr/bin/python3 "$here/size_memory.py"
