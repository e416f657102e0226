"""Shared by the tests: connections to the test database (libpq's PG* environment,
PGDATABASE set by test/client/python_client/run.sh) and fresh thread ids."""

import uuid
from contextlib import contextmanager

import psycopg


def connect(autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(autocommit=autocommit)


async def aconnect(autocommit: bool = True) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(autocommit=autocommit)


def tid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class FakePool:
    """What ChatStore needs of psycopg_pool.ConnectionPool (not installed here): a
    connection() context manager lending a connection, committing on success."""

    def __init__(self) -> None:
        self.conn = connect(autocommit=False)
        self.lent = 0

    @contextmanager
    def connection(self):
        self.lent += 1
        try:
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class AsyncFakePool:
    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self.conn = conn
        self.lent = 0

    def connection(self):
        pool = self

        class _Ctx:
            async def __aenter__(self):
                pool.lent += 1
                return pool.conn

            async def __aexit__(self, et, ev, tb):
                if et is None:
                    await pool.conn.commit()
                else:
                    await pool.conn.rollback()
                return False

        return _Ctx()
