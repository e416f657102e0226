import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from '@langchain/core/messages';
import { ChatstoreChatMessageHistory } from '../src/langchain.js';
import { ChatStore } from '../src/index.js';
import { pool, tid } from './helpers.js';

const db = pool();
after(() => db.end());

function conversation() {
  return [
    new SystemMessage({ content: 'You are terse.', id: 's1' }),
    new HumanMessage({ content: 'Weather in Porto?', id: 'h1' }),
    new AIMessage({ content: '', id: 'a1', tool_calls: [{ id: 'call_1', name: 'weather', args: { city: 'Porto' }, type: 'tool_call' }],
      usage_metadata: { input_tokens: 10, output_tokens: 3, total_tokens: 13 }, response_metadata: { model_name: 'fake' } }),
    new ToolMessage({ content: '18C', tool_call_id: 'call_1', id: 't1', name: 'weather' }),
    new AIMessage({ content: '18C and sunny.', id: 'a2', additional_kwargs: { extra: 1 } }),
  ];
}

test('round trip with tool calls', async () => {
  const h = new ChatstoreChatMessageHistory({ db, threadId: tid(), userId: 'alice' });
  const msgs = conversation();
  await h.addMessages(msgs);
  const back = await h.getMessages();
  assert.equal(back.length, 5);
  assert.deepEqual(back.map((m) => m.getType()), ['system', 'human', 'ai', 'tool', 'ai']);
  for (let i = 0; i < msgs.length; i++) {
    assert.equal(back[i].id, msgs[i].id);
    assert.deepEqual(back[i].content, msgs[i].content);
  }
  const ai = back[2] as AIMessage;
  assert.ok(AIMessage.isInstance(ai));
  assert.deepEqual(ai.tool_calls?.map((c) => [c.id, c.name, c.args]), [['call_1', 'weather', { city: 'Porto' }]]);
  assert.deepEqual(ai.usage_metadata, { input_tokens: 10, output_tokens: 3, total_tokens: 13 });
  assert.equal((back[3] as ToolMessage).tool_call_id, 'call_1');
  assert.deepEqual(back[4].additional_kwargs, { extra: 1 });
  // chatstore columns: chat_context sends the tool call to a model
  const ctx = await new ChatStore(db).context(h.threadId);
  assert.equal((ctx[2] as any).tool_calls[0].function.name, 'weather');
  assert.equal(ctx[3].tool_call_id, 'call_1');
});

test('addMessage, addUserMessage, addAIMessage, re-send stores nothing twice, repeats without ids are kept', async () => {
  const h = new ChatstoreChatMessageHistory({ db, threadId: tid() });
  const msgs = conversation();
  await h.addMessages(msgs);
  await h.addMessages(msgs);                         // same ids: dedup
  assert.equal((await h.getMessages()).length, 5);
  await h.addMessage(new HumanMessage('ok'));
  await h.addUserMessage('ok');                      // no id: a new uuid each, stored again
  await h.addAIMessage('fine');
  const all = await h.getMessages();
  assert.deepEqual(all.slice(5).map((m) => [m.getType(), m.content]), [['human', 'ok'], ['human', 'ok'], ['ai', 'fine']]);
});

test('clear deletes and re-creates the thread; saves work after it', async () => {
  const h = new ChatstoreChatMessageHistory({ db, threadId: tid(), userId: 'bob' });
  await h.addMessages(conversation());
  await h.clear();
  assert.deepEqual(await h.getMessages(), []);
  await h.addMessages([new HumanMessage({ content: 'again', id: 'h1' })]);   // an id deleted before: a new thread takes it
  assert.deepEqual((await h.getMessages()).map((m) => m.content), ['again']);
  await h.clear();
  await h.clear();
  assert.deepEqual(await h.getMessages(), []);
});
