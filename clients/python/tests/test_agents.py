"""AgentsSession: the OpenAI Agents SDK's Session contract (SessionABC), by duck typing
(the SDK is not installable here), against a real cluster."""

import unittest

from chatstore import AgentsSession, AsyncChatStore, encode_item
from tests.support import AsyncFakePool, aconnect, tid

# items as the Agents SDK (Python) gives them after a run with a tool call
TURN = [
    {"role": "user", "content": "What is the weather in Porto?"},
    {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "call the tool"}],
     "encrypted_content": "gAAAA...", "status": None},
    {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "get_weather",
     "arguments": "{\"city\": \"Porto\"}", "status": "completed"},
    {"type": "function_call_output", "call_id": "call_1", "output": "18C, sunny"},
    {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "18C and sunny.", "annotations": [], "logprobs": []}]},
]


class SessionTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.conn = await aconnect()

    async def asyncTearDown(self):
        await self.conn.close()

    async def test_round_trip(self):
        s = AgentsSession(self.conn, tid("sess"))
        self.assertTrue(s.session_id.startswith("sess-"))
        self.assertEqual(await s.get_items(), [])
        await s.add_items(TURN)
        got = await s.get_items()
        self.assertEqual(got, [encode_item(i) for i in TURN])
        self.assertEqual(got[0], {"type": "message", "role": "user", "content": "What is the weather in Porto?"})
        self.assertEqual(got[1:], TURN[1:])   # reasoning, function_call, function_call_output, message: equal

    async def test_limit(self):
        s = AgentsSession(self.conn, tid("sess"))
        await s.add_items([{"role": "user", "content": f"m{i}"} for i in range(5)])
        self.assertEqual([i["content"] for i in await s.get_items(limit=2)], ["m3", "m4"])
        self.assertEqual(len(await s.get_items(limit=10)), 5)
        self.assertEqual(await s.get_items(limit=0), [])
        self.assertEqual(len(await s.get_items(None)), 5)

    async def test_same_item_twice_is_kept(self):
        s = AgentsSession(self.conn, tid("sess"))
        ok = {"role": "user", "content": "ok"}
        await s.add_items([ok, ok])
        await s.add_items([ok])
        await s.add_items([TURN[2]])
        await s.add_items([TURN[2]])   # the same item id twice: a log keeps both
        got = await s.get_items()
        self.assertEqual(len(got), 5)
        self.assertEqual(got[3], got[4])
        await s.add_items([])          # nothing
        self.assertEqual(len(await s.get_items()), 5)

    async def test_pop(self):
        s = AgentsSession(self.conn, tid("sess"))
        self.assertIsNone(await s.pop_item())
        await s.add_items(TURN)
        self.assertEqual(await s.pop_item(), TURN[4])
        self.assertEqual(await s.pop_item(), TURN[3])
        self.assertEqual(len(await s.get_items()), 3)
        await s.add_items([TURN[3]])   # re-added after a pop (its deleted row had another id)
        self.assertEqual((await s.get_items())[-1], TURN[3])

    async def test_clear(self):
        s = AgentsSession(self.conn, tid("sess"), user_id="alice")
        await s.add_items(TURN)
        await s.clear_session()
        self.assertEqual(await s.get_items(), [])
        await s.add_items(TURN[:1])    # a deleted thread would refuse this with CS002
        self.assertEqual(len(await s.get_items()), 1)
        th = await AsyncChatStore(self.conn).get_thread(s.session_id)
        self.assertEqual(th.user_id, "alice")
        await s.clear_session()        # clearing an empty session, twice
        await s.clear_session()
        self.assertEqual(await s.get_items(), [])

    async def test_owner_and_defaults(self):
        s = AgentsSession(self.conn, user_id="bob")
        self.assertEqual(len(s.session_id), 36)   # a uuid
        await s.add_items([{"role": "user", "content": "hi"}])
        intruder = AgentsSession(self.conn, s.session_id, user_id="mallory")
        with self.assertRaises(Exception) as cm:
            await intruder.add_items([{"role": "user", "content": "x"}])
        self.assertEqual(cm.exception.sqlstate, "42501")
        with self.assertRaises(TypeError):
            encode_item(["not", "a", "dict"])

    async def test_on_a_pool_and_a_store(self):
        pool = AsyncFakePool(self.conn)
        s = AgentsSession(pool, tid("sess"))
        await s.add_items(TURN)
        self.assertEqual(len(await AgentsSession(AsyncChatStore(self.conn), s.session_id).get_items()), 5)
        self.assertGreater(pool.lent, 0)


if __name__ == "__main__":
    unittest.main()
