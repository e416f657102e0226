import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatStore, isSqlState, THREAD_DELETED } from '../src/index.js';
import { pool, tid } from './helpers.js';

const db = pool();
const store = new ChatStore(db);
after(() => db.end());

test('save, dedup, history, context, items', async () => {
  const t = tid();
  const msgs = [
    { id: 'm1', role: 'user', content: 'Weather in Porto?' },
    { id: 'm2', role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Porto"}' } }] },
    { id: 'm3', role: 'tool', tool_call_id: 'c1', content: '18C' },
    { id: 'm4', role: 'assistant', content: '18C and sunny.', model: 'gpt-4o', usage: { input_tokens: 20, output_tokens: 6 } },
  ];
  const r = await store.saveMessages(t, msgs, { userId: 'alice' });
  assert.deepEqual([r.savedCount, r.skippedCount, r.savedIds], [4, 0, ['m1', 'm2', 'm3', 'm4']]);
  assert.equal(r.firstSeq, 1);
  const again = await store.saveMessages(t, [...msgs, { id: 'm5', role: 'user', content: 'thanks' }], { userId: 'alice' });
  assert.deepEqual([again.savedCount, again.skippedCount, again.savedIds], [1, 4, ['m5']]);
  const h = await store.history(t);
  assert.deepEqual(h.map((m) => [m.seq, m.id, m.role]), [[1, 'm1', 'user'], [2, 'm2', 'assistant'], [3, 'm3', 'tool'], [4, 'm4', 'assistant'], [5, 'm5', 'user']]);
  assert.equal((await store.history(t, { maxMessages: 2 })).length, 2);
  const chat = await store.context(t);
  assert.equal(chat[0].role, 'user');
  assert.equal((chat[1] as any).tool_calls[0].function.name, 'weather');
  const resp = await store.context(t, { format: 'responses' });
  assert.ok(resp.some((i) => i.type === 'function_call'));
  const items = await store.items(t);
  assert.ok(items.some((i) => i.item.type === 'function_call_output'));
  const ap = await store.appendMessages(t, [{ type: 'message', role: 'user', content: 'ok' }, { type: 'message', role: 'user', content: 'ok' }]);
  assert.equal(ap.savedCount, 2);
  const one = await store.addMessage(t, 'user', 'hello', { userId: 'alice', messageId: 'm9' });
  assert.equal(one.id, 'm9');
  const usage = await store.threadUsage(t);
  assert.equal(usage?.total_tokens, 26);
});

test('threads: create, get, list, update, fork, delete, reset', async () => {
  const user = tid('u');
  const th = await store.createThread({ userId: user, title: 'Trip', metadata: { project: 'x' } });
  assert.equal(th.title, 'Trip');
  await store.saveMessages(th.id, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], { userId: user });
  assert.equal((await store.getThread(th.id, { userId: user }))?.message_count, 2);
  assert.equal(await store.getThread(th.id, { userId: 'someone-else' }), null);
  assert.deepEqual((await store.listThreads(user, { metadataFilter: { project: 'x' } })).map((x) => x.id), [th.id]);
  const up = await store.updateThread(th.id, { title: 'Renamed', userId: user });
  assert.equal(up?.title, 'Renamed');
  const fork = await store.forkThread(th.id, { upToSeq: 1 });
  assert.equal((await store.history(fork)).length, 1);
  assert.equal(await store.deleteThread(th.id, { userId: user }), true);
  await assert.rejects(store.saveMessages(th.id, [{ role: 'user', content: 'c' }], { userId: user }),
    (e) => isSqlState(e, THREAD_DELETED));
  await store.resetThread(th.id, { userId: user });
  assert.equal((await store.saveMessages(th.id, [{ role: 'user', content: 'c' }], { userId: user })).savedCount, 1);
});

test('search', async () => {
  const user = tid('u');
  const t = tid();
  await store.saveMessages(t, [{ role: 'user', content: 'where to eat pastel de nata in Lisbon' }, { role: 'assistant', content: 'Try Belem.' }], { userId: user });
  const r = await store.search('pastel de nata', { userId: user });
  assert.equal(r.length, 1);
  assert.equal(r[0].thread_id, t);
  assert.equal(r[0].seq, 1);
  assert.match(r[0].snippet, /nata/);
});

test('branches: edit, regenerate, siblings, switch, delete', async () => {
  const t = tid();
  await store.saveMessages(t, [
    { id: 'u1', role: 'user', content: 'Weather in Paris?' },
    { id: 'a1', role: 'assistant', content: 'Sunny.' },
  ]);
  const e = await store.editMessage(t, 'u1', 'Weather in Rome?', { newMessageId: 'u1b' });
  assert.equal(e.id, 'u1b');
  assert.deepEqual((await store.history(t)).map((m) => m.id), ['u1b']);
  await store.saveMessages(t, [{ id: 'u1b', role: 'user', content: 'Weather in Rome?' }, { id: 'a2', role: 'assistant', content: 'Rainy.' }]);
  const g = await store.regenerateMessage(t, 'a2', { id: 'a3', role: 'assistant', content: 'Cloudy.' });
  assert.equal(g.id, 'a3');
  const sib = await store.messageSiblings(t, 'a2');
  assert.deepEqual(sib.map((s) => [s.id, s.position, s.total, s.active]), [['a2', 1, 2, false], ['a3', 2, 2, true]]);
  const sw = await store.switchBranch(t, 'u1');
  assert.equal(sw.id, 'a1');
  assert.deepEqual((await store.history(t)).map((m) => m.id), ['u1', 'a1']);
  assert.equal((await store.threadTree(t)).length, 5);
  assert.equal(await store.deleteMessage(t, 'a1'), 1);
  assert.deepEqual((await store.history(t)).map((m) => m.id), ['u1']);
  assert.equal((await store.getMessage(t, 'a3'))?.content, 'Cloudy.');
  const upd = await store.updateMessage(t, 'a3', { content: 'Cloudy, 14C.' });
  assert.equal(upd?.content, 'Cloudy, 14C.');
});

test('streaming, compaction, feedback', async () => {
  const t = tid();
  await store.saveMessages(t, [{ id: 'u1', role: 'user', content: 'Tell me a story' }], { userId: 'bob' });
  const s = await store.streamStart(t, { messageId: 'a1', model: 'gpt-4o', userId: 'bob' });
  assert.equal(s.id, 'a1');
  assert.equal(await store.streamAppend(t, 'a1', 'Once ', { userId: 'bob' }), 5);
  await store.streamAppend(t, 'a1', 'upon a time.', { userId: 'bob' });
  assert.deepEqual(await store.streamRead(t, 'a1', { fromOffset: 5, userId: 'bob' }), { status: 'in_progress', text: 'upon a time.', endOffset: 17 });
  assert.equal((await store.context(t)).length, 1);          // in-progress left out
  const fin = await store.streamFinish(t, 'a1', { finishReason: 'stop', usage: { input_tokens: 5, output_tokens: 4 }, userId: 'bob' });
  assert.equal(fin.content, 'Once upon a time.');
  const sid = await store.compact(t, 2, 'A story was told.', { userId: 'bob' });
  assert.equal(sid, 1);
  assert.equal((await store.summaries(t, { userId: 'bob' }))[0].up_to_seq, 2);
  const ctx = await store.context(t);
  assert.equal(ctx.length, 1);
  assert.match(String(ctx[0].content), /A story was told/);
  assert.equal(await store.deleteSummary(t, sid, { userId: 'bob' }), true);
  const f = await store.setFeedback(t, 'a1', -1, { tag: 'boring', comment: 'meh', userId: 'bob' });
  assert.equal(f.rating, -1);
  assert.equal((await store.listFeedback(t, { userId: 'bob' })).length, 1);
  assert.equal(await store.deleteFeedback(t, 'a1', { userId: 'bob' }), true);
});

test('kv and agent state', async () => {
  const k = tid('k');
  await store.kvSet(k, { a: 1 });
  assert.deepEqual(await store.kvGet(k), { a: 1 });
  assert.equal(await store.kvDelete(k), true);
  assert.equal(await store.kvGet(k), null);
  const v = await store.agentStateSave('planner', k, { step: 1 });
  assert.equal(v, 1);
  assert.deepEqual(await store.agentStateLoad('planner', k), { state: { step: 1 }, version: 1 });
});
