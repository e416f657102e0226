import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AIMessage, HumanMessage, type BaseMessage } from '@langchain/core/messages';
import { StateGraph, MessagesAnnotation, START, END, interrupt, Command } from '@langchain/langgraph';
import { ChatstoreSaver } from '../src/langgraph.js';
import { ChatStore } from '../src/index.js';
import { pool, tid } from './helpers.js';

const db = pool();
const store = new ChatStore(db);
after(() => db.end());

// a fake deterministic model: answers "echo: <last human text>"
function graph(saver: ChatstoreSaver, withInterrupt = false) {
  return new StateGraph(MessagesAnnotation)
    .addNode('model', (s) => {
      const last = [...s.messages].reverse().find((m) => m.getType() === 'human');
      let text = `echo: ${last?.content}`;
      if (withInterrupt) text += ` approved=${interrupt({ ask: 'approve?' })}`;
      return { messages: [new AIMessage({ id: randomUUID(), content: text })] };
    })
    .addEdge(START, 'model').addEdge('model', END)
    .compile({ checkpointer: saver });
}
const texts = (ms: BaseMessage[]) => ms.map((m) => `${m.getType()}:${m.content}`);

test('messages are stored once as chatstore messages; state reads back', async () => {
  const saver = new ChatstoreSaver(db);
  const g = graph(saver);
  const cfg = { configurable: { thread_id: tid('lg') } };
  for (const q of ['one', 'two', 'three']) await g.invoke({ messages: [new HumanMessage({ id: randomUUID(), content: q })] }, cfg);
  const st = await g.getState(cfg);
  assert.deepEqual(texts(st.values.messages), ['human:one', 'ai:echo: one', 'human:two', 'ai:echo: two', 'human:three', 'ai:echo: three']);
  const h = await store.history(saver.chatThreadId(cfg.configurable.thread_id));
  assert.equal(h.length, 6);                               // each message once
  assert.equal((await store.threadTree(saver.chatThreadId(cfg.configurable.thread_id))).length, 6);
});

test('time travel and fork: a chatstore branch; old checkpoints keep their messages', async () => {
  const saver = new ChatstoreSaver(db);
  const g = graph(saver);
  const thread = tid('lg');
  const cfg = { configurable: { thread_id: thread } };
  await g.invoke({ messages: [new HumanMessage({ id: 'h1', content: 'one' })] }, cfg);
  await g.invoke({ messages: [new HumanMessage({ id: 'h2', content: 'two' })] }, cfg);
  const hist = [];
  for await (const s of g.getStateHistory(cfg)) hist.push(s);
  const afterOne = hist.find((s) => s.values.messages?.length === 2 && s.next.length === 0)!;
  assert.deepEqual(texts(afterOne.values.messages), ['human:one', 'ai:echo: one']);
  // fork from the checkpoint after turn one
  await g.invoke({ messages: [new HumanMessage({ id: 'h2b', content: 'other' })] }, afterOne.config);
  const now = await g.getState(cfg);
  assert.deepEqual(texts(now.values.messages), ['human:one', 'ai:echo: one', 'human:other', 'ai:echo: other']);
  const tree = await store.threadTree(saver.chatThreadId(thread));
  assert.equal(tree.length, 6);
  assert.equal(tree.find((n) => n.id === 'h2b')?.parent_id, tree.find((n) => n.id === 'h2')?.parent_id);   // siblings
  // the old branch still reads
  const old = [];
  for await (const s of g.getStateHistory(cfg)) old.push(s);
  const oldLast = old.find((s) => s.values.messages?.some((m: BaseMessage) => m.id === 'h2') && s.next.length === 0)!;
  assert.deepEqual(texts(oldLast.values.messages), ['human:one', 'ai:echo: one', 'human:two', 'ai:echo: two']);
  // time travel: replay from an old checkpoint's config reads that state
  const back = await g.getState(afterOne.config);
  assert.deepEqual(texts(back.values.messages), ['human:one', 'ai:echo: one']);
});

test('interrupt and resume', async () => {
  const saver = new ChatstoreSaver(db);
  const g = graph(saver, true);
  const cfg = { configurable: { thread_id: tid('lg') } };
  await g.invoke({ messages: [new HumanMessage({ id: randomUUID(), content: 'pay' })] }, cfg);
  const st = await g.getState(cfg);
  assert.deepEqual(st.next, ['model']);
  assert.equal(st.tasks[0].interrupts[0].value.ask, 'approve?');
  // a new saver instance (another process) resumes
  const g2 = graph(new ChatstoreSaver(db), true);
  const out = await g2.invoke(new Command({ resume: 'yes' }), cfg);
  assert.deepEqual(texts(out.messages), ['human:pay', 'ai:echo: pay approved=yes']);
});

test('deleteThread removes checkpoints and messages; the thread can be used again', async () => {
  const saver = new ChatstoreSaver(db);
  const g = graph(saver);
  const thread = tid('lg');
  const cfg = { configurable: { thread_id: thread } };
  await g.invoke({ messages: [new HumanMessage({ id: 'h1', content: 'one' })] }, cfg);
  await saver.deleteThread(thread);
  assert.equal(await saver.getTuple(cfg), undefined);
  assert.equal((await store.history(saver.chatThreadId(thread))).length, 0);
  await g.invoke({ messages: [new HumanMessage({ id: 'h1', content: 'again' })] }, cfg);
  assert.deepEqual(texts((await g.getState(cfg)).values.messages), ['human:again', 'ai:echo: again']);
});

test('a messages value that is not an append is stored as a value', async () => {
  const saver = new ChatstoreSaver(db);
  const g = graph(saver);
  const cfg = { configurable: { thread_id: tid('lg') } };
  await g.invoke({ messages: [new HumanMessage({ id: 'h1', content: 'one' })] }, cfg);
  // replace the human message's content (same id): not an append
  await g.updateState(cfg, { messages: [new HumanMessage({ id: 'h1', content: 'ONE' })] });
  assert.deepEqual(texts((await g.getState(cfg)).values.messages), ['human:ONE', 'ai:echo: one']);
});
