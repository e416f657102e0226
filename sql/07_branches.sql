-- Branches (1.3): a message tree inside a thread.  Edit and regenerate add
-- siblings, the active path decides what history and context read, a switch
-- moves it, the whole log stays readable.
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.path(tid text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT string_agg(coalesce(m.metadata->>'n', m.id), ' ' ORDER BY m.seq) FROM chat_history(tid) AS m); END
$$;
CREATE FUNCTION pg_temp.exact(tid text) RETURNS boolean LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT t.message_count = (SELECT count(*) FROM chat_messages m WHERE m.thread_id = tid)
       AND t.last_seq = (SELECT max(seq) FROM chat_messages m WHERE m.thread_id = tid)
    FROM chat_threads t WHERE t.id = tid); END
$$;

-- a one-line conversation: no tree is stored until it branches
SELECT saved_count FROM chat_save_messages('br-1',
    '[{"id": "u1", "role": "user", "content": "hi"}, {"id": "a1", "role": "assistant", "content": "hello"},
      {"id": "u2", "role": "user", "content": "weather?"}, {"id": "a2", "role": "assistant", "content": "sunny"}]', 'br-user');
SELECT active_path, (SELECT count(parent_seq) FROM chat_messages WHERE thread_id = 'br-1') AS parents_stored
FROM chat_threads WHERE id = 'br-1';
SELECT id, position, total, active FROM chat_message_siblings('br-1', 'u2');

-- edit: a new version of u2 under the same parent; the old one and its
-- reply stay as another branch
SELECT id, seq FROM chat_edit_message('br-1', 'u2', 'weather in Paris?', 'br-user', new_message_id => 'u2b');
SELECT active_path FROM chat_threads WHERE id = 'br-1';
SELECT id, seq, parent_seq FROM chat_messages WHERE thread_id = 'br-1' ORDER BY seq;
SELECT pg_temp.path('br-1') AS path;
-- a save appends to the active leaf
SELECT saved_count, first_seq FROM chat_save_messages('br-1', '[{"id": "a2b", "role": "assistant", "content": "rainy in Paris"}]', 'br-user');
SELECT pg_temp.path('br-1') AS path, pg_temp.exact('br-1') AS exact;
-- "< 2/2 >" on the edited message
SELECT id, seq, role, content, position, total, active FROM chat_message_siblings('br-1', 'u2');
SELECT id, position, total, active FROM chat_message_siblings('br-1', 'u2b', 'br-user');

-- regenerate: another reply, a sibling of the assistant message
SELECT id, seq FROM chat_regenerate_message('br-1', 'a2b', '{"id": "a2c", "role": "assistant", "content": "cloudy in Paris", "model": "m2"}', 'br-user');
SELECT pg_temp.path('br-1') AS path;
SELECT id, position, total, active FROM chat_message_siblings('br-1', 'a2b');

-- switch back to the first version of u2: the path runs down to its newest leaf
SELECT * FROM chat_switch_branch('br-1', 'u2', 'br-user');
SELECT pg_temp.path('br-1') AS path;
SELECT chat_context('br-1') AS context;
SELECT string_agg(id, ' ' ORDER BY seq) AS last_two FROM chat_history('br-1', 2);
SELECT string_agg(id, ' ' ORDER BY seq) AS budget FROM chat_history('br-1', max_tokens => 1000);
SELECT string_agg(id, ' ' ORDER BY seq) AS after_1 FROM chat_history('br-1', after_seq => 1, max_messages => 10);
-- and to the second: down to the newest reply (a2c)
SELECT * FROM chat_switch_branch('br-1', 'u2b');
SELECT pg_temp.path('br-1') AS path;
-- the whole log, as a tree
SELECT id, seq, parent_id, position, total, active FROM chat_thread_tree('br-1', 'br-user');

-- re-sends: the current branch again (with ids) stores nothing
SELECT saved_count, skipped_count FROM chat_save_messages('br-1',
    '[{"id": "u1", "role": "user", "content": "hi"}, {"id": "a1", "role": "assistant", "content": "hello"},
      {"id": "u2b", "role": "user", "content": "weather in Paris?"}, {"id": "a2c", "role": "assistant", "content": "cloudy in Paris"}]');
-- an older branch again stores nothing either, and going on from it
-- continues that branch (the active path follows)
SELECT saved_count, skipped_count FROM chat_save_messages('br-1',
    '[{"id": "u1", "role": "user", "content": "hi"}, {"id": "a1", "role": "assistant", "content": "hello"},
      {"id": "u2", "role": "user", "content": "weather?"}, {"id": "a2", "role": "assistant", "content": "sunny"},
      {"id": "u3", "role": "user", "content": "and tomorrow?"}]');
SELECT pg_temp.path('br-1') AS path, pg_temp.exact('br-1') AS exact;
SELECT id, parent_seq FROM chat_messages WHERE thread_id = 'br-1' AND id = 'u3';

-- id-less: a client re-sending its current branch stores only what is new
SELECT saved_count FROM chat_save_messages('br-2', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}]');
-- (the id looked up first: a statement that reads a chat table and calls a
-- chatstore function would run the function on a Citus worker, which
-- refuses its queries; README.md#scaling-out)
SELECT id AS br2_r1 FROM chat_messages WHERE thread_id = 'br-2' AND seq = 2 \gset
SELECT seq FROM chat_regenerate_message('br-2', :'br2_r1',
                                        '{"role": "assistant", "content": "r1 again"}');
SELECT saved_count, skipped_count FROM chat_save_messages('br-2',
    '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1 again"}, {"role": "user", "content": "q2"}]');
SELECT seq, parent_seq, content FROM chat_messages WHERE thread_id = 'br-2' ORDER BY seq;

-- a client still showing the older branch (r1) re-sends it without ids and
-- goes on: the whole conversation is followed along the tree from its root,
-- nothing is stored twice, and the new message continues that branch
SELECT saved_count, skipped_count FROM chat_save_messages('br-2',
    '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}, {"role": "user", "content": "q2 on r1"}]');
SELECT seq, parent_seq, content FROM chat_messages WHERE thread_id = 'br-2' ORDER BY seq;
SELECT string_agg(content, ' | ' ORDER BY seq) AS path FROM chat_history('br-2');
-- and the other branch again, exactly: nothing (the active path stays)
SELECT saved_count, skipped_count FROM chat_save_messages('br-2',
    '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1 again"}, {"role": "user", "content": "q2"}]');
SELECT string_agg(content, ' | ' ORDER BY seq) AS path FROM chat_history('br-2');
-- an edit of the first message: a new root
SELECT id AS br2_q1 FROM chat_messages WHERE thread_id = 'br-2' AND seq = 1 \gset
SELECT seq FROM chat_edit_message('br-2', :'br2_q1', 'q1, rephrased');
SELECT string_agg(content, ' | ' ORDER BY seq) AS path FROM chat_history('br-2');
SELECT content, position, total FROM chat_message_siblings('br-2', :'br2_q1');

-- a fork copies the active path, as one line
SELECT chat_fork_thread('br-1', 'br-1-fork');
SELECT string_agg(id, ' ' ORDER BY seq) AS fork, (SELECT active_path FROM chat_threads WHERE id = 'br-1-fork') AS fork_path
FROM chat_messages WHERE thread_id = 'br-1-fork';
SELECT chat_fork_thread('br-1', 'br-1-fork2', up_to_seq => 3);
SELECT string_agg(id, ' ' ORDER BY seq) AS fork_to_3 FROM chat_messages WHERE thread_id = 'br-1-fork2';

-- retention on a branched thread: the log is trimmed by seq, the path reads what is left
SELECT deleted_count, kept_count FROM chat_retention_keep_last(3, 'br-1');
SELECT pg_temp.path('br-1') AS path, pg_temp.exact('br-1') AS exact;

-- ---------------------------------------------------------------------
-- deletes and trims on a branched thread keep the tree whole: a message
-- whose parent was deleted keeps it (as a tombstone), paths run through
-- tombstones, and re-sends of what a client holds store nothing twice
-- ---------------------------------------------------------------------
CREATE FUNCTION pg_temp.c4(tid text) RETURNS int LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT saved_count FROM chat_save_messages(tid, '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"},
                                                      {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}]')); END
$$;
CREATE FUNCTION pg_temp.id_at(tid text, s bigint) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT id FROM chat_messages WHERE thread_id = tid AND seq = s); END
$$;
CREATE FUNCTION pg_temp.contents(tid text) RETURNS text LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN RETURN (SELECT string_agg(content, ' | ' ORDER BY seq) FROM chat_history(tid)); END
$$;
-- a trim below the path: an edit of a message whose parent went is its sibling
SELECT pg_temp.c4('br-t1');
SELECT leaf_seq FROM chat_switch_branch('br-t1', pg_temp.id_at('br-t1', 4));
SELECT deleted_count FROM chat_retention_keep_last(2, 'br-t1');
SELECT seq FROM chat_edit_message('br-t1', pg_temp.id_at('br-t1', 3), 'q2 edited');
-- (the siblings kept first: a statement that joins a chatstore function's
-- result to a chat table would run the function on a Citus worker)
CREATE TEMP TABLE br_t1_siblings AS SELECT * FROM chat_message_siblings('br-t1', pg_temp.id_at('br-t1', 3));
SELECT s.content, m.parent_seq, s.position, s.total FROM br_t1_siblings AS s
JOIN chat_messages m ON m.thread_id = 'br-t1' AND m.id = s.id
ORDER BY s.position;
-- a trim that takes the active leaf: the path keeps its tombstone, the next
-- message continues below it
SELECT saved_count FROM chat_save_messages('br-t2', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}]');
SELECT seq FROM chat_regenerate_message('br-t2', pg_temp.id_at('br-t2', 2), '{"role": "assistant", "content": "r1b"}');
SELECT leaf_seq FROM chat_switch_branch('br-t2', pg_temp.id_at('br-t2', 2));
SELECT deleted_count FROM chat_retention_keep_last(1, 'br-t2');
SELECT first_seq FROM chat_save_messages('br-t2', '[{"role": "user", "content": "q2"}]');
SELECT m.seq, m.parent_seq, x.id IS NOT NULL AS parent_is_tombstone
FROM chat_messages m LEFT JOIN chat_message_tombstones x ON x.thread_id = m.thread_id AND x.seq = m.parent_seq
WHERE m.thread_id = 'br-t2' ORDER BY m.seq DESC LIMIT 1;
-- after a trim, a client re-sending its whole conversation (it still holds
-- the trimmed messages) stores only what is new, also after a switch
SELECT pg_temp.c4('br-t3');
SELECT deleted_count FROM chat_retention_keep_last(2, 'br-t3');
SELECT leaf_seq FROM chat_switch_branch('br-t3', pg_temp.id_at('br-t3', 4));
SELECT active_path FROM chat_threads WHERE id = 'br-t3';
SELECT saved_count, skipped_count FROM chat_save_messages('br-t3', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}, {"role": "user", "content": "q3"}]');
SELECT pg_temp.contents('br-t3') AS path;
-- a message deleted from the middle of the path: a client that still holds
-- it, and one that saw it go, both store only what is new
SELECT pg_temp.c4('br-t4');
SELECT leaf_seq FROM chat_switch_branch('br-t4', pg_temp.id_at('br-t4', 4));
SELECT chat_delete_message('br-t4', pg_temp.id_at('br-t4', 2));
SELECT leaf_seq FROM chat_switch_branch('br-t4', pg_temp.id_at('br-t4', 4));
SELECT saved_count, skipped_count FROM chat_save_messages('br-t4', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}, {"role": "user", "content": "q3"}]');
SELECT saved_count, skipped_count FROM chat_save_messages('br-t4', '[{"role": "user", "content": "q1"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}, {"role": "user", "content": "q3"}, {"role": "assistant", "content": "r3"}]');
SELECT pg_temp.contents('br-t4') AS path;
-- one line, its end deleted and regenerated: the re-send of the new version aligns
SELECT pg_temp.c4('br-t5');
SELECT chat_delete_messages_after('br-t5', pg_temp.id_at('br-t5', 3));
SELECT saved_count, skipped_count FROM chat_save_messages('br-t5', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2, regenerated"}]');
SELECT pg_temp.contents('br-t5') AS line;
-- an empty active path (its only root deleted): an older branch re-sent
-- without ids is still found in the tree
SELECT saved_count FROM chat_save_messages('br-t6', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}]');
SELECT seq FROM chat_edit_message('br-t6', pg_temp.id_at('br-t6', 1), 'q1 v2');
SELECT chat_delete_message('br-t6', pg_temp.id_at('br-t6', 3));
SELECT active_path FROM chat_threads WHERE id = 'br-t6';
SELECT saved_count, skipped_count FROM chat_save_messages('br-t6', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}, {"role": "user", "content": "q2"}]');
SELECT pg_temp.contents('br-t6') AS path;
-- an edit next to a deleted message is still a sibling of the original:
-- after a user delete (the replies moved up) and after a trim
SELECT pg_temp.c4('br-n1');
SELECT chat_delete_message('br-n1', pg_temp.id_at('br-n1', 2));
SELECT seq FROM chat_edit_message('br-n1', pg_temp.id_at('br-n1', 3), 'q2 edited');
SELECT content, position, total FROM chat_message_siblings('br-n1', pg_temp.id_at('br-n1', 3));
SELECT pg_temp.c4('br-n1t');
SELECT deleted_count FROM chat_retention_keep_last(2, 'br-n1t');
SELECT seq FROM chat_edit_message('br-n1t', pg_temp.id_at('br-n1t', 3), 'q2 edited');
SELECT content, position, total FROM chat_message_siblings('br-n1t', pg_temp.id_at('br-n1t', 3));
-- a message deleted while the thread was one line, then a branch: the
-- older branch re-sent as the client now holds it (without the deleted
-- message) stores only what is new
SELECT pg_temp.c4('br-n2');
SELECT chat_delete_message('br-n2', pg_temp.id_at('br-n2', 2));
SELECT seq FROM chat_regenerate_message('br-n2', pg_temp.id_at('br-n2', 4), '{"role": "assistant", "content": "r2b"}');
SELECT saved_count, skipped_count FROM chat_save_messages('br-n2', '[{"role": "user", "content": "q1"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}, {"role": "user", "content": "q3 on r2"}]');
SELECT pg_temp.contents('br-n2') AS path;
-- a trimmed branch off the path does not disturb a re-send of the path's tail
SELECT saved_count FROM chat_save_messages('br-n3', '[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "r1"}]');
SELECT seq FROM chat_regenerate_message('br-n3', pg_temp.id_at('br-n3', 2), '{"role": "assistant", "content": "r1b"}');
SELECT leaf_seq FROM chat_switch_branch('br-n3', pg_temp.id_at('br-n3', 2));
SELECT saved_count FROM chat_save_messages('br-n3', '[{"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}]');
SELECT deleted_count FROM chat_retention_keep_last(2, 'br-n3');
SELECT saved_count, skipped_count FROM chat_save_messages('br-n3', '[{"role": "assistant", "content": "r1"},
    {"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}, {"role": "user", "content": "q3"}]');
SELECT pg_temp.contents('br-n3') AS path;
-- delete-after and delete with replies go on below a trimmed message
SELECT saved_count FROM chat_save_messages('br-n5', '[{"id": "s", "role": "system", "content": "be brief"},
    {"id": "u1", "role": "user", "content": "q1"}, {"id": "a1", "role": "assistant", "content": "r1"},
    {"id": "u2", "role": "user", "content": "q2"}, {"id": "a2", "role": "assistant", "content": "r2"}]');
SELECT leaf_id FROM chat_switch_branch('br-n5', 'a2');
SELECT deleted_count FROM chat_retention_keep_last(2, 'br-n5');
SELECT chat_delete_messages_after('br-n5', 's') AS deleted;
SELECT string_agg(id, ' ' ORDER BY seq) AS left_in_log FROM chat_messages WHERE thread_id = 'br-n5';
-- the last message of a line deleted: the next message's parent is the one
-- before it (not the deleted one), also once the thread branches
SELECT saved_count FROM chat_save_messages('br-n6', '[{"id": "u1", "role": "user", "content": "q1"},
    {"id": "a1", "role": "assistant", "content": "r1"}, {"id": "u2", "role": "user", "content": "q2"}]');
SELECT chat_delete_message('br-n6', 'u2');
SELECT saved_count FROM chat_save_messages('br-n6', '[{"id": "u2b", "role": "user", "content": "q2 again"}]');
SELECT seq FROM chat_edit_message('br-n6', 'u1', 'q1 edited');
SELECT id, parent_id FROM chat_thread_tree('br-n6') WHERE id = 'u2b';
-- delete-after a message whose deleted reply's replies moved up to it
SELECT pg_temp.c4('br-n7');
SELECT chat_delete_message('br-n7', pg_temp.id_at('br-n7', 2));
SELECT chat_delete_messages_after('br-n7', pg_temp.id_at('br-n7', 1)) AS deleted;
SELECT count(*) AS stored FROM chat_messages WHERE thread_id = 'br-n7' \gset
SELECT pg_temp.contents('br-n7') AS path, :stored AS stored;
SELECT count(*) AS threads_not_exact FROM chat_threads t
WHERE (t.id LIKE 'br-t%' OR t.id LIKE 'br-n%') AND (t.message_count <> (SELECT count(*) FROM chat_messages m WHERE m.thread_id = t.id)
                           OR t.tombstone_count <> (SELECT count(*) FROM chat_message_tombstones x WHERE x.thread_id = t.id));

-- ---------------------------------------------------------------------
-- errors: nothing is written
-- ---------------------------------------------------------------------
SELECT regress.try($$SELECT chat_edit_message('br-none', 'u1', 'x')$$);
SELECT regress.try($$SELECT chat_edit_message('br-1', 'no-such', 'x')$$);
SELECT regress.try($$SELECT chat_edit_message('br-1', 'a2b', 'x', 'another-user')$$);
SELECT regress.try($$SELECT chat_edit_message('br-1', 'a2b', NULL)$$);
SELECT regress.try($$SELECT chat_edit_message(NULL, 'a2b', 'x')$$);
SELECT regress.try($$SELECT chat_edit_message('br-1', '', 'x')$$);
SELECT regress.try($$SELECT chat_edit_message('br-1', 'a2b', 'x', new_message_id => 'u1')$$);
SELECT regress.try($$SELECT chat_regenerate_message('br-1', 'u3', '{"role": "assistant", "content": "x"}')$$);
SELECT regress.try($$SELECT chat_regenerate_message('br-1', 'a2b', '{"role": "user", "content": "x"}')$$);
SELECT regress.try($$SELECT chat_regenerate_message('br-1', 'a2b', '"x"')$$);
SELECT regress.try($$SELECT chat_regenerate_message('br-1', 'a2b', '{"role": "assistant", "content": 1}')$$);
SELECT regress.try($$SELECT chat_switch_branch('br-1', 'no-such')$$);
SELECT regress.try($$SELECT chat_switch_branch('br-1', 'u1', '')$$);
SELECT count(*) AS siblings_of_unknown FROM chat_message_siblings('br-1', 'no-such');
SELECT count(*) AS siblings_other_user FROM chat_message_siblings('br-1', 'u3', 'another-user');
SELECT regress.try($$SELECT count(*) FROM chat_message_siblings('br-1', NULL)$$);
SELECT regress.try($$SELECT count(*) FROM chat_thread_tree('')$$);
SELECT pg_temp.path('br-1') AS unchanged, pg_temp.exact('br-1') AS exact;

DELETE FROM chat_threads WHERE id LIKE 'br-%';
DELETE FROM chat_thread_tombstones WHERE id LIKE 'br-%';
