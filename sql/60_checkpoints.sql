-- chatstore 1.6: checkpoints of agent frameworks (chat_checkpoints,
-- chat_checkpoint_writes, chat_checkpoint_put): one row per checkpoint and per
-- task's pending writes, kept with their thread
\pset null '(null)'
-- a checkpoint of a new thread: the thread is made (owned by the user named)
SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c1', record => convert_to('{"p":null}', 'UTF8'),
                           blobs => convert_to('{"x":1}', 'UTF8'), user_id => 'ana');
SELECT id, user_id, message_count FROM chat_get_thread('ck1');
SELECT thread_id, id, ns, convert_from(record, 'UTF8') AS record, convert_from(blobs, 'UTF8') AS blobs, refs
FROM chat_checkpoints ORDER BY thread_id, id;
-- new messages and the next checkpoint in one call; message_ids is what the save must return
SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c2', record => convert_to('{"p":"c1"}', 'UTF8'),
                           refs => '{"x":"c1"}', user_id => 'ana',
                           messages => '[{"id":"u1","role":"user","content":"hi"},{"id":"a1","role":"assistant","content":"yo"}]',
                           message_ids => '{u1,a1}');
SELECT id, role, content FROM chat_history('ck1');
-- not the expected append (a1 is stored already): CS003, nothing stored
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c3', record => '\x7b7d',
                      messages => '[{"id":"a1","role":"assistant","content":"yo"},{"id":"u2","role":"user","content":"again"}]',
                      message_ids => '{a1,u2}', user_id => 'ana')$$);
-- (two statements: on Citus one that reads a chat table and calls a reader is sent whole to a worker)
SELECT count(*) AS checkpoints FROM chat_checkpoints WHERE thread_id = 'ck1';
SELECT count(*) AS messages FROM chat_history('ck1');
-- a batch that starts at a stored message that is not the thread's last: the new messages are a
-- branch below it (the thread becomes a tree)
SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c3', record => '\x7b7d', user_id => 'ana',
                           messages => '[{"id":"u1","role":"user","content":""},{"id":"a2","role":"assistant","content":"other"}]',
                           message_ids => '{a2}');
SELECT id, parent_id FROM chat_thread_tree('ck1', user_id => 'ana') ORDER BY seq;
SELECT id FROM chat_history('ck1');
-- pending writes of c2's task t1: regular writes (idx >= 0) already stored are kept, special
-- ones (idx < 0) replaced; the call returns the idx that were stored before, by key
SELECT chat_checkpoint_put(thread_id => NULL, user_id => 'ana', writes => '[{"k":"a","thread_id":"ck1","checkpoint_id":"c2",
    "task":"t1","path":"p","reg":{"0":{"c":"messages","v":1}},"spec":{"-1":{"c":"__error__","v":"e1"}}}]');
SELECT chat_checkpoint_put(thread_id => NULL, user_id => 'ana', writes => '[{"k":"a","thread_id":"ck1","checkpoint_id":"c2",
    "task":"t1","path":"p","reg":{"0":{"c":"messages","v":2},"1":{"c":"x","v":3}},"spec":{"-1":{"c":"__error__","v":"e2"}}}]');
-- with a checkpoint in the same call; and the writes of a checkpoint not stored (yet)
SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c4', record => '\x7b7d', user_id => 'ana',
    writes => '[{"k":"b","thread_id":"ck1","checkpoint_id":"c2","task":"t2","path":"q","reg":{"0":{"c":"y","v":4}},"spec":{}},
                {"k":"c","thread_id":"ck1","checkpoint_id":"c9","task":"t1","path":"","reg":{"0":{"c":"y","v":5}},"spec":{}}]');
-- patches replace stored writes (idx stored only)
SELECT chat_checkpoint_put(thread_id => NULL, user_id => 'ana',
    patches => '[{"thread_id":"ck1","checkpoint_id":"c2","task":"t1","w":{"0":{"c":"messages","m":["u1"]},"5":{"c":"z"}}}]');
SELECT checkpoint_id, task, path, writes FROM chat_checkpoint_writes WHERE thread_id = 'ck1' ORDER BY 1, 2;
-- a stored checkpoint id: its record, blobs and refs are replaced
SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c2', record => convert_to('{"again":1}', 'UTF8'), user_id => 'ana');
SELECT id, convert_from(record, 'UTF8') AS record, blobs, refs FROM chat_checkpoints WHERE thread_id = 'ck1' ORDER BY id;
-- another user's thread does not exist for the caller; nothing is written
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c5', record => '\x7b7d', user_id => 'bob')$$);
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => NULL, user_id => 'bob', writes => '[{"k":"a","thread_id":"ck1","checkpoint_id":"c2","task":"t1","reg":{},"spec":{}}]')$$);
SELECT count(*) FROM chat_checkpoints WHERE thread_id = 'ck1' AND id = 'c5';
-- argument errors
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => NULL, checkpoint_id => 'c1', record => '\x7b7d')$$);
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c6')$$);
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => '', record => '\x7b7d')$$);
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', writes => '{}')$$);
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', writes => '[{"k":"a","thread_id":"ck1","task":"t1"}]')$$);
SELECT regress.try($$SELECT chat_checkpoint_put(thread_id => 'ck1', checkpoint_id => 'c7', record => '\x7b7d', refs => '[]', user_id => 'ana')$$);
-- a namespace: the rows keep it
SELECT chat_checkpoint_put(thread_id => 'ck1|sub', ns => 'sub', checkpoint_id => 'c1', record => '\x7b7d', user_id => 'ana');
SELECT thread_id, id, ns FROM chat_checkpoints WHERE thread_id LIKE 'ck1%' ORDER BY 1, 2;
-- the rows go with their thread (chat_delete_thread, chat_delete_user_data)
SELECT chat_delete_thread('ck1', 'ana');
SELECT thread_id, id FROM chat_checkpoints WHERE thread_id LIKE 'ck1%' ORDER BY 1, 2;
SELECT count(*) FROM chat_checkpoint_writes WHERE thread_id = 'ck1';
SELECT chat_delete_user_data('ana') ->> 'threads' AS threads_deleted;
SELECT count(*) FROM chat_checkpoints WHERE thread_id LIKE 'ck1%';
