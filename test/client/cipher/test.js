// cipher against chatstore, with node-postgres (pg).
//
// cipher's storage backend is a key-value store (set/get/delete/list by
// prefix, jsonb values, optional TTL) plus ordered lists (append, range,
// length).  Its own Postgres backend computes list positions with
// MAX(position)+1, which loses values when clients append at once.
// CipherStore below is that backend written on chatstore, one SQL call per
// operation; the concurrency test runs 8 clients appending to one list.
'use strict';
const { Client, Pool } = require('pg');

let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) passed++;
  else { failed++; console.error(`FAIL ${name}`, detail === undefined ? '' : JSON.stringify(detail)); }
}
const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);

class CipherStore {
  constructor(db) { this.db = db; }
  async set(key, value, ttlSeconds) {
    await this.db.query('SELECT FROM chat_kv_set($1, $2::jsonb, $3 * interval \'1 second\')',
      [key, JSON.stringify(value), ttlSeconds ?? null]);
  }
  async get(key) {
    // SQL NULL = missing; a stored JSON null comes back as null
    const r = await this.db.query('SELECT v, v IS NULL AS missing FROM chat_kv_get($1) AS v', [key]);
    return r.rows[0].missing ? undefined : r.rows[0].v;
  }
  async delete(key) {
    return (await this.db.query('SELECT chat_kv_delete($1) AS d', [key])).rows[0].d;
  }
  async list(prefix) {
    return (await this.db.query('SELECT key FROM chat_kv_list($1, NULL)', [prefix])).rows.map(r => r.key);
  }
  async append(key, ...values) {
    const r = await this.db.query('SELECT chat_kvlist_append_many($1, $2::jsonb) AS n', [key, JSON.stringify(values)]);
    return Number(r.rows[0].n);
  }
  async range(key, start = 0, stop = -1) {
    const r = await this.db.query('SELECT value FROM chat_kvlist_range($1, $2, $3)', [key, start, stop]);
    return r.rows.map(x => x.value);
  }
  async length(key) {
    return Number((await this.db.query('SELECT chat_kvlist_length($1) AS n', [key])).rows[0].n);
  }
  async trim(key, start, stop) {
    return Number((await this.db.query('SELECT chat_kvlist_trim($1, $2, $3) AS n', [key, start, stop])).rows[0].n);
  }
  async deleteList(key) {
    return (await this.db.query('SELECT chat_kvlist_delete($1) AS d', [key])).rows[0].d;
  }
}

async function main() {
  const client = new Client();
  await client.connect();
  const store = new CipherStore(client);

  // ---- key-value
  await store.set('memory:user:1', { name: 'Ada', facts: ['likes tea'] });
  check('get object', eq(await store.get('memory:user:1'), { name: 'Ada', facts: ['likes tea'] }));
  await store.set('memory:user:1', { name: 'Ada L.' });
  check('set overwrites', eq(await store.get('memory:user:1'), { name: 'Ada L.' }));
  await store.set('memory:count', 42);
  await store.set('memory:flag', false);
  await store.set('memory:nothing', null);
  check('get number', (await store.get('memory:count')) === 42);
  check('get false', (await store.get('memory:flag')) === false);
  check('stored null is not missing', (await store.get('memory:nothing')) === null);
  check('missing is undefined', (await store.get('memory:none')) === undefined);
  await store.set('100%_done', 1);
  await store.set('100xydone', 2);
  await store.set('100%_other', 3);
  check('list prefix literal %/_', eq(await store.list('100%_'), ['100%_done', '100%_other']));
  check('list prefix', eq(await store.list('memory:'),
    ['memory:count', 'memory:flag', 'memory:nothing', 'memory:user:1']));
  check('list all', (await store.list('')).length === 7);
  check('delete', (await store.delete('memory:flag')) === true);
  check('delete missing', (await store.delete('memory:flag')) === false);
  check('deleted is gone', (await store.get('memory:flag')) === undefined);
  // TTL: set with 1 second, visible now, invisible after expiry
  await store.set('session:tmp', 'x', 1);
  check('ttl visible', (await store.get('session:tmp')) === 'x');
  await new Promise(r => setTimeout(r, 1200));
  check('ttl expired get', (await store.get('session:tmp')) === undefined);
  check('ttl expired list', eq(await store.list('session:'), []));

  // ---- lists
  check('append one', (await store.append('events', { t: 'start' })) === 1);
  check('append many', (await store.append('events', 'a', 'b', { t: 'c' })) === 4);
  check('length', (await store.length('events')) === 4);
  check('range all', eq(await store.range('events'), [{ t: 'start' }, 'a', 'b', { t: 'c' }]));
  check('range 1..2', eq(await store.range('events', 1, 2), ['a', 'b']));
  check('range last 2', eq(await store.range('events', -2, -1), ['b', { t: 'c' }]));
  check('range out of bounds', eq(await store.range('events', 10, 20), []));
  check('missing list', (await store.length('nope')) === 0 && eq(await store.range('nope'), []));
  check('trim', (await store.trim('events', 1, -1)) === 3 && eq(await store.range('events'), ['a', 'b', { t: 'c' }]));
  check('delete list', (await store.deleteList('events')) === true && (await store.length('events')) === 0);

  // ---- 8 clients append to one list at once: nothing lost, nothing collides
  const CLIENTS = 8, PER = 50;
  const pool = new Pool({ max: CLIENTS });
  const workers = [];
  for (let c = 0; c < CLIENTS; c++) {
    workers.push((async () => {
      const conn = await pool.connect();
      try {
        const s = new CipherStore(conn);
        for (let i = 0; i < PER; i++) {
          if (i % 5 === 4) await s.append('shared', `c${c}-${i}`, `c${c}-${i}b`);   // some batches
          else await s.append('shared', `c${c}-${i}`);
        }
      } finally { conn.release(); }
    })());
  }
  const results = await Promise.allSettled(workers);
  check('concurrent: no client failed', results.every(r => r.status === 'fulfilled'),
    results.filter(r => r.status === 'rejected').map(r => String(r.reason)));
  await pool.end();
  const expected = CLIENTS * PER + CLIENTS * (PER / 5);
  const all = await store.range('shared');
  check('concurrent: length', (await store.length('shared')) === expected, await store.length('shared'));
  check('concurrent: every value once', all.length === expected && new Set(all).size === expected,
    { got: all.length, distinct: new Set(all).size });
  // each client's values keep their order, and a batch stays together
  let ordered = true;
  for (let c = 0; c < CLIENTS; c++) {
    const mine = all.filter(v => v.startsWith(`c${c}-`));
    const want = [];
    for (let i = 0; i < PER; i++) { want.push(`c${c}-${i}`); if (i % 5 === 4) want.push(`c${c}-${i}b`); }
    if (!eq(mine, want)) ordered = false;
  }
  check('concurrent: per-client order kept', ordered);
  let together = true;
  all.forEach((v, i) => { if (v.endsWith('b') && all[i - 1] !== v.slice(0, -1)) together = false; });
  check('concurrent: batches contiguous', together);
  const pos = await client.query(
    `SELECT count(*) AS n, min(pos) AS lo, max(pos) AS hi, count(DISTINCT pos) AS d
     FROM chat_list_items WHERE key = 'shared'`);
  const p = pos.rows[0];
  check('concurrent: positions contiguous, no collision',
    Number(p.n) === expected && Number(p.d) === expected && Number(p.hi) - Number(p.lo) + 1 === expected, p);

  await client.end();
  console.log(`cipher: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch(e => { console.error(e); console.log(`cipher: ${passed} passed, ${failed + 1} failed`); process.exit(1); });
