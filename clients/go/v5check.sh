#!/usr/bin/env bash
# Checks that this package ports to pgx v5 as README.md#pgx-v5 says: a copy
# of clients/go with only the rewrites listed there (import lines, go.mod,
# and in db_test.go pgxpool.ConnectConfig -> pgxpool.NewWithConfig) is
# built, vetted and tested against pgx v5, offline, as a Go module.
#
#   clients/go/v5check.sh [PGX_V5_SRC [PUDDLE_V2_SRC]]
#
# PGX_V5_SRC, PUDDLE_V2_SRC (arguments or environment): source trees of
# github.com/jackc/pgx/v5 and github.com/jackc/puddle/v2 (say, `git archive`
# of a tag; their go.mod files must be there). pgx v5's other dependencies
# come from Debian's packages under GOCODE_SRC (default
# /usr/share/gocode/src): golang-github-jackc-pgpassfile-dev,
# golang-github-jackc-pgservicefile-dev, golang-golang-x-crypto-dev,
# golang-golang-x-text-dev, golang-golang-x-sync-dev. No module proxy is
# used (GOPROXY=off): modules that the module graph names but whose packages
# the build does not import are replaced by empty stubs (a go.mod only), so
# a stub never stands in for code (a package in one would fail the build).
#
# The tests need a database server with the extension installed, from
# libpq's environment (PGHOST, PGPORT, PGUSER), like
# test/client/go_client/run.sh: a database of its own is made and dropped.
#
# Without the pgx v5 source (a fresh machine: nothing fetches it) it prints
# "skipped: pgx v5 source not present ..." and exits 0; pgx without puddle
# is an error. Go 1.19 (Debian 12) builds pgx up to v5.5.5: v5.6.0 needs Go
# 1.20 (errors.Join), v5.7.0 Go 1.21.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pgx=${1:-${PGX_V5_SRC:-}}
puddle=${2:-${PUDDLE_V2_SRC:-}}
gocode=${GOCODE_SRC:-/usr/share/gocode/src}

if [ -z "$pgx" ] || [ ! -f "$pgx/go.mod" ]; then
    echo "skipped: pgx v5 source not present (PGX_V5_SRC=${pgx:-unset}; give it and PUDDLE_V2_SRC, source trees of github.com/jackc/pgx/v5 and github.com/jackc/puddle/v2)"
    exit 0
fi
if [ -z "$puddle" ] || [ ! -f "$puddle/go.mod" ]; then
    echo "v5check: pgx v5 needs github.com/jackc/puddle/v2: PUDDLE_V2_SRC=${puddle:-unset} is no source tree" >&2
    exit 1
fi
pgx=$(cd "$pgx" && pwd)
puddle=$(cd "$puddle" && pwd)
modline() { sed -n 's/^module[[:space:]]*//p' "$1/go.mod"; }
[ "$(modline "$pgx")" = github.com/jackc/pgx/v5 ] \
    || { echo "v5check: $pgx is not github.com/jackc/pgx/v5" >&2; exit 1; }
[ "$(modline "$puddle")" = github.com/jackc/puddle/v2 ] \
    || { echo "v5check: $puddle is not github.com/jackc/puddle/v2" >&2; exit 1; }
# the release, from the top of pgx's CHANGELOG.md ("# 5.5.5 (March 9, 2024)")
version=$(sed -n '1,20s/^# \(5\.[0-9]*\.[0-9]*\).*/\1/p' "$pgx/CHANGELOG.md" 2>/dev/null | head -n 1)
puddle_version=$(sed -n '1,20s/^# \(2\.[0-9]*\.[0-9]*\).*/\1/p' "$puddle/CHANGELOG.md" 2>/dev/null | head -n 1)
echo "v5check: pgx ${version:-(version unknown)} from $pgx, puddle ${puddle_version:-(version unknown)} from $puddle, $(go version)"

# Modules whose packages pgx v5 imports: pgx and puddle as given, the rest
# from Debian.
declare -A real=(
    [github.com/jackc/pgx/v5]=$pgx
    [github.com/jackc/puddle/v2]=$puddle
    [github.com/jackc/pgpassfile]=$gocode/github.com/jackc/pgpassfile
    [github.com/jackc/pgservicefile]=$gocode/github.com/jackc/pgservicefile
    [golang.org/x/crypto]=$gocode/golang.org/x/crypto
    [golang.org/x/text]=$gocode/golang.org/x/text
    [golang.org/x/sync]=$gocode/golang.org/x/sync
)
for m in "${!real[@]}"; do
    [ -f "${real[$m]}/go.mod" ] || {
        echo "v5check: no $m in ${real[$m]} (install its Debian golang-*-dev package)" >&2
        exit 1
    }
done

bindir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
export PATH="$bindir:$PATH"
work=$(mktemp -d)
db=cs_client_go_v5_$$
trap 'cd /; rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

# The copy, with README.md#pgx-v5's rewrites and nothing else.
mod=$work/mod
mkdir -p "$mod" "$work/stubs"
cp "$here"/*.go "$mod/"
sed -i -e 's#^\(\s*\)"github.com/jackc/pgconn"$#\1"github.com/jackc/pgx/v5/pgconn"#' \
    -e 's#^\(\s*\)"github.com/jackc/pgx/v4\(/pgxpool\)\{0,1\}"$#\1"github.com/jackc/pgx/v5\2"#' \
    "$mod"/*.go
sed -i 's#pgxpool\.ConnectConfig(#pgxpool.NewWithConfig(#' "$mod/db_test.go"
# Show the rewrites, and refuse any other difference: a non-test file may
# differ in import lines only, db_test.go in the pool constructor besides.
changed=$(for f in "$mod"/*.go; do
    name=$(basename "$f")
    { diff -U0 "$here/$name" "$f" || true; } | sed -n "s#^\([-+]\)\([^-+].*\)#$name: \1\2#p"
done)
echo "$changed"
unexpected=$(printf '%s\n' "$changed" | grep -v -E \
    -e '^[a-z_]+\.go: [-+]	"github.com/jackc/(pgconn|pgx/v[45](/pgconn|/pgxpool)?)"$' \
    -e '^db_test\.go: [-+]	pool, err = pgxpool\.(ConnectConfig|NewWithConfig)\(ctx, cfg\)$' || true)
if [ -n "$unexpected" ]; then
    echo "v5check: rewrites beyond README.md#pgx-v5:" >&2
    echo "$unexpected" >&2
    exit 1
fi
if grep -n 'jackc/pgx/v4\|"github.com/jackc/pgconn"' "$mod"/*.go; then
    echo "v5check: v4 imports left after the rewrite" >&2
    exit 1
fi

# go.mod: pgx v5 instead of pgx v4 and pgconn.
{
    echo 'module chatstore/clients/go'
    echo
    echo 'go 1.19'
    echo
    echo "require github.com/jackc/pgx/v5 v${version:-5.0.0}"
    echo
    for m in "${!real[@]}"; do echo "replace $m => ${real[$m]}"; done
} >"$mod/go.mod"

export GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GONOSUMDB='*' \
    GOWORK=off GOPATH="$work/gopath" GOCACHE="${GOCACHE:-/tmp/chatstore-gocache}"
cd "$mod"
# Stub each module the graph names but cannot be looked up offline (test
# dependencies of pgx and its dependencies: testify, yaml, ...).
for _ in $(seq 1 60); do
    if out=$(go list -deps -test ./... 2>&1 >/dev/null); then break; fi
    m=$(printf '%s\n' "$out" | sed -n 's#.*[[:space:]]\([^[:space:]@]*\)@[^[:space:]]*: module lookup disabled by GOPROXY=off.*#\1#p' | head -n 1)
    if [ -z "$m" ] || grep -q "^replace $m =>" go.mod; then
        printf '%s\n' "$out" >&2
        echo "v5check: the module graph does not resolve offline" >&2
        exit 1
    fi
    d="$work/stubs/$(printf '%s' "$m" | tr '/' '_')"
    mkdir -p "$d"
    printf 'module %s\n' "$m" >"$d/go.mod"
    echo "replace $m => $d" >>go.mod
done
echo "v5check: modules stubbed (named by the graph, no package imported):" \
    "$(sed -n "s#^replace \([^ ]*\) => $work/stubs/.*#\1#p" go.mod | sort | tr '\n' ' ')"
echo "v5check: the build uses:"
go list -deps -test -f '{{with .Module}}{{.Path}} => {{.Dir}}{{end}}' ./... | sort -u | grep -v '^chatstore/' | sed 's/^/  /'

go vet ./...
go build ./...

createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
status=0
PGDATABASE=$db go test -count=1 -v ./... >"$work/out" 2>&1 || status=$?
grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go:' "$work/out" || true
passed=$(grep -c '^--- PASS' "$work/out" || true)
failed=$(grep -c '^--- FAIL' "$work/out" || true)
[ "$status" = 0 ] || [ "$failed" != 0 ] || { cat "$work/out"; failed=1; }
echo "go_client pgx v${version:-5}: $passed passed, $failed failed"
exit "$status"
