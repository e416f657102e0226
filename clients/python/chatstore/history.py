"""LangChain chat message history on chatstore, by duck typing.

``ChatMessageHistory`` implements LangChain's ``BaseChatMessageHistory``
protocol (``messages``, ``add_messages``, ``add_message``, ``clear`` and the
async ``aget_messages``, ``aadd_messages``, ``aclear``) without importing
LangChain; ``AsyncChatMessageHistory`` implements the async half on an
``AsyncConnection``.  To use one where LangChain wants a subclass, wrap it::

    from langchain_core.chat_history import BaseChatMessageHistory
    class History(ChatMessageHistory, BaseChatMessageHistory): pass

Messages in: LangChain message objects (read by attribute: ``type``, ``content``,
``additional_kwargs``, ``response_metadata``, ``tool_calls``,
``invalid_tool_calls``, ``tool_call_id``, ``usage_metadata``, ``name``, ``id``,
``artifact``, ``status``, ``role``), the dicts of ``message_to_dict``
(``{"type": "human", "data": {...}}``), plain dicts (``{"role" or "type",
"content", ...}``), ``(role, content)`` tuples and strings (a human message).

Messages out: LangChain ``BaseMessage`` objects (``messages_from_dict``) when
``langchain_core`` is importable, else dicts in the ``message_to_dict`` shape.

Saves go through ``chat_save_messages``, which deduplicates: a message whose
``id`` is already in the thread is skipped, and id-less messages that repeat
the end of the stored conversation (a re-send) are skipped; see README.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .async_store import AsyncChatStore
from .store import ChatStore
from .types import Message, SaveResult

__all__ = ["ChatMessageHistory", "AsyncChatMessageHistory", "to_chatstore_message", "to_langchain_dict"]

_TYPE_TO_ROLE = {
    "human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
    "system": "system", "developer": "developer", "tool": "tool", "function": "function",
}
_ROLE_TO_TYPE = {
    "user": "human", "assistant": "ai", "system": "system", "developer": "system",
    "tool": "tool", "function": "function",
}
# chatstore message keys a plain dict may carry through unchanged
_PASSTHROUGH = ("metadata", "usage", "model", "token_count", "created_at", "parent_id")
_LC = "langchain"   # metadata key holding what only LangChain reads back


def _plain(value: Any) -> Any:
    """A JSON-safe copy (LangChain metadata may hold non-JSON values: they become strings)."""
    return json.loads(json.dumps(value, default=str))


def _fields_of(message: Any) -> Dict[str, Any]:
    """The LangChain fields of a message object or dict, as one dict with a "type"."""
    if isinstance(message, str):
        return {"type": "human", "content": message}
    if isinstance(message, tuple) and len(message) == 2:
        return {"type": str(message[0]), "content": message[1]}
    if isinstance(message, Mapping):
        data = message.get("data")
        if isinstance(data, Mapping) and "type" in message and "content" in data:
            f = dict(data)
            f["type"] = message["type"]       # message_to_dict: {"type", "data": {...}}
            return f
        return dict(message)
    if hasattr(message, "type") and hasattr(message, "content"):
        f = {}
        for key in ("type", "content", "id", "name", "additional_kwargs", "response_metadata", "tool_calls",
                    "invalid_tool_calls", "tool_call_id", "usage_metadata", "artifact", "status", "role"):
            if hasattr(message, key):
                f[key] = getattr(message, key)
        return f
    raise TypeError(f"not a message: {message!r}")


def to_chatstore_message(message: Any) -> Dict[str, Any]:
    """One LangChain message (object or dict shape) as a chatstore message JSON object."""
    f = _fields_of(message)
    typ = f.get("type")
    role = f.get("role")
    if isinstance(typ, str) and typ.endswith("MessageChunk"):        # AIMessageChunk, ...
        typ = {"AI": "ai", "Human": "human", "System": "system", "Tool": "tool",
               "Function": "function", "Chat": "chat"}.get(typ[: -len("MessageChunk")], typ)
    if typ in _TYPE_TO_ROLE:
        role = _TYPE_TO_ROLE[typ]
    elif not role:   # ChatMessage ("chat") and role dicts carry a role; anything else needs a known type
        raise ValueError(f"message without a LangChain type or a role: {message!r}")
    role = _TYPE_TO_ROLE.get(role, role)
    ak = f.get("additional_kwargs") or {}
    if role == "system" and ak.get("__openai_role__") == "developer":
        role = "developer"
    content = f.get("content")
    out: Dict[str, Any] = {"role": role, "content": "" if content is None else content}
    if f.get("id"):
        out["id"] = str(f["id"])
    if f.get("name"):
        out["name"] = f["name"]
    if f.get("tool_call_id"):
        out["tool_call_id"] = f["tool_call_id"]
    if f.get("tool_calls"):
        out["tool_calls"] = [dict(tc) for tc in f["tool_calls"]]
    usage = f.get("usage_metadata") or f.get("usage")
    if usage:
        out["usage"] = _plain(dict(usage))
    rm = f.get("response_metadata") or {}
    for key in _PASSTHROUGH:
        if key in f and f[key] is not None and key not in out:
            out[key] = f[key]
    if "model" not in out and isinstance(rm, Mapping):
        model = rm.get("model_name") or rm.get("model")
        if isinstance(model, str) and model:
            out["model"] = model
    lc: Dict[str, Any] = {}
    if ak:
        lc["additional_kwargs"] = _plain(dict(ak))
    if rm:
        lc["response_metadata"] = _plain(dict(rm))
    if f.get("invalid_tool_calls"):
        lc["invalid_tool_calls"] = _plain([dict(t) for t in f["invalid_tool_calls"]])
    if f.get("artifact") is not None:
        lc["artifact"] = _plain(f["artifact"])
    if f.get("status") not in (None, "success"):
        lc["status"] = f["status"]
    if lc:
        meta = dict(out.get("metadata") or {})
        meta[_LC] = lc
        out["metadata"] = meta
    return out


def _lc_tool_call(tc: Mapping[str, Any]) -> Dict[str, Any]:
    fn = tc.get("function")
    if isinstance(fn, Mapping):   # the OpenAI shape
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = {"__raw_arguments__": fn.get("arguments")}
        return {"name": fn.get("name"), "args": args, "id": tc.get("id"), "type": "tool_call"}
    out = dict(tc)
    out.setdefault("args", {})
    out.setdefault("id", None)
    out["type"] = "tool_call"
    return out


def _lc_usage(usage: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if not usage:
        return None
    inp = usage.get("input_tokens", usage.get("prompt_tokens"))
    outp = usage.get("output_tokens", usage.get("completion_tokens"))
    if inp is None and outp is None:
        return None
    u = {k: v for k, v in usage.items() if k not in ("prompt_tokens", "completion_tokens")}
    u["input_tokens"] = inp or 0
    u["output_tokens"] = outp or 0
    u.setdefault("total_tokens", u["input_tokens"] + u["output_tokens"])
    return u


def to_langchain_dict(m: Message) -> Optional[Dict[str, Any]]:
    """A chatstore message row in LangChain's ``message_to_dict`` shape; None for a Responses
    item with no LangChain form (reasoning and the like)."""
    role, content, tool_calls, tool_call_id = m.role, m.content, m.tool_calls, m.tool_call_id
    if m.item is not None:
        kind = m.item.get("type")
        if kind == "function_call":
            content = ""
            tool_calls = [{"id": m.item.get("call_id", m.item.get("callId")), "type": "function",
                           "function": {"name": m.item.get("name"), "arguments": m.item.get("arguments")}}]
        elif kind in ("function_call_output", "function_call_result"):
            role = "tool"
        elif kind != "message":
            return None
    typ = _ROLE_TO_TYPE.get(role, "chat")
    lc = dict((m.metadata or {}).get(_LC) or {})
    ak = dict(lc.get("additional_kwargs") or {})
    rm = dict(lc.get("response_metadata") or {})
    if role == "developer":
        ak["__openai_role__"] = "developer"
    if m.model and not rm and role == "assistant":
        rm["model_name"] = m.model
    data: Dict[str, Any] = {
        "content": m.parts if m.parts is not None else (content or ""),
        "additional_kwargs": ak, "response_metadata": rm, "type": typ, "name": m.name, "id": m.id,
    }
    if typ == "ai":
        data["tool_calls"] = [_lc_tool_call(tc) for tc in (tool_calls or [])]
        data["invalid_tool_calls"] = lc.get("invalid_tool_calls") or []
        data["usage_metadata"] = _lc_usage(m.usage)
        data["example"] = False
    elif typ == "tool":
        data["tool_call_id"] = tool_call_id or ""
        data["artifact"] = lc.get("artifact")
        data["status"] = lc.get("status", "success")
    elif typ == "human":
        data["example"] = False
    elif typ == "chat":
        data["role"] = role
    return {"type": typ, "data": data}


def _messages_from_dict() -> Any:
    try:
        from langchain_core.messages import messages_from_dict  # type: ignore[import-not-found]
    except ImportError:
        return None
    return messages_from_dict


def _output(rows: Iterable[Message], message_format: str) -> List[Any]:
    dicts = [d for d in (to_langchain_dict(m) for m in rows) if d is not None]
    if message_format == "dict":
        return dicts
    convert = _messages_from_dict()
    if convert is None:
        if message_format == "langchain":
            raise ImportError("message_format='langchain' needs langchain_core")
        return dicts
    return list(convert(dicts))


def _input(messages: Union[Sequence[Any], Any]) -> List[Dict[str, Any]]:
    if isinstance(messages, (str, Mapping)) or hasattr(messages, "content"):
        messages = [messages]
    return [to_chatstore_message(m) for m in messages]


class ChatMessageHistory:
    """LangChain's ``BaseChatMessageHistory`` on a chatstore thread (sync; the async methods
    run the sync ones in a worker thread, as LangChain's defaults do).

    ``conn``: a psycopg ``Connection``, a pool with ``.connection()``, or a ``ChatStore``.
    ``session_id`` is the thread id; ``user_id`` its owner (every call names it).
    ``max_messages`` bounds what ``messages`` reads (the latest N).
    ``message_format``: ``"auto"`` (LangChain objects when importable, else dicts),
    ``"dict"`` or ``"langchain"``.
    """

    def __init__(self, conn: Any, session_id: str, *, user_id: Optional[str] = None,
                 max_messages: Optional[int] = None, message_format: str = "auto") -> None:
        if not session_id:
            raise ValueError("session_id must be a non-empty string")
        if message_format not in ("auto", "dict", "langchain"):
            raise ValueError("message_format must be 'auto', 'dict' or 'langchain'")
        self.store = conn if isinstance(conn, ChatStore) else ChatStore(conn)
        self.session_id = session_id
        self.user_id = user_id
        self.max_messages = max_messages
        self.message_format = message_format

    @property
    def messages(self) -> List[Any]:
        rows = self.store.history(self.session_id, max_messages=self.max_messages)
        return _output(rows, self.message_format)

    def add_messages(self, messages: Sequence[Any]) -> SaveResult:
        return self.store.save_messages(self.session_id, _input(messages), self.user_id)

    def add_message(self, message: Any) -> SaveResult:
        return self.add_messages([message])

    def add_user_message(self, message: Any) -> SaveResult:
        return self.add_messages([{"type": "human", "content": message} if isinstance(message, str) else message])

    def add_ai_message(self, message: Any) -> SaveResult:
        return self.add_messages([{"type": "ai", "content": message} if isinstance(message, str) else message])

    def clear(self) -> None:
        """Delete the thread and create it again empty (same id and owner), in one transaction."""
        self.store.reset_thread(self.session_id, self.user_id)

    async def aget_messages(self) -> List[Any]:
        return await asyncio.to_thread(lambda: self.messages)

    async def aadd_messages(self, messages: Sequence[Any]) -> SaveResult:
        return await asyncio.to_thread(self.add_messages, messages)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    def __str__(self) -> str:
        return "\n".join(str(m) for m in self.messages)


class AsyncChatMessageHistory:
    """The async half of ``BaseChatMessageHistory`` (``aget_messages``, ``aadd_messages``,
    ``aclear``) on a psycopg ``AsyncConnection``, an async pool or an ``AsyncChatStore``.
    The sync ``messages`` / ``add_messages`` / ``clear`` raise ``NotImplementedError``
    (LangChain's async runnables only call the async methods)."""

    def __init__(self, conn: Any, session_id: str, *, user_id: Optional[str] = None,
                 max_messages: Optional[int] = None, message_format: str = "auto") -> None:
        if not session_id:
            raise ValueError("session_id must be a non-empty string")
        if message_format not in ("auto", "dict", "langchain"):
            raise ValueError("message_format must be 'auto', 'dict' or 'langchain'")
        self.store = conn if isinstance(conn, AsyncChatStore) else AsyncChatStore(conn)
        self.session_id = session_id
        self.user_id = user_id
        self.max_messages = max_messages
        self.message_format = message_format

    async def aget_messages(self) -> List[Any]:
        rows = await self.store.history(self.session_id, max_messages=self.max_messages)
        return _output(rows, self.message_format)

    async def aadd_messages(self, messages: Sequence[Any]) -> SaveResult:
        return await self.store.save_messages(self.session_id, _input(messages), self.user_id)

    async def aadd_message(self, message: Any) -> SaveResult:
        return await self.aadd_messages([message])

    async def aclear(self) -> None:
        await self.store.reset_thread(self.session_id, self.user_id)

    @property
    def messages(self) -> List[Any]:
        raise NotImplementedError("AsyncChatMessageHistory is async: use 'await aget_messages()'")

    def add_messages(self, messages: Sequence[Any]) -> None:
        raise NotImplementedError("AsyncChatMessageHistory is async: use 'await aadd_messages()'")

    def clear(self) -> None:
        raise NotImplementedError("AsyncChatMessageHistory is async: use 'await aclear()'")
