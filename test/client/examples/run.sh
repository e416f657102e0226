#!/usr/bin/env bash
# Runs the client examples as tests: examples/python (psycopg 3, unittest)
# and examples/node (pg from npm, node --test).
# Needs PGHOST/PGPORT/PGUSER; creates and drops its own database.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
db=cs_client_examples_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
export PGDATABASE=$db
status=0

echo "# examples/python"
/usr/bin/python3 -m unittest -v "$root/examples/python/test_chat_memory.py" 2>&1 || status=1

echo "# examples/node"
cd "$root/examples/node"
if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund 2>&1 | grep -v 'Unknown user config' || true
fi
node --test 2>&1 || status=1
exit $status
