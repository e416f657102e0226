"""Result types: one dataclass per row shape the SQL functions return.

Every class has ``from_row(mapping)``, which ignores columns it does not know
(a later chatstore version may add some), and ``as_dict()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Dict, List, Mapping, Optional, Type, TypeVar

__all__ = [
    "SaveResult", "MessageRef", "Message", "Item", "Thread", "SearchResult", "Sibling",
    "TreeNode", "StreamChunk", "Summary", "Feedback", "ThreadUsage", "UsageRow",
]

T = TypeVar("T", bound="_Row")
JSON = Any


class _Row:
    @classmethod
    def from_row(cls: Type[T], row: Mapping[str, Any]) -> T:
        names = cls.__dict__.get("_names_cache")
        if names is None:
            names = frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            setattr(cls, "_names_cache", names)
        return cls(**{k: v for k, v in row.items() if k in names})

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class SaveResult(_Row):
    """``chat_save_messages`` / ``chat_append_messages``: what was inserted."""
    saved_count: int
    skipped_count: int
    saved_ids: List[str] = field(default_factory=list)
    first_seq: Optional[int] = None
    last_seq: Optional[int] = None


@dataclass
class MessageRef(_Row):
    """A message's id and seq (``chat_add_message``, ``chat_edit_message``, stream start, ...)."""
    id: str
    seq: int


@dataclass
class Message(_Row):
    """A row of ``chat_messages`` (``chat_history``, ``chat_get_message``, ...), without the
    internal fingerprint columns."""
    id: str
    seq: int
    role: str
    content: Optional[str] = None
    parts: Optional[JSON] = None
    name: Optional[str] = None
    model: Optional[str] = None
    tool_calls: Optional[List[JSON]] = None
    tool_call_id: Optional[str] = None
    metadata: Optional[Dict[str, JSON]] = None
    usage: Optional[Dict[str, JSON]] = None
    token_count: Optional[int] = None
    parent_id: Optional[str] = None
    user_id: Optional[str] = None
    created_at: Optional[datetime] = None
    parent_seq: Optional[int] = None
    edited_at: Optional[datetime] = None
    item: Optional[Dict[str, JSON]] = None
    status: Optional[str] = None
    finish_reason: Optional[str] = None
    thread_id: Optional[str] = None


@dataclass
class Item(_Row):
    """A row of ``chat_items``: the message as a Responses item."""
    seq: int
    id: str
    item: Dict[str, JSON]


@dataclass
class Thread(_Row):
    """A row of ``chat_threads`` (without the internal columns)."""
    id: str
    user_id: Optional[str] = None
    title: str = ""
    metadata: Dict[str, JSON] = field(default_factory=dict)
    state: Dict[str, JSON] = field(default_factory=dict)
    message_count: int = 0
    last_seq: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    last_message_at: Optional[datetime] = None
    archived: bool = False
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


@dataclass
class SearchResult(_Row):
    """A row of ``chat_search``."""
    thread_id: str
    message_id: str
    seq: int
    role: str
    rank: float
    snippet: Optional[str] = None
    created_at: Optional[datetime] = None


@dataclass
class Sibling(_Row):
    """A row of ``chat_message_siblings``: one version of a message."""
    id: str
    seq: int
    role: str
    content: Optional[str]
    position: int
    total: int
    active: bool
    created_at: Optional[datetime] = None


@dataclass
class TreeNode(_Row):
    """A row of ``chat_thread_tree``."""
    id: str
    seq: int
    parent_id: Optional[str]
    parent_seq: Optional[int]
    role: str
    content: Optional[str]
    position: int
    total: int
    active: bool
    created_at: Optional[datetime] = None


@dataclass
class StreamChunk(_Row):
    """A row of ``chat_stream_read``: the text from the offset asked for, and its end."""
    status: Optional[str]
    text: str
    end_offset: int


@dataclass
class Summary(_Row):
    """A row of ``chat_summaries``."""
    thread_id: str
    id: int
    up_to_seq: int
    summary: JSON
    token_count: Optional[int] = None
    created_at: Optional[datetime] = None


@dataclass
class Feedback(_Row):
    """A row of ``chat_feedback`` (``user_id`` is the rater)."""
    thread_id: str
    message_id: str
    user_id: Optional[str]
    rating: int
    tag: Optional[str] = None
    comment: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


@dataclass
class ThreadUsage(_Row):
    """``chat_thread_usage``: a thread's maintained totals."""
    message_count: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    last_message_at: Optional[datetime] = None


@dataclass
class UsageRow(_Row):
    """A row of ``chat_usage_daily``."""
    day: date
    user_id: Optional[str]
    model: Optional[str]
    messages: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    feedback_up: int
    feedback_down: int
