// ChatstoreSession: the @openai/agents `Session` interface (agents-core
// dist/memory/session.d.ts: getSessionId, getItems(limit?), addItems(items),
// popItem(), clearSession()) on chatstore, through node-postgres.
//
//   addItems     one chat_save_messages(thread, items, user) call
//   getItems     chat_items(thread, max_messages => limit): oldest first
//   popItem      the last row of chat_items, then chat_delete_message(thread, id, user)
//   clearSession chat_delete_thread + chat_create_thread in one transaction
//                (a deleted thread refuses saves with CS002 until it is created again)
//
// Why every saved item gets a fresh chatstore id
// -----------------------------------------------
// chatstore takes an item's "id" as its message id and deduplicates on it, and
// deduplicates id-less items by content against the end of the stored
// conversation (doc/data-model.md#dedup). A Session must append exactly what it
// is given, and both rules drop items the SDK expects to keep:
//   - id-less: a turn that starts with an item equal to the stored last one (the
//     same user text again after a failed turn), or an item re-added after
//     popItem (aligned against its tombstone), is skipped;
//   - with ids: the SDK's Chat Completions model gives every output item of one
//     response the same id (the response's), so a text + tool call response
//     would keep only its first item; and a popped item re-added with its id is
//     skipped as a tombstoned id.
// chatstore offers no way to give a message id other than the item's own "id"
// (saved_ids only lists ids to skip), so the session stores each item with
//   id = "as1." + uuid [+ ".t" when it added "type": "message"] [+ "=" + JSON of the item's own id]
// and getItems / popItem put the item's own id back (or remove the key). Every
// save then appends every item, and the read-back item is the one added.
// A message item without "type" ({"role": "user", "content": ...}, which the SDK
// accepts) would be stored as a chat message, whose extra keys (providerData)
// chatstore ignores: the session adds "type": "message" and takes it off again
// on read.
// Caveats: the session ids show in chat_context(format => 'responses'), which
// returns items as stored; and chatstore takes the top-level keys usage,
// metadata, model, created_at and token_count out of a stored item (no item
// type of the SDK has them; an unknown item that has them loses them).
import { randomUUID } from 'node:crypto';
import pg from 'pg';

const ID_PREFIX = 'as1.';
const ID_RE = /^as1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\.t)?(?:=([\s\S]*))?$/;
const MAX_ID_BYTES = 512;

/** The stored form of one SDK item: a copy with a fresh, unique chatstore id. */
export function encodeItem(item) {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new TypeError('a session item must be an object');
  }
  const stored = JSON.parse(JSON.stringify(item)); // what JSON keeps (drops undefined)
  let id = ID_PREFIX + randomUUID();
  if (stored.type === undefined && typeof stored.role === 'string') {
    stored.type = 'message';
    id += '.t';
  }
  if (Object.prototype.hasOwnProperty.call(stored, 'id')) {
    id += '=' + JSON.stringify(stored.id);
  }
  if (Buffer.byteLength(id) > MAX_ID_BYTES) {
    throw new RangeError(`item id too long for chatstore (${Buffer.byteLength(id)} bytes with the session prefix)`);
  }
  stored.id = id;
  return stored;
}

/** The SDK item back from a chat_items row (undoes encodeItem). */
export function decodeItem(item) {
  const out = { ...item };
  const m = typeof out.id === 'string' ? ID_RE.exec(out.id) : null;
  if (!m) return out; // not written by this session (another client's row): as stored
  if (m[2]) delete out.type;
  if (m[3] === undefined) delete out.id;
  else out.id = JSON.parse(m[3]);
  return out;
}

export class ChatstoreSession {
  /**
   * @param {object} options
   * @param {pg.Pool|pg.Client} options.db  a node-postgres Pool (or a Client used by nothing else meanwhile)
   * @param {string} [options.sessionId]    the chatstore thread id (default: a new uuid)
   * @param {string|null} [options.userId]  the thread's owner (chatstore user_id)
   */
  constructor({ db, sessionId, userId = null }) {
    if (!db) throw new TypeError('ChatstoreSession needs a pg Pool or Client');
    this.db = db;
    this.sessionId = sessionId ?? randomUUID();
    this.userId = userId;
  }

  async getSessionId() {
    return this.sessionId;
  }

  async getItems(limit) {
    if (limit !== undefined && limit !== null) {
      if (!Number.isFinite(limit) || limit <= 0) return [];
      limit = Math.floor(limit);
    } else {
      limit = null;
    }
    const r = await this.db.query(
      'SELECT seq, id, item FROM chat_items($1, max_messages => $2::int)',
      [this.sessionId, limit]);
    return r.rows.map((row) => decodeItem(row.item));
  }

  async addItems(items) {
    if (!items || items.length === 0) return;
    const stored = items.map(encodeItem);
    await this.db.query('SELECT saved_count FROM chat_save_messages($1, $2::jsonb, $3)',
      [this.sessionId, JSON.stringify(stored), this.userId]);
  }

  async popItem() {
    // a concurrent pop may delete the same last row first: then try the new last one
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.db.query(
        'SELECT seq, id, item FROM chat_items($1, max_messages => 1)', [this.sessionId]);
      if (r.rows.length === 0) return undefined;
      const row = r.rows[r.rows.length - 1];
      const d = await this.db.query('SELECT chat_delete_message($1, $2, $3) AS n',
        [this.sessionId, row.id, this.userId]);
      const n = d.rows[0].n;
      if (n === true || Number(n) > 0) return decodeItem(row.item);
    }
    throw new Error(`popItem: the last item of thread ${this.sessionId} kept changing`);
  }

  async clearSession() {
    await this.#transaction(async (c) => {
      await c.query('SELECT chat_delete_thread($1, $2)', [this.sessionId, this.userId]);
      await c.query('SELECT 1 FROM chat_create_thread(id => $1, user_id => $2)',
        [this.sessionId, this.userId]);
    });
  }

  async #transaction(fn) {
    const pooled = this.db instanceof pg.Pool;
    const c = pooled ? await this.db.connect() : this.db;
    try {
      await c.query('BEGIN');
      try {
        const v = await fn(c);
        await c.query('COMMIT');
        return v;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      if (pooled) c.release();
    }
  }
}
