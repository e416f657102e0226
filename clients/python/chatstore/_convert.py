"""Row converters shared by ChatStore and AsyncChatStore."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Type, TypeVar

from psycopg.types.json import Jsonb

from .types import _Row

T = TypeVar("T", bound=_Row)


def all_of(cls: Type[T]) -> Callable[[List[dict]], List[T]]:
    return lambda rows: [cls.from_row(r) for r in rows]


def one_of(cls: Type[T]) -> Callable[[List[dict]], Optional[T]]:
    return lambda rows: cls.from_row(rows[0]) if rows else None


def first_of(cls: Type[T]) -> Callable[[List[dict]], T]:
    def conv(rows: List[dict]) -> T:
        if not rows:  # the functions that use it always return a row
            raise LookupError(f"no row for {cls.__name__}")
        return cls.from_row(rows[0])
    return conv


def scalar(rows: List[dict]) -> Any:
    return next(iter(rows[0].values())) if rows else None


def dicts(rows: List[dict]) -> List[dict]:
    return rows


def jsonb(value: Any) -> Optional[Jsonb]:
    """A Python value as a jsonb parameter; None stays None (SQL NULL)."""
    return None if value is None else Jsonb(value)


def json_list(value: Any) -> Jsonb:
    """A sequence of messages or items as a jsonb array."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("messages must be a sequence of JSON objects")
    return Jsonb([dict(m) if not isinstance(m, dict) and hasattr(m, "keys") else m for m in value])
