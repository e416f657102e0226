"""AsyncChatStore: every wrapper at least once, on a psycopg AsyncConnection."""

import datetime as dt
import unittest

import psycopg
from psycopg import errors as pgerr

from chatstore import AsyncChatStore, Feedback, Message, MessageRef, SaveResult, Thread, ThreadDeleted
from tests.support import AsyncFakePool, aconnect, connect, tid


class AsyncStoreTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.conn = await aconnect()
        self.s = AsyncChatStore(self.conn)

    async def asyncTearDown(self):
        await self.conn.close()

    async def test_messages(self):
        s, t = self.s, tid("a")
        r = await s.save_messages(t, [{"id": "m1", "role": "user", "content": "hi"}], "u")
        self.assertEqual((r.saved_count, r.saved_ids), (1, ["m1"]))
        self.assertEqual((await s.save_messages(t, [{"id": "m1", "role": "user", "content": "hi"}], "u")).skipped_count, 1)
        self.assertEqual((await s.append_messages(t, [{"role": "assistant", "content": "yo"}] * 2, "u")).saved_count, 2)
        ref = await s.add_message(t, "user", "q", user_id="u", message_id="m4", metadata={"a": 1})
        self.assertEqual(ref, MessageRef("m4", 4))
        h = await s.history(t, max_messages=2)
        self.assertEqual([m.id for m in h][-1], "m4")
        self.assertIsInstance(h[0], Message)
        self.assertEqual([m["role"] for m in await s.context(t)], ["user", "assistant", "assistant", "user"])
        self.assertEqual((await s.context(t, format="responses", max_messages=1))[0]["type"], "message")
        self.assertEqual([i.seq for i in await s.items(t)], [1, 2, 3, 4])
        self.assertEqual((await s.health())["status"], "ok")

    async def test_threads_and_search(self):
        s, user = self.s, tid("user")
        th = await s.create_thread(user_id=user, title="T", metadata={"p": 1})
        self.assertIsInstance(th, Thread)
        self.assertEqual((await s.get_thread(th.id, user)).title, "T")
        self.assertEqual([x.id for x in await s.list_threads(user)], [th.id])
        self.assertEqual((await s.update_thread(th.id, title="U", user_id=user)).title, "U")
        await s.save_messages(th.id, [{"role": "user", "content": "lisbon tarts"}], user)
        fork = await s.fork_thread(th.id, th.id + "-f", user_id=user)
        self.assertEqual(len(await s.history(fork)), 1)
        res = await s.search("tarts", user_id=user)
        self.assertEqual(sorted(r.thread_id for r in res), sorted([th.id, fork]))
        self.assertEqual((await s.reset_thread(fork, user)).message_count, 0)
        self.assertTrue(await s.delete_thread(th.id, user))
        self.assertIsNone(await s.get_thread(th.id))

    async def test_branches(self):
        s, t = self.s, tid("a")
        await s.save_messages(t, [{"id": "u1", "role": "user", "content": "q"}, {"id": "a1", "role": "assistant", "content": "r"}])
        e = await s.edit_message(t, "u1", "q2", new_message_id="u2")
        self.assertEqual(e.id, "u2")
        g = await s.regenerate_message(t, "a1", {"role": "assistant", "content": "r2"})
        self.assertEqual((await s.switch_branch(t, "u1")).id, g.id)
        self.assertEqual([x.total for x in await s.message_siblings(t, "a1")], [2, 2])
        self.assertEqual(len(await s.thread_tree(t)), 4)
        self.assertEqual((await s.get_message(t, "a1")).content, "r")
        self.assertEqual((await s.update_message(t, "a1", content="r1")).content, "r1")
        self.assertEqual(await s.delete_messages_after(t, "u1"), 1)
        self.assertEqual(await s.delete_message(t, "a1"), 1)
        self.assertIsNone(await s.get_message(t, "a1"))
        with self.assertRaises(pgerr.NoDataFound):
            await s.delete_message(t, "a1")

    async def test_stream_compact_feedback_usage(self):
        s, t, user = self.s, tid("a"), tid("user")
        await s.save_messages(t, [{"role": "user", "content": "q"}], user)
        ref = await s.stream_start(t, message_id="a7", model="m", user_id=user)
        self.assertEqual(ref.seq, 2)
        self.assertEqual(await s.stream_append(t, "a7", "abc", user), 3)
        self.assertEqual((await s.stream_read(t, "a7", 1, user)).text, "bc")
        m = await s.stream_finish(t, "a7", finish_reason="stop", usage={"input_tokens": 1, "output_tokens": 1}, user_id=user)
        self.assertEqual((m.content, m.status), ("abc", "completed"))
        sid = await s.compact(t, 1, "asked q", user_id=user)
        self.assertEqual([x.id for x in await s.summaries(t, user)], [sid])
        self.assertTrue(await s.delete_summary(t, sid, user))
        fb = await s.set_feedback(t, "a7", 1, tag="good", user_id=user)
        self.assertIsInstance(fb, Feedback)
        self.assertEqual(len(await s.list_feedback(t, user)), 1)
        self.assertTrue(await s.delete_feedback(t, "a7", user_id=user))
        self.assertEqual((await s.thread_usage(t, user)).total_tokens, 2)
        rows = await s.usage_daily(user_id=user, since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
        self.assertEqual(sum(r.messages for r in rows), 2)

    async def test_errors(self):
        s, t = self.s, tid("a")
        await s.save_messages(t, [{"role": "user", "content": "a"}])
        await s.delete_thread(t)
        with self.assertRaises(ThreadDeleted) as cm:
            await s.save_messages(t, [{"role": "user", "content": "b"}])
        self.assertEqual(cm.exception.sqlstate, "CS002")
        self.assertIsInstance(cm.exception, psycopg.DatabaseError)
        with self.assertRaises(pgerr.InvalidParameterValue) as cm2:
            await s.history("")
        self.assertEqual(cm2.exception.sqlstate, "22023")
        with connect() as sync_conn, self.assertRaises(TypeError):
            AsyncChatStore(sync_conn)

    async def test_non_autocommit_and_pool(self):
        conn = await aconnect(autocommit=False)
        try:
            s, t = AsyncChatStore(conn), tid("a")
            r = await s.save_messages(t, [{"role": "user", "content": "a"}])
            self.assertIsInstance(r, SaveResult)
            self.assertEqual(conn.info.transaction_status, psycopg.pq.TransactionStatus.IDLE)
            self.assertEqual(len(await self.s.history(t)), 1)   # committed: another connection sees it
            pool = AsyncFakePool(conn)
            self.assertEqual((await AsyncChatStore(pool).reset_thread(t)).message_count, 0)
            self.assertEqual(await self.s.history(t), [])
        finally:
            await conn.close()


if __name__ == "__main__":
    unittest.main()
