// Inference Gateway UI against chatstore, with node-postgres (pg).
//
// The UI's Postgres storage keeps chat_sessions (with prompt/completion/total
// tokens), messages (model, tool_calls jsonb, tool_call_id, name) and
// user_preferences (active chat, selected model).  It performs: list a
// user's sessions with their messages, save a session, delete a session,
// token usage per session, preferences get/set, and tool_calls @> queries.
// SessionStorage below is that storage written on chatstore, one SQL call
// per operation.
'use strict';
const { Client } = require('pg');

let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) passed++;
  else { failed++; console.error(`FAIL ${name}`, detail === undefined ? '' : JSON.stringify(detail)); }
}
const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);

class SessionStorage {
  constructor(db, userId) { this.db = db; this.userId = userId; }

  // the whole session each time (as the UI does): new messages are stored,
  // known ones skipped by id, and the title is set in the same statement
  async saveSession(session) {
    const r = await this.db.query(
      `SELECT s.saved_count, s.skipped_count,
              (SELECT count(*) FROM chat_update_thread($1, title => $4, user_id => $3)) AS titled
       FROM chat_save_messages($1, $2::jsonb, $3) AS s`,
      [session.id, JSON.stringify(session.messages), this.userId, session.title]);
    return { saved: r.rows[0].saved_count, skipped: r.rows[0].skipped_count };
  }

  async getSessions({ limit = 20, offset = 0, maxMessages = null } = {}) {
    const r = await this.db.query('SELECT chat_list_threads_with_messages($1, $2, page_offset => $3, max_messages => $4) AS s',
      [this.userId, limit, offset, maxMessages]);
    return r.rows[0].s.map(t => ({
      id: t.id, title: t.title, createdAt: t.created_at, messages: t.messages,
      tokenUsage: { promptTokens: t.prompt_tokens, completionTokens: t.completion_tokens, totalTokens: t.total_tokens },
    }));
  }

  async getSession(id) {
    return (await this.db.query('SELECT chat_get_thread_with_messages($1, $2) AS s', [id, this.userId])).rows[0].s;
  }

  async deleteSession(id) {
    return (await this.db.query('SELECT chat_delete_thread($1, $2) AS d', [id, this.userId])).rows[0].d;
  }

  async getTokenUsage(id) {
    const r = await this.db.query(
      'SELECT prompt_tokens, completion_tokens, total_tokens FROM chat_thread_usage($1, $2)', [id, this.userId]);
    if (r.rows.length === 0) return null;
    const u = r.rows[0];
    return { promptTokens: Number(u.prompt_tokens), completionTokens: Number(u.completion_tokens), totalTokens: Number(u.total_tokens) };
  }

  async getPreferences() {
    const r = await this.db.query('SELECT active_thread_id, selected_model, settings FROM chat_get_preferences($1)', [this.userId]);
    return r.rows[0] ? { activeChatId: r.rows[0].active_thread_id, selectedModel: r.rows[0].selected_model, settings: r.rows[0].settings } : null;
  }

  // undefined = leave unchanged, null = clear
  async setPreferences({ activeChatId, selectedModel, settings } = {}) {
    const arg = v => (v === undefined ? null : v === null ? '' : v);
    await this.db.query('SELECT FROM chat_set_preferences($1, $2, $3, $4::jsonb)',
      [this.userId, arg(activeChatId), arg(selectedModel), settings === undefined ? null : JSON.stringify(settings)]);
  }

  async messagesWithToolCalls(filter) {
    const r = await this.db.query(
      `SELECT m.thread_id, m.id FROM chat_messages AS m JOIN chat_threads AS t ON t.id = m.thread_id
       WHERE t.user_id = $1 AND m.tool_calls @> $2::jsonb ORDER BY m.thread_id, m.seq`,
      [this.userId, JSON.stringify(filter)]);
    return r.rows.map(x => `${x.thread_id}/${x.id}`);
  }
}

async function main() {
  const db = new Client();
  await db.connect();
  const alice = new SessionStorage(db, 'ig-alice');
  const bob = new SessionStorage(db, 'ig-bob');

  // ---- save sessions
  const s1 = {
    id: 'ig-s1', title: 'New Chat', messages: [
      { id: 'u1', role: 'user', content: 'What is the weather in Paris?' },
      { id: 'a1', role: 'assistant', content: '', model: 'openai/gpt-4o',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 } },
      { id: 't1', role: 'tool', content: '{"temp": 21}', tool_call_id: 'call_1', name: 'get_weather' },
    ],
  };
  let r = await alice.saveSession(s1);
  check('save: new session', r.saved === 3 && r.skipped === 0, r);
  s1.title = 'Weather in Paris';
  s1.messages.push({ id: 'a2', role: 'assistant', content: 'It is 21°C.', model: 'openai/gpt-4o',
    usage: { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48 } });
  r = await alice.saveSession(s1);
  check('save: whole session again stores only the new message', r.saved === 1 && r.skipped === 3, r);
  await alice.saveSession({ id: 'ig-s2', title: 'Second', messages: [
    { id: 'u1', role: 'user', content: 'hi' },
    { id: 'a1', role: 'assistant', content: 'hello', model: 'anthropic/claude', usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }] });
  await bob.saveSession({ id: 'ig-bob1', title: 'Bob', messages: [{ id: 'x', role: 'user', content: 'bob here' }] });
  try {
    await bob.saveSession({ id: 'ig-s1', title: 'hijack', messages: [{ id: 'evil', role: 'user', content: 'x' }] });
    check('save: other user refused', false);
  } catch (e) { check('save: other user refused', e.code === '42501', e.code); }

  // ---- list a user's sessions with their messages
  let sessions = await alice.getSessions();
  check('list: own sessions newest first', eq(sessions.map(s => s.id), ['ig-s2', 'ig-s1']), sessions.map(s => s.id));
  const p = sessions[1];
  check('list: title updated', p.title === 'Weather in Paris', p.title);
  check('list: messages in order', eq(p.messages.map(m => m.id), ['u1', 'a1', 't1', 'a2']));
  check('list: message fields', p.messages[1].model === 'openai/gpt-4o' && p.messages[1].tool_calls[0].id === 'call_1'
    && p.messages[2].tool_call_id === 'call_1' && p.messages[2].name === 'get_weather', p.messages);
  check('list: session token usage', eq(p.tokenUsage, { promptTokens: 60, completionTokens: 18, totalTokens: 78 }), p.tokenUsage);
  check('list: paging', eq((await alice.getSessions({ limit: 1, offset: 1 })).map(s => s.id), ['ig-s1']));
  check('list: latest message only', eq((await alice.getSessions({ maxMessages: 1 })).map(s => s.messages.map(m => m.id)), [['a1'], ['a2']]));
  check('list: bob sees only his', eq((await bob.getSessions()).map(s => s.id), ['ig-bob1']));
  check('get one session', (await alice.getSession('ig-s1')).messages.length === 4);
  check('get: other user', (await bob.getSession('ig-s1')) === null);

  // ---- token usage per session
  check('usage', eq(await alice.getTokenUsage('ig-s1'), { promptTokens: 60, completionTokens: 18, totalTokens: 78 }));
  check('usage: second', eq(await alice.getTokenUsage('ig-s2'), { promptTokens: 5, completionTokens: 2, totalTokens: 7 }));
  check('usage: other user', (await bob.getTokenUsage('ig-s1')) === null);
  const uu = (await db.query(`SELECT total_tokens FROM chat_user_usage('ig-alice', now() - interval '1 hour', now() + interval '1 hour')`)).rows[0];
  check('usage: per user over a time range', Number(uu.total_tokens) === 85, uu);

  // ---- tool_calls @> queries
  check('tool_calls @> type function', eq(await alice.messagesWithToolCalls([{ type: 'function' }]), ['ig-s1/a1']));
  check('tool_calls @> by name', eq(await alice.messagesWithToolCalls([{ function: { name: 'get_weather' } }]), ['ig-s1/a1']));
  check('tool_calls @> no match', eq(await alice.messagesWithToolCalls([{ function: { name: 'nope' } }]), []));

  // ---- preferences
  check('prefs: none yet', (await alice.getPreferences()) === null);
  await alice.setPreferences({ activeChatId: 'ig-s1', selectedModel: 'openai/gpt-4o' });
  check('prefs: set', eq(await alice.getPreferences(), { activeChatId: 'ig-s1', selectedModel: 'openai/gpt-4o', settings: {} }));
  await alice.setPreferences({ selectedModel: 'anthropic/claude', settings: { theme: 'dark' } });
  check('prefs: partial update keeps active chat', eq(await alice.getPreferences(),
    { activeChatId: 'ig-s1', selectedModel: 'anthropic/claude', settings: { theme: 'dark' } }));
  await alice.setPreferences({ activeChatId: null });
  check('prefs: clear active chat', (await alice.getPreferences()).activeChatId === null);
  try {
    await alice.setPreferences({ activeChatId: 'ig-bob1' });
    check('prefs: other user\'s chat refused', false);
  } catch (e) { check('prefs: other user\'s chat refused', e.code === '42501', e.code); }
  await alice.setPreferences({ activeChatId: 'ig-s2' });

  // ---- delete
  check('delete', (await alice.deleteSession('ig-s2')) === true);
  check('delete: gone from the list', eq((await alice.getSessions()).map(s => s.id), ['ig-s1']));
  check('delete: active chat cleared', (await alice.getPreferences()).activeChatId === null);
  check('delete: not bob\'s to delete', (await bob.deleteSession('ig-s1')) === false);
  check('delete: again', (await alice.deleteSession('ig-s2')) === false);

  await db.end();
  console.log(`inference_gateway: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch(e => { console.error(e); console.log(`inference_gateway: ${passed} passed, ${failed + 1} failed`); process.exit(1); });
