// A LangGraph.js checkpointer (BaseCheckpointSaver) on chatstore.
//
// Storage, all through chatstore's SQL API (no tables of its own):
//  - the `messages` channel: chatstore messages of the thread `<prefix><thread_id>` (plus
//    `|<checkpoint_ns>` for a subgraph namespace), each written once (chat_save_messages, by id).
//    A checkpoint holds only a reference {leaf, n}: the path of n messages from the root to the
//    message `leaf` in chatstore's message tree. The thread is made a tree from its first save, so
//    a run resumed from an older checkpoint (time travel, fork) saves its new messages as a chatstore
//    branch below that checkpoint's leaf: the old checkpoints still read their own path.
//    Each message row keeps chatstore's columns plus LangChain's serialized form in metadata.lg,
//    without what the columns hold (content, id, name, tool_call_id) and without empty defaults.
//  - the checkpoint (versions, metadata, parent): one chat_kv key per checkpoint
//    `<prefix>lg:<thread>:<ns>:c:<checkpoint_id>`, a compact record when the serializer gives JSON
//    (v: 2: no id, each distinct version once and the versions as indexes into that list, the
//    metadata's JSON; else v: 1, the serializer's blobs); each channel version one key
//    `<prefix>lg:<thread>:<ns>:b:<version>:<channel>`, except small blobs (a messages reference, a
//    branch marker) that the record holds (i) and the next records carry while the version does not
//    change; the pending writes of one putWrites call one key `<prefix>lg:<thread>:<ns>:w:<checkpoint_id>:<task_id>`
//    (writes by idx, merged in SQL with what the key holds; keys of one write each,
//    `...:<task_id>:<idx>`, as stored before, are read too); the newest checkpoint id in `<prefix>lg:<thread>:<ns>:latest`. Records, blobs and writes are
//    stored as their JSON text in a jsonb string (objects, as stored before, are read too); values
//    are the serializer's JSON or base64.
//    A pending write of messages that the next checkpoint saved is rewritten as their ids.
//  - cost: getTuple is one statement (record, blobs, pending writes) plus, when this saver has not
//    cached the message path, one for the path; put is one statement (new messages, record, latest,
//    blobs, and the putWrites calls queued since the last statement) and compares the message list
//    with the parent's cached one by object and id (hashing only messages that are not the very
//    objects); putWrites queues its writes and resolves once they are stored: by the statement of
//    the next put (LangGraph puts the next checkpoint after a step's writes), else by a statement of
//    their own once no put of this saver is in flight (reads, list and deleteThread send them first).
//  - fallback: when the messages channel is not an append to the parent checkpoint's messages
//    (messages removed or changed, messages without ids, values that are not LangChain messages),
//    its value is stored in the checkpoint's key like any other channel.
import {
  BaseCheckpointSaver, type Checkpoint, type CheckpointListOptions, type CheckpointMetadata,
  type CheckpointPendingWrite, type CheckpointTuple, type PendingWrite, type SerializerProtocol,
  type ChannelVersions, WRITES_IDX_MAP, TASKS, maxChannelVersion, compareWritesSortKeys, copyCheckpoint, getCheckpointId, writesSortKey,
} from '@langchain/langgraph-checkpoint';
import type { RunnableConfig } from '@langchain/core/runnables';
import { type BaseMessage, type StoredMessage, isBaseMessage, mapChatMessagesToStoredMessages, mapStoredMessagesToChatMessages } from '@langchain/core/messages';
import type pg from 'pg';
import { type Queryable, withTransaction } from './index.js';
import { toChatstoreMessage, fromChatstoreMessage } from './langchain.js';

export interface ChatstoreSaverOptions {
  /** prefix of every chat_kv key and chatstore thread id this saver writes (isolation, tests) */
  prefix?: string;
  /** the channel stored as chatstore messages (default "messages") */
  messagesChannel?: string;
  /** the chatstore threads' owner */
  userId?: string | null;
  serde?: SerializerProtocol;
}

interface Blob { t: string; j?: unknown; b?: string }
interface MsgRef { leaf: string; n: number }
interface Record_ { v: 1; parent: string | null; cp: Blob; md: Blob }
interface ChannelBlob { val?: Blob; msgs?: MsgRef }
// val: the serialized value; mids (instead of val): a messages write whose messages the next checkpoint
// saved as chatstore messages, by id (one: the write was a single message, not a list)
interface WriteRecord { task: string; ch: string; path: string; idx: number; val?: Blob; mids?: string[]; one?: boolean }
interface MsgWrite { key: string; rec: WriteRecord; objs: BaseMessage[]; one: boolean }
interface MsgList { ref: MsgRef | null; ids: string[]; objs: BaseMessage[]; hashes: Array<string | undefined> }
// one putWrites call waiting to be sent: its keys, values, force flags (a special write is
// replaced, a regular one kept when already stored); done(written keys) settles the call
// A putWrites call is one key `<base>w:<checkpoint_id>:<task_id>` (WriteRow: t the task, p its path,
// w the writes by idx: c channel, v value or m the message ids (o: a single message)); a regular
// write (idx >= 0) already stored is kept, a special one replaced. Keys `...:<task_id>:<idx>` of
// one write each (WriteRecord, as stored before) are read too.
interface WriteEntry { c: string; v?: Blob; m?: string[]; o?: 1 }
interface WriteRow { t: string; p: string; w: Record<string, WriteEntry> }
interface QueuedRow { k: string; t: string; p: string; reg: Record<string, WriteEntry>; spec: Record<string, WriteEntry> }
// done(had): per key, the idxs already stored before (null: failed)
interface QueuedWrites { rows: QueuedRow[]; done: (had: Map<string, Set<string>> | null, err?: unknown) => void }
const WRITES_SQL = (k: number) => `SELECT x.k, coalesce((SELECT array_agg(z) FROM jsonb_object_keys(o.w) AS z), '{}') AS had,
      chat_kv_set(key => x.k, value => to_jsonb(jsonb_build_object('t', x.t, 'p', x.p, 'w', x.reg || coalesce(o.w, '{}') || x.spec)::text)) IS NOT NULL AS s
  FROM unnest($${k}::text[], $${k + 1}::text[], $${k + 2}::text[], $${k + 3}::jsonb[], $${k + 4}::jsonb[]) AS x(k, t, p, reg, spec)
  LEFT JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(g.v) = 'string' THEN (g.v #>> '{}')::jsonb ELSE g.v END -> 'w' AS w
                       FROM (SELECT chat_kv_get(key => x.k) AS v) AS g) AS o ON true`;
/** A stored pending-writes value as WriteRecords (a WriteRow, or one WriteRecord as stored before). */
function writeRecords(x: unknown): WriteRecord[] {
  const v = decV<WriteRow | WriteRecord | null>(x);
  if (!v) return [];
  if ('w' in v && v.w && typeof v.w === 'object') {
    return Object.entries(v.w).map(([idx, e]) => ({ task: v.t, ch: e.c, path: v.p, idx: Number(idx),
      ...(e.m ? { mids: e.m, ...(e.o ? { one: true } : {}) } : { val: e.v }) }));
  }
  return [v as WriteRecord];
}
// a checkpoint record also names its blob keys (bk, suffixes of the thread's base) so that getTuple
// reads record, blobs and pending writes in one statement
interface RecordV extends Record_ { bk?: string[] }
// the compact record (v: 2), when the serializer gives the checkpoint and metadata as JSON: the
// checkpoint's JSON without its id (the key's) and its empty channel_values, each distinct version
// once (vs) and channel_versions (c) and versions_seen (s) as indexes into vs; cv the checkpoint's
// v, x its other fields; m the metadata's JSON (else md, the serializer's blob); p the parent
interface RecordC {
  v: 2; p: string | null; ts: unknown; cv: unknown; vs: Array<string | number>; c: Record<string, number>;
  s: Record<string, Record<string, number>>; x?: Record<string, unknown>; m?: unknown; md?: Blob; bk?: string[];
  // i: the channel blobs held in the record instead of keys of their own (small ones: a messages
  // reference, a branch marker), for the channel's version in c; carried from the parent's record
  // while the version does not change
  i?: Record<string, ChannelBlob>;
}
interface Inline { c: Record<string, unknown>; i: Record<string, ChannelBlob> }
const INLINE_MAX = 256;
type AnyRecord = RecordV | RecordC;
const isC = (r: AnyRecord): r is RecordC => r.v === 2;
// records, channel blobs and pending writes are stored as their JSON text in a jsonb string (smaller
// than a jsonb object: no per-key headers); values stored as objects (before) are read as they are
const encV = (o: unknown) => JSON.stringify(JSON.stringify(o));
const decV = <T>(x: unknown): T => (typeof x === 'string' ? JSON.parse(x) : x) as T;
const isVer = (x: unknown) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x));

/** The compact record of a checkpoint's JSON (channel_values emptied), or null when it has another shape. */
function compact(j: unknown, id: string): Omit<RecordC, 'p' | 'm' | 'md' | 'bk'> | null {
  if (!j || typeof j !== 'object' || Array.isArray(j)) return null;
  const { v, id: jid, ts, channel_values: cvals, channel_versions: cver, versions_seen: seen, ...x } = j as Record<string, any>;
  if (jid !== id || !cvals || typeof cvals !== 'object' || Object.keys(cvals).length !== 0) return null;
  if (!cver || typeof cver !== 'object' || Array.isArray(cver) || !seen || typeof seen !== 'object' || Array.isArray(seen)) return null;
  const vs: Array<string | number> = [];
  const at = new Map<string | number, number>();
  const ix = (ver: string | number) => {
    let i = at.get(ver);
    if (i === undefined) { i = vs.length; vs.push(ver); at.set(ver, i); }
    return i;
  };
  const c: Record<string, number> = {};
  for (const [ch, ver] of Object.entries(cver)) { if (!isVer(ver)) return null; c[ch] = ix(ver as string | number); }
  const sOut: Record<string, Record<string, number>> = {};
  for (const [node, m] of Object.entries(seen)) {
    if (!m || typeof m !== 'object' || Array.isArray(m)) return null;
    const o: Record<string, number> = {};
    for (const [ch, ver] of Object.entries(m as Record<string, unknown>)) { if (!isVer(ver)) return null; o[ch] = ix(ver as string | number); }
    sOut[node] = o;
  }
  const out: Omit<RecordC, 'p' | 'm' | 'md' | 'bk'> = { v: 2, ts, cv: v, vs, c, s: sOut };
  if (Object.keys(x).length) out.x = x;
  return out;
}

/** The checkpoint's JSON of a compact record (compact's inverse). */
function expand(r: RecordC, id: string): Record<string, unknown> {
  const map = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, i]) => [k, r.vs[i]]));
  return {
    ...(r.x ?? {}), v: r.cv, id, ts: r.ts, channel_values: {}, channel_versions: map(r.c),
    versions_seen: Object.fromEntries(Object.entries(r.s).map(([n, o]) => [n, map(o)])),
  };
}

const ROOT_ID = '__chatstore_langgraph_root';
const enc = (s: string) => encodeURIComponent(s);
/** A blob key (a suffix of the thread's base). "b:<version>:<channel>" when the version has no ':'
 *  (what getTuple's statement computes from channel_versions), else "b~<version>:<channel>" encoded. */
const blobKey = (ch: string, ver: unknown) => {
  const v = String(ver);
  return v.includes(':') ? `b~${enc(v)}:${enc(ch)}` : `b:${v}:${ch}`;
};
const sqlComputable = (ver: unknown) => (typeof ver === 'string' && !ver.includes(':')) || (typeof ver === 'number' && Number.isSafeInteger(ver));

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
    out.metadata = { lg: { type: lc.type, data } };
  }
  return out;
}

/** The LangChain message of a stored row (toStored's inverse; other rows as langchain.ts reads them). */
function revive(row: any): BaseMessage {
  const lg = row?.metadata?.lg as StoredMessage | undefined;
  if (lg && typeof lg === 'object' && lg.type && lg.data) {
    const data: Record<string, unknown> = { ...lg.data };
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
SELECT m.id, m.role, m.content, m.parts, m.name, m.tool_calls, m.tool_call_id, m.metadata
  FROM chat_messages AS m WHERE m.thread_id = $1 AND m.seq <@ (SELECT p.p FROM p) ORDER BY m.seq`;

class NotAnAppend extends Error {}

export class ChatstoreSaver extends BaseCheckpointSaver {
  readonly db: Queryable;
  readonly prefix: string;
  readonly messagesChannel: string;
  readonly userId: string | null;
  #known = new Set<string>();
  #cache = new Map<string, MsgList>();
  #refs = new Map<string, MsgRef | null | 'val'>();
  #msgWrites = new Map<string, MsgWrite[]>();   // <base><checkpoint id> -> its pending messages writes
  // putWrites calls not yet sent: the next put sends them in its statement, else a flush does once
  // no put of this saver is in flight (see #scheduleFlush)
  #queue: QueuedWrites[] = [];
  #inflight = new Set<Promise<unknown>>();
  #flushScheduled = false;
  #flushing: Promise<void> | null = null;
  #carrying = new Set<Promise<unknown>>();     // puts whose statement carries queued writes
  #inl = new Map<string, Inline>();             // <base><checkpoint id> -> its inline blobs and versions

  constructor(db: Queryable, opts: ChatstoreSaverOptions = {}) {
    super(opts.serde);
    this.db = db;
    this.prefix = opts.prefix ?? '';
    this.messagesChannel = opts.messagesChannel ?? 'messages';
    this.userId = opts.userId ?? null;
  }

  /** Versions unique across branches (a fork from an old checkpoint must not reuse a version). */
  getNextVersion(current: number | undefined): number {
    const n = typeof current === 'string' ? parseInt(String(current).split('.')[0], 10) : (current ?? 0);
    return `${String(n + 1).padStart(12, '0')}.${Math.random().toString(36).slice(2, 10)}` as unknown as number;
  }

  /** The chatstore thread that holds a LangGraph thread's messages. */
  chatThreadId(threadId: string, ns = ''): string {
    return `${this.prefix}${threadId}${ns ? `|${ns}` : ''}`;
  }

  #base(threadId: string, ns: string) { return `${this.prefix}lg:${enc(threadId)}:${enc(ns)}:`; }

  async #dump(v: unknown): Promise<Blob> {
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

  #inlSet(k: string, rec: AnyRecord) {
    const v: Inline = isC(rec) ? { c: Object.fromEntries(Object.entries(rec.c).map(([ch, i]) => [ch, rec.vs[i]])), i: rec.i ?? {} } : { c: {}, i: {} };
    this.#inl.set(k, v);
    if (this.#inl.size > 20000) this.#inl.delete(this.#inl.keys().next().value as string);
    return v;
  }

  /** A checkpoint's inline blobs (from memory, else its record). */
  async #inlineOf(base: string, cpId: string): Promise<Inline> {
    const hit = this.#inl.get(`${base}${cpId}`);
    if (hit) return hit;
    const r = await this.db.query('SELECT chat_kv_get(key => $1 || \'c:\' || $2) AS rec', [base, cpId]);
    const rec = decV<AnyRecord | null>(r.rows[0]?.rec ?? null);
    return rec ? this.#inlSet(`${base}${cpId}`, rec) : { c: {}, i: {} };
  }

  // ---- messages -------------------------------------------------------------------

  /** Make sure the chatstore thread exists and is a tree (a root message saved and deleted). */
  async #ensureThread(c: pg.ClientBase, chatThread: string): Promise<number> {
    const r = await c.query('SELECT message_count FROM chat_get_thread(thread_id => $1, user_id => $2)', [chatThread, this.userId]);
    if (r.rows.length) return Number(r.rows[0].message_count);
    await c.query('SELECT 1 FROM chat_create_thread(id => $1, user_id => $2)', [chatThread, this.userId]);
    await c.query('SELECT 1 FROM chat_save_messages(thread_id => $1, messages => $2::jsonb, user_id => $3)',
      [chatThread, JSON.stringify([{ id: ROOT_ID, role: 'system', content: '' }]), this.userId]);
    await c.query('SELECT chat_delete_message(thread_id => $1, message_id => $2, user_id => $3)', [chatThread, ROOT_ID, this.userId]);
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

  /** The blob keys of a record, when getTuple's statement cannot compute them from the checkpoint. */
  #blobKeys(checkpoint: Checkpoint, cp: Blob): string[] | undefined {
    const vs = Object.entries(checkpoint.channel_versions ?? {});
    if (cp.j !== undefined && vs.every(([, ver]) => sqlComputable(ver))) return undefined;
    return vs.map(([ch, ver]) => blobKey(ch, ver));
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

  static #params(rows: Map<string, QueuedRow>): unknown[] {
    const v = [...rows.values()];
    return [v.map((r) => r.k), v.map((r) => r.t), v.map((r) => r.p), v.map((r) => JSON.stringify(r.reg)), v.map((r) => JSON.stringify(r.spec))];
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
      try {
        const r = await this.db.query(WRITES_SQL(1), ChatstoreSaver.#params(rows));
        ChatstoreSaver.#settle(items, new Map(r.rows.map((x) => [x.k as string, new Set<string>(x.had as string[])])));
      } catch (e) {
        ChatstoreSaver.#settle(items, null, e);
      }
    }
  }

  /** A flush once the puts in flight are done (LangGraph calls the next put as soon as the previous
   *  one resolves: that put then takes the queue) and the event loop has run once more. */
  #scheduleFlush() {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    void (async () => {
      while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
      await new Promise((r) => setImmediate(r));
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
    const base = this.#base(threadId, ns);
    const cpIdIn = getCheckpointId(config) || null;
    if (this.#queue.length || this.#carrying.size) await this.#drain();
    // record, its blobs and its pending writes in one statement
    const r = await this.db.query(
      `WITH i AS (SELECT coalesce($2::text, chat_kv_get(key => $1 || 'latest') #>> '{}') AS id),
            r0 AS (SELECT i.id, chat_kv_get(key => $1 || 'c:' || i.id) AS v FROM i WHERE i.id IS NOT NULL),
            r AS MATERIALIZED (SELECT r0.id, CASE WHEN jsonb_typeof(r0.v) = 'string' THEN (r0.v #>> '{}')::jsonb ELSE r0.v END AS v FROM r0)
       SELECT r.id, r.v,
              (SELECT jsonb_object_agg(k, chat_kv_get(key => $1 || k)) FROM (
                  SELECT jsonb_array_elements_text(r.v -> 'bk') AS k WHERE r.v ? 'bk'
                  UNION ALL
                  SELECT 'b:' || (e.value #>> '{}') || ':' || e.key FROM jsonb_each(r.v #> '{cp,j,channel_versions}') AS e
                   WHERE NOT r.v ? 'bk' AND jsonb_typeof(r.v #> '{cp,j,channel_versions}') = 'object'
                  UNION ALL
                  SELECT 'b:' || (r.v -> 'vs' ->> (e.value #>> '{}')::int) || ':' || e.key FROM jsonb_each(r.v -> 'c') AS e
                   WHERE NOT r.v ? 'bk' AND r.v ->> 'v' = '2' AND jsonb_typeof(r.v -> 'c') = 'object'
                     AND NOT coalesce(r.v -> 'i', '{}') ? e.key) AS b) AS blobs,
              (SELECT jsonb_agg(w.value) FROM chat_kv_list(prefix => $1 || 'w:' || r.id || ':', max_keys => NULL) AS w) AS writes
         FROM r WHERE r.v IS NOT NULL`, [base, cpIdIn]);
    const row = r.rows[0];
    if (!row) return undefined;
    const blobs = Object.fromEntries(Object.entries(row.blobs ?? {}).map(([k, v]) => [k, decV<ChannelBlob | null>(v)]));
    return this.#tuple(threadId, ns, row.id, row.v, blobs, (row.writes ?? []).flatMap(writeRecords));
  }

  async #recCheckpoint(rec: AnyRecord, cpId: string): Promise<Checkpoint> {
    return (await this.#load(isC(rec) ? { t: 'json', j: expand(rec, cpId) } : rec.cp)) as Checkpoint;
  }

  async #recMetadata(rec: AnyRecord): Promise<CheckpointMetadata> {
    return (await this.#load(isC(rec) ? (rec.md ?? { t: 'json', j: rec.m }) : rec.md)) as CheckpointMetadata;
  }

  async #tuple(threadId: string, ns: string, cpId: string, rec: AnyRecord, blobsIn?: Record<string, ChannelBlob | null>, writesIn?: WriteRecord[]): Promise<CheckpointTuple> {
    const checkpoint = await this.#recCheckpoint(rec, cpId);
    const metadata = await this.#recMetadata(rec);
    const parent = isC(rec) ? rec.p : rec.parent;
    const base = this.#base(threadId, ns);
    this.#inlSet(`${base}${cpId}`, rec);
    const chans = Object.entries(checkpoint.channel_versions ?? {});
    checkpoint.channel_values = {};
    if (chans.length) {
      const keys = chans.map(([ch, ver]) => blobKey(ch, ver));
      let byKey: Map<string, ChannelBlob | null>;
      if (blobsIn) {
        byKey = new Map(Object.entries(blobsIn));
      } else {
        const r = await this.db.query('SELECT k, chat_kv_get(key => $2 || k) AS v FROM unnest($1::text[]) AS k', [keys, base]);
        byKey = new Map<string, ChannelBlob | null>(r.rows.map((x) => [x.k, decV<ChannelBlob | null>(x.v)]));
      }
      const inline = isC(rec) ? rec.i ?? {} : {};
      for (let i = 0; i < chans.length; i++) {
        const blob = inline[chans[i][0]] ?? byKey.get(keys[i]);
        if (!blob) continue;
        if (blob.msgs) {
          const chatThread = this.chatThreadId(threadId, ns);
          const list = await this.#messagesAt(this.db, chatThread, blob.msgs);
          checkpoint.channel_values[chans[i][0]] = list.objs.slice();
          if (chans[i][0] === this.messagesChannel) this.#refSet(`${base}${cpId}`, blob.msgs);
        } else if (blob.val) {
          checkpoint.channel_values[chans[i][0]] = await this.#load(blob.val);
          if (chans[i][0] === this.messagesChannel) this.#refSet(`${base}${cpId}`, 'val');
        }
      }
    }
    if (checkpoint.v < 4 && parent) {
      const sends = (await this.#pendingWrites(threadId, ns, parent)).filter((w) => w[1] === TASKS).map((w) => w[2]);
      checkpoint.channel_values[TASKS] = sends;
      const vs = Object.values(checkpoint.channel_versions ?? {});
      checkpoint.channel_versions = { ...checkpoint.channel_versions, [TASKS]: vs.length ? maxChannelVersion(...vs) : this.getNextVersion(undefined) };
    }
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: cpId } },
      checkpoint,
      metadata,
      pendingWrites: writesIn ? await this.#loadWrites(this.chatThreadId(threadId, ns), writesIn) : await this.#pendingWrites(threadId, ns, cpId),
    };
    if (parent) tuple.parentConfig = { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: parent } };
    return tuple;
  }

  async #loadWrites(chatThread: string, ws: WriteRecord[]): Promise<CheckpointPendingWrite[]> {
    ws.sort((a, b) => compareWritesSortKeys(writesSortKey(a.path, a.task, a.idx), writesSortKey(b.path, b.task, b.idx)));
    const want = [...new Set(ws.flatMap((w) => w.mids ?? []))];
    const byId = new Map<string, any>();
    if (want.length) {
      const r = await this.db.query(`SELECT m.id, m.role, m.content, m.parts, m.name, m.tool_calls, m.tool_call_id, m.metadata
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

  async #pendingWrites(threadId: string, ns: string, cpId: string): Promise<CheckpointPendingWrite[]> {
    const r = await this.db.query('SELECT value FROM chat_kv_list(prefix => $1, max_keys => NULL)', [`${this.#base(threadId, ns)}w:${cpId}:`]);
    return this.#loadWrites(this.chatThreadId(threadId, ns), r.rows.flatMap((x) => writeRecords(x.value)));
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options ?? {};
    let limit = options?.limit;
    const threadId = config.configurable?.thread_id as string | undefined;
    const ns = config.configurable?.checkpoint_ns as string | undefined;
    const onlyId = config.configurable?.checkpoint_id as string | undefined;
    const prefix = threadId === undefined ? `${this.prefix}lg:`
      : ns === undefined ? `${this.prefix}lg:${enc(threadId)}:` : `${this.#base(threadId, ns)}c:`;
    await this.#drain();
    const r = await this.db.query('SELECT key, value FROM chat_kv_list(prefix => $1, max_keys => NULL)', [prefix]);
    const rows: Array<{ thread: string; ns: string; id: string; rec: AnyRecord }> = [];
    for (const row of r.rows) {
      const rest = (row.key as string).slice(this.prefix.length + 3).split(':');
      if (rest.length !== 4 || rest[2] !== 'c') continue;
      rows.push({ thread: decodeURIComponent(rest[0]), ns: decodeURIComponent(rest[1]), id: rest[3], rec: decV<AnyRecord>(row.value) });
    }
    rows.sort((a, b) => (a.thread < b.thread ? -1 : a.thread > b.thread ? 1
      : a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const beforeId = before?.configurable?.checkpoint_id as string | undefined;
    for (const x of rows) {
      if (ns !== undefined && x.ns !== ns) continue;
      if (onlyId && x.id !== onlyId) continue;
      if (beforeId && x.id >= beforeId) continue;
      if (filter) {
        const md = (await this.#recMetadata(x.rec)) as Record<string, unknown>;
        if (!Object.entries(filter).every(([k, v]) => canon(md?.[k]) === canon(v))) continue;
      }
      if (limit !== undefined) {
        if (limit <= 0) break;
        limit -= 1;
      }
      yield await this.#tuple(x.thread, x.ns, x.id, x.rec);
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
    const base = this.#base(threadId, ns);
    const chatThread = this.chatThreadId(threadId, ns);
    const msgs = checkpoint.channel_values?.[this.messagesChannel];
    const md = await this.#dump(metadata);
    const mc = this.messagesChannel;

    // everything a put writes, in one statement: the new messages (when the save does not return
    // exactly the expected ids, 1/0 aborts the statement: not an append), the record, latest, blobs
    const SQL = `WITH s AS (SELECT saved_ids FROM chat_save_messages(thread_id => $1, messages => $2::jsonb, user_id => $3) WHERE $2::jsonb IS NOT NULL)
      SELECT 1 / (CASE WHEN $2::jsonb IS NULL OR (SELECT coalesce(saved_ids, '{}') FROM s) = $4::text[] THEN 1 ELSE 0 END) AS ok,
             chat_kv_set(key => $5, value => $6::jsonb),
             (SELECT chat_kv_set(key => $7, value => to_jsonb($8::text))
               WHERE coalesce(chat_kv_get(key => $7) #>> '{}', '') COLLATE "C" < $8::text COLLATE "C"),
             (SELECT count(chat_kv_set(key => k, value => v)) FROM unnest($9::text[], $10::jsonb[]) AS x(k, v)),
             (SELECT jsonb_object_agg(w.k, w.had) FILTER (WHERE w.s IS NOT DISTINCT FROM w.s) FROM (${WRITES_SQL(11)}) AS w) AS wk,
             (SELECT count(chat_kv_set(key => x.k, value => to_jsonb(jsonb_set(o.v, '{w}', (o.v -> 'w') || x.patch)::text)))
                FROM unnest($16::text[], $17::jsonb[]) AS x(k, patch)
                CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(g.v) = 'string' THEN (g.v #>> '{}')::jsonb ELSE g.v END AS v
                                      FROM (SELECT chat_kv_get(key => x.k) AS v) AS g) AS o
               WHERE jsonb_typeof(o.v -> 'w') = 'object') AS patched`;
    // the putWrites calls queued until now (see putWrites): sent in this statement
    let items: QueuedWrites[] = [];
    let release: (() => void) | null = null;
    let solo = false;     // true: this put sends no queued writes

    const write = async (useRef: boolean) => {
      const cp = copyCheckpoint(checkpoint);
      const blobKeys: string[] = [];
      const blobVals: string[] = [];
      const chBlobs: Array<[string, unknown, ChannelBlob]> = [];
      const patches = new Map<string, Record<string, WriteEntry>>();   // pending-writes key -> entries rewritten as ids
      let list: MsgList | null = null;
      let batch: string | null = null;
      let expect: string[] = [];
      let newRoot = false;
      let mref: MsgRef | null | 'val' | undefined;
      let rewrote: string | null = null;
      if (useRef && mc in newVersions && this.#eligible(msgs)) {
        let prevRef: MsgRef | null = null;
        if (parentId) {
          let pr = this.#refs.get(`${base}${parentId}`);
          if (pr === undefined) pr = await this.#readRef(base, parentId);
          if (pr === 'val') throw new NotAnAppend();      // the parent's messages were a stored value
          prevRef = pr;
        }
        const prev = await this.#messagesAt(this.db, chatThread, prevRef);
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
          batch = JSON.stringify(msgs.slice(k > 0 ? k - 1 : 0).map(toStored));
          expect = ids.slice(k);
          ref = { leaf: ids[ids.length - 1], n: ids.length };
        }
        list = { ref, ids, objs: msgs.slice(), hashes };
        // the parent's pending messages writes whose messages are now saved: stored again as ids
        const pw = parentId ? this.#msgWrites.get(`${base}${parentId}`) : undefined;
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
            patches.set(w.key, { ...(patches.get(w.key) ?? {}), [String(w.rec.idx)]: e });
          }
          rewrote = `${base}${parentId}`;
        }
        mref = ref;
        chBlobs.push([mc, newVersions[mc], { msgs: ref ?? undefined }]);
      }
      for (const [ch, ver] of Object.entries(newVersions)) {
        if (list && ch === mc) continue;
        if (!(ch in (cp.channel_values ?? {}))) continue;
        if (ch === mc) mref = 'val';
        chBlobs.push([ch, ver, { val: await this.#dump((cp.channel_values as Record<string, unknown>)[ch]) }]);
      }
      // the blobs of the channels whose version did not change, held inline by the parent's record
      const carried: Array<[string, unknown, ChannelBlob]> = [];
      const unchanged = Object.entries(checkpoint.channel_versions ?? {}).filter(([ch]) => !(ch in newVersions));
      if (parentId && unchanged.length) {
        const pin = await this.#inlineOf(base, parentId);
        for (const [ch, ver] of unchanged) if (pin.i[ch] && pin.c[ch] === ver) carried.push([ch, ver, pin.i[ch]]);
      }
      cp.channel_values = {};
      const cpBlob = await this.#dump(cp);
      const cpc = cpBlob.j !== undefined ? compact(cpBlob.j, checkpoint.id) : null;
      let rec: AnyRecord;
      if (cpc) {
        const inl: Record<string, ChannelBlob> = {};
        for (const [ch, ver, b] of chBlobs) {
          const text = encV(b);
          if (text.length <= INLINE_MAX) inl[ch] = b;
          else { blobKeys.push(base + blobKey(ch, ver)); blobVals.push(text); }
        }
        for (const [ch, , b] of carried) inl[ch] = b;
        rec = { ...cpc, p: parentId, ...(md.j !== undefined ? { m: md.j } : { md }) };
        if (Object.keys(inl).length) rec.i = inl;
        if (!Object.values(checkpoint.channel_versions ?? {}).every(sqlComputable)) {
          rec.bk = Object.entries(checkpoint.channel_versions ?? {}).filter(([ch]) => !(ch in inl)).map(([ch, ver]) => blobKey(ch, ver));
        }
      } else {
        // every blob a key of its own, the carried ones too (this record holds none)
        for (const [ch, ver, b] of [...chBlobs, ...carried]) { blobKeys.push(base + blobKey(ch, ver)); blobVals.push(encV(b)); }
        rec = { v: 1, parent: parentId, cp: cpBlob, md };
        const bk = this.#blobKeys(checkpoint, cpBlob);
        if (bk) rec.bk = bk;
      }
      if (this.#queue.length && !solo) {
        items.push(...this.#queue);
        this.#queue = [];
        if (!release) {
          const carry = new Promise<void>((r) => { release = r; });
          this.#carrying.add(carry);
          void carry.then(() => this.#carrying.delete(carry));
        }
      }
      const rows = ChatstoreSaver.#merge(items);
      // a rewrite of a queued write (the parent's messages writes as ids): in the queued row
      const pk: string[] = []; const pv: string[] = [];
      for (const [k, patch] of patches) {
        const row = rows.get(k);
        if (row) { for (const [idx, e] of Object.entries(patch)) if (idx in row.reg) row.reg[idx] = e; } else { pk.push(k); pv.push(JSON.stringify(patch)); }
      }
      const params = [chatThread, batch, this.userId, expect, `${base}c:${checkpoint.id}`, encV(rec),
        `${base}latest`, checkpoint.id, blobKeys, blobVals, ...ChatstoreSaver.#params(rows), pk, pv];
      let wk: Record<string, string[]> | null = null;
      try {
        if (newRoot) {
          await withTransaction(this.db, async (c) => {
            const count = await this.#ensureThread(c, chatThread);
            if (count > 0) throw new NotAnAppend();   // a new root in a thread with messages
            wk = (await c.query(SQL, params)).rows[0]?.wk ?? null;
          });
        } else {
          wk = (await this.db.query(SQL, params)).rows[0]?.wk ?? null;
        }
      } catch (e) {
        if ((e as { code?: string }).code === '22012') throw new NotAnAppend();   // an id stored elsewhere in the thread
        throw e;
      }
      if (mref === undefined && !(mc in newVersions)) mref = this.#refs.get(`${base}${parentId}`);
      if (rewrote) this.#msgWrites.delete(rewrote);
      if (items.length) ChatstoreSaver.#settle(items, new Map(Object.entries(wk ?? {}).map(([k, v]) => [k, new Set<string>(v)])));
      items = [];
      this.#inlSet(`${base}${checkpoint.id}`, rec);
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
    if (out.mref !== undefined) this.#refSet(`${base}${checkpoint.id}`, out.mref);
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  /** The messages reference of a stored checkpoint (null: none; 'val': a stored value). */
  async #readRef(base: string, cpId: string): Promise<MsgRef | null | 'val'> {
    const r = await this.db.query(
      'SELECT chat_kv_get(key => $1 || \'c:\' || $2) AS rec', [base, cpId]);
    const rec = decV<AnyRecord | null>(r.rows[0]?.rec ?? null);
    if (!rec) return null;
    const pver = isC(rec) ? (rec.c[this.messagesChannel] === undefined ? undefined : rec.vs[rec.c[this.messagesChannel]])
      : ((await this.#load(rec.cp)) as Checkpoint).channel_versions?.[this.messagesChannel];
    if (pver === undefined) return null;
    const pbRaw = isC(rec) && rec.i?.[this.messagesChannel] ? rec.i[this.messagesChannel] : (await this.db.query('SELECT chat_kv_get(key => $1) AS v', [base + blobKey(this.messagesChannel, pver)])).rows[0]?.v;
    const pb = decV<ChannelBlob | null>(pbRaw ?? null);
    if (pb && !pb.msgs) return 'val';
    return pb?.msgs ?? null;
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = config.configurable?.thread_id as string | undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const cpId = config.configurable?.checkpoint_id as string | undefined;
    if (threadId === undefined) throw new Error('Failed to put writes: the config has no "thread_id" in "configurable"');
    if (cpId === undefined) throw new Error('Failed to put writes: the config has no "checkpoint_id" in "configurable"');
    const key = `${this.#base(threadId, ns)}w:${cpId}:${enc(taskId)}`;
    const reg: Record<string, WriteEntry> = {};
    const spec: Record<string, WriteEntry> = {};
    const mw = new Map<number, MsgWrite>();
    for (let i = 0; i < writes.length; i++) {
      const [channel, value] = writes[i];
      const idx = WRITES_IDX_MAP[channel] ?? i;
      (idx < 0 ? spec : reg)[String(idx)] = { c: channel, v: await this.#dump(value) };
      mw.delete(idx);
      if (channel === this.messagesChannel && idx >= 0) {
        const objs = Array.isArray(value) ? value : [value];
        if (objs.length > 0 && objs.every((m) => isBaseMessage(m) && typeof m.id === 'string' && m.id !== '')) {
          mw.set(idx, { key, rec: { task: taskId, ch: channel, path: taskPath ?? '', idx }, objs: objs.slice(), one: !Array.isArray(value) });
        }
      }
    }
    if (writes.length === 0) return;
    // remembered before the statement: a put that runs concurrently (LangGraph does not wait for
    // putWrites before the next put) finds them; dropped again when the idx was already stored
    const mk = `${this.#base(threadId, ns)}${cpId}`;
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
      this.#queue.push({ rows: [{ k: key, t: taskId, p: taskPath ?? '', reg, spec }], done: (had, err) => {
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
    const prefix = `${this.prefix}lg:${enc(threadId)}:`;
    await this.#drain();
    await withTransaction(this.db, async (c) => {
      const r = await c.query('SELECT key FROM chat_kv_list(prefix => $1, max_keys => NULL)', [prefix]);
      const nss = new Set<string>(['']);
      for (const row of r.rows) nss.add(decodeURIComponent((row.key as string).slice(prefix.length).split(':')[0]));
      await c.query('SELECT count(chat_kv_delete(key => k)) FROM unnest($1::text[]) AS k', [r.rows.map((x) => x.key)]);
      for (const ns of nss) {
        await c.query('SELECT chat_delete_thread(thread_id => $1, user_id => $2)', [this.chatThreadId(threadId, ns), this.userId]);
      }
    });
    for (const k of [...this.#cache.keys()]) if (k.startsWith(this.chatThreadId(threadId))) this.#cache.delete(k);
    for (const m of [this.#inl, this.#refs, this.#msgWrites] as Array<Map<string, unknown>>) {
      for (const k of [...m.keys()]) if (k.startsWith(prefix)) m.delete(k);
    }
  }
}

export default ChatstoreSaver;
