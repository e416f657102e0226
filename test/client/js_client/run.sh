#!/usr/bin/env bash
# The JavaScript/TypeScript client (clients/js): npm ci (the exact versions of its
# package-lock.json, into clients/js/node_modules, git-ignored; again only when the lock
# file changes), tsc, then its node --test suites (ChatStore, LangChain.js history,
# Vercel AI SDK UIMessages, OpenAI Agents Session, LangGraph checkpointer) and LangGraph's
# checkpointer conformance suite (@langchain/langgraph-checkpoint-validation, under vitest).
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkg=$(cd "$here/../../../clients/js" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
cd "$pkg"
if ! cmp -s package-lock.json node_modules/.chatstore-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
    cp package-lock.json node_modules/.chatstore-lock
fi
rm -rf dist
npx tsc -p tsconfig.json
db=cs_client_js_$$
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
export PGDATABASE=$db OPENAI_AGENTS_DISABLE_TRACING=1
node --test --test-timeout=120000 dist/test/*.test.js
npx vitest run --config vitest.config.mjs
