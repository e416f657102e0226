// Runs chatMemory.js against a database that has the chatstore extension
// (connection from the PG* environment):  node --test
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Pool } = require('pg');
const { ChatMemory } = require('./chatMemory');

const pool = new Pool({ max: 2 });
test.after(() => pool.end());
const newMemory = () => new ChatMemory(pool, `js-${crypto.randomUUID()}`);

test('save a turn, re-send it, load model-ready context', async () => {
  const memory = newMemory();
  const t = await memory.newThread({ title: 'Lisbon' });
  let r = await memory.saveTurn(t, [
    { id: 's', role: 'system', content: 'You are a travel guide.' },
    { id: 'u1', role: 'user', content: 'Where should I eat?' },
    { id: 'a1', role: 'assistant', content: 'Try the market.', usage: { prompt_tokens: 12, completion_tokens: 4 } },
  ]);
  assert.deepEqual(r, { savedCount: 3, skippedCount: 0, savedIds: ['s', 'u1', 'a1'], firstSeq: 1, lastSeq: 3 });
  r = await memory.saveTurn(t, [
    { id: 's', role: 'system', content: 'You are a travel guide.' },
    { id: 'u1', role: 'user', content: 'Where should I eat?' },
    { id: 'a1', role: 'assistant', content: 'Try the market.' },
    { id: 'u2', role: 'user', content: 'And for dessert?' },
  ]);
  assert.deepEqual([r.savedCount, r.skippedCount, r.savedIds], [1, 3, ['u2']]);
  assert.deepEqual(await memory.context(t), [
    { role: 'system', content: 'You are a travel guide.' },
    { role: 'user', content: 'Where should I eat?' },
    { role: 'assistant', content: 'Try the market.' },
    { role: 'user', content: 'And for dessert?' },
  ]);
  const small = await memory.context(t, { maxTokens: 12 });
  assert.deepEqual(small.map((m) => m.role), ['system', 'user']);
  assert.equal(small[1].content, 'And for dessert?');
});

test('tool calls come back in the OpenAI shape', async () => {
  const memory = newMemory();
  const t = await memory.newThread();
  const { seq } = await memory.add(t, 'user', 'Weather in Porto?');
  assert.equal(seq, 1);
  const call = [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Porto"}' } }];
  await memory.add(t, 'assistant', null, { id: 'a1', tool_calls: call });
  await memory.add(t, 'tool', '18C, sunny', { tool_call_id: 'call_1' });
  const ctx = await memory.context(t);
  assert.deepEqual(ctx[1], { role: 'assistant', content: null, tool_calls: call });
  assert.deepEqual(ctx[2], { role: 'tool', content: '18C, sunny', tool_call_id: 'call_1' });
  await assert.rejects(memory.add(t, 'assistant', 'again', { id: 'a1' }), /already stored/);
});

test('list threads with a keyset cursor, archive, rename, delete', async () => {
  const memory = newMemory();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await memory.newThread({ title: `t${i}` }));
  for (const t of ids) await memory.add(t, 'user', 'hi');
  const seen = [];
  let cursor = null;
  do {
    const page = await memory.threads({ limit: 2, cursor });
    seen.push(...page.threads.map((x) => x.id));
    cursor = page.next;
  } while (cursor);
  assert.deepEqual(seen, [...ids].reverse());
  assert.equal(await memory.archive(ids[0]), true);
  assert.ok(!(await memory.threads({ limit: 10 })).threads.some((x) => x.id === ids[0]));
  assert.ok((await memory.threads({ limit: 10, includeArchived: true })).threads.some((x) => x.id === ids[0]));
  assert.equal(await memory.rename(ids[1], 'renamed'), true);
  assert.equal(await memory.deleteThread(ids[1]), true);
  assert.equal(await memory.deleteThread(ids[1]), false);
});

test('search with snippets and paging; other users see nothing', async () => {
  const memory = newMemory();
  const t1 = await memory.newThread({ title: 'cooking' });
  const t2 = await memory.newThread({ title: 'travel' });
  await memory.saveTurn(t1, [
    { id: '1', role: 'user', content: 'A recipe for pastel de nata?' },
    { id: '2', role: 'assistant', content: 'Pastel de nata needs puff pastry.' },
  ]);
  await memory.saveTurn(t2, [{ id: '1', role: 'user', content: 'Best pastel de nata in Lisbon?' }]);
  const hits = await memory.search('pastel nata');
  assert.equal(hits.length, 3);
  assert.match(hits[0].snippet, /<b>/);
  assert.deepEqual((await memory.search('lisbon')).map((h) => h.threadId), [t2]);
  assert.equal((await memory.search('nata', { threadId: t1 })).length, 2);
  const first = await memory.search('nata', { limit: 2 });
  const rest = await memory.search('nata', { limit: 2, after: first[first.length - 1] });
  const all = await memory.search('nata');
  assert.deepEqual([...first, ...rest].map((h) => `${h.threadId}/${h.seq}`), all.map((h) => `${h.threadId}/${h.seq}`));
  assert.deepEqual(await new ChatMemory(pool, 'someone-else').search('nata'), []);
});

test("another user's thread is refused", async () => {
  const memory = newMemory();
  const t = await memory.newThread();
  await memory.add(t, 'user', 'private');
  const other = new ChatMemory(pool, 'someone-else');
  await assert.rejects(other.saveTurn(t, [{ role: 'user', content: 'intrusion' }]), (e) => e.code === '42501');
  assert.deepEqual(await other.context(t), []);
  assert.equal(await other.deleteThread(t), false);
  assert.equal((await memory.context(t)).length, 1);
});
