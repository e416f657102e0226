"""ChatMessageHistory / AsyncChatMessageHistory: LangChain's BaseChatMessageHistory
protocol, by duck typing (LangChain is not installable here), against a real cluster."""

import importlib.util
import unittest

import psycopg

from chatstore import AsyncChatMessageHistory, ChatMessageHistory, ChatStore, to_chatstore_message
from tests.lc_fakes import AIMessage, HumanMessage, SystemMessage, ToolMessage, fake_langchain_core
from tests.support import aconnect, connect, tid

HAVE_LANGCHAIN = importlib.util.find_spec("langchain_core") is not None


def lc_dict(typ, content, **data):
    """A message as langchain_core.messages.message_to_dict gives it."""
    base = {"content": content, "additional_kwargs": {}, "response_metadata": {}, "type": typ, "name": None,
            "id": None}
    if typ == "ai":
        base.update(tool_calls=[], invalid_tool_calls=[], usage_metadata=None, example=False)
    elif typ == "human":
        base.update(example=False)
    elif typ == "tool":
        base.update(tool_call_id="", artifact=None, status="success")
    base.update(data)
    return {"type": typ, "data": base}


def conversation():
    """An agent turn as LangChain objects: system, human, an AI tool call, the tool's answer, the AI reply."""
    return [
        SystemMessage("You are terse."),
        HumanMessage("Weather in Porto?", id="h1"),
        AIMessage("", id="run-1", tool_calls=[{"name": "weather", "args": {"city": "Porto"}, "id": "call_1",
                                                 "type": "tool_call"}],
                  usage_metadata={"input_tokens": 20, "output_tokens": 5, "total_tokens": 25},
                  response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"}),
        ToolMessage("18C", tool_call_id="call_1", name="weather", id="t1"),
        AIMessage("18C and sunny.", id="run-2", additional_kwargs={"refusal": None},
                  usage_metadata={"input_tokens": 30, "output_tokens": 6, "total_tokens": 36,
                                  "input_token_details": {"cache_read": 10}},
                  response_metadata={"model_name": "gpt-4o", "finish_reason": "stop"}),
    ]


@unittest.skipIf(HAVE_LANGCHAIN, "langchain_core is installed: messages are BaseMessage objects")
class DictOutputTest(unittest.TestCase):
    """Without langchain_core, ``messages`` gives message_to_dict dicts."""

    @classmethod
    def setUpClass(cls):
        cls.conn = connect()

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()

    def test_message_to_dict_shapes_round_trip(self):
        h = ChatMessageHistory(self.conn, tid("lc"), user_id="u1")
        sent = [lc_dict("system", "be brief"), lc_dict("human", "hi", id="h1"),
                lc_dict("ai", "", id="a1", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1", "type": "tool_call"}],
                        usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}),
                lc_dict("tool", "ok", id="t1", tool_call_id="c1"),
                lc_dict("ai", "done", id="a2", response_metadata={"model_name": "m"})]
        r = h.add_messages(sent)
        self.assertEqual(r.saved_count, 5)
        got = h.messages
        self.assertEqual([g["type"] for g in got], ["system", "human", "ai", "tool", "ai"])
        # the system message had no id: chatstore gave it one; everything else comes back equal
        self.assertTrue(got[0]["data"].pop("id"))
        sent[0]["data"].pop("id")
        self.assertEqual(got, sent)

    def test_plain_role_dicts_tuples_and_strings(self):
        h = ChatMessageHistory(self.conn, tid("lc"))
        h.add_messages([{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
                        {"type": "ai", "content": "a"}, ("human", "q2"), "q3",
                        {"role": "developer", "content": "dev"},
                        {"role": "assistant", "content": [{"type": "text", "text": "part"}]}])
        got = h.messages
        self.assertEqual([(g["type"], g["data"]["content"]) for g in got],
                         [("system", "sys"), ("human", "q"), ("ai", "a"), ("human", "q2"), ("human", "q3"),
                          ("system", "dev"), ("ai", [{"type": "text", "text": "part"}])])
        self.assertEqual(got[5]["data"]["additional_kwargs"], {"__openai_role__": "developer"})
        self.assertEqual(ChatStore(self.conn).history(h.session_id)[5].role, "developer")

    def test_duck_typed_objects(self):
        h = ChatMessageHistory(self.conn, tid("lc"), message_format="dict")
        h.add_messages(conversation())
        got = h.messages
        self.assertEqual([g["type"] for g in got], ["system", "human", "ai", "tool", "ai"])
        ai = got[2]["data"]
        self.assertEqual(ai["tool_calls"], [{"name": "weather", "args": {"city": "Porto"}, "id": "call_1",
                                             "type": "tool_call"}])
        self.assertEqual(ai["usage_metadata"], {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25})
        self.assertEqual(ai["response_metadata"], {"model_name": "gpt-4o", "finish_reason": "tool_calls"})
        self.assertEqual(got[3]["data"]["tool_call_id"], "call_1")
        self.assertEqual(got[3]["data"]["name"], "weather")
        self.assertEqual(got[4]["data"]["usage_metadata"]["input_token_details"], {"cache_read": 10})
        self.assertEqual(got[4]["data"]["additional_kwargs"], {"refusal": None})
        # the stored row: model and usage in their columns, usable by chat_context
        rows = ChatStore(self.conn).history(h.session_id)
        self.assertEqual((rows[2].model, rows[2].usage["total_tokens"]), ("gpt-4o", 25))
        ctx = ChatStore(self.conn).context(h.session_id)
        self.assertEqual([m["role"] for m in ctx], ["system", "user", "assistant", "tool", "assistant"])
        self.assertEqual(ctx[2]["tool_calls"][0]["function"]["name"], "weather")

    def test_other_rows_read_back(self):
        """Rows another client wrote (OpenAI tool calls, usage in the Chat Completions shape, items)."""
        t = tid("lc")
        s = ChatStore(self.conn)
        s.save_messages(t, [
            {"role": "assistant", "content": None, "model": "m",
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 2}"}}],
             "usage": {"prompt_tokens": 4, "completion_tokens": 2}},
            {"role": "tool", "content": "r", "tool_call_id": "c1"},
            {"type": "reasoning", "summary": []},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c2", "output": "out"},
        ])
        got = ChatMessageHistory(self.conn, t).messages
        self.assertEqual([g["type"] for g in got], ["ai", "tool", "ai", "tool"])   # the reasoning item has no LangChain form
        self.assertEqual(got[0]["data"]["tool_calls"], [{"name": "f", "args": {"a": 2}, "id": "c1", "type": "tool_call"}])
        self.assertEqual(got[0]["data"]["usage_metadata"], {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6})
        self.assertEqual(got[0]["data"]["response_metadata"], {"model_name": "m"})
        self.assertEqual(got[2]["data"]["tool_calls"], [{"name": "g", "args": {}, "id": "c2", "type": "tool_call"}])
        self.assertEqual(got[2]["data"]["content"], "")
        self.assertEqual((got[3]["data"]["content"], got[3]["data"]["tool_call_id"]), ("out", "c2"))

    def test_dedup_of_resends(self):
        h = ChatMessageHistory(self.conn, tid("lc"))
        first = [HumanMessage("hi"), AIMessage("hello", id="a1")]
        self.assertEqual(h.add_messages(first).saved_count, 2)
        # an app that re-sends the whole conversation each turn: only the new messages are stored
        r = h.add_messages(first + [HumanMessage("how are you?"), AIMessage("fine", id="a2")])
        self.assertEqual((r.saved_count, r.skipped_count), (2, 2))
        # RunnableWithMessageHistory adds only the new turn; a user repeating an earlier text is kept
        r = h.add_messages([HumanMessage("hi"), AIMessage("hello again", id="a3")])
        self.assertEqual(r.saved_count, 2)
        self.assertEqual([m["data"]["content"] for m in h.messages],
                         ["hi", "hello", "how are you?", "fine", "hi", "hello again"])

    def test_add_message_helpers_clear_and_max_messages(self):
        h = ChatMessageHistory(self.conn, tid("lc"), user_id="owner", max_messages=2)
        h.add_message(HumanMessage("one"))
        h.add_user_message("two")
        h.add_ai_message("three")
        h.add_ai_message(AIMessage("four", id="x4"))
        self.assertEqual([m["data"]["content"] for m in h.messages], ["three", "four"])
        h.clear()
        self.assertEqual(h.messages, [])
        h.add_user_message("after clear")   # a deleted thread would refuse this with CS002
        self.assertEqual([m["data"]["content"] for m in h.messages], ["after clear"])
        th = ChatStore(self.conn).get_thread(h.session_id)
        self.assertEqual((th.user_id, th.message_count), ("owner", 1))
        self.assertIn("after clear", str(h))

    def test_errors(self):
        with self.assertRaises(ValueError):
            ChatMessageHistory(self.conn, "")
        h = ChatMessageHistory(self.conn, tid("lc"))
        with self.assertRaises(psycopg.errors.InvalidParameterValue):
            h.add_messages([{"role": "robot", "content": "x"}])
        with self.assertRaises(ValueError):
            to_chatstore_message({"content": "no role"})
        with self.assertRaises(ValueError):
            to_chatstore_message({"type": "reasoning", "content": "not a LangChain message"})
        self.assertEqual(to_chatstore_message({"type": "message", "role": "user", "content": "x"}),
                         {"role": "user", "content": "x"})
        self.assertEqual(to_chatstore_message({"type": "chat", "role": "assistant", "content": "x"})["role"],
                         "assistant")
        self.assertEqual(to_chatstore_message({"type": "AIMessageChunk", "content": "x"})["role"], "assistant")
        with self.assertRaises(TypeError):
            to_chatstore_message(42)


class LangChainObjectsTest(unittest.TestCase):
    """With langchain_core importable, ``messages`` gives message objects (messages_from_dict);
    here a fake langchain_core.messages stands in for it."""

    def test_round_trip_objects(self):
        with connect() as conn, fake_langchain_core():
            h = ChatMessageHistory(conn, tid("lc"))
            sent = conversation()
            h.add_messages(sent)
            got = h.messages
            self.assertEqual([type(m).__name__ for m in got],
                             ["SystemMessage", "HumanMessage", "AIMessage", "ToolMessage", "AIMessage"])
            self.assertTrue(got[0].id)   # chatstore's id for an id-less message
            got[0].id = None
            self.assertEqual(got, sent)

    def test_message_format_dict_and_langchain(self):
        with connect() as conn:
            t = tid("lc")
            ChatMessageHistory(conn, t).add_user_message("x")
            self.assertIsInstance(ChatMessageHistory(conn, t, message_format="dict").messages[0], dict)
            if not HAVE_LANGCHAIN:
                with self.assertRaises(ImportError):
                    ChatMessageHistory(conn, t, message_format="langchain").messages
            with fake_langchain_core():
                self.assertIsInstance(ChatMessageHistory(conn, t, message_format="langchain").messages[0], HumanMessage)
            with self.assertRaises(ValueError):
                ChatMessageHistory(conn, t, message_format="xml")


class AsyncHistoryTest(unittest.IsolatedAsyncioTestCase):
    async def test_async_history(self):
        conn = await aconnect()
        try:
            h = AsyncChatMessageHistory(conn, tid("lc"), user_id="u")
            r = await h.aadd_messages(conversation())
            self.assertEqual(r.saved_count, 5)
            await h.aadd_message({"type": "human", "data": {"content": "more", "type": "human"}})
            got = await h.aget_messages()
            if not HAVE_LANGCHAIN:
                self.assertEqual([g["type"] for g in got], ["system", "human", "ai", "tool", "ai", "human"])
            await h.aclear()
            self.assertEqual(await h.aget_messages(), [])
            await h.aadd_messages([HumanMessage("again")])
            self.assertEqual(len(await h.aget_messages()), 1)
            with self.assertRaises(NotImplementedError):
                h.messages
            with self.assertRaises(NotImplementedError):
                h.add_messages([])
            with self.assertRaises(NotImplementedError):
                h.clear()
        finally:
            await conn.close()

    async def test_sync_history_async_methods(self):
        with connect() as conn:
            h = ChatMessageHistory(conn, tid("lc"), message_format="dict")
            await h.aadd_messages([HumanMessage("q"), AIMessage("a", id="a")])
            self.assertEqual([m["type"] for m in await h.aget_messages()], ["human", "ai"])
            await h.aclear()
            self.assertEqual(await h.aget_messages(), [])


if __name__ == "__main__":
    unittest.main()
