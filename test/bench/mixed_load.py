#!/usr/bin/python3
"""The long mixed load (issue 16, item 4): many clients calling chatstore the
way chat applications do, at realistic proportions, for minutes; then
throughput and p50 / p99 per operation over time.  test/bench/mixed_load.sh
prepares the database and the pg_cron jobs, calls this script, and checks the
database afterwards (doc/performance.md "A long mixed load").

  mixed_load.py run    --db DB --clients N --seconds S --workdir DIR [...]
  mixed_load.py report --workdir DIR --csv FILE --summary FILE [--plot FILE]

Connection from the PG* environment (PGHOST, PGPORT, PGUSER).  Python 3 with
Debian's psycopg 3; the plot needs matplotlib (python3-matplotlib).

run: --clients clients, each its own connection (autocommit, READ COMMITTED),
spread over --procs processes of threads (the GIL would serialize one
process), loop without think time for --seconds.  Each client is one user's
browser tab at a time: it picks a user, lists their threads, opens one (or
starts a new one) and works in it; every next step is drawn at random with
the weights of OPS below.  The client holds the conversation it opened (ids,
roles, contents, tool calls), adds what it saves, and re-sends it whole.
Every call is timed in the client (round trip over the unix socket, rows
fetched; jsonb results are cast to text and not parsed) and recorded with its
start time and outcome (ok, or its SQLSTATE).  When --cron-jobs names pg_cron
jobs, the run goes on after --seconds until each of them has finished
--min-cron-runs runs that started during the load (at most --max-extra
seconds more), so that a short run still overlaps a run of every job
(pg_cron 1.4 schedules by the minute).  A monitor samples pg_stat_activity
every second (backends active, waiting for a lock, for an LWLock, for I/O;
autovacuum workers; pg_cron jobs running).  Writes DIR/ops-<k>.pickle,
DIR/monitor.csv and DIR/run.json (times, pg_cron runs, CPU used by the client
processes, the machine's CPU use and load).

report: per window of --window seconds (default 10) and operation: count,
throughput, p50, p99, max, errors -> --csv; the whole run per operation (a
Markdown table) and the errors by SQLSTATE -> --summary and stdout; the plot
-> --plot (skipped with a message when matplotlib is missing).  Exits 1 when
a client got an error that is not documented for that call in that situation
(ALLOWED below; a deadlock, 40P01, is never allowed) or when a client process
failed.
"""
import argparse
import array
import bisect
import csv
import json
import math
import multiprocessing as mp
import os
import pickle
import random
import sys
import threading
import time
import uuid

# ---------------------------------------------------------------------------
# the operations and their weights (per 100 steps); doc/performance.md gives
# the reasons.  "open" is not drawn: it follows list_threads when the client
# opens an existing thread (85 %; otherwise it starts a new one).
# ---------------------------------------------------------------------------
OPS = [
    # name            weight  what it calls
    ("history",        35),   # chat_history(thread, max_messages => 50): the page shows the latest messages
    ("context",        22),   # chat_context(thread, max_tokens => 4000): before each model call
    ("save",           14),   # chat_save_messages: the new turn (user + assistant with usage), ids
    ("resend",          6),   # chat_save_messages: the whole conversation held + the new turn (dedup)
    ("regenerate",      2),   # chat_regenerate_message of the last assistant reply
    ("list_threads",   13),   # chat_list_threads(user, 20): the sidebar; then open or new thread
    ("search",          3),   # chat_search(1-2 words, user_id => user)
    ("fork",            2),   # chat_fork_thread(thread, user_id => user); the client goes on in the fork
    ("delete_message",  2),   # chat_delete_message(thread, a held message, user)
    ("delete_thread",   1),   # chat_delete_thread(thread, user)
]
OP_NAMES = [name for name, _ in OPS] + ["open"]   # open: chat_history(thread), the whole conversation
OP_CODE = {name: k for k, name in enumerate(OP_NAMES)}
NEW_THREAD_SHARE = 0.15
SLOW_MS = 2000          # calls slower than this are listed with their arguments

# The errors a call may get in this load, by doc/limits-errors-settings.md
# (SQLSTATEs): another client, retention or chat_delete_user_data can delete
# the thread (or the message) the client holds.
#   CS002  a save into a deleted thread (its tombstone is kept)
#   P0002  fork, regenerate, delete_message: the thread or message is gone
# Anything else fails the run: READ COMMITTED, so no 40001; every
# transaction locks at most one thread, so no 40P01.
ALLOWED = {
    "save": {"CS002"},
    "resend": {"CS002"},
    "regenerate": {"P0002"},
    "fork": {"P0002"},
    "delete_message": {"P0002"},
}

SQL = {
    "history": "SELECT id, role, content FROM chat_history(%s, max_messages => 50)",
    "open": ("SELECT id, role, jsonb_strip_nulls(jsonb_build_object("
             "'id', id, 'role', role, 'content', content, "
             "'tool_calls', tool_calls, 'tool_call_id', tool_call_id))::text "
             "FROM chat_history(%s)"),
    "context": "SELECT chat_context(%s, max_tokens => 4000)::text",
    "save": "SELECT saved_count FROM chat_save_messages(%s, %s::jsonb, %s)",
    "regenerate": "SELECT id FROM chat_regenerate_message(%s, %s, %s::jsonb, %s)",
    "list_threads": "SELECT id FROM chat_list_threads(%s, 20)",
    "search": "SELECT thread_id, message_id, snippet FROM chat_search(%s, user_id => %s)",
    "fork": "SELECT chat_fork_thread(%s, user_id => %s)",
    "delete_message": "SELECT chat_delete_message(%s, %s, %s)",
    "delete_thread": "SELECT chat_delete_thread(%s, %s)",
}

SYSTEM_PROMPT = ("You are a helpful assistant. Answer briefly and precisely; "
                 "ask a question when the request is ambiguous.")


class Words:
    """Text from the vocabulary the loader used (bench.vocab), the same
    Zipf-like draw: word k with probability about 1 / (k ln V)."""

    def __init__(self, vocab, rng):
        self.v = vocab
        self.ln = math.log(len(vocab) + 1)
        self.rng = rng
        # search words: the same draw over the words after the 200 most
        # common ones (what people search for is rarely "the")
        self.lo = math.log(min(200, len(vocab) - 1) + 1)

    def text(self, n):
        r, v, ln, top = self.rng.random, self.v, self.ln, len(self.v)
        return " ".join(v[min(int(math.exp(r() * ln)), top) - 1] for _ in range(n))

    def query(self):
        r, v = self.rng.random, self.v
        n = 2 if r() < 0.6 else 1
        return " ".join(v[min(int(math.exp(self.lo + r() * (self.ln - self.lo))), len(v)) - 1]
                        for _ in range(n))


class Client:
    """One connection, one user's tab at a time."""

    def __init__(self, conn, rng, words, users, stop, t_start, rec):
        self.conn, self.rng, self.words, self.users = conn, rng, words, users
        self.stop, self.t_start, self.rec = stop, t_start, rec
        self.cur = conn.cursor()
        self.user = None
        self.thread = None
        self.stored = False     # the thread exists (opened, or saved into by this client)
        self.held = []          # (id, role, message JSON text) of the conversation held
        self.ops = [name for name, _ in OPS]
        self.cum = []
        total = 0
        for _, w in OPS:
            total += w
            self.cum.append(total)

    # -- the record of one call ------------------------------------------------
    def call(self, op, sql, args, fetch):
        t0 = time.time()
        p0 = time.perf_counter()
        code = "ok"
        rows = None
        try:
            self.cur.execute(sql, args)
            rows = self.cur.fetchall() if fetch else None
        except Exception as e:     # noqa: BLE001: every error is recorded
            code = getattr(e, "sqlstate", None) or ("client:" + type(e).__name__)
            self.rec.error(op, code, str(e).splitlines()[0] if str(e) else type(e).__name__)
            if self.conn.closed:
                raise
        lat = (time.perf_counter() - p0) * 1000.0
        self.rec.add(t0 - self.t_start, OP_CODE[op], lat, code)
        if lat >= SLOW_MS:
            self.rec.slow.append((t0 - self.t_start, op, lat, code, [str(a)[:120] for a in args]))
        return code, rows

    # -- helpers ----------------------------------------------------------------
    def pick_user(self):
        # a few users are much more active than the rest: index ~ U * r^2
        u = self.users
        self.user = "u%d" % (1 + min(int(u * self.rng.random() ** 2), u - 1))

    def turn(self):
        """A new turn: a user message and the assistant's reply with usage
        (and the system prompt when the thread is new)."""
        r = self.rng
        user_text = self.words.text(r.randint(8, 40))
        reply = self.words.text(r.randint(40, 160))
        prompt = 40 + sum(len(h[2]) for h in self.held[-60:]) // 4
        completion = len(reply) // 4
        msgs = []
        if not self.held:
            msgs.append((str(uuid.uuid4()), "system", SYSTEM_PROMPT, None))
        msgs.append((str(uuid.uuid4()), "user", user_text, None))
        usage = ({"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion} if r.random() < 0.7 else
                 {"input_tokens": prompt, "output_tokens": completion})
        msgs.append((str(uuid.uuid4()), "assistant", reply, usage))
        out = []
        for mid, role, content, use in msgs:
            m = {"id": mid, "role": role, "content": content}
            if use is not None:
                m["model"] = "gpt-4o-mini"
                m["usage"] = use
            out.append((mid, role, json.dumps(m)))
        return out

    # -- the operations -------------------------------------------------------
    def op_list_threads(self):
        self.pick_user()
        code, rows = self.call("list_threads", SQL["list_threads"], (self.user,), True)
        self.thread, self.held = None, []
        if code != "ok":
            return
        if not rows or self.rng.random() < NEW_THREAD_SHARE:
            # a new conversation: its first turn (the next step) creates it
            self.thread, self.stored = str(uuid.uuid4()), False
            return
        # mostly one of the most recent
        self.thread = rows[min(int(len(rows) * self.rng.random() ** 2), len(rows) - 1)][0]
        self.stored = True
        code, rows = self.call("open", SQL["open"], (self.thread,), True)
        if code == "ok":
            self.held = [tuple(r) for r in rows]

    def op_history(self):
        self.call("history", SQL["history"], (self.thread,), True)

    def op_context(self):
        self.call("context", SQL["context"], (self.thread,), True)

    def op_save(self, resend):
        new = self.turn()
        batch = (self.held + new) if resend else new
        payload = "[" + ",".join(m[2] for m in batch) + "]"
        code, _ = self.call("resend" if resend else "save", SQL["save"],
                            (self.thread, payload, self.user), True)
        if code == "ok":
            self.held.extend(new)
            self.stored = True
        else:
            self.thread = None

    def op_regenerate(self):
        last = next((h for h in reversed(self.held) if h[1] == "assistant"), None)
        if last is None:
            return self.op_save(False)
        reply = self.words.text(self.rng.randint(40, 160))
        mid = str(uuid.uuid4())
        msg = json.dumps({"id": mid, "role": "assistant", "content": reply, "model": "gpt-4o-mini",
                          "usage": {"prompt_tokens": 300, "completion_tokens": len(reply) // 4}})
        code, _ = self.call("regenerate", SQL["regenerate"], (self.thread, last[0], msg, self.user), True)
        if code == "ok":
            # the new reply replaces the old one on the path the client shows
            k = self.held.index(last)
            self.held = self.held[:k] + [(mid, "assistant", msg)]
        else:
            self.thread = None

    def op_search(self):
        self.call("search", SQL["search"], (self.words.query(), self.user), True)

    def op_fork(self):
        code, rows = self.call("fork", SQL["fork"], (self.thread, self.user), True)
        self.thread = rows[0][0] if code == "ok" else None

    def op_delete_message(self):
        if len(self.held) < 2:
            return self.op_history()
        k = self.rng.randrange(1, len(self.held))
        code, _ = self.call("delete_message", SQL["delete_message"],
                            (self.thread, self.held[k][0], self.user), True)
        if code == "ok":
            del self.held[k]
        else:
            self.thread = None

    def op_delete_thread(self):
        self.call("delete_thread", SQL["delete_thread"], (self.thread, self.user), True)
        self.thread, self.held = None, []

    def step(self):
        if self.thread is None:
            return self.op_list_threads()
        if not self.stored:
            return self.op_save(False)
        op = self.ops[bisect.bisect_right(self.cum, self.rng.random() * self.cum[-1])]
        if op == "resend":
            return self.op_save(True)
        if op == "save":
            return self.op_save(False)
        return getattr(self, "op_" + op)()

    def loop(self):
        while not self.stop.value:
            self.step()


class Recorder:
    """Compact per-thread record of every call."""

    def __init__(self):
        self.t = array.array("d")
        self.op = array.array("B")
        self.lat = array.array("f")
        self.code = array.array("H")
        self.codes = {"ok": 0}
        self.messages = {}      # (op, sqlstate) -> first message
        self.slow = []          # (t, op, ms, outcome, arguments) of calls over SLOW_MS

    def add(self, t, op, lat, code):
        c = self.codes.get(code)
        if c is None:
            c = self.codes[code] = len(self.codes)
        self.t.append(t)
        self.op.append(op)
        self.lat.append(lat)
        self.code.append(c)

    def error(self, op, code, msg):
        self.messages.setdefault((op, code), msg)


def worker(k, n_clients, args, users, vocab, stop, start_at, ready):
    import psycopg
    recs = []
    clients = []
    failures = []
    try:
        for j in range(n_clients):
            conn = psycopg.connect(dbname=args.db, autocommit=True, application_name="mix_client")
            rng = random.Random(args.seed * 1000003 + k * 1009 + j)
            rec = Recorder()
            recs.append(rec)
            clients.append(Client(conn, rng, Words(vocab, rng), users, stop, 0.0, rec))
    except Exception as e:      # noqa: BLE001: reported by the parent
        ready.put("client process %d could not connect: %s" % (k, e))
        sys.exit(1)
    ready.put(None)
    while start_at.value == 0.0:
        time.sleep(0.01)
    for c in clients:
        c.t_start = start_at.value

    def run(c):
        try:
            c.loop()
        except Exception as e:      # noqa: BLE001
            failures.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out = {"codes": {}, "t": array.array("d"), "op": array.array("B"), "lat": array.array("f"),
           "code": array.array("H"), "messages": {}, "failures": failures, "slow": []}
    names = {}
    for rec in recs:
        inv = {v: c for c, v in rec.codes.items()}
        for c in inv.values():
            names.setdefault(c, len(names))
        out["t"].extend(rec.t)
        out["op"].extend(rec.op)
        out["lat"].extend(rec.lat)
        out["code"].extend(array.array("H", (names[inv[x]] for x in rec.code)))
        for key, msg in rec.messages.items():
            out["messages"].setdefault("%s|%s" % key, msg)
        out["slow"].extend(rec.slow)
    out["codes"] = names
    with open(os.path.join(args.workdir, "ops-%d.pickle" % k), "wb") as f:
        pickle.dump(out, f)
    for c in clients:
        c.conn.close()
    sys.exit(1 if failures else 0)


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    steal = v[7] if len(v) > 7 else 0
    return sum(v[:8]), idle, steal


def monitor(args, stop, start_at, samples, waits):
    import psycopg
    conn = psycopg.connect(dbname=args.db, autocommit=True, application_name="mix_monitor")
    q = """SELECT count(*) FILTER (WHERE state = 'active' AND backend_type = 'client backend'),
                  count(*) FILTER (WHERE wait_event_type = 'Lock'),
                  count(*) FILTER (WHERE wait_event_type = 'Lock' AND application_name = 'pg_cron'),
                  count(*) FILTER (WHERE wait_event_type = 'LWLock'),
                  count(*) FILTER (WHERE wait_event_type = 'IO'),
                  count(*) FILTER (WHERE backend_type = 'autovacuum worker'),
                  count(*) FILTER (WHERE application_name = 'pg_cron' AND state = 'active')
           FROM pg_stat_activity WHERE pid <> pg_backend_pid()"""
    qw = """SELECT wait_event_type || ':' || wait_event, count(*) FROM pg_stat_activity
            WHERE state = 'active' AND wait_event IS NOT NULL AND pid <> pg_backend_pid()
              AND backend_type = 'client backend' GROUP BY 1"""
    while not stop.value:
        r = conn.execute(q).fetchone()
        samples.append((time.time() - start_at.value,) + tuple(r))
        for event, n in conn.execute(qw):
            waits[event] = waits.get(event, 0) + n
        time.sleep(1.0)
    conn.close()


def cron_runs(conn, jobs, since):
    return conn.execute(
        """SELECT j.jobname, extract(epoch FROM d.start_time)::float8,
                  extract(epoch FROM d.end_time)::float8, d.status, d.return_message
           FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
           WHERE j.jobname = ANY (%s) AND d.start_time >= to_timestamp(%s)
           ORDER BY d.start_time""", (jobs, since)).fetchall()


def cmd_run(args):
    import psycopg
    os.makedirs(args.workdir, exist_ok=True)
    with psycopg.connect(dbname=args.db, autocommit=True) as conn:
        vocab = [r[0] for r in conn.execute("SELECT w FROM bench.vocab ORDER BY k")]
        users, messages = conn.execute("SELECT users, messages FROM bench.info").fetchone()
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'chatstore'").fetchone()[0]
    jobs = [j for j in args.cron_jobs.split(",") if j] if args.cron_jobs else []
    procs = max(1, min(args.procs, args.clients))
    per = [args.clients // procs + (1 if k < args.clients % procs else 0) for k in range(procs)]
    stop = mp.Value("b", 0, lock=False)
    start_at = mp.Value("d", 0.0, lock=False)
    ready = mp.Queue()
    ps = [mp.Process(target=worker, args=(k, n, args, users, vocab, stop, start_at, ready))
          for k, n in enumerate(per)]
    for p in ps:
        p.start()
    problems = [m for m in (ready.get(timeout=300) for _ in ps) if m is not None]
    if problems:
        stop.value = 1
        start_at.value = time.time()
        for p in ps:
            p.join()
        print("\n".join(problems), file=sys.stderr)
        return 1
    cpu0 = cpu_times()
    load0 = open("/proc/loadavg").read().split()[:3]
    t0 = time.time()
    start_at.value = t0
    samples = []
    waits = {}
    mon = threading.Thread(target=monitor, args=(args, stop, start_at, samples, waits))
    mon.start()
    cron = psycopg.connect(dbname="postgres", autocommit=True) if jobs else None
    deadline = t0 + args.seconds
    extended = False
    while True:
        time.sleep(0.5)
        if any(not p.is_alive() and p.exitcode != 0 for p in ps):
            break
        now = time.time()
        if now < deadline:
            continue
        if not jobs:
            break
        done = {}
        for name, _, end, status, _ in cron_runs(cron, jobs, t0):
            if status in ("succeeded", "failed"):
                done[name] = done.get(name, 0) + 1
        if all(done.get(j, 0) >= args.min_cron_runs for j in jobs) or now > deadline + args.max_extra:
            break
        extended = True
    stop.value = 1
    t1 = time.time()
    for p in ps:
        p.join()
    mon.join()
    cpu1 = cpu_times()
    load1 = open("/proc/loadavg").read().split()[:3]
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = []
    if cron is not None:
        # let the jobs that were running finish (at most a minute)
        for _ in range(120):
            if not any(r[3] in ("running", "starting") for r in cron_runs(cron, jobs, t0)):
                break
            time.sleep(0.5)
        runs = [dict(job=r[0], start=r[1] - t0, end=(r[2] - t0) if r[2] else None, status=r[3],
                     message=r[4]) for r in cron_runs(cron, jobs, t0)]
        cron.close()
    total, idle, steal = (b - a for a, b in zip(cpu0, cpu1))
    info = {
        "chatstore": version, "messages": messages, "users": users,
        "clients": args.clients, "procs": procs, "seconds_asked": args.seconds,
        "start": t0, "duration": t1 - t0, "extended_for_cron": extended,
        "cron_jobs": jobs, "cron_runs": runs,
        "client_cpu_s": ru.ru_utime + ru.ru_stime,
        "machine_cpu_busy_pct": 100.0 * (total - idle) / total if total else None,
        "machine_cpu_steal_pct": 100.0 * steal / total if total else None,
        "cores": os.cpu_count(), "loadavg_start": load0, "loadavg_end": load1,
        "worker_exitcodes": [p.exitcode for p in ps],
        "wait_events": waits,
    }
    with open(os.path.join(args.workdir, "run.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(args.workdir, "monitor.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "active", "lock_wait", "lock_wait_cron", "lwlock_wait", "io_wait",
                    "autovacuum", "cron_active"])
        w.writerows(samples)
    print("ran %.1f s (%s), %d clients in %d processes; client CPU %.0f s; machine CPU busy %.0f %%"
          % (t1 - t0, "extended until the pg_cron jobs had run" if extended else "as asked",
             args.clients, procs, info["client_cpu_s"], info["machine_cpu_busy_pct"] or 0))
    return 1 if any(p.exitcode != 0 for p in ps) else 0


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def pct(sorted_vals, p):
    """nearest-rank percentile of a sorted list"""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def load_ops(workdir):
    ops = []          # (t, op name, latency ms, code)
    messages = {}
    failures = []
    slow = []
    for name in sorted(os.listdir(workdir)):
        if not (name.startswith("ops-") and name.endswith(".pickle")):
            continue
        with open(os.path.join(workdir, name), "rb") as f:
            d = pickle.load(f)
        inv = {v: c for c, v in d["codes"].items()}
        ops.extend(zip(d["t"], (OP_NAMES[o] for o in d["op"]), d["lat"], (inv[c] for c in d["code"])))
        messages.update(d["messages"])
        failures.extend(d["failures"])
        slow.extend(d["slow"])
    return ops, messages, failures, sorted(slow, key=lambda x: -x[2])


def cmd_report(args):
    with open(os.path.join(args.workdir, "run.json")) as f:
        info = json.load(f)
    ops, messages, failures, slow = load_ops(args.workdir)
    dur = info["duration"]
    win = args.window
    nwin = int(dur // win)            # whole windows only
    by_win = {}
    by_op = {}
    errors = {}
    for t, op, lat, code in ops:
        by_op.setdefault(op, []).append(lat)
        if code != "ok":
            errors[(op, code)] = errors.get((op, code), 0) + 1
        w = int(t // win)
        if 0 <= w < nwin:
            cell = by_win.setdefault((w, op), [[], 0])
            cell[0].append(lat)
            if code != "ok":
                cell[1] += 1
    names = [n for n in OP_NAMES if n in by_op]

    # windows CSV
    rows = []
    for w in range(nwin):
        for op in names:
            lats, nerr = by_win.get((w, op), [[], 0])
            lats.sort()
            rows.append([w * win, op, len(lats), nerr, round(len(lats) / win, 2),
                         round(pct(lats, 50), 3) if lats else "", round(pct(lats, 99), 3) if lats else "",
                         round(lats[-1], 3) if lats else ""])
    with open(args.csv, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["window_start_s", "op", "calls", "errors", "calls_per_s", "p50_ms", "p99_ms", "max_ms"])
        wr.writerows(rows)

    # the whole run
    lines = []
    total = sum(len(v) for v in by_op.values())
    lines.append("| operation | share | calls | calls/s | p50 ms | p99 ms | max ms | errors |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for op in names:
        lats = sorted(by_op[op])
        errs = ", ".join("%s %d" % (c, n) for (o, c), n in sorted(errors.items()) if o == op) or "0"
        lines.append("| %s | %.1f %% | %d | %.1f | %.2f | %.2f | %.0f | %s |"
                     % (op, 100.0 * len(lats) / total, len(lats), len(lats) / dur,
                        pct(lats, 50), pct(lats, 99), lats[-1], errs))
    all_lats = sorted(lat for v in by_op.values() for lat in v)
    lines.append("| **all** | 100 %% | %d | %.1f | %.2f | %.2f | %.0f | %d |"
                 % (total, total / dur, pct(all_lats, 50), pct(all_lats, 99), all_lats[-1],
                    sum(errors.values())))
    # throughput per minute (steadiness)
    per_min = {}
    for t, _, _, _ in ops:
        if 0 <= t < dur:
            per_min[int(t // 60)] = per_min.get(int(t // 60), 0) + 1
    full_mins = [per_min.get(m, 0) / 60.0 for m in range(int(dur // 60))]

    bad = []
    for (op, code), n in sorted(errors.items()):
        ok = code in ALLOWED.get(op, set())
        if not ok:
            bad.append((op, code, n))
    head = [
        "mixed load, chatstore %s, %s messages preloaded (%d users): %d clients, %.0f s (%s), %d calls, %.1f calls/s"
        % (info["chatstore"], "{:,}".format(info["messages"]), info["users"], info["clients"], dur,
           "extended until every pg_cron job had run" if info["extended_for_cron"] else "as asked",
           total, total / dur),
        "client processes used %.0f CPU s (%.2f of %d cores); the machine's CPU was %.0f %% busy"
        " (steal %.1f %%), load average %s -> %s"
        % (info["client_cpu_s"], info["client_cpu_s"] / dur, info["cores"],
           info["machine_cpu_busy_pct"] or 0, info["machine_cpu_steal_pct"] or 0,
           "/".join(info["loadavg_start"]), "/".join(info["loadavg_end"])),
    ]
    if full_mins:
        head.append("calls/s per whole minute: " + ", ".join("%.0f" % x for x in full_mins))
    mon = read_monitor(args.workdir)
    if mon:
        head.append("pg_stat_activity each second: active client backends p50 %d, max %d; waiting for a "
                    "lock: mean %.2f, max %d (pg_cron jobs: max %d); LWLock max %d; I/O max %d; "
                    "autovacuum workers max %d"
                    % (sorted(m[1] for m in mon)[len(mon) // 2], max(m[1] for m in mon),
                       sum(m[2] for m in mon) / len(mon), max(m[2] for m in mon),
                       max(m[3] for m in mon), max(m[4] for m in mon), max(m[5] for m in mon),
                       max(m[6] for m in mon)))
    if info.get("wait_events"):
        n = len(mon) or 1
        head.append("what active client backends waited for (mean backends per 1 s sample): "
                    + ", ".join("%s %.2f" % (e, c / n) for e, c in
                                sorted(info["wait_events"].items(), key=lambda x: -x[1])[:8]))
    runs = info["cron_runs"]
    if info["cron_jobs"]:
        for job in info["cron_jobs"]:
            rs = [r for r in runs if r["job"] == job]
            durs = [r["end"] - r["start"] for r in rs if r["end"] is not None]
            head.append("pg_cron %s: %d runs (%s), longest %.2f s"
                        % (job, len(rs), ", ".join("%s %d" % (s, sum(1 for r in rs if r["status"] == s))
                                                  for s in sorted({r["status"] for r in rs})) or "none",
                           max(durs) if durs else 0))
    err_lines = ["client errors by operation and SQLSTATE (allowed: documented for that call here):"]
    for (op, code), n in sorted(errors.items()):
        err_lines.append("  %s %s: %d%s  e.g. %s" % (op, code, n, "" if code in ALLOWED.get(op, set())
                                                     else "  NOT ALLOWED", messages.get("%s|%s" % (op, code), "")))
    if not errors:
        err_lines.append("  none")
    by_slow = {}
    for x in slow:
        by_slow[x[1]] = by_slow.get(x[1], 0) + 1
    err_lines.append("calls over %d ms: %s" % (SLOW_MS, ", ".join("%s %d" % kv for kv in sorted(by_slow.items()))
                                                 or "none"))
    for t, op, ms, code, a in slow[:15]:
        err_lines.append("  %.0f ms at %.0f s: %s(%s) %s" % (ms, t, op, ", ".join(a), code))
    text = "\n".join(head + [""] + lines + [""] + err_lines) + "\n"
    with open(args.summary, "w") as f:
        f.write(text)
    print(text)

    if args.plot:
        plot(args.plot, info, rows, names, mon, win)

    rc = 0
    if bad:
        print("FAIL - clients got errors that are not documented for the call: "
              + ", ".join("%s %s x%d" % b for b in bad))
        rc = 1
    else:
        print("ok - every client error is documented for its call (%d in all)" % sum(errors.values()))
    if failures or any(c != 0 for c in info["worker_exitcodes"]):
        print("FAIL - client processes failed: %s %s" % (info["worker_exitcodes"], failures[:5]))
        rc = 1
    return rc


def read_monitor(workdir):
    path = os.path.join(workdir, "monitor.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        r = csv.reader(f)
        next(r)
        return [tuple(float(x) if k == 0 else int(x) for k, x in enumerate(row)) for row in r]


def plot(path, info, rows, names, mon, win):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot skipped: matplotlib is missing (apt-get install python3-matplotlib)")
        return
    from matplotlib.ticker import FuncFormatter
    colors = list(plt.get_cmap("tab10").colors) + ["black"]
    fig, ax = plt.subplots(4, 1, figsize=(12, 15), sharex=True,
                           gridspec_kw={"height_ratios": [3, 3, 3, 1.6]})
    series = {}
    for w0, op, calls, _, cps, p50, p99, _ in rows:
        s = series.setdefault(op, ([], [], [], []))
        mid = (w0 + win / 2) / 60.0
        s[0].append(mid)
        s[1].append(cps)
        s[2].append(p50 if p50 != "" else float("nan"))
        s[3].append(p99 if p99 != "" else float("nan"))
    for k, op in enumerate(names):
        if op not in series:
            continue
        x, cps, p50, p99 = series[op]
        c = colors[k % len(colors)]
        ax[0].plot(x, cps, color=c, label=op, lw=1.4)
        ax[1].plot(x, p50, color=c, label=op, lw=1.4)
        ax[2].plot(x, p99, color=c, label=op, lw=1.4)
    ax[0].set_yscale("log")
    ax[0].set_ylabel("calls/s (log)")
    ax[0].set_title("chatstore %s mixed load: %d clients, %s, %s messages preloaded, pg_cron jobs every minute"
                    % (info["chatstore"], info["clients"],
                       "%.1f min" % (info["duration"] / 60.0) if info["duration"] >= 120 else "%.0f s" % info["duration"],
                       "{:,}".format(info["messages"])))
    ax[1].set_yscale("log")
    ax[1].set_ylabel("p50 latency, ms (log)")
    ax[2].set_yscale("log")
    ax[2].set_ylabel("p99 latency, ms (log)")
    for a in ax[:3]:
        a.grid(True, which="both", alpha=0.3)
        a.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
        a.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax[0].legend(ncol=4, fontsize=8, loc="lower left")
    if mon:
        t = [m[0] / 60.0 for m in mon]
        ax[3].plot(t, [m[2] for m in mon], color="tab:red", lw=0.8, label="waiting for a lock")
        ax[3].plot(t, [m[1] for m in mon], color="tab:gray", lw=0.8, label="active client backends")
        ax[3].plot(t, [m[7] for m in mon], color="tab:purple", lw=0.8, label="pg_cron jobs running")
    # the pg_cron runs, as spans on every panel
    for r in info.get("cron_runs", []):
        if r["end"] is None:
            continue
        for a in ax:
            a.axvspan(r["start"] / 60.0, max(r["end"], r["start"] + 0.5) / 60.0,
                      color="tab:purple", alpha=0.08, lw=0)
    ax[3].set_ylabel("backends (1 s samples)")
    ax[3].set_xlabel("minutes since the start (shaded: pg_cron jobs running)")
    ax[3].legend(ncol=3, fontsize=8, loc="upper left")
    ax[3].grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    try:    # a 64-colour palette: a quarter of the bytes, the same picture
        from PIL import Image
        Image.open(path).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT) \
            .save(path, optimize=True)
    except ImportError:
        pass
    print("plot: %s" % path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--db", required=True)
    r.add_argument("--clients", type=int, default=64)
    r.add_argument("--seconds", type=float, default=600)
    r.add_argument("--procs", type=int, default=4)
    r.add_argument("--workdir", required=True)
    r.add_argument("--seed", type=int, default=16)
    r.add_argument("--cron-jobs", default="")
    r.add_argument("--min-cron-runs", type=int, default=1)
    r.add_argument("--max-extra", type=float, default=90)
    p = sub.add_parser("report")
    p.add_argument("--workdir", required=True)
    p.add_argument("--window", type=float, default=10)
    p.add_argument("--csv", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--plot")
    args = ap.parse_args()
    if args.cmd == "run":
        return cmd_run(args)
    return cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
