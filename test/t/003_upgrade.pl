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
    SELECT format('function acl %s %s security_definer=%s', p.oid::regprocedure, p.proacl, p.prosecdef)
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT format('relation acl %s %s', c.relname, c.relacl)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
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
  {"id": "c", "role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
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
	# id-less messages saved before the update (their fingerprints are the
	# old version's) are still recognized when a client re-sends them
	is($node->safe_psql($db,
		q{SELECT saved_count || '/' || skipped_count FROM chat_save_messages('up2', (SELECT jsonb_agg(jsonb_build_object('role', 'user', 'content', 'm' || i)) FROM generate_series(1, 50) i), 'bob')}),
		'0/50', "$source -> $target: an id-less re-send of messages saved before the update stores nothing");
	if (exists $signature{$target})
	{
		is($node->safe_psql($db, $signature_sql), $signature{$target},
			"$source -> $target: the updated installation equals a fresh install of $target");
	}
}

# What an update does to data that the new version no longer accepts or
# keeps elsewhere, from every version that has an update path to the default:
# a thread owned by '' loses its owner; an extra search index made before
# 1.2 is registered (so pg_dump keeps it) and, for a configuration outside
# pg_catalog, renamed; a role given INSERT/UPDATE/DELETE by an older
# chat_grant_app_role keeps working through SELECT and EXECUTE instead.
for my $p (grep { / \Q$default\E / } @paths)
{
	my ($source) = split / /, $p;
	# (what 1.0 and 1.1 accepted and 1.2 no longer does)
	next unless $source eq '1.0' || $source eq '1.1';
	my $db = fresh_db($source);
	$node->safe_psql($db, q{
		-- (directly: the installed library refuses '' whatever the SQL version)
		INSERT INTO chat_threads (id, user_id) VALUES ('empty-owner', '');
		-- a fractional token count, as 1.0 and 1.1 stored it (and summed it rounded)
		INSERT INTO chat_threads (id, message_count, last_seq, prompt_tokens, completion_tokens, total_tokens)
		VALUES ('fractional', 1, 1, 2, 2, 4);
		INSERT INTO chat_messages (thread_id, id, seq, role, content, usage)
		VALUES ('fractional', 'f1', 1, 'user', 'x', '{"prompt_tokens": 1.5, "completion_tokens": 2, "cost": 0.25}');
		CREATE TEXT SEARCH CONFIGURATION public.english (COPY = pg_catalog.english);
		SELECT chat_create_search_index('pg_catalog.german');
		SELECT chat_create_search_index('public.english');
		CREATE ROLE app_before_update_} . $db . q{;
		SELECT chat_grant_app_role('app_before_update_} . $db . q{');
	});
	$node->safe_psql($db, "ALTER EXTENSION chatstore UPDATE TO '$default'");
	is($node->safe_psql($db, q{SELECT coalesce(user_id, '(none)') FROM chat_threads WHERE id = 'empty-owner'}), '(none)',
		"$source -> $default: a thread owned by '' has no owner");
	is($node->safe_psql($db, q{SELECT usage::text FROM chat_messages WHERE thread_id = 'fractional'}),
		'{"cost": 0.25, "prompt_tokens": 2, "completion_tokens": 2}',
		"$source -> $default: a fractional token count becomes the integer it was summed as; other keys are kept");
	$node->safe_psql($db, q{SELECT chat_fork_thread('fractional', 'fractional-copy')});
	is($node->safe_psql($db, q{SELECT prompt_tokens || '/' || total_tokens FROM chat_threads WHERE id = 'fractional-copy'}),
		'2/4', "$source -> $default: and the thread's messages can be copied (totals recomputed) as before");
	is($node->safe_psql($db, q{SELECT string_agg(config, ' ' ORDER BY config) FROM chat_search_index_config}),
		'pg_catalog.german public.english', "$source -> $default: the search indexes made before are registered");
	my $ddl = $node->safe_psql($db, q{SELECT string_agg(substring(chat_search_index_ddl(c::regconfig) from '^CREATE INDEX IF NOT EXISTS (\S+) '), ' ' ORDER BY c) FROM unnest(ARRAY['pg_catalog.german', 'public.english']) c});
	is($node->safe_psql($db, q{SELECT string_agg(indexname, ' ' ORDER BY CASE WHEN indexname LIKE '%public%' THEN 2 ELSE 1 END) FROM pg_indexes WHERE tablename = 'chat_messages' AND indexname LIKE 'chat_messages_content_fts_%_idx'}),
		$ddl, "$source -> $default: and carry the names 1.2 gives them (one per configuration)");
	is($node->safe_psql($db, qq{SELECT has_table_privilege('app_before_update_$db', 'chat_messages', 'INSERT')::text || '/' || has_table_privilege('app_before_update_$db', 'chat_messages', 'SELECT')::text || '/' || has_function_privilege('app_before_update_$db', 'chat_save_messages(text, jsonb, text, text[])', 'EXECUTE')::text}),
		'false/true/true', "$source -> $default: an application role keeps reading and saving, but not plain DML");
	is($node->safe_psql($db, qq{SET ROLE app_before_update_$db; SELECT saved_count FROM chat_save_messages('by-app', '[{"role": "user", "content": "x"}]', 'u')}),
		'1', "$source -> $default: the application role saves through the functions");
}

# Tombstones (1.3): a database updated to the default remembers what is
# deleted from then on (what was deleted before the update is not known)
for my $p (grep { / \Q$default\E / } @paths)
{
	my ($source) = split / /, $p;
	my $db = fresh_db($source);
	$node->safe_psql($db, q{SELECT chat_save_messages('tomb', (SELECT jsonb_agg(jsonb_build_object('id', 'm' || i, 'role', 'user', 'content', 'c' || i)) FROM generate_series(1, 10) i))});
	$node->safe_psql($db, "ALTER EXTENSION chatstore UPDATE TO '$default'");
	$node->safe_psql($db, q{SELECT chat_retention_keep_last(3, 'tomb')});
	is($node->safe_psql($db, q{SELECT saved_count || '/' || skipped_count FROM chat_save_messages('tomb', (SELECT jsonb_agg(jsonb_build_object('id', 'm' || i, 'role', 'user', 'content', 'c' || i)) FROM generate_series(1, 11) i))}),
		'1/10', "$source -> $default: a re-send after a trim stores only the new message");
	$node->safe_psql($db, q{SELECT chat_delete_thread('tomb')});
	my ($ret, $out, $err) = $node->psql($db, q{SELECT chat_save_messages('tomb', '[{"role": "user", "content": "late"}]')});
	like($err, qr/thread "tomb" was deleted/, "$source -> $default: a save into the deleted thread is refused");
}

# thread_user_id (1.7): the rows saved before the update get their thread's
# owner; a session that saved before the update and saves again after it in
# the same connection writes the new column too (its kept plans of the C
# save are made again when chat_messages changes)
for my $p (grep { / \Q$default\E / } @paths)
{
	my ($source) = split / /, $p;
	my $db = fresh_db($source);
	is(($node->safe_psql($db, qq{
		SELECT chat_save_messages('owned', '[{"id": "before", "role": "user", "content": "x"}]', 'u');
		ALTER EXTENSION chatstore UPDATE TO '$default';
		SELECT chat_save_messages('owned', '[{"id": "after", "role": "user", "content": "y"}]', 'u');
		SELECT string_agg(id || '=' || coalesce(thread_user_id, '-'), ' ' ORDER BY seq) FROM chat_messages WHERE thread_id = 'owned'}) =~ s/^.*\n//sr),
		'before=u after=u', "$source -> $default: rows keyed on their thread's owner, also by a session's kept plans");
}

# every update script is on some path
for my $u (@updates)
{
	my ($from, $to) = $u =~ /^chatstore--(.+)--(.+)\.sql$/;
	ok((grep { /^\Q$from\E \Q$to\E / } @paths), "update script $u is reachable");
}

$node->stop;
done_testing();
