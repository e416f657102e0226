# Crash safety: no partial batch survives a crash, indexes stay intact, and
# every thread's aggregates equal its rows afterwards.
#
# Scenarios:
#   1. kill -9 of the backend in the middle of a 100,000-message save into
#      an existing thread (it had 10 messages: it must still have exactly 10)
#   2. the same into a thread the save auto-creates (it must not exist)
#   3. immediate shutdown while 6 clients save 50-message batches into 20
#      threads (pgbench): every thread holds a whole number of batches
# After each: amcheck's bt_index_check(heapallindexed) on every btree index
# of every chatstore table, and the aggregate / gapless-seq invariants.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on\nmax_connections = 30\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION chatstore; CREATE EXTENSION amcheck;');

# every btree index of every chatstore table checked; every thread consistent
sub check_invariants
{
	my ($label) = @_;
	my $nidx = $node->safe_psql('postgres', q{
		SELECT count(bt_index_check(i.indexrelid, true)::text)
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
		JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indrelid AND d.deptype = 'e'
		JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'});
	cmp_ok($nidx, '>=', 7, "$label: amcheck passed on all $nidx chatstore btree indexes");
	my $bad = $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(t.id, ', '), '')
		FROM chat_threads t
		CROSS JOIN LATERAL (
			SELECT count(*) AS n, coalesce(max(m.seq), 0) AS mx, coalesce(min(m.seq), 1) AS mn,
			       coalesce(sum(chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
			       coalesce(sum(chat_usage_tokens(m.usage, 'completion')), 0) AS c,
			       coalesce(sum(chat_usage_tokens(m.usage, 'total')), 0) AS tot
			FROM chat_messages m WHERE m.thread_id = t.id) a
		WHERE NOT (t.message_count = a.n AND t.last_seq = a.mx AND a.mn = 1 AND a.mx = a.n
		           AND t.prompt_tokens = a.p AND t.completion_tokens = a.c AND t.total_tokens = a.tot)});
	is($bad, '', "$label: every thread's aggregates equal its rows, seq 1..n without gaps");
	my $orphans = $node->safe_psql('postgres', q{
		SELECT count(*) FROM chat_messages m
		WHERE NOT EXISTS (SELECT 1 FROM chat_threads t WHERE t.id = m.thread_id)});
	is($orphans, '0', "$label: no message without its thread");
}

# the 100,000-message batch, built once (not part of the timed save)
$node->safe_psql('postgres', q{
	CREATE TABLE big_batch AS
	SELECT jsonb_agg(jsonb_build_object('id', 'big' || i, 'role', CASE WHEN i % 2 = 0 THEN 'assistant' ELSE 'user' END,
	                                    'content', 'message ' || i || ' ' || repeat('lorem ipsum ', 10),
	                                    'usage', jsonb_build_object('input_tokens', 1, 'output_tokens', 2))
	                 ORDER BY i) AS j
	FROM generate_series(1, 100000) AS i;
	SELECT saved_count FROM chat_save_messages('crash_big',
	    (SELECT jsonb_agg(jsonb_build_object('id', 'pre' || i, 'role', 'user', 'content', 'before ' || i,
	                                         'usage', jsonb_build_object('input_tokens', 3)))
	     FROM generate_series(1, 10) AS i), 'u1');
});

# start the big save in its own session, kill -9 its backend while it runs
sub kill_during_big_save
{
	my ($thread, $label) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', "SET application_name = 'bigsave'; SELECT saved_count FROM chat_save_messages('$thread', (SELECT j FROM big_batch), 'u1')" ],
		'>', \$out, '2>', \$err);
	# wait until the save is inside the function and writing: its backend has a
	# transaction id and holds the insert lock on chat_messages
	my $pid = '';
	my $deadline = time() + 60;
	while (time() < $deadline)
	{
		$pid = $node->safe_psql('postgres', q{
			SELECT a.pid FROM pg_stat_activity a
			JOIN pg_locks l ON l.pid = a.pid AND l.relation = 'chat_messages'::regclass AND l.mode = 'RowExclusiveLock'
			WHERE a.application_name = 'bigsave' AND a.state = 'active' AND a.backend_xid IS NOT NULL});
		last if $pid ne '';
		usleep(20_000);
	}
	isnt($pid, '', "$label: the big save is running (backend $pid)");
	usleep(300_000);    # well inside the insert of 100,000 rows
	my $still = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'");
	is($still, '1', "$label: still running when killed");
	kill 'KILL', $pid;
	$h->finish;
	unlike($out, qr/100000/, "$label: the save did not complete");
	like($err, qr/server closed the connection|terminat|connection to server was lost/i,
		"$label: the client saw the backend die");
	# the postmaster restarts after crash recovery
	$node->poll_query_until('postgres', 'SELECT true') or die "server did not come back";
	ok($node->log_contains(qr/server process \(PID $pid\) was terminated by signal 9/),
		"$label: the server log shows the kill");
}

# scenario 1: existing thread
kill_during_big_save('crash_big', 'kill -9 mid-save (existing thread)');
is($node->safe_psql('postgres',
	"SELECT message_count || '/' || last_seq || '/' || (SELECT count(*) FROM chat_messages WHERE thread_id = 'crash_big') FROM chat_threads WHERE id = 'crash_big'"),
	'10/10/10', 'kill -9 mid-save: the thread has its 10 old messages, none of the batch');
check_invariants('after kill -9 (existing thread)');

# scenario 2: auto-created thread
kill_during_big_save('crash_new', 'kill -9 mid-save (new thread)');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM chat_threads WHERE id = 'crash_new'") . '/' .
   $node->safe_psql('postgres', "SELECT count(*) FROM chat_messages WHERE thread_id = 'crash_new'"),
	'0/0', 'kill -9 mid-save: the auto-created thread does not exist');
check_invariants('after kill -9 (new thread)');

# the store works after the crash: the whole batch saves now
is($node->safe_psql('postgres',
	"SELECT saved_count || '/' || skipped_count || '/' || first_seq || '/' || last_seq FROM chat_save_messages('crash_big', (SELECT j FROM big_batch), 'u1')"),
	'100000/0/11/100010', 'after the crashes the 100,000-message batch saves in full');
check_invariants('after the full save');

# scenario 3: immediate shutdown during concurrent saves
my $script = $node->basedir . '/save.sql';
open my $fh, '>', $script or die;
print $fh <<'EOS';
\set t random(1, 20)
SELECT saved_count FROM chat_save_messages('crash_pg_' || :t,
    (SELECT jsonb_agg(jsonb_build_object('id', gen_random_uuid()::text, 'role', 'user', 'content', 'batch message ' || g,
                                         'usage', jsonb_build_object('prompt_tokens', 1, 'completion_tokens', 1)))
     FROM generate_series(1, 50) AS g), 'u2');
EOS
close $fh;
my ($pout, $perr) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '60', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$pout, '2>', \$perr);
# let some batches commit
my $committed = 0;
my $deadline = time() + 60;
while (time() < $deadline)
{
	$committed = $node->safe_psql('postgres', "SELECT count(*) FROM chat_messages WHERE thread_id LIKE 'crash\\_pg\\_%'");
	last if $committed >= 5000;
	usleep(100_000);
}
cmp_ok($committed, '>=', 5000, "concurrent saves running ($committed messages committed so far)");
my $running = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%chat_save_messages(''crash_pg_%' AND pid <> pg_backend_pid()");
$node->stop('immediate');
$bench->finish;
is($running, '6', "immediate shutdown with the 6 saving clients connected");
$node->start;
my $threads = $node->safe_psql('postgres', q{
	SELECT count(*) || '/' || count(*) FILTER (WHERE message_count % 50 = 0) || '/' || (sum(message_count) >= } . $committed . q{)
	FROM chat_threads WHERE id LIKE 'crash\_pg\_%'});
like($threads, qr{^(\d+)/\1/true$}, "immediate shutdown: every thread holds whole 50-message batches, none lost that had committed ($threads)");
check_invariants('after immediate shutdown');

# and the store still works
is($node->safe_psql('postgres',
	"SELECT saved_count FROM chat_save_messages('crash_pg_1', '[{\"role\":\"user\",\"content\":\"after\"}]', 'u2')"),
	'1', 'saving works after the immediate shutdown');
check_invariants('final');

$node->stop;
done_testing();
