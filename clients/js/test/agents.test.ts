import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentInputItem } from '@openai/agents';
import { ChatstoreSession } from '../src/agents.js';
import { pool, tid } from './helpers.js';

const db = pool();
after(() => db.end());

test('Session contract: add, get with limit, pop, clear', async () => {
  const s = new ChatstoreSession({ db, sessionId: tid('s'), userId: 'alice' });
  assert.equal(await s.getSessionId(), s.sessionId);
  const items: AgentInputItem[] = [
    { role: 'user', content: 'Weather?' },
    { type: 'function_call', callId: 'c1', name: 'weather', arguments: '{}' } as AgentInputItem,
    { type: 'function_call_result', callId: 'c1', name: 'weather', status: 'completed', output: { type: 'text', text: '18C' } } as AgentInputItem,
    { role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: '18C.' }] } as AgentInputItem,
    { role: 'user', content: 'Weather?' },
  ];
  await s.addItems(items);
  const got = await s.getItems();
  assert.equal(got.length, 5);
  assert.deepEqual(got[0], { type: 'message', role: 'user', content: 'Weather?' });
  assert.deepEqual(got[1], items[1]);
  assert.deepEqual((await s.getItems(2)).map((i: any) => i.type), ['message', 'message']);
  assert.deepEqual(await s.getItems(0), []);
  const popped = await s.popItem();
  assert.deepEqual(popped, { type: 'message', role: 'user', content: 'Weather?' });
  assert.equal((await s.getItems()).length, 4);
  await s.clearSession();
  assert.deepEqual(await s.getItems(), []);
  assert.equal(await s.popItem(), undefined);
  await s.addItems([{ role: 'user', content: 'again' }]);
  assert.equal((await s.getItems()).length, 1);
});
