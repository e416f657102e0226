# Shared by the client tests that run one Python script against a database of
# their own and then check that the server survived (test/client/property,
# test/client/property_tree).  Source it, then call:
#
#   run_python_suite NAME SCRIPT
#
# It creates the database cs_client_NAME_<pid> (dropped at exit) with the
# extension, runs /usr/bin/python3 SCRIPT with PGDATABASE set, then fails when
# the server log (where scripts/lib.sh puts it, next to the socket) reports a
# crash during the run or the server no longer answers.  Returns the status.
# Needs PGHOST/PGPORT/PGUSER (scripts/test.sh sets them).

run_python_suite() {
    local name=$1 script=$2
    local db=cs_client_${name}_$$ log="${PGHOST:-}/server.log" offset=0 status=0 start
    export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
    createdb "$db"
    # shellcheck disable=SC2064
    trap "dropdb --if-exists '$db' >/dev/null 2>&1 || true" EXIT
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION chatstore'
    [ -f "$log" ] && offset=$(stat -c %s "$log")

    start=$(date +%s)
    PGDATABASE=$db /usr/bin/python3 "$script" || status=1
    echo "elapsed: $(( $(date +%s) - start )) s"

    if [ -f "$log" ]; then
        if tail -c +"$((offset + 1))" "$log" | grep -E "terminated by signal|was terminated|PANIC|TRAP:|server process .* exited with exit code [^0]|all server processes terminated"; then
            echo "FAIL: the server log reports a crash during the run"
            status=1
        else
            echo "server log: no crash during the run"
        fi
    else
        echo "server log not found at $log; relying on the backend-alive check"
    fi
    psql -X -q -At -d "$db" -c 'SELECT 1' >/dev/null || { echo "FAIL: the server does not answer"; status=1; }
    return $status
}
