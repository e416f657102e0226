#!/usr/bin/env bash
# clients/go (the Go package on pgx): go vet, gofmt and `go test ./...`
# against a database of its own.  Builds offline against Debian's
# golang-github-jackc-pgx-v4-dev, in GOPATH mode like test/client/forge (no
# module download): the package is copied to $GOPATH/src/<its module path>.
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
work=$(mktemp -d)
db=cs_client_go_$$
trap 'cd /; rm -rf "$work"; dropdb --if-exists "$db"' EXIT

module=$(sed -n 's/^module[[:space:]]*//p' "$root/clients/go/go.mod")
mkdir -p "$work/src/$module"
cp "$root/clients/go/"*.go "$root/clients/go/go.mod" "$work/src/$module/"

export GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOFLAGS= GOPROXY=off \
    GOCACHE="${GOCACHE:-/tmp/chatstore-gocache}"
cd "$work/src/$module"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
    echo "go_client: not gofmt-formatted: $unformatted" >&2
    exit 1
fi
go vet ./...

createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
status=0
PGDATABASE=$db go test -count=1 -v ./... >"$work/out" 2>&1 || status=$?
grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go:' "$work/out" || true
passed=$(grep -c '^--- PASS' "$work/out" || true)
failed=$(grep -c '^--- FAIL' "$work/out" || true)
[ "$status" = 0 ] || [ "$failed" != 0 ] || { cat "$work/out"; failed=1; }
echo "go_client: $passed passed, $failed failed"
exit "$status"
