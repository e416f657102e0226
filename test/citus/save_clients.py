#!/usr/bin/python3
"""8 clients saving at once on a distributed chatstore (scripts/citus.sh).

Phase 1: every client saves into one thread (a shared hot thread); phase 2:
every client saves into threads of its own and into threads shared by pairs
of clients (many threads, all shards).  Each save is one chat_save_messages
call of 1-3 messages with usage, about a third re-sending the client's
previous batch (dedup: nothing new stored).  Afterwards, on the coordinator:

  - every thread's seq is gapless (1..n) and last_seq = n;
  - message_count, prompt/completion/total_tokens and last_message_at of
    every thread equal what its messages add up to;
  - every message a client saved is stored exactly once (ids), and nothing
    else is;
  - the re-sends stored nothing.

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
Exits non-zero on any failure.
"""
import json
import os
import random
import sys
import threading

import psycopg

CLIENTS = int(os.environ.get("CITUS_CLIENTS", "8"))
SAVES = int(os.environ.get("CITUS_SAVES", "40"))
failures = []
lock = threading.Lock()


def fail(msg):
    with lock:
        failures.append(msg)
    print("FAIL:", msg, flush=True)


def client(n, threads, saved, resent_stored):
    rnd = random.Random(1000 + n)
    try:
        with psycopg.connect(autocommit=True) as conn:
            last = {}
            for i in range(SAVES):
                tid = rnd.choice(threads)
                if tid in last and rnd.random() < 0.33:
                    # a chat app re-sending the conversation: nothing new
                    r = conn.execute("SELECT saved_count FROM chat_save_messages(%s, %s::jsonb, 'u')",
                                     (tid, json.dumps(last[tid]))).fetchone()
                    resent_stored[n] += r[0]
                    continue
                batch = []
                for k in range(rnd.randint(1, 3)):
                    mid = f"c{n}-{i}-{k}"
                    msg = {"id": mid, "role": "user" if k % 2 == 0 else "assistant",
                           "content": f"client {n} save {i} message {k}"}
                    if msg["role"] == "assistant":
                        msg["usage"] = {"input_tokens": rnd.randint(1, 50), "output_tokens": rnd.randint(1, 50)}
                    batch.append(msg)
                r = conn.execute("SELECT saved_count, saved_ids FROM chat_save_messages(%s, %s::jsonb, 'u')",
                                 (tid, json.dumps(batch))).fetchone()
                if r[0] != len(batch):
                    fail(f"client {n}: saved {r[0]} of {len(batch)} new messages into {tid}")
                saved[n].extend((tid, m["id"]) for m in batch)
                last[tid] = batch
    except Exception as e:  # noqa: BLE001 - any error is a failure here
        fail(f"client {n}: {type(e).__name__}: {e}")


def run_phase(name, threads_of):
    saved = [[] for _ in range(CLIENTS)]
    resent = [0] * CLIENTS
    ts = [threading.Thread(target=client, args=(n, threads_of(n), saved, resent)) for n in range(CLIENTS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if sum(resent):
        fail(f"{name}: re-sends stored {sum(resent)} messages")
    return [x for s in saved for x in s]


def check(conn, expected):
    bad = conn.execute("""
        WITH m AS (
            SELECT m.thread_id, m.seq, m.usage, m.created_at,
                   row_number() OVER (PARTITION BY m.thread_id ORDER BY m.seq) AS rn
            FROM chat_messages AS m WHERE m.thread_id LIKE 'cc-%'),
        agg AS (
            SELECT m.thread_id, count(*) AS n, max(m.seq) AS max_seq, bool_and(m.seq = m.rn) AS gapless,
                   COALESCE(sum(chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
                   COALESCE(sum(chat_usage_tokens(m.usage, 'completion')), 0) AS c,
                   COALESCE(sum(chat_usage_tokens(m.usage, 'total')), 0) AS tot,
                   max(m.created_at) AS last_at
            FROM m GROUP BY m.thread_id)
        SELECT t.id, t.message_count, t.last_seq, agg.n, agg.max_seq, agg.gapless,
               t.prompt_tokens = agg.p AND t.completion_tokens = agg.c AND t.total_tokens = agg.tot
                 AND t.last_message_at IS NOT DISTINCT FROM agg.last_at AS sums_ok
        FROM chat_threads AS t JOIN agg ON agg.thread_id = t.id
        WHERE t.id LIKE 'cc-%'
          AND NOT (t.message_count = agg.n AND t.last_seq = agg.max_seq AND agg.gapless
                   AND t.prompt_tokens = agg.p AND t.completion_tokens = agg.c AND t.total_tokens = agg.tot
                   AND t.last_message_at IS NOT DISTINCT FROM agg.last_at)""").fetchall()
    for row in bad:
        fail(f"thread {row[0]}: message_count {row[1]}, last_seq {row[2]}, messages {row[3]}, "
             f"max seq {row[4]}, gapless {row[5]}, sums right {row[6]}")
    stored = conn.execute("SELECT thread_id, id FROM chat_messages WHERE thread_id LIKE 'cc-%'").fetchall()
    if sorted(stored) != sorted(expected):
        fail(f"{len(stored)} messages stored, the clients saved {len(expected)} "
             f"(missing {len(set(expected) - set(stored))}, extra {len(set(stored) - set(expected))})")
    n_threads = conn.execute("SELECT count(*) FROM chat_threads WHERE id LIKE 'cc-%'").fetchone()[0]
    return n_threads, len(stored)


def main():
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("SELECT chat_delete_thread(id) FROM chat_threads WHERE id LIKE 'cc-%'")
        dist = conn.execute("""SELECT count(*) FROM pg_dist_partition
                               WHERE logicalrelid IN ('chat_threads'::regclass, 'chat_messages'::regclass)""").fetchone()[0]
        print(f"chat_threads and chat_messages distributed: {dist == 2}", flush=True)
    expected = run_phase("one thread", lambda n: ["cc-hot"])
    print(f"one thread: {CLIENTS} clients, {len(expected)} messages saved", flush=True)
    expected += run_phase("many threads",
                          lambda n: [f"cc-own-{n}-{k}" for k in range(10)] + [f"cc-pair-{n // 2}-{k}" for k in range(5)])
    with psycopg.connect(autocommit=True) as conn:
        n_threads, n_msgs = check(conn, expected)
        print(f"checked {n_threads} threads, {n_msgs} messages: seq gapless, aggregates exact, "
              f"each saved message stored once", flush=True)
    if failures:
        print(f"FAILED: {len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
