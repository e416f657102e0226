// ChatstoreSession: the @openai/agents `Session` interface (getSessionId,
// getItems(limit?), addItems(items), popItem(), clearSession()) on chatstore.
// The implementation of test/client/agents_session/chatstore_session.mjs, typed:
//
//   addItems     one chat_append_messages(thread, items, user) call (a log: no dedup)
//   getItems     chat_items(thread, max_messages => limit): oldest first
//   popItem      the last row of chat_items, then chat_delete_message(thread, id, user)
//   clearSession chat_delete_thread + chat_create_thread in one transaction
//                (a deleted thread refuses saves with CS002 until it is created again)
//
// A message without "type" ({"role": "user", "content": ...}) is stored as a
// "message" item, so it reads back with "type": "message" added.
import { randomUUID } from 'node:crypto';
import type { AgentInputItem, Session } from '@openai/agents';
import { type Queryable, withTransaction } from './index.js';

/** The stored form of one SDK item: a message without "type" becomes a message item. */
export function encodeItem(item: unknown): Record<string, unknown> {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new TypeError('a session item must be an object');
  }
  const o = item as Record<string, unknown>;
  if (o.type === undefined && typeof o.role === 'string') return { type: 'message', ...o };
  return o;
}

export interface ChatstoreSessionOptions {
  /** a node-postgres Pool (or a Client used by nothing else meanwhile) */
  db: Queryable;
  /** the chatstore thread id (default: a new uuid) */
  sessionId?: string;
  /** the thread's owner (chatstore user_id) */
  userId?: string | null;
}

export class ChatstoreSession implements Session {
  readonly db: Queryable;
  readonly sessionId: string;
  readonly userId: string | null;

  constructor({ db, sessionId, userId = null }: ChatstoreSessionOptions) {
    if (!db) throw new TypeError('ChatstoreSession needs a pg Pool or Client');
    this.db = db;
    this.sessionId = sessionId ?? randomUUID();
    this.userId = userId;
  }

  async getSessionId(): Promise<string> {
    return this.sessionId;
  }

  async getItems(limit?: number): Promise<AgentInputItem[]> {
    let max: number | null = null;
    if (limit !== undefined && limit !== null) {
      if (!Number.isFinite(limit) || limit <= 0) return [];
      max = Math.floor(limit);
    }
    const r = await this.db.query('SELECT seq, id, item FROM chat_items($1, max_messages => $2::int)',
      [this.sessionId, max]);
    return r.rows.map((row) => row.item as AgentInputItem);
  }

  async addItems(items: AgentInputItem[]): Promise<void> {
    if (!items || items.length === 0) return;
    const stored = items.map(encodeItem);
    await this.db.query('SELECT saved_count FROM chat_append_messages($1, $2::jsonb, $3)',
      [this.sessionId, JSON.stringify(stored), this.userId]);
  }

  async popItem(): Promise<AgentInputItem | undefined> {
    // a concurrent pop may delete the same last row first: then try the new last one
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.db.query('SELECT seq, id, item FROM chat_items($1, max_messages => 1)', [this.sessionId]);
      if (r.rows.length === 0) return undefined;
      const row = r.rows[r.rows.length - 1];
      const d = await this.db.query('SELECT chat_delete_message($1, $2, $3) AS n', [this.sessionId, row.id, this.userId]);
      if (Number(d.rows[0].n) > 0) return row.item as AgentInputItem;
    }
    throw new Error(`popItem: the last item of thread ${this.sessionId} kept changing`);
  }

  async clearSession(): Promise<void> {
    await withTransaction(this.db, async (c) => {
      await c.query('SELECT chat_delete_thread($1, $2)', [this.sessionId, this.userId]);
      await c.query('SELECT 1 FROM chat_create_thread(id => $1, user_id => $2)', [this.sessionId, this.userId]);
    });
  }
}
