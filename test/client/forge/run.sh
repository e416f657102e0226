#!/usr/bin/env bash
# Forge AI SDK, the way its Go state store talks to chatstore (pgx v4).
# Builds offline against Debian's golang-github-jackc-pgx-v4-dev (GOPATH
# mode, no module download).  Gets PGHOST/PGPORT/PGUSER from scripts/test.sh;
# uses its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
work=$(mktemp -d)
db=cs_client_forge_$$
trap 'rm -rf "$work"; dropdb --if-exists "$db"' EXIT
mkdir -p "$work/src/forgetest"
cp "$here/main.go" "$work/src/forgetest/"
( cd "$work/src/forgetest" &&
  GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOFLAGS= GOPROXY=off \
  GOCACHE="${GOCACHE:-/tmp/chatstore-gocache}" go build -o "$work/forgetest" . )
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
PGDATABASE=$db "$work/forgetest"
