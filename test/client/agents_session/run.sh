#!/usr/bin/env bash
# An @openai/agents Session on chatstore (Node.js, node-postgres): the Session
# contract and agent runs driven by a fake deterministic model (no network, no
# API key). Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
# npm packages: the exact versions of package-lock.json, installed into
# node_modules/ here (git-ignored), again only when the lock file changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
cd "$here"
if ! cmp -s package-lock.json node_modules/.chatstore-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.chatstore-lock
fi
db=cs_client_agents_session_$$
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
PGDATABASE=$db OPENAI_AGENTS_DISABLE_TRACING=1 \
    node --test --test-timeout=120000 "$here/session_test.mjs"
