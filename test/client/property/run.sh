#!/usr/bin/env bash
# Property test of chat_save_messages: at least 10,000 generated batches,
# valid and invalid, each checked against a model (see property.py).
# Gets PGHOST/PGPORT/PGUSER from scripts/test.sh; uses its own database.
# PROPERTY_BATCHES / PROPERTY_SEED change the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
db=cs_client_property_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'

# the server log, when it is where scripts/lib.sh puts it (next to the socket)
log="${PGHOST:-}/server.log"
offset=0
[ -f "$log" ] && offset=$(stat -c %s "$log")

status=0
PGDATABASE=$db /usr/bin/python3 "$here/property.py" || status=1

# no crash reported in the server log during the run
if [ -f "$log" ]; then
    if tail -c +"$((offset + 1))" "$log" | grep -E "terminated by signal|was terminated|PANIC|TRAP:|server process .* exited with exit code [^0]|all server processes terminated"; then
        echo "FAIL: the server log reports a crash during the property test"
        status=1
    else
        echo "server log: no crash during the run"
    fi
else
    echo "server log not found at $log; relying on the backend-alive check"
fi
# the server still answers
psql -X -q -At -d "$db" -c 'SELECT 1' >/dev/null || { echo "FAIL: the server does not answer"; status=1; }
exit $status
