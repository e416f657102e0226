// ChatstoreSession: the @openai/agents `Session` interface (agents-core
// dist/memory/session.d.ts: getSessionId, getItems(limit?), addItems(items),
// popItem(), clearSession()) on chatstore, through node-postgres.
//
//   addItems     one chat_append_messages(thread, items, user) call
//   getItems     chat_items(thread, max_messages => limit): oldest first
//   popItem      the last row of chat_items, then chat_delete_message(thread, id, user)
//   clearSession chat_delete_thread + chat_create_thread in one transaction
//                (a deleted thread refuses saves with CS002 until it is created again)
//
// addItems appends with chat_append_messages, not chat_save_messages: a
// Session is a log and must keep exactly what it is given, while
// chat_save_messages deduplicates (an item's "id" is its message id, and
// id-less items are aligned by content against the end of the conversation,
// doc/data-model.md#dedup), which would drop the same user text sent again
// after a failed turn, an item re-added after popItem, or the several items
// the SDK's Chat Completions model gives one id.  chat_append_messages keeps
// an item's "id" inside the item and gives every row a new id.
// A message without "type" ({"role": "user", "content": ...}, which the SDK
// accepts) would be stored as a chat message, whose extra keys
// (providerData) chatstore does not keep: the session stores it as a
// "message" item, so it reads back with "type": "message" added.
// chatstore takes the top-level keys usage, metadata, model, created_at and
// token_count out of a stored item (no item type of the SDK has them).
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The stored form of one SDK item: a message without "type" becomes a message item. */
export function encodeItem(item) {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new TypeError('a session item must be an object');
  }
  if (item.type === undefined && typeof item.role === 'string') {
    return { type: 'message', ...item };
  }
  return item;
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
    return r.rows.map((row) => row.item);
  }

  async addItems(items) {
    if (!items || items.length === 0) return;
    const stored = items.map(encodeItem);
    await this.db.query('SELECT saved_count FROM chat_append_messages($1, $2::jsonb, $3)',
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
      if (Number(n) > 0) return row.item;
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
