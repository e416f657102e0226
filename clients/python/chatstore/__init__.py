"""chatstore: a Python client for the chatstore PostgreSQL extension, on psycopg 3.

- ``ChatStore`` / ``AsyncChatStore``: typed wrappers over the SQL functions;
- ``ChatMessageHistory`` / ``AsyncChatMessageHistory``: LangChain's
  ``BaseChatMessageHistory`` protocol;
- ``AgentsSession``: the OpenAI Agents SDK's ``Session`` protocol;
- ``ThreadDeleted``: SQLSTATE CS002 (other errors are psycopg's own).
"""

from .agents import AgentsSession, encode_item
from .async_store import AsyncChatStore
from .errors import SQLSTATE_STALE_VERSION, SQLSTATE_THREAD_DELETED, ThreadDeleted
from .history import AsyncChatMessageHistory, ChatMessageHistory, to_chatstore_message, to_langchain_dict
from .store import ChatStore
from .types import (Feedback, Item, Message, MessageRef, SaveResult, SearchResult, Sibling, StreamChunk,
                    Summary, Thread, ThreadUsage, TreeNode, UsageRow)

__version__ = "0.1.0"

__all__ = [
    "ChatStore", "AsyncChatStore", "ChatMessageHistory", "AsyncChatMessageHistory", "AgentsSession",
    "ThreadDeleted", "SQLSTATE_THREAD_DELETED", "SQLSTATE_STALE_VERSION",
    "SaveResult", "MessageRef", "Message", "Item", "Thread", "SearchResult", "Sibling", "TreeNode",
    "StreamChunk", "Summary", "Feedback", "ThreadUsage", "UsageRow",
    "to_chatstore_message", "to_langchain_dict", "encode_item",
]
