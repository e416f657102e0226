#!/usr/bin/env bash
# The documentation stays true (suite client:readme; see doc/testing.md):
#   (a) README.md is at most 30,720 bytes;
#   (b) every function of the installed extension is documented in doc/*.md
#       (as `name( ), and README.md / doc/*.md name no chat_ / _chat_
#       function or object the extension lacks (so a renamed function cannot
#       linger): a name followed by "(", or alone in backticks;
#   (c) every SQLSTATE raised in src/ (ereport(ERROR, errcode(ERRCODE_*)) in
#       src/*.c, ERRCODE = '...' / RAISE <condition> in src/sql/*.sql) is in
#       the SQLSTATE table of doc/ (the section headed "SQLSTATEs");
#   (d) every relative link in README.md and doc/*.md points to an existing
#       file, and every #anchor to an existing heading;
#   (e) README.md's SQL examples (its ```sql blocks, in order) run without
#       error in a fresh database, and the branch example ends where its
#       comments say.
# The checks themselves are in check_docs.py.
#
# Needs PGHOST/PGPORT/PGUSER of a server with chatstore installed; creates
# and drops its own database.  README_EXT_VERSION=1.1 checks against that
# version of the extension instead of the default one (while developing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$("$PG_CONFIG" --bindir):$PATH"

db=cs_client_readme_$$
tmp=$(mktemp -d)
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
     -c "CREATE EXTENSION chatstore ${README_EXT_VERSION:+VERSION '$README_EXT_VERSION'}"

# the functions of the extension
psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "
    SELECT DISTINCT p.proname FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
    JOIN pg_proc p ON p.oid = d.objid
    WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' ORDER BY 1" > "$tmp/functions"
# its other objects the docs may name: tables, their indexes, constraints and
# triggers, types
psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "
    WITH rel AS (
        SELECT c.oid, c.relname FROM pg_depend d
        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
        JOIN pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e')
    SELECT relname FROM rel
    UNION SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid IN (SELECT oid FROM rel)
    UNION SELECT g.tgname FROM pg_trigger g WHERE g.tgrelid IN (SELECT oid FROM rel)
    UNION SELECT k.conname FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM rel)
    UNION SELECT t.typname FROM pg_depend d
          JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
          JOIN pg_type t ON t.oid = d.objid
          WHERE d.classid = 'pg_type'::regclass AND d.deptype = 'e'
    ORDER BY 1" > "$tmp/relations"

py=$(command -v /usr/bin/python3 || command -v python3)
"$py" "$here/check_docs.py" \
    --root "$root" \
    --functions "$tmp/functions" \
    --relations "$tmp/relations" \
    --include-server "$("$PG_CONFIG" --includedir-server)" \
    --sharedir "$("$PG_CONFIG" --sharedir)"

# (e) README's SQL examples run as written
"$py" - "$root/README.md" > "$tmp/readme.sql" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for block in re.findall(r"```sql\n(.*?)```", text, re.S):
    print(block)
PY
exdb=${db}_examples
createdb "$exdb"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true; dropdb --if-exists "$exdb" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
if psql -X -q -v ON_ERROR_STOP=1 -d "$exdb" -f "$tmp/readme.sql" > "$tmp/readme.out" 2>&1; then
    # the branch example: after truncation, a new answer and its deletion, the question alone is left
    path=$(psql -X -At -v ON_ERROR_STOP=1 -d "$exdb" -c "SELECT string_agg(id, ' ' ORDER BY seq) FROM chat_history('thread-2')")
    versions=$(psql -X -At -v ON_ERROR_STOP=1 -d "$exdb" -c "SELECT string_agg(id || ':' || position || '/' || total, ' ' ORDER BY seq) FROM chat_message_siblings('thread-2', 'q1')")
    if [ "$path" = "q1" ] && [ "$versions" = "q1:1/2 q1b:2/2" ]; then
        echo "ok (e) README's SQL examples run ($(grep -c '' "$tmp/readme.sql") lines); the branch example ends as it says"
    else
        echo "FAILED (e) README's branch example: path '$path', versions '$versions'"
        exit 1
    fi
else
    echo "FAILED (e) README's SQL examples:"; tail -20 "$tmp/readme.out"
    exit 1
fi
