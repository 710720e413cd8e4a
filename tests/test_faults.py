"""Faults of the machine: a full disk, read-only media (issue 13, item 10).

The disk is made full for real: the command runs in its own process with a
file size limit (``RLIMIT_FSIZE``), so every write past it fails as it would on
a full disk (Python ignores ``SIGXFSZ``; the write returns ``EFBIG``, which
SQLite reports as a disk I/O error). Read-only media are a folder and a file
without write permission, read by a process the permissions bind: when the
tests run as root, one without root's power to override them.

Backups, journal modes and read-only media are a SQLite file's; what a full disk
does to an import or an export runs on PostgreSQL too. There the database's disk
is the server's: its being full is the server's error (SQLSTATE 53100), raised
here by a trigger the administrator puts on the table being written.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AT, Run, events, query, to_feedback
from fieldcase.plugins import manager
from fieldcase.services import Services
from fieldcase.store import Store
from fieldcase.store.dialect import is_server_url, redact_url
from pgserver import PgOffice

pytestmark = [
    pytest.mark.skipif(
        not hasattr(os, "geteuid"), reason="needs POSIX file size limits and permissions"
    ),
    #: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
    pytest.mark.both_stores,
]

#: Linux's ``prctl(PR_CAPBSET_DROP, ...)`` and the capabilities that let root ignore
#: file permissions: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH.
PR_CAPBSET_DROP, OVERRIDE_PERMISSIONS = 24, (1, 2)


def bound_by_permissions() -> Callable[[], None] | None:
    """What a child process runs so that file permissions bind it, even as root."""
    if os.geteuid() != 0:
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def drop() -> None:
        for capability in OVERRIDE_PERMISSIONS:
            if prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "cannot drop root's override of permissions")

    return drop


def fieldcase(
    db: Path | str, *args: str, file_size_limit: int | None = None, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    """``fieldcase --db DB ARGS...`` in its own process, as a person would run it.

    It runs in the file's folder; with a database server's URL, in the test's.
    """
    script = Path(sys.executable).with_name("fieldcase")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fieldcase"]
    options: dict[str, Any] = {}
    if file_size_limit is not None:

        def limit_file_size() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        options["preexec_fn"] = limit_file_size
    if unprivileged:
        options["preexec_fn"] = bound_by_permissions()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDCASE_")}
    return subprocess.run(
        [*command, "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=Path.cwd() if is_server_url(str(db)) else Path(db).parent,
        timeout=300,
        check=False,
        **options,
    )


def failed_cleanly(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 1 with one ``Error:`` line a person can act on, and no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def journal_mode(path: Path) -> str:
    """The mode the file's header says (bytes 18-19: 1 rollback journal, 2 WAL)."""
    header = path.read_bytes()[:20]
    assert header.startswith(b"SQLite format 3\x00")
    return {b"\x01\x01": "delete", b"\x02\x02": "wal"}[header[18:20]]


def settle(db_path: Path) -> None:
    """Move the write-ahead log into the database, so the log starts empty."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


# -- read-only media ------------------------------------------------------------------------


@pytest.fixture
def media(tmp_path: Path) -> Iterator[Path]:
    """A folder standing for a read-only disc; writable again afterwards, to be removed."""
    disc = tmp_path / "disc"
    disc.mkdir()
    try:
        yield disc
    finally:
        disc.chmod(0o755)
        for path in disc.iterdir():
            path.chmod(0o644)


def burn(source: Path, disc: Path) -> Path:
    """Copy ``source`` onto the disc and make both read-only."""
    copy = disc / source.name
    shutil.copyfile(source, copy)
    copy.chmod(0o444)
    disc.chmod(0o555)
    return copy


@pytest.mark.sqlite_only  # a backup file, its journal mode, read-only media
def test_a_backup_is_in_rollback_journal_mode_and_verifies_from_read_only_media(
    office: Run, db_path: Path, tmp_path: Path, media: Path
) -> None:
    target = tmp_path / "office-2026-11-23.db"
    made = office("backup", str(target), *AT, as_="chen.wei")
    assert made.exit_code == 0, made.output
    assert journal_mode(target) == "delete"
    # Sealing and verifying the backup, as the nightly job does, leaves it as it was.
    seal = fieldcase(target, "audit", "seal")
    assert seal.returncode == 0, seal.stderr
    assert fieldcase(target, "audit", "verify").returncode == 0
    assert journal_mode(target) == "delete"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(target.name)) == [
        target.name
    ]

    copy = burn(target, media)
    before = digest(copy)
    for probe in (media / "probe", copy):
        touch = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'a')"],
            capture_output=True,
            preexec_fn=bound_by_permissions(),
            check=False,
        )
        assert b"PermissionError" in touch.stderr, "the disc is writable: the test proves nothing"

    verified = fieldcase(copy, "audit", "verify", "--replay", unprivileged=True)
    assert verified.returncode == 0, verified.stderr
    assert "OK: every table equals the replay of the events" in verified.stdout
    sealed = fieldcase(copy, "audit", "seal", unprivileged=True)
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout == seal.stdout
    listed = fieldcase(copy, "--as", "chen.wei", "cases", unprivileged=True)
    assert listed.returncode == 0, listed.stderr
    assert "L-1001" in listed.stdout

    # A command that writes says the disc is read-only; nothing on it changes.
    write = fieldcase(
        copy, "--as", "chen.wei", "staff", "add", "wu.lei", "--name", "Wu", *AT, unprivileged=True
    )
    failed_cleanly(write, str(copy), "read-only")
    assert [p.name for p in media.iterdir()] == [copy.name]
    assert digest(copy) == before


@pytest.mark.sqlite_only  # the database file on read-only media
def test_a_wal_database_on_read_only_media_says_how_to_read_it(
    office: Run, db_path: Path, media: Path
) -> None:
    """A database in WAL mode (the live one, an old backup) cannot be read there: say so."""
    settle(db_path)
    assert journal_mode(db_path) == "wal"
    copy = burn(db_path, media)
    refused = fieldcase(copy, "audit", "verify", unprivileged=True)
    failed_cleanly(refused, str(copy), "WAL mode", "copy it to a writable folder")
    assert [p.name for p in media.iterdir()] == [copy.name]


# -- a full disk ----------------------------------------------------------------------------


def write_portfolio(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["reference", "borrower_name", "currency", "principal", "overdue_amount",
             "days_past_due", "timezone", "jurisdiction", "address"]
        )  # fmt: skip
        for i in range(rows):
            out.writerow(
                [f"F-{i:05d}", f"借款人{i}", "CNY", f"{1000 + i}.00", "150.50", 30 + i % 300,
                 "Asia/Shanghai", "CN", f"上海市浦东新区世纪大道{i}号"]
            )  # fmt: skip


def count_cases(target: str) -> int:
    return int(query(target, "SELECT count(*) FROM cases")[0][0])


def server_disk_full(office: PgOffice, table: str, rows: int) -> Callable[[], None]:
    """The server's disk is full once ``table`` holds ``rows`` rows: each insert past
    them fails as PostgreSQL's own write does then (SQLSTATE 53100, disk_full).

    Returns what frees the space.
    """
    with office.psql(None) as conn:
        conn.execute(
            "CREATE FUNCTION fieldcase.disk_full() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF (SELECT count(*) FROM fieldcase.{table}) >= {rows} THEN"
            " RAISE EXCEPTION 'could not extend file \"base/1/2\": No space left on device'"
            " USING ERRCODE = 'disk_full', HINT = 'Check free disk space.'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER disk_full BEFORE INSERT ON fieldcase.{table}"
            " FOR EACH ROW EXECUTE FUNCTION fieldcase.disk_full()"
        )

    def free_space() -> None:
        with office.psql(None) as conn:
            conn.execute(f"DROP TRIGGER disk_full ON fieldcase.{table}")
            conn.execute("DROP FUNCTION fieldcase.disk_full()")

    return free_space


def test_a_full_disk_stops_an_import_with_an_error_and_whole_batches_kept(
    office: Run, target: str, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    total, batch = 2000, 100
    source = tmp_path / "portfolio.csv"
    write_portfolio(source, total)
    cases_before = count_cases(target)
    args: tuple[str, ...] = ("import", str(source), "--institution", "hx-consumer")
    if store_kind == "postgresql":  # chen.wei logs in as herself; the server's disk fills
        pg_office: PgOffice = request.getfixturevalue("pg_office")
        db, shown = pg_office.url("chen.wei"), redact_url(pg_office.url("chen.wei"))
        free_space = server_disk_full(pg_office, "cases", cases_before + total // 2 + batch // 2)
        stopped = fieldcase(db, *args, "--batch-size", str(batch), *AT)
    else:
        settle(Path(target))
        db, shown, args = target, target, ("--as", "chen.wei", *args)
        stopped = fieldcase(db, *args, "--batch-size", str(batch), *AT, file_size_limit=1024 * 1024)
    failed_cleanly(stopped, "disk", shown, "run", "again")
    kept = count_cases(target) - cases_before
    assert 0 < kept < total, "the import was not stopped half way: the test proves nothing"
    assert kept % batch == 0  # whole batches, each with its events
    assert f"The rows before line {kept + 2} are in" in stopped.stderr
    verified = fieldcase(target, "audit", "verify", "--replay")
    assert verified.returncode == 0, verified.stderr

    # Space is freed; the same import goes on from where it stopped.
    if store_kind == "postgresql":
        free_space()
    again = fieldcase(db, *args, "--json", *AT)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] == kept
    assert count_cases(target) - cases_before == total


def test_a_full_disk_during_init_is_an_error_and_init_again_finishes(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    stopped = fieldcase(new, "init", file_size_limit=64 * 1024)
    failed_cleanly(stopped, "disk", str(new), "again")
    finished = fieldcase(new, "init")
    assert finished.returncode == 0, finished.stderr
    assert fieldcase(new, "audit", "verify").returncode == 0


@pytest.mark.sqlite_only  # SQLite's online backup; PostgreSQL is backed up with pg_dump
def test_a_full_disk_leaves_no_partial_backup_and_the_older_one_untouched(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "nightly.db"
    assert office("backup", str(target), *AT, as_="chen.wei").exit_code == 0
    older = digest(target)
    settle(db_path)
    assert db_path.stat().st_size > 128 * 1024  # the copy cannot fit under the limit
    failed = fieldcase(
        db_path,
        "--as", "chen.wei", "backup", str(target), "--replace", *AT,
        file_size_limit=128 * 1024,
    )  # fmt: skip
    failed_cleanly(failed, "disk", str(target), "nothing was replaced", "backup again")
    assert digest(target) == older
    assert sorted(p.name for p in folder.iterdir()) == [target.name]
    verified = fieldcase(db_path, "audit", "verify", "--replay")
    assert verified.returncode == 0, verified.stderr


def test_a_full_disk_leaves_no_partial_export_and_the_older_one_untouched(
    office: Run, target: str, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    to_feedback(office)
    acting: tuple[str, ...] = ()
    if store_kind == "postgresql":  # each logs in as herself; the disk full is the client's
        pg_office: PgOffice = request.getfixturevalue("pg_office")
        author, db = pg_office.url("li.na"), pg_office.url("chen.wei")
    else:
        author, db, acting = target, target, ("--as", "chen.wei")
    # A long summary: one visit's row is larger than the limit. The command line takes
    # 4,000 characters at most; the services store what they are given, as a plugin or a
    # fieldcase older than that limit did.
    store = Store(author)
    try:
        Services(store, manager(), clock=None).submit_feedback(
            1,
            actor="li.na",
            at=dt.datetime.fromisoformat("2026-11-25T18:00+08:00"),
            recommendation="restructure",
            summary="家访记录 " * 40_000,
        )
    finally:
        store.close()
    out = tmp_path / "visits.csv"
    out.write_text("yesterday's export, not to be lost\n")
    if store_kind == "sqlite":
        settle(Path(target))
    logged = len(events(target))
    failed = fieldcase(
        db,
        *acting, "export", "visits", "--unmasked", "-o", str(out), "--replace",
        "--at", "2026-11-26T09:00+08:00",
        file_size_limit=256 * 1024,
    )  # fmt: skip
    failed_cleanly(failed, "disk", str(out), "nothing was replaced")
    assert out.read_text() == "yesterday's export, not to be lost\n"
    assert leftovers(tmp_path) == []
    # The export was recorded before its first row left; its completion never was.
    assert [e["type"] for e in events(target)[logged:]] == ["export"]
