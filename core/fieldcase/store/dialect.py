"""What a store's dialect provides: the few things SQLite and PostgreSQL do differently."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ..errors import WriteRefused

#: What ``--db`` names a PostgreSQL database with (anything else is a SQLite file).
SERVER_SCHEMES = ("postgresql://", "postgres://")


def redact_url(url: str) -> str:
    """``url`` without its password, to be shown."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_server_url(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a SQLite file."""
    return target.startswith(SERVER_SCHEMES)


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    @property
    def description(self) -> Any: ...


class Connection(Protocol):
    """The calls the store makes on a connection, the same on both databases."""

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any: ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def commit(self) -> None: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


class Dialect(Protocol):
    name: str
    db: Any
    read_only: bool
    errors: tuple[type[Exception], ...]
    integrity_errors: tuple[type[Exception], ...]
    #: Whether the database sets each event's actor, real time and hash itself.
    stamps_events: bool

    def read_only_refusal(self, doing: str) -> WriteRefused: ...

    def refused(self, exc: Exception, doing: str) -> WriteRefused | None: ...

    def initialised(self) -> bool: ...

    def up_to_date(self) -> bool: ...

    def migrate(self) -> list[str]: ...

    def begin_write(self) -> None: ...

    def read_transaction(self) -> AbstractContextManager[None]: ...

    #: What follows a text column in ORDER BY to order it by code points, as
    #: Python's ``sorted`` does, whatever the database's collation.
    code_point_order: str

    def stream(self, sql: str, params: Sequence[Any] = ()) -> AbstractContextManager[Cursor]:
        """The rows of ``sql`` a batch at a time, never all held at once; a read-only query."""
        ...

    def keep_stamps(self) -> None: ...

    def write_table(self, table: str) -> str: ...

    def upsert(self, table: str, columns: tuple[str, ...], values: list[list[Any]]) -> None: ...

    def start_bulk(self) -> None: ...

    def end_bulk(self) -> None: ...

    def set_aside(self) -> None: ...

    def put_back(self, progress: Callable[[str], object] | None = None) -> None: ...

    def finish_set_aside(self) -> bool: ...

    def drop_derived(self) -> None: ...

    def login(self) -> str | None: ...

    def clock(self) -> Callable[[], dt.datetime] | None: ...

    def set_password(self, staff_id: str, password: str | None) -> None: ...

    def pack_signature(self, digest: str) -> str:
        """SHA-256 (hex) over the office's pack secret and ``digest`` (hex), worked out
        where the secret is kept: by the client for a file, in the database on a server."""
        ...

    def stamped(self, event_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]: ...

    def redact(self, redactions: Sequence[tuple[int, str]]) -> None: ...

    def search(self, text: str, columns: tuple[str, ...]) -> tuple[str, list[Any]]: ...

    def joined(self, value: str, separator: str, order: str, *, distinct: bool = False) -> str:
        """An aggregate joining a group's ``value`` text with ``separator``, in ``order``;
        ``distinct``: each value once, where it first comes."""
        ...

    def backup_to(self, target: Path, progress: Callable[[int, int], object] | None) -> None: ...

    def missing_guards(self) -> list[str]: ...

    def integrity(self) -> str: ...

    def scrub(self) -> bool: ...
