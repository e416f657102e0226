"""Chat memory for an LLM application, stored in PostgreSQL by chatstore.

Copy this file into your application.  It needs psycopg 3 (Debian:
python3-psycopg, PyPI: psycopg) and a database with
``CREATE EXTENSION chatstore``.

    import psycopg
    from chat_memory import ChatMemory

    conn = psycopg.connect("dbname=app", autocommit=True)
    memory = ChatMemory(conn, user_id="alice")
    thread = memory.new_thread(title="Trip to Lisbon")
    memory.save_turn(thread, [
        {"id": "u1", "role": "user", "content": "Where should I eat?"},
        {"id": "a1", "role": "assistant", "content": "Try the Time Out Market.",
         "model": "gpt-4o", "usage": {"prompt_tokens": 12, "completion_tokens": 9}},
    ])
    messages = memory.context(thread, max_tokens=8000)   # ready for the model

Every method is one database round trip.  Give your messages ids (your own,
or the provider's): a save of a message already stored is skipped, so a
retry after a timeout, or re-sending the whole conversation, never stores a
message twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Optional

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


@dataclass
class SaveResult:
    saved_count: int
    skipped_count: int
    saved_ids: list[str]
    first_seq: Optional[int]
    last_seq: Optional[int]


@dataclass
class SearchHit:
    thread_id: str
    message_id: str
    seq: int
    role: str
    rank: float
    snippet: str
    created_at: datetime


class ChatMemory:
    """One user's conversations.  Pass ``user_id=None`` for trusted server
    code that may touch any thread."""

    def __init__(self, conn: psycopg.Connection, user_id: Optional[str]):
        self.conn = conn
        self.user_id = user_id

    def _rows(self, sql: str, params: tuple) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    # -- threads ---------------------------------------------------------
    def new_thread(self, title: str = "", metadata: Optional[dict] = None,
                   thread_id: Optional[str] = None) -> str:
        """Create a thread and return its id (a uuid unless you give one)."""
        row = self._rows(
            "SELECT id FROM chat_create_thread(%s, %s, %s, %s)",
            (thread_id, self.user_id, title, Jsonb(metadata or {})))
        return row[0]["id"]

    def threads(self, limit: int = 20, cursor: Optional[tuple[datetime, str]] = None,
                metadata: Optional[dict] = None, include_archived: bool = False
                ) -> tuple[list[dict[str, Any]], Optional[tuple[datetime, str]]]:
        """The user's threads, most recently active first, and the cursor
        of the next page (None on the last page)."""
        before_at, before_id = cursor or (None, None)
        rows = self._rows(
            "SELECT id, title, metadata, message_count, total_tokens, updated_at "
            "FROM chat_list_threads(user_id => %s, max_threads => %s, "
            "before_updated_at => %s, before_id => %s, metadata_filter => %s, "
            "include_archived => %s)",
            (self.user_id, limit, before_at, before_id,
             Jsonb(metadata) if metadata is not None else None, include_archived))
        next_cursor = (rows[-1]["updated_at"], rows[-1]["id"]) if len(rows) == limit else None
        return rows, next_cursor

    def rename(self, thread_id: str, title: str) -> bool:
        rows = self._rows("SELECT id FROM chat_update_thread(%s, title => %s, user_id => %s)",
                          (thread_id, title, self.user_id))
        return bool(rows)

    def archive(self, thread_id: str, archived: bool = True) -> bool:
        return self._rows("SELECT chat_archive_thread(%s, %s, %s) AS ok",
                          (thread_id, archived, self.user_id))[0]["ok"]

    def delete_thread(self, thread_id: str) -> bool:
        return self._rows("SELECT chat_delete_thread(%s, %s) AS ok",
                          (thread_id, self.user_id))[0]["ok"]

    # -- messages --------------------------------------------------------
    def save_turn(self, thread_id: str, messages: Iterable[dict[str, Any]]) -> SaveResult:
        """Save messages (OpenAI / LangChain shaped dicts) in one call.  The
        thread is created when missing; messages already stored are skipped."""
        row = self._rows(
            "SELECT * FROM chat_save_messages(%s, %s, %s)",
            (thread_id, Jsonb(list(messages)), self.user_id))[0]
        return SaveResult(**row)

    def add(self, thread_id: str, role: str, content: Optional[str], **fields: Any
            ) -> tuple[str, int]:
        """Append one message; returns its (id, seq)."""
        message = {"role": role, "content": content, **fields}
        result = self.save_turn(thread_id, [message])
        if result.saved_count == 0:
            raise ValueError(f"message {fields.get('id')!r} is already stored")
        return result.saved_ids[0], result.first_seq

    def context(self, thread_id: str, max_tokens: Optional[int] = None,
                max_messages: Optional[int] = None) -> list[dict[str, Any]]:
        """The conversation as OpenAI chat-completions messages, cut to a
        token budget (system prompt kept, tool calls never split from their
        answers)."""
        rows = self._rows(
            "SELECT chat_context(t.id, max_messages => %s, max_tokens => %s) AS ctx "
            "FROM chat_get_thread(%s, %s) AS t",
            (max_messages, max_tokens, thread_id, self.user_id))
        return rows[0]["ctx"] if rows else []

    def history(self, thread_id: str, before_seq: Optional[int] = None,
                limit: int = 50) -> list[dict[str, Any]]:
        """Stored messages (all columns) for display, oldest first; page
        back with before_seq = the first row's seq."""
        return self._rows(
            "SELECT h.id, h.seq, h.role, h.content, h.model, h.created_at "
            "FROM chat_get_thread(%s, %s) AS t, "
            "LATERAL chat_history(t.id, max_messages => %s, before_seq => %s) AS h",
            (thread_id, self.user_id, limit, before_seq))

    # -- search ----------------------------------------------------------
    def search(self, query: str, thread_id: Optional[str] = None, limit: int = 10,
               after: Optional[SearchHit] = None) -> list[SearchHit]:
        """Full-text search over the user's messages (web-search syntax:
        "a phrase", or, -not), best first.  Pass the last hit as ``after``
        for the next page."""
        rows = self._rows(
            "SELECT * FROM chat_search(%s, user_id => %s, thread_id => %s, "
            "max_results => %s, after_rank => %s, after_thread_id => %s, after_seq => %s)",
            (query, self.user_id, thread_id, limit,
             after.rank if after else None, after.thread_id if after else None,
             after.seq if after else None))
        return [SearchHit(**r) for r in rows]
