# pg_dump / pg_restore round trip of a database holding every kind of
# chatstore data: the contents of every chatstore table are identical
# afterwards (custom format through pg_restore, and plain SQL through psql),
# tenant isolation and extra search indexes survive, and the functions keep
# working where the data left off (seq, list positions, state versions).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
CREATE EXTENSION chatstore;
CREATE ROLE dump_app NOLOGIN;
-- threads and messages with every field
SELECT chat_create_thread('t1', 'alice', 'First chat', '{"project": "x", "tags": ["a", "b"]}', '{"step": 2}');
SELECT saved_count FROM chat_save_messages('t1', '[
  {"id": "m1", "role": "system", "content": "You are terse.", "token_count": 4},
  {"id": "m2", "role": "human", "content": "What is 2+2?", "metadata": {"lang": "en"}, "created_at": "2026-01-02T03:04:05.123456Z"},
  {"id": "m3", "role": "ai", "content": null, "model": "gpt-x",
   "tool_calls": [{"id": "call1", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2,\"b\":2}"}}],
   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}},
  {"id": "m4", "role": "tool", "tool_call_id": "call1", "name": "add", "content": "4"},
  {"id": "m5", "role": "assistant", "content": [{"type": "text", "text": "It is "}, {"type": "text", "text": "4."}],
   "usage_metadata": {"input_tokens": 7, "output_tokens": 3}, "parent_id": "m2"},
  {"role": "user", "content": "thanks, ünïcödé ✓ and a \"quote\" and a \\\\ backslash"}]', 'alice');
SELECT chat_add_message('t1', 'assistant', 'You are welcome.', 'alice', '{"k": 1}');
SELECT saved_count FROM chat_save_messages('t2', (SELECT jsonb_agg(jsonb_build_object('id', 'n' || i, 'role', 'user', 'content', 'msg ' || i)) FROM generate_series(1, 500) i), 'bob');
SELECT saved_count FROM chat_save_messages('t3', '[{"id": "x", "role": "user", "content": "no owner"}]');
SELECT chat_fork_thread('t1', 't1-fork', 4);
-- a trimmed thread: seq with a gap, last_seq above the count
SELECT count(*) FROM chat_retention_keep_last(100, 't2');
SELECT chat_archive_thread('t3') IS NOT NULL;
-- preferences, key-value, lists, agent states (two tenants)
SELECT chat_set_preferences('alice', 't1', 'gpt-x', '{"theme": "dark"}') IS NOT NULL;
SELECT chat_kv_set('cfg/a', '{"v": 1}') IS NOT NULL;
SELECT chat_kv_set('cfg/b', '[1, 2, 3]', '1 day') IS NOT NULL;
SELECT chat_kvlist_append_many('hist', '[1, 2, 3, 4, 5]', '{"kind": "numbers"}');
SELECT chat_kvlist_trim('hist', 2, -1);
SELECT chat_agent_state_save('agent1', 's1', '{"n": 1}');
SELECT chat_agent_state_save('agent1', 's1', '{"n": 2}', 1);
SELECT chat_agent_state_save('agent1', 's1', '{"n": 3}', 2);
SET chatstore.tenant = 'tenant_b';
SELECT chat_kv_set('cfg/a', '"tenant b value"') IS NOT NULL;
SELECT chat_kvlist_append('hist', '"b item"');
SELECT chat_agent_state_save('agent1', 's1', '{"b": true}');
RESET chatstore.tenant;
-- an extra search index, tenant isolation, a grant
SELECT chat_create_search_index('english');
SELECT count(*) FROM chat_enable_tenant_isolation();
SELECT count(*) FROM chat_grant_app_role('dump_app');
});

# the contents of every chatstore table (and sequence) as one fingerprint each
sub fingerprint
{
	my ($db) = @_;
	my @rels = split /\n/, $node->safe_psql($db, q{
		SELECT c.oid::regclass::text || ' ' || c.relkind::text
		FROM pg_depend d
		JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'
		JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
		WHERE c.relkind IN ('r', 'S') ORDER BY c.relname});
	my @out;
	for my $r (@rels)
	{
		my ($rel, $kind) = split / /, $r;
		my $sql = $kind eq 'S'
		  ? "SELECT 1, md5(last_value::text || is_called::text) FROM $rel"
		  : "SELECT count(*), md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '')) FROM $rel t";
		my $v = $node->safe_psql($db, $sql);
		$v =~ s/\|/ /;
		push @out, "$rel $v";
	}
	return join("\n", @out);
}
my $index_sql = q{
SELECT string_agg(format('index %s on %s: %s', i.indexrelid::regclass, i.indrelid::regclass, pg_get_indexdef(i.indexrelid)),
                  E'\n' ORDER BY i.indexrelid::regclass::text)
FROM pg_index i JOIN pg_depend d ON d.objid = i.indrelid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chatstore'};
my $describe_sql = q{
SELECT string_agg(s, E'\n' ORDER BY s) FROM (
  SELECT format('isolation %s %s %s %s', table_name, rls_enabled, rls_forced, has_policy) AS s FROM chat_tenant_isolation_status()
  UNION ALL
  SELECT format('grant %s', has_table_privilege('dump_app', 'chat_messages', 'SELECT, INSERT, UPDATE, DELETE'))
) s};

my $before = fingerprint('src');
my $before_desc = $node->safe_psql('src', $describe_sql);
my $before_idx = $node->safe_psql('src', $index_sql);
like($before, qr/^chat_messages 112 /m, 'the source holds the 112 messages');
note($before);
for my $t (qw(chat_threads chat_messages chat_user_preferences chat_kv chat_lists chat_list_items chat_agent_states))
{
	like($before, qr/^$t [1-9]\d* /m, "the source has rows in $t");
}
like($before_idx, qr/english/, 'the source has the extra english search index');
like($before_desc, qr/isolation chat_messages t f t/, 'the source has tenant isolation on');

my $dumpfile = $node->basedir . '/src.dump';
my $sqlfile = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('src') ], 'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-Fp', '-f', $sqlfile, '-d', $node->connstr('src') ], 'pg_dump -Fp');

$node->safe_psql('postgres', 'CREATE DATABASE dst_custom');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'), $dumpfile ], 'pg_restore');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst_plain'), '-f', $sqlfile ],
	'psql < plain dump');

for my $db (qw(dst_custom dst_plain))
{
	is(fingerprint($db), $before, "$db: every chatstore table has identical contents");
	is($node->safe_psql($db, $describe_sql), $before_desc, "$db: tenant isolation and grants are the same");
	# pg_dump leaves out an index added to an extension table; the restored
	# row of chat_search_index_config made it again
	is($node->safe_psql($db, $index_sql), $before_idx, "$db: the same indexes, including the extra search index");
	$node->safe_psql($db, q{SELECT chat_create_search_index('english')});
	is($node->safe_psql($db, $index_sql), $before_idx, "$db: chat_create_search_index again changes nothing");

	# the functions carry on where the data left off
	is($node->safe_psql($db,
		q{SELECT saved_count || '/' || skipped_count || '/' || first_seq FROM chat_save_messages('t1', '[{"id": "m1", "role": "system", "content": "dup"}, {"id": "m9", "role": "user", "content": "after restore"}]', 'alice')}),
		'1/1/8', "$db: a save into a restored thread skips stored ids and continues the seq");
	is($node->safe_psql($db,
		q{SELECT first_seq FROM chat_save_messages('t2', '[{"role": "user", "content": "more"}]', 'bob')}),
		'501', "$db: the trimmed thread continues after its last seq");
	is($node->safe_psql($db, q{SELECT string_agg(role || ':' || coalesce(content, '-'), '|' ORDER BY seq) FROM chat_history('t1', 3)}),
		'user:thanks, ünïcödé ✓ and a "quote" and a \\ backslash|assistant:You are welcome.|user:after restore',
		"$db: chat_history reads the restored thread");
	is($node->safe_psql($db, q{SELECT chat_context('t1', 4) -> 0 -> 'content'}),
		'[{"text": "It is ", "type": "text"}, {"text": "4.", "type": "text"}]', "$db: content parts survive");
	is($node->safe_psql($db, q{SELECT count(*) FROM chat_search('welcome', config => 'english')}), '1',
		"$db: search with the extra configuration works");
	is($node->safe_psql($db, q{SELECT chat_agent_state_save('agent1', 's1', '{"n": 4}', 3)}), '4',
		"$db: agent state versions continue");
	is($node->safe_psql($db, q{SELECT chat_kvlist_append('hist', '6')}), '4', "$db: list append after the trim");
	is($node->safe_psql($db, q{SELECT string_agg(value::text, ',' ORDER BY idx) FROM chat_kvlist_range('hist')}), '3,4,5,6',
		"$db: the list continues after its trimmed items");
	is($node->safe_psql($db, q{SET chatstore.tenant = 'tenant_b'; SELECT chat_kv_get('cfg/a')}), '"tenant b value"',
		"$db: key-values keep their tenant");
	is($node->safe_psql($db, q{SELECT selected_model FROM chat_get_preferences('alice')}), 'gpt-x',
		"$db: preferences survive");
	is($node->safe_psql($db, q{SELECT chat_fork_thread('t1', 'fork2')}), 'fork2', "$db: fork works");
	is($node->safe_psql($db, q{SELECT message_count FROM chat_threads WHERE id = 'fork2'}), '8', "$db: the fork has every message");
	is($node->safe_psql($db, q{SET ROLE dump_app; SET chatstore.tenant = 'bob'; SELECT string_agg(id, ',' ORDER BY id) FROM chat_threads}),
		't2', "$db: tenant isolation still confines the application role");
	is($node->safe_psql($db, q{SELECT message_count || '/' || last_seq FROM chat_threads WHERE id = 't2'}),
		'101/501', "$db: the aggregates follow");
}

$node->stop;
done_testing();
