// chatstore benchmark F1-F3: what framework users run today against chatstore, same machine.
//
//   F1_langgraph     LangGraph.js 1.7 agent (StateGraph on MessagesAnnotation, a FAKE deterministic
//                    model node and a tool node: no network) with
//                      pg_saver         the official @langchain/langgraph-checkpoint-postgres
//                                       (PostgresSaver, saver.setup() in schema "lg")
//                      chatstore_saver  clients/js ChatstoreSaver (chatstore/langgraph)
//                      chatstore_plain  no checkpointer + chat_save_messages of each turn's new
//                                       messages (the app keeps the list; reads chat_history)
//                      none             no checkpointer at all (the client passes the whole list:
//                                       the baseline subtracted to get the checkpoint cost)
//                    one thread of N turns, then 5 threads of N turns (interleaved turn by turn, one
//                    client); the four stores take each turn in turn, in a rotating order (so that
//                    all see the same load); a tool call every third turn; every message 300 characters.
//                    Bytes on disk after N/4, N/2 and N turns; per-turn invoke p50/p99; getState
//                    p50 at turn N (20 calls, each through a newly built saver: no client cache).
//   F2_vercel        the Vercel chatbot's storage pattern ("Chat" + "Message_v2": id uuid, chatId,
//                    role, parts json, attachments json, createdAt; one INSERT per message; read
//                    ORDER BY createdAt; regenerate = delete the messages from a timestamp on and
//                    insert the new one) against chatstore through clients/js ChatstoreUIMessageStore
//                    (one saveUIMessages call per message; loadUIMessages; chat_regenerate_message).
//   F3_langchain_pg  langchain-postgres's PostgresChatMessageHistory pattern (message_store: id
//                    serial, session_id, message jsonb; add_messages = one transaction with one
//                    INSERT per message; messages = the whole session ORDER BY id, revived into
//                    LangChain messages) against clients/js ChatstoreChatMessageHistory.
//
// Each store runs in a database of its own (<db>_f_<name>, created and dropped here), so that
// bytes on disk are the store's tables only: pg_total_relation_size (heap + TOAST + indexes) of
// the peer's tables, for chatstore of the extension's tables that the run wrote to.
//
// usage: node bench.mjs [--db DB] [--scale smoke|default|large] [--raw FILE] [--summary FILE]
//                       [--keep] [--only F1|F2|F3] [--baseline DIR]
// --baseline DIR (measurement of a change): DIR holds an earlier build of clients/js/dist/src
// (inside this package's node_modules, so that its imports resolve here); F1 then also runs its
// ChatstoreSaver as chatstore_saver_base, side by side (its lines only, no targets).
// Connection from PG* (PGHOST, PGPORT, PGUSER); DB (default chatstore_bench) must exist: the
// per-store databases are created from it.  --raw appends CSV rows
// (workload,impl,clients,scale_messages,tps,p50_ms,p99_ms, no header); --summary writes
// {"targets": [[name, detail, ok], ...], "lines": [...]} for report.py.  Exits non-zero when
// something fails (an error, a result that does not match what was saved), never because a
// target is missed.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { StateGraph, MessagesAnnotation, START, END } from '@langchain/langgraph';
import { AIMessage, HumanMessage, ToolMessage, mapChatMessagesToStoredMessages, mapStoredMessagesToChatMessages } from '@langchain/core/messages';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';

const here = path.dirname(fileURLToPath(import.meta.url));
// clients/js's built modules, copied by run.sh into node_modules/.chatstore-client so that their
// imports (pg, @langchain/*) resolve to this package's copies (one pg.Pool class, one BaseMessage)
const client = path.join(here, 'node_modules', '.chatstore-client');
const { ChatStore } = await import(path.join(client, 'index.js'));
const { ChatstoreSaver } = await import(path.join(client, 'langgraph.js'));
const { ChatstoreChatMessageHistory, toChatstoreMessage: lcToChatstore, fromChatstoreMessage: lcFromChatstore } =
  await import(path.join(client, 'langchain.js'));
const { ChatstoreUIMessageStore } = await import(path.join(client, 'ai-sdk.js'));

// ---- arguments ------------------------------------------------------------------------------
const args = { db: 'chatstore_bench', scale: 'default', raw: null, summary: null, keep: false, only: null, baseline: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--keep') args.keep = true;
  else if (['--db', '--scale', '--raw', '--summary', '--only', '--baseline'].includes(a)) args[a.slice(2)] = process.argv[++i];
  else { console.error(`bench.mjs: unknown argument ${a}`); process.exit(2); }
}
const SCALES = {
  //        turns, threads of the multi-thread run, getState calls, F2/F3 threads, F2/F3 reads per thread
  smoke: { turns: 20, multi: 0, getState: 20, f23threads: 1, reads: 10, regen: 5 },
  default: { turns: 200, multi: 5, getState: 20, f23threads: 5, reads: 20, regen: 20 },
  large: { turns: 200, multi: 5, getState: 20, f23threads: 5, reads: 20, regen: 20 },
};
const S = SCALES[args.scale];
const BaselineSaver = args.baseline ? (await import(path.resolve(args.baseline, 'langgraph.js'))).ChatstoreSaver : null;
if (!S) { console.error(`bench.mjs: --scale must be smoke, default or large`); process.exit(2); }
const TURNS = S.turns;
const SIZE_AT = [TURNS / 4, TURNS / 2, TURNS];

// ---- helpers --------------------------------------------------------------------------------
const now = () => Number(process.hrtime.bigint()) / 1e6;
function pct(xs, p) {                       // nearest rank, like run.sh
  if (!xs.length) return NaN;
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil(v.length * p) - 1)];
}
const p50 = (xs) => pct(xs, 0.5);
const p99 = (xs) => pct(xs, 0.99);
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(3) : '');
const kb = (b) => `${(b / 1024).toFixed(0)} KB`;
const mb = (b) => (b >= 1024 * 1024 ? `${(b / 1048576).toFixed(2)} MB` : kb(b));
const ts = () => new Date().toISOString().slice(11, 19);
const say = (s) => console.log(`${ts()}  ${s}`);
function fail(msg) { throw new Error(`bench.mjs: FAILED: ${msg}`); }

const csvRows = [];
function row(workload, impl, scaleMessages, times, totalMs) {
  const tps = times.length / ((totalMs ?? times.reduce((a, b) => a + b, 0)) / 1000);
  csvRows.push(`${workload},${impl},1,${scaleMessages},${tps.toFixed(3)},${fmt(p50(times))},${fmt(p99(times))}`);
}
const lines = [];
const targets = [];
const line = (s) => { lines.push(s); console.log(s); };

// deterministic text: a seeded PRNG over words, exactly n characters
function rng(seed) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6D2B79F5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const WORDS = ('the a user asked about postgres index query plan table row thread message history model token '
  + 'budget reply assistant tool call result weather in paris tomorrow please summarize document meeting notes '
  + 'action items deadline friday error stack trace function returns none instead of list could you explain why '
  + 'this happens when running tests on ci server latency throughput percentile cache vacuum json search café '
  + 'naïve 21°C').split(' ');
function text(seed, n = 300) {
  const r = rng(seed);
  let s = '';
  while (s.length < n) s += (s ? ' ' : '') + WORDS[Math.floor(r() * WORDS.length)];
  return s.slice(0, n);
}
const isToolTurn = (turn) => turn % 3 === 0;
const msgsAfter = (turns) => 2 * turns + 2 * Math.floor(turns / 3);
// one turn's content, shared by F1, F2 and F3 (thread index k, turn t from 1)
function turnContent(k, t) {
  const seed = k * 100000 + t * 10;
  return {
    user: text(seed + 1),
    tool: isToolTurn(t) ? { args: { city: 'Paris', day: `day ${t}`, query: text(seed + 2, 60) }, output: text(seed + 3) } : null,
    callText: text(seed + 4),
    answer: text(seed + 5),
  };
}
const usage = { input_tokens: 120, output_tokens: 80, total_tokens: 200 };

// ---- databases ------------------------------------------------------------------------------
const admin = new pg.Client({ database: args.db });
await admin.connect();
const made = [];
const pools = [];
async function freshDb(name, extension) {
  const db = `${args.db}_f_${name}`;
  await admin.query(`DROP DATABASE IF EXISTS "${db}"`);
  await admin.query(`CREATE DATABASE "${db}"`);
  made.push(db);
  const pool = new pg.Pool({ database: db, max: 2 });
  pools.push(pool);
  if (extension) await pool.query('CREATE EXTENSION chatstore');
  const before = extension ? await tableSizes(pool, 'public') : new Map();
  return { db, pool, before };
}
async function tableSizes(pool, schema) {
  const r = await pool.query(
    `SELECT c.relname, pg_total_relation_size(c.oid)::bigint AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`, [schema]);
  return new Map(r.rows.map((x) => [x.relname, Number(x.b)]));
}
// the store's bytes: every table of a peer's schema; for chatstore the extension's tables the
// run wrote to (grown since the database was created)
async function csSplit(pool) {      // chat_messages: heap + TOAST, indexes, the full-text index
  const r = await pool.query(`SELECT pg_table_size('chat_messages') AS h, pg_indexes_size('chat_messages') AS i,
      (SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
        WHERE x.indrelid = 'chat_messages'::regclass AND c.relname LIKE '%fts%') AS f`);
  const x = r.rows[0];
  return `chat_messages heap+TOAST ${mb(Number(x.h))}, indexes ${mb(Number(x.i))} (full-text ${mb(Number(x.f))})`;
}
async function bytesOf(store) {
  const sizes = await tableSizes(store.pool, store.schema ?? 'public');
  let total = 0;
  const written = [];
  for (const [t, b] of sizes) {
    if (store.tables && !store.tables.includes(t)) continue;
    if (store.before.size && !(b > (store.before.get(t) ?? 0))) continue;
    total += b;
    written.push(`${t} ${mb(b)}`);
  }
  store.written = written;
  return total;
}

// ---- F1: LangGraph --------------------------------------------------------------------------
function buildGraph(checkpointer) {
  const agent = (state) => {
    const last = state.messages[state.messages.length - 1];
    const id = String(last.id);
    const [, k, t] = /^f1-(\d+)-(\d+)-/.exec(id).map(Number);
    const c = turnContent(k, t);
    if (last.getType() === 'human' && c.tool) {
      return { messages: [new AIMessage({ id: `f1-${k}-${t}-call`, content: c.callText, usage_metadata: usage,
        tool_calls: [{ id: `call_${k}_${t}`, name: 'get_weather', args: c.tool.args, type: 'tool_call' }] })] };
    }
    return { messages: [new AIMessage({ id: `f1-${k}-${t}-answer`, content: c.answer, usage_metadata: usage })] };
  };
  const tools = (state) => {
    const last = state.messages[state.messages.length - 1];
    const [, k, t] = /^f1-(\d+)-(\d+)-/.exec(String(last.id)).map(Number);
    return { messages: last.tool_calls.map((tc) => new ToolMessage({ id: `f1-${k}-${t}-tool`, content: turnContent(k, t).tool.output,
      tool_call_id: tc.id, name: tc.name })) };
  };
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', agent)
    .addNode('tools', tools)
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', (s) => (s.messages[s.messages.length - 1].tool_calls?.length ? 'tools' : END))
    .addEdge('tools', 'agent')
    .compile(checkpointer ? { checkpointer } : {});
}
const userMsg = (k, t) => new HumanMessage({ id: `f1-${k}-${t}-user`, content: turnContent(k, t).user });

// plain chatstore: the turn's new messages as chatstore messages (role, content, tool calls)
function plainMessage(m) {
  const type = m.getType();
  const out = { id: m.id, role: { human: 'user', ai: 'assistant', tool: 'tool' }[type], content: m.content };
  if (type === 'ai') {
    out.usage = m.usage_metadata;
    if (m.tool_calls?.length) out.tool_calls = m.tool_calls.map((tc) => ({ id: tc.id, type: 'function', function: { name: tc.name, arguments: JSON.stringify(tc.args) } }));
  }
  if (type === 'tool') { out.tool_call_id = m.tool_call_id; out.name = m.name; }
  return out;
}

// The F1 stores run turn by turn, interleaved (1.8): at each turn and thread every store takes its
// turn, in an order that rotates, so that all of them see the same load on a shared, noisy machine
// (run one after the other, a store met a quieter or a busier minute than the next: the per-turn cost
// ratio moved 7x-17x between runs with the code unchanged).  Each store has a database of its own.
async function f1Stores(impls, nThreads) {
  const st = {};
  for (const impl of impls) {
    const store = await freshDb(`f1_${impl}_${nThreads}`, impl.startsWith('chatstore'));
    const newSaver = () => (impl === 'pg_saver' ? new PostgresSaver(store.pool, undefined, { schema: 'lg' })
      : impl === 'chatstore_saver' ? new ChatstoreSaver(store.pool)
      : impl === 'chatstore_saver_base' ? new BaselineSaver(store.pool) : null);
    const saver = newSaver();
    if (impl === 'pg_saver') {
      await saver.setup();
      store.schema = 'lg';
    }
    st[impl] = { impl, store, newSaver, saver, graph: buildGraph(saver), cs: new ChatStore(store.pool),
      lists: Array.from({ length: nThreads }, () => []),   // none / chatstore_plain: the client's list
      invoke: [],         // per-turn invoke ms (plain: invoke + save)
      saveMs: [],         // plain: the save alone
      bytes: {}, elapsed: 0 };
  }
  let turnNo = 0;
  for (let t = 1; t <= TURNS; t++) {
    for (let k = 0; k < nThreads; k++) {
      const cfg = { configurable: { thread_id: `f1-thread-${k}` } };
      const u = userMsg(k, t);
      const r = turnNo++ % impls.length;
      for (const impl of [...impls.slice(r), ...impls.slice(0, r)]) {
        const x = st[impl];
        const s = now();
        if (x.saver) {
          await x.graph.invoke({ messages: [u] }, cfg);
        } else {
          const out = await x.graph.invoke({ messages: [...x.lists[k], u] });
          const fresh = out.messages.slice(x.lists[k].length);
          x.lists[k] = out.messages;
          if (impl === 'chatstore_plain') {
            const s2 = now();
            await x.cs.saveMessages(`f1-thread-${k}`, fresh.map(plainMessage));
            x.saveMs.push(now() - s2);
          }
        }
        const d = now() - s;
        x.invoke.push(d);
        x.elapsed += d;
      }
    }
    if (SIZE_AT.includes(t)) {
      for (const impl of impls) if (impl !== 'none') st[impl].bytes[t] = await bytesOf(st[impl].store);
    }
  }
  const expect = msgsAfter(TURNS);
  const res = {};
  for (const impl of impls) {
    const x = st[impl];
    // getState at the last turn: each call through a newly built saver (no client-side cache)
    const getState = [];
    let got = 0;
    if (impl !== 'none') {
      for (let i = 0; i < S.getState; i++) {
        if (x.saver) {
          const g = buildGraph(x.newSaver());
          const s = now();
          const state = await g.getState({ configurable: { thread_id: 'f1-thread-0' } });
          getState.push(now() - s);
          got = state.values.messages.length;
        } else {
          const s = now();
          const msgs = (await x.cs.history('f1-thread-0')).map(lcFromChatstore);
          getState.push(now() - s);
          got = msgs.length;
        }
      }
      if (got !== expect) fail(`F1 ${impl}: getState/history has ${got} messages, expected ${expect}`);
    }
    if (impl.startsWith('chatstore')) {
      const n = Number((await x.store.pool.query('SELECT count(*) AS n FROM chat_messages')).rows[0].n);
      if (n !== expect * nThreads) fail(`F1 ${impl}: ${n} chatstore messages stored, expected ${expect * nThreads} (each once)`);
    }
    const scaleMsgs = expect * nThreads;
    row('F1_langgraph', impl, scaleMsgs, x.invoke, x.elapsed);
    if (x.saveMs.length) row('F1_langgraph', `${impl}.save`, scaleMsgs, x.saveMs);
    if (getState.length) row('F1_langgraph', `${impl}.getState`, scaleMsgs, getState);
    say(`F1 ${impl.padEnd(16)} ${nThreads} thread(s) x ${TURNS} turns: invoke p50 ${fmt(p50(x.invoke))} ms p99 ${fmt(p99(x.invoke))} ms`
      + (getState.length ? `, getState p50 ${fmt(p50(getState))} ms` : '')
      + (x.bytes[TURNS] ? `, ${mb(x.bytes[TURNS])} (${x.store.written.join(', ')})` : ''));
    res[impl] = { impl, nThreads, invoke: x.invoke, saveMs: x.saveMs, getState, bytes: x.bytes, tables: x.store.written ?? [], scaleMsgs };
  }
  return res;
}

function judgeF1(res, nThreads) {
  const [pgs, css, plain, none] = ['pg_saver', 'chatstore_saver', 'chatstore_plain', 'none'].map((i) => res[i]);
  const at = SIZE_AT.map((t) => `${t}`).join('/');
  line(`F1_langgraph, ${nThreads} thread(s) x ${TURNS} turns (${msgsAfter(TURNS) * nThreads} messages), bytes on disk after ${at} turns:`);
  for (const r of [pgs, css, plain]) {
    line(`  ${r.impl.padEnd(16)} ${SIZE_AT.map((t) => mb(r.bytes[t])).join(' / ')}   (${r.tables.join(', ')})`);
  }
  const base = p50(none.invoke);
  line(`  invoke p50 / p99 ms: ${[pgs, css, plain, none].map((r) => `${r.impl} ${fmt(p50(r.invoke))} / ${fmt(p99(r.invoke))}`).join('; ')}`);
  const cost = (r) => Math.max(p50(r.invoke) - base, 0.01);
  line(`  per-turn checkpoint cost (invoke p50 - no-checkpointer p50 ${fmt(base)} ms): pg_saver ${fmt(cost(pgs))} ms, `
    + `chatstore_saver ${fmt(cost(css))} ms, chatstore_plain ${fmt(cost(plain))} ms (its save alone p50 ${fmt(p50(plain.saveMs))} ms)`);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const mcost = (r) => mean(r.invoke) - mean(none.invoke);
  line(`  mean per-turn checkpoint cost (mean invoke - mean no-checkpointer ${fmt(mean(none.invoke))} ms): pg_saver ${fmt(mcost(pgs))} ms, `
    + `chatstore_saver ${fmt(mcost(css))} ms, chatstore_plain ${fmt(mcost(plain))} ms`);
  line(`  getState p50 at turn ${TURNS} (${S.getState} calls, new saver each): pg_saver ${fmt(p50(pgs.getState))} ms, `
    + `chatstore_saver ${fmt(p50(css.getState))} ms; chatstore_plain chat_history + revive ${fmt(p50(plain.getState))} ms`);
  const tag = `${nThreads}t`;
  const bs = res.chatstore_saver_base;
  if (bs) {
    line(`  baseline (--baseline) chatstore_saver_base: bytes ${SIZE_AT.map((t) => mb(bs.bytes[t])).join(' / ')} (${bs.tables.join(', ')}); `
      + `invoke p50 / p99 ${fmt(p50(bs.invoke))} / ${fmt(p99(bs.invoke))} ms; checkpoint cost p50 ${fmt(cost(bs))} ms (mean ${fmt(mcost(bs))} ms); getState p50 ${fmt(p50(bs.getState))} ms`);
    line(`  baseline ratios pg_saver/chatstore_saver_base: bytes ${(pgs.bytes[TURNS] / bs.bytes[TURNS]).toFixed(1)}x, ckpt cost ${(cost(pgs) / cost(bs)).toFixed(1)}x, getState ${(p50(pgs.getState) / p50(bs.getState)).toFixed(1)}x`);
  }
  const size = pgs.bytes[TURNS] / css.bytes[TURNS];
  targets.push([`F1 ${tag} bytes pg_saver/cs_saver >= 10x`, `${size.toFixed(1)}x (${mb(pgs.bytes[TURNS])} vs ${mb(css.bytes[TURNS])}; plain ${(pgs.bytes[TURNS] / plain.bytes[TURNS]).toFixed(1)}x)`, size >= 10]);
  // linear growth: bytes per turn over the second half / over the second quarter
  const growth = (r) => ((r.bytes[SIZE_AT[2]] - r.bytes[SIZE_AT[1]]) / (SIZE_AT[2] - SIZE_AT[1]))
    / ((r.bytes[SIZE_AT[1]] - r.bytes[SIZE_AT[0]]) / (SIZE_AT[1] - SIZE_AT[0]));
  const g = growth(css);
  targets.push([`F1 ${tag} cs_saver bytes linear (<= 1.3)`, `bytes/turn ${SIZE_AT[1]}-${SIZE_AT[2]} / ${SIZE_AT[0]}-${SIZE_AT[1]}: ${g.toFixed(2)} (pg_saver ${growth(pgs).toFixed(2)})`, g <= 1.3]);
  const c = cost(pgs) / cost(css);
  targets.push([`F1 ${tag} ckpt cost pg_saver/cs_saver >= 10x`, `${c.toFixed(1)}x p50 (${fmt(cost(pgs))} vs ${fmt(cost(css))} ms; mean ${(mcost(pgs) / mcost(css)).toFixed(1)}x)`, c >= 10]);
  const gs = p50(pgs.getState) / p50(css.getState);
  targets.push([`F1 ${tag} getState pg_saver/cs_saver >= 10x`, `${gs.toFixed(1)}x (${fmt(p50(pgs.getState))} vs ${fmt(p50(css.getState))} ms)`, gs >= 10]);
}

// ---- F2: the Vercel chatbot pattern ---------------------------------------------------------
function uiTurn(k, t) {
  const c = turnContent(k, t);
  const user = { id: randomUUID(), role: 'user', parts: [{ type: 'text', text: c.user }] };
  const parts = [{ type: 'step-start' }];
  if (c.tool) {
    parts.push({ type: 'text', text: c.callText, state: 'done' });
    parts.push({ type: 'tool-getWeather', toolCallId: `call_${k}_${t}`, state: 'output-available', input: c.tool.args, output: { text: c.tool.output } });
    parts.push({ type: 'step-start' });
  }
  parts.push({ type: 'text', text: c.answer, state: 'done' });
  return [user, { id: randomUUID(), role: 'assistant', parts }];
}

const VERCEL_DDL = `
CREATE TABLE "Chat" ("id" uuid PRIMARY KEY DEFAULT gen_random_uuid(), "createdAt" timestamp NOT NULL, "title" text NOT NULL,
  "userId" uuid NOT NULL, "visibility" varchar NOT NULL DEFAULT 'private');
CREATE TABLE "Message_v2" ("id" uuid PRIMARY KEY DEFAULT gen_random_uuid(), "chatId" uuid NOT NULL REFERENCES "Chat"("id"),
  "role" varchar NOT NULL, "parts" json NOT NULL, "attachments" json NOT NULL, "createdAt" timestamp NOT NULL);
-- not in the chatbot's schema (its reads scan): added so that the peer reads by index like chatstore
CREATE INDEX "Message_v2_chatId_createdAt" ON "Message_v2" ("chatId", "createdAt");
CREATE TABLE "Vote_v2" ("chatId" uuid NOT NULL REFERENCES "Chat"("id"), "messageId" uuid NOT NULL REFERENCES "Message_v2"("id"),
  "isUpvoted" boolean NOT NULL, PRIMARY KEY ("chatId", "messageId"));`;
const LC_DDL = `
CREATE TABLE message_store (id serial PRIMARY KEY, session_id text NOT NULL, message jsonb NOT NULL);
CREATE INDEX idx_message_store_session_id ON message_store (session_id);`;

async function f2() {
  const peer = await freshDb('f2_vercel', false);
  await peer.pool.query(VERCEL_DDL);
  const cs = await freshDb('f2_chatstore', true);
  const ui = new ChatstoreUIMessageStore(cs.pool);
  const convs = Array.from({ length: S.f23threads }, (_, k) => ({ k, chatId: randomUUID(), msgs: [] }));
  const userId = randomUUID();
  const T = { vercel: { msg: [], turn: [], read: [], regen: [] }, chatstore: { msg: [], turn: [], read: [], regen: [] } };
  let clock = Date.parse('2026-01-01T00:00:00Z');
  for (const c of convs) {
    await peer.pool.query('INSERT INTO "Chat" ("id", "createdAt", "title", "userId", "visibility") VALUES ($1, $2, $3, $4, $5)',
      [c.chatId, new Date(clock), `chat ${c.k}`, userId, 'private']);
    await ui.createChat({ id: c.chatId, title: `chat ${c.k}` });
  }
  for (let t = 1; t <= TURNS; t++) {
    for (const c of convs) {
      const turn = uiTurn(c.k, t);
      let tv = 0; let tc = 0;
      for (const m of turn) {
        clock += 1000;
        m.createdAt = new Date(clock);
        let s = now();
        await peer.pool.query('INSERT INTO "Message_v2" ("id", "chatId", "role", "parts", "attachments", "createdAt") VALUES ($1, $2, $3, $4, $5, $6)',
          [m.id, c.chatId, m.role, JSON.stringify(m.parts), '[]', m.createdAt]);
        let d = now() - s; T.vercel.msg.push(d); tv += d;
        s = now();
        await ui.saveUIMessages(c.chatId, [{ id: m.id, role: m.role, parts: m.parts }]);
        d = now() - s; T.chatstore.msg.push(d); tc += d;
      }
      T.vercel.turn.push(tv); T.chatstore.turn.push(tc);
      c.msgs.push(...turn);
    }
  }
  const bytes = { vercel: await bytesOf({ ...peer, tables: ['Chat', 'Message_v2', 'Vote_v2'] }), chatstore: await bytesOf(cs) };
  const csTables = cs.written;
  csTables.push(await csSplit(cs.pool));
  // reads: the whole conversation as UIMessage[]
  for (let i = 0; i < S.reads; i++) {
    for (const c of convs) {
      let s = now();
      const r = await peer.pool.query('SELECT * FROM "Message_v2" WHERE "chatId" = $1 ORDER BY "createdAt" ASC', [c.chatId]);
      const v = r.rows.map((x) => ({ id: x.id, role: x.role, parts: x.parts, metadata: { createdAt: x.createdAt.toISOString() } }));
      T.vercel.read.push(now() - s);
      s = now();
      const m = await ui.loadUIMessages(c.chatId);
      T.chatstore.read.push(now() - s);
      if (v.length !== c.msgs.length || m.length !== c.msgs.length
          || m[m.length - 1].id !== c.msgs[c.msgs.length - 1].id
          || m[m.length - 1].parts.at(-1).text !== c.msgs[c.msgs.length - 1].parts.at(-1).text) {
        fail(`F2: read ${v.length} / ${m.length} messages, saved ${c.msgs.length}`);
      }
    }
  }
  // regenerate the last assistant message, S.regen times per conversation
  for (let i = 0; i < S.regen; i++) {
    for (const c of convs) {
      const last = c.msgs[c.msgs.length - 1];
      const fresh = { id: randomUUID(), role: 'assistant', parts: [{ type: 'step-start' }, { type: 'text', text: text(7000000 + i * 100 + c.k), state: 'done' }] };
      clock += 1000;
      let s = now();
      // ai-chatbot: getMessageById, deleteMessagesByChatIdAfterTimestamp (select ids, delete votes,
      // delete messages), then onFinish saves the new message
      const { rows: [old] } = await peer.pool.query('SELECT * FROM "Message_v2" WHERE "id" = $1', [last.id]);
      const { rows: del } = await peer.pool.query('SELECT "id" FROM "Message_v2" WHERE "chatId" = $1 AND "createdAt" >= $2', [old.chatId, old.createdAt]);
      const ids = del.map((x) => x.id);
      await peer.pool.query('DELETE FROM "Vote_v2" WHERE "chatId" = $1 AND "messageId" = ANY($2::uuid[])', [old.chatId, ids]);
      await peer.pool.query('DELETE FROM "Message_v2" WHERE "chatId" = $1 AND "id" = ANY($2::uuid[])', [old.chatId, ids]);
      await peer.pool.query('INSERT INTO "Message_v2" ("id", "chatId", "role", "parts", "attachments", "createdAt") VALUES ($1, $2, $3, $4, $5, $6)',
        [fresh.id, c.chatId, 'assistant', JSON.stringify(fresh.parts), '[]', new Date(clock)]);
      T.vercel.regen.push(now() - s);
      s = now();
      // chatstore: one call; the old answer stays as a sibling branch
      await ui.store.regenerateMessage(c.chatId, last.id, { id: fresh.id, role: 'assistant', content: fresh.parts[1].text, metadata: { ui: { parts: fresh.parts } } });
      T.chatstore.regen.push(now() - s);
      c.msgs[c.msgs.length - 1] = fresh;
    }
  }
  const m = await ui.loadUIMessages(convs[0].chatId);
  if (m.length !== convs[0].msgs.length || m[m.length - 1].id !== convs[0].msgs[convs[0].msgs.length - 1].id) fail('F2: chatstore read after regenerate');
  const n = convs.length * msgsAfter2(TURNS);
  for (const impl of ['vercel', 'chatstore']) {
    const x = T[impl];
    row('F2_vercel', `${impl}.save_message`, n, x.msg);
    row('F2_vercel', `${impl}.save_turn`, n, x.turn);
    row('F2_vercel', `${impl}.read`, n, x.read);
    row('F2_vercel', `${impl}.regenerate`, n, x.regen);
  }
  line(`F2_vercel, ${convs.length} chat(s) x ${TURNS} turns (${n} UIMessages, one INSERT / one saveUIMessages per message):`);
  for (const impl of ['vercel', 'chatstore']) {
    const x = T[impl];
    line(`  ${impl.padEnd(10)} save/message p50 ${fmt(p50(x.msg))} ms, save/turn p50 ${fmt(p50(x.turn))} ms, read p50 ${fmt(p50(x.read))} ms, `
      + `regenerate p50 ${fmt(p50(x.regen))} ms, ${mb(bytes[impl])} (${Math.round(bytes[impl] / n)} B/message)`);
  }
  line(`  (vercel: Chat, Message_v2 + an index on (chatId, createdAt), Vote_v2; chatstore: ${csTables.join(', ')})`);
  say('F2 done');
  return { T, bytes };
}
const msgsAfter2 = (turns) => 2 * turns;

// ---- F3: langchain-postgres -----------------------------------------------------------------
function lcTurn(k, t) {
  const c = turnContent(k, t);
  const id = (s) => `f3-${k}-${t}-${s}`;
  const out = [new HumanMessage({ id: id('user'), content: c.user })];
  if (c.tool) {
    out.push(new AIMessage({ id: id('call'), content: c.callText, usage_metadata: usage,
      tool_calls: [{ id: `call_${k}_${t}`, name: 'get_weather', args: c.tool.args, type: 'tool_call' }] }));
    out.push(new ToolMessage({ id: id('tool'), content: c.tool.output, tool_call_id: `call_${k}_${t}`, name: 'get_weather' }));
  }
  out.push(new AIMessage({ id: id('answer'), content: c.answer, usage_metadata: usage }));
  return out;
}

async function f3() {
  const peer = await freshDb('f3_langchain_pg', false);
  await peer.pool.query(LC_DDL);
  const cs = await freshDb('f3_chatstore', true);
  const sessions = Array.from({ length: S.f23threads }, (_, k) => ({ k, id: randomUUID(), n: 0,
    hist: new ChatstoreChatMessageHistory({ db: cs.pool, threadId: `f3-${k}` }) }));
  const T = { langchain_pg: { msg: [], turn: [], read: [], regen: [] }, chatstore: { msg: [], turn: [], read: [], regen: [] } };
  const c1 = await peer.pool.connect();
  try {
    for (let t = 1; t <= TURNS; t++) {
      for (const se of sessions) {
        const msgs = lcTurn(se.k, t);
        // add_messages: one transaction, one INSERT per message (psycopg executemany)
        let s = now();
        await c1.query('BEGIN');
        for (const m of msgs) {
          await c1.query('INSERT INTO message_store (session_id, message) VALUES ($1, $2)', [se.id, JSON.stringify(mapChatMessagesToStoredMessages([m])[0])]);
        }
        await c1.query('COMMIT');
        let d = now() - s; T.langchain_pg.turn.push(d); T.langchain_pg.msg.push(d / msgs.length);
        s = now();
        await se.hist.addMessages(msgs);
        d = now() - s; T.chatstore.turn.push(d); T.chatstore.msg.push(d / msgs.length);
        se.n += msgs.length;
      }
    }
  } finally { c1.release(); }
  const bytes = { langchain_pg: await bytesOf({ ...peer, tables: ['message_store'] }), chatstore: await bytesOf(cs) };
  const csTables = cs.written;
  csTables.push(await csSplit(cs.pool));
  for (let i = 0; i < S.reads; i++) {
    for (const se of sessions) {
      let s = now();
      const r = await peer.pool.query('SELECT message FROM message_store WHERE session_id = $1 ORDER BY id', [se.id]);
      const a = mapStoredMessagesToChatMessages(r.rows.map((x) => x.message));
      T.langchain_pg.read.push(now() - s);
      s = now();
      const b = await se.hist.getMessages();
      T.chatstore.read.push(now() - s);
      if (a.length !== se.n || b.length !== se.n || a[a.length - 1].content !== b[b.length - 1].content) fail(`F3: read ${a.length} / ${b.length}, saved ${se.n}`);
    }
  }
  // regenerate the last answer: langchain-postgres has no such call: delete the newest row, add
  // the new message; chatstore: chat_regenerate_message (the old answer kept as a branch)
  for (let i = 0; i < S.regen; i++) {
    for (const se of sessions) {
      const fresh = new AIMessage({ id: `f3-${se.k}-regen-${i}`, content: text(8000000 + i * 100 + se.k), usage_metadata: usage });
      let s = now();
      await peer.pool.query('DELETE FROM message_store WHERE id = (SELECT max(id) FROM message_store WHERE session_id = $1)', [se.id]);
      await peer.pool.query('INSERT INTO message_store (session_id, message) VALUES ($1, $2)', [se.id, JSON.stringify(mapChatMessagesToStoredMessages([fresh])[0])]);
      T.langchain_pg.regen.push(now() - s);
      const lastId = i === 0 ? `f3-${se.k}-${TURNS}-answer` : `f3-${se.k}-regen-${i - 1}`;
      s = now();
      await new ChatStore(cs.pool).regenerateMessage(`f3-${se.k}`, lastId, lcToChatstore(fresh));
      T.chatstore.regen.push(now() - s);
    }
  }
  const b = await sessions[0].hist.getMessages();
  if (b.length !== sessions[0].n || b[b.length - 1].id !== `f3-0-regen-${S.regen - 1}`) fail('F3: chatstore read after regenerate');
  const n = sessions.length * msgsAfter(TURNS);
  for (const impl of ['langchain_pg', 'chatstore']) {
    const x = T[impl];
    row('F3_langchain_pg', `${impl}.save_message`, n, x.msg);
    row('F3_langchain_pg', `${impl}.save_turn`, n, x.turn);
    row('F3_langchain_pg', `${impl}.read`, n, x.read);
    row('F3_langchain_pg', `${impl}.regenerate`, n, x.regen);
  }
  line(`F3_langchain_pg, ${sessions.length} session(s) x ${TURNS} turns (${n} messages; add_messages per turn, history read whole):`);
  for (const impl of ['langchain_pg', 'chatstore']) {
    const x = T[impl];
    line(`  ${impl.padEnd(12)} save/message p50 ${fmt(p50(x.msg))} ms, save/turn p50 ${fmt(p50(x.turn))} ms, read p50 ${fmt(p50(x.read))} ms, `
      + `regenerate p50 ${fmt(p50(x.regen))} ms, ${mb(bytes[impl])} (${Math.round(bytes[impl] / n)} B/message)`);
  }
  line(`  (langchain_pg: message_store + its session_id index; chatstore: ${csTables.join(', ')})`);
  say('F3 done');
  return { T, bytes };
}

// ---- run --------------------------------------------------------------------------------------
let rc = 0;
try {
  const t0 = now();
  say(`F1-F3 frameworks (BENCH_SCALE=${args.scale}: ${TURNS} turns, 1${S.multi ? ` and ${S.multi}` : ''} thread(s))`);
  {   // warm-up (JIT, LangGraph's first compile): 30 turns without a checkpointer, not measured
    const g = buildGraph(null);
    let l = [];
    for (let t = 1; t <= 30; t++) l = (await g.invoke({ messages: [...l, userMsg(99, t)] })).messages;
  }
  for (const nThreads of [1, S.multi].filter((n) => n && (!args.only || args.only === 'F1'))) {
    const res = await f1Stores(['none', 'chatstore_plain', ...(BaselineSaver ? ['chatstore_saver_base'] : []), 'chatstore_saver', 'pg_saver'], nThreads);
    judgeF1(res, nThreads);
  }
  if (args.only && args.only !== 'F1') {
    if (args.only === 'F2') await f2(); else await f3();
  } else if (!args.only) {
  const r2 = await f2();
  const r3 = await f3();
  const ratio = (a, b) => a / b;
  const x2 = ratio(p50(r2.T.vercel.turn), p50(r2.T.chatstore.turn));
  const x3 = ratio(p50(r3.T.langchain_pg.turn), p50(r3.T.chatstore.turn));
  // F2/F3 have no target in the issue: report the ratios (no verdict)
  line(`F2/F3 ratios peer/chatstore: save/turn vercel ${x2.toFixed(2)}x, langchain_pg ${x3.toFixed(2)}x; read vercel `
    + `${ratio(p50(r2.T.vercel.read), p50(r2.T.chatstore.read)).toFixed(2)}x, langchain_pg ${ratio(p50(r3.T.langchain_pg.read), p50(r3.T.chatstore.read)).toFixed(2)}x; `
    + `bytes vercel ${ratio(r2.bytes.vercel, r2.bytes.chatstore).toFixed(2)}x, langchain_pg ${ratio(r3.bytes.langchain_pg, r3.bytes.chatstore).toFixed(2)}x`);
  }
  say(`F1-F3 done in ${((now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(e?.stack ?? e);
  rc = 1;
} finally {
  for (const p of pools) await p.end().catch(() => {});
  if (!args.keep) for (const db of made) await admin.query(`DROP DATABASE IF EXISTS "${db}"`).catch(() => {});
  await admin.end();
}
if (args.raw && csvRows.length) fs.appendFileSync(args.raw, csvRows.join('\n') + '\n');
if (args.summary) fs.writeFileSync(args.summary, JSON.stringify({ targets, lines }, null, 1));
if (!args.raw) console.log(csvRows.join('\n'));
for (const [name, detail, ok] of targets) console.log(`  ${name.padEnd(52)} ${detail}  ${ok ? 'met' : 'MISSED'}`);
process.exit(rc);
