"""ChatStore (sync): every wrapper at least once, against a real cluster."""

import datetime as dt
import subprocess
import sys
import unittest
from pathlib import Path

import psycopg
from psycopg import errors as pgerr

from chatstore import (ChatStore, Feedback, Item, Message, MessageRef, SaveResult, SearchResult, Sibling,
                       StreamChunk, Summary, Thread, ThreadDeleted, ThreadUsage, TreeNode, UsageRow)
from tests.support import FakePool, connect, tid


class StoreTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.conn = connect()
        cls.store = ChatStore(cls.conn)

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()


class MessagesTest(StoreTestCase):
    def test_save_dedup_and_history(self):
        t = tid()
        msgs = [{"id": "m1", "role": "user", "content": "hi"}, {"id": "m2", "role": "assistant", "content": "hello"}]
        r = self.store.save_messages(t, msgs, "alice")
        self.assertIsInstance(r, SaveResult)
        self.assertEqual((r.saved_count, r.skipped_count, r.saved_ids, r.first_seq, r.last_seq),
                         (2, 0, ["m1", "m2"], 1, 2))
        r = self.store.save_messages(t, msgs + [{"id": "m3", "role": "user", "content": "again"}], "alice")
        self.assertEqual((r.saved_count, r.skipped_count, r.saved_ids), (1, 2, ["m3"]))
        r = self.store.save_messages(t, [{"id": "m4", "role": "user", "content": "x"}], "alice", saved_ids=["m4"])
        self.assertEqual((r.saved_count, r.skipped_count, r.first_seq), (0, 1, None))
        h = self.store.history(t)
        self.assertTrue(all(isinstance(m, Message) for m in h))
        self.assertEqual([(m.seq, m.id, m.role, m.content) for m in h],
                         [(1, "m1", "user", "hi"), (2, "m2", "assistant", "hello"), (3, "m3", "user", "again")])
        self.assertEqual(h[0].user_id, "alice")
        self.assertEqual(h[0].as_dict()["content"], "hi")
        self.assertEqual([m.id for m in self.store.history(t, max_messages=2)], ["m2", "m3"])
        self.assertEqual([m.id for m in self.store.history(t, before_seq=3, max_messages=1)], ["m2"])
        self.assertEqual([m.id for m in self.store.history(t, after_seq=1, max_messages=1)], ["m2"])
        # a message without token_count counts ceil(bytes / 4) tokens (as sql/30_context.sql
        # tests; doc/context.md says "rounded down"): "again" is 2, "hello" 2
        self.assertEqual([m.id for m in self.store.history(t, max_tokens=3)], ["m3"])
        self.assertEqual([m.id for m in self.store.history(t, max_tokens=4)], ["m2", "m3"])
        self.assertEqual(self.store.history(tid("none")), [])

    def test_append_keeps_repeats(self):
        t = tid()
        items = [{"type": "message", "role": "user", "content": "ok"}] * 2
        r = self.store.append_messages(t, items)
        self.assertEqual(r.saved_count, 2)
        self.assertEqual(len(self.store.items(t)), 2)

    def test_add_message_all_arguments(self):
        t = tid()
        ref = self.store.add_message(t, "user", "hello", user_id="bob", metadata={"k": 1}, message_id="u1",
                                     created_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
        self.assertEqual(ref, MessageRef(id="u1", seq=1))
        ref = self.store.add_message(t, "assistant", None, user_id="bob", model="gpt-x",
                                     tool_calls=[{"id": "c1", "type": "function",
                                                  "function": {"name": "f", "arguments": "{}"}}],
                                     usage={"input_tokens": 5, "output_tokens": 2}, token_count=2)
        self.assertEqual(ref.seq, 2)
        ref = self.store.add_message(t, "tool", "42", user_id="bob", tool_call_id="c1", name="f", parent_id="u1")
        self.assertEqual(ref.seq, 3)
        h = self.store.history(t)
        self.assertEqual(h[0].metadata, {"k": 1})
        self.assertEqual(h[0].created_at, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
        self.assertEqual((h[1].model, h[1].token_count, h[1].usage["input_tokens"]), ("gpt-x", 2, 5))
        self.assertEqual((h[2].tool_call_id, h[2].name, h[2].parent_id), ("c1", "f", "u1"))

    def test_context_formats(self):
        t = tid()
        self.store.save_messages(t, [
            {"role": "system", "content": "be terse"},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "content": "18C", "tool_call_id": "c1"},
        ])
        chat = self.store.context(t)
        self.assertEqual([m["role"] for m in chat], ["system", "user", "assistant", "tool"])
        self.assertIsNone(chat[2]["content"])
        resp = self.store.context(t, format="responses")
        self.assertEqual([i["type"] for i in resp], ["message", "message", "function_call", "function_call_output"])
        self.assertEqual(self.store.context(t, max_messages=1), [])   # an answer without its call
        self.assertEqual([m["role"] for m in self.store.context(t, max_messages=2)], ["assistant", "tool"])
        self.assertEqual(self.store.context(t, max_tokens=1000, before_seq=2), [{"role": "system", "content": "be terse"}])
        self.assertEqual(self.store.context(tid("none")), [])
        with self.assertRaises(pgerr.InvalidParameterValue) as cm:
            self.store.context(t, format="xml")
        self.assertEqual(cm.exception.sqlstate, "22023")

    def test_items(self):
        t = tid()
        self.store.save_messages(t, [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "abc"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\": 1}"},
        ])
        items = self.store.items(t)
        self.assertTrue(all(isinstance(i, Item) for i in items))
        self.assertEqual(items[0].item, {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "abc"})
        self.assertEqual(items[1].item["call_id"], "c1")
        self.assertEqual([i.seq for i in self.store.items(t, max_messages=1)], [2])
        self.assertEqual([i.seq for i in self.store.items(t, before_seq=2)], [1])
        self.assertEqual([i.seq for i in self.store.items(t, after_seq=1)], [2])


class ThreadsTest(StoreTestCase):
    def test_thread_functions(self):
        user = tid("user")
        th = self.store.create_thread(user_id=user, title="Trip", metadata={"project": "x"}, state={"step": 1})
        self.assertIsInstance(th, Thread)
        self.assertEqual((th.user_id, th.title, th.metadata, th.state, th.message_count),
                         (user, "Trip", {"project": "x"}, {"step": 1}, 0))
        t2 = self.store.create_thread("fixed-" + th.id, user_id=user)
        self.assertEqual(t2.id, "fixed-" + th.id)
        with self.assertRaises(pgerr.UniqueViolation):
            self.store.create_thread(t2.id, user_id=user)
        self.assertEqual(self.store.get_thread(th.id, user).title, "Trip")
        self.assertIsNone(self.store.get_thread(th.id, "someone-else"))
        self.assertEqual({x.id for x in self.store.list_threads(user)}, {th.id, t2.id})
        self.assertEqual([x.id for x in self.store.list_threads(user, metadata_filter={"project": "x"})], [th.id])
        self.assertEqual(len(self.store.list_threads(user, max_threads=1)), 1)
        self.assertEqual(len(self.store.list_threads(user, max_threads=None)), 2)
        self.assertEqual(len(self.store.list_threads(user, page_offset=1)), 1)
        first = self.store.list_threads(user, max_threads=1)[0]
        rest = self.store.list_threads(user, before_updated_at=first.updated_at, before_id=first.id)
        self.assertEqual(len(rest), 1)
        self.assertNotEqual(rest[0].id, first.id)
        up = self.store.update_thread(th.id, title="Renamed", metadata={"pinned": True}, user_id=user)
        self.assertEqual((up.title, up.metadata), ("Renamed", {"project": "x", "pinned": True}))
        self.assertEqual(self.store.update_thread(th.id, state={"step": 2}).state, {"step": 2})
        self.assertIsNone(self.store.update_thread(tid("none"), title="x"))
        self.store.save_messages(th.id, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], user)
        fork = self.store.fork_thread(th.id, th.id + "-fork", up_to_seq=1, user_id=user)
        self.assertEqual(fork, th.id + "-fork")
        self.assertEqual([m.content for m in self.store.history(fork)], ["a"])
        self.assertEqual(self.store.get_thread(fork).metadata["forked_from"], th.id)
        auto = self.store.fork_thread(th.id)
        self.assertEqual(len(self.store.history(auto)), 2)
        self.assertTrue(self.store.delete_thread(th.id, user))
        self.assertFalse(self.store.delete_thread(th.id, user))
        self.assertIsNone(self.store.get_thread(th.id))

    def test_reset_thread(self):
        t = tid()
        self.store.save_messages(t, [{"role": "user", "content": "a"}], "carol")
        th = self.store.reset_thread(t, "carol")
        self.assertEqual((th.id, th.user_id, th.message_count), (t, "carol", 0))
        self.assertEqual(self.store.save_messages(t, [{"role": "user", "content": "a"}], "carol").saved_count, 1)


class SearchTest(StoreTestCase):
    def test_search(self):
        user = tid("user")
        t = tid()
        self.store.save_messages(t, [{"role": "user", "content": "pastel de nata in Lisbon"},
                                     {"role": "assistant", "content": "try Belem"}], user)
        res = self.store.search("nata", user_id=user)
        self.assertEqual(len(res), 1)
        self.assertIsInstance(res[0], SearchResult)
        self.assertEqual((res[0].thread_id, res[0].seq, res[0].role), (t, 1, "user"))
        self.assertIn("nata", res[0].snippet)
        self.assertEqual(self.store.search("belem", thread_id=t, roles=["user"]), [])
        self.assertEqual(len(self.store.search("belem", thread_id=t, roles=["assistant"], max_results=5,
                                               config="simple", since=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
                                               until=dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc),
                                               snippet_options="MaxWords=5, MinWords=1")), 1)
        r0 = res[0]
        self.assertEqual(self.store.search("nata", user_id=user, after_rank=r0.rank, after_thread_id=r0.thread_id,
                                           after_seq=r0.seq, include_archived=True), [])
        with self.assertRaises(pgerr.InvalidParameterValue):
            self.store.search("nata", max_results=0)


class BranchesTest(StoreTestCase):
    def test_branches(self):
        t = tid()
        self.store.save_messages(t, [{"id": "u1", "role": "user", "content": "weather?"},
                                     {"id": "a1", "role": "assistant", "content": "sunny"}], "dan")
        ref = self.store.edit_message(t, "u1", "weather in Paris?", user_id="dan", metadata={"e": 1},
                                      new_message_id="u1b")
        self.assertEqual(ref, MessageRef("u1b", 3))
        self.assertEqual([m.id for m in self.store.history(t)], ["u1b"])
        ref = self.store.regenerate_message(t, "a1", {"role": "assistant", "content": "cloudy"}, "dan")
        self.assertIsInstance(ref, MessageRef)
        sw = self.store.switch_branch(t, "u1", "dan")
        self.assertEqual(sw.id, ref.id)
        self.assertEqual([m.id for m in self.store.history(t)], ["u1", ref.id])
        sib = self.store.message_siblings(t, "u1", "dan")
        self.assertTrue(all(isinstance(s, Sibling) for s in sib))
        self.assertEqual([(s.id, s.position, s.total, s.active) for s in sib], [("u1", 1, 2, True), ("u1b", 2, 2, False)])
        tree = self.store.thread_tree(t, "dan")
        self.assertTrue(all(isinstance(n, TreeNode) for n in tree))
        self.assertEqual([(n.id, n.parent_id) for n in tree][:2], [("u1", None), ("a1", "u1")])
        msg = self.store.get_message(t, "a1", "dan")
        self.assertEqual((msg.content, msg.role), ("sunny", "assistant"))
        self.assertIsNone(self.store.get_message(t, "nope"))
        up = self.store.update_message(t, "a1", content="very sunny", metadata={"fixed": True}, user_id="dan")
        self.assertEqual((up.content, up.metadata), ("very sunny", {"fixed": True}))
        self.assertIsNotNone(up.edited_at)
        self.assertEqual(self.store.delete_messages_after(t, "u1", "dan"), 1)   # the regenerated reply
        self.assertEqual([m.id for m in self.store.history(t)], ["u1"])
        self.assertEqual(self.store.delete_message(t, "a1", user_id="dan"), 1)
        self.assertEqual([n.id for n in self.store.thread_tree(t)], ["u1", "u1b"])
        self.assertEqual(self.store.delete_message(t, "u1", with_replies=True), 1)
        with self.assertRaises(pgerr.NoDataFound):
            self.store.edit_message(t, "nope", "x")


class StreamingTest(StoreTestCase):
    def test_stream(self):
        t = tid()
        ref = self.store.stream_start(t, message_id="a7", model="gpt-4o", metadata={"s": 1}, user_id="eve")
        self.assertEqual(ref, MessageRef("a7", 1))
        self.assertEqual(self.store.stream_start(t, role="assistant", message_id="a7", user_id="eve").seq, 1)
        self.assertEqual(self.store.stream_append(t, "a7", "Hel", "eve"), 3)
        self.assertEqual(self.store.stream_append(t, "a7", "lo"), 5)
        self.assertEqual(self.store.stream_read(t, "a7", from_offset=3, user_id="eve"), StreamChunk("in_progress", "lo", 5))
        self.assertEqual(self.store.stream_read(t, "a7").text, "Hello")
        self.assertIsNone(self.store.stream_read(t, "nope"))
        self.assertEqual(self.store.context(t), [])
        self.assertEqual(self.store.context(t, include_incomplete=True), [{"role": "assistant", "content": "Hello"}])
        m = self.store.stream_finish(t, "a7", status="completed", finish_reason="stop",
                                     usage={"input_tokens": 8, "output_tokens": 2}, user_id="eve")
        self.assertIsInstance(m, Message)
        self.assertEqual((m.content, m.status, m.finish_reason, m.model), ("Hello", "completed", "stop", "gpt-4o"))
        with self.assertRaises(pgerr.ObjectNotInPrerequisiteState) as cm:
            self.store.stream_append(t, "a7", "more")
        self.assertEqual(cm.exception.sqlstate, "55000")
        self.assertEqual(self.store.thread_usage(t).total_tokens, 10)


class CompactFeedbackUsageTest(StoreTestCase):
    def test_compact(self):
        t = tid()
        self.store.save_messages(t, [{"role": "user", "content": f"m{i}"} for i in range(4)], "fay")
        sid = self.store.compact(t, 2, "The user counted.", user_id="fay", token_count=5)
        self.assertEqual(sid, 1)
        self.assertEqual(self.store.compact(t, 3, {"role": "system", "content": "Counted to 3."}), 2)
        s = self.store.summaries(t, "fay")
        self.assertTrue(all(isinstance(x, Summary) for x in s))
        self.assertEqual([(x.id, x.up_to_seq, x.summary) for x in s],
                         [(1, 2, {"role": "system", "content": "The user counted."}), (2, 3, {"role": "system", "content": "Counted to 3."})])
        self.assertEqual(s[0].token_count, 5)
        self.assertEqual(self.store.context(t), [{"role": "system", "content": "Counted to 3."},
                                                 {"role": "user", "content": "m3"}])
        self.assertTrue(self.store.delete_summary(t, 2, "fay"))
        self.assertFalse(self.store.delete_summary(t, 2))
        self.assertEqual(len(self.store.summaries(t)), 1)

    def test_feedback_and_usage(self):
        user = tid("user")
        t = tid()
        self.store.save_messages(t, [{"id": "u", "role": "user", "content": "q"},
                                     {"id": "a", "role": "assistant", "content": "r", "model": "m1",
                                      "usage": {"prompt_tokens": 7, "completion_tokens": 3}}], user)
        fb = self.store.set_feedback(t, "a", -1, tag="wrong", comment="off", user_id=user)
        self.assertIsInstance(fb, Feedback)
        self.assertEqual((fb.message_id, fb.user_id, fb.rating, fb.tag, fb.comment), ("a", user, -1, "wrong", "off"))
        self.assertEqual(self.store.set_feedback(t, "a", 1, user_id=user).rating, 1)  # replaces
        self.store.set_feedback(t, "a", 5, rater="reviewer")
        lst = self.store.list_feedback(t, user)
        self.assertEqual(sorted((f.user_id, f.rating) for f in lst), sorted([(user, 1), ("reviewer", 5)]))
        self.assertTrue(self.store.delete_feedback(t, "a", rater="reviewer"))
        self.assertFalse(self.store.delete_feedback(t, "a", rater="reviewer"))
        self.assertTrue(self.store.delete_feedback(t, "a", user_id=user))
        self.store.set_feedback(t, "a", -1, user_id=user)
        u = self.store.thread_usage(t, user)
        self.assertIsInstance(u, ThreadUsage)
        self.assertEqual((u.message_count, u.prompt_tokens, u.completion_tokens, u.total_tokens), (2, 7, 3, 10))
        self.assertIsNone(self.store.thread_usage(t, "other"))
        rows = self.store.usage_daily(user_id=user, since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1),
                                      until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1), time_zone="UTC")
        self.assertTrue(all(isinstance(r, UsageRow) for r in rows))
        by_model = {r.model: r for r in rows}
        self.assertEqual((by_model["m1"].messages, by_model["m1"].total_tokens, by_model["m1"].feedback_down), (1, 10, 1))
        self.assertEqual(by_model[None].messages, 1)
        self.assertEqual(self.store.health()["status"], "ok")


class ErrorsTest(StoreTestCase):
    def test_thread_deleted_cs002(self):
        t = tid()
        self.store.save_messages(t, [{"role": "user", "content": "a"}])
        self.assertTrue(self.store.delete_thread(t))
        for call in (lambda: self.store.save_messages(t, [{"role": "user", "content": "b"}]),
                     lambda: self.store.add_message(t, "user", "b")):
            with self.assertRaises(ThreadDeleted) as cm:
                call()
            e = cm.exception
            self.assertIsInstance(e, psycopg.DatabaseError)
            self.assertEqual(e.sqlstate, "CS002")
            self.assertIn("was deleted", e.diag.message_primary)
            self.assertEqual(e.__cause__.sqlstate, "CS002")
        self.store.create_thread(t)
        self.assertEqual(self.store.save_messages(t, [{"role": "user", "content": "b"}]).saved_count, 1)

    def test_invalid_parameter_22023(self):
        for call in (lambda: self.store.save_messages(tid(), [{"role": "robot", "content": "x"}]),
                     lambda: self.store.history(""),
                     lambda: self.store.save_messages(tid(), [{"role": "user", "content": "x"}], user_id="")):
            with self.assertRaises(pgerr.InvalidParameterValue) as cm:
                call()
            self.assertEqual(cm.exception.sqlstate, "22023")
        with self.assertRaises(TypeError):
            self.store.save_messages(tid(), "not a list")

    def test_other_user_42501_and_unique_23505(self):
        t = tid()
        self.store.save_messages(t, [{"id": "x", "role": "user", "content": "a"}], "owner")
        with self.assertRaises(pgerr.InsufficientPrivilege):
            self.store.save_messages(t, [{"role": "user", "content": "b"}], "intruder")
        with self.assertRaises(pgerr.UniqueViolation):
            self.store.add_message(t, "user", "c", message_id="x")


class TransactionsTest(unittest.TestCase):
    def test_non_autocommit_connection_commits_each_call(self):
        t = tid()
        with connect(autocommit=False) as c:
            s = ChatStore(c)
            s.save_messages(t, [{"role": "user", "content": "a"}])
            self.assertEqual(c.info.transaction_status, psycopg.pq.TransactionStatus.IDLE)
        with connect() as other:
            self.assertEqual(len(ChatStore(other).history(t)), 1)

    def test_call_joins_the_callers_transaction(self):
        t = tid()
        with connect(autocommit=False) as c:
            s = ChatStore(c)
            c.execute("SELECT 1")   # a transaction is open
            s.save_messages(t, [{"role": "user", "content": "a"}])
            self.assertEqual(len(s.history(t)), 1)
            c.rollback()
            self.assertEqual(s.history(t), [])

    def test_pool_like(self):
        pool = FakePool()
        try:
            s = ChatStore(pool)
            t = tid()
            s.save_messages(t, [{"role": "user", "content": "a"}])
            self.assertEqual(s.reset_thread(t).message_count, 0)
            self.assertEqual(s.history(t), [])
            self.assertGreaterEqual(pool.lent, 3)
            with self.assertRaises(ThreadDeleted):
                s.delete_thread(t)
                s.add_message(t, "user", "x")
        finally:
            pool.close()

    def test_rejects_other_objects(self):
        with self.assertRaises(TypeError):
            ChatStore(object())


class GeneratedAsyncTest(unittest.TestCase):
    def test_async_store_is_up_to_date(self):
        root = Path(__file__).resolve().parent.parent
        r = subprocess.run([sys.executable, str(root / "tools" / "gen_async.py"), "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
