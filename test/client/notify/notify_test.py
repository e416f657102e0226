"""chatstore.notify: one NOTIFY per saving call, none for a call that only
skipped, none while the setting is off; payload {"thread_id", "first_seq",
"last_seq", "saved_count"}.  Connection from the PG* environment."""
import json
import signal
import sys

import psycopg

CHANNEL = "chatstore_messages"
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if cond:
        print(f"ok {checks} - {what}")
    else:
        failures += 1
        print(f"not ok {checks} - {what}")


def on_timeout(signum, frame):
    print("timed out waiting for a notification", file=sys.stderr)
    sys.exit(1)


signal.signal(signal.SIGALRM, on_timeout)

listener = psycopg.connect(autocommit=True)
saver = psycopg.connect(autocommit=True)
listener.execute(f"LISTEN {CHANNEL}")
saver_pid = saver.info.backend_pid


def received():
    """Notifications up to a marker the saver sends after the action."""
    saver.execute(f"NOTIFY {CHANNEL}, 'marker'")
    got = []
    signal.alarm(20)
    gen = listener.notifies()
    for n in gen:
        if n.payload == "marker":
            break
        got.append(n)
    gen.close()
    signal.alarm(0)
    return got


def save(thread_id, messages, **kw):
    row = saver.execute(
        "SELECT saved_count, skipped_count, first_seq, last_seq "
        "FROM chat_save_messages(%s, %s::jsonb, %s, %s)",
        (thread_id, json.dumps(messages), kw.get("user_id"), kw.get("saved_ids")),
    ).fetchone()
    return row


def msgs(*ids):
    return [{"id": i, "role": "user", "content": f"message {i}"} for i in ids]


# off by default
save("n-t1", msgs("a", "b"))
got = received()
check(got == [], "no notification while chatstore.notify is off")

saver.execute("SET chatstore.notify = on")

# one notification per saving call, with the call's seqs
r = save("n-t1", msgs("c", "d", "e"))
got = received()
check(len(got) == 1, "one notification for a call saving three messages")
if got:
    p = json.loads(got[0].payload)
    check(got[0].channel == CHANNEL, "on channel chatstore_messages")
    check(got[0].pid == saver_pid, "sent by the saving session")
    check(p == {"thread_id": "n-t1", "first_seq": 3, "last_seq": 5, "saved_count": 3},
          f"payload has thread id, first/last seq and count: {p}")
    check((p["saved_count"], p["first_seq"], p["last_seq"]) == (r[0], r[2], r[3]),
          "payload equals the call's result")

# a call that only skips: none
r = save("n-t1", msgs("a", "c"))
r2 = save("n-t1", msgs("zz"), saved_ids=["zz"])
got = received()
check(r[0] == 0 and r2[0] == 0 and got == [], "no notification for calls that only skipped")

# partly skipped: one, with the inserted part
save("n-t1", msgs("e", "f"))
got = received()
check([json.loads(n.payload) for n in got] ==
      [{"thread_id": "n-t1", "first_seq": 6, "last_seq": 6, "saved_count": 1}],
      "a partly skipped call notifies its inserted messages only")

# many calls, several threads: exactly one each, in order, matching results
expected = []
for i in range(30):
    tid = f"n-many-{i % 3}"
    ids = [f"m{i}-{k}" for k in range(1 + i % 4)]
    if i % 5 == 0:
        ids = []  # an empty batch saves nothing
    r = save(tid, msgs(*ids))
    if r[0] > 0:
        expected.append({"thread_id": tid, "first_seq": r[2], "last_seq": r[3], "saved_count": r[0]})
got = [json.loads(n.payload) for n in received()]
check(got == expected, f"{len(expected)} saving calls out of 30 gave {len(got)} notifications, equal to the results")

# chat_add_message notifies too
row = saver.execute("SELECT seq FROM chat_add_message('n-t1', 'assistant', 'hi')").fetchone()
got = [json.loads(n.payload) for n in received()]
check(got == [{"thread_id": "n-t1", "first_seq": row[0], "last_seq": row[0], "saved_count": 1}],
      "chat_add_message sends one notification")

# a transaction: sent at commit, none after a rollback
with saver.transaction():
    save("n-t2", msgs("x"))
    save("n-t2", msgs("y"))
got = [json.loads(n.payload)["first_seq"] for n in received()]
check(got == [1, 2], "two calls in one transaction: two notifications at commit")


class Rollback(Exception):
    pass


try:
    with saver.transaction():
        save("n-t2", msgs("z"))
        raise Rollback()
except Rollback:
    pass
check(received() == [], "a rolled-back save sends nothing")

# off again
saver.execute("SET chatstore.notify = off")
save("n-t1", msgs("g"))
check(received() == [], "no notification after switching the setting off")

# the setting is per session: another session's saves do not notify
saver.execute("SET chatstore.notify = on")
other = psycopg.connect(autocommit=True)
other.execute("SELECT chat_save_messages('n-t3', '[{\"id\": \"a\", \"role\": \"user\", \"content\": \"x\"}]')")
check(received() == [], "a session with the setting off sends nothing")
other.close()

print(f"notify: {checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
