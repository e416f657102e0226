#!/usr/bin/env bash
# Inference Gateway UI, the way its TypeScript session storage talks to chatstore (Node.js, pg).
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
db=cs_client_inference_gateway_$$
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
PGDATABASE=$db node "$here/test.js"
