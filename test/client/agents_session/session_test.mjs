// ChatstoreSession under the real @openai/agents SDK, against a live chatstore
// database (PGHOST/PGPORT/PGUSER/PGDATABASE from run.sh). No network, no API key:
// the agent runs use FakeModel, a deterministic implementation of the SDK's
// Model interface (getResponse / getStreamedResponse).
//
//   node --test session_test.mjs
process.env.OPENAI_AGENTS_DISABLE_TRACING ??= '1';

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { z } from 'zod';
import { Agent, MemorySession, Usage, run, tool } from '@openai/agents';
import { ChatstoreSession, encodeItem } from './chatstore_session.mjs';

let pool;
let threadNo = 0;
const newThread = (tag) => `agents-${tag}-${process.pid}-${++threadNo}`;

before(async () => {
  pool = new pg.Pool({ max: 4 });
  const r = await pool.query("SELECT extversion FROM pg_extension WHERE extname = 'chatstore'");
  assert.equal(r.rows.length, 1, 'chatstore is installed in the test database');
});
after(async () => { await pool?.end(); });

// ---------------------------------------------------------------- helpers

/** JSON text with the keys of every object sorted: equal iff the JSON values are equal. */
function canon(v) {
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    return '{' + Object.keys(v).filter((k) => v[k] !== undefined).sort()
      .map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}
function assertSameItems(actual, expected, msg) {
  // what the session stores: a message without "type" reads back with "type": "message"
  expected = expected.map(encodeItem);
  assert.equal(actual.length, expected.length, `${msg}: item count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(canon(actual[i]), canon(expected[i]), `${msg}: item ${i}`);
  }
  // and the plain deep comparison, on the JSON of the expected items
  assert.deepStrictEqual(actual, JSON.parse(JSON.stringify(expected)), msg);
}

/** Items of every kind a session meets; each one round-trips as given. */
function sampleItems(tag = 'x') {
  return [
    { type: 'message', role: 'system', content: `You are terse (${tag}).` },
    { type: 'message', role: 'user', content: `Weather in Porto? ${tag}` },
    // a user message without "type", as the SDK accepts it, with providerData
    // (it reads back as a "message" item: assertSameItems expects that)
    { role: 'user', content: [{ type: 'input_text', text: `and Lisbon ${tag}` }], providerData: { source: 'ui', n: 1 } },
    {
      type: 'reasoning', id: `rs_${tag}_1`,
      content: [{ type: 'input_text', text: 'thinking about the weather' }],
      rawContent: [{ type: 'reasoning_text', text: 'raw chain' }],
      summary: [{ type: 'summary_text', text: 'Looked up the weather.' }],
      encrypted_content: 'gAAAAABo' + 'Zm9vYmFy'.repeat(40) + '==',
      providerData: { encryptedContent: 'gAAAAABoZW5j', model: 'o4-mini', effort: 'high', nested: { a: [1, 2.5, -3e-7, null, true] } },
    },
    {
      id: `fc_${tag}_1`, type: 'function_call', callId: `call_${tag}_1`, name: 'get_weather',
      arguments: '{"city":"Porto"}', status: 'completed', providerData: { index: 0 },
    },
    {
      type: 'function_call_result', name: 'get_weather', callId: `call_${tag}_1`, status: 'completed',
      output: { type: 'text', text: '18°C, fog ☁️ — "quoted" \\ backslash\nnewline' },
    },
    // the raw Responses shapes too
    { type: 'function_call', call_id: `call_${tag}_2`, name: 'get_weather', arguments: '{"city":"Lisbon"}' },
    { type: 'function_call_output', call_id: `call_${tag}_2`, output: '21°C' },
    {
      id: `msg_${tag}_1`, type: 'message', role: 'assistant', status: 'completed',
      content: [{ type: 'output_text', text: `Porto 18°C, Lisbon 21°C ${tag}`, annotations: [], providerData: { logprobs: [] } }],
    },
    // a hosted tool call the session knows nothing about
    { type: 'hosted_tool_call', id: `ws_${tag}_1`, name: 'web_search_call', status: 'completed', providerData: { action: { type: 'search', query: 'porto weather' } } },
    { type: 'message', role: 'user', content: '' },
  ];
}

// ---------------------------------------------------------------- (a) the Session contract

describe('Session contract', () => {
  test('getSessionId is the thread id; a new session without id gets a uuid', async () => {
    const s = new ChatstoreSession({ db: pool, sessionId: 'sess-id-check' });
    assert.equal(await s.getSessionId(), 'sess-id-check');
    const anon = new ChatstoreSession({ db: pool });
    assert.match(await anon.getSessionId(), /^[0-9a-f-]{36}$/);
    assert.deepStrictEqual(await anon.getItems(), [], 'an unknown thread has no items');
    assert.equal(await anon.popItem(), undefined, 'popItem of an empty session');
  });

  test('addItems then getItems: every item back, equal, in order; one row per item', async () => {
    const thread = newThread('roundtrip');
    const s = new ChatstoreSession({ db: pool, sessionId: thread, userId: 'alice' });
    const items = sampleItems('a');
    await s.addItems(items);
    assertSameItems(await s.getItems(), items, 'round trip');

    // one chat_save_messages call stored one row per item, with the item roles of the contract
    const rows = (await pool.query(
      'SELECT role, tool_call_id FROM chat_history($1)', [thread])).rows;
    assert.deepStrictEqual(rows.map((r) => r.role),
      ['system', 'user', 'user', 'assistant', 'assistant', 'tool', 'assistant', 'tool', 'assistant', 'assistant', 'user']);
    assert.equal(rows[4].tool_call_id, 'call_a_1', 'function_call: tool_call_id from callId');
    assert.equal(rows[5].tool_call_id, 'call_a_1', 'function_call_result: tool_call_id from callId');
    assert.equal(rows[7].tool_call_id, 'call_a_2', 'function_call_output: tool_call_id from call_id');
    const owner = (await pool.query('SELECT user_id FROM chat_get_thread($1)', [thread])).rows[0];
    assert.equal(owner.user_id, 'alice', 'the first save created the thread for the session user');

    // more batches append after
    const more = [{ type: 'message', role: 'user', content: 'thanks' }];
    await s.addItems(more);
    await s.addItems([]);
    assertSameItems(await s.getItems(), [...items, ...more], 'after a second batch');
  });

  test('getItems(limit): the newest items, oldest first', async () => {
    const s = new ChatstoreSession({ db: pool, sessionId: newThread('limit') });
    const items = sampleItems('l');
    await s.addItems(items);
    assertSameItems(await s.getItems(3), items.slice(-3), 'limit 3');
    assertSameItems(await s.getItems(1), items.slice(-1), 'limit 1');
    assertSameItems(await s.getItems(items.length), items, 'limit = count');
    assertSameItems(await s.getItems(1000), items, 'limit over count');
    assert.deepStrictEqual(await s.getItems(0), [], 'limit 0 (as MemorySession)');
    assertSameItems(await s.getItems(undefined), items, 'no limit');
  });

  test('popItem returns the last item and removes it; then the one before', async () => {
    const s = new ChatstoreSession({ db: pool, sessionId: newThread('pop') });
    const items = sampleItems('p');
    await s.addItems(items);
    const last = await s.popItem();
    assertSameItems([last], [items.at(-1)], 'first pop');
    const second = await s.popItem();
    assertSameItems([second], [items.at(-2)], 'second pop');
    assertSameItems(await s.getItems(), items.slice(0, -2), 'after two pops');
    // the reasoning item (encrypted_content, providerData) comes back whole through pop too
    const rest = await s.getItems();
    const idx = rest.findIndex((i) => i.type === 'reasoning');
    for (let k = rest.length - 1; k > idx; k--) await s.popItem();
    assertSameItems([await s.popItem()], [items[idx]], 'popped reasoning item');
  });

  test('clearSession empties the thread and it takes new items (no CS002), same owner', async () => {
    const thread = newThread('clear');
    const s = new ChatstoreSession({ db: pool, sessionId: thread, userId: 'bob' });
    await s.addItems(sampleItems('c'));
    await s.clearSession();
    assert.deepStrictEqual(await s.getItems(), []);
    assert.equal(await s.popItem(), undefined);
    const again = [{ type: 'message', role: 'user', content: `Weather in Porto? c` }];
    await s.addItems(again);
    assertSameItems(await s.getItems(), again, 'after clear');
    const owner = (await pool.query('SELECT user_id FROM chat_get_thread($1)', [thread])).rows[0];
    assert.equal(owner.user_id, 'bob');
    // clearing a session that was never saved to also works, twice
    const fresh = new ChatstoreSession({ db: pool, sessionId: newThread('clear-fresh'), userId: 'bob' });
    await fresh.clearSession();
    await fresh.clearSession();
    await fresh.addItems(again);
    assertSameItems(await fresh.getItems(), again, 'fresh after clear');
  });

  test('clearSession by another user fails and changes nothing', async () => {
    const thread = newThread('clear-atomic');
    const s = new ChatstoreSession({ db: pool, sessionId: thread, userId: 'carol' });
    const items = sampleItems('ca');
    await s.addItems(items);
    // another user's session on the same thread: the delete is refused (false)
    // and chat_create_thread fails (the id exists): the transaction rolls back
    const intruder = new ChatstoreSession({ db: pool, sessionId: thread, userId: 'mallory' });
    await assert.rejects(intruder.clearSession());
    assertSameItems(await s.getItems(), items, 'carol keeps her items');
  });

  test('a "restart": a second session object on the same thread reads the same items', async () => {
    const thread = newThread('restart');
    const items = sampleItems('r');
    await new ChatstoreSession({ db: pool, sessionId: thread }).addItems(items);
    const otherPool = new pg.Pool({ max: 1 });
    try {
      const s2 = new ChatstoreSession({ db: otherPool, sessionId: thread });
      assertSameItems(await s2.getItems(), items, 'restarted session');
    } finally {
      await otherPool.end();
    }
    // with a single pg.Client too
    const client = new pg.Client();
    await client.connect();
    try {
      const s3 = new ChatstoreSession({ db: client, sessionId: thread });
      assertSameItems(await s3.getItems(2), items.slice(-2), 'client session, limit');
      await s3.clearSession();
      assert.deepStrictEqual(await s3.getItems(), []);
    } finally {
      await client.end();
    }
  });

  // What id-less and id dedup would drop (doc/data-model.md#dedup): the session
  // must append every item all the same, like MemorySession does.
  test('items chatstore would deduplicate are all kept (differential against MemorySession)', async () => {
    const s = new ChatstoreSession({ db: pool, sessionId: newThread('dedup') });
    const m = new MemorySession();
    const both = async (op, ...args) => {
      const [a, b] = [await s[op](...args), await m[op](...args)];
      if (op === 'popItem') assertSameItems(a === undefined ? [] : [a], b === undefined ? [] : [b], 'pop');
    };
    const ok = { type: 'message', role: 'user', content: 'ok' };
    const reply = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sure.' }], status: 'completed' };
    await both('addItems', [ok]);
    await both('addItems', [ok]); // the same text again, as a new turn: aligned away by chatstore
    await both('addItems', [ok, ok]); // twice in one batch
    await both('addItems', [reply]);
    await both('addItems', [ok, reply]); // a whole turn equal to the stored tail
    await both('popItem');
    await both('addItems', [reply]); // re-added after popItem: aligned against its tombstone
    // Chat Completions model style: every output item of a response has the response's id
    const cc = [
      { id: 'chatcmpl-1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Looking.' }] },
      { id: 'chatcmpl-1', type: 'function_call', callId: 'call_x', name: 'get_weather', arguments: '{}', status: 'completed' },
      { id: 'chatcmpl-1', type: 'function_call', callId: 'call_y', name: 'get_weather', arguments: '{"city":"Faro"}', status: 'completed' },
    ];
    await both('addItems', cc);
    await both('popItem');
    await both('addItems', [cc[2]]); // the same id after popItem: a tombstoned id
    await both('addItems', [cc[2]]); // and once more: an id already in the thread
    const expected = await m.getItems();
    assert.equal(expected.length, 11);
    assertSameItems(await s.getItems(), expected, 'chatstore session = MemorySession');
    assertSameItems(await s.getItems(4), await m.getItems(4), 'limit 4');
  });

  test('documented dedup, for reference: chat_save_messages skips the same id-less text, chat_append_messages keeps it', async () => {
    // why the session appends with chat_append_messages (chatstore_session.mjs)
    const thread = newThread('raw-dedup');
    const call = async (fn, items) => (await pool.query(
      `SELECT saved_count, skipped_count FROM ${fn}($1, $2::jsonb)`,
      [thread, JSON.stringify(items)])).rows[0];
    const ok = { type: 'message', role: 'user', content: 'ok' };
    assert.deepStrictEqual(await call('chat_save_messages', [ok]), { saved_count: 1, skipped_count: 0 });
    assert.deepStrictEqual(await call('chat_save_messages', [ok]), { saved_count: 0, skipped_count: 1 });
    assert.deepStrictEqual(await call('chat_append_messages', [ok]), { saved_count: 1, skipped_count: 0 });
    const r = await pool.query('SELECT count(*)::int AS n FROM chat_items($1)', [thread]);
    assert.equal(r.rows[0].n, 2);
  });

  test('stored items are the items: an item keeps its own id, the row gets a new one', async () => {
    const thread = newThread('stored');
    const s = new ChatstoreSession({ db: pool, sessionId: thread });
    const items = sampleItems('st');
    await s.addItems(items);
    const rows = (await pool.query('SELECT id, item FROM chat_items($1)', [thread])).rows;
    assert.equal(rows.length, items.length);
    const rowIds = new Set(rows.map((r) => r.id));
    assert.equal(rowIds.size, rows.length, 'every row has its own id');
    rows.forEach((row, i) => {
      assert.equal(canon(row.item), canon(encodeItem(JSON.parse(JSON.stringify(items[i])))), `stored item ${i}`);
      assert.notEqual(row.id, row.item.id, 'the row id is not the item id');
    });
  });

  // chat_context's format 'responses' gives the Responses API's shapes for
  // the SDK's own items (call_id, function_call_output, no providerData)
  test('chat_context format responses uses Responses API item shapes (call_id, function_call_output)', async () => {
    const thread = newThread('shapes');
    const session = new ChatstoreSession({ db: pool, sessionId: thread });
    await session.addItems(sampleItems('sh'));
    const responses = (await pool.query(
      "SELECT chat_context($1, format => 'responses') AS c", [thread])).rows[0].c;
    assertResponsesShapes(responses);
    assert.ok(responses.some((it) => it.type === 'function_call_output' && it.call_id === 'call_sh_1'),
      'the function_call_result became a function_call_output');
    for (const it of responses) {
      assert.ok(!('providerData' in it) && !('callId' in it), `API shape: ${JSON.stringify(it)}`);
    }
  });
});

// ---------------------------------------------------------------- (b) agent runs

/**
 * A deterministic model: a turn's first call answers with a get_weather
 * function_call for the city named in the last user message, the call after
 * the tool result with a final text. Records every request's input.
 */
class FakeModel {
  constructor() { this.requests = []; this.n = 0; this.failOnCall = 0; }

  #respond(request, streamed) {
    const n = ++this.n;
    this.requests.push({ n, streamed, input: structuredClone(request.input), tools: request.tools.map((t) => t.name) });
    if (n === this.failOnCall) throw new Error(`FakeModel: failure on call ${n}`);
    const input = typeof request.input === 'string'
      ? [{ type: 'message', role: 'user', content: request.input }] : request.input;
    const last = input.at(-1);
    let output;
    if (last.type === 'function_call_result') {
      const text = typeof last.output === 'string' ? last.output : last.output.text;
      output = [{
        id: `msg_${n}`, type: 'message', role: 'assistant', status: 'completed',
        content: [{ type: 'output_text', text: `Report: ${text}.` }],
      }];
    } else {
      const userText = [...input].reverse().find((i) => i.role === 'user');
      const content = typeof userText.content === 'string' ? userText.content
        : userText.content.map((p) => p.text ?? '').join('');
      const city = /in (\w+)/.exec(content)?.[1] ?? 'nowhere';
      output = [{
        id: `fc_${n}`, type: 'function_call', callId: `call_${n}`, name: 'get_weather',
        arguments: JSON.stringify({ city }), status: 'completed',
      }];
    }
    const usage = new Usage({ requests: 1, inputTokens: 10 * input.length, outputTokens: 5, totalTokens: 10 * input.length + 5 });
    return { output, usage, responseId: `resp_${n}` };
  }

  async getResponse(request) {
    return this.#respond(request, false);
  }

  async *getStreamedResponse(request) {
    const r = this.#respond(request, true);
    yield { type: 'response_started' };
    for (const item of r.output) {
      if (item.type !== 'message') continue;
      for (const part of item.content) {
        // the text in two deltas
        const half = Math.ceil(part.text.length / 2);
        yield { type: 'output_text_delta', itemId: item.id, delta: part.text.slice(0, half) };
        yield { type: 'output_text_delta', itemId: item.id, delta: part.text.slice(half) };
      }
    }
    yield {
      type: 'response_done',
      response: {
        id: r.responseId,
        usage: { requests: 1, inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, totalTokens: r.usage.totalTokens },
        output: r.output,
      },
    };
  }
}

const temperatures = { Porto: '18C', Lisbon: '21C', Faro: '25C', Braga: '15C', Evora: '30C' };
const getWeather = tool({
  name: 'get_weather',
  description: 'The current weather of a city.',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `${temperatures[city] ?? 'unknown'} in ${city}`,
});
function makeAgent(model) {
  return new Agent({ name: 'weather', instructions: 'Answer with the weather.', model, tools: [getWeather] });
}
async function runStreamed(agent, input, session) {
  const r = await run(agent, input, { session, stream: true });
  let text = '';
  for await (const ev of r) {
    if (ev.type === 'raw_model_stream_event' && ev.data.type === 'output_text_delta') text += ev.data.delta;
  }
  await r.completed;
  if (r.error) throw r.error;
  return { result: r, text };
}

const callIdOf = (i) => i.call_id ?? i.callId;
const isAnswer = (i) => typeof i.type === 'string' && /_(output|result)$/.test(i.type);

/** Every call with all its answers after it, every answer with its call before it. */
function assertResponsesPaired(items) {
  const calls = new Map();
  items.forEach((it, k) => {
    assert.equal(typeof it, 'object', `responses item ${k} is an object`);
    if (isAnswer(it)) {
      assert.ok(calls.has(callIdOf(it)), `answer ${callIdOf(it)} (item ${k}) follows its call`);
      calls.get(callIdOf(it)).answered = true;
    } else if (callIdOf(it) !== undefined) {
      calls.set(callIdOf(it), { answered: false });
    }
  });
  for (const [id, c] of calls) assert.ok(c.answered, `call ${id} has its answer`);
  return calls.size;
}

/** Responses API input shapes for the item types of these runs. */
function assertResponsesShapes(items) {
  items.forEach((it, k) => {
    const where = `responses item ${k} ${JSON.stringify(it)}`;
    if (it.type === 'message' || it.type === undefined) {
      assert.ok(['user', 'assistant', 'system', 'developer'].includes(it.role), where);
      assert.ok(typeof it.content === 'string' || Array.isArray(it.content), where);
    } else if (it.type === 'function_call') {
      assert.equal(typeof it.call_id, 'string', `${where}: call_id`);
      assert.equal(typeof it.name, 'string', where);
      assert.equal(typeof it.arguments, 'string', where);
    } else if (isAnswer(it)) {
      assert.equal(it.type, 'function_call_output', `${where}: an answer is a function_call_output`);
      assert.equal(typeof it.call_id, 'string', `${where}: call_id`);
      assert.ok(typeof it.output === 'string' || Array.isArray(it.output), `${where}: output`);
    }
  });
}

/** Chat Completions: each assistant tool_calls message directly followed by all its tool answers. */
function assertChatValid(msgs) {
  let callsAnswered = 0;
  for (let k = 0; k < msgs.length; k++) {
    const m = msgs[k];
    const where = `chat message ${k} ${JSON.stringify(m)}`;
    assert.ok(['system', 'developer', 'user', 'assistant', 'tool'].includes(m.role), where);
    if (m.role === 'tool') assert.fail(`${where}: a tool message not right after its assistant call`);
    if (m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
      const ids = new Set();
      for (const tc of m.tool_calls) {
        assert.equal(tc.type, 'function', where);
        assert.equal(typeof tc.id, 'string', where);
        assert.equal(typeof tc.function?.name, 'string', where);
        assert.equal(typeof tc.function?.arguments, 'string', where);
        ids.add(tc.id);
      }
      while (k + 1 < msgs.length && msgs[k + 1].role === 'tool') {
        const t = msgs[++k];
        assert.ok(ids.delete(t.tool_call_id), `tool answer ${t.tool_call_id} answers a call of the message before`);
        assert.ok(typeof t.content === 'string' || Array.isArray(t.content), `tool content: ${JSON.stringify(t)}`);
        callsAnswered++;
      }
      assert.equal(ids.size, 0, `${where}: every call answered`);
    } else {
      assert.ok(m.content !== undefined, `${where}: content`);
    }
  }
  return callsAnswered;
}

function assertTurns(items, cities, msg) {
  assert.equal(items.length, 4 * cities.length, `${msg}: 4 items a turn`);
  cities.forEach((city, t) => {
    const [u, call, result, answer] = items.slice(4 * t, 4 * t + 4);
    const where = `${msg}, turn ${t + 1}`;
    assert.equal(u.role, 'user', where);
    assert.equal(u.content, `What is the weather in ${city}?`, where);
    assert.equal(call.type, 'function_call', where);
    assert.equal(call.name, 'get_weather', where);
    assert.deepStrictEqual(JSON.parse(call.arguments), { city }, where);
    assert.ok(['function_call_result', 'function_call_output'].includes(result.type), where);
    assert.equal(callIdOf(result), callIdOf(call), `${where}: result answers the call`);
    assert.equal(answer.type, 'message', where);
    assert.equal(answer.role, 'assistant', where);
    assert.equal(answer.content[0].text, `Report: ${temperatures[city]} in ${city}.`, where);
  });
}

describe('agent runs with a session', () => {
  const cities = ['Porto', 'Lisbon', 'Faro'];

  test('3 turns with a tool call: session items, model input, chat_context, restart', async () => {
    const thread = newThread('run');
    const model = new FakeModel();
    const agent = makeAgent(model);
    const session = new ChatstoreSession({ db: pool, sessionId: thread, userId: 'dana' });

    for (const city of cities) {
      const result = await run(agent, `What is the weather in ${city}?`, { session });
      assert.equal(result.finalOutput, `Report: ${temperatures[city]} in ${city}.`);
    }
    const items = await session.getItems();
    assertTurns(items, cities, 'session');
    assert.equal(model.requests.length, 6, 'two model calls a turn');

    // each turn's first model call sees all earlier turns, then its question
    for (let t = 0; t < cities.length; t++) {
      const input = model.requests[2 * t].input;
      assert.equal(input.length, 4 * t + 1, `turn ${t + 1}: input length`);
      assertSameItems(input.slice(0, 4 * t).map(stripIdsForModel), items.slice(0, 4 * t).map(stripIdsForModel),
        `turn ${t + 1}: earlier turns in the model input`);
      assert.equal(input.at(-1).content, `What is the weather in ${cities[t]}?`);
    }

    // the model-ready forms
    const ctx = async (format) => (await pool.query(
      'SELECT chat_context($1, format => $2) AS c', [thread, format])).rows[0].c;
    const responses = await ctx('responses');
    assert.ok(Array.isArray(responses), 'responses: an array');
    assert.equal(responses.length, 12, `responses: 12 items ${JSON.stringify(responses)}`);
    assert.equal(assertResponsesPaired(responses), 3, 'responses: 3 calls, each answered');
    const chat = await ctx('chat');
    assert.ok(Array.isArray(chat), 'chat: an array');
    assert.equal(assertChatValid(chat), 3, `chat: 3 answered calls ${JSON.stringify(chat)}`);
    assert.deepStrictEqual(chat.map((m) => m.role),
      ['user', 'assistant', 'tool', 'assistant', 'user', 'assistant', 'tool', 'assistant', 'user', 'assistant', 'tool', 'assistant']);
    assert.equal(chat[3].content?.[0]?.text ?? chat[3].content, 'Report: 18C in Porto.');

    // a "restart": new pool, new session object, same thread id
    const pool2 = new pg.Pool({ max: 2 });
    try {
      const restarted = new ChatstoreSession({ db: pool2, sessionId: thread, userId: 'dana' });
      assertSameItems(await restarted.getItems(), items, 'restarted session');
      const model2 = new FakeModel();
      const result = await run(makeAgent(model2), 'What is the weather in Braga?', { session: restarted });
      assert.equal(result.finalOutput, 'Report: 15C in Braga.');
      assert.equal(model2.requests[0].input.length, 13, 'the restarted run sees the 3 earlier turns');
      assertTurns(await restarted.getItems(), [...cities, 'Braga'], 'after the restarted run');
    } finally {
      await pool2.end();
    }
  });

  test('streamed runs (stream: true) store the same turns', async () => {
    const thread = newThread('stream');
    const model = new FakeModel();
    const agent = makeAgent(model);
    const session = new ChatstoreSession({ db: pool, sessionId: thread });
    for (const city of cities) {
      const { result, text } = await runStreamed(agent, `What is the weather in ${city}?`, session);
      assert.equal(result.finalOutput, `Report: ${temperatures[city]} in ${city}.`);
      assert.equal(text, `Report: ${temperatures[city]} in ${city}.`, 'the deltas make the text');
    }
    assert.ok(model.requests.every((r) => r.streamed), 'getStreamedResponse was used');
    assert.equal(model.requests[4].input.length, 9, 'turn 3 sees turns 1 and 2');
    assertTurns(await session.getItems(), cities, 'streamed session');
    // a non-streamed run continues the streamed history
    const r = await run(agent, 'What is the weather in Evora?', { session });
    assert.equal(r.finalOutput, 'Report: 30C in Evora.');
    assertTurns(await session.getItems(), [...cities, 'Evora'], 'mixed');
  });

  // The SDK saves a streamed run's input before calling the model; when the
  // model fails and the user sends the same text again, the session holds it
  // twice (as MemorySession does). Id-less dedup would have dropped the second.
  test('a failed streamed turn retried with the same text: same history as MemorySession', async () => {
    const histories = [];
    for (const session of [new ChatstoreSession({ db: pool, sessionId: newThread('retry') }), new MemorySession()]) {
      const model = new FakeModel();
      const agent = makeAgent(model);
      await runStreamed(agent, 'What is the weather in Porto?', session);
      model.failOnCall = 3; // the next turn's first model call
      await assert.rejects(runStreamed(agent, 'What is the weather in Lisbon?', session), /failure on call 3/);
      await runStreamed(agent, 'What is the weather in Lisbon?', session);
      // the non-streamed flavour: the same text after a failed turn again
      model.failOnCall = 6;
      await assert.rejects(run(agent, 'What is the weather in Lisbon?', { session }), /failure on call 6/);
      await run(agent, 'What is the weather in Lisbon?', { session });
      histories.push({ items: await session.getItems(), inputs: model.requests.map((r) => r.input) });
    }
    const [cs, mem] = histories;
    assert.ok(mem.items.filter((i) => i.content === 'What is the weather in Lisbon?').length >= 2,
      'the SDK kept the failed turn\'s question (precondition)');
    assertSameItems(cs.items, mem.items, 'chatstore session = MemorySession');
    assert.equal(cs.inputs.length, mem.inputs.length);
    cs.inputs.forEach((input, k) => assertSameItems(input, mem.inputs[k], `model input ${k}`));
  });

  test('the same turn twice in a row (a repeated question, same answer) is stored twice', async () => {
    // a model whose call ids restart every turn (as some servers do) makes
    // the second turn's items equal to the first's: the session keeps both
    const session = new ChatstoreSession({ db: pool, sessionId: newThread('repeat') });
    const mem = new MemorySession();
    for (const s of [session, mem]) {
      const model = new FakeModel();
      const agent = makeAgent(model);
      for (let k = 0; k < 2; k++) {
        model.n = 0; // call_1 / msg_2 every turn
        await run(agent, 'What is the weather in Porto?', { session: s });
      }
    }
    const items = await session.getItems();
    assertTurns(items, ['Porto', 'Porto'], 'repeated turn');
    assertSameItems(items, await mem.getItems(), 'chatstore session = MemorySession');
  });
});

/** What the model gets of an item can differ by the SDK's replay rules (ids); compare the rest. */
function stripIdsForModel(item) {
  const { id: _id, ...rest } = item;
  return rest;
}
