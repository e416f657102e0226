"""Errors.

chatstore's functions raise PostgreSQL errors, which psycopg turns into its
exception classes: ``psycopg.errors.InvalidParameterValue`` for ``22023``,
``psycopg.errors.UniqueViolation`` for ``23505``, and so on.  The client lets
them propagate unchanged, with one exception: chatstore's own SQLSTATE
``CS002`` (thread was deleted), for which psycopg has no class (it raises a
plain ``psycopg.DatabaseError`` whose ``sqlstate`` is ``"CS002"``), is raised
as :class:`ThreadDeleted`, a subclass of ``psycopg.DatabaseError``, so code
that catches psycopg errors still catches it.

The SQLSTATEs a caller can meet (doc/limits-errors-settings.md#sqlstates):

========  ==============================  =============================================
SQLSTATE  psycopg class                   cause
========  ==============================  =============================================
22003     NumericValueOutOfRange          a token count, usage value or rating out of range
22004     NullValueNotAllowed             a required argument is NULL
22007     InvalidDatetimeFormat           a message's created_at is not ISO 8601
22023     InvalidParameterValue           an empty id, a malformed message, a bad argument
2201W     InvalidRowCountInLimitClause    a negative max_threads (list_threads)
23505     UniqueViolation                 the message / thread id exists (also a deleted message's id)
23514     CheckViolation                  a value a table constraint refuses
40001     SerializationFailure            a write race under REPEATABLE READ / SERIALIZABLE: retry
42501     InsufficientPrivilege           another user's thread, no tenant set, no privilege
54000     ProgramLimitExceeded            a size limit
55000     ObjectNotInPrerequisiteState    the message is (not) being streamed
CS001     psycopg.DatabaseError           stale agent-state version (not used by this client)
CS002     :class:`ThreadDeleted`          a save into a deleted thread: create it again first
P0002     NoDataFound                     the thread or message is not there or not the caller's
========  ==============================  =============================================
"""

from __future__ import annotations

from typing import Optional

import psycopg

__all__ = ["ThreadDeleted", "SQLSTATE_THREAD_DELETED", "SQLSTATE_STALE_VERSION", "map_error"]

SQLSTATE_STALE_VERSION = "CS001"
SQLSTATE_THREAD_DELETED = "CS002"


class ThreadDeleted(psycopg.DatabaseError):
    """SQLSTATE ``CS002``: a save into a thread that was deleted.

    chatstore keeps a tombstone of a deleted thread, and a save into its id is
    refused until ``chat_create_thread`` (``ChatStore.create_thread``) makes the
    thread again.  ``diag`` and ``pgresult`` are those of the original error,
    which is also the exception's ``__cause__``.
    """

    sqlstate: Optional[str] = SQLSTATE_THREAD_DELETED


def map_error(e: psycopg.Error, encoding: str = "utf-8") -> psycopg.Error:
    """The exception to raise for a psycopg error: ``ThreadDeleted`` for CS002, else ``e``."""
    if getattr(e, "sqlstate", None) == SQLSTATE_THREAD_DELETED and not isinstance(e, ThreadDeleted):
        return ThreadDeleted(*e.args, info=e.pgresult, encoding=encoding)
    return e
