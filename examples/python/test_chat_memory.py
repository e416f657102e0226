"""Runs examples/python/chat_memory.py against a database that has the
chatstore extension (connection from the PG* environment)."""
import os
import sys
import unittest
import uuid

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chat_memory import ChatMemory  # noqa: E402


class ChatMemoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.conn = psycopg.connect(autocommit=True)

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()

    def setUp(self):
        self.user = f"py-{uuid.uuid4()}"
        self.memory = ChatMemory(self.conn, self.user)

    def test_save_turn_and_context(self):
        t = self.memory.new_thread(title="Lisbon")
        r = self.memory.save_turn(t, [
            {"id": "s", "role": "system", "content": "You are a travel guide."},
            {"id": "u1", "role": "user", "content": "Where should I eat?"},
            {"id": "a1", "role": "assistant", "content": "Try the market.",
             "usage": {"prompt_tokens": 12, "completion_tokens": 4}},
        ])
        self.assertEqual((r.saved_count, r.skipped_count, r.first_seq, r.last_seq), (3, 0, 1, 3))
        # the whole conversation sent again with one new message: only it is stored
        r = self.memory.save_turn(t, [
            {"id": "s", "role": "system", "content": "You are a travel guide."},
            {"id": "u1", "role": "user", "content": "Where should I eat?"},
            {"id": "a1", "role": "assistant", "content": "Try the market."},
            {"id": "u2", "role": "user", "content": "And for dessert?"},
        ])
        self.assertEqual((r.saved_count, r.skipped_count, r.saved_ids), (1, 3, ["u2"]))
        self.assertEqual(self.memory.context(t), [
            {"role": "system", "content": "You are a travel guide."},
            {"role": "user", "content": "Where should I eat?"},
            {"role": "assistant", "content": "Try the market."},
            {"role": "user", "content": "And for dessert?"},
        ])
        # a small budget keeps the system prompt and the newest messages
        ctx = self.memory.context(t, max_tokens=12)
        self.assertEqual([m["role"] for m in ctx], ["system", "user"])
        self.assertEqual(ctx[-1]["content"], "And for dessert?")

    def test_add_and_tool_calls(self):
        t = self.memory.new_thread()
        mid, seq = self.memory.add(t, "user", "Weather in Porto?")
        self.assertEqual(seq, 1)
        self.assertTrue(mid)
        call = [{"id": "call_1", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\": \"Porto\"}"}}]
        self.memory.add(t, "assistant", None, tool_calls=call, id="a1")
        self.memory.add(t, "tool", "18C, sunny", tool_call_id="call_1")
        ctx = self.memory.context(t)
        self.assertEqual(ctx[1], {"role": "assistant", "content": None, "tool_calls": call})
        self.assertEqual(ctx[2], {"role": "tool", "content": "18C, sunny", "tool_call_id": "call_1"})
        with self.assertRaises(ValueError):
            self.memory.add(t, "assistant", "again", id="a1")

    def test_threads_paging_and_archive(self):
        ids = [self.memory.new_thread(title=f"t{i}") for i in range(5)]
        for t in ids:   # activity order: the last saved is the newest
            self.memory.add(t, "user", "hi")
        page1, cursor = self.memory.threads(limit=2)
        page2, cursor = self.memory.threads(limit=2, cursor=cursor)
        page3, cursor = self.memory.threads(limit=2, cursor=cursor)
        self.assertIsNone(cursor)
        self.assertEqual([r["id"] for r in page1 + page2 + page3], list(reversed(ids)))
        self.assertTrue(self.memory.archive(ids[0]))
        rows, _ = self.memory.threads(limit=10)
        self.assertNotIn(ids[0], [r["id"] for r in rows])
        rows, _ = self.memory.threads(limit=10, include_archived=True)
        self.assertIn(ids[0], [r["id"] for r in rows])
        self.assertTrue(self.memory.rename(ids[1], "renamed"))
        self.assertTrue(self.memory.delete_thread(ids[1]))
        self.assertFalse(self.memory.delete_thread(ids[1]))

    def test_search(self):
        t1 = self.memory.new_thread(title="cooking")
        t2 = self.memory.new_thread(title="travel")
        self.memory.save_turn(t1, [{"id": "1", "role": "user", "content": "A recipe for pastel de nata?"},
                                   {"id": "2", "role": "assistant", "content": "Pastel de nata needs puff pastry."}])
        self.memory.save_turn(t2, [{"id": "1", "role": "user", "content": "Best pastel de nata in Lisbon?"}])
        hits = self.memory.search("pastel nata")
        self.assertEqual(len(hits), 3)
        self.assertIn("<b>", hits[0].snippet)
        self.assertEqual({h.thread_id for h in self.memory.search("lisbon")}, {t2})
        self.assertEqual(len(self.memory.search("nata", thread_id=t1)), 2)
        first = self.memory.search("nata", limit=2)
        rest = self.memory.search("nata", limit=2, after=first[-1])
        self.assertEqual([(h.thread_id, h.seq) for h in first + rest],
                         [(h.thread_id, h.seq) for h in self.memory.search("nata")])
        # another user sees none of it
        self.assertEqual(ChatMemory(self.conn, "someone-else").search("nata"), [])

    def test_other_users_thread_is_refused(self):
        t = self.memory.new_thread()
        self.memory.add(t, "user", "private")
        other = ChatMemory(self.conn, "someone-else")
        with self.assertRaises(psycopg.errors.InsufficientPrivilege):
            other.save_turn(t, [{"role": "user", "content": "intrusion"}])
        self.assertEqual(other.context(t), [])
        self.assertEqual(other.history(t), [])
        self.assertFalse(other.delete_thread(t))
        self.assertEqual(len(self.memory.history(t)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
