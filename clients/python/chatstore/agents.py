"""The OpenAI Agents SDK's ``Session`` (Python: ``agents.memory.SessionABC``) on chatstore,
by duck typing: ``session_id``, ``get_items(limit)``, ``add_items(items)``, ``pop_item()``,
``clear_session()``, all async, on a psycopg ``AsyncConnection`` (or an async pool).

A session is a log (doc/items.md#sessions): it must keep exactly the items it is
given, in order, so ``add_items`` uses ``chat_append_messages`` (nothing aligned or
skipped; an item's own ``"id"`` stays in the item and its row gets a new id), not
``chat_save_messages``, which deduplicates.

    get_items      chat_items(thread, max_messages => limit): the latest ``limit``, oldest first
    add_items      one chat_append_messages call
    pop_item       the last row of chat_items, then chat_delete_message
    clear_session  chat_delete_thread + chat_create_thread in one transaction
                   (a deleted thread refuses saves with CS002 until it is created again)

An item without ``"type"`` but with ``"role"`` (an easy input message, which the SDK
accepts) is stored as a ``"message"`` item: it reads back with ``"type": "message"``.
chatstore takes the top-level keys ``usage``, ``metadata``, ``model``, ``created_at`` and
``token_count`` out of a stored item (no item type of the SDK has them).
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .async_store import AsyncChatStore

__all__ = ["AgentsSession", "encode_item"]


def encode_item(item: Mapping[str, Any]) -> Dict[str, Any]:
    """The stored form of one SDK item: a message without "type" becomes a "message" item."""
    if not isinstance(item, Mapping):
        raise TypeError("a session item must be a JSON object (a dict)")
    if "type" not in item and isinstance(item.get("role"), str):
        return {"type": "message", **item}
    return dict(item)


class AgentsSession:
    """``SessionABC`` of the OpenAI Agents SDK on a chatstore thread.

    ``conn``: a psycopg ``AsyncConnection``, an async pool or an ``AsyncChatStore``;
    ``session_id``: the thread id (a new uuid when None); ``user_id``: the thread's owner.
    """

    session_settings: Any = None   # the SDK's optional per-session settings (unused here)

    def __init__(self, conn: Any, session_id: Optional[str] = None, *, user_id: Optional[str] = None) -> None:
        self.store = conn if isinstance(conn, AsyncChatStore) else AsyncChatStore(conn)
        self.session_id: str = session_id or str(uuid.uuid4())
        self.user_id = user_id

    async def get_items(self, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The items, oldest first; with ``limit``, the latest ``limit`` of them."""
        if limit is not None:
            if limit <= 0:
                return []
            limit = int(limit)
        rows = await self.store.items(self.session_id, max_messages=limit)
        return [r.item for r in rows]

    async def add_items(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Append the items, as given, in one call."""
        if not items:
            return
        await self.store.append_messages(self.session_id, [encode_item(i) for i in items], self.user_id)

    async def pop_item(self) -> Optional[Dict[str, Any]]:
        """Remove and return the latest item; None when the session is empty."""
        for _ in range(5):   # a concurrent pop may delete the same row first: try the new last one
            rows = await self.store.items(self.session_id, max_messages=1)
            if not rows:
                return None
            row = rows[-1]
            if await self.store.delete_message(self.session_id, row.id, user_id=self.user_id) > 0:
                return row.item
        raise RuntimeError(f"pop_item: the last item of session {self.session_id} kept changing")

    async def clear_session(self) -> None:
        """Remove every item (the thread is deleted and created again, same id and owner)."""
        await self.store.reset_thread(self.session_id, self.user_id)
