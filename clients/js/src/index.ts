// chatstore for Node.js: typed wrappers over the SQL functions of the chatstore
// PostgreSQL extension (doc/reference.md), on node-postgres. Every call is one
// SQL statement with named arguments (`f(a => $1, ...)`), except resetThread
// (delete + create in one transaction).
import pg from 'pg';

/** A node-postgres Pool, Client or PoolClient (anything with `query`). */
export type Queryable = pg.Pool | pg.Client | pg.PoolClient;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A message as chat_save_messages takes it (doc/data-model.md#message-json). */
export interface MessageInput {
  id?: string;
  role?: string;
  type?: string;
  content?: string | unknown[] | null;
  tool_calls?: unknown[] | null;
  tool_call_id?: string | null;
  name?: string | null;
  model?: string | null;
  parent_id?: string | null;
  metadata?: Record<string, unknown> | null;
  usage?: Record<string, unknown> | null;
  token_count?: number | null;
  created_at?: string | Date;
  [key: string]: unknown;
}

/** A row of chat_messages (seq and token counts as numbers). */
export interface Message {
  id: string;
  seq: number;
  role: string;
  content: string | null;
  parts: unknown[] | null;
  name: string | null;
  model: string | null;
  tool_calls: unknown[] | null;
  tool_call_id: string | null;
  parent_id: string | null;
  metadata: Record<string, unknown>;
  usage: Record<string, unknown> | null;
  token_count: number | null;
  created_at: Date;
  [column: string]: unknown;
}

export interface SaveResult {
  savedCount: number;
  skippedCount: number;
  savedIds: string[];
  firstSeq: number | null;
  lastSeq: number | null;
}

export interface MessageRef { id: string; seq: number }

export interface Thread {
  id: string;
  user_id: string | null;
  title: string;
  metadata: Record<string, unknown>;
  state: Record<string, unknown>;
  message_count: number;
  created_at: Date;
  updated_at: Date;
  [column: string]: unknown;
}

export interface Item { seq: number; id: string; item: Record<string, unknown> }

export interface SearchResult {
  thread_id: string;
  message_id: string;
  seq: number;
  role: string;
  rank: number;
  snippet: string;
  created_at: Date;
}

export interface Sibling {
  id: string; seq: number; role: string; content: string | null;
  position: number; total: number; active: boolean; created_at: Date;
}

export interface TreeNode extends Sibling { parent_id: string | null; parent_seq: number | null }

export interface StreamRead { status: string; text: string; endOffset: number }

export interface Feedback {
  thread_id: string; message_id: string; user_id: string | null; rating: number;
  tag: string | null; comment: string | null; [column: string]: unknown;
}

export interface WindowOptions {
  maxMessages?: number | null;
  beforeSeq?: number | null;
  afterSeq?: number | null;
  maxTokens?: number | null;
}

/** The SQLSTATE chatstore gives a save into a deleted thread. */
export const THREAD_DELETED = 'CS002';

/** True when `e` is a PostgreSQL error with that SQLSTATE. */
export function isSqlState(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

const BIGINT_COLUMNS = new Set([
  'seq', 'first_seq', 'last_seq', 'parent_seq', 'message_count', 'prompt_tokens',
  'completion_tokens', 'total_tokens', 'token_count', 'end_offset', 'up_to_seq', 'last_message_seq',
  'tombstone_count', 'leaf_seq', 'version',
]);

/** bigint columns come back from pg as strings: make them numbers (all fit in 2^53 in practice). */
function numify<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...row };
  for (const k of Object.keys(out)) {
    if (BIGINT_COLUMNS.has(k) && typeof out[k] === 'string') out[k] = Number(out[k]);
  }
  return out as T;
}

function json(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

function n(v: number | null | undefined): number | null {
  return v === undefined || v === null ? null : v;
}

function saveResult(row: Record<string, unknown> | undefined): SaveResult {
  return {
    savedCount: Number(row?.saved_count ?? 0),
    skippedCount: Number(row?.skipped_count ?? 0),
    savedIds: (row?.saved_ids as string[] | null) ?? [],
    firstSeq: row?.first_seq == null ? null : Number(row.first_seq),
    lastSeq: row?.last_seq == null ? null : Number(row.last_seq),
  };
}

/** Run `fn` in a transaction on one connection of `db` (a Pool is checked out, a Client used as is). */
export async function withTransaction<T>(db: Queryable, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  const pooled = db instanceof pg.Pool;
  const c: pg.ClientBase = pooled ? await (db as pg.Pool).connect() : (db as pg.ClientBase);
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
    if (pooled) (c as pg.PoolClient).release();
  }
}

export class ChatStore {
  readonly db: Queryable;

  /** @param db a node-postgres Pool (recommended) or a Client used by nothing else meanwhile */
  constructor(db: Queryable) {
    if (!db) throw new TypeError('ChatStore needs a pg Pool or Client');
    this.db = db;
  }

  async query<R extends pg.QueryResultRow = Record<string, any>>(sql: string, params: unknown[] = []): Promise<R[]> {
    const r = await this.db.query<R>(sql, params);
    return r.rows;
  }

  // ---- messages and history -------------------------------------------------

  /** chat_save_messages: one call, deduplicated by id (or by alignment without ids). */
  async saveMessages(threadId: string, messages: MessageInput[],
    opts: { userId?: string | null; savedIds?: string[] | null } = {}): Promise<SaveResult> {
    const rows = await this.query(
      'SELECT * FROM chat_save_messages(thread_id => $1, messages => $2::jsonb, user_id => $3, saved_ids => $4::text[])',
      [threadId, JSON.stringify(messages), opts.userId ?? null, opts.savedIds ?? null]);
    return saveResult(rows[0]);
  }

  /** chat_append_messages: a log append (items and messages kept whole, no dedup). */
  async appendMessages(threadId: string, messages: Array<MessageInput | Record<string, unknown>>,
    opts: { userId?: string | null } = {}): Promise<SaveResult> {
    const rows = await this.query(
      'SELECT * FROM chat_append_messages(thread_id => $1, messages => $2::jsonb, user_id => $3)',
      [threadId, JSON.stringify(messages), opts.userId ?? null]);
    return saveResult(rows[0]);
  }

  /** chat_add_message: always appends one message. */
  async addMessage(threadId: string, role: string, content: string, opts: {
    userId?: string | null; metadata?: Record<string, unknown> | null; messageId?: string | null;
    model?: string | null; name?: string | null; toolCalls?: unknown[] | null; toolCallId?: string | null;
    usage?: Record<string, unknown> | null; tokenCount?: number | null;
  } = {}): Promise<MessageRef> {
    const rows = await this.query(
      `SELECT * FROM chat_add_message(thread_id => $1, role => $2, content => $3, user_id => $4,
         metadata => $5::jsonb, message_id => $6, model => $7, name => $8, tool_calls => $9::jsonb,
         tool_call_id => $10, usage => $11::jsonb, token_count => $12::int)`,
      [threadId, role, content, opts.userId ?? null, json(opts.metadata), opts.messageId ?? null,
        opts.model ?? null, opts.name ?? null, json(opts.toolCalls), opts.toolCallId ?? null,
        json(opts.usage), n(opts.tokenCount)]);
    return { id: rows[0].id, seq: Number(rows[0].seq) };
  }

  /** chat_history: the active path in seq order, optionally a window / token budget. */
  async history(threadId: string, opts: WindowOptions = {}): Promise<Message[]> {
    const rows = await this.query(
      `SELECT * FROM chat_history(thread_id => $1, max_messages => $2::int, before_seq => $3::bigint,
         after_seq => $4::bigint, max_tokens => $5::int)`,
      [threadId, n(opts.maxMessages), n(opts.beforeSeq), n(opts.afterSeq), n(opts.maxTokens)]);
    return rows.map((r) => numify<Message>(r));
  }

  /** chat_context: a JSON array for a model, Chat Completions messages or Responses items. */
  async context(threadId: string, opts: WindowOptions & { format?: 'chat' | 'responses'; includeIncomplete?: boolean } = {}): Promise<Record<string, unknown>[]> {
    const rows = await this.query(
      `SELECT chat_context(thread_id => $1, max_messages => $2::int, before_seq => $3::bigint,
         after_seq => $4::bigint, max_tokens => $5::int, format => $6, include_incomplete => $7) AS c`,
      [threadId, n(opts.maxMessages), n(opts.beforeSeq), n(opts.afterSeq), n(opts.maxTokens),
        opts.format ?? 'chat', opts.includeIncomplete ?? false]);
    return rows[0].c;
  }

  /** chat_items: the history as Responses items, as saved. */
  async items(threadId: string, opts: { maxMessages?: number | null; beforeSeq?: number | null; afterSeq?: number | null } = {}): Promise<Item[]> {
    const rows = await this.query(
      `SELECT seq, id, item FROM chat_items(thread_id => $1, max_messages => $2::int,
         before_seq => $3::bigint, after_seq => $4::bigint)`,
      [threadId, n(opts.maxMessages), n(opts.beforeSeq), n(opts.afterSeq)]);
    return rows.map((r) => ({ seq: Number(r.seq), id: r.id, item: r.item }));
  }

  // ---- threads ----------------------------------------------------------------

  async createThread(opts: { id?: string | null; userId?: string | null; title?: string;
    metadata?: Record<string, unknown>; state?: Record<string, unknown> } = {}): Promise<Thread> {
    const rows = await this.query(
      `SELECT * FROM chat_create_thread(id => $1, user_id => $2, title => $3, metadata => $4::jsonb, state => $5::jsonb)`,
      [opts.id ?? null, opts.userId ?? null, opts.title ?? '', JSON.stringify(opts.metadata ?? {}),
        JSON.stringify(opts.state ?? {})]);
    return numify<Thread>(rows[0]);
  }

  async getThread(threadId: string, opts: { userId?: string | null } = {}): Promise<Thread | null> {
    const rows = await this.query('SELECT * FROM chat_get_thread(thread_id => $1, user_id => $2)',
      [threadId, opts.userId ?? null]);
    return rows.length ? numify<Thread>(rows[0]) : null;
  }

  async listThreads(userId: string | null, opts: { maxThreads?: number; beforeUpdatedAt?: Date | string | null;
    beforeId?: string | null; metadataFilter?: Record<string, unknown> | null; pageOffset?: number;
    includeArchived?: boolean } = {}): Promise<Thread[]> {
    const rows = await this.query(
      `SELECT * FROM chat_list_threads(user_id => $1, max_threads => $2::int, before_updated_at => $3::timestamptz,
         before_id => $4, metadata_filter => $5::jsonb, page_offset => $6::int, include_archived => $7)`,
      [userId, opts.maxThreads ?? 20, opts.beforeUpdatedAt ?? null, opts.beforeId ?? null,
        json(opts.metadataFilter), opts.pageOffset ?? 0, opts.includeArchived ?? false]);
    return rows.map((r) => numify<Thread>(r));
  }

  async updateThread(threadId: string, opts: { title?: string | null; metadata?: Record<string, unknown> | null;
    state?: Record<string, unknown> | null; userId?: string | null }): Promise<Thread | null> {
    const rows = await this.query(
      `SELECT * FROM chat_update_thread(thread_id => $1, title => $2, metadata => $3::jsonb, state => $4::jsonb, user_id => $5)`,
      [threadId, opts.title ?? null, json(opts.metadata), json(opts.state), opts.userId ?? null]);
    return rows.length ? numify<Thread>(rows[0]) : null;
  }

  async deleteThread(threadId: string, opts: { userId?: string | null } = {}): Promise<boolean> {
    const rows = await this.query('SELECT chat_delete_thread(thread_id => $1, user_id => $2) AS ok',
      [threadId, opts.userId ?? null]);
    return rows[0].ok;
  }

  /** Delete the thread and create it again, empty (one transaction): a deleted thread refuses saves (CS002). */
  async resetThread(threadId: string, opts: { userId?: string | null } = {}): Promise<void> {
    await withTransaction(this.db, async (c) => {
      await c.query('SELECT chat_delete_thread(thread_id => $1, user_id => $2)', [threadId, opts.userId ?? null]);
      await c.query('SELECT 1 FROM chat_create_thread(id => $1, user_id => $2)', [threadId, opts.userId ?? null]);
    });
  }

  async forkThread(threadId: string, opts: { newThreadId?: string | null; upToSeq?: number | null; userId?: string | null } = {}): Promise<string> {
    const rows = await this.query(
      'SELECT chat_fork_thread(thread_id => $1, new_thread_id => $2, up_to_seq => $3::bigint, user_id => $4) AS id',
      [threadId, opts.newThreadId ?? null, n(opts.upToSeq), opts.userId ?? null]);
    return rows[0].id;
  }

  async archiveThread(threadId: string, archived = true, opts: { userId?: string | null } = {}): Promise<boolean> {
    const rows = await this.query('SELECT chat_archive_thread(thread_id => $1, archived => $2, user_id => $3) AS ok',
      [threadId, archived, opts.userId ?? null]);
    return rows[0].ok;
  }

  // ---- search -----------------------------------------------------------------

  async search(query: string, opts: { userId?: string | null; threadId?: string | null; roles?: string[] | null;
    since?: Date | string | null; until?: Date | string | null; maxResults?: number; config?: string;
    includeArchived?: boolean } = {}): Promise<SearchResult[]> {
    const rows = await this.query(
      `SELECT * FROM chat_search(query => $1, user_id => $2, thread_id => $3, roles => $4::text[],
         since => $5::timestamptz, until => $6::timestamptz, max_results => $7::int, config => $8::regconfig,
         include_archived => $9)`,
      [query, opts.userId ?? null, opts.threadId ?? null, opts.roles ?? null, opts.since ?? null,
        opts.until ?? null, opts.maxResults ?? 20, opts.config ?? 'simple', opts.includeArchived ?? false]);
    return rows.map((r) => numify<SearchResult>(r));
  }

  // ---- branches and single messages -----------------------------------------

  async editMessage(threadId: string, messageId: string, content: string, opts: { userId?: string | null;
    metadata?: Record<string, unknown> | null; newMessageId?: string | null } = {}): Promise<MessageRef> {
    const rows = await this.query(
      `SELECT * FROM chat_edit_message(thread_id => $1, message_id => $2, content => $3, user_id => $4,
         metadata => $5::jsonb, new_message_id => $6)`,
      [threadId, messageId, content, opts.userId ?? null, json(opts.metadata), opts.newMessageId ?? null]);
    return { id: rows[0].id, seq: Number(rows[0].seq) };
  }

  async regenerateMessage(threadId: string, messageId: string, message: MessageInput,
    opts: { userId?: string | null } = {}): Promise<MessageRef> {
    const rows = await this.query(
      'SELECT * FROM chat_regenerate_message(thread_id => $1, message_id => $2, message => $3::jsonb, user_id => $4)',
      [threadId, messageId, JSON.stringify(message), opts.userId ?? null]);
    return { id: rows[0].id, seq: Number(rows[0].seq) };
  }

  async switchBranch(threadId: string, messageId: string, opts: { userId?: string | null } = {}): Promise<MessageRef> {
    const rows = await this.query(
      'SELECT * FROM chat_switch_branch(thread_id => $1, message_id => $2, user_id => $3)',
      [threadId, messageId, opts.userId ?? null]);
    return { id: rows[0].leaf_id, seq: Number(rows[0].leaf_seq) };
  }

  async messageSiblings(threadId: string, messageId: string, opts: { userId?: string | null } = {}): Promise<Sibling[]> {
    const rows = await this.query(
      'SELECT * FROM chat_message_siblings(thread_id => $1, message_id => $2, user_id => $3)',
      [threadId, messageId, opts.userId ?? null]);
    return rows.map((r) => numify<Sibling>(r));
  }

  async threadTree(threadId: string, opts: { userId?: string | null } = {}): Promise<TreeNode[]> {
    const rows = await this.query('SELECT * FROM chat_thread_tree(thread_id => $1, user_id => $2)',
      [threadId, opts.userId ?? null]);
    return rows.map((r) => numify<TreeNode>(r));
  }

  async getMessage(threadId: string, messageId: string, opts: { userId?: string | null } = {}): Promise<Message | null> {
    const rows = await this.query('SELECT * FROM chat_get_message(thread_id => $1, message_id => $2, user_id => $3)',
      [threadId, messageId, opts.userId ?? null]);
    return rows.length ? numify<Message>(rows[0]) : null;
  }

  async updateMessage(threadId: string, messageId: string, opts: { content?: string | null;
    metadata?: Record<string, unknown> | null; userId?: string | null }): Promise<Message | null> {
    const rows = await this.query(
      `SELECT * FROM chat_update_message(thread_id => $1, message_id => $2, content => $3, metadata => $4::jsonb, user_id => $5)`,
      [threadId, messageId, opts.content ?? null, json(opts.metadata), opts.userId ?? null]);
    return rows.length ? numify<Message>(rows[0]) : null;
  }

  /** chat_delete_message: the number of messages deleted. */
  async deleteMessage(threadId: string, messageId: string, opts: { userId?: string | null; withReplies?: boolean } = {}): Promise<number> {
    const rows = await this.query(
      'SELECT chat_delete_message(thread_id => $1, message_id => $2, user_id => $3, with_replies => $4) AS n',
      [threadId, messageId, opts.userId ?? null, opts.withReplies ?? false]);
    return Number(rows[0].n);
  }

  async deleteMessagesAfter(threadId: string, messageId: string, opts: { userId?: string | null } = {}): Promise<number> {
    const rows = await this.query(
      'SELECT chat_delete_messages_after(thread_id => $1, message_id => $2, user_id => $3) AS n',
      [threadId, messageId, opts.userId ?? null]);
    return Number(rows[0].n);
  }

  // ---- streaming --------------------------------------------------------------

  async streamStart(threadId: string, opts: { role?: string; messageId?: string | null; model?: string | null;
    metadata?: Record<string, unknown> | null; userId?: string | null } = {}): Promise<MessageRef> {
    const rows = await this.query(
      `SELECT * FROM chat_stream_start(thread_id => $1, role => $2, message_id => $3, model => $4,
         metadata => $5::jsonb, user_id => $6)`,
      [threadId, opts.role ?? 'assistant', opts.messageId ?? null, opts.model ?? null, json(opts.metadata),
        opts.userId ?? null]);
    return { id: rows[0].id, seq: Number(rows[0].seq) };
  }

  /** chat_stream_append: the length (characters) of the text so far. */
  async streamAppend(threadId: string, messageId: string, delta: string, opts: { userId?: string | null } = {}): Promise<number> {
    const rows = await this.query(
      'SELECT chat_stream_append(thread_id => $1, message_id => $2, delta => $3, user_id => $4) AS n',
      [threadId, messageId, delta, opts.userId ?? null]);
    return Number(rows[0].n);
  }

  async streamRead(threadId: string, messageId: string, opts: { fromOffset?: number; userId?: string | null } = {}): Promise<StreamRead | null> {
    const rows = await this.query(
      'SELECT * FROM chat_stream_read(thread_id => $1, message_id => $2, from_offset => $3::bigint, user_id => $4)',
      [threadId, messageId, opts.fromOffset ?? 0, opts.userId ?? null]);
    return rows.length ? { status: rows[0].status, text: rows[0].text, endOffset: Number(rows[0].end_offset) } : null;
  }

  async streamFinish(threadId: string, messageId: string, opts: { status?: 'completed' | 'incomplete' | 'failed';
    finishReason?: string | null; usage?: Record<string, unknown> | null; userId?: string | null } = {}): Promise<Message> {
    const rows = await this.query(
      `SELECT * FROM chat_stream_finish(thread_id => $1, message_id => $2, status => $3, finish_reason => $4,
         usage => $5::jsonb, user_id => $6)`,
      [threadId, messageId, opts.status ?? 'completed', opts.finishReason ?? null, json(opts.usage), opts.userId ?? null]);
    return numify<Message>(rows[0]);
  }

  // ---- compaction ---------------------------------------------------------------

  /** chat_compact: a summary standing for the messages up to `upToSeq`; returns its id. */
  async compact(threadId: string, upToSeq: number, summary: string | Record<string, unknown>,
    opts: { userId?: string | null; tokenCount?: number | null } = {}): Promise<number> {
    const rows = await this.query(
      'SELECT chat_compact(thread_id => $1, up_to_seq => $2::bigint, summary => $3::jsonb, user_id => $4, token_count => $5::int) AS id',
      [threadId, upToSeq, JSON.stringify(summary), opts.userId ?? null, n(opts.tokenCount)]);
    return Number(rows[0].id);
  }

  async summaries(threadId: string, opts: { userId?: string | null } = {}): Promise<Array<{ id: number; up_to_seq: number; summary: unknown; [c: string]: unknown }>> {
    const rows = await this.query('SELECT * FROM chat_summaries(thread_id => $1, user_id => $2)', [threadId, opts.userId ?? null]);
    return rows.map((r) => numify({ ...r, id: Number(r.id) }));
  }

  async deleteSummary(threadId: string, summaryId: number, opts: { userId?: string | null } = {}): Promise<boolean> {
    const rows = await this.query('SELECT chat_delete_summary(thread_id => $1, summary_id => $2::bigint, user_id => $3) AS ok',
      [threadId, summaryId, opts.userId ?? null]);
    return rows[0].ok;
  }

  // ---- feedback -----------------------------------------------------------------

  async setFeedback(threadId: string, messageId: string, rating: number, opts: { tag?: string | null;
    comment?: string | null; userId?: string | null; rater?: string | null } = {}): Promise<Feedback> {
    const rows = await this.query(
      `SELECT * FROM chat_set_feedback(thread_id => $1, message_id => $2, rating => $3::int, tag => $4,
         comment => $5, user_id => $6, rater => $7)`,
      [threadId, messageId, rating, opts.tag ?? null, opts.comment ?? null, opts.userId ?? null, opts.rater ?? null]);
    return rows[0] as Feedback;
  }

  async deleteFeedback(threadId: string, messageId: string, opts: { userId?: string | null; rater?: string | null } = {}): Promise<boolean> {
    const rows = await this.query(
      'SELECT chat_delete_feedback(thread_id => $1, message_id => $2, user_id => $3, rater => $4) AS ok',
      [threadId, messageId, opts.userId ?? null, opts.rater ?? null]);
    return rows[0].ok;
  }

  async listFeedback(threadId: string, opts: { userId?: string | null } = {}): Promise<Feedback[]> {
    return (await this.query('SELECT * FROM chat_list_feedback(thread_id => $1, user_id => $2)',
      [threadId, opts.userId ?? null])) as Feedback[];
  }

  // ---- usage, kv, agent state -----------------------------------------------------

  async threadUsage(threadId: string, opts: { userId?: string | null } = {}): Promise<{ message_count: number;
    prompt_tokens: number; completion_tokens: number; total_tokens: number; last_message_at: Date | null } | null> {
    const rows = await this.query('SELECT * FROM chat_thread_usage(thread_id => $1, user_id => $2)', [threadId, opts.userId ?? null]);
    return rows.length ? numify(rows[0]) : null;
  }

  async kvSet(key: string, value: unknown, ttl?: string | null): Promise<void> {
    await this.query('SELECT 1 FROM chat_kv_set(key => $1, value => $2::jsonb, ttl => $3::interval)', [key, JSON.stringify(value), ttl ?? null]);
  }

  async kvGet<T = unknown>(key: string): Promise<T | null> {
    const rows = await this.query('SELECT chat_kv_get(key => $1) AS v', [key]);
    return rows[0].v;
  }

  async kvDelete(key: string): Promise<boolean> {
    const rows = await this.query('SELECT chat_kv_delete(key => $1) AS ok', [key]);
    return rows[0].ok;
  }

  async agentStateSave(agentId: string, sessionId: string, state: unknown, expectedVersion?: number | null): Promise<number> {
    const rows = await this.query(
      'SELECT chat_agent_state_save(agent_id => $1, session_id => $2, state => $3::jsonb, expected_version => $4::bigint) AS v',
      [agentId, sessionId, JSON.stringify(state), n(expectedVersion)]);
    return Number(rows[0].v);
  }

  async agentStateLoad<T = unknown>(agentId: string, sessionId: string): Promise<{ state: T; version: number } | null> {
    const rows = await this.query('SELECT state, version FROM chat_agent_state_load(agent_id => $1, session_id => $2)', [agentId, sessionId]);
    return rows.length ? { state: rows[0].state, version: Number(rows[0].version) } : null;
  }
}

export default ChatStore;
