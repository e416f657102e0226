#!/usr/bin/env bash
# Scheduling chatstore retention with pg_cron (Debian postgresql-15-cron).
# The test cluster preloads pg_cron (shared_preload_libraries = 'pg_cron',
# cron.database_name = 'postgres').  pg_cron 1.4 schedules by the minute,
# so this waits for the next minute boundary (at most ~70 s).
# Needs PGHOST/PGPORT/PGUSER; creates and drops its own database.
set -euo pipefail
db=cs_client_pg_cron_$$
createdb "$db"
created_ext=no
jobid=
cleanup() {
    if [ -n "$jobid" ]; then psql -X -q -d postgres -c "SELECT cron.unschedule($jobid)" >/dev/null 2>&1 || true; fi
    if [ "$created_ext" = yes ]; then psql -X -q -d postgres -c 'DROP EXTENSION IF EXISTS pg_cron' >/dev/null 2>&1 || true; fi
    dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
fail=0 pass=0
ok()  { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }

if [ "$(q -d postgres -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 0 ]; then
    q -d postgres -c 'CREATE EXTENSION pg_cron'
    created_ext=yes
fi
echo "# pg_cron $(q -d postgres -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")"

q -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION chatstore;
-- a long thread and an expired key-value
SELECT count(*) FROM chat_save_messages('cron-t1',
    (SELECT jsonb_agg(jsonb_build_object('id', 'm' || i, 'role', 'user', 'content', 'x' || i))
     FROM generate_series(1, 50) i), 'cron-u1');
INSERT INTO chat_kv (tenant, key, value, expires_at) VALUES ('', 'cron-old', '1', now() - interval '1 day');
SQL

# the nightly job of the documentation, every minute here; it runs in our
# database (schedule_in_database), as the scheduling user
jobid=$(q -d postgres -c "SELECT cron.schedule_in_database('chatstore-retention-$$', '* * * * *',
  \$\$SELECT count(*) FROM chat_retention_keep_last(10);
    SELECT count(*) FROM chat_retention_delete_idle_threads('90 days', max_threads => 1000);
    SELECT count(*) FROM chat_kv_purge_expired(all_tenants => true)\$\$, '$db')")
# pg_cron connects over libpq to cron.host (localhost); this cluster listens
# on a unix socket only, so the job is pointed at the socket directory
sockdir=$(q -d postgres -c "SELECT split_part(current_setting('unix_socket_directories'), ',', 1)")
q -d postgres -c "UPDATE cron.job SET nodename = '$sockdir' WHERE jobid = $jobid"
echo "# scheduled job $jobid; waiting for it to run"

status=
for _ in $(seq 1 80); do
    status=$(q -d postgres -c "SELECT status FROM cron.job_run_details WHERE jobid = $jobid AND status IN ('succeeded', 'failed') ORDER BY runid DESC LIMIT 1")
    [ -n "$status" ] && break
    sleep 1
done
details=$(q -d postgres -c "SELECT status || ': ' || coalesce(return_message, '') FROM cron.job_run_details WHERE jobid = $jobid ORDER BY runid DESC LIMIT 1")
echo "# job_run_details: $details"
[ "$status" = succeeded ] && ok "the scheduled retention job ran and succeeded" || bad "job status: ${status:-never ran}"

n=$(q -d "$db" -c "SELECT message_count || '/' || (SELECT count(*) FROM chat_messages WHERE thread_id = 'cron-t1') FROM chat_threads WHERE id = 'cron-t1'")
[ "$n" = 10/10 ] && ok "the job kept the last 10 messages" || bad "thread after the job: $n"
k=$(q -d "$db" -c "SELECT count(*) FROM chat_kv WHERE key = 'cron-old'")
[ "$k" = 0 ] && ok "the job purged the expired key" || bad "expired key still there"

echo "pg_cron: $pass passed, $fail failed"
[ "$fail" = 0 ]
