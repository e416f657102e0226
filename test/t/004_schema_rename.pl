# Renaming the extension's schema in a live session: the C functions keep
# SPI plans whose SQL names the schema, and PostgreSQL re-analyzes such a
# plan from its text whenever it invalidates it (a rename invalidates every
# plan).  chatstore drops its kept plans when the schema's catalog row
# changes and prepares them again with the new name, so saves, appends and
# the token-budget history (the C function behind chat_history's max_tokens;
# chat_history itself is PL/pgSQL and names the schema in its text) keep
# working in the same session, without a reconnect.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('schema_rename');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE rename');

# one session (one psql) for everything: the plans are kept per backend
my $out = $node->safe_psql('rename', q{
CREATE SCHEMA cs;
CREATE EXTENSION chatstore SCHEMA cs;
SELECT 'save1 ' || saved_count || ' ' || first_seq FROM cs.chat_save_messages('t', '[{"id": "m1", "role": "user", "content": "one"}, {"role": "assistant", "content": "two"}]', 'u');
SELECT 'budget1 ' || count(*) FROM cs.chat_history('t', max_tokens => 100);
ALTER SCHEMA cs RENAME TO cs2;
SELECT 'save2 ' || saved_count || ' ' || skipped_count || ' ' || first_seq FROM cs2.chat_save_messages('t', '[{"id": "m1", "role": "user", "content": "one"}, {"role": "assistant", "content": "two"}, {"id": "m3", "role": "user", "content": "three"}]', 'u');
SELECT 'add2 ' || seq FROM cs2.chat_add_message('t', 'assistant', 'four', 'u');
SELECT 'budget2 ' || string_agg(content, ',' ORDER BY seq) FROM cs2._chat_history_budget('t', NULL, NULL, NULL, 100);
SELECT 'budget2w ' || string_agg(content, ',' ORDER BY seq) FROM cs2._chat_history_budget('t', 2, NULL, NULL, 100);
ALTER SCHEMA cs2 RENAME TO "CS three";
SELECT 'save3 ' || saved_count || ' ' || first_seq FROM "CS three".chat_save_messages('t', '[{"id": "m5", "role": "user", "content": "five"}]', 'u');
SELECT 'budget3 ' || string_agg(content, ',' ORDER BY seq) FROM "CS three"._chat_history_budget('t', NULL, NULL, NULL, 100);
});
like($out, qr/^save1 2 1$/m, 'save before the rename');
like($out, qr/^budget1 2$/m, 'token-budget history before the rename');
like($out, qr/^save2 1 2 3$/m, 'save after ALTER SCHEMA cs RENAME TO cs2, same session (id and id-less dedup)');
like($out, qr/^add2 4$/m, 'chat_add_message after the rename');
like($out, qr/^budget2 one,two,three,four$/m, 'token-budget history after the rename');
like($out, qr/^budget2w three,four$/m, 'token-budget history with max_messages after the rename');
like($out, qr/^save3 1 5$/m, 'save after a second rename to a name that needs quoting');
like($out, qr/^budget3 one,two,three,four,five$/m, 'history after the second rename');

# and a new session sees the same
is($node->safe_psql('rename', q{SELECT message_count || ' ' || last_seq || ' ' || user_id FROM "CS three".chat_threads WHERE id = 't'}),
	'5 5 u', 'the thread is whole');

$node->stop;
done_testing();
