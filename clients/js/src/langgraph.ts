// A LangGraph.js checkpointer (BaseCheckpointSaver) on chatstore.
//
// Storage, all through chatstore's SQL API (no tables of its own):
//  - the `messages` channel: chatstore messages of the thread `<prefix><thread_id>` (plus
//    `|<checkpoint_ns>` for a subgraph namespace), each written once (chat_save_messages, by id).
//    A checkpoint holds only a reference {leaf, n}: the path of n messages from the root to the
//    message `leaf` in chatstore's message tree. The thread is made a tree from its first save, so
//    a run resumed from an older checkpoint (time travel, fork) saves its new messages as a chatstore
//    branch below that checkpoint's leaf: the old checkpoints still read their own path.
//  - the checkpoint (other channels, versions, metadata, parent): one chat_kv key per checkpoint
//    `<prefix>lg:<thread>:<ns>:c:<checkpoint_id>`; pending writes one key per write
//    `<prefix>lg:<thread>:<ns>:w:<checkpoint_id>:<task_id>:<idx>`; the newest checkpoint id in
//    `<prefix>lg:<thread>:<ns>:latest`. Values are the serializer's JSON (as jsonb) or base64.
//  - fallback: when the messages channel is not an append to the parent checkpoint's messages
//    (messages removed or changed, messages without ids, values that are not LangChain messages),
//    its value is stored in the checkpoint's key like any other channel.
import {
  BaseCheckpointSaver, type Checkpoint, type CheckpointListOptions, type CheckpointMetadata,
  type CheckpointPendingWrite, type CheckpointTuple, type PendingWrite, type SerializerProtocol,
  type ChannelVersions, WRITES_IDX_MAP, TASKS, maxChannelVersion, compareWritesSortKeys, copyCheckpoint, getCheckpointId, writesSortKey,
} from '@langchain/langgraph-checkpoint';
import type { RunnableConfig } from '@langchain/core/runnables';
import { type BaseMessage, isBaseMessage } from '@langchain/core/messages';
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
interface WriteRecord { task: string; ch: string; path: string; idx: number; val: Blob }
interface MsgList { ref: MsgRef | null; ids: string[]; hashes: string[] }

const ROOT_ID = '__chatstore_langgraph_root';
const enc = (s: string) => encodeURIComponent(s);

function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const hashOf = (stored: unknown) => canon(JSON.parse(JSON.stringify(stored ?? null)));

class NotAnAppend extends Error {}

export class ChatstoreSaver extends BaseCheckpointSaver {
  readonly db: Queryable;
  readonly prefix: string;
  readonly messagesChannel: string;
  readonly userId: string | null;
  #known = new Set<string>();
  #cache = new Map<string, MsgList>();

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
    return `${String(n + 1).padStart(32, '0')}.${Math.random().toString().slice(2, 18)}` as unknown as number;
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
    this.#cache.set(k, v);
    if (this.#cache.size > 1000) this.#cache.delete(this.#cache.keys().next().value as string);
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

  /** The message path a reference names, as stored rows, oldest first. */
  async #readPath(q: Queryable | pg.ClientBase, chatThread: string, ref: MsgRef): Promise<Array<{ id: string; row: any }>> {
    const tree = await q.query('SELECT id, parent_id FROM chat_thread_tree(thread_id => $1, user_id => $2)', [chatThread, this.userId]);
    const parent = new Map<string, string | null>();
    for (const r of tree.rows) parent.set(r.id, r.parent_id);
    const ids: string[] = [];
    let cur: string | null | undefined = ref.leaf;
    while (cur && ids.length < ref.n) { ids.push(cur); cur = parent.get(cur); }
    ids.reverse();
    if (ids.length !== ref.n) throw new Error(`chatstore checkpointer: the messages of thread ${chatThread} up to ${ref.leaf} are gone (${ids.length} of ${ref.n})`);
    const rows = await q.query('SELECT chat_message_json(m) AS m FROM chat_messages AS m WHERE m.thread_id = $1 AND m.id = ANY($2::text[])', [chatThread, ids]);
    const byId = new Map<string, any>(rows.rows.map((r) => [r.m.id, r.m]));
    return ids.map((id) => {
      const row = byId.get(id);
      if (!row) throw new Error(`chatstore checkpointer: message ${id} of thread ${chatThread} is gone`);
      return { id, row };
    });
  }

  async #messagesAt(q: Queryable | pg.ClientBase, chatThread: string, ref: MsgRef | null): Promise<MsgList> {
    if (!ref) return { ref: null, ids: [], hashes: [] };
    const k = `${chatThread}\u0000${ref.leaf}\u0000${ref.n}`;
    const hit = this.#cache.get(k);
    if (hit) return hit;
    const path = await this.#readPath(q, chatThread, ref);
    const v = { ref, ids: path.map((p) => p.id), hashes: path.map((p) => hashOf(p.row.metadata?.langchain)) };
    this.#cacheSet(k, v);
    return v;
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

  // ---- BaseCheckpointSaver ----------------------------------------------------------

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (threadId === undefined) return undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const base = this.#base(threadId, ns);
    let cpId = getCheckpointId(config);
    if (!cpId) {
      const r = await this.db.query('SELECT chat_kv_get(key => $1) #>> \'{}\' AS id', [`${base}latest`]);
      cpId = r.rows[0]?.id;
      if (!cpId) return undefined;
    }
    const r = await this.db.query('SELECT chat_kv_get(key => $1) AS v', [`${base}c:${cpId}`]);
    const rec = r.rows[0]?.v as Record_ | null;
    if (!rec) return undefined;
    return this.#tuple(threadId, ns, cpId, rec);
  }

  async #tuple(threadId: string, ns: string, cpId: string, rec: Record_): Promise<CheckpointTuple> {
    const checkpoint = (await this.#load(rec.cp)) as Checkpoint;
    const metadata = (await this.#load(rec.md)) as CheckpointMetadata;
    const base = this.#base(threadId, ns);
    const chans = Object.entries(checkpoint.channel_versions ?? {});
    checkpoint.channel_values = {};
    if (chans.length) {
      const keys = chans.map(([ch, ver]) => `${base}b:${enc(ch)}:${enc(String(ver))}`);
      const r = await this.db.query('SELECT k, chat_kv_get(key => k) AS v FROM unnest($1::text[]) AS k', [keys]);
      const byKey = new Map<string, ChannelBlob | null>(r.rows.map((x) => [x.k, x.v]));
      for (let i = 0; i < chans.length; i++) {
        const blob = byKey.get(keys[i]);
        if (!blob) continue;
        if (blob.msgs) {
          const chatThread = this.chatThreadId(threadId, ns);
          const path = await this.#readPath(this.db, chatThread, blob.msgs);
          checkpoint.channel_values[chans[i][0]] = path.map((p) => fromChatstoreMessage(p.row));
          this.#cacheSet(`${chatThread}\u0000${blob.msgs.leaf}\u0000${blob.msgs.n}`, { ref: blob.msgs, ids: path.map((p) => p.id), hashes: path.map((p) => hashOf(p.row.metadata?.langchain)) });
        } else if (blob.val) {
          checkpoint.channel_values[chans[i][0]] = await this.#load(blob.val);
        }
      }
    }
    if (checkpoint.v < 4 && rec.parent) {
      const sends = (await this.#pendingWrites(threadId, ns, rec.parent)).filter((w) => w[1] === TASKS).map((w) => w[2]);
      checkpoint.channel_values[TASKS] = sends;
      const vs = Object.values(checkpoint.channel_versions ?? {});
      checkpoint.channel_versions = { ...checkpoint.channel_versions, [TASKS]: vs.length ? maxChannelVersion(...vs) : this.getNextVersion(undefined) };
    }
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: cpId } },
      checkpoint,
      metadata,
      pendingWrites: await this.#pendingWrites(threadId, ns, cpId),
    };
    if (rec.parent) tuple.parentConfig = { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: rec.parent } };
    return tuple;
  }

  async #pendingWrites(threadId: string, ns: string, cpId: string): Promise<CheckpointPendingWrite[]> {
    const r = await this.db.query('SELECT value FROM chat_kv_list(prefix => $1, max_keys => NULL)', [`${this.#base(threadId, ns)}w:${cpId}:`]);
    const ws = r.rows.map((x) => x.value as WriteRecord);
    ws.sort((a, b) => compareWritesSortKeys(writesSortKey(a.path, a.task, a.idx), writesSortKey(b.path, b.task, b.idx)));
    return Promise.all(ws.map(async (w) => [w.task, w.ch, await this.#load(w.val)] as CheckpointPendingWrite));
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options ?? {};
    let limit = options?.limit;
    const threadId = config.configurable?.thread_id as string | undefined;
    const ns = config.configurable?.checkpoint_ns as string | undefined;
    const onlyId = config.configurable?.checkpoint_id as string | undefined;
    const prefix = threadId === undefined ? `${this.prefix}lg:`
      : ns === undefined ? `${this.prefix}lg:${enc(threadId)}:` : `${this.#base(threadId, ns)}c:`;
    const r = await this.db.query('SELECT key, value FROM chat_kv_list(prefix => $1, max_keys => NULL)', [prefix]);
    const rows: Array<{ thread: string; ns: string; id: string; rec: Record_ }> = [];
    for (const row of r.rows) {
      const rest = (row.key as string).slice(this.prefix.length + 3).split(':');
      if (rest.length !== 4 || rest[2] !== 'c') continue;
      rows.push({ thread: decodeURIComponent(rest[0]), ns: decodeURIComponent(rest[1]), id: rest[3], rec: row.value });
    }
    rows.sort((a, b) => (a.thread < b.thread ? -1 : a.thread > b.thread ? 1
      : a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const beforeId = before?.configurable?.checkpoint_id as string | undefined;
    for (const x of rows) {
      if (ns !== undefined && x.ns !== ns) continue;
      if (onlyId && x.id !== onlyId) continue;
      if (beforeId && x.id >= beforeId) continue;
      if (filter) {
        const md = (await this.#load(x.rec.md)) as Record<string, unknown>;
        if (!Object.entries(filter).every(([k, v]) => canon(md?.[k]) === canon(v))) continue;
      }
      if (limit !== undefined) {
        if (limit <= 0) break;
        limit -= 1;
      }
      yield await this.#tuple(x.thread, x.ns, x.id, x.rec);
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (threadId === undefined) throw new Error('Failed to put checkpoint: the config has no "thread_id" in "configurable"');
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const parentId = (config.configurable?.checkpoint_id as string | undefined) ?? null;
    const base = this.#base(threadId, ns);
    const chatThread = this.chatThreadId(threadId, ns);
    const msgs = checkpoint.channel_values?.[this.messagesChannel];
    const md = await this.#dump(metadata);

    const write = async (c: pg.ClientBase, useRef: boolean) => {
      const cp = copyCheckpoint(checkpoint);
      const blobKeys: string[] = [];
      const blobVals: string[] = [];
      let list: MsgList | null = null;
      const mc = this.messagesChannel;
      if (useRef && mc in newVersions && this.#eligible(msgs)) {
        const stored = msgs.map(toChatstoreMessage);
        const hashes = stored.map((m) => hashOf(m.metadata?.langchain));
        const ids = stored.map((m) => m.id as string);
        let prevRef: MsgRef | null = null;
        if (parentId) {
          const pr = await c.query('SELECT chat_kv_get(key => $1) AS v', [`${base}c:${parentId}`]);
          const parentRec = pr.rows[0]?.v as Record_ | undefined;
          if (parentRec) {
            const pcp = (await this.#load(parentRec.cp)) as Checkpoint;
            const pver = pcp.channel_versions?.[mc];
            if (pver !== undefined) {
              const br = await c.query('SELECT chat_kv_get(key => $1) AS v', [`${base}b:${enc(mc)}:${enc(String(pver))}`]);
              const pb = br.rows[0]?.v as ChannelBlob | null;
              if (pb && !pb.msgs) throw new NotAnAppend();      // the parent's messages were a stored value
              prevRef = pb?.msgs ?? null;
            }
          }
        }
        const prev = await this.#messagesAt(c, chatThread, prevRef);
        const k = prev.ids.length;
        let append = k <= ids.length;
        for (let i = 0; append && i < k; i++) append = prev.ids[i] === ids[i] && prev.hashes[i] === hashes[i];
        if (!append) throw new NotAnAppend();
        let ref: MsgRef | null;
        if (k === ids.length) {
          ref = prev.ref;
        } else {
          const count = await this.#ensureThread(c, chatThread);
          if (k === 0 && count > 0) throw new NotAnAppend();   // a new root in a thread with messages
          const batch = k > 0 ? stored.slice(k - 1) : stored;
          const r = await c.query('SELECT saved_ids FROM chat_save_messages(thread_id => $1, messages => $2::jsonb, user_id => $3)',
            [chatThread, JSON.stringify(batch), this.userId]);
          const saved: string[] = r.rows[0].saved_ids ?? [];
          if (canon(saved) !== canon(ids.slice(k))) throw new NotAnAppend();   // an id stored elsewhere in the thread
          ref = { leaf: ids[ids.length - 1], n: ids.length };
        }
        list = { ref, ids, hashes };
        blobKeys.push(`${base}b:${enc(mc)}:${enc(String(newVersions[mc]))}`);
        blobVals.push(JSON.stringify({ msgs: ref ?? undefined } satisfies ChannelBlob));
      }
      for (const [ch, ver] of Object.entries(newVersions)) {
        if (list && ch === mc) continue;
        if (!(ch in (cp.channel_values ?? {}))) continue;
        blobKeys.push(`${base}b:${enc(ch)}:${enc(String(ver))}`);
        blobVals.push(JSON.stringify({ val: await this.#dump((cp.channel_values as Record<string, unknown>)[ch]) } satisfies ChannelBlob));
      }
      cp.channel_values = {};
      const rec: Record_ = { v: 1, parent: parentId, cp: await this.#dump(cp), md };
      await c.query(
        `SELECT chat_kv_set(key => $1, value => $2::jsonb),
                (SELECT chat_kv_set(key => $3, value => to_jsonb($4::text))
                  WHERE coalesce(chat_kv_get(key => $3) #>> '{}', '') COLLATE "C" < $4::text COLLATE "C"),
                (SELECT count(chat_kv_set(key => k, value => v)) FROM unnest($5::text[], $6::jsonb[]) AS x(k, v))`,
        [`${base}c:${checkpoint.id}`, JSON.stringify(rec), `${base}latest`, checkpoint.id, blobKeys, blobVals]);
      return list;
    };

    let list: MsgList | null;
    try {
      list = await withTransaction(this.db, (c) => write(c, true));
    } catch (e) {
      if (!(e instanceof NotAnAppend)) throw e;
      list = await withTransaction(this.db, (c) => write(c, false));
    }
    if (list?.ref) this.#cacheSet(`${chatThread}\u0000${list.ref.leaf}\u0000${list.ref.n}`, list);
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = config.configurable?.thread_id as string | undefined;
    const ns = (config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const cpId = config.configurable?.checkpoint_id as string | undefined;
    if (threadId === undefined) throw new Error('Failed to put writes: the config has no "thread_id" in "configurable"');
    if (cpId === undefined) throw new Error('Failed to put writes: the config has no "checkpoint_id" in "configurable"');
    const wprefix = `${this.#base(threadId, ns)}w:${cpId}:${enc(taskId)}:`;
    const existing = new Set((await this.db.query('SELECT key FROM chat_kv_list(prefix => $1, max_keys => NULL)', [wprefix])).rows.map((r) => r.key));
    const keys: string[] = [];
    const values: string[] = [];
    for (let i = 0; i < writes.length; i++) {
      const [channel, value] = writes[i];
      const idx = WRITES_IDX_MAP[channel] ?? i;
      const key = `${wprefix}${idx}`;
      if (idx >= 0 && existing.has(key)) continue;
      const rec: WriteRecord = { task: taskId, ch: channel, path: taskPath ?? '', idx, val: await this.#dump(value) };
      keys.push(key);
      values.push(JSON.stringify(rec));
    }
    if (keys.length === 0) return;
    await this.db.query('SELECT count(chat_kv_set(key => k, value => v)) FROM unnest($1::text[], $2::jsonb[]) AS x(k, v)', [keys, values]);
  }

  async deleteThread(threadId: string): Promise<void> {
    const prefix = `${this.prefix}lg:${enc(threadId)}:`;
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
  }
}

export default ChatstoreSaver;
