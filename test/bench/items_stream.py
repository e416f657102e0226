#!/usr/bin/python3
"""chatstore benchmark rows S1 (streaming) and S2 (Responses items), 1.4.

S1_stream: one assistant message grown by 1,000 deltas of 20 characters, each
delta its own transaction (autocommit), three ways:
  stream     chat_stream_start + 1,000 chat_stream_append + chat_stream_finish,
             with chatstore.notify = on and a listener on chatstore_stream
  resave     the peer "re-save the growing message": chat_save_messages with
             the first delta, then after each further delta
             chat_update_message(thread, id, content => the text so far)
  save_once  one chat_save_messages of the finished message
Each measured run starts after a CHECKPOINT (so that full-page images hit every
variant alike) and with no autovacuum worker running; its WAL is the
difference of pg_current_wal_insert_lsn() before and after (the whole
cluster's WAL).  R runs (smoke 1, default 5), medians reported.

S2_items: N conversations (smoke 2, default 50) of 200 Responses items (user
message items, reasoning items with ~1 KB encrypted_content, function_call +
function_call_output pairs, assistant output_text messages), saved turn by turn
(one call per turn with that turn's new items) and read back whole, three ways:
  chatstore    chat_save_messages per turn; chat_items(thread) and
               chat_context(thread, format => 'responses')
  plain loop   a table (thread_id text, seq bigint, item jsonb,
               primary key (thread_id, seq)); per turn one transaction with
               one INSERT per item (client-side loop)
  plain batch  the same table shape; per turn one
               INSERT ... SELECT FROM jsonb_array_elements(...)
  both plain tables are read with SELECT item ... ORDER BY seq.
Bytes on disk per item: pg_total_relation_size deltas (tables + indexes +
TOAST; for chatstore every table of the extension) over the N threads.

The client receives jsonb as text (not parsed), so that the read times are
the server's and the wire's, not Python's json module.

usage: items_stream.py [--db DB] [--scale smoke|default|large] [--raw FILE]
                       [--summary FILE] [--rounds R] [--threads N]
Connection from the PG* environment (PGHOST, PGPORT, PGUSER); the database
must have the extension.  --raw appends CSV rows
(workload,impl,clients,scale_messages,tps,p50_ms,p99_ms, no header) as
run.sh's raw file; --summary writes {"targets": [[name, detail, ok]...],
"lines": [...]} for report.py.  Exits non-zero when something fails (an SQL
error, a result that does not match the 1.4 contract), never because a
target is missed.  Leaves its chatstore threads in the database (run.sh drops
it) and drops its plain tables.
"""
import argparse
import base64
import json
import os
import random
import statistics
import string
import sys
import time

import psycopg
from psycopg.types.string import TextLoader

N_DELTAS = 1000
DELTA_CHARS = 20
S2_ITEMS = 200
SCALES = {  # rounds of S1, threads of S2, reads of each S2 thread per variant
    'smoke': (1, 2, 3),
    'default': (5, 50, 5),
    'large': (5, 50, 5),
}

WORDS = ('the a user asked about postgres index query plan table row thread message history '
         'model token budget reply assistant tool call result weather in paris tomorrow please '
         'summarize document meeting notes action items deadline friday error stack trace python '
         'function returns none instead of list could you explain why this happens when running '
         'tests on ci server with two cores and eight gigabytes memory latency throughput '
         'percentile benchmark fast slow cache vacuum bloat toast compression json array search '
         'ranking snippet language english french translate into short answer long context window '
         'retrieval chunk embedding vector similar documents sources citation is are was be '
         'café naïve déjà-vu 21°C über façade').split()


def fail(msg):
    print(f'items_stream.py: FAILED: {msg}', file=sys.stderr)
    sys.exit(1)


def pct(values, p):
    """nearest-rank percentile (the method of run.sh's percentiles())"""
    v = sorted(values)
    if not v:
        return None
    i = max(1, min(len(v), int(len(v) * p + 0.999999)))
    return v[i - 1]


def prose(rnd, nchars):
    """word-like text of about nchars characters, sentences"""
    out, n, start = [], 0, True
    while n < nchars:
        w = rnd.choice(WORDS)
        if start:
            w = w[0].upper() + w[1:]
            start = False
        if rnd.random() < 0.08:
            w += rnd.choice('.,.?!')
            start = w.endswith(('.', '?', '!'))
        out.append(w)
        n += len(w) + 1
    s = ' '.join(out)
    return s if s.endswith(('.', '?', '!')) else s + '.'


def ms(ns):
    return ns / 1e6


class Bench:
    def __init__(self, args):
        self.args = args
        self.conn = psycopg.connect(dbname=args.db, autocommit=True)
        self.conn.adapters.register_loader('jsonb', TextLoader)   # JSON as text, not parsed
        self.run_id = f'{int(time.time()) % 100000}{os.getpid() % 1000}'
        self.rows = []       # CSV rows
        self.lines = []      # summary lines
        self.targets = []    # [name, detail, ok]
        self.scale_msgs = self.one('SELECT count(*) FROM chat_messages')
        self.wait_left = 120.0   # seconds quiet() may wait for autovacuum, in all
        self.noisy = 0           # S1 runs with an autovacuum worker at their start or end

    def one(self, sql, params=None):
        return self.conn.execute(sql, params).fetchone()[0]

    def row(self, workload, impl, tps, p50, p99):
        self.rows.append(f'{workload},{impl},1,{self.scale_msgs},{tps:.3f},{p50:.3f},{p99:.3f}')

    def autovacuum_workers(self):
        return self.one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")

    def quiet(self):
        """CHECKPOINT, after waiting for autovacuum workers to end (at most
        60 s per run and 120 s in all; smoke 5 s): the WAL measured is the
        whole cluster's"""
        deadline = time.time() + min(5 if self.args.scale == 'smoke' else 60, self.wait_left)
        t0 = time.time()
        while time.time() < deadline and self.autovacuum_workers():
            time.sleep(0.2)
        self.wait_left -= time.time() - t0
        self.conn.execute('CHECKPOINT')
        self.busy_at_start = self.autovacuum_workers() > 0
        return self.one('SELECT pg_current_wal_insert_lsn()::text')

    def wal_since(self, lsn):
        return int(self.one('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)', (lsn,)))

    # ------------------------------------------------------------------
    # S1 streaming
    # ------------------------------------------------------------------
    def s1(self, rounds):
        rnd = random.Random(42)
        text = prose(rnd, N_DELTAS * DELTA_CHARS + 50)[:N_DELTAS * DELTA_CHARS]
        deltas = [text[i:i + DELTA_CHARS] for i in range(0, len(text), DELTA_CHARS)]
        assert len(deltas) == N_DELTAS and all(len(d) == DELTA_CHARS for d in deltas)
        c = self.conn
        c.execute('SET chatstore.notify = on')   # every variant; only the stream notifies per delta
        listener = psycopg.connect(dbname=self.args.db, autocommit=True)
        listener.execute('LISTEN chatstore_stream')

        res = {v: {'total': [], 'p50': [], 'p99': [], 'wal': []} for v in ('stream', 'resave', 'save_once')}
        for r in range(rounds):
            order = ['stream', 'resave', 'save_once']
            order = order[r % 3:] + order[:r % 3]
            for v in order:
                tid = f's1-{self.run_id}-{v}-{r}'
                mid = f'msg_{v}_{r}'
                c.execute('SELECT 1 FROM chat_create_thread(%s)', (tid,))
                lat = []
                lsn = self.quiet()
                t0 = time.perf_counter_ns()
                if v == 'stream':
                    c.execute('SELECT id FROM chat_stream_start(%s, message_id => %s)', (tid, mid)).fetchone()
                    expect = 0
                    for d in deltas:
                        a = time.perf_counter_ns()
                        n = c.execute('SELECT chat_stream_append(%s, %s, %s)', (tid, mid, d)).fetchone()[0]
                        lat.append(time.perf_counter_ns() - a)
                        expect += DELTA_CHARS
                        if n != expect:
                            fail(f"SELECT chat_stream_append('{tid}', '{mid}', <20 characters>): "
                                 f'expected {expect} (characters so far), got {n}')
                    c.execute('SELECT status FROM chat_stream_finish(%s, %s)', (tid, mid)).fetchone()
                elif v == 'resave':
                    first = json.dumps([{'id': mid, 'role': 'assistant', 'content': deltas[0]}])
                    a = time.perf_counter_ns()
                    c.execute('SELECT saved_count FROM chat_save_messages(%s, %s::jsonb)', (tid, first)).fetchone()
                    lat.append(time.perf_counter_ns() - a)
                    for k in range(2, N_DELTAS + 1):
                        so_far = text[:k * DELTA_CHARS]
                        a = time.perf_counter_ns()
                        c.execute('SELECT seq FROM chat_update_message(%s, %s, content => %s)',
                                  (tid, mid, so_far)).fetchone()
                        lat.append(time.perf_counter_ns() - a)
                else:
                    whole = json.dumps([{'id': mid, 'role': 'assistant', 'content': text}])
                    t0 = time.perf_counter_ns()
                    c.execute('SELECT saved_count FROM chat_save_messages(%s, %s::jsonb)', (tid, whole)).fetchone()
                total = time.perf_counter_ns() - t0
                wal = self.wal_since(lsn)
                if self.autovacuum_workers() or self.busy_at_start:
                    self.noisy += 1
                if v == 'save_once':
                    lat = [total]
                res[v]['total'].append(total)
                res[v]['p50'].append(pct(lat, 0.5))
                res[v]['p99'].append(pct(lat, 0.99))
                res[v]['wal'].append(wal)
                self.s1_check(v, tid, mid, text, deltas, listener)
                print(f'{time.strftime("%H:%M:%S", time.gmtime())}  S1_stream    {v:<10} run {r + 1}: '
                      f'{ms(total):9.1f} ms, WAL {wal / 1024:9.1f} kB', flush=True)
        listener.close()
        c.execute('RESET chatstore.notify')

        med = {v: {k: statistics.median(x) for k, x in d.items()} for v, d in res.items()}
        calls = {'stream': N_DELTAS + 2, 'resave': N_DELTAS, 'save_once': 1}
        for v in ('stream', 'resave', 'save_once'):
            m = med[v]
            self.row('S1_stream', v, calls[v] / (m['total'] / 1e9), ms(m['p50']), ms(m['p99']))
        st, rs, so = med['stream'], med['resave'], med['save_once']
        t_ratio = rs['total'] / st['total']
        w_ratio = st['wal'] / so['wal']
        runs = [b / a for a, b in zip(res['stream']['total'], res['resave']['total'])]
        wruns = [a / b for a, b in zip(res['stream']['wal'], res['save_once']['wal'])]
        L = self.lines
        L.append(f'S1_stream: one assistant message of {len(text):,} characters grown by {N_DELTAS:,} deltas '
                 f'of {DELTA_CHARS}, one transaction each (autocommit); chatstore.notify = on, a listener on '
                 f'chatstore_stream; median of {rounds} run(s); a CHECKPOINT before each measured run '
                 '(full-page images hit every variant alike); WAL = pg_current_wal_insert_lsn() '
                 'before/after (whole cluster)')
        L.append(f'  stream    (start + {N_DELTAS:,} chat_stream_append + finish)  total {ms(st["total"]):9.1f} ms, '
                 f'per delta p50 {ms(st["p50"]):.3f} ms p99 {ms(st["p99"]):.3f} ms, WAL {st["wal"] / 1024:8.1f} kB')
        L.append(f'  resave    (save + {N_DELTAS - 1:,} chat_update_message)       total {ms(rs["total"]):9.1f} ms, '
                 f'per delta p50 {ms(rs["p50"]):.3f} ms p99 {ms(rs["p99"]):.3f} ms, WAL {rs["wal"] / 1024:8.1f} kB')
        L.append(f'  save_once (one chat_save_messages)                 total {ms(so["total"]):9.1f} ms, '
                 f'{"":37}WAL {so["wal"] / 1024:8.1f} kB')
        L.append(f'  resave time / stream time {t_ratio:.2f}x (runs {min(runs):.2f}-{max(runs):.2f}x); '
                 f'stream WAL / save_once WAL {w_ratio:.2f}x (runs {min(wruns):.2f}-{max(wruns):.2f}x); '
                 f'resave WAL / stream WAL {rs["wal"] / st["wal"]:.1f}x')
        if self.noisy:
            L.append(f'  note: an autovacuum worker ran at the start or end of {self.noisy} of the '
                     f'{3 * rounds} measured runs: their WAL includes some of its')
        self.targets.append(['S1 resave time / stream time >= 5x', f'{t_ratio:.2f}x', t_ratio >= 5.0])
        self.targets.append(['S1 stream WAL / save_once WAL < 3x',
                             f'{w_ratio:.2f}x ({st["wal"] / 1024:.0f} / {so["wal"] / 1024:.0f} kB)', w_ratio < 3.0])

    def s1_check(self, v, tid, mid, text, deltas, listener):
        c = self.conn
        content, status = c.execute('SELECT content, status FROM chat_get_message(%s, %s)', (tid, mid)).fetchone()
        if content != text:
            fail(f"{v}: SELECT content FROM chat_get_message('{tid}', '{mid}'): expected the {len(text)} "
                 f'characters written, got {len(content or "")} characters')
        want_status = 'completed' if v == 'stream' else None
        if status != want_status:
            fail(f"{v}: SELECT status FROM chat_get_message('{tid}', '{mid}'): expected {want_status}, got {status}")
        if v != 'stream':
            return
        got = c.execute('SELECT status, text, end_offset FROM chat_stream_read(%s, %s)', (tid, mid)).fetchone()
        if got != ('completed', text, len(text)):
            fail(f"SELECT * FROM chat_stream_read('{tid}', '{mid}'): expected (completed, <the text>, {len(text)}), "
                 f'got ({got[0]}, <{len(got[1] or "")} characters>, {got[2]})')
        tail = c.execute('SELECT * FROM chat_stream_read(%s, %s, %s)', (tid, mid, len(text) - 25)).fetchone()
        if tail[1] != text[-25:]:
            fail(f"SELECT text FROM chat_stream_read('{tid}', '{mid}', {len(text) - 25}): expected "
                 f'{text[-25:]!r}, got {tail[1]!r}')
        # the notifications: one per delta and one finish, in order (a marker
        # sent after them ends the drain)
        c.execute("SELECT pg_notify('chatstore_stream', 'bench-marker')")
        got, gen, deadline = [], listener.notifies(), time.time() + 30
        for n in gen:
            if n.payload == 'bench-marker':
                break
            got.append(json.loads(n.payload))
            if time.time() > deadline:
                break
        gen.close()
        deltas_seen = [e for e in got if e.get('event') == 'delta' and e.get('message_id') == mid]
        finish = [e for e in got if e.get('event') == 'finish' and e.get('message_id') == mid]
        ok = (len(deltas_seen) == N_DELTAS and len(finish) == 1
              and all(e.get('offset') == i * DELTA_CHARS and e.get('delta') == deltas[i]
                      and e.get('thread_id') == tid for i, e in enumerate(deltas_seen))
              and finish[0].get('status') == 'completed')
        if not ok:
            fail(f'chatstore_stream notifications with chatstore.notify = on: expected {N_DELTAS} "delta" events '
                 '(offset = characters before, the delta) and 1 "finish" (status completed), got '
                 f'{len(deltas_seen)} delta and {len(finish)} finish events; first: {got[:2]}')

    # ------------------------------------------------------------------
    # S2 items
    # ------------------------------------------------------------------
    @staticmethod
    def conversation(t):
        """200 Responses items of thread t, as a list of turns (lists of items)"""
        rnd = random.Random(1000 + t)
        hexid = lambda: ''.join(rnd.choice('0123456789abcdef') for _ in range(48))
        alnum = string.ascii_letters + string.digits
        tools = {
            'get_weather': lambda: {'city': rnd.choice(['Paris', 'Lyon', 'Berlin', 'Kyoto']), 'unit': 'c'},
            'search_docs': lambda: {'query': prose(rnd, 40), 'top_k': 5},
            'run_sql': lambda: {'sql': 'SELECT * FROM orders WHERE customer_id = %d LIMIT 20' % rnd.randint(1, 9999)},
            'read_file': lambda: {'path': '/src/app/%s.py' % rnd.choice(['main', 'models', 'views', 'utils'])},
        }
        n = [0]

        def user():
            n[0] += 1
            return {'type': 'message', 'role': 'user',
                    'content': [{'type': 'input_text', 'text': f'({n[0]}) ' + prose(rnd, rnd.randint(80, 400))}]}

        def reasoning():
            summary = [] if rnd.random() < 0.3 else [{'type': 'summary_text', 'text': prose(rnd, rnd.randint(150, 400))}]
            return {'type': 'reasoning', 'id': 'rs_' + hexid(), 'summary': summary,
                    'encrypted_content': 'gAAAAAB' + base64.urlsafe_b64encode(
                        rnd.randbytes(rnd.randint(700, 840))).decode()}

        def call():
            name = rnd.choice(sorted(tools))
            return {'type': 'function_call', 'id': 'fc_' + hexid(),
                    'call_id': 'call_' + ''.join(rnd.choice(alnum) for _ in range(24)),
                    'name': name, 'arguments': json.dumps(tools[name]()), 'status': 'completed'}

        def output(fc):
            rows = [{'id': rnd.randint(1, 10 ** 6), 'title': prose(rnd, 40), 'text': prose(rnd, rnd.randint(60, 250))}
                    for _ in range(rnd.randint(1, 5))]
            return {'type': 'function_call_output', 'call_id': fc['call_id'],
                    'output': json.dumps({'ok': True, 'results': rows})}

        def assistant():
            return {'type': 'message', 'id': 'msg_' + hexid(), 'role': 'assistant', 'status': 'completed',
                    'content': [{'type': 'output_text', 'text': prose(rnd, rnd.randint(200, 1200)),
                                 'annotations': []}]}

        def turn(calls_per_step, extra_reasoning=False):
            items = [user(), reasoning()]
            for k in calls_per_step:           # parallel calls, then their outputs
                fcs = [call() for _ in range(k)]
                items += fcs + [output(fc) for fc in fcs] + [reasoning()]
            if extra_reasoning and not calls_per_step:
                items.append(reasoning())
            return items + [assistant()]

        shapes = [[], [1], [1], [2], [1, 1], [1, 2]]   # sizes 3, 6, 6, 8, 9, 11
        turns, left = [], S2_ITEMS
        while left:
            shape = rnd.choice(shapes)
            size = 3 + sum(2 * k + 1 for k in shape)
            if size > left or left - size in (1, 2):
                # the last turn: exactly the items left (>= 3): pairs of
                # calls, one more reasoning item when odd
                pairs, odd = divmod(left - 3, 2)
                items = [user(), reasoning()]
                fcs = [call() for _ in range(pairs)]
                items += fcs + [output(fc) for fc in fcs]
                if odd:
                    items.append(reasoning())
                items.append(assistant())
            else:
                items = turn(shape)
            turns.append(items)
            left -= len(items)
        assert sum(map(len, turns)) == S2_ITEMS
        return turns

    def ext_size(self):
        return self.one("""
            SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint
            FROM pg_depend d JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
            WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
              AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'chatstore')""")

    def s2(self, nthreads, nreads):
        c = self.conn
        loop_t, batch_t = f'bench_items_loop_{self.run_id}', f'bench_items_batch_{self.run_id}'
        for tb in (loop_t, batch_t):
            c.execute(f'CREATE TABLE {tb} (thread_id text, seq bigint, item jsonb, PRIMARY KEY (thread_id, seq))')
        convs = {t: self.conversation(t) for t in range(nthreads)}
        # each turn's JSON (and each item's) serialized before the clock starts
        turn_json = {t: [json.dumps(turn) for turn in convs[t]] for t in convs}
        item_json = {t: [[json.dumps(it) for it in turn] for turn in convs[t]] for t in convs}
        item_bytes = statistics.mean(len(j.encode()) for t in item_json for turn in item_json[t] for j in turn)
        tid = lambda t: f's2-{self.run_id}-{t}'

        size0 = {'save_cs': self.ext_size(),
                 'save_loop': self.one('SELECT pg_total_relation_size(%s)', (loop_t,)),
                 'save_batch': self.one('SELECT pg_total_relation_size(%s)', (batch_t,))}
        lat = {v: [] for v in size0}
        spent = {v: 0 for v in size0}
        batch_sql = (f'INSERT INTO {batch_t} (thread_id, seq, item) '
                     f'SELECT %(t)s, b.base + e.ord, e.item '
                     f'FROM (SELECT COALESCE(max(seq), 0) AS base FROM {batch_t} WHERE thread_id = %(t)s) b, '
                     f'jsonb_array_elements(%(j)s::jsonb) WITH ORDINALITY AS e(item, ord)')
        for t in range(nthreads):
            order = ['save_cs', 'save_loop', 'save_batch']
            order = order[t % 3:] + order[:t % 3]
            for v in order:
                for k, turn in enumerate(turn_json[t]):
                    a = time.perf_counter_ns()
                    if v == 'save_cs':
                        saved = c.execute('SELECT saved_count FROM chat_save_messages(%s, %s::jsonb)',
                                          (tid(t), turn)).fetchone()[0]
                    elif v == 'save_loop':
                        with c.transaction():
                            base = c.execute(f'SELECT COALESCE(max(seq), 0) FROM {loop_t} WHERE thread_id = %s',
                                             (tid(t),)).fetchone()[0]
                            for i, it in enumerate(item_json[t][k]):
                                c.execute(f'INSERT INTO {loop_t} (thread_id, seq, item) VALUES (%s, %s, %s::jsonb)',
                                          (tid(t), base + i + 1, it))
                    else:
                        c.execute(batch_sql, {'t': tid(t), 'j': turn})
                    d = time.perf_counter_ns() - a
                    lat[v].append(d)
                    spent[v] += d
                    if v == 'save_cs' and saved != len(convs[t][k]):
                        fail(f"SELECT saved_count FROM chat_save_messages('{tid(t)}', <turn {k + 1}: "
                             f'{len(convs[t][k])} new items>): expected {len(convs[t][k])}, got {saved}')
        per_item = {'save_cs': (self.ext_size() - size0['save_cs']),
                    'save_loop': self.one('SELECT pg_total_relation_size(%s)', (loop_t,)) - size0['save_loop'],
                    'save_batch': self.one('SELECT pg_total_relation_size(%s)', (batch_t,)) - size0['save_batch']}
        per_item = {v: b / (nthreads * S2_ITEMS) for v, b in per_item.items()}
        print(f'{time.strftime("%H:%M:%S", time.gmtime())}  S2_items     saved {nthreads} x {S2_ITEMS} items '
              f'({sum(len(convs[t]) for t in convs)} turns) three ways', flush=True)

        # reads: every thread nreads times per variant, variants interleaved
        reads = {
            'read_items': ('SELECT seq, id, item FROM chat_items(%s)', False),
            'read_context': ("SELECT chat_context(%s, format => 'responses')", True),
            'read_sql': (f'SELECT item FROM {batch_t} WHERE thread_id = %s ORDER BY seq', False),
        }
        rlat = {v: [] for v in reads}
        for k in range(nreads):
            for t in range(nthreads):
                order = list(reads)
                order = order[(k + t) % 3:] + order[:(k + t) % 3]
                for v in order:
                    sql, _ = reads[v]
                    a = time.perf_counter_ns()
                    c.execute(sql, (tid(t),)).fetchall()
                    rlat[v].append(time.perf_counter_ns() - a)
        self.s2_check(convs, tid, loop_t, batch_t)
        for tb in (loop_t, batch_t):
            c.execute(f'DROP TABLE {tb}')

        for v in ('save_cs', 'save_loop', 'save_batch'):
            self.row('S2_items', v, len(lat[v]) / (spent[v] / 1e9), ms(pct(lat[v], 0.5)), ms(pct(lat[v], 0.99)))
        for v in reads:
            self.row('S2_items', v, len(rlat[v]) / (sum(rlat[v]) / 1e9), ms(pct(rlat[v], 0.5)), ms(pct(rlat[v], 0.99)))
        p = {v: ms(pct(x, 0.5)) for v, x in list(lat.items()) + list(rlat.items())}
        p99 = {v: ms(pct(x, 0.99)) for v, x in list(lat.items()) + list(rlat.items())}
        nturns = sum(len(convs[t]) for t in convs)
        L = self.lines
        L.append(f'S2_items: {nthreads} conversation(s) of {S2_ITEMS} Responses items ({nturns / nthreads:.1f} turns '
                 f'each, {item_bytes:.0f} bytes of JSON per item on average: user messages, reasoning with '
                 '~1 KB encrypted_content, function_call + output pairs, assistant output_text), saved turn by turn, '
                 f'read back whole ({nreads} reads per thread and variant; jsonb received as text)')
        L.append('  (ratios of times, chatstore/peer: above 1 chatstore takes longer)')
        L.append(f'  save per turn p50 (p99): chatstore {p["save_cs"]:.3f} ({p99["save_cs"]:.3f}) ms, '
                 f'plain INSERT loop {p["save_loop"]:.3f} ({p99["save_loop"]:.3f}) ms, '
                 f'plain batch INSERT {p["save_batch"]:.3f} ({p99["save_batch"]:.3f}) ms; '
                 f'p50 chatstore/loop {p["save_cs"] / p["save_loop"]:.2f}x, chatstore/batch '
                 f'{p["save_cs"] / p["save_batch"]:.2f}x')
        L.append(f'  read whole thread p50 (p99): chat_items {p["read_items"]:.3f} ({p99["read_items"]:.3f}) ms, '
                 f'chat_context responses {p["read_context"]:.3f} ({p99["read_context"]:.3f}) ms, '
                 f'SELECT item ORDER BY seq {p["read_sql"]:.3f} ({p99["read_sql"]:.3f}) ms; '
                 f'p50 chat_items/SELECT {p["read_items"] / p["read_sql"]:.2f}x, chat_context/SELECT '
                 f'{p["read_context"] / p["read_sql"]:.2f}x')
        L.append(f'  bytes on disk per item (tables + indexes + TOAST, {nthreads * S2_ITEMS:,} items): chatstore '
                 f'{per_item["save_cs"]:.0f} (all its tables), plain loop table {per_item["save_loop"]:.0f}, plain '
                 f'batch table {per_item["save_batch"]:.0f}; chatstore/plain '
                 f'{per_item["save_cs"] / per_item["save_batch"]:.2f}x')

    def s2_check(self, convs, tid, loop_t, batch_t):
        c = self.conn
        for t, turns in convs.items():
            want = [it for turn in turns for it in turn]
            rows = c.execute('SELECT seq, id, item FROM chat_items(%s)', (tid(t),)).fetchall()
            got = [json.loads(r[2]) for r in rows]
            if got != want:
                bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
                fail(f"SELECT item FROM chat_items('{tid(t)}'): expected the {len(want)} items saved, equal as jsonb, "
                     f'got {len(got)} rows, first difference at item {bad + 1}: expected '
                     f'{json.dumps(want[bad])[:300] if bad < len(want) else None}, got '
                     f'{json.dumps(got[bad])[:300] if bad < len(got) else None}')
            ctx = json.loads(c.execute("SELECT chat_context(%s, format => 'responses')", (tid(t),)).fetchone()[0])
            if len(ctx) != len(want):
                fail(f"SELECT jsonb_array_length(chat_context('{tid(t)}', format => 'responses')): expected "
                     f'{len(want)} (every item, all calls answered), got {len(ctx)}')
            if ctx != want and t == 0:
                diff = next(i for i, (a, b) in enumerate(zip(ctx, want)) if a != b)
                self.lines.append(f"  note: chat_context(format => 'responses') items are not the saved items "
                                  f'as given (first at item {diff + 1}: {json.dumps(ctx[diff])[:160]})')
            for tb in (loop_t, batch_t):
                got = [json.loads(r[0]) for r in c.execute(
                    f'SELECT item FROM {tb} WHERE thread_id = %s ORDER BY seq', (tid(t),)).fetchall()]
                if got != want:
                    fail(f'{tb}: the plain peer did not store the {len(want)} items')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--db', default=os.environ.get('PGDATABASE', 'chatstore_bench'))
    ap.add_argument('--scale', default=os.environ.get('BENCH_SCALE', 'default'), choices=sorted(SCALES))
    ap.add_argument('--raw', help='append the CSV rows (no header) to this file')
    ap.add_argument('--summary', help='write the summary (JSON, for report.py) to this file')
    ap.add_argument('--rounds', type=int, help='S1 runs (default: smoke 1, default 5)')
    ap.add_argument('--threads', type=int, help='S2 threads (default: smoke 2, default 50)')
    ap.add_argument('--only', choices=['S1', 'S2'], help='run one row only')
    args = ap.parse_args()
    rounds, nthreads, nreads = SCALES[args.scale]
    rounds = args.rounds or rounds
    nthreads = args.threads or nthreads

    b = Bench(args)
    have = b.one("SELECT count(*) FROM pg_proc WHERE proname IN ('chat_stream_start', 'chat_items')")
    if have < 2:
        b.lines.append('S1_stream, S2_items: not run (the installed chatstore has no chat_stream_start / '
                       'chat_items: they need 1.4)')
        for name in ('S1 resave time / stream time >= 5x', 'S1 stream WAL / save_once WAL < 3x'):
            b.targets.append([name, None, False])
    else:
        if args.only in (None, 'S1'):
            b.s1(rounds)
        if args.only in (None, 'S2'):
            b.s2(nthreads, nreads)
    if args.raw:
        with open(args.raw, 'a') as f:
            f.write(''.join(r + '\n' for r in b.rows))
    if args.summary:
        with open(args.summary, 'w') as f:
            json.dump({'targets': b.targets, 'lines': b.lines}, f, indent=1)
    if not args.raw:
        print('workload,impl,clients,scale_messages,tps,p50_ms,p99_ms')
        print('\n'.join(b.rows))
    if args.summary:   # report.py prints them
        return
    print('\n'.join(b.lines))
    for name, detail, ok in b.targets:
        print(f'  {name:<44} {detail or "not measured":<40} {"met" if ok else "MISSED" if detail else ""}')


if __name__ == '__main__':
    main()
