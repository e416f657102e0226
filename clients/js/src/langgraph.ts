// A LangGraph.js checkpointer (BaseCheckpointSaver) on chatstore.
//
// Storage (chatstore 1.6):
//  - the `messages` channel: chatstore messages of the thread `<prefix><thread_id>` (plus
//    `|<checkpoint_ns>` for a subgraph namespace), each written once (chat_save_messages, by id).
//    A checkpoint holds only a reference {leaf, n}: the path of n messages from the root to the
//    message `leaf`. A put whose messages continue an older checkpoint (time travel, fork) makes the
//    thread a tree (chat_checkpoint_put, once) and saves them as a chatstore branch below that
//    checkpoint's leaf: the old checkpoints still read their own path. Each message row keeps
//    chatstore's columns plus LangChain's serialized form in metadata.lg, without what the columns
//    hold (content, id, name, tool_call_id, usage, tool calls) and without empty defaults.
//  - a checkpoint: one row of chat_checkpoints (thread = the chatstore thread, id, ns, parent): the
//    record (v: 3, the compact form of the checkpoint's JSON: no id, no ts when the uuid6 id gives it,
//    the metadata's JSON, and the small channel values: a messages reference, a branch marker; else
//    v: 1, the serializer's blobs) and blobs (the larger values of the channels that changed), both
//    deflated with a preset dictionary (encB); refs names, for a channel whose version did not
//    change, the checkpoint whose blobs hold its value.
//  - pending writes: one row of chat_checkpoint_writes per checkpoint and task, the writes by idx
//    (merged by chat_checkpoint_put: a regular write already stored is kept, a special one replaced).
//    A write of messages that the next checkpoint saved is rewritten as their ids.
//  - cost: getTuple is one statement (row, carried values, pending writes) plus, when this saver has
//    not cached the message path, one for the path; put is one chat_checkpoint_put call (new messages,
//    row, the putWrites calls queued since the last statement) and compares the message list with the
//    parent's cached one by object and id (hashing only messages that are not the very objects);
//    putWrites queues its writes and resolves once they are stored: by the statement of the next put
//    (the writes of a later checkpoint of the thread that this saver has not stored yet: by that
//    checkpoint's own put, which saves their messages as messages then), else by a statement of their
//    own once no put of this saver is in flight (reads, list and deleteThread send them first). A
//    put's messages and the messages of its own checkpoint's queued writes are one batch. LangGraph
//    calls put once the previous put has resolved (puts never overlap: nothing to coalesce), so the
//    time a put takes is on the turn's path: its JS is kept small (plain JSON values skip the
//    serializer's text and parse, a small deflate state, a write of messages is serialized only
//    when it is sent as a value, not as ids).
//  - fallback: when the messages channel is not an append to the parent checkpoint's messages
//    (messages removed or changed, messages without ids, values that are not LangChain messages),
//    its value is stored like any other channel.
import {
  BaseCheckpointSaver, type Checkpoint, type CheckpointListOptions, type CheckpointMetadata,
  type CheckpointPendingWrite, type CheckpointTuple, type PendingWrite, type SerializerProtocol,
  type ChannelVersions, JsonPlusSerializer, WRITES_IDX_MAP, TASKS, maxChannelVersion, compareWritesSortKeys, copyCheckpoint, getCheckpointId, writesSortKey,
} from '@langchain/langgraph-checkpoint';
import type { RunnableConfig } from '@langchain/core/runnables';
import { type BaseMessage, type StoredMessage, isBaseMessage, mapChatMessagesToStoredMessages, mapStoredMessagesToChatMessages } from '@langchain/core/messages';
import type pg from 'pg';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { type Queryable, withTransaction } from './index.js';
import { toChatstoreMessage, fromChatstoreMessage, chatstoreRole } from './langchain.js';

export interface ChatstoreSaverOptions {
  /** prefix of every chat_kv key and chatstore thread id this saver writes (isolation, tests) */
  prefix?: string;
  /** the channel stored as chatstore messages (default "messages") */
  messagesChannel?: string;
  /** the chatstore threads' owner */
  userId?: string | null;
  serde?: SerializerProtocol;
  /**
   * named prepared statements for put and getTuple (default true: planned once per connection);
   * false behind a pooler in transaction mode that does not keep prepared statements
   * (PgBouncer before 1.21), where a connection may not have the statement
   */
  preparedStatements?: boolean;
}

interface Blob { t: string; j?: unknown; b?: string }
interface MsgRef { leaf: string; n: number }
interface ChannelBlob { val?: Blob; msgs?: MsgRef }
// val: the serialized value; mids (instead of val): a messages write whose messages the next checkpoint
// saved as chatstore messages, by id (one: the write was a single message, not a list)
interface WriteRecord { task: string; ch: string; path: string; idx: number; val?: Blob; mids?: string[]; one?: boolean }
interface MsgWrite { key: string; rec: WriteRecord; objs: BaseMessage[]; one: boolean }
interface MsgList { ref: MsgRef | null; ids: string[]; objs: BaseMessage[]; hashes: Array<string | undefined> }
// The pending writes of a checkpoint's task (a row of chat_checkpoint_writes): {idx: WriteEntry},
// WriteEntry: c the channel, v the value, or m the message ids (o: a single message). A regular write
// (idx >= 0) already stored is kept, a special one replaced (merged by chat_checkpoint_put).
interface WriteEntry { c: string; v?: Blob; m?: string[]; o?: 1 }
// one putWrites call's row waiting to be sent: k identifies it here (thread, checkpoint, task)
interface QueuedRow { k: string; th: string; ns: string; cp: string; task: string; p: string; reg: Record<string, WriteEntry>; spec: Record<string, WriteEntry>; save?: unknown[]; ids?: string[] }
// done(had): per key, the idxs already stored before (null: failed)
interface QueuedWrites { rows: QueuedRow[]; done: (had: Map<string, Set<string>> | null, err?: unknown) => void }
interface Patch { thread_id: string; checkpoint_id: string; task: string; w: Record<string, WriteEntry> }
/** The WriteRecords of a checkpoint's rows of chat_checkpoint_writes ([task, path, {idx: WriteEntry}], or null). */
function writeRecords(x: unknown): WriteRecord[] {
  if (x == null) return [];
  return (x as Array<[string, string, Record<string, WriteEntry>]>).flatMap(([task, path, w]) => Object.entries(w ?? {}).map(([idx, e]) => ({
    task, ch: e.c, path: path ?? '', idx: Number(idx), ...(e.m ? { mids: e.m, ...(e.o ? { one: true } : {}) } : { val: e.v }) })));
}
// The record of a checkpoint (its row's record column, JSON text), when the serializer gives the
// checkpoint and metadata as JSON (v: 3): the checkpoint's JSON without its id (the row's), its empty
// channel_values and, when the id (a uuid6, as LangGraph makes them) gives it, its ts; c the
// channel_versions, s the versions_seen, cv the checkpoint's v, x its other fields; m the metadata's
// JSON (else md, the serializer's blob); p the parent. Else (v: 1) the serializer's blobs.
// Channel values: i holds the small ones (a messages reference, a branch marker, up to 256 bytes of
// JSON) for the channel's version in c, carried from the parent's record while the version does not
// change; the others are in the blobs column of the checkpoint that wrote them: this one's, or the
// one o names (carried too). A v: 1 record has every channel's value in its own blobs.
interface RecordV { v: 1; p: string | null; cp: Blob; md: Blob; c?: Record<string, unknown>; o?: Record<string, string> }
interface RecordC {
  v: 3; p: string | null; ts?: unknown; cv: unknown; c: Record<string, unknown>; s: Record<string, Record<string, unknown>>;
  x?: Record<string, unknown>; m?: unknown; md?: Blob; i?: Record<string, ChannelBlob>; o?: Record<string, string>;
  nts?: 1;   // the checkpoint has no ts
}
// what a put needs of its parent: the versions, inline blobs, carried pointers and own blob channels
interface Inline { c: Record<string, unknown>; i: Record<string, ChannelBlob>; o: Record<string, string>; b: Set<string> }
const INLINE_MAX = 256;
type AnyRecord = RecordV | RecordC;
const isC = (r: AnyRecord): r is RecordC => r.v === 3;
const isVer = (x: unknown) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x));

// Records and blobs are stored as bytea: 0x01 and their JSON deflated (raw) with DICT as the preset
// dictionary (LangGraph's usual record and message fields: a record of about 380 bytes of JSON takes
// about 100), or their JSON text as it is when that is not longer. DICT is part of the format: a change
// needs a new leading byte.
const DICT = Buffer.from(
  '"additional_kwargs":{},"response_metadata":{},"tool_call_id":"","tool_calls":[],"invalid_tool_calls":[],'
  + '"usage_metadata":{"input_tokens":,"output_tokens":,"total_tokens":},"type":"tool_call","args":{},"name":"'
  + '{"lc":1,"type":"constructor","id":["langchain_core","messages","AIMessage"],"kwargs":{"id":"","content":"'
  + '{"lc":1,"type":"constructor","id":["langchain_core","messages","ToolMessage"],"kwargs":{"id":"","content":"'
  + '{"val":{"t":"json","j":{"messages":[{"lc":1,"type":"constructor","id":["langchain_core","messages","HumanMessage"],"kwargs":{"id":"","content":"'
  + '{"v":3,"cv":4,"c":{"__start__":,"messages":,"branch:to:agent":,"branch:to:tools":},'
  + '"s":{"__input__":{},"__start__":{"__start__":},"agent":{"branch:to:agent":},"tools":{"branch:to:tools":}},'
  + '"p":"1f1","m":{"source":"input","step":-1,"parents":{}},"m":{"source":"loop","step":,"parents":{}},'
  + '"i":{"messages":{"msgs":{"leaf":"","n":}},"branch:to:agent":{"val":{"t":"json","j":null}},"branch:to:tools":{"val":{"t":"json","j":"agent"}}}}',
  'utf8');
// The deflate window: the smallest that holds DICT and the text (every match the default 32 KB window
// finds, a smaller state to set up: most records and blobs are under 1 KB), with a small hash table up
// to a 4 KB window (memLevel 2: the same sizes on F1's records and blobs). Inflate reads any window up
// to 32 KB: the format does not change.
function encB(o: unknown): Buffer {
  const text = Buffer.from(JSON.stringify(o), 'utf8');
  let wb = 9;
  while (wb < 15 && (1 << wb) - 262 < DICT.length + text.length) wb++;
  const z = deflateRawSync(text, { dictionary: DICT, level: 9, windowBits: wb, memLevel: wb <= 12 ? 2 : 8 });
  return z.length + 1 < text.length ? Buffer.concat([Buffer.from([1]), z]) : text;
}
function decB<T>(b: Buffer | string | null | undefined): T | null {
  if (b == null) return null;
  if (typeof b === 'string') return JSON.parse(b) as T;
  if (b[0] === 1) return JSON.parse(inflateRawSync(b.subarray(1), { dictionary: DICT }).toString('utf8')) as T;
  return JSON.parse(b.toString('utf8')) as T;
}

// plainCopy's answer for a value that is not plain JSON
const NOT_PLAIN = Symbol('not plain JSON');
/** A copy of a value that is plain JSON (null, booleans, finite numbers, strings without NUL, arrays and
 *  plain objects of them, keys without NUL, at most 32 deep): what JsonPlusSerializer's JSON of it parses to (its
 *  replacer changes undefined, Send-like objects, class instances only); else NOT_PLAIN. */
function plainCopy(v: unknown, depth: number): unknown {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : NOT_PLAIN;
  if (typeof v === 'string') return v.includes('\u0000') ? NOT_PLAIN : v;
  if (typeof v !== 'object' || depth > 32) return NOT_PLAIN;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return NOT_PLAIN;
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = plainCopy(v[i], depth + 1);
      if (x === NOT_PLAIN) return NOT_PLAIN;
      out[i] = x;
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const o = v as Record<string, unknown>;
  if ('toJSON' in o || o.lg_name === 'Send') return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (k === '__proto__' || k.includes('\u0000')) return NOT_PLAIN;
    const x = plainCopy(o[k], depth + 1);
    if (x === NOT_PLAIN) return NOT_PLAIN;
    out[k] = x;
  }
  return out;
}

/** The time a uuid6 (LangGraph's checkpoint ids) was made, as an ISO string; null for another id. */
function uuid6Time(id: string): string | null {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-6([0-9a-f]{3})-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.exec(id);
  if (!m) return null;
  const t = (BigInt(`0x${m[1]}`) << 28n) | (BigInt(`0x${m[2]}`) << 12n) | BigInt(`0x${m[3]}`);
  const ms = Number(t / 10000n) - 12219292800000;
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/** The compact record of a checkpoint's JSON (channel_values emptied), or null when it has another shape. */
function compact(j: unknown, id: string): Omit<RecordC, 'p' | 'm' | 'md' | 'i' | 'o'> | null {
  if (!j || typeof j !== 'object' || Array.isArray(j)) return null;
  const { v, id: jid, ts, channel_values: cvals, channel_versions: cver, versions_seen: seen, ...x } = j as Record<string, any>;
  if (jid !== id || !cvals || typeof cvals !== 'object' || Object.keys(cvals).length !== 0) return null;
  if (!cver || typeof cver !== 'object' || Array.isArray(cver) || !seen || typeof seen !== 'object' || Array.isArray(seen)) return null;
  if (!Object.values(cver).every(isVer)) return null;
  for (const m of Object.values(seen)) {
    if (!m || typeof m !== 'object' || Array.isArray(m) || !Object.values(m).every(isVer)) return null;
  }
  if ('ts' in x || 'c' in x) return null;
  const out: Omit<RecordC, 'p' | 'm' | 'md' | 'i' | 'o'> = { v: 3, cv: v, c: cver, s: seen };
  if (ts !== undefined && (typeof ts !== 'string' || uuid6Time(id) !== ts)) out.ts = ts;
  if (ts === undefined) (out as RecordC).nts = 1;
  if (Object.keys(x).length) out.x = x;
  return out;
}

/** The checkpoint's JSON of a compact record (compact's inverse). */
function expand(r: RecordC, id: string): Record<string, unknown> {
  const ts = r.nts ? undefined : r.ts === undefined ? uuid6Time(id) : r.ts;
  return { ...(r.x ?? {}), v: r.cv, id, ...(ts === undefined ? {} : { ts }), channel_values: {}, channel_versions: r.c, versions_seen: r.s };
}

const ROOT_ID = '__chatstore_langgraph_root';
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const hashOf = (stored: unknown) => canon(JSON.parse(JSON.stringify(stored ?? null)));
const msgHash = (m: BaseMessage) => hashOf(mapChatMessagesToStoredMessages([m])[0]);
const EMPTY: MsgList = { ref: null, ids: [], objs: [], hashes: [] };

/** The chatstore form this saver stores: chatstore's columns plus LangChain's serialized form in
 *  metadata.lg without what the columns already hold (content, id, name, tool_call_id). */
function toStored(m: BaseMessage): Record<string, any> {
  const out = toChatstoreMessage(m) as Record<string, any>;
  const lc = out.metadata?.langchain as StoredMessage | undefined;
  if (lc && lc.data) {
    const data: Record<string, unknown> = { ...lc.data };
    if (typeof data.content === 'string' && data.content === out.content) delete data.content;
    if (data.id === out.id) delete data.id;
    if (data.name !== undefined && data.name === out.name) delete data.name;
    if (data.tool_call_id !== undefined && data.tool_call_id === out.tool_call_id) delete data.tool_call_id;
    // empty defaults, which revive() puts back
    for (const f of ['additional_kwargs', 'response_metadata']) {
      const v = data[f];
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) delete data[f];
    }
    if (lc.type === 'ai') {
      for (const f of ['tool_calls', 'invalid_tool_calls']) if (Array.isArray(data[f]) && (data[f] as unknown[]).length === 0) delete data[f];
    }
    // what the tool_calls and usage columns hold (u, t: revive() takes them from the row)
    const lg: Record<string, unknown> = { type: lc.type, data };
    if (lc.type === 'ai' && data.usage_metadata !== undefined && out.usage !== undefined && canon(data.usage_metadata) === canon(out.usage)) {
      delete data.usage_metadata; lg.u = 1;
    }
    if (lc.type === 'ai' && Array.isArray(data.tool_calls) && Array.isArray(out.tool_calls) && canon(data.tool_calls) === canon(out.tool_calls)) {
      delete data.tool_calls; lg.t = 1;
    }
    out.metadata = { lg: Object.keys(data).length === 0 && !lg.u && !lg.t ? lc.type : lg };
    return out;
  }
  return out;
}

/** The LangChain message of a stored row (toStored's inverse; other rows as langchain.ts reads them). */
function revive(row: any): BaseMessage {
  const lgIn = row?.metadata?.lg as (StoredMessage & { u?: 1; t?: 1 }) | string | undefined;
  // (a type alone: nothing but what the columns hold)
  const lg = typeof lgIn === 'string' ? { type: lgIn, data: {} } as unknown as (StoredMessage & { u?: 1; t?: 1 }) : lgIn;
  if (lg && typeof lg === 'object' && lg.type && lg.data) {
    const data: Record<string, unknown> = { ...lg.data };
    if (lg.u && row.usage != null) data.usage_metadata = row.usage;
    if (lg.t && row.tool_calls != null) data.tool_calls = row.tool_calls;
    if (!('content' in data)) data.content = row.content ?? '';
    if (!('id' in data)) data.id = row.id;
    if (!('name' in data) && row.name != null) data.name = row.name;
    if (!('tool_call_id' in data) && row.tool_call_id != null) data.tool_call_id = row.tool_call_id;
    if (!('additional_kwargs' in data)) data.additional_kwargs = {};
    if (!('response_metadata' in data)) data.response_metadata = {};
    if (lg.type === 'ai') {
      if (!('tool_calls' in data)) data.tool_calls = [];
      if (!('invalid_tool_calls' in data)) data.invalid_tool_calls = [];
    }
    return mapStoredMessagesToChatMessages([{ type: lg.type, data } as unknown as StoredMessage])[0];
  }
  return fromChatstoreMessage(row);
}

// the path from the root to a message: the active path up to it when it is on it (one multirange),
// else chatstore's _chat_path_to; the columns revive() reads (no chat_message_json: its item lookup)
const PATH_SQL = `WITH l AS MATERIALIZED (SELECT m.seq FROM chat_messages AS m WHERE m.thread_id = $1 AND m.id = $2),
     p AS MATERIALIZED (SELECT CASE WHEN t.active_path IS NULL OR l.seq <@ t.active_path
                                    THEN coalesce(t.active_path, '{(,)}'::int8multirange) * int8multirange(int8range(NULL, l.seq, '(]'))
                                    ELSE _chat_path_to($1, l.seq) END AS p
                          FROM chat_threads AS t, l WHERE t.id = $1)
SELECT m.id, m.role, m.content, m.parts, m.name, m.tool_calls, m.tool_call_id, m.usage, m.metadata
  FROM chat_messages AS m WHERE m.thread_id = $1 AND m.seq <@ (SELECT p.p FROM p) ORDER BY m.seq`;

class NotAnAppend extends Error {}

// a checkpoint row with the blobs its record points to (o: by primary key), for getTuple and list
const WRITES_OF = (thread: string, cp: string) => `(SELECT jsonb_agg(jsonb_build_array(w.task, w.path, w.writes)) FROM chat_checkpoint_writes AS w
         WHERE w.thread_id = ${thread} AND w.checkpoint_id = ${cp})`;
const ROW_SQL = (where: string, tail = '') => `SELECT c.thread_id, c.ns, c.id, c.record, c.blobs, c.refs, ${WRITES_OF('c.thread_id', 'c.id')} AS writes,
       CASE WHEN c.refs IS NOT NULL THEN (SELECT array_agg(b.id ORDER BY b.id) FROM chat_checkpoints AS b
         WHERE b.thread_id = c.thread_id AND b.id IN (SELECT o.value FROM jsonb_each_text(c.refs) AS o)) END AS carried_ids,
       CASE WHEN c.refs IS NOT NULL THEN (SELECT array_agg(b.blobs ORDER BY b.id) FROM chat_checkpoints AS b
         WHERE b.thread_id = c.thread_id AND b.id IN (SELECT o.value FROM jsonb_each_text(c.refs) AS o)) END AS carried
  FROM chat_checkpoints AS c WHERE ${where} ${tail}`;
/** A row's record (refs: its o). */
function rowRecord(row: { record: Buffer; refs?: Record<string, string> | null }): AnyRecord {
  const rec = decB<AnyRecord>(row.record) as AnyRecord;
  if (row.refs) rec.o = row.refs;
  return rec;
}
const GET_ONE_SQL = ROW_SQL('c.thread_id = $1 AND c.id = $2');
const GET_LATEST_SQL = ROW_SQL('c.thread_id = $1', 'ORDER BY c.id DESC LIMIT 1');
const PUT_SQL = `SELECT chat_checkpoint_put(thread_id => $1, checkpoint_id => $2, record => $3, ns => $4, blobs => $5, refs => $11::jsonb,
  messages => $6::jsonb, message_ids => $7::text[], writes => $8::jsonb, patches => $9::jsonb, user_id => $10) AS had`;

export class ChatstoreSaver extends BaseCheckpointSaver {
  readonly db: Queryable;
  readonly prefix: string;
  readonly messagesChannel: string;
  readonly userId: string | null;
  #cache = new Map<string, MsgList>();
  #refs = new Map<string, MsgRef | null | 'val'>();
  #msgWrites = new Map<string, MsgWrite[]>();   // <chat thread>\0<checkpoint id> -> its pending messages writes
  // putWrites calls not yet sent: the next put sends them in its statement, else a flush does once
  // no put of this saver is in flight (see #scheduleFlush)
  #prepared: boolean;
  // the serializer is LangGraph's JsonPlusSerializer itself: plain JSON values skip it (#dump)
  #plainSerde: boolean;
  #queue: QueuedWrites[] = [];
  #inflight = new Set<Promise<unknown>>();
  #flushScheduled = false;
  #flushing: Promise<void> | null = null;
  #carrying = new Set<Promise<unknown>>();     // puts whose statement carries queued writes
  #raw = new WeakMap<WriteEntry, unknown>();   // a queued write of messages not serialized yet: its value
  #inl = new Map<string, Inline>();             // <chat thread>\0<checkpoint id> -> what its children carry
  // <chat thread>\u0000<checkpoint id> -> its messages and those its pending writes saved (a flush)
  #presaved = new Map<string, MsgList>();

  constructor(db: Queryable, opts: ChatstoreSaverOptions = {}) {
    super(opts.serde);
    this.db = db;
    this.prefix = opts.prefix ?? '';
    this.messagesChannel = opts.messagesChannel ?? 'messages';
    this.userId = opts.userId ?? null;
    this.#prepared = opts.preparedStatements ?? true;
    this.#plainSerde = Object.getPrototypeOf(this.serde) === JsonPlusSerializer.prototype;
  }

  /** a statement's name when statements are prepared, else none (an unnamed statement) */
  #name(name: string): string | undefined {
    return this.#prepared ? name : undefined;
  }

  /** The chatstore thread that holds a LangGraph thread's messages and checkpoints. */
  chatThreadId(threadId: string, ns = ''): string {
    return `${this.prefix}${threadId}${ns ? `|${ns}` : ''}`;
  }

  async #dump(v: unknown): Promise<Blob> {
    // plain JSON (the checkpoint, its metadata, most channel values but messages) with LangGraph's
    // own serializer: what it would give, without its text and a parse of it
    if (this.#plainSerde) {
      const j = plainCopy(v, 0);
      if (j !== NOT_PLAIN) return { t: 'json', j };
    }
    const [t, bytes] = await this.serde.dumpsTyped(v);
    const buf = Buffer.from(bytes);
    if (t === 'json') {
      const text = buf.toString('utf8');
      if (!text.includes('\\u0000')) {
        try { return { t, j: JSON.parse(text) }; } catch { /* base64 below */ }
      }
    }
    return { t, b: buf.toString('base64') };
  }

  async #load(b: Blob): Promise<any> {
    if (b.b !== undefined) return this.serde.loadsTyped(b.t, new Uint8Array(Buffer.from(b.b, 'base64')));
    return this.serde.loadsTyped(b.t, JSON.stringify(b.j));
  }

  #cacheSet(k: string, v: MsgList) {
    this.#cache.delete(k);
    this.#cache.set(k, v);
    if (this.#cache.size > 1000) this.#cache.delete(this.#cache.keys().next().value as string);
  }

  #refSet(k: string, v: MsgRef | null | 'val') {
    this.#refs.set(k, v);
    if (this.#refs.size > 20000) this.#refs.delete(this.#refs.keys().next().value as string);
  }

  #inlSet(k: string, rec: AnyRecord, blobs: unknown): Inline {
    const own = (Buffer.isBuffer(blobs) ? decB(blobs) : blobs ?? {}) as Record<string, unknown>;
    const v: Inline = { c: rec.c ?? {}, i: isC(rec) ? rec.i ?? {} : {}, o: rec.o ?? {}, b: new Set(Object.keys(own)) };
    this.#inl.set(k, v);
    if (this.#inl.size > 20000) this.#inl.delete(this.#inl.keys().next().value as string);
    return v;
  }

  /** A checkpoint's record and own blobs column (null: not stored). */
  async #row(chatThread: string, cpId: string): Promise<{ rec: AnyRecord; blobs: unknown } | null> {
    const r = await this.db.query('SELECT record, blobs, refs FROM chat_checkpoints WHERE thread_id = $1 AND id = $2', [chatThread, cpId]);
    return r.rows.length ? { rec: rowRecord(r.rows[0]), blobs: r.rows[0].blobs } : null;
  }

  /** What a checkpoint's children carry (from memory, else its row). */
  async #inlineOf(chatThread: string, cpId: string): Promise<Inline> {
    const hit = this.#inl.get(`${chatThread}\u0000${cpId}`);
    if (hit) return hit;
    const row = await this.#row(chatThread, cpId);
    return row ? this.#inlSet(`${chatThread}\u0000${cpId}`, row.rec, row.blobs) : { c: {}, i: {}, o: {}, b: new Set() };
  }

  // ---- messages -------------------------------------------------------------------

  /** Make sure the chatstore thread exists; its message count. (A fork from an older checkpoint
   *  makes it a tree: chat_checkpoint_put.) */
  async #ensureThread(c: pg.ClientBase, chatThread: string): Promise<number> {
    const r = await c.query('SELECT message_count FROM chat_get_thread(thread_id => $1, user_id => $2)', [chatThread, this.userId]);
    if (r.rows.length) return Number(r.rows[0].message_count);
    await c.query('SELECT 1 FROM chat_create_thread(id => $1, user_id => $2)', [chatThread, this.userId]);
    return 0;
  }

  /** The message path a reference names, as stored rows, oldest first (one recursive query). */
  async #readPath(q: Queryable | pg.ClientBase, chatThread: string, ref: MsgRef): Promise<any[]> {
    const r = await q.query(PATH_SQL, [chatThread, ref.leaf]);
    const rows = r.rows.length > ref.n ? r.rows.slice(r.rows.length - ref.n) : r.rows;
    if (rows.length !== ref.n || rows[rows.length - 1]?.id !== ref.leaf) throw new Error(`chatstore checkpointer: the messages of thread ${chatThread} up to ${ref.leaf} are gone (${rows.length} of ${ref.n})`);
    return rows;
  }

  /** The messages a reference names: from this saver's cache, else read and revived. */
  async #messagesAt(q: Queryable | pg.ClientBase, chatThread: string, ref: MsgRef | null): Promise<MsgList> {
    if (!ref) return EMPTY;
    const k = `${chatThread}\u0000${ref.leaf}\u0000${ref.n}`;
    const hit = this.#cache.get(k);
    if (hit) return hit;
    const rows = await this.#readPath(q, chatThread, ref);
    const objs = rows.map(revive);
    const v: MsgList = { ref, ids: rows.map((x) => x.id as string), objs, hashes: new Array(objs.length) };
    this.#cacheSet(k, v);
    return v;
  }

  #hashAt(l: MsgList, i: number): string {
    let h = l.hashes[i];
    if (h === undefined) { h = msgHash(l.objs[i]); l.hashes[i] = h; }
    return h;
  }

  #eligible(v: unknown): v is BaseMessage[] {
    if (!Array.isArray(v) || v.length === 0) return false;
    const seen = new Set<string>();
    for (const m of v) {
      if (!isBaseMessage(m) || typeof m.id !== 'string' || m.id === '' || m.id === ROOT_ID || seen.has(m.id)) return false;
      seen.add(m.id);
    }
    return true;
  }

  // ---- pending writes queue ---------------------------------------------------------

  /** The queued putWrites calls as one set of arrays (a later call's key replaces an earlier one's). */
  /** The queued calls' rows, one per key (a regular write queued first wins, as stored; a special one
   *  queued last). */
  static #merge(items: QueuedWrites[]): Map<string, QueuedRow> {
    const out = new Map<string, QueuedRow>();
    for (const it of items) {
      for (const r of it.rows) {
        const o = out.get(r.k);
        if (!o) { out.set(r.k, { ...r, reg: { ...r.reg }, spec: { ...r.spec } }); continue; }
        o.reg = { ...r.reg, ...o.reg };
        o.spec = { ...o.spec, ...r.spec };
      }
    }
    return out;
  }

  /** The queued rows' JSON (after #serialize). */
  static #writesParam(rows: Map<string, QueuedRow>): string | null {
    if (!rows.size) return null;
    return JSON.stringify([...rows.values()].map((r) => ({ k: r.k, thread_id: r.th, ns: r.ns, checkpoint_id: r.cp, task: r.task, path: r.p, reg: r.reg, spec: r.spec,
      ...(r.save ? { save: r.save, ids: r.ids } : {}) })));
  }

  /** Serializes the values of the rows' entries that putWrites left as they were (writes of messages:
   *  most are sent as ids, #presave; the others as values, here). */
  async #serialize(rows: Map<string, QueuedRow>): Promise<void> {
    for (const r of rows.values()) {
      for (const e of Object.values(r.reg)) {
        if (e.v !== undefined || e.m !== undefined || !this.#raw.has(e)) continue;
        e.v = await this.#dump(this.#raw.get(e));
      }
    }
  }

  static #settle(items: QueuedWrites[], had: Map<string, Set<string>> | null, err?: unknown) {
    for (const it of items) it.done(had, err);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const drop = () => { this.#inflight.delete(p); };
    p.then(drop, drop);
    return p;
  }

  /** Sends the queued putWrites calls now, in one statement of their own. */
  async #flush(): Promise<void> {
    while (this.#queue.length) {
      const items = this.#queue;
      this.#queue = [];
      const rows = ChatstoreSaver.#merge(items);
      const pre = await this.#presave(rows);
      try {
        let r;
        try {
          r = await this.db.query({ name: this.#name('chatstore_lg_put'), text: PUT_SQL,
            values: [null, null, null, null, null, null, null, (await this.#serialize(rows), ChatstoreSaver.#writesParam(rows)), null, this.userId, null] });
        } catch (e) {
          if ((e as { code?: string }).code !== 'CS003' || !pre.length) throw e;
          // not an append after all: the writes as values (the failed statement stored nothing)
          for (const x of pre) x.undo();
          pre.length = 0;
          r = await this.db.query({ name: this.#name('chatstore_lg_put'), text: PUT_SQL,
            values: [null, null, null, null, null, null, null, (await this.#serialize(rows), ChatstoreSaver.#writesParam(rows)), null, this.userId, null] });
        }
        for (const x of pre) x.done();
        const had = (r.rows[0]?.had ?? {}) as Record<string, string[]>;
        ChatstoreSaver.#settle(items, new Map(Object.entries(had).map(([k, v]) => [k, new Set<string>(v)])));
      } catch (e) {
        ChatstoreSaver.#settle(items, null, e);
      }
    }
  }

  /** The queued rows whose write of messages continues its checkpoint's messages (the messages a
   *  node returned, before the next checkpoint): the flush saves those messages first and stores the
   *  write as their ids (no rewrite later); the next put finds them saved (#presaved). */
  async #presave(rows: Map<string, QueuedRow>, known?: [string, MsgList], saved: string[] = [],
    append?: { msgs: unknown[]; ids: string[] }): Promise<Array<{ done: () => void; undo: () => void }>> {
    const out: Array<{ done: () => void; undo: () => void }> = [];
    const seen = new Set<string>();
    const saving = new Set<string>(saved);   // saved by this statement before the writes
    for (const row of rows.values()) {
      const mk = `${row.th}\u0000${row.cp}`;
      if (seen.has(mk)) continue;        // one write of messages per checkpoint and flush
      const ws = (this.#msgWrites.get(mk) ?? []).filter((w) => w.key === row.k && String(w.rec.idx) in row.reg);
      if (ws.length !== 1) continue;
      const w = ws[0];
      let base = this.#presaved.get(mk) ?? (known && known[0] === mk ? known[1] : undefined);
      if (!base) {
        const ref = this.#refs.get(mk);
        if (!ref || ref === 'val') continue;
        base = await this.#messagesAt(this.db, row.th, ref);
      }
      if (!base.ref) continue;
      const ids = w.objs.map((m) => m.id as string);
      const idx = String(w.rec.idx);
      const before = row.reg[idx];
      if (ids.every((id) => saving.has(id))) {
        // messages this statement saves before (the put's own, or a write before it: LangGraph's input
        // write and the __start__ task's): stored as ids here
        row.reg[idx] = { c: w.rec.ch, m: ids, ...(w.one ? { o: 1 as const } : {}) };
        out.push({
          done: () => { const cur = this.#msgWrites.get(mk); if (cur) this.#msgWrites.set(mk, cur.filter((x) => x !== w)); },
          undo: () => { row.reg[idx] = before; },
        });
        continue;
      }
      if (ids.some((id) => base!.ids.includes(id) || saving.has(id))) continue;
      seen.add(mk);
      for (const id of ids) saving.add(id);
      // the put's own checkpoint (known), whose new messages end at base's last one: appended to its batch
      const joined = append && known && known[0] === mk && base === known[1];
      const at = append ? [append.msgs.length, append.ids.length] : [0, 0];
      if (joined) {
        append.msgs.push(...w.objs.map(toStored));
        append.ids.push(...ids);
      } else {
        const anchor = { id: base.ref.leaf, role: chatstoreRole(base.objs[base.objs.length - 1]), content: '' };
        row.save = [anchor, ...w.objs.map(toStored)];
        row.ids = ids;
      }
      row.reg[idx] = { c: w.rec.ch, m: ids, ...(w.one ? { o: 1 as const } : {}) };
      const list: MsgList = { ref: { leaf: ids[ids.length - 1], n: base.ids.length + ids.length },
        ids: [...base.ids, ...ids], objs: [...base.objs, ...w.objs], hashes: [...base.hashes, ...new Array(ids.length)] };
      out.push({
        done: () => {
          this.#presavedSet(mk, list);
          this.#cacheSet(`${row.th}\u0000${list.ref!.leaf}\u0000${list.ref!.n}`, list);
          const cur = this.#msgWrites.get(mk);
          if (cur) this.#msgWrites.set(mk, cur.filter((x) => x !== w));
        },
        undo: () => {
          row.reg[idx] = before; delete row.save; delete row.ids;
          if (joined) { append.msgs.length = Math.min(append.msgs.length, at[0]); append.ids.length = Math.min(append.ids.length, at[1]); }
        },
      });
    }
    return out;
  }

  #presavedSet(k: string, v: MsgList) {
    this.#presaved.delete(k);
    this.#presaved.set(k, v);
    if (this.#presaved.size > 1000) this.#presaved.delete(this.#presaved.keys().next().value as string);
  }

  /** A flush once the puts in flight are done (LangGraph calls the next put as soon as the previous
   *  one resolves: that put then takes the queue) and the event loop has run once more. */
  #scheduleFlush() {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    void (async () => {
      // (again after that turn: LangGraph's next put, which takes the writes, may have started meanwhile)
      do {
        while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
        await new Promise((r) => setImmediate(r));
      } while (this.#inflight.size);
      this.#flushScheduled = false;
      if (this.#queue.length) await this.#drain();
    })();
  }

  /** Everything this saver was given is stored (before a read). */
  async #drain(): Promise<void> {
    while (this.#queue.length || this.#flushing || this.#carrying.size) {
      if (!this.#queue.length && !this.#flushing) { await Promise.allSettled([...this.#carrying]); continue; }
      if (!this.#flushing) {
        this.#flushing = this.#track(this.#flush()).finally(() => { this.#flushing = null; });
      }
      await this.#flushing;
    }
  }

  // ---- BaseCheckpointSaver ----------------------------------------------------------

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (threadId === undefined) return undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const chatThread = this.chatThreadId(threadId, ns);
    const cpIdIn = getCheckpointId(config) || null;
    if (this.#queue.length || this.#carrying.size) await this.#drain();
    // record, its blobs and its pending writes in one statement
    const r = cpIdIn ? await this.db.query({ name: this.#name('chatstore_lg_get'), text: GET_ONE_SQL, values: [chatThread, cpIdIn] })
      : await this.db.query({ name: this.#name('chatstore_lg_latest'), text: GET_LATEST_SQL, values: [chatThread] });
    const row = r.rows[0];
    if (!row) return undefined;
    return this.#tuple(threadId, ns, row);
  }

  async #recCheckpoint(rec: AnyRecord, cpId: string): Promise<Checkpoint> {
    return (await this.#load(isC(rec) ? { t: 'json', j: expand(rec, cpId) } : rec.cp)) as Checkpoint;
  }

  async #recMetadata(rec: AnyRecord): Promise<CheckpointMetadata> {
    return (await this.#load(isC(rec) ? (rec.md ?? { t: 'json', j: rec.m }) : rec.md)) as CheckpointMetadata;
  }

  /** The tuple of a checkpoint row (ROW_SQL's columns). */
  async #tuple(threadId: string, ns: string, row: any, recIn?: AnyRecord): Promise<CheckpointTuple> {
    const cpId = row.id as string;
    const rec = recIn ?? rowRecord(row);
    const checkpoint = await this.#recCheckpoint(rec, cpId);
    const metadata = await this.#recMetadata(rec);
    const parent = rec.p;
    const chatThread = this.chatThreadId(threadId, ns);
    const k = `${chatThread}\u0000${cpId}`;
    this.#inlSet(k, rec, row.blobs);
    const own = (decB<Record<string, ChannelBlob>>(row.blobs) ?? {});
    const byId = new Map<string, Record<string, ChannelBlob>>();
    (row.carried_ids ?? []).forEach((id: string, i: number) => byId.set(id, decB<Record<string, ChannelBlob>>(row.carried[i]) ?? {}));
    const carried: Record<string, ChannelBlob | undefined> = {};
    for (const [ch, id] of Object.entries(rec.o ?? {})) carried[ch] = byId.get(id)?.[ch];
    const inline = isC(rec) ? rec.i ?? {} : {};
    checkpoint.channel_values = {};
    for (const ch of Object.keys(checkpoint.channel_versions ?? {})) {
      const blob = inline[ch] ?? own[ch] ?? carried[ch];
      if (!blob) continue;
      if (blob.msgs) {
        const list = await this.#messagesAt(this.db, chatThread, blob.msgs);
        checkpoint.channel_values[ch] = list.objs.slice();
        if (ch === this.messagesChannel) this.#refSet(k, blob.msgs);
      } else if (blob.val) {
        checkpoint.channel_values[ch] = await this.#load(blob.val);
        if (ch === this.messagesChannel) this.#refSet(k, 'val');
      }
    }
    if (checkpoint.v < 4 && parent) {
      const sends = (await this.#pendingWrites(chatThread, parent)).filter((w) => w[1] === TASKS).map((w) => w[2]);
      checkpoint.channel_values[TASKS] = sends;
      const vs = Object.values(checkpoint.channel_versions ?? {});
      checkpoint.channel_versions = { ...checkpoint.channel_versions, [TASKS]: vs.length ? maxChannelVersion(...vs) : this.getNextVersion(undefined) };
    }
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: cpId } },
      checkpoint,
      metadata,
      pendingWrites: await this.#loadWrites(chatThread, writeRecords(row.writes)),
    };
    if (parent) tuple.parentConfig = { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: parent } };
    return tuple;
  }

  async #loadWrites(chatThread: string, ws: WriteRecord[]): Promise<CheckpointPendingWrite[]> {
    ws.sort((a, b) => compareWritesSortKeys(writesSortKey(a.path, a.task, a.idx), writesSortKey(b.path, b.task, b.idx)));
    const want = [...new Set(ws.flatMap((w) => w.mids ?? []))];
    const byId = new Map<string, any>();
    if (want.length) {
      const r = await this.db.query(`SELECT m.id, m.role, m.content, m.parts, m.name, m.tool_calls, m.tool_call_id, m.usage, m.metadata
        FROM chat_messages AS m WHERE m.thread_id = $1 AND m.id = ANY($2::text[])`, [chatThread, want]);
      for (const row of r.rows) byId.set(row.id, row);
    }
    return Promise.all(ws.map(async (w) => {
      if (!w.mids) return [w.task, w.ch, await this.#load(w.val as Blob)] as CheckpointPendingWrite;
      const msgs = w.mids.map((id) => {
        const row = byId.get(id);
        if (!row) throw new Error(`chatstore checkpointer: message ${id} of thread ${chatThread} is gone`);
        return revive(row);
      });
      return [w.task, w.ch, w.one ? msgs[0] : msgs] as CheckpointPendingWrite;
    }));
  }

  async #pendingWrites(chatThread: string, cpId: string): Promise<CheckpointPendingWrite[]> {
    const r = await this.db.query(`SELECT ${WRITES_OF('$1', '$2')} AS writes`, [chatThread, cpId]);
    return this.#loadWrites(chatThread, writeRecords(r.rows[0]?.writes ?? null));
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options ?? {};
    let limit = options?.limit;
    const threadId = config.configurable?.thread_id as string | undefined;
    const ns = config.configurable?.checkpoint_ns as string | undefined;
    const onlyId = config.configurable?.checkpoint_id as string | undefined;
    await this.#drain();
    const esc = (x: string) => x.replace(/[\\%_]/g, (c) => `\\${c}`);
    let r;
    if (threadId !== undefined && ns !== undefined) {
      r = await this.db.query(ROW_SQL('c.thread_id = $1'), [this.chatThreadId(threadId, ns)]);
    } else if (threadId !== undefined) {
      const root = this.chatThreadId(threadId);
      r = await this.db.query(ROW_SQL(`(c.thread_id = $1 OR c.thread_id LIKE $2)`), [root, `${esc(root)}|%`]);
    } else {
      r = await this.db.query(ROW_SQL(`c.thread_id LIKE $1`), [`${esc(this.prefix)}%`]);
    }
    const rows: Array<{ thread: string; ns: string; row: any; rec: AnyRecord }> = [];
    for (const row of r.rows) {
      const rowNs = row.ns as string;
      const t = row.thread_id as string;
      const cut = rowNs ? rowNs.length + 1 : 0;
      const thread = t.slice(this.prefix.length, t.length - cut);
      if (this.chatThreadId(thread, rowNs) !== t) continue;     // another thread's id that looks alike
      if (threadId !== undefined && thread !== threadId) continue;
      rows.push({ thread, ns: rowNs, row, rec: rowRecord(row) });
    }
    rows.sort((a, b) => (a.thread < b.thread ? -1 : a.thread > b.thread ? 1
      : a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.row.id < b.row.id ? 1 : a.row.id > b.row.id ? -1 : 0));
    const beforeId = before?.configurable?.checkpoint_id as string | undefined;
    for (const x of rows) {
      if (ns !== undefined && x.ns !== ns) continue;
      if (onlyId && x.row.id !== onlyId) continue;
      if (beforeId && x.row.id >= beforeId) continue;
      if (filter) {
        const md = (await this.#recMetadata(x.rec)) as Record<string, unknown>;
        if (!Object.entries(filter).every(([k, v]) => canon(md?.[k]) === canon(v))) continue;
      }
      if (limit !== undefined) {
        if (limit <= 0) break;
        limit -= 1;
      }
      yield await this.#tuple(x.thread, x.ns, x.row, x.rec);
    }
  }

  put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    return this.#track(this.#put(config, checkpoint, metadata, newVersions));
  }

  async #put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (threadId === undefined) throw new Error('Failed to put checkpoint: the config has no "thread_id" in "configurable"');
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const parentId = (config.configurable?.checkpoint_id as string | undefined) ?? null;
    const chatThread = this.chatThreadId(threadId, ns);
    const msgs = checkpoint.channel_values?.[this.messagesChannel];
    const md = await this.#dump(metadata);
    const mc = this.messagesChannel;
    // the putWrites calls queued until now (see putWrites): sent in this statement
    let items: QueuedWrites[] = [];
    let release: (() => void) | null = null;
    let solo = false;     // true: this put sends no queued writes

    const write = async (useRef: boolean) => {
      const values = (checkpoint.channel_values ?? {}) as Record<string, unknown>;
      const chBlobs: Array<[string, ChannelBlob]> = [];
      const patches = new Map<string, Patch>();   // the parent's pending messages writes rewritten as ids, by task
      let list: MsgList | null = null;
      let batch: unknown[] | null = null;
      let expect: string[] | null = null;
      let newRoot = false;
      let mref: MsgRef | null | 'val' | undefined;
      let rewrote: string | null = null;
      if (useRef && mc in newVersions && this.#eligible(msgs)) {
        let prevRef: MsgRef | null = null;
        if (parentId) {
          let pr = this.#refs.get(`${chatThread}\u0000${parentId}`);
          if (pr === undefined) pr = await this.#readRef(chatThread, parentId);
          if (pr === 'val') throw new NotAnAppend();      // the parent's messages were a stored value
          prevRef = pr;
        }
        let prev = await this.#messagesAt(this.db, chatThread, prevRef);
        // the parent's messages and those its pending writes saved (a flush), when this list goes on
        // from them
        const pre = parentId ? this.#presaved.get(`${chatThread}\u0000${parentId}`) : undefined;
        if (pre && pre.ids.length > prev.ids.length && pre.ids.length <= msgs.length && pre.ids.every((id, i) => msgs[i].id === id)) prev = pre;
        const k = prev.ids.length;
        if (k > msgs.length) throw new NotAnAppend();
        const hashes: Array<string | undefined> = new Array(msgs.length);
        for (let i = 0; i < k; i++) {
          if (prev.ids[i] !== msgs[i].id) throw new NotAnAppend();
          if (prev.objs[i] !== msgs[i]) {             // not the very object: compare the serialized forms
            const h = msgHash(msgs[i]);
            if (h !== this.#hashAt(prev, i)) throw new NotAnAppend();
            hashes[i] = h;
          } else hashes[i] = prev.hashes[i];
        }
        const ids = msgs.map((m) => m.id as string);
        let ref: MsgRef | null;
        if (k === msgs.length) {
          ref = prev.ref;
        } else {
          newRoot = k === 0;
          // the new messages, after the parent's last one (the anchor: saved below it; by id, so only
          // its id and role)
          const fresh = msgs.slice(k).map(toStored);
          const anchor = k > 0 ? [{ id: ids[k - 1], role: chatstoreRole(msgs[k - 1]), content: '' }] : [];
          batch = [...anchor, ...fresh];
          expect = ids.slice(k);
          ref = { leaf: ids[ids.length - 1], n: ids.length };
        }
        list = { ref, ids, objs: msgs.slice(), hashes };
        // the parent's pending messages writes whose messages are now saved: stored again as ids
        const pw = parentId ? this.#msgWrites.get(`${chatThread}\u0000${parentId}`) : undefined;
        if (pw && batch) {
          const pos = new Map<string, number>();
          for (let i = k; i < ids.length; i++) pos.set(ids[i], i);
          for (const w of pw) {
            const ok = w.objs.every((m) => {
              const i = pos.get(m.id as string);
              return i !== undefined && (msgs[i] === m || msgHash(msgs[i]) === msgHash(m));
            });
            if (!ok) continue;
            const e: WriteEntry = { c: w.rec.ch, m: w.objs.map((m) => m.id as string), ...(w.one ? { o: 1 as const } : {}) };
            const pt = patches.get(w.key) ?? { thread_id: chatThread, checkpoint_id: parentId as string, task: w.rec.task, w: {} };
            pt.w[String(w.rec.idx)] = e;
            patches.set(w.key, pt);
          }
          rewrote = `${chatThread}\u0000${parentId}`;
        }
        mref = ref;
        chBlobs.push([mc, { msgs: ref ?? undefined }]);
      }
      for (const [ch] of Object.entries(newVersions)) {
        if (list && ch === mc) continue;
        if (!(ch in values)) continue;
        if (ch === mc) mref = 'val';
        chBlobs.push([ch, { val: await this.#dump(values[ch]) }]);
      }
      const cp = copyCheckpoint(checkpoint);
      cp.channel_values = {};
      const cpBlob = await this.#dump(cp);
      const cpc = cpBlob.j !== undefined ? compact(cpBlob.j, checkpoint.id) : null;
      const own: Record<string, ChannelBlob> = {};
      const inl: Record<string, ChannelBlob> = {};
      const ptr: Record<string, string> = {};
      for (const [ch, b] of chBlobs) {
        if (cpc && JSON.stringify(b).length <= INLINE_MAX) inl[ch] = b;
        else own[ch] = b;
      }
      // the channels whose version did not change: carried from the parent (inline, or a pointer to
      // the row that holds the value)
      const unchanged = Object.entries(checkpoint.channel_versions ?? {}).filter(([ch]) => !(ch in newVersions));
      if (unchanged.length && parentId) {
        const pin = await this.#inlineOf(chatThread, parentId);
        for (const [ch, ver] of unchanged) {
          if (pin.c[ch] !== ver) continue;
          if (pin.i[ch]) { if (cpc) inl[ch] = pin.i[ch]; else own[ch] = pin.i[ch]; } else if (pin.o[ch]) ptr[ch] = pin.o[ch];
          else if (pin.b.has(ch)) ptr[ch] = parentId;
        }
      }
      let rec: AnyRecord;
      if (cpc) {
        rec = { ...cpc, p: parentId, ...(md.j !== undefined ? { m: md.j } : { md }) };
        if (Object.keys(inl).length) rec.i = inl;
      } else {
        rec = { v: 1, p: parentId, cp: cpBlob, md, c: { ...(checkpoint.channel_versions ?? {}) } };
      }
      if (Object.keys(ptr).length) rec.o = ptr;
      if (this.#queue.length && !solo) {
        // not the writes of a later checkpoint of this thread that this saver has not stored: LangGraph
        // runs the next tasks before it puts their checkpoint, and that put (next in LangGraph's chain)
        // stores them with its row, saving their messages as messages then (no value stored here and
        // rewritten as ids later); else a flush sends them once no put is in flight
        const later = (r: QueuedRow) => r.th === chatThread && r.cp > checkpoint.id && !this.#inl.has(`${r.th}\u0000${r.cp}`);
        const take = this.#queue.filter((it) => !it.rows.some(later));
        if (take.length) {
          this.#queue = take.length === this.#queue.length ? [] : this.#queue.filter((it) => it.rows.some(later));
          items.push(...take);
        }
        if (take.length && !release) {
          const carry = new Promise<void>((r) => { release = r; });
          this.#carrying.add(carry);
          void carry.then(() => this.#carrying.delete(carry));
        }
      }
      const rows = ChatstoreSaver.#merge(items);
      // a rewrite of a queued write (the parent's messages writes as ids): in the queued row
      const pv: Patch[] = [];
      for (const [k, patch] of patches) {
        const row = rows.get(k);
        if (row) { for (const [idx, e] of Object.entries(patch.w)) if (idx in row.reg) row.reg[idx] = e; } else pv.push(patch);
      }
      const { o: refs, ...stored } = rec;
      // the queued writes of messages that go on from their checkpoint's messages: saved with them
      // (#presave); this checkpoint's messages are known here
      let known: [string, MsgList] | undefined;
      if (list) known = [`${chatThread}\u0000${checkpoint.id}`, list];
      else {
        const r0 = mref ?? (!(mc in newVersions) && parentId ? this.#refs.get(`${chatThread}\u0000${parentId}`) : undefined);
        if (r0 && r0 !== 'val') known = [`${chatThread}\u0000${checkpoint.id}`, await this.#messagesAt(this.db, chatThread, r0)];
      }
      // a queued write of this checkpoint's messages that go on from its new messages: saved in the same
      // batch (one chat_save_messages call; not on a thread's first messages, which a CS003 retries as a value)
      const append = batch && !newRoot ? { msgs: [] as unknown[], ids: [] as string[] } : undefined;
      const pre = [...rows.values()].some((r) => this.#msgWrites.has(`${r.th}\u0000${r.cp}`)) ? await this.#presave(rows, known, expect ?? [], append) : [];
      const batchParam = () => (batch ? JSON.stringify(append?.msgs.length ? [...batch, ...append.msgs] : batch) : null);
      const expectParam = () => (expect && append?.ids.length ? [...expect, ...append.ids] : expect);
      await this.#serialize(rows);
      const params = [chatThread, checkpoint.id, encB(stored), ns, Object.keys(own).length ? encB(own) : null, batchParam(), expectParam(),
        ChatstoreSaver.#writesParam(rows), pv.length ? JSON.stringify(pv) : null, this.userId, refs ? JSON.stringify(refs) : null];
      const query = async (q: Queryable | pg.ClientBase) => {
        try {
          return (await q.query({ name: this.#name('chatstore_lg_put'), text: PUT_SQL, values: params })).rows[0]?.had ?? null;
        } catch (e) {
          if ((e as { code?: string }).code !== 'CS003' || !pre.length || newRoot) throw e;
          // maybe a queued write's messages: again without saving them (the statement stored nothing)
          for (const x of pre) x.undo();
          pre.length = 0;
          params[5] = batchParam();
          params[6] = expectParam();
          await this.#serialize(rows);
          params[7] = ChatstoreSaver.#writesParam(rows);
          return (await q.query({ name: this.#name('chatstore_lg_put'), text: PUT_SQL, values: params })).rows[0]?.had ?? null;
        }
      };
      let had: Record<string, string[]> | null = null;
      try {
        if (newRoot) {
          // a thread's first messages (once per thread): the transaction locks the thread row, which a
          // flush's rows (their foreign key) wait for: no flush runs meanwhile
          while (this.#flushing) await this.#flushing.catch(() => undefined);
          await withTransaction(this.db, async (c) => {
            const count = await this.#ensureThread(c, chatThread);
            if (count > 0) throw new NotAnAppend();   // a new root in a thread with messages
            had = await query(c);
          });
        } else {
          had = await query(this.db);
        }
      } catch (e) {
        for (const x of pre) x.undo();
        if ((e as { code?: string }).code === 'CS003') throw new NotAnAppend();   // an id stored elsewhere in the thread
        throw e;
      }
      for (const x of pre) x.done();
      if (mref === undefined && !(mc in newVersions)) mref = this.#refs.get(`${chatThread}\u0000${parentId}`);
      if (rewrote) this.#msgWrites.delete(rewrote);
      if (items.length) ChatstoreSaver.#settle(items, new Map(Object.entries(had ?? {}).map(([k, v]) => [k, new Set<string>(v)])));
      items = [];
      this.#inlSet(`${chatThread}\u0000${checkpoint.id}`, rec, own);
      return { list, mref };
    };

    let out: { list: MsgList | null; mref: MsgRef | null | 'val' | undefined };
    const attempt = async () => {
      try {
        return await write(true);
      } catch (e) {
        if (!(e instanceof NotAnAppend)) throw e;
        return write(false);
      }
    };
    try {
      try {
        out = await attempt();
      } catch (e) {
        if (!items.length) throw e;
        // the queued writes this put took: sent on their own (their error is theirs), the put again
        // without them (the failed statement stored nothing)
        this.#queue.unshift(...items); items = []; this.#scheduleFlush();
        solo = true;
        out = await attempt();
      }
    } finally {
      (release as (() => void) | null)?.();
    }
    if (out.list?.ref) this.#cacheSet(`${chatThread}\u0000${out.list.ref.leaf}\u0000${out.list.ref.n}`, out.list);
    if (out.mref !== undefined) this.#refSet(`${chatThread}\u0000${checkpoint.id}`, out.mref);
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  /** The messages reference of a stored checkpoint (null: none; 'val': a stored value). */
  async #readRef(chatThread: string, cpId: string): Promise<MsgRef | null | 'val'> {
    const row = await this.#row(chatThread, cpId);
    if (!row) return null;
    const { rec } = row;
    const mc = this.messagesChannel;
    const own = decB<Record<string, ChannelBlob>>(row.blobs as Buffer | null) ?? {};
    if (isC(rec) && rec.c[mc] === undefined) return null;
    let pb: ChannelBlob | null | undefined = (isC(rec) ? rec.i?.[mc] : undefined) ?? own[mc];
    if (!pb && rec.o?.[mc]) {
      const r = await this.db.query('SELECT blobs FROM chat_checkpoints WHERE thread_id = $1 AND id = $2', [chatThread, rec.o[mc]]);
      pb = decB<Record<string, ChannelBlob>>(r.rows[0]?.blobs ?? null)?.[mc] ?? null;
    }
    if (pb && !pb.msgs) return 'val';
    return pb?.msgs ?? null;
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = config.configurable?.thread_id as string | undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const cpId = config.configurable?.checkpoint_id as string | undefined;
    if (threadId === undefined) throw new Error('Failed to put writes: the config has no "thread_id" in "configurable"');
    if (cpId === undefined) throw new Error('Failed to put writes: the config has no "checkpoint_id" in "configurable"');
    const chatThread = this.chatThreadId(threadId, ns);
    const key = JSON.stringify([chatThread, cpId, taskId]);
    const reg: Record<string, WriteEntry> = {};
    const spec: Record<string, WriteEntry> = {};
    const mw = new Map<number, MsgWrite>();
    for (let i = 0; i < writes.length; i++) {
      const [channel, value] = writes[i];
      const idx = WRITES_IDX_MAP[channel] ?? i;
      mw.delete(idx);
      if (channel === this.messagesChannel && idx >= 0) {
        const objs = Array.isArray(value) ? value : [value];
        if (objs.length > 0 && objs.every((m) => isBaseMessage(m) && typeof m.id === 'string' && m.id !== '')) {
          mw.set(idx, { key, rec: { task: taskId, ch: channel, path: taskPath ?? '', idx }, objs: objs.slice(), one: !Array.isArray(value) });
          // with LangGraph's serializer (it serializes any message), serialized only if it is sent as a
          // value (#serialize): the statement usually sends its messages' ids (#presave); another
          // serializer's error stays putWrites' own (below)
          if (this.#plainSerde) {
            const e: WriteEntry = { c: channel };
            this.#raw.set(e, Array.isArray(value) ? value.slice() : value);
            reg[String(idx)] = e;
            continue;
          }
        }
      }
      (idx < 0 ? spec : reg)[String(idx)] = { c: channel, v: await this.#dump(value) };
    }
    if (writes.length === 0) return;
    // remembered before the statement: a put that runs concurrently (LangGraph does not wait for
    // putWrites before the next put) finds them; dropped again when the idx was already stored
    const mk = `${chatThread}\u0000${cpId}`;
    const mine = [...mw.values()];
    if (mine.length) {
      const all = [...(this.#msgWrites.get(mk) ?? []).filter((w) => !(w.key === key && mw.has(w.rec.idx))), ...mine];
      this.#msgWrites.delete(mk);
      this.#msgWrites.set(mk, all);
      if (this.#msgWrites.size > 1000) this.#msgWrites.delete(this.#msgWrites.keys().next().value as string);
    }
    // queued: sent in the statement of the put that follows (LangGraph puts the next checkpoint
    // after a step's writes), else by a flush of its own; resolved once stored
    await new Promise<void>((resolve, reject) => {
      this.#queue.push({ rows: [{ k: key, th: chatThread, ns, cp: cpId, task: taskId, p: taskPath ?? '', reg, spec }], done: (had, err) => {
        if (!had) { reject(err); return; }
        const was = had.get(key);
        const cur = this.#msgWrites.get(mk);
        if (cur && was && mine.some((w) => was.has(String(w.rec.idx)))) {
          this.#msgWrites.set(mk, cur.filter((w) => !(mine.includes(w) && was.has(String(w.rec.idx)))));
        }
        resolve();
      } });
      this.#scheduleFlush();
    });
  }

  async deleteThread(threadId: string): Promise<void> {
    const root = this.chatThreadId(threadId);
    await this.#drain();
    await withTransaction(this.db, async (c) => {
      const esc = root.replace(/[\\%_]/g, (x) => `\\${x}`);
      const r = await c.query('SELECT DISTINCT thread_id, ns FROM chat_checkpoints WHERE thread_id = $1 OR thread_id LIKE $2', [root, `${esc}|%`]);
      const threads = new Set<string>([root]);
      for (const row of r.rows) if (this.chatThreadId(threadId, row.ns) === row.thread_id) threads.add(row.thread_id);
      for (const t of threads) {
        await c.query('SELECT chat_delete_thread(thread_id => $1, user_id => $2)', [t, this.userId]);
      }
    });
    for (const m of [this.#cache, this.#inl, this.#refs, this.#msgWrites, this.#presaved] as Array<Map<string, unknown>>) {
      for (const k of [...m.keys()]) if (k === root || k.startsWith(`${root}\u0000`) || k.startsWith(`${root}|`)) m.delete(k);
    }
  }
}

export default ChatstoreSaver;
