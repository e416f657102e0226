"""How a call reaches the database: one SQL statement (an ``Op``) on a
connection, a pool's connection, sync or async.

Transactions: on an autocommit connection each statement is its own
transaction; on a connection that is not autocommit and has no transaction
open, a call runs in ``conn.transaction()`` and is committed when it returns;
inside a transaction the caller opened, a call joins it (the caller commits).
A pool-like object (anything with a ``connection()`` context manager, such as
psycopg_pool's pools) lends a connection per call.  ``run_tx`` runs several
statements atomically (a savepoint inside the caller's transaction).
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Generic, Iterator, List, Optional, Sequence, Tuple, TypeVar

import psycopg
from psycopg import pq
from psycopg.rows import dict_row

from .errors import map_error

R = TypeVar("R")
Row = dict


@dataclass
class Op(Generic[R]):
    sql: str
    params: List[Any]
    convert: Callable[[List[Row]], R]


def call(fn: str, positional: Sequence[Tuple[Any, str]], named: Sequence[Tuple[str, Any, str]] = (),
         keep_null: Sequence[str] = (), select: str = "*") -> Tuple[str, List[Any]]:
    """``SELECT <select> FROM fn(%s::type, ..., name => %s::type)``: named arguments left
    out when None (the function's default applies), unless listed in ``keep_null``."""
    args: List[str] = []
    params: List[Any] = []
    for value, typ in positional:
        args.append(f"%s::{typ}")
        params.append(value)
    for name, value, typ in named:
        if value is None and name not in keep_null:
            continue
        args.append(f"{name} => %s::{typ}")
        params.append(value)
    return f"SELECT {select} FROM {fn}({', '.join(args)})", params


def _mapped(e: psycopg.Error, conn: Any) -> psycopg.Error:
    try:
        encoding = conn.info.encoding
    except Exception:  # pragma: no cover - a closed connection
        encoding = "utf-8"
    return map_error(e, encoding)


class SyncRunner:
    def __init__(self, target: Any) -> None:
        if isinstance(target, psycopg.Connection):
            self._conn: Optional[psycopg.Connection[Any]] = target
            self._pool = None
        elif callable(getattr(target, "connection", None)):
            self._conn = None
            self._pool = target
        else:
            raise TypeError("expected a psycopg Connection or a pool with .connection()")

    @contextmanager
    def connection(self) -> Iterator["psycopg.Connection[Any]"]:
        if self._conn is not None:
            yield self._conn
        else:
            with self._pool.connection() as conn:  # type: ignore[union-attr]
                yield conn

    @staticmethod
    def _exec(conn: "psycopg.Connection[Any]", op: Op[R]) -> R:
        try:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(op.sql, op.params)
                rows = cur.fetchall() if cur.description is not None else []
        except psycopg.Error as e:
            mapped = _mapped(e, conn)
            if mapped is e:
                raise
            raise mapped from e
        return op.convert(rows)

    def run(self, op: Op[R]) -> R:
        with self.connection() as conn:
            if conn.autocommit or conn.info.transaction_status != pq.TransactionStatus.IDLE:
                return self._exec(conn, op)
            with conn.transaction():
                return self._exec(conn, op)

    def run_tx(self, ops: Sequence[Op[Any]]) -> List[Any]:
        with self.connection() as conn:
            with conn.transaction():
                return [self._exec(conn, op) for op in ops]


class AsyncRunner:
    def __init__(self, target: Any) -> None:
        if isinstance(target, psycopg.AsyncConnection):
            self._conn: Optional[psycopg.AsyncConnection[Any]] = target
            self._pool = None
        elif isinstance(target, psycopg.Connection):
            raise TypeError("expected a psycopg AsyncConnection (use ChatStore for a Connection)")
        elif callable(getattr(target, "connection", None)):
            self._conn = None
            self._pool = target
        else:
            raise TypeError("expected a psycopg AsyncConnection or an async pool with .connection()")

    @asynccontextmanager
    async def connection(self) -> AsyncIterator["psycopg.AsyncConnection[Any]"]:
        if self._conn is not None:
            yield self._conn
        else:
            async with self._pool.connection() as conn:  # type: ignore[union-attr]
                yield conn

    @staticmethod
    async def _exec(conn: "psycopg.AsyncConnection[Any]", op: Op[R]) -> R:
        try:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(op.sql, op.params)
                rows = await cur.fetchall() if cur.description is not None else []
        except psycopg.Error as e:
            mapped = _mapped(e, conn)
            if mapped is e:
                raise
            raise mapped from e
        return op.convert(rows)

    async def run(self, op: Op[R]) -> R:
        async with self.connection() as conn:
            if conn.autocommit or conn.info.transaction_status != pq.TransactionStatus.IDLE:
                return await self._exec(conn, op)
            async with conn.transaction():
                return await self._exec(conn, op)

    async def run_tx(self, ops: Sequence[Op[Any]]) -> List[Any]:
        async with self.connection() as conn:
            async with conn.transaction():
                return [await self._exec(conn, op) for op in ops]
