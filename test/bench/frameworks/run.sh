#!/usr/bin/env bash
# F1-F3 (test/bench/frameworks/bench.mjs): LangGraph.js checkpointers, the Vercel chatbot's and
# langchain-postgres's storage patterns against chatstore.  Installs this package's pinned
# dependencies (npm ci from package-lock.json into node_modules, git-ignored; again only when the
# lock changes), builds clients/js when its dist/ is missing or older than its sources (npm ci +
# tsc there, like test/client/js_client/run.sh), copies clients/js/dist/src into
# node_modules/.chatstore-client (so that its imports resolve to this package's pg and
# @langchain/* copies), then runs bench.mjs with the arguments given:
#   test/bench/frameworks/run.sh --db DB --scale smoke|default [--raw FILE] [--summary FILE]
# Connection from PG*; DB must exist (the per-store databases are created from it and dropped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
js=$(cd "$here/../../../clients/js" && pwd)
cd "$here"
if ! cmp -s package-lock.json node_modules/.chatstore-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
    cp package-lock.json node_modules/.chatstore-lock
fi
if [ ! -f "$js/dist/src/langgraph.js" ] || [ -n "$(find "$js/src" -name '*.ts' -newer "$js/dist/src/langgraph.js" 2>/dev/null)" ]; then
    echo "building clients/js (npm ci, tsc)"
    (cd "$js"
     if ! cmp -s package-lock.json node_modules/.chatstore-lock 2>/dev/null; then
         npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
         cp package-lock.json node_modules/.chatstore-lock
     fi
     npx tsc -p tsconfig.json)
fi
rm -rf node_modules/.chatstore-client
mkdir -p node_modules/.chatstore-client
cp "$js"/dist/src/*.js node_modules/.chatstore-client/
exec node "$here/bench.mjs" "$@"
