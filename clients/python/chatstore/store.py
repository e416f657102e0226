"""ChatStore: typed wrappers over chatstore's SQL functions, on psycopg 3 (sync).

Each method is one SQL statement calling one function with named arguments;
arguments left as None are not passed, so the function's own default applies
(doc/reference.md has the semantics of every argument).  ``async_store.py``
is generated from this file by ``tools/gen_async.py``: edit this one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _convert as cv
from ._runner import Op, SyncRunner, call
from .types import (Feedback, Item, Message, MessageRef, SaveResult, SearchResult, Sibling,
                    StreamChunk, Summary, Thread, ThreadUsage, TreeNode, UsageRow)

JSONObject = Mapping[str, Any]

__all__ = ["ChatStore"]


class ChatStore:
    """chatstore's SQL API on a psycopg ``Connection`` or a pool with ``.connection()``.

    On an autocommit connection or a pool every call is its own transaction; on a
    connection that is not autocommit, a call made outside a transaction is
    committed when it returns, and a call made inside one joins it.
    psycopg errors propagate (see ``chatstore.errors``), SQLSTATE ``CS002`` as
    ``ThreadDeleted``.
    """

    def __init__(self, conn: Any) -> None:
        self._runner = SyncRunner(conn)

    def _run(self, op: Op[Any]) -> Any:
        return self._runner.run(op)

    def _run_tx(self, ops: Sequence[Op[Any]]) -> List[Any]:
        return self._runner.run_tx(ops)

    # -- messages and history ------------------------------------------------

    def save_messages(self, thread_id: str, messages: Sequence[JSONObject], user_id: Optional[str] = None,
                      saved_ids: Optional[Sequence[str]] = None) -> SaveResult:
        """``chat_save_messages``: save a batch, skipping messages already stored (dedup)."""
        sql, p = call("chat_save_messages", [(thread_id, "text"), (cv.json_list(messages), "jsonb")],
                      [("user_id", user_id, "text"),
                       ("saved_ids", None if saved_ids is None else list(saved_ids), "text[]")])
        return self._run(Op(sql, p, cv.first_of(SaveResult)))

    def append_messages(self, thread_id: str, messages: Sequence[JSONObject],
                        user_id: Optional[str] = None) -> SaveResult:
        """``chat_append_messages``: append a batch of messages and items whole, as a log."""
        sql, p = call("chat_append_messages", [(thread_id, "text"), (cv.json_list(messages), "jsonb")],
                      [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.first_of(SaveResult)))

    def add_message(self, thread_id: str, role: str, content: Optional[str], *, user_id: Optional[str] = None,
                    metadata: Optional[JSONObject] = None, message_id: Optional[str] = None,
                    model: Optional[str] = None, name: Optional[str] = None,
                    tool_calls: Optional[Sequence[JSONObject]] = None, tool_call_id: Optional[str] = None,
                    usage: Optional[JSONObject] = None, token_count: Optional[int] = None,
                    parent_id: Optional[str] = None, created_at: Optional[datetime] = None) -> MessageRef:
        """``chat_add_message``: append one message, always (no dedup)."""
        sql, p = call("chat_add_message", [(thread_id, "text"), (role, "text"), (content, "text")],
                      [("user_id", user_id, "text"), ("metadata", cv.jsonb(metadata), "jsonb"),
                       ("message_id", message_id, "text"), ("model", model, "text"), ("name", name, "text"),
                       ("tool_calls", cv.jsonb(None if tool_calls is None else list(tool_calls)), "jsonb"),
                       ("tool_call_id", tool_call_id, "text"), ("usage", cv.jsonb(usage), "jsonb"),
                       ("token_count", token_count, "int"), ("parent_id", parent_id, "text"),
                       ("created_at", created_at, "timestamptz")])
        return self._run(Op(sql, p, cv.first_of(MessageRef)))

    def history(self, thread_id: str, *, max_messages: Optional[int] = None, before_seq: Optional[int] = None,
                after_seq: Optional[int] = None, max_tokens: Optional[int] = None) -> List[Message]:
        """``chat_history``: the thread's messages (its active path) in seq order."""
        sql, p = call("chat_history", [(thread_id, "text")],
                      [("max_messages", max_messages, "int"), ("before_seq", before_seq, "bigint"),
                       ("after_seq", after_seq, "bigint"), ("max_tokens", max_tokens, "int")])
        return self._run(Op(sql, p, cv.all_of(Message)))

    def context(self, thread_id: str, *, max_messages: Optional[int] = None, before_seq: Optional[int] = None,
                after_seq: Optional[int] = None, max_tokens: Optional[int] = None, format: str = "chat",
                include_incomplete: bool = False) -> List[Dict[str, Any]]:
        """``chat_context``: the history as a JSON array for a model, ``format`` ``'chat'``
        (Chat Completions messages) or ``'responses'`` (Responses input items)."""
        sql, p = call("chat_context", [(thread_id, "text")],
                      [("max_messages", max_messages, "int"), ("before_seq", before_seq, "bigint"),
                       ("after_seq", after_seq, "bigint"), ("max_tokens", max_tokens, "int"),
                       ("format", format, "text"), ("include_incomplete", include_incomplete, "boolean")],
                      select="chat_context AS v")
        return self._run(Op(sql, p, cv.scalar))

    def items(self, thread_id: str, *, max_messages: Optional[int] = None, before_seq: Optional[int] = None,
              after_seq: Optional[int] = None) -> List[Item]:
        """``chat_items``: every row as a Responses item, oldest first."""
        sql, p = call("chat_items", [(thread_id, "text")],
                      [("max_messages", max_messages, "int"), ("before_seq", before_seq, "bigint"),
                       ("after_seq", after_seq, "bigint")])
        return self._run(Op(sql, p, cv.all_of(Item)))

    # -- threads ---------------------------------------------------------------

    def create_thread(self, id: Optional[str] = None, *, user_id: Optional[str] = None,
                      title: Optional[str] = None, metadata: Optional[JSONObject] = None,
                      state: Optional[JSONObject] = None) -> Thread:
        """``chat_create_thread``: a new thread (a uuid id when ``id`` is None); also makes a
        deleted thread's id usable again."""
        sql, p = call("chat_create_thread", [],
                      [("id", id, "text"), ("user_id", user_id, "text"), ("title", title, "text"),
                       ("metadata", cv.jsonb(metadata), "jsonb"), ("state", cv.jsonb(state), "jsonb")])
        return self._run(Op(sql, p, cv.first_of(Thread)))

    def get_thread(self, thread_id: str, user_id: Optional[str] = None) -> Optional[Thread]:
        """``chat_get_thread``: the thread, or None."""
        sql, p = call("chat_get_thread", [(thread_id, "text")], [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.one_of(Thread)))

    def list_threads(self, user_id: Optional[str] = None, *, max_threads: Optional[int] = 20,
                     before_updated_at: Optional[datetime] = None, before_id: Optional[str] = None,
                     metadata_filter: Optional[JSONObject] = None, page_offset: Optional[int] = None,
                     include_archived: bool = False) -> List[Thread]:
        """``chat_list_threads``: a user's threads newest first (``max_threads=None``: no limit)."""
        sql, p = call("chat_list_threads", [],
                      [("user_id", user_id, "text"), ("max_threads", max_threads, "int"),
                       ("before_updated_at", before_updated_at, "timestamptz"), ("before_id", before_id, "text"),
                       ("metadata_filter", cv.jsonb(metadata_filter), "jsonb"),
                       ("page_offset", page_offset, "int"), ("include_archived", include_archived, "boolean")],
                      keep_null=("max_threads",))
        return self._run(Op(sql, p, cv.all_of(Thread)))

    def update_thread(self, thread_id: str, *, title: Optional[str] = None, metadata: Optional[JSONObject] = None,
                      state: Optional[JSONObject] = None, user_id: Optional[str] = None) -> Optional[Thread]:
        """``chat_update_thread``: set the title, merge metadata, replace state; None when not found."""
        sql, p = call("chat_update_thread", [(thread_id, "text")],
                      [("title", title, "text"), ("metadata", cv.jsonb(metadata), "jsonb"),
                       ("state", cv.jsonb(state), "jsonb"), ("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.one_of(Thread)))

    def delete_thread(self, thread_id: str, user_id: Optional[str] = None) -> bool:
        """``chat_delete_thread``: False when not found; leaves a tombstone (saves get CS002)."""
        sql, p = call("chat_delete_thread", [(thread_id, "text")], [("user_id", user_id, "text")],
                      select="chat_delete_thread AS v")
        return self._run(Op(sql, p, cv.scalar))

    def fork_thread(self, thread_id: str, new_thread_id: Optional[str] = None, *, up_to_seq: Optional[int] = None,
                    user_id: Optional[str] = None) -> str:
        """``chat_fork_thread``: copy the messages up to ``up_to_seq``; returns the new id."""
        sql, p = call("chat_fork_thread", [(thread_id, "text")],
                      [("new_thread_id", new_thread_id, "text"), ("up_to_seq", up_to_seq, "bigint"),
                       ("user_id", user_id, "text")], select="chat_fork_thread AS v")
        return self._run(Op(sql, p, cv.scalar))

    # -- search ----------------------------------------------------------------

    def search(self, query: str, *, user_id: Optional[str] = None, thread_id: Optional[str] = None,
               roles: Optional[Sequence[str]] = None, since: Optional[datetime] = None,
               until: Optional[datetime] = None, max_results: Optional[int] = None, config: Optional[str] = None,
               after_rank: Optional[float] = None, after_thread_id: Optional[str] = None,
               after_seq: Optional[int] = None, include_archived: bool = False,
               snippet_options: Optional[str] = None) -> List[SearchResult]:
        """``chat_search``: ranked full-text search (``websearch_to_tsquery`` syntax)."""
        sql, p = call("chat_search", [(query, "text")],
                      [("user_id", user_id, "text"), ("thread_id", thread_id, "text"),
                       ("roles", None if roles is None else list(roles), "text[]"),
                       ("since", since, "timestamptz"), ("until", until, "timestamptz"),
                       ("max_results", max_results, "int"), ("config", config, "regconfig"),
                       ("after_rank", after_rank, "double precision"), ("after_thread_id", after_thread_id, "text"),
                       ("after_seq", after_seq, "bigint"), ("include_archived", include_archived, "boolean"),
                       ("snippet_options", snippet_options, "text")])
        return self._run(Op(sql, p, cv.all_of(SearchResult)))

    # -- branches and single messages -----------------------------------------

    def edit_message(self, thread_id: str, message_id: str, content: str, *, user_id: Optional[str] = None,
                     metadata: Optional[JSONObject] = None, new_message_id: Optional[str] = None) -> MessageRef:
        """``chat_edit_message``: a new version of a message (a sibling), made the active leaf."""
        sql, p = call("chat_edit_message", [(thread_id, "text"), (message_id, "text"), (content, "text")],
                      [("user_id", user_id, "text"), ("metadata", cv.jsonb(metadata), "jsonb"),
                       ("new_message_id", new_message_id, "text")])
        return self._run(Op(sql, p, cv.first_of(MessageRef)))

    def regenerate_message(self, thread_id: str, message_id: str, message: JSONObject,
                           user_id: Optional[str] = None) -> MessageRef:
        """``chat_regenerate_message``: another assistant reply, a sibling of ``message_id``."""
        sql, p = call("chat_regenerate_message", [(thread_id, "text"), (message_id, "text"),
                                                  (cv.jsonb(dict(message)), "jsonb")],
                      [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.first_of(MessageRef)))

    def switch_branch(self, thread_id: str, message_id: str, user_id: Optional[str] = None) -> MessageRef:
        """``chat_switch_branch``: make the branch through ``message_id`` active; returns its leaf."""
        sql, p = call("chat_switch_branch", [(thread_id, "text"), (message_id, "text")],
                      [("user_id", user_id, "text")], select="leaf_id AS id, leaf_seq AS seq")
        return self._run(Op(sql, p, cv.first_of(MessageRef)))

    def message_siblings(self, thread_id: str, message_id: str, user_id: Optional[str] = None) -> List[Sibling]:
        """``chat_message_siblings``: the versions of a message, oldest first."""
        sql, p = call("chat_message_siblings", [(thread_id, "text"), (message_id, "text")],
                      [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.all_of(Sibling)))

    def thread_tree(self, thread_id: str, user_id: Optional[str] = None) -> List[TreeNode]:
        """``chat_thread_tree``: every message of every branch, in seq order."""
        sql, p = call("chat_thread_tree", [(thread_id, "text")], [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.all_of(TreeNode)))

    def get_message(self, thread_id: str, message_id: str, user_id: Optional[str] = None) -> Optional[Message]:
        """``chat_get_message``: one message, or None."""
        sql, p = call("chat_get_message", [(thread_id, "text"), (message_id, "text")],
                      [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.one_of(Message)))

    def update_message(self, thread_id: str, message_id: str, *, content: Optional[str] = None,
                       metadata: Optional[JSONObject] = None, user_id: Optional[str] = None) -> Optional[Message]:
        """``chat_update_message``: change content / merge metadata in place."""
        sql, p = call("chat_update_message", [(thread_id, "text"), (message_id, "text")],
                      [("content", content, "text"), ("metadata", cv.jsonb(metadata), "jsonb"),
                       ("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.one_of(Message)))

    def delete_message(self, thread_id: str, message_id: str, *, user_id: Optional[str] = None,
                       with_replies: bool = False) -> int:
        """``chat_delete_message``: how many messages were deleted."""
        sql, p = call("chat_delete_message", [(thread_id, "text"), (message_id, "text")],
                      [("user_id", user_id, "text"), ("with_replies", with_replies, "boolean")],
                      select="chat_delete_message AS v")
        return self._run(Op(sql, p, cv.scalar))

    def delete_messages_after(self, thread_id: str, message_id: str, user_id: Optional[str] = None) -> int:
        """``chat_delete_messages_after``: delete what follows ``message_id`` on the active path."""
        sql, p = call("chat_delete_messages_after", [(thread_id, "text"), (message_id, "text")],
                      [("user_id", user_id, "text")], select="chat_delete_messages_after AS v")
        return self._run(Op(sql, p, cv.scalar))

    # -- streaming -------------------------------------------------------------

    def stream_start(self, thread_id: str, *, role: Optional[str] = None, message_id: Optional[str] = None,
                     model: Optional[str] = None, metadata: Optional[JSONObject] = None,
                     user_id: Optional[str] = None) -> MessageRef:
        """``chat_stream_start``: an empty ``in_progress`` message (or resume one)."""
        sql, p = call("chat_stream_start", [(thread_id, "text")],
                      [("role", role, "text"), ("message_id", message_id, "text"), ("model", model, "text"),
                       ("metadata", cv.jsonb(metadata), "jsonb"), ("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.first_of(MessageRef)))

    def stream_append(self, thread_id: str, message_id: str, delta: str, user_id: Optional[str] = None) -> int:
        """``chat_stream_append``: append text; returns the text's length so far (characters)."""
        sql, p = call("chat_stream_append", [(thread_id, "text"), (message_id, "text"), (delta, "text")],
                      [("user_id", user_id, "text")], select="chat_stream_append AS v")
        return self._run(Op(sql, p, cv.scalar))

    def stream_read(self, thread_id: str, message_id: str, from_offset: int = 0,
                    user_id: Optional[str] = None) -> Optional[StreamChunk]:
        """``chat_stream_read``: the text from ``from_offset`` on; None when not there."""
        sql, p = call("chat_stream_read", [(thread_id, "text"), (message_id, "text")],
                      [("from_offset", from_offset, "bigint"), ("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.one_of(StreamChunk)))

    def stream_finish(self, thread_id: str, message_id: str, *, status: Optional[str] = None,
                      finish_reason: Optional[str] = None, usage: Optional[JSONObject] = None,
                      user_id: Optional[str] = None) -> Message:
        """``chat_stream_finish``: the streamed text becomes the content; returns the message."""
        sql, p = call("chat_stream_finish", [(thread_id, "text"), (message_id, "text")],
                      [("status", status, "text"), ("finish_reason", finish_reason, "text"),
                       ("usage", cv.jsonb(usage), "jsonb"), ("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.first_of(Message)))

    # -- compaction ------------------------------------------------------------

    def compact(self, thread_id: str, up_to_seq: int, summary: Union[str, JSONObject], *,
                user_id: Optional[str] = None, token_count: Optional[int] = None) -> int:
        """``chat_compact``: a summary standing for the messages up to ``up_to_seq``: a string
        (a system message with that text), a chat message or an item. Returns its id."""
        sql, p = call("chat_compact", [(thread_id, "text"), (up_to_seq, "bigint"), (cv.jsonb(summary), "jsonb")],
                      [("user_id", user_id, "text"), ("token_count", token_count, "int")],
                      select="chat_compact AS v")
        return self._run(Op(sql, p, cv.scalar))

    def summaries(self, thread_id: str, user_id: Optional[str] = None) -> List[Summary]:
        """``chat_summaries``: oldest first."""
        sql, p = call("chat_summaries", [(thread_id, "text")], [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.all_of(Summary)))

    def delete_summary(self, thread_id: str, summary_id: int, user_id: Optional[str] = None) -> bool:
        """``chat_delete_summary``: False when it is not there."""
        sql, p = call("chat_delete_summary", [(thread_id, "text"), (summary_id, "bigint")],
                      [("user_id", user_id, "text")], select="chat_delete_summary AS v")
        return self._run(Op(sql, p, cv.scalar))

    # -- feedback --------------------------------------------------------------

    def set_feedback(self, thread_id: str, message_id: str, rating: int, *, tag: Optional[str] = None,
                     comment: Optional[str] = None, user_id: Optional[str] = None,
                     rater: Optional[str] = None) -> Feedback:
        """``chat_set_feedback``: rate a message (-10..10; 1 up, -1 down); replaces the rater's previous."""
        sql, p = call("chat_set_feedback", [(thread_id, "text"), (message_id, "text"), (rating, "int")],
                      [("tag", tag, "text"), ("comment", comment, "text"), ("user_id", user_id, "text"),
                       ("rater", rater, "text")])
        return self._run(Op(sql, p, cv.first_of(Feedback)))

    def delete_feedback(self, thread_id: str, message_id: str, *, user_id: Optional[str] = None,
                        rater: Optional[str] = None) -> bool:
        """``chat_delete_feedback``: False when there was none."""
        sql, p = call("chat_delete_feedback", [(thread_id, "text"), (message_id, "text")],
                      [("user_id", user_id, "text"), ("rater", rater, "text")], select="chat_delete_feedback AS v")
        return self._run(Op(sql, p, cv.scalar))

    def list_feedback(self, thread_id: str, user_id: Optional[str] = None) -> List[Feedback]:
        """``chat_list_feedback``: in message order."""
        sql, p = call("chat_list_feedback", [(thread_id, "text")], [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.all_of(Feedback)))

    # -- usage -----------------------------------------------------------------

    def thread_usage(self, thread_id: str, user_id: Optional[str] = None) -> Optional[ThreadUsage]:
        """``chat_thread_usage``: the thread's totals, or None."""
        sql, p = call("chat_thread_usage", [(thread_id, "text")], [("user_id", user_id, "text")])
        return self._run(Op(sql, p, cv.one_of(ThreadUsage)))

    def usage_daily(self, *, user_id: Optional[str] = None, since: Optional[datetime] = None,
                    until: Optional[datetime] = None, time_zone: Optional[str] = None) -> List[UsageRow]:
        """``chat_usage_daily``: messages and tokens per day, owner and model."""
        sql, p = call("chat_usage_daily", [],
                      [("user_id", user_id, "text"), ("since", since, "timestamptz"),
                       ("until", until, "timestamptz"), ("time_zone", time_zone, "text")])
        return self._run(Op(sql, p, cv.all_of(UsageRow)))

    # -- misc ------------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        """``chat_health``: ``{"status": "ok", "extension_version", ...}``."""
        sql, p = call("chat_health", [], select="chat_health AS v")
        return self._run(Op(sql, p, cv.scalar))

    def reset_thread(self, thread_id: str, user_id: Optional[str] = None) -> Thread:
        """Delete the thread and create it again with the same id, in one transaction
        (what a "clear conversation" needs: a deleted thread refuses saves with CS002)."""
        d_sql, d_p = call("chat_delete_thread", [(thread_id, "text")], [("user_id", user_id, "text")],
                          select="chat_delete_thread AS v")
        c_sql, c_p = call("chat_create_thread", [], [("id", thread_id, "text"), ("user_id", user_id, "text")])
        return self._run_tx([Op(d_sql, d_p, cv.scalar), Op(c_sql, c_p, cv.first_of(Thread))])[1]
