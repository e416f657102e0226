#!/usr/bin/env bash
# README stays true: every function the extension installs appears in a
# README reference table (as `name(`), and every function a reference table
# names exists in the extension.  Run against a fresh CREATE EXTENSION.
# Needs PGHOST/PGPORT/PGUSER; creates and drops its own database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
readme=$here/../../../README.md
db=cs_client_readme_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
installed=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "
    SELECT DISTINCT p.proname FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
    JOIN pg_proc p ON p.oid = d.objid
    WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' ORDER BY 1")
# the first cell of every reference-table row: `name(args)`, possibly several
documented=$(grep -E '^\| `[a-z_]+\(' "$readme" | cut -d'|' -f2 |
             grep -oE '`[a-z_]+\(' | tr -d '`(' | sort -u)
missing=$(comm -23 <(echo "$installed" | sort -u) <(echo "$documented"))
unknown=$(comm -13 <(echo "$installed" | sort -u) <(echo "$documented") | grep '^chat' || true)
n=$(echo "$installed" | wc -l)
if [ -n "$missing" ]; then
    echo "functions of the extension missing from README's reference tables:" >&2
    echo "$missing" >&2
fi
if [ -n "$unknown" ]; then
    echo "README documents functions the extension does not have:" >&2
    echo "$unknown" >&2
fi
[ -z "$missing" ] && [ -z "$unknown" ] || exit 1
echo "README documents all $n functions of the extension and no other chat_ function"
