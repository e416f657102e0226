import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { validateUIMessages, type UIMessage } from 'ai';
import { ChatstoreUIMessageStore } from '../src/ai-sdk.js';
import { ChatStore } from '../src/index.js';
import { pool, tid } from './helpers.js';

const db = pool();
after(() => db.end());

const turn1: UIMessage[] = [
  { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'Weather in Porto?' }] },
  {
    id: 'a1', role: 'assistant', metadata: { model: 'fake', createdAt: 1700000000000 },
    parts: [
      { type: 'step-start' },
      { type: 'reasoning', text: 'I should call the weather tool.', state: 'done' },
      { type: 'tool-weather', toolCallId: 'call_1', state: 'output-available', input: { city: 'Porto' }, output: { tempC: 18, sky: 'sunny' } },
      { type: 'step-start' },
      { type: 'text', text: '18C and ', state: 'done' },
      { type: 'text', text: 'sunny.', state: 'done' },
    ],
  },
];

test('onFinish pattern: the whole conversation each turn, stored once', async () => {
  const s = new ChatstoreUIMessageStore(db, { userId: 'alice' });
  const chat = tid('chat');
  const valid = await validateUIMessages({ messages: turn1 });
  const r1 = await s.saveUIMessages(chat, valid);
  assert.deepEqual(r1.savedIds, ['u1', 'a1']);
  const turn2: UIMessage[] = [...turn1,
    { id: 'u2', role: 'user', parts: [{ type: 'text', text: 'And tomorrow?' }, { type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,AAAA', filename: 'x.png' }] },
    { id: 'a2', role: 'assistant', parts: [{ type: 'dynamic-tool', toolName: 'forecast', toolCallId: 'call_2', state: 'output-error', input: { day: 1 }, errorText: 'offline' }, { type: 'text', text: 'Unknown.' }] },
  ];
  const r2 = await s.saveUIMessages(chat, turn2);
  assert.deepEqual([r2.savedCount, r2.skippedCount, r2.savedIds], [2, 2, ['u2', 'a2']]);
  const loaded = await s.loadUIMessages(chat);
  assert.deepEqual(loaded, turn2);
  assert.deepEqual(await validateUIMessages({ messages: loaded }), turn2);
  const h = await new ChatStore(db).history(chat);
  assert.equal(h[1].content, '18C and sunny.');                 // the text, for search and chat_context
  assert.equal(h.length, 4);
});

test('a re-sent assistant message that grew (same id) is updated', async () => {
  const s = new ChatstoreUIMessageStore(db);
  const chat = tid('chat');
  const first: UIMessage[] = [turn1[0], { id: 'a1', role: 'assistant', parts: [{ type: 'tool-weather', toolCallId: 'c', state: 'input-available', input: { city: 'Porto' } }] }];
  await s.saveUIMessages(chat, first);
  const grown: UIMessage[] = [turn1[0], { id: 'a1', role: 'assistant', parts: [{ type: 'tool-weather', toolCallId: 'c', state: 'output-available', input: { city: 'Porto' }, output: 18 }, { type: 'text', text: 'Done.' }] }];
  const r = await s.saveUIMessages(chat, grown);
  assert.equal(r.savedCount, 0);
  assert.deepEqual(await s.loadUIMessages(chat), grown);
});

test('create and delete a chat', async () => {
  const s = new ChatstoreUIMessageStore(db);
  const id = await s.createChat({ title: 'x' });
  assert.deepEqual(await s.loadUIMessages(id), []);
  assert.equal(await s.deleteChat(id), true);
});
