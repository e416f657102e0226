// Chat memory for an LLM application, stored in PostgreSQL by chatstore.
//
// Copy this file into your application.  It needs the `pg` package and a
// database with `CREATE EXTENSION chatstore`.
//
//   const { Pool } = require('pg');
//   const { ChatMemory } = require('./chatMemory');
//
//   const memory = new ChatMemory(new Pool(), 'alice');
//   const thread = await memory.newThread({ title: 'Trip to Lisbon' });
//   await memory.saveTurn(thread, [
//     { id: 'u1', role: 'user', content: 'Where should I eat?' },
//     { id: 'a1', role: 'assistant', content: 'Try the Time Out Market.',
//       model: 'gpt-4o', usage: { prompt_tokens: 12, completion_tokens: 9 } },
//   ]);
//   const messages = await memory.context(thread, { maxTokens: 8000 }); // for the model
//
// Every method is one query (a pool client or a single client both work).
// Give your messages ids (your own, or the provider's): a message already
// stored is skipped, so a retry, or re-sending the whole conversation, never
// stores a message twice.
'use strict';

class ChatMemory {
  /**
   * @param {import('pg').Pool | import('pg').Client} db
   * @param {string|null} userId  the user whose threads these are; null for
   *   trusted server code that may touch any thread
   */
  constructor(db, userId) {
    this.db = db;
    this.userId = userId;
  }

  async #rows(sql, params) {
    return (await this.db.query(sql, params)).rows;
  }

  // -- threads -------------------------------------------------------------

  /** Create a thread; returns its id (a uuid unless you pass one). */
  async newThread({ title = '', metadata = {}, id = null } = {}) {
    const rows = await this.#rows(
      'SELECT id FROM chat_create_thread($1, $2, $3, $4::jsonb)',
      [id, this.userId, title, JSON.stringify(metadata)]);
    return rows[0].id;
  }

  /**
   * The user's threads, most recently active first.  Returns
   * { threads, next } where next is the cursor of the following page (null
   * on the last page).
   */
  async threads({ limit = 20, cursor = null, metadata = null, includeArchived = false } = {}) {
    const rows = await this.#rows(
      `SELECT id, title, metadata, message_count, total_tokens, updated_at,
              updated_at::text AS cursor_at
         FROM chat_list_threads(user_id => $1, max_threads => $2,
                                before_updated_at => $3, before_id => $4,
                                metadata_filter => $5::jsonb, include_archived => $6)`,
      [this.userId, limit, cursor ? cursor.updatedAt : null, cursor ? cursor.id : null,
       metadata === null ? null : JSON.stringify(metadata), includeArchived]);
    const threads = rows.map((r) => ({
      id: r.id,
      title: r.title,
      metadata: r.metadata,
      messageCount: Number(r.message_count),
      totalTokens: Number(r.total_tokens),
      updatedAt: r.updated_at,
    }));
    // the cursor keeps updated_at as text: a JavaScript Date drops microseconds
    const last = rows[rows.length - 1];
    const next = rows.length === limit ? { updatedAt: last.cursor_at, id: last.id } : null;
    return { threads, next };
  }

  async rename(threadId, title) {
    const rows = await this.#rows(
      'SELECT id FROM chat_update_thread($1, title => $2, user_id => $3)',
      [threadId, title, this.userId]);
    return rows.length > 0;
  }

  async archive(threadId, archived = true) {
    return (await this.#rows('SELECT chat_archive_thread($1, $2, $3) AS ok',
      [threadId, archived, this.userId]))[0].ok;
  }

  async deleteThread(threadId) {
    return (await this.#rows('SELECT chat_delete_thread($1, $2) AS ok',
      [threadId, this.userId]))[0].ok;
  }

  // -- messages ------------------------------------------------------------

  /**
   * Save messages (OpenAI / LangChain shaped objects) in one call.  The
   * thread is created when missing; messages already stored are skipped.
   * Returns { savedCount, skippedCount, savedIds, firstSeq, lastSeq }.
   */
  async saveTurn(threadId, messages) {
    const r = (await this.#rows(
      'SELECT * FROM chat_save_messages($1, $2::jsonb, $3)',
      [threadId, JSON.stringify(messages), this.userId]))[0];
    return {
      savedCount: r.saved_count,
      skippedCount: r.skipped_count,
      savedIds: r.saved_ids,
      firstSeq: r.first_seq === null ? null : Number(r.first_seq),
      lastSeq: r.last_seq === null ? null : Number(r.last_seq),
    };
  }

  /** Append one message; returns { id, seq }. */
  async add(threadId, role, content, fields = {}) {
    const r = await this.saveTurn(threadId, [{ role, content, ...fields }]);
    if (r.savedCount === 0) throw new Error(`message ${fields.id} is already stored`);
    return { id: r.savedIds[0], seq: r.firstSeq };
  }

  /**
   * The conversation as OpenAI chat-completions messages, cut to a token
   * budget (system prompt kept, tool calls never split from their answers).
   */
  async context(threadId, { maxTokens = null, maxMessages = null } = {}) {
    const rows = await this.#rows(
      `SELECT chat_context(t.id, max_messages => $3, max_tokens => $4) AS ctx
         FROM chat_get_thread($1, $2) AS t`,
      [threadId, this.userId, maxMessages, maxTokens]);
    return rows.length ? rows[0].ctx : [];
  }

  // -- search --------------------------------------------------------------

  /**
   * Full-text search over the user's messages (web-search syntax: "a
   * phrase", or, -not), best first.  Pass the last hit as `after` for the
   * next page.
   */
  async search(query, { threadId = null, limit = 10, after = null } = {}) {
    const rows = await this.#rows(
      `SELECT thread_id, message_id, seq, role, rank, snippet, created_at
         FROM chat_search($1, user_id => $2, thread_id => $3, max_results => $4,
                          after_rank => $5, after_thread_id => $6, after_seq => $7)`,
      [query, this.userId, threadId, limit,
       after ? after.rank : null, after ? after.threadId : null, after ? after.seq : null]);
    return rows.map((r) => ({
      threadId: r.thread_id,
      messageId: r.message_id,
      seq: Number(r.seq),
      role: r.role,
      rank: r.rank,
      snippet: r.snippet,
      createdAt: r.created_at,
    }));
  }
}

module.exports = { ChatMemory };
