"""chatstore through PgBouncer in transaction pool mode (run by run.sh).

50 client connections through PgBouncer, 5 tenants, PGBOUNCER_SECONDS long:

- 38 "local" clients on the main pool: every transaction is
  BEGIN; SET LOCAL chatstore.tenant (or set_config(..., true)); ...; COMMIT,
  with saves, re-sends, history, context, thread lists, key-values, items, a
  stream, feedback and plain SELECTs; every read must return only the tenant's
  own rows and the exact history the client wrote.
- 5 "forgetful" clients on the main pool: like the local ones, but a third of
  their transactions forget the tenant: their reads must see nothing and their
  write must fail with 42501.
- 5 "session" clients on a pool of their own (the leak database): one session
  SET chatstore.tenant at connect, the mistake in transaction mode; how often
  their transactions run with another tenant's setting, see other tenants'
  rows and write threads owned by another tenant is measured and reported.
- 2 "local" readers on that polluted pool: SET LOCAL still wins, asserted.

Every transaction of the main pool also checks that it starts with no tenant
set (nothing leaked from the previous transaction on that server connection).
Afterwards, as the owner on a direct connection: every thread's owner is the
tenant whose client wrote it and nothing else exists, message_count = count(*)
and last_seq = max(seq) with seq gapless, no stream left in progress, every
key-value and feedback row in its writer's tenant with the last value written.
Errors: 42501 where documented (forgetful writes, cross-tenant probes), nothing
else (no 40001 in READ COMMITTED, no CS002).
"""
import collections
import json
import os
import random
import sys
import threading
import time

import psycopg
from psycopg import sql

PORT = int(os.environ["PGBOUNCER_PORT"])
MAIN_DB = os.environ["CS_MAIN_DB"]
LEAK_DB = os.environ["CS_LEAK_DB"]
APP_ROLE = os.environ["CS_APP_ROLE"]
SECONDS = float(os.environ.get("PGBOUNCER_SECONDS", "25"))
SEED = int(os.environ.get("PGBOUNCER_SEED", str(int(time.time()))))
TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"]

lock = threading.Lock()
failures = []                     # (client, what)
errors = collections.Counter()    # (client kind, sqlstate, expected?) -> n
txns = collections.Counter()      # client kind -> committed or rolled back transactions
hazard = collections.Counter()    # measurements of the session-SET mistake
refused = collections.Counter()   # forgotten writes refused with 42501, by function
stop_at = 0.0
# thread ids committed per tenant (main pool), for the cross-tenant probes
committed_threads = {t: [] for t in TENANTS}


def fail(who, what):
    with lock:
        failures.append((who, what))
        if len(failures) <= 30:
            print(f"FAIL [{who}] {what}", flush=True)


def connect(db):
    # PgBouncer 1.18 in transaction mode: no server-side prepared statements
    return psycopg.connect(host="127.0.0.1", port=PORT, dbname=db, user=APP_ROLE,
                           autocommit=True, prepare_threshold=None, connect_timeout=20)


def J(v):
    return json.dumps(v)


class Client:
    def __init__(self, cid, kind, tenant, db):
        self.cid, self.kind, self.tenant, self.db = cid, kind, tenant, db
        self.name = f"{kind}#{cid}/{tenant}"
        self.rng = random.Random(SEED * 1000 + cid)
        self.threads = {}         # thread id -> {"count", "msgs": [ids], "feedback": set}
        self.kv = {}              # key -> last value written
        self.n = self.forgotten = 0
        self.prefix = f"{tenant}-c{cid}-"

    # ---- helpers -------------------------------------------------------
    def q(self, conn, query, params=None):
        return conn.execute(query, params).fetchall()

    def set_tenant(self, conn):
        if self.cid % 2:
            conn.execute("SELECT set_config('chatstore.tenant', %s, true)", (self.tenant,))
        else:
            conn.execute(sql.SQL("SET LOCAL chatstore.tenant = {}").format(sql.Literal(self.tenant)))

    def check_clean_start(self, conn):
        got = self.q(conn, "SELECT current_setting('chatstore.tenant', true)")[0][0]
        if got not in (None, ""):
            fail(self.name, f"transaction started with chatstore.tenant = {got!r} (leaked through the pool)")

    def msg(self, tid, role="user"):
        self.n += 1
        return {"id": f"{tid}-m{self.n}", "role": role,
                "content": f"{self.tenant} says {self.n}", "token_count": 3}

    def own_thread(self):
        return self.rng.choice(list(self.threads)) if self.threads else None

    # ---- operations (inside a transaction with the tenant set) --------
    def op_save_new(self, conn):
        self.n += 1
        tid = f"{self.prefix}{self.n}"
        msgs = [self.msg(tid), self.msg(tid, "assistant")]
        user = self.tenant if self.rng.random() < 0.5 else None
        r = self.q(conn, "SELECT saved_count, skipped_count, first_seq, last_seq "
                         "FROM chat_save_messages(%s, %s::jsonb, %s)", (tid, J(msgs), user))[0]
        if tuple(r) != (2, 0, 1, 2):
            fail(self.name, f"save into new thread {tid}: got {r}")
        return ("new", tid, {"count": 2, "msgs": [m["id"] for m in msgs], "feedback": set()})

    def op_resend(self, conn, tid, st):
        old = [{"id": i, "role": "user", "content": "re-sent"} for i in st["msgs"][-2:]]
        new = self.msg(tid)
        r = self.q(conn, "SELECT saved_count, skipped_count, first_seq FROM chat_save_messages(%s, %s::jsonb)",
                   (tid, J(old + [new])))[0]
        if tuple(r) != (1, len(old), st["count"] + 1):
            fail(self.name, f"re-send into {tid}: got {r}, expected (1, {len(old)}, {st['count'] + 1})")
        st["count"] += 1
        st["msgs"].append(new["id"])

    def op_add(self, conn, tid, st):
        m = self.msg(tid)
        r = self.q(conn, "SELECT id, seq FROM chat_add_message(%s, 'user', %s, message_id => %s)",
                   (tid, m["content"], m["id"]))[0]
        if r[1] != st["count"] + 1:
            fail(self.name, f"chat_add_message into {tid}: seq {r[1]}, expected {st['count'] + 1}")
        st["count"] += 1
        st["msgs"].append(m["id"])

    def op_items(self, conn, tid, st):
        call = f"call-{self.cid}-{self.n}"
        items = [{"type": "function_call", "call_id": call, "name": "lookup", "arguments": "{}"},
                 {"type": "function_call_output", "call_id": call, "output": self.tenant}]
        r = self.q(conn, "SELECT saved_count, first_seq FROM chat_append_messages(%s, %s::jsonb)",
                   (tid, J(items)))[0]
        if tuple(r) != (2, st["count"] + 1):
            fail(self.name, f"chat_append_messages into {tid}: got {r}")
        st["count"] += 2
        rows = self.q(conn, "SELECT seq FROM chat_items(%s)", (tid,))
        if [x[0] for x in rows] != list(range(1, st["count"] + 1)):
            fail(self.name, f"chat_items({tid}) seqs {[x[0] for x in rows][:5]}..., expected 1..{st['count']}")

    def op_stream(self, conn, tid, st):
        self.n += 1
        mid = f"{tid}-s{self.n}"
        r = self.q(conn, "SELECT id, seq FROM chat_stream_start(%s, message_id => %s, model => 'm')", (tid, mid))[0]
        if r[1] != st["count"] + 1:
            fail(self.name, f"chat_stream_start in {tid}: seq {r[1]}, expected {st['count'] + 1}")
        conn.execute("SELECT chat_stream_append(%s, %s, %s)", (tid, mid, "Hel"))
        ln = self.q(conn, "SELECT chat_stream_append(%s, %s, %s)", (tid, mid, "lo " + self.tenant))[0][0]
        if ln != 6 + len(self.tenant):
            fail(self.name, f"chat_stream_append length {ln}")
        r = self.q(conn, "SELECT status, content FROM chat_stream_finish(%s, %s, usage => %s::jsonb)",
                   (tid, mid, J({"input_tokens": 5, "output_tokens": 2})))[0]
        if tuple(r) != ("completed", "Hello " + self.tenant):
            fail(self.name, f"chat_stream_finish: got {r}")
        st["count"] += 1
        st["msgs"].append(mid)

    def op_feedback(self, conn, tid, st):
        mid = self.rng.choice(st["msgs"])
        r = self.q(conn, "SELECT thread_id, message_id, user_id FROM chat_set_feedback(%s, %s, %s)",
                   (tid, mid, self.rng.choice([1, -1])))[0]
        if tuple(r) != (tid, mid, self.tenant):
            fail(self.name, f"chat_set_feedback: got {r}")
        st["feedback"].add(mid)

    def op_history(self, conn, tid, st):
        rows = self.q(conn, "SELECT thread_id, seq FROM chat_history(%s)", (tid,))
        if [r[1] for r in rows] != list(range(1, st["count"] + 1)) or any(r[0] != tid for r in rows):
            fail(self.name, f"chat_history({tid}): {len(rows)} rows, expected seqs 1..{st['count']}")
        rows = self.q(conn, "SELECT seq FROM chat_history(%s, max_messages => 3)", (tid,))
        if [r[0] for r in rows] != list(range(max(1, st["count"] - 2), st["count"] + 1)):
            fail(self.name, f"chat_history({tid}, max_messages => 3): {rows}")

    def op_context(self, conn, tid, st):
        ctx = self.q(conn, "SELECT chat_context(%s, max_tokens => 4000)", (tid,))[0][0]
        text = json.dumps(ctx)
        if not isinstance(ctx, list) or not ctx:
            fail(self.name, f"chat_context({tid}): {text[:80]}")
        elif any(t in text for t in TENANTS if t != self.tenant):
            fail(self.name, f"chat_context({tid}) holds another tenant's text: {text[:200]}")

    def op_list(self, conn):
        for q, p in (("SELECT id, user_id FROM chat_list_threads(NULL, 200)", None),
                     ("SELECT id, user_id FROM chat_list_threads(%s, 50)", (self.tenant,)),
                     ("SELECT id, user_id FROM chat_threads", None)):
            rows = self.q(conn, q, p)
            # (in the leak database a session client's thread may be owned by any tenant)
            bad = [r for r in rows if r[1] != self.tenant
                   or (self.db == MAIN_DB and not r[0].startswith(self.tenant + "-"))]
            if bad:
                fail(self.name, f"{q}: {len(bad)} rows of another tenant, e.g. {bad[0]}")
            if p is None and q.endswith("200)"):
                mine = {r[0] for r in rows}
                missing = [t for t in self.threads if t not in mine]
                if len(rows) < 200 and missing:
                    fail(self.name, f"chat_list_threads misses own threads {missing[:3]}")

    def op_kv(self, conn):
        v = {"tenant": self.tenant, "client": self.cid, "n": self.n}
        conn.execute("SELECT chat_kv_set('profile', %s::jsonb)", (J(v),))
        key = f"c{self.cid}:k{self.n % 4}"
        conn.execute("SELECT chat_kv_set(%s, %s::jsonb)", (key, J(v)))
        self.kv[key] = v
        got = self.q(conn, "SELECT chat_kv_get('profile')")[0][0]
        if not got or got.get("tenant") != self.tenant:
            fail(self.name, f"chat_kv_get('profile') = {got}")
        got = self.q(conn, "SELECT chat_kv_get(%s)", (key,))[0][0]
        if got != v:
            fail(self.name, f"chat_kv_get({key!r}) = {got}, expected {v}")
        rows = self.q(conn, "SELECT key, value FROM chat_kv_list('', NULL)")
        bad = [r for r in rows if r[1].get("tenant") != self.tenant]
        if bad:
            fail(self.name, f"chat_kv_list: {len(bad)} keys of another tenant, e.g. {bad[0]}")

    def op_tables(self, conn):
        like = self.tenant + "-%" if self.db == MAIN_DB else "%"
        for q, p in (("SELECT count(*) FROM chat_messages WHERE thread_id NOT LIKE %s", (like,)),
                     ("SELECT count(*) FROM chat_messages m WHERE NOT EXISTS (SELECT FROM chat_threads t "
                      "WHERE t.id = m.thread_id AND t.user_id = %s)", (self.tenant,)),
                     ("SELECT count(*) FROM chat_feedback WHERE user_id <> %s OR thread_id NOT LIKE %s",
                      (self.tenant, like)),
                     ("SELECT count(*) FROM chat_kv WHERE tenant <> %s", (self.tenant,))):
            n = self.q(conn, q, p)[0][0]
            if n:
                fail(self.name, f"{q} {p}: {n} rows of another tenant")

    def op_probe(self, conn):
        """Another tenant's committed thread: invisible, and a write into it is 42501."""
        others = [t for t in TENANTS if t != self.tenant and committed_threads[t]]
        if self.db != MAIN_DB:
            return
        if not others:
            return
        with lock:
            tid = self.rng.choice(committed_threads[self.rng.choice(others)])
        if self.q(conn, "SELECT count(*) FROM chat_history(%s)", (tid,))[0][0]:
            fail(self.name, f"chat_history({tid}) of another tenant returns rows")
        if self.q(conn, "SELECT count(*) FROM chat_get_thread(%s)", (tid,))[0][0]:
            fail(self.name, f"chat_get_thread({tid}) of another tenant returns a row")
        try:
            with conn.transaction():   # a savepoint
                conn.execute("SELECT chat_save_messages(%s, %s::jsonb)",
                             (tid, J([{"id": f"probe-{self.cid}-{self.n}", "role": "user", "content": "x"}])))
            fail(self.name, f"chat_save_messages into {tid} of another tenant succeeded")
        except psycopg.Error as e:
            self.error(e, expected=e.sqlstate == "42501")

    def error(self, e, expected):
        with lock:
            errors[(self.kind, e.sqlstate, expected)] += 1
        if not expected:
            fail(self.name, f"error {e.sqlstate}: {str(e).splitlines()[0]}")

    # ---- transactions --------------------------------------------------
    def txn_local(self, conn):
        """One transaction of the recommended pattern."""
        created = None
        with conn.transaction():
            if self.db == MAIN_DB:
                self.check_clean_start(conn)
            else:
                got = self.q(conn, "SELECT current_setting('chatstore.tenant', true)")[0][0]
                with lock:
                    hazard["SET LOCAL clients there: transactions"] += 1
                    hazard["SET LOCAL clients there: started with another tenant's setting"] += \
                        got not in (None, "", self.tenant)
            self.set_tenant(conn)
            if not self.threads or self.rng.random() < 0.15:
                created = self.op_save_new(conn)
                self.threads[created[1]] = created[2]
            tid = self.own_thread()
            st = self.threads[tid]
            ops = self.rng.sample(["resend", "add", "items", "stream", "feedback", "history",
                                   "context", "list", "kv", "tables"], 4)
            if self.rng.random() < 0.05:
                ops.append("probe")
            for op in ops:
                if op in ("list", "kv", "tables", "probe"):
                    getattr(self, "op_" + op)(conn)
                else:
                    getattr(self, "op_" + op)(conn, tid, st)
            self.op_history(conn, tid, st)
        if created and self.db == MAIN_DB:
            with lock:
                committed_threads[self.tenant].append(created[1])

    def txn_forgotten(self, conn):
        """No tenant set: reads see nothing, the write is refused with 42501."""
        tid = self.own_thread()
        self.forgotten += 1   # each kind of write in turn
        write = WRITES[(self.cid * 7 + self.forgotten) % len(WRITES)]
        try:
            with conn.transaction():
                self.check_clean_start(conn)
                for q, p in (("SELECT count(*) FROM chat_list_threads(NULL, 100)", None),
                             ("SELECT count(*) FROM chat_threads", None),
                             ("SELECT count(*) FROM chat_messages", None),
                             ("SELECT count(*) FROM chat_kv", None),
                             ("SELECT count(*) FROM chat_feedback", None),
                             ("SELECT count(*) FROM chat_history(%s)", (tid,)),
                             ("SELECT count(*) FROM chat_items(%s)", (tid,)),
                             ("SELECT count(*) FROM chat_get_thread(%s)", (tid,)),
                             ("SELECT count(*) FROM chat_kv_list('')", None),
                             ("SELECT count(*) FROM chat_list_feedback(%s)", (tid,)),
                             ("SELECT jsonb_array_length(chat_context(%s))", (tid,)),
                             ("SELECT (chat_kv_get('profile') IS NOT NULL)::int", None)):
                    n = self.q(conn, q, p)[0][0]
                    if n:
                        fail(self.name, f"no tenant set: {q} with {p} gives {n}")
                self.n += 1
                st = self.threads[tid]
                params = {"tid": tid, "new": f"{self.prefix}forgot{self.n}", "mid": st["msgs"][0],
                          "msgs": J([{"id": f"{tid}-forgot{self.n}", "role": "user", "content": "x"}]),
                          "tenant": self.tenant}
                conn.execute(write, params)
            fail(self.name, f"no tenant set: {write} with {params} succeeded")
        except psycopg.Error as e:
            self.error(e, expected=e.sqlstate == "42501")
            if e.sqlstate == "42501":
                with lock:
                    refused[write.split("(")[0][7:]] += 1

    def txn_session(self, conn):
        """The mistake: the tenant was set once per session, at connect."""
        self.n += 1
        tid = f"{self.tenant}-leak-c{self.cid}-{self.n}"
        try:
            with conn.transaction():
                got = self.q(conn, "SELECT current_setting('chatstore.tenant', true)")[0][0]
                with lock:
                    hazard["session: transactions"] += 1
                    if got != self.tenant:
                        hazard["session: ran with another tenant's setting"] += 1
                rows = self.q(conn, "SELECT id, user_id FROM chat_list_threads(NULL, 200)")
                foreign = [r for r in rows if not r[0].startswith(self.tenant + "-")]
                with lock:
                    hazard["session: threads of other tenants seen"] += len(foreign)
                    hazard["session: reads that saw another tenant's threads"] += bool(foreign)
                conn.execute("SELECT chat_save_messages(%s, %s::jsonb)",
                             (tid, J([{"id": tid + "-m", "role": "user", "content": "x"}])))
                self.threads[tid] = {"count": 1, "msgs": [tid + "-m"], "feedback": set()}
        except psycopg.Error as e:
            # a server connection no session SET has reached yet: no tenant, refused
            self.error(e, expected=e.sqlstate == "42501")
            with lock:
                hazard["session: writes refused (ran with no tenant set)"] += e.sqlstate == "42501"

    def run(self):
        try:
            conn = connect(self.db)
        except psycopg.Error as e:
            fail(self.name, f"connect: {e}")
            return
        if self.kind == "session":
            conn.execute(sql.SQL("SET chatstore.tenant = {}").format(sql.Literal(self.tenant)))
        while time.time() < stop_at:
            try:
                if self.kind == "session":
                    self.txn_session(conn)
                elif self.kind == "forgetful" and self.threads and self.rng.random() < 1 / 3:
                    self.txn_forgotten(conn)
                else:
                    self.txn_local(conn)
                with lock:
                    txns[self.kind] += 1
            except psycopg.Error as e:
                self.error(e, expected=False)
                # the client's model may be ahead of a rolled-back transaction: re-read it
                self.resync(conn)
            except Exception as e:   # a bug in this driver or a broken connection
                fail(self.name, f"{type(e).__name__}: {e}")
                if conn.closed:
                    return
        conn.close()

    def resync(self, conn):
        if conn.closed or self.kind == "session":
            return
        with conn.transaction():
            self.set_tenant(conn)
            for tid in list(self.threads):
                rows = self.q(conn, "SELECT id FROM chat_history(%s)", (tid,))
                if not rows:
                    del self.threads[tid]
                else:
                    self.threads[tid]["count"] = len(rows)
                    self.threads[tid]["msgs"] = [r[0] for r in rows]
                    self.threads[tid]["feedback"] = {r[0] for r in self.q(
                        conn, "SELECT message_id FROM chat_list_feedback(%s)", (tid,))}


# one write per forgotten transaction, each one the documentation says refuses
# a confined role without chatstore.tenant (or has no privilege to write)
WRITES = [
    "SELECT chat_save_messages(%(new)s, %(msgs)s::jsonb)",
    "SELECT chat_save_messages(%(tid)s, %(msgs)s::jsonb)",
    "SELECT chat_save_messages(%(new)s, %(msgs)s::jsonb, %(tenant)s)",
    "SELECT chat_append_messages(%(tid)s, %(msgs)s::jsonb)",
    "SELECT chat_add_message(%(tid)s, 'user', 'x')",
    "SELECT chat_add_message(%(new)s, 'user', 'x')",
    "SELECT chat_create_thread(%(new)s)",
    "SELECT chat_update_thread(%(tid)s, title => 'x')",
    "SELECT chat_delete_thread(%(tid)s)",
    "SELECT chat_fork_thread(%(tid)s, %(new)s)",
    "SELECT chat_archive_thread(%(tid)s)",
    "SELECT chat_stream_start(%(tid)s)",
    "SELECT chat_stream_start(%(new)s)",
    "SELECT chat_set_feedback(%(tid)s, %(mid)s, 1)",
    "SELECT chat_compact(%(tid)s, 1, '\"s\"'::jsonb)",
    "SELECT chat_kv_set('profile', '{}'::jsonb)",
    "SELECT chat_kv_delete('profile')",
    "SELECT chat_kvlist_append('l', '1'::jsonb)",
    "SELECT chat_agent_state_save('a', 's', '{}'::jsonb)",
    "SELECT chat_set_preferences(%(tenant)s, selected_model => 'm')",
]


def owner_checks(clients):
    """As the owner (superuser, no row-level security) on a direct connection."""
    global_threads = {}
    kv = {}
    for c in clients:
        if c.db == MAIN_DB:
            for tid, st in c.threads.items():
                global_threads[tid] = (c.tenant, st)
            for k, v in c.kv.items():
                kv[(c.tenant, k)] = v
    checks = 0
    with psycopg.connect(dbname=MAIN_DB, autocommit=True) as db:
        rows = db.execute("""
            SELECT t.id, t.user_id, t.message_count, t.last_seq,
                   count(m.seq), min(m.seq), max(m.seq), count(DISTINCT m.seq),
                   count(*) FILTER (WHERE m.status = 'in_progress')
            FROM chat_threads t LEFT JOIN chat_messages m ON m.thread_id = t.id
            GROUP BY t.id""").fetchall()
        seen = set()
        for tid, owner, mc, last, n, lo, hi, nd, inprog in rows:
            checks += 1
            seen.add(tid)
            if tid not in global_threads:
                fail("owner", f"thread {tid} (owner {owner}) was written by no client that committed it")
                continue
            tenant, st = global_threads[tid]
            if owner != tenant:
                fail("owner", f"thread {tid}: owner {owner!r}, written by tenant {tenant!r}")
            if not (mc == n == nd == hi == last == st["count"] and lo == 1):
                fail("owner", f"thread {tid}: message_count {mc}, last_seq {last}, rows {n}, seqs {lo}..{hi} "
                              f"({nd} distinct), the client wrote {st['count']}")
            if inprog:
                fail("owner", f"thread {tid}: {inprog} messages still in progress")
        for tid in set(global_threads) - seen:
            fail("owner", f"thread {tid} written by a client is missing")
        for tenant, key, value in db.execute("SELECT tenant, key, value FROM chat_kv").fetchall():
            checks += 1
            if value.get("tenant") != tenant:
                fail("owner", f"chat_kv ({tenant}, {key}) holds {value}")
            if key != "profile" and kv.get((tenant, key)) != value:
                fail("owner", f"chat_kv ({tenant}, {key}) = {value}, last written {kv.get((tenant, key))}")
        missing = [k for k in kv if k[1] != "profile" and
                   not db.execute("SELECT 1 FROM chat_kv WHERE tenant = %s AND key = %s", k).fetchone()]
        if missing:
            fail("owner", f"key-values written but missing: {missing[:3]}")
        fb = db.execute("""SELECT f.thread_id, f.message_id, f.user_id, t.user_id
                           FROM chat_feedback f JOIN chat_threads t ON t.id = f.thread_id""").fetchall()
        want = {(tid, mid) for tid, (_, st) in global_threads.items() for mid in st["feedback"]}
        for tid, mid, rater, owner in fb:
            checks += 1
            if rater != owner or (tid, mid) not in want:
                fail("owner", f"feedback {tid}/{mid} by {rater} (thread owner {owner}) not written so")
        if len(fb) != len(want):
            fail("owner", f"{len(fb)} feedback rows, the clients wrote {len(want)}")
        for table in ("chat_lists", "chat_agent_states", "chat_user_preferences", "chat_summaries"):
            n = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if n:
                fail("owner", f"{table} has {n} rows: a forgotten write went through")
        stats = (len(rows), sum(r[4] for r in rows), len(fb),
                 db.execute("SELECT count(*) FROM chat_kv").fetchone()[0])
        # the pool shared its few server connections among all clients
        for dbname, size in ((MAIN_DB, 5), (LEAK_DB, 2)):
            n = db.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s",
                           (APP_ROLE, dbname)).fetchone()[0]
            print(f"server connections of the application role to {dbname}: {n} (pool_size {size})")
            if not 0 < n <= size:
                fail("owner", f"{n} server connections to {dbname}, pool_size {size}")
    with psycopg.connect(dbname=LEAK_DB, autocommit=True) as db:
        owners = dict(db.execute("SELECT id, user_id FROM chat_threads").fetchall())
        for c in clients:
            if c.db != LEAK_DB:
                continue
            for tid in c.threads:
                checks += 1
                if c.kind == "local" and owners.get(tid) != c.tenant:
                    fail("owner", f"leak pool, SET LOCAL client: thread {tid} owned by {owners.get(tid)!r}")
                if c.kind == "session":
                    hazard["session: threads written"] += 1
                    hazard["session: threads owned by another tenant"] += owners.get(tid) != c.tenant
    return checks, stats


def main():
    global stop_at
    print(f"seed {SEED}, {SECONDS:g} s, tenants {', '.join(TENANTS)}", flush=True)
    clients = []
    for i in range(38):
        clients.append(Client(len(clients), "local", TENANTS[i % 5], MAIN_DB))
    for i in range(5):
        clients.append(Client(len(clients), "forgetful", TENANTS[i], MAIN_DB))
    for i in range(5):
        clients.append(Client(len(clients), "session", TENANTS[i], LEAK_DB))
    for i in range(2):
        clients.append(Client(len(clients), "local", TENANTS[i + 3], LEAK_DB))
    stop_at = time.time() + SECONDS
    threads = [threading.Thread(target=c.run, name=c.name) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 60)
        if t.is_alive():
            fail(t.name, "still running 60 s after the end")
    print(f"{len(clients)} clients; transactions: " +
          ", ".join(f"{k} {v}" for k, v in sorted(txns.items())) + f", total {sum(txns.values())}")
    print("errors by SQLSTATE: " + (", ".join(
        f"{k[1]} ({k[0]}, {'expected' if k[2] else 'UNEXPECTED'}) {v}" for k, v in sorted(errors.items()))
        or "none"))
    checks, stats = owner_checks(clients)
    print(f"owner checks: {checks} rows; main database: {stats[0]} threads, {stats[1]} messages, "
          f"{stats[2]} feedback rows, {stats[3]} key-values")
    print("session SET in transaction mode, in the leak database's pool (the hazard, measured, not asserted):")
    for k, v in sorted(hazard.items()):
        print(f"  {k}: {v}")
    print(f"forgotten tenant: {sum(refused.values())} writes refused with 42501 (" +
          ", ".join(f"{k} {v}" for k, v in sorted(refused.items())) + ")")
    kinds = {w.split("(")[0][7:] for w in WRITES}
    if set(refused) != kinds:
        fail("driver", f"forgotten writes never tried or never refused: {sorted(kinds - set(refused))}")
    if failures:
        print(f"FAILED: {len(failures)} failures")
        return 1
    print("ok: no leak with SET LOCAL, forgotten tenants refused, aggregates exact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
