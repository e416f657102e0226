"""langmiddle against chatstore.

langmiddle's storage layer keeps chat_threads / chat_messages (text ids,
roles user/human/assistant/ai/tool/system, metadata + usage_metadata jsonb,
custom_state per thread) and performs: save_chat_history (with
saved_msg_ids -> saved/skipped counts and ids), get_thread (messages oldest
first + state), search_threads (by ids / state fields, sort, limit, offset)
and delete_thread.  ChatstoreBackend below is that storage layer written on
chatstore: every operation is one SQL call.
"""
import sys
import psycopg
from psycopg.types.json import Jsonb

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


class ChatstoreBackend:
    def __init__(self, conn):
        self.conn = conn

    def save_chat_history(self, thread_id, user_id, messages, saved_msg_ids=None,
                          custom_state=None):
        # one statement: save the batch, then (when given) replace the state
        row = self.conn.execute(
            """SELECT s.saved_count, s.skipped_count, s.saved_ids,
                      (SELECT count(*) FROM chat_update_thread(%(t)s, state => %(st)s, user_id => %(u)s)
                       WHERE %(st)s::jsonb IS NOT NULL) AS state_set
               FROM chat_save_messages(%(t)s, %(m)s, %(u)s, %(ids)s) AS s""",
            {"t": thread_id, "m": Jsonb(messages), "u": user_id,
             "ids": list(saved_msg_ids or []),
             "st": Jsonb(custom_state) if custom_state is not None else None}).fetchone()
        return {"saved_count": row[0], "skipped_count": row[1],
                "saved_msg_ids": set(saved_msg_ids or []) | set(row[2] or [])}

    def get_thread(self, thread_id, user_id=None):
        return self.conn.execute("SELECT chat_get_thread_with_messages(%s, %s)",
                                 (thread_id, user_id)).fetchone()[0]

    def search_threads(self, user_id=None, thread_ids=None, state=None, metadata=None,
                       sort_by="updated_at", sort_order="desc", limit=20, offset=0):
        cur = self.conn.execute(
            """SELECT id, title, state, message_count FROM chat_search_threads(
                   user_id => %s, thread_ids => %s, metadata_filter => %s, state_filter => %s,
                   sort_by => %s, sort_order => %s, max_threads => %s, page_offset => %s)""",
            (user_id, thread_ids, Jsonb(metadata) if metadata else None,
             Jsonb(state) if state else None, sort_by, sort_order, limit, offset))
        return cur.fetchall()

    def delete_thread(self, thread_id, user_id=None):
        return self.conn.execute("SELECT chat_delete_thread(%s, %s)",
                                 (thread_id, user_id)).fetchone()[0]


def lc(mtype, content, mid=None, **extra):
    """A LangChain message as langmiddle serializes it."""
    m = {"type": mtype, "content": content}
    if mid:
        m["id"] = mid
    m.update(extra)
    return m


def main():
    with psycopg.connect(autocommit=True) as conn:
        be = ChatstoreBackend(conn)

        # --- save_chat_history: first turn, LangChain types, usage_metadata
        turn1 = [lc("system", "be brief", "m-sys"),
                 lc("human", "hi", "m1"),
                 lc("ai", "hello!", "m2",
                    usage_metadata={"input_tokens": 12, "output_tokens": 3, "total_tokens": 15},
                    metadata={"model": "gpt-x"})]
        r = be.save_chat_history("lm-t1", "lm-user", turn1, custom_state={"step": 1, "topic": "greet"})
        check("save: counts", (r["saved_count"], r["skipped_count"]) == (3, 0), r)
        check("save: ids", r["saved_msg_ids"] == {"m-sys", "m1", "m2"}, r)
        saved = r["saved_msg_ids"]

        # --- second turn re-sends everything; saved_msg_ids skips the known ones
        turn2 = turn1 + [lc("human", "weather?", "m3"),
                         lc("ai", "", "m4", tool_calls=[{"id": "c1", "type": "function",
                                                          "function": {"name": "weather", "arguments": "{}"}}]),
                         {"role": "tool", "content": "sunny", "id": "m5", "tool_call_id": "c1"},
                         lc("ai", "sunny", "m6")]
        r = be.save_chat_history("lm-t1", "lm-user", turn2, saved, custom_state={"step": 2, "topic": "weather"})
        check("resave: counts", (r["saved_count"], r["skipped_count"]) == (4, 3), r)
        check("resave: ids", r["saved_msg_ids"] == {"m-sys", "m1", "m2", "m3", "m4", "m5", "m6"})
        # a restart lost the client's saved ids: the store still dedups by id
        r = be.save_chat_history("lm-t1", "lm-user", turn2, None)
        check("restart: all skipped", (r["saved_count"], r["skipped_count"]) == (0, 7), r)
        # another user cannot write into the thread
        try:
            be.save_chat_history("lm-t1", "intruder", [lc("human", "x", "evil")])
            check("intruder refused", False)
        except psycopg.errors.InsufficientPrivilege:
            check("intruder refused", True)

        # --- get_thread: messages oldest first + state
        t = be.get_thread("lm-t1", "lm-user")
        msgs = t["messages"]
        check("get: order", [m["id"] for m in msgs] == ["m-sys", "m1", "m2", "m3", "m4", "m5", "m6"],
              [m["id"] for m in msgs])
        check("get: seq", [m["seq"] for m in msgs] == list(range(1, 8)))
        check("get: roles canonical", [m["role"] for m in msgs] ==
              ["system", "user", "assistant", "user", "assistant", "tool", "assistant"])
        check("get: state replaced", t["state"] == {"step": 2, "topic": "weather"}, t["state"])
        check("get: usage kept", msgs[2]["usage"] == {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15})
        check("get: metadata kept", msgs[2]["metadata"] == {"model": "gpt-x"})
        check("get: tool call", msgs[4]["tool_calls"][0]["id"] == "c1" and msgs[5]["tool_call_id"] == "c1")
        check("get: aggregates", (t["message_count"], t["total_tokens"]) == (7, 15), t)
        check("get: other user sees nothing", be.get_thread("lm-t1", "intruder") is None)
        check("get: unknown thread", be.get_thread("lm-none") is None)
        # save without custom_state keeps the state
        be.save_chat_history("lm-t1", "lm-user", [lc("human", "bye", "m7")])
        check("state kept", be.get_thread("lm-t1")["state"] == {"step": 2, "topic": "weather"})

        # --- search_threads
        for i, (topic, step) in enumerate([("a", 1), ("b", 2), ("a", 3)]):
            be.save_chat_history(f"lm-s{i}", "lm-user", [lc("human", f"q{i}", f"s{i}")] * (i + 1),
                                 custom_state={"topic": topic, "step": step})
        be.save_chat_history("lm-other", "lm-user2", [lc("human", "x", "o1")], custom_state={"topic": "a"})
        rows = be.search_threads(user_id="lm-user", state={"topic": "a"}, sort_by="id", sort_order="asc")
        check("search: state field", [r[0] for r in rows] == ["lm-s0", "lm-s2"], rows)
        rows = be.search_threads(thread_ids=["lm-s1", "lm-s2", "lm-other", "lm-nope"], sort_by="id", sort_order="desc")
        check("search: by ids", [r[0] for r in rows] == ["lm-s2", "lm-s1", "lm-other"], rows)
        rows = be.search_threads(user_id="lm-user", sort_by="created_at", sort_order="asc", limit=2, offset=1)
        check("search: limit offset", [r[0] for r in rows] == ["lm-s0", "lm-s1"], rows)
        rows = be.search_threads(user_id="lm-user", state={"topic": "a", "step": 3})
        check("search: two fields", [r[0] for r in rows] == ["lm-s2"], rows)
        rows = be.search_threads(user_id="lm-user", sort_by="message_count", sort_order="desc", limit=1)
        check("search: sort by count", rows[0][0] == "lm-t1" and rows[0][3] == 8, rows)
        try:
            be.search_threads(sort_by="content")
            check("search: bad sort refused", False)
        except psycopg.errors.InvalidParameterValue:
            check("search: bad sort refused", True)

        # --- delete_thread
        check("delete: not owner", be.delete_thread("lm-t1", "intruder") is False)
        check("delete: owner", be.delete_thread("lm-t1", "lm-user") is True)
        check("delete: gone", be.get_thread("lm-t1") is None)
        n = conn.execute("SELECT count(*) FROM chat_messages WHERE thread_id = 'lm-t1'").fetchone()[0]
        check("delete: messages cascade", n == 0, n)
        check("delete: again", be.delete_thread("lm-t1") is False)

    print(f"langmiddle: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
