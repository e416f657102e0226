#!/usr/bin/python3
"""Size and memory checks for chat_save_messages (see run.sh)."""
import hashlib
import json
import os
import random
import sys
import threading
import time

import psycopg

# the bound the big batch must stay under (private memory of the backend
# above what it used before the call); see README "Guarantees"
PEAK_LIMIT_MB = int(os.environ.get("SIZE_PEAK_LIMIT_MB", "768"))
failures = []


def check(ok, what):
    print(("ok     " if ok else "FAIL   ") + what)
    if not ok:
        failures.append(what)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssShmem"):
                out[k] = int(v.split()[0]) * 1024
    return out


class Sampler(threading.Thread):
    """peak private (anonymous) memory of a process, sampled every 5 ms"""
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                self.peak = max(self.peak, proc_status(self.pid)["RssAnon"])
            except (OSError, KeyError):
                pass
            time.sleep(0.005)


def expect_error(cur, conn, sql, args, sqlstate, needle, what):
    try:
        with conn.transaction():
            cur.execute(sql, args)
        check(False, "%s: expected %s, it succeeded" % (what, sqlstate))
    except psycopg.Error as e:
        msg = e.diag.message_primary or ""
        detail = e.diag.message_detail or ""
        check(e.sqlstate == sqlstate and needle in msg,
              "%s: %s %s (%s)" % (what, e.sqlstate, msg, detail))


def mb(n):
    return "%.1f MB" % (n / 1048576.0)


def main():
    conn = psycopg.connect(autocommit=True)
    cur = conn.cursor()
    # load the module (it defines the settings) and warm the backend up
    # (catalog caches, plans) so the memory baseline is fair
    cur.execute("""SELECT saved_count FROM chat_save_messages('warm', '[{"role": "user", "content": "x"}]')""")
    cur.execute("SELECT pg_backend_pid(), current_setting('chatstore.max_batch_messages'), "
                "current_setting('chatstore.max_message_bytes')")
    pid, max_batch, max_bytes = cur.fetchone()
    print("limits: chatstore.max_batch_messages = %s, chatstore.max_message_bytes = %s" % (max_batch, max_bytes))
    check(max_batch == "100000", "default chatstore.max_batch_messages is 100000")
    check(max_bytes == "32MB", "default chatstore.max_message_bytes is 32MB")


    # ---- a 100,000-message batch --------------------------------------
    rnd = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    batch = [{"id": "big-%d" % i, "role": "user" if i % 2 == 0 else "assistant",
              "content": "message %d %s" % (i, " ".join(rnd.choice(words) for _ in range(12))),
              "usage": {"input_tokens": 3, "output_tokens": 4}}
             for i in range(100000)]
    payload = json.dumps(batch)
    before = proc_status(pid)
    sampler = Sampler(pid)
    sampler.start()
    t0 = time.time()
    cur.execute("SELECT saved_count, skipped_count, first_seq, last_seq FROM chat_save_messages('big', %s::jsonb, 'u')",
                (payload,))
    res = cur.fetchone()
    elapsed = time.time() - t0
    sampler.stop = True
    sampler.join()
    after = proc_status(pid)
    check(res == (100000, 0, 1, 100000), "100,000-message batch saved in one call: %r in %.2f s (input %s of JSON)"
          % (res, elapsed, mb(len(payload))))
    cur.execute("SELECT message_count, last_seq, prompt_tokens, completion_tokens, "
                "(SELECT count(*) FROM chat_messages WHERE thread_id = 'big'), "
                "(SELECT max(seq) - min(seq) + 1 FROM chat_messages WHERE thread_id = 'big') "
                "FROM chat_threads WHERE id = 'big'")
    check(cur.fetchone() == (100000, 100000, 300000, 400000, 100000, 100000),
          "the big thread: 100,000 rows, seq 1..100000, aggregates right")
    peak_growth = sampler.peak - before["RssAnon"]
    print("MEMORY: backend private memory (RssAnon) before %s, peak during the save %s (+%s), after %s; "
          "VmHWM (incl. shared buffers touched) before %s, after %s"
          % (mb(before["RssAnon"]), mb(sampler.peak), mb(peak_growth), mb(after["RssAnon"]),
             mb(before["VmHWM"]), mb(after["VmHWM"])))
    print("MEMORY-BYTES: peak_private_growth=%d peak_private=%d input_json=%d"
          % (peak_growth, sampler.peak, len(payload)))
    check(peak_growth < PEAK_LIMIT_MB * 1048576,
          "peak private memory growth for the 100,000-message batch (%s) is below %d MB" % (mb(peak_growth), PEAK_LIMIT_MB))
    # the memory is given back after the call: what the backend's memory
    # contexts hold afterwards (malloc may keep freed pages in RssAnon)
    cur.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
    held = int(cur.fetchone()[0])
    print("MEMORY: after the call the memory contexts hold %s (RssAnon %s, kept by malloc for reuse)"
          % (mb(held), mb(after["RssAnon"])))
    check(held < 64 * 1048576, "the backend's memory contexts hold less than 64 MB after the call (%s)" % mb(held))
    # re-sending the whole batch skips everything
    cur.execute("SELECT saved_count, skipped_count FROM chat_save_messages('big', %s::jsonb, 'u')", (payload,))
    check(cur.fetchone() == (0, 100000), "re-sending the 100,000 messages skips all of them")
    del batch, payload

    # ---- a 10 MB message with many distinct words ----------------------
    big = " ".join("w%x" % rnd.getrandbits(40) for _ in range(10 * 1024 * 1024 // 10))
    big = big[:10 * 1024 * 1024]
    assert len(big) == 10 * 1024 * 1024
    digest = hashlib.md5(big.encode()).hexdigest()
    t0 = time.time()
    cur.execute("SELECT saved_count, first_seq FROM chat_save_messages('tenmb', %s::jsonb, 'u')",
                (json.dumps([{"id": "huge", "role": "user", "content": big}]),))
    check(cur.fetchone() == (1, 1), "a 10 MB message (%d distinct-ish words) saves, in %.2f s" % (big.count(" ") + 1, time.time() - t0))
    cur.execute("SELECT octet_length(content), md5(content) FROM chat_messages WHERE thread_id = 'tenmb' AND id = 'huge'")
    check(cur.fetchone() == (10 * 1024 * 1024, digest), "it reads back byte for byte (10,485,760 bytes, same md5)")
    cur.execute("SELECT count(*) FROM chat_history('tenmb')")
    check(cur.fetchone()[0] == 1, "chat_history returns it")
    t0 = time.time()
    cur.execute("SELECT seq FROM chat_add_message('tenmb', 'assistant', %s, 'u')", (big,))
    check(cur.fetchone()[0] == 2, "chat_add_message takes a 10 MB content too (%.2f s)" % (time.time() - t0))

    # ---- the limits --------------------------------------------------
    over = json.dumps([{"role": "user", "content": "m"}] * 100001)
    expect_error(cur, conn, "SELECT chat_save_messages('lim1', %s::jsonb)", (over,), "54000",
                 "too many messages", "100,001 messages (default limit)")
    cur.execute("SELECT count(*) FROM chat_threads WHERE id = 'lim1'")
    check(cur.fetchone()[0] == 0, "nothing was written (not even the thread)")
    cur.execute("SET chatstore.max_batch_messages = 10")
    ok10 = json.dumps([{"id": "l%d" % i, "role": "user", "content": "m"} for i in range(10)])
    cur.execute("SELECT saved_count FROM chat_save_messages('lim2', %s::jsonb)", (ok10,))
    check(cur.fetchone()[0] == 10, "a batch at the limit (10) saves")
    expect_error(cur, conn, "SELECT chat_save_messages('lim2', %s::jsonb)",
                 (json.dumps([{"role": "user", "content": "m"}] * 11),), "54000", "too many messages",
                 "11 messages with chatstore.max_batch_messages = 10")
    cur.execute("RESET chatstore.max_batch_messages")

    at32 = "a" * (32 * 1024 * 1024 + 1)
    expect_error(cur, conn, "SELECT chat_save_messages('lim3', %s::jsonb)",
                 (json.dumps([{"role": "user", "content": "ok"}, {"role": "user", "content": at32}]),),
                 "54000", "content of messages[1] is too large", "a 32 MB + 1 byte message (default limit)")
    expect_error(cur, conn, "SELECT chat_add_message('lim3', 'user', %s)", (at32,), "54000",
                 "content is too large", "chat_add_message with 32 MB + 1 byte")
    del at32
    cur.execute("SET chatstore.max_message_bytes = '1MB'")
    cur.execute("SELECT saved_count FROM chat_save_messages('lim4', %s::jsonb)",
                (json.dumps([{"role": "user", "content": "b" * 1048576}]),))
    check(cur.fetchone()[0] == 1, "a message of exactly chatstore.max_message_bytes (1MB) saves")
    expect_error(cur, conn, "SELECT chat_save_messages('lim4', %s::jsonb)",
                 (json.dumps([{"role": "user", "content": "b" * 1048577}]),), "54000", "too large",
                 "1 MB + 1 byte with chatstore.max_message_bytes = 1MB")
    cur.execute("RESET chatstore.max_message_bytes")
    expect_error(cur, conn, "SET chatstore.max_batch_messages = 0", None, "22023", "",
                 "chatstore.max_batch_messages below 1 is refused")

    cur.execute("SELECT pg_backend_pid()")
    check(cur.fetchone()[0] == pid, "the same backend served every call (it never crashed)")
    conn.close()
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
