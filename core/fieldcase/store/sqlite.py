"""The SQLite dialect: one file on one machine, opened with Python's ``sqlite3``.

What differs from PostgreSQL lives here and in :mod:`fieldcase.store.postgres`:
opening, the schema's migrations, how a write transaction starts, full-text
search, backups and the file's own checks. Every query the services need is
written once, in :mod:`fieldcase.store`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import FieldcaseError, WriteRefused
from ..outputs import disk_refusal, sqlite_result_code
from ..rows import Connection

#: The last migration in :mod:`fieldcase.migrations` (a test keeps them in step):
#: a database that has it needs no migrating, and sqlite-utils is not even loaded.
LATEST_MIGRATION = "025_packs"

#: The triggers that refuse edits and deletions of events.
GUARDS = ("events_no_update", "events_no_delete")

#: The page cache (KiB) of a scratch file (a replay's): a fixed size, whatever the log's.
SCRATCH_CACHE_KIB = 16384


def read_only_uri(path: str | Path) -> str:
    """The URI that opens ``path`` for reading only: nothing in or beside it is written."""
    return f"{Path(path).absolute().as_uri()}?mode=ro"


def has_event(path: Path, event_type: str) -> bool:
    """Whether the fieldcase database at ``path`` holds an event of ``event_type`` (read-only)."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            row = conn.execute(
                "SELECT 1 FROM events WHERE type = ? LIMIT 1", [event_type]
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return row is not None


def staff_and_institutions(path: Path) -> tuple[set[str], set[str]] | None:
    """(staff ids, institutions of cases) of the database at ``path``, read-only; None if none."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            staff = {row[0] for row in conn.execute("SELECT id FROM staff")}
            institutions = {
                row[0] for row in conn.execute("SELECT DISTINCT institution FROM cases")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return staff, institutions


#: From this many rows, an upsert stages them and writes them with one statement:
#: the search index (a table's triggers) then writes its pages once per batch, not
#: once per row, which took a tenth of a large import's time.
STAGED_ROWS = 64

#: The marker table of a bulk import's set-aside indexes, and the lock file beside
#: the database its importer holds meanwhile.
SET_ASIDE = "fieldcase_set_aside"
BULK_LOCK_SUFFIX = "-bulk"
#: What a bulk import sets aside: every index of ``cases`` but the unique ones,
#: and the search index's triggers (the search index is rebuilt from the table).
_SET_ASIDE_OBJECTS = (
    "((type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%')"
    " OR (type = 'trigger' AND name LIKE 'cases_fts_%'))"
)

#: An import's page cache (KiB): a batch's index pages are written once, not again
#: and again as they are evicted (the default is 2 MB).
IMPORT_CACHE_KIB = 65536


@functools.cache
def _upsert_sql(table: str, columns: tuple[str, ...], source: str | None = None) -> str:
    names = ", ".join(f"[{c}]" for c in columns)
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c != "id")
    # An INSERT ... SELECT needs a WHERE before ON CONFLICT (SQLite's parser).
    rows = f"VALUES ({marks})" if source is None else f"SELECT {names} FROM {source} WHERE true"
    order = "" if source is None else " ORDER BY rowid"
    return f"INSERT INTO [{table}] ({names}) {rows}{order} ON CONFLICT(id) DO UPDATE SET {updates}"


class SQLiteDialect:
    """A plain SQLite file in WAL mode (or ``:memory:``).

    ``read_only`` opens the file for reading only, in the journal mode it is
    in: a backup stays in rollback-journal mode, which (unlike WAL) opens from
    read-only media. A file this process may not write is opened so as well.
    """

    name = "sqlite"
    #: Errors of this database library, and the one a broken constraint raises.
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    #: The database does not stamp events itself: the client's actor and clock stand.
    stamps_events = False

    def __init__(
        self, path: str, *, busy_timeout: float, read_only: bool, scratch: bool = False
    ) -> None:
        self.path = path
        self.read_only = read_only
        #: The lock a bulk import holds while indexes are set aside (see set_aside).
        self._holding: sqlite3.Connection | None = None
        try:
            self.db = Connection(self._connect(busy_timeout))
            if self.path != ":memory:" and not self.read_only and not scratch:
                try:
                    self.db.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError as exc:
                    if sqlite_result_code(exc) != sqlite3.SQLITE_READONLY:
                        raise
                    self.db.close()
                    self.read_only = True
                    self.db = Connection(self._connect(busy_timeout))
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # Deleted and overwritten content is zeroed, not left in free pages: a
            # purge must really remove personal data from the file.
            self.db.execute("PRAGMA secure_delete=ON")
            if scratch:
                self._make_scratch()
        except sqlite3.DatabaseError as exc:  # a folder, or a file that is no database
            if self.read_only and sqlite_result_code(exc) == sqlite3.SQLITE_READONLY:
                raise FieldcaseError(
                    f"cannot open the database {self.path}: it is in WAL mode, which writes "
                    "beside the file to read it, and its folder is read-only here; copy it to "
                    "a writable folder ('fieldcase backup' copies open from read-only media)"
                ) from None
            raise FieldcaseError(f"cannot open the database {self.path}: {exc}") from None

    def _make_scratch(self) -> None:
        """A file only this connection uses, thrown away after: its journal kept in
        memory, nothing synced to disk, and a page cache to write pages out once
        (a replay into it took a third longer in WAL mode than in memory)."""
        self.db.execute("PRAGMA journal_mode=MEMORY")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(f"PRAGMA cache_size = -{SCRATCH_CACHE_KIB}")

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        if self.read_only and self.path != ":memory:":
            return sqlite3.connect(read_only_uri(self.path), uri=True, timeout=busy_timeout)
        return sqlite3.connect(self.path, timeout=busy_timeout)

    def read_only_refusal(self, doing: str) -> WriteRefused:
        reason = f"the database {self.path} is read-only here (a read-only file, folder or disc)"
        remedy = "run the command on a writable copy"
        return WriteRefused(
            f"{reason}: {doing}; {remedy}", path=self.path, reason=reason, remedy=remedy
        )

    def refused(self, exc: Exception, doing: str) -> WriteRefused | None:
        """``exc`` as a person reads it if the disk refused a write to the database, else None."""
        if not isinstance(exc, sqlite3.Error):
            return None
        if sqlite_result_code(exc) == sqlite3.SQLITE_READONLY:
            return self.read_only_refusal(doing)
        refusal = disk_refusal(exc)
        if refusal is None:
            return None
        reason, remedy = refusal
        return WriteRefused(
            f"{reason} writing the database {self.path}: {doing}; {remedy} and run the "
            "command again",
            path=self.path,
            reason=reason,
            remedy=remedy,
        )

    # -- schema ----------------------------------------------------------------------

    def initialised(self) -> bool:
        """A file is made a database by opening it; the schema follows on first use."""
        return True

    def up_to_date(self) -> bool:
        try:
            return bool(
                self.db.execute(
                    "SELECT 1 FROM _sqlite_migrations WHERE migration_set = 'fieldcase'"
                    " AND name = ?",
                    [LATEST_MIGRATION],
                ).fetchone()
            )
        except sqlite3.OperationalError:  # no migrations table yet: a new database
            return False

    def migrate(self) -> list[str]:
        import sqlite_utils

        from ..migrations import migrations

        db = sqlite_utils.Database(self.db.conn, execute_plugins=False)
        pending = [m.name for m in migrations.pending(db)]
        try:
            migrations.apply(db)
        except sqlite3.Error as exc:
            # Each migration is its own transaction: those before the failed one stay.
            refused = self.refused(
                exc,
                "its schema could not be brought up to date (the step under way was rolled back)",
            )
            if refused is None:
                raise
            raise refused from None
        return pending

    # -- transactions ------------------------------------------------------------------

    def begin_write(self) -> None:
        """An immediate transaction: it takes the file's write lock now, not at the first write."""
        self.db.execute("BEGIN IMMEDIATE")

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    #: SQLite orders text by its UTF-8 bytes (BINARY): code point order already.
    code_point_order = ""

    @contextmanager
    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[sqlite3.Cursor]:
        """A cursor steps through its rows as they are read: none are fetched ahead."""
        cursor = self.db.conn.execute(sql, params)
        try:
            yield cursor
        finally:
            cursor.close()

    def keep_stamps(self) -> None:
        """Events are written as they come: nothing to allow."""

    def write_table(self, table: str) -> str:
        """The name rows of ``table`` are written to (the same one they are read from)."""
        return f'"{table}"'

    def upsert(self, table: str, columns: tuple[str, ...], values: list[list[Any]]) -> None:
        """Insert each row of ``values`` (in ``columns`` order), or update it by id.

        Many rows go through a temporary table and one INSERT ... SELECT, in
        order: each row's triggers fire as they would, once the statement ends.
        """
        if len(values) < STAGED_ROWS:
            self.db.executemany(_upsert_sql(table, columns), values)
            return
        names = ", ".join(f"[{c}]" for c in columns)
        self.db.execute("DROP TABLE IF EXISTS temp.staged_rows")
        self.db.execute(f"CREATE TEMP TABLE staged_rows ({names})")
        marks = ", ".join("?" * len(columns))
        self.db.executemany(f"INSERT INTO temp.staged_rows VALUES ({marks})", values)
        self.db.execute(_upsert_sql(table, columns, "temp.staged_rows"))
        self.db.execute("DROP TABLE temp.staged_rows")

    def start_bulk(self) -> None:
        """An import begins: a page cache large enough for a batch's index pages."""
        self.db.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")

    def end_bulk(self) -> None:
        self.db.execute("PRAGMA cache_size = -2000")

    # -- indexes set aside for a bulk import ---------------------------------------------

    def set_aside(self) -> None:
        """Drop the ``cases`` indexes and search triggers nothing depends on for
        correctness, keeping their definitions in a marker table, in one transaction.

        The unique index on (institution, reference) stays: it keeps references
        unique. While the marker is there the importer holds a lock beside the
        file; :meth:`finish_set_aside` in any later command puts everything back
        when no live import holds it (a killed one leaves it released).
        """
        lock = self._bulk_lock()
        if lock is None:
            return  # another import has them set aside already: it puts them back
        self._holding = lock
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self._marked():
                self.db.execute("ROLLBACK")
                self._restore()  # one a killed import left: put back, then set aside anew
                self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                f"CREATE TABLE {SET_ASIDE} (name TEXT PRIMARY KEY, type TEXT NOT NULL,"
                " sql TEXT NOT NULL)"
            )
            self.db.execute(
                f"INSERT INTO {SET_ASIDE} SELECT name, type, sql FROM sqlite_master"
                f" WHERE tbl_name = 'cases' AND {_SET_ASIDE_OBJECTS} ORDER BY name"
            )
            for name, kind in self.db.execute(f"SELECT name, type FROM {SET_ASIDE}").fetchall():
                self.db.execute(f'DROP {kind.upper()} "{name}"')
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            self._release()
            raise

    def put_back(self, progress: Callable[[str], object] | None = None) -> None:
        """Rebuild what :meth:`set_aside` dropped (the importer's own end of it)."""
        if self._holding is not None:
            try:
                self._restore(progress)
            except sqlite3.Error as exc:
                # The rows are in; the marker stays, and the next command rebuilds.
                logging.getLogger("fieldcase").warning(
                    "the cases' indexes could not be rebuilt (%s): the next command that "
                    "writes to %s rebuilds them",
                    exc,
                    self.path,
                )
            finally:
                self._release()

    def finish_set_aside(self) -> bool:
        """Put back indexes a killed import left set aside; True if it did.

        Nothing to do (one look at the schema) unless the marker or the lock file
        is there; left alone while the import that set them aside is still running.
        A lock file no one holds, from an import killed before it set anything
        aside, is removed.
        """
        if self.read_only or self.path == ":memory:":
            return False
        marked = self._marked()
        if not marked and not Path(self.path + BULK_LOCK_SUFFIX).exists():
            return False
        try:
            lock = self._bulk_lock()
        except FieldcaseError:
            if marked:
                raise  # the rebuild needs the lock: the file in its way is named
            return False  # a file that is not ours: left alone
        if lock is None:
            return False  # the import is running: it puts them back itself
        self._holding = lock
        try:
            if marked:
                logging.getLogger("fieldcase").warning(
                    "an import into %s was stopped with the cases' indexes set aside: "
                    "rebuilding them first (nothing was lost)",
                    self.path,
                )
            return marked and self._restore()
        finally:
            self._release()

    def drop_derived(self) -> None:
        """Drop, for good, what :meth:`set_aside` sets aside: on a scratch file (a
        replay's), which only the tables' rows are read from."""
        derived = (
            "SELECT name, type FROM sqlite_master"
            f" WHERE tbl_name = 'cases' AND {_SET_ASIDE_OBJECTS}"
        )
        for name, kind in self.db.execute(derived).fetchall():
            self.db.execute(f'DROP {kind.upper()} "{name}"')
        self.db.commit()

    def _marked(self) -> bool:
        found = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [SET_ASIDE]
        ).fetchone()
        return found is not None

    def _restore(self, progress: Callable[[str], object] | None = None) -> bool:
        """Recreate the set-aside objects, rebuild the search index, drop the marker:
        one transaction, so a kill during it leaves the marker for the next command."""
        cache = self.db.execute("PRAGMA cache_size").fetchone()[0]
        self.db.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if not self._marked():  # another command put them back meanwhile
                self.db.execute("ROLLBACK")
                return False
            kept = self.db.execute(f"SELECT name, type, sql FROM {SET_ASIDE} ORDER BY name")
            for name, kind, sql in kept.fetchall():
                if progress is not None:
                    progress(name)
                self.db.execute(sql)
                if kind == "trigger" and name == "cases_fts_insert":
                    # Rows written meanwhile reached the table, not the index: all of
                    # it is rebuilt from the table, as if every trigger had fired.
                    self.db.execute("INSERT INTO cases_fts(cases_fts) VALUES ('rebuild')")
            self.db.execute(f"DROP TABLE {SET_ASIDE}")
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        finally:
            self.db.execute(f"PRAGMA cache_size = {int(cache)}")
        return True

    def _bulk_lock(self) -> sqlite3.Connection | None:
        """An exclusive lock on a file beside the database, or None if another
        process holds it. The operating system releases it when the process dies,
        so a lock that can be taken means no import is running."""
        if self._holding is not None:
            return self._holding
        if self.path == ":memory:":
            return sqlite3.connect(":memory:", isolation_level=None)
        lock_path = self.path + BULK_LOCK_SUFFIX
        conn = sqlite3.connect(lock_path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError:  # busy: an import holds it
            conn.close()
            return None
        except sqlite3.DatabaseError:
            conn.close()
            raise FieldcaseError(
                f"{lock_path} is not the lock file fieldcase keeps beside {self.path} while "
                "a large import runs; move it away and run the command again (or import "
                "with --indexes keep)"
            ) from None
        return conn

    def _release(self) -> None:
        lock, self._holding = self._holding, None
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()
            if self.path != ":memory:":
                Path(self.path + BULK_LOCK_SUFFIX).unlink(missing_ok=True)

    # -- who and when -----------------------------------------------------------------

    def login(self) -> str | None:
        """The staff member the database knows the caller as: none, on a file."""
        return None

    def clock(self) -> Callable[[], dt.datetime] | None:
        """The database's clock, when it has one the caller cannot set: none here."""
        return None

    def set_password(self, staff_id: str, password: str | None) -> None:
        """Logins are the database's business; a file has none."""

    # -- the log after a write -----------------------------------------------------------

    def stamped(self, event_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        return {}

    def redact(self, redactions: Sequence[tuple[int, str]]) -> None:
        """Replace purged events' payloads (the triggers let nothing else change)."""
        self.db.executemany(
            "UPDATE events SET payload = ? WHERE id = ?",
            [(payload, event_id) for event_id, payload in redactions],
        )

    # -- aggregates --------------------------------------------------------------------

    def joined(self, value: str, separator: str, order: str, *, distinct: bool = False) -> str:
        """group_concat, which before SQLite 3.44 takes no ORDER BY: it joins the rows in
        the order they are read, so the query reads them by an index in ``order``
        (named with INDEXED BY). With DISTINCT it takes one argument, and joins by commas."""
        if distinct:
            if separator != "','":
                raise ValueError(f"SQLite joins distinct values by commas, not {separator}")
            return f"group_concat(DISTINCT {value})"
        return f"group_concat({value}, {separator})"

    # -- search -----------------------------------------------------------------------

    def search(self, text: str, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
        """A clause finding ``text`` in any of ``columns`` of ``cases`` (case-insensitive)."""
        if len(text) >= 3:
            phrase = '"' + text.replace('"', '""') + '"'
            clause = "id IN (SELECT rowid FROM cases_fts WHERE cases_fts MATCH ?)"
            return clause, ["{" + " ".join(columns) + "} : " + phrase]
        # Trigrams need three characters; a two-character name (王芳) is scanned for.
        parts = [f"instr(lower(coalesce({column}, '')), ?) > 0" for column in columns]
        return "(" + " OR ".join(parts) + ")", [text.lower()] * len(columns)

    # -- the file itself ----------------------------------------------------------------

    def backup_to(self, target: Path, progress: Callable[[int, int], object] | None) -> None:
        try:
            copy = sqlite3.connect(target)
            try:
                self.db.conn.backup(
                    copy,
                    pages=4096,
                    progress=(lambda _, left, total: progress(total - left, total))
                    if progress
                    else None,
                )
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        except sqlite3.Error as exc:
            refusal = disk_refusal(exc)
            if refusal is None:
                raise
            reason, remedy = refusal
            raise WriteRefused(
                f"{reason} writing {target}", path=target, reason=reason, remedy=remedy
            ) from None

    def missing_guards(self) -> list[str]:
        present = {
            row[0]
            for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        return [name for name in GUARDS if name not in present]

    def pack_signature(self, digest: str) -> str:
        secret = self.db.execute("SELECT secret FROM office_keys WHERE id = 1").fetchone()[0]
        return hashlib.sha256(bytes(secret) + bytes.fromhex(digest)).hexdigest()

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    def scrub(self) -> bool:
        self.db.execute("INSERT INTO cases_fts(cases_fts) VALUES ('optimize')")
        self.db.commit()
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy
