"""The PostgreSQL dialect: one database a team shares, logins enforced by the server.

Installed with ``pip install 'fieldcase[postgres]'`` (psycopg 3). Each staff
member logs in as their own database role; the database, not the client, sets
who wrote each event, when, and its place in the chain, and lets no one edit or
delete an event (see :mod:`fieldcase.store.postgres_schema`).

The store's queries are written once, in the SQL both databases speak; this
module adapts the rest: ``?`` parameters become psycopg's, ``[name]`` quoting
becomes ``"name"``, SQLite's few functions the queries use exist in the schema,
reads go through views that mask what the caller may not see, and writes go to
the tables under them.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import FieldcaseError, WriteRefused
from .dialect import redact_url
from .postgres_schema import ALL_TABLES, GUARDS, WRITE_LOCK, migrate, up_to_date

try:
    import psycopg
    from psycopg import sql as pgsql
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import TransactionStatus
    from psycopg.rows import dict_row
except ImportError:  # pragma: no cover - the extra is not installed
    psycopg = None  # type: ignore[assignment]

#: The schema the tables live in, and the one whose views every read goes through.
DATA_SCHEMA = "fieldcase"
READ_SCHEMA = "fieldcase_read"

#: Rows a streamed query fetches from the server at a time.
STREAMED_ROWS = 2000
_streams = itertools.count(1)


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The store's SQL as psycopg takes it: ``?`` -> ``%s``, ``[x]`` -> ``"x"``, ``%`` -> ``%%``.

    Quoted strings are copied as they are (but for ``%``). ``INDEXED BY`` hints,
    which only SQLite has, are dropped.
    """
    sql = re.sub(r"\s+INDEXED BY \w+", "", sql)
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if char == "%":
            out.append("%%")
        elif quote is not None:
            out.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char in "[]":
            out.append('"')
        else:
            out.append(char)
    return "".join(out)


if psycopg is not None:

    class _BoolAsInt(Dumper):
        """Flags are integers in the schema, as on SQLite: ``True`` is 1."""

        oid = psycopg.postgres.types["int8"].oid

        def dump(self, obj: Any) -> bytes:
            return b"1" if obj else b"0"

    class _NumericAsNumber(Loader):
        """A sum of integer columns is numeric on PostgreSQL: an int, as SQLite gives."""

        def load(self, data: Any) -> Any:
            value = Decimal(bytes(data).decode())
            return int(value) if value == value.to_integral_value() else float(value)


class PgConnection:
    """One psycopg connection, in autocommit: transactions are begun explicitly."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        return self.conn.execute(translate(sql), tuple(parameters or ()))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor = self.conn.cursor(row_factory=dict_row)
        cursor.execute(translate(sql), tuple(params or ()))
        yield from cursor

    def run_script(self, sql: str) -> None:
        """Run ``sql`` as it is: statements with no parameters (the schema's)."""
        self.conn.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(translate(sql), rows)

    def commit(self) -> None:
        """Nothing to do: outside an explicit transaction every statement commits."""

    @property
    def in_transaction(self) -> bool:
        return bool(self.conn.info.transaction_status != TransactionStatus.IDLE)

    def close(self) -> None:
        self.conn.close()


def connect(url: str, busy_timeout: float = 30.0) -> Any:
    """A psycopg connection to ``url`` set up as fieldcase reads and writes."""
    if psycopg is None:
        raise FieldcaseError("PostgreSQL needs psycopg: pip install 'fieldcase[postgres]'")
    try:
        conn = psycopg.connect(
            url,
            autocommit=True,
            options=(
                # JIT compiling the masking views' many small expressions costs seconds
                # (a visit export at 2,000 rows: 21 s of 21.1); these queries need none.
                f"-c TimeZone=UTC -c jit=off -c lock_timeout={int(busy_timeout * 1000)}"
                f" -c search_path={READ_SCHEMA},{DATA_SCHEMA}"
            ),
            connect_timeout=max(int(busy_timeout), 2),
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "refused"
        raise FieldcaseError(
            f"cannot connect to the database {redact_url(url)}: {reason}"
        ) from None
    conn.adapters.register_dumper(bool, _BoolAsInt)
    conn.adapters.register_loader("numeric", _NumericAsNumber)
    return conn


class PostgresDialect:
    name = "postgresql"
    read_only = False
    stamps_events = True

    def __init__(self, url: str, *, busy_timeout: float) -> None:
        self.url = url
        self.db = PgConnection(connect(url, busy_timeout))
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.integrity_errors: tuple[type[Exception], ...] = (psycopg.errors.IntegrityError,)

    def read_only_refusal(self, doing: str) -> WriteRefused:
        reason = f"the database {redact_url(self.url)} is read-only for this login"
        return WriteRefused(
            f"{reason}: {doing}", path=redact_url(self.url), reason=reason, remedy="log in as staff"
        )

    def refused(self, exc: Exception, doing: str) -> WriteRefused | None:
        """A refusal by the database's own rules, as a person reads it."""
        if isinstance(exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.RaiseException):
            message = (exc.diag.message_primary or str(exc)).strip()
            reason = f"the database refused it ({message})"
            return WriteRefused(
                f"{reason}: {doing}",
                path=redact_url(self.url),
                reason=reason,
                remedy="ask a supervisor or the database's administrator",
            )
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            reason = "the database stayed busy with other people's changes"
            return WriteRefused(
                f"{reason}: {doing}", path=redact_url(self.url), reason=reason, remedy="try again"
            )
        if isinstance(exc, psycopg.errors.DiskFull):  # as SQLite's full disk reads
            reason, remedy = "the database server's disk is full", "free space on the server"
            return WriteRefused(
                f"{reason} writing the database {redact_url(self.url)}: {doing}; {remedy} and "
                "run the command again",
                path=redact_url(self.url),
                reason=reason,
                remedy=remedy,
            )
        return None

    # -- schema --------------------------------------------------------------------------

    def initialised(self) -> bool:
        row = self.db.execute("SELECT to_regclass('fieldcase.schema_migrations')").fetchone()
        return row[0] is not None

    def up_to_date(self) -> bool:
        return up_to_date(self.db)

    def migrate(self) -> list[str]:
        return migrate(self.db)

    # -- transactions --------------------------------------------------------------------

    def begin_write(self) -> None:
        self.db.execute("BEGIN")
        self.db.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    #: Byte order, which for UTF-8 is code point order, whatever the database's locale.
    code_point_order = ' COLLATE "C"'

    @contextmanager
    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """A server-side cursor: psycopg's ordinary one fetches every row at once.

        Such a cursor lives in a transaction: outside one, a read-only one is begun
        for it (one snapshot of the database).
        """
        begun = not self.db.in_transaction
        if begun:
            self.db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            with self.db.conn.cursor(name=f"fieldcase_stream_{next(_streams)}") as cursor:
                cursor.itersize = STREAMED_ROWS
                cursor.execute(translate(sql), tuple(params))
                yield cursor
        finally:
            if begun:
                self.db.execute("COMMIT")

    def keep_stamps(self) -> None:
        """For this transaction, insert events as they were written elsewhere: the
        trigger checks each one's link and hash instead of stamping it, and only for
        the database's administrator."""
        self.db.execute("SET LOCAL fieldcase.moving = 'on'")

    def write_table(self, table: str) -> str:
        """Rows are written to the table itself; reads go through its masking view."""
        return f'{DATA_SCHEMA}."{table}"'

    def upsert(self, table: str, columns: tuple[str, ...], values: list[list[Any]]) -> None:
        # An UPDATE, then an INSERT of what it did not find: unlike INSERT ... ON
        # CONFLICT, neither needs the right to read the personal columns it writes.
        # Which rows exist is asked once (staff may read every table's ids): then
        # one batch of INSERTs, one of UPDATEs, each sent without a round trip per row.
        index = columns.index("id")
        known = {
            row[0]
            for row in self.db.execute(
                f"SELECT id FROM {self.write_table(table)} WHERE id = ANY(?)",
                [[row[index] for row in values]],
            )
        }
        inserts, updates = [], []
        for row in values:
            if row[index] in known:
                updates.append((*row[:index], *row[index + 1 :], row[index]))
            else:
                known.add(row[index])  # a later row with this id updates it
                inserts.append(tuple(row))
        with self.db.conn.cursor() as cursor:
            if inserts:
                cursor.executemany(_insert_sql(table, columns), inserts)
            if updates:
                cursor.executemany(_update_sql(table, columns), updates)

    def start_bulk(self) -> None:
        """An import begins: nothing to tune per session here."""

    def end_bulk(self) -> None:
        """An import ends."""

    def set_aside(self) -> None:
        """Indexes stay on a server: other sessions' queries rely on them meanwhile."""

    def put_back(self, progress: Callable[[str], object] | None = None) -> None:
        """Nothing was set aside."""

    def finish_set_aside(self) -> bool:
        return False

    def drop_derived(self) -> None:
        """Nothing: a replay is rebuilt in a SQLite file, never on a server."""

    # -- who and when ----------------------------------------------------------------------

    def login(self) -> str | None:
        """The staff member logged in (``session_user``), or None for an administrator."""
        row = self.db.execute("SELECT id FROM staff WHERE id = session_user::text").fetchone()
        return None if row is None else str(row[0])

    def clock(self) -> Callable[[], dt.datetime]:
        """The database server's clock: the real time no client can set."""

        def now() -> dt.datetime:
            value = self.db.execute("SELECT clock_timestamp()").fetchone()[0]
            assert isinstance(value, dt.datetime)
            return value.replace(microsecond=0)

        return now

    def set_password(self, staff_id: str, password: str | None) -> None:
        """Give ``staff_id``'s login a password (None: certificate only, no password)."""
        self.db.execute("SELECT fieldcase.set_password(?, ?)", [staff_id, password])

    # -- the log after a write -------------------------------------------------------------

    def stamped(self, event_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        rows = self.db.execute(
            "SELECT id, actor, recorded_at, prev_hash, hash FROM events WHERE id = ANY(?)",
            [list(event_ids)],
        )
        return {row[0]: tuple(row[1:]) for row in rows}

    def redact(self, redactions: Sequence[tuple[int, str]]) -> None:
        """Through the one function allowed to withhold an event's personal data."""
        for event_id, payload in redactions:
            self.db.execute("SELECT fieldcase.redact_event(?, ?)", [event_id, payload])

    # -- aggregates ------------------------------------------------------------------------

    def joined(self, value: str, separator: str, order: str, *, distinct: bool = False) -> str:
        """string_agg, ordered inside the call (built in: a joining aggregate written in
        SQL costs a function call per row). DISTINCT would order by the values
        themselves, so each value is kept where it first comes in ``order`` instead."""
        if not distinct:
            return f"string_agg({value}, {separator} ORDER BY {order})"
        return (
            f"(SELECT string_agg(firsts.value, {separator} ORDER BY firsts.place)"
            " FROM (SELECT value, min(place) AS place"
            f" FROM unnest(array_agg({value} ORDER BY {order})) WITH ORDINALITY"
            " AS joined(value, place) GROUP BY value) firsts)"
        )

    # -- search --------------------------------------------------------------------------

    def search(self, text: str, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
        """Case-insensitive substring search; trigram indexes (pg_trgm) make it fast."""
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts = [f"lower({column}) LIKE ?" for column in columns]
        return "(" + " OR ".join(parts) + ")", [pattern + "%"] * len(columns)

    # -- the database itself ---------------------------------------------------------------

    def backup_to(self, target: Path, progress: Callable[[int, int], object] | None) -> None:
        raise FieldcaseError(
            "a PostgreSQL database is backed up with pg_dump or the server's own backups "
            "(docs/deploy.md), not with 'fieldcase backup'"
        )

    def missing_guards(self) -> list[str]:
        present = {
            row[0]
            for row in self.db.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'fieldcase.events'::regclass"
                " AND tgenabled != 'D'"
            )
        }
        return [name for name in GUARDS if name not in present]

    def pack_signature(self, digest: str) -> str:
        # The secret never leaves the database: a function of its owner signs.
        return str(self.db.execute("SELECT fieldcase.pack_signature(?)", [digest]).fetchone()[0])

    def integrity(self) -> str:
        """``'ok'``, or which masking views are gone (reads would then fail or show all)."""
        present = {
            row[0]
            for row in self.db.execute(
                "SELECT viewname FROM pg_views WHERE schemaname = 'fieldcase_read'"
            )
        }
        missing = [table for table in ALL_TABLES if table not in present]
        return f"the masking views of {', '.join(missing)} are missing" if missing else "ok"

    def scrub(self) -> bool:
        return True


@functools.cache
def _update_sql(table: str, columns: tuple[str, ...]) -> Any:
    return pgsql.SQL("UPDATE {} SET {} WHERE id = %s").format(
        pgsql.Identifier(DATA_SCHEMA, table),
        pgsql.SQL(", ").join(
            pgsql.SQL("{} = %s").format(pgsql.Identifier(c)) for c in columns if c != "id"
        ),
    )


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> Any:
    return pgsql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        pgsql.Identifier(DATA_SCHEMA, table),
        pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns),
        pgsql.SQL(", ").join([pgsql.Placeholder()] * len(columns)),
    )
