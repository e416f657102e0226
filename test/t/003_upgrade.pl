# Upgrades: CREATE EXTENSION chatstore VERSION v for every shipped version
# (every chatstore--v.sql in the extension directory), and ALTER EXTENSION
# chatstore UPDATE along every path pg_extension_update_paths knows, with
# data saved before the update kept and the functions working after it.  An
# updated installation must be the same as a fresh install of the target
# version (same objects, columns, constraints, indexes, function bodies).
#
# Shipped today: 1.0 and 1.1 (frozen released scripts), 1.2 and the
# update scripts between them; a later version only has to ship its scripts.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

# the shipped scripts
my $sharedir = $node->safe_psql('postgres', q{SELECT setting FROM pg_config WHERE name = 'SHAREDIR'});
my $extdir = "$sharedir/extension";
opendir(my $dh, $extdir) or die "cannot open $extdir: $!";
my @scripts = grep { /^chatstore--.*\.sql$/ } readdir($dh);
closedir($dh);
my @updates = sort grep { /^chatstore--.+--.+\.sql$/ } @scripts;
my @versions;
for my $f (sort @scripts)
{
	next if $f =~ /^chatstore--.+--.+\.sql$/;
	push @versions, $1 if $f =~ /^chatstore--(.+)\.sql$/;
}
note("versions: @versions; update scripts: @updates");
ok(scalar(@versions) >= 1, 'at least one installable version is shipped');

my $default = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'chatstore'});
ok((grep { $_ eq $default } @versions), "the default version $default is shipped as a full script");

my $dbn = 0;

# what a version's installation consists of
my $signature_sql = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'chatstore'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT string_agg(s, E'\n' ORDER BY s) FROM (
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) AS s FROM members m
    UNION ALL
    SELECT format('column %s.%s %s notnull=%s default=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_constraint k ON k.conrelid = c.oid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid))
    FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('function %s', pg_get_functiondef(p.oid))
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT format('config %s %s', c.relname, x.cond)
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(rel, cond), pg_class c
    WHERE e.extname = 'chatstore' AND c.oid = x.rel
) q};

# data every version can hold, saved with the 1.0 API
my $populate_sql = q{
SELECT saved_count FROM chat_save_messages('up1', '[
  {"id": "a", "role": "system", "content": "sys"},
  {"id": "b", "role": "user", "content": "hello", "metadata": {"k": "v"}},
  {"id": "c", "role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function"}],
   "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
  {"id": "d", "role": "tool", "tool_call_id": "t1", "content": "42"}]', 'alice');
SELECT saved_count FROM chat_save_messages('up2', (SELECT jsonb_agg(jsonb_build_object('role', 'user', 'content', 'm' || i)) FROM generate_series(1, 50) i), 'bob');
};
my $data_sql = q{
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
    SELECT format('thread %s %s %s %s %s %s', id, user_id, message_count, last_seq, prompt_tokens, completion_tokens) AS x FROM chat_threads
    UNION ALL
    SELECT format('message %s %s %s %s %s %s %s %s', thread_id, seq, id, role, content, tool_calls, tool_call_id, metadata) FROM chat_messages
) q};

sub fresh_db
{
	my ($version) = @_;
	my $db = 'db' . ++$dbn;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION chatstore VERSION '$version'");
	return $db;
}

# every shipped version installs, holds data and works
my %signature;
for my $v (@versions)
{
	my $db = fresh_db($v);
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'chatstore'}), $v,
		"CREATE EXTENSION chatstore VERSION '$v'");
	$node->safe_psql($db, $populate_sql);
	like($node->safe_psql($db, $data_sql), qr/thread up2 bob 50 50/, "version $v: saves work");
	$signature{$v} = $node->safe_psql($db, $signature_sql);
	ok(length($signature{$v}) > 0, "version $v: its objects are described");
}

# every update path
my @paths = split /\n/, $node->safe_psql('postgres',
	q{SELECT source || ' ' || target || ' ' || path FROM pg_extension_update_paths('chatstore') WHERE path IS NOT NULL ORDER BY 1});
note(scalar(@paths) . " update paths: " . join('; ', @paths));
if (!@paths)
{
	is(scalar(@updates), 0, 'no update path and no update script: nothing to update yet (only ' . join(', ', @versions) . ')');
	# the updates of the future start from the default version: UPDATE is a no-op now
	my $db = fresh_db($default);
	$node->safe_psql($db, $populate_sql);
	my $before = $node->safe_psql($db, $data_sql);
	my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION chatstore UPDATE');
	is($ret, 0, 'ALTER EXTENSION chatstore UPDATE on the newest version succeeds');
	like($err, qr/version "\Q$default\E" of extension "chatstore" is already installed/, 'and says it is already current');
	is($node->safe_psql($db, $data_sql), $before, 'the data is unchanged');
}
for my $p (@paths)
{
	my ($source, $target, $path) = split / /, $p, 3;
	my $db = fresh_db($source);
	$node->safe_psql($db, $populate_sql);
	my $before = $node->safe_psql($db, $data_sql);
	$node->safe_psql($db, "ALTER EXTENSION chatstore UPDATE TO '$target'");
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'chatstore'}), $target,
		"ALTER EXTENSION chatstore UPDATE from $source to $target (path $path)");
	is($node->safe_psql($db, $data_sql), $before, "$source -> $target: the data is kept");
	is($node->safe_psql($db,
		q{SELECT saved_count || '/' || skipped_count || '/' || first_seq FROM chat_save_messages('up1', '[{"id": "a", "role": "system", "content": "x"}, {"id": "e", "role": "user", "content": "after update"}]', 'alice')}),
		'1/1/5', "$source -> $target: saving continues the thread");
	if (exists $signature{$target})
	{
		is($node->safe_psql($db, $signature_sql), $signature{$target},
			"$source -> $target: the updated installation equals a fresh install of $target");
	}
}

# every update script is on some path
for my $u (@updates)
{
	my ($from, $to) = $u =~ /^chatstore--(.+)--(.+)\.sql$/;
	ok((grep { /^\Q$from\E \Q$to\E / } @paths), "update script $u is reachable");
}

$node->stop;
done_testing();
