"""Operations: backup and restore, and purging personal data past its retention."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import AT, Run, events, query, set_policy, snapshot, to_submitted
from fieldcase.cli import cli
from fieldcase.store import Store
from fieldcase.store.dialect import is_server_url
from pgserver import PgOffice

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

PHONE, NATIONAL_ID = "+8613800138000", "310101199001011234"
NOTE = "HR at Huangpu Logistics confirms employment"


def raw(target: Path | str) -> bytes:
    """Every byte fieldcase keeps on disk for this database.

    On PostgreSQL, whose files are the server's, every row of every table, events included.
    """
    if is_server_url(str(target)):
        return repr(snapshot(target)).encode()
    files = [Path(target), Path(f"{target}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def closed_case(office: Run, *before_closing: tuple[str, ...]) -> None:
    result = office(
        "contact", "1", "--channel", "employer", "--outcome", "reached",
        "--target", "third-party", "--relationship", "employer", "--note", NOTE, *AT, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    to_submitted(office)
    for args in before_closing:
        done = office(*args, as_="chen.wei")
        assert done.exit_code == 0, done.output
    closed = office(
        "close", "1", "--resolution", "paid", "--at", "2026-11-30T12:00+08:00", as_="chen.wei"
    )
    assert closed.exit_code == 0, closed.output


def test_purge_withholds_personal_data_and_keeps_statistics_and_chain(
    office: Run, target: str
) -> None:
    closed_case(office)
    outcomes = office("report", "outcomes", "--format", "json", "--to", "2031-12-31T00:00Z")
    reasons = office("report", "reasons", "--format", "json", "--to", "2031-12-31T00:00Z")
    assert PHONE.encode() in raw(target) and NOTE.encode() in raw(target)

    early = office("purge", "--dry-run", "--at", "2031-11-01T00:00+08:00", as_="chen.wei")
    assert "Would purge the personal data of 0 cases closed before 2026-11-01" in early.output
    before = snapshot(target)
    due = office("purge", "--dry-run", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert "Would purge the personal data of 1 cases" in due.output
    assert snapshot(target) == before

    refused = office("purge", "--at", "2031-12-01T00:00+08:00", as_="li.na")
    assert refused.exit_code == 1
    assert "only a supervisor may purge" in refused.output

    # What an import keeps of the row a case came from goes with the rest.
    store = Store(target)
    try:
        store.keep_fingerprints([(store.existing_cases("hx-consumer", ["L-1001"])["L-1001"], "f0")])
    finally:
        store.close()
    fingerprints = "SELECT count(*) FROM import_fingerprints"
    assert query(target, fingerprints)[0][0] == 1

    done = office("purge", "--json", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["cases"] == [1] and summary["events_redacted"] > 5
    assert query(target, fingerprints)[0][0] == 0

    # Gone from the tables, the events, the search index and the file itself.
    data = raw(target)
    for secret in (PHONE, NATIONAL_ID, NOTE, "世纪大道100号", "王芳"):
        assert secret.encode() not in data, secret
    shown = json.loads(office("show", "1", "--json", as_="chen.wei").output)
    assert shown["borrower"]["name"] == "[purged]" and shown["purged_at"]
    searched = office("cases", "--all", "--search", "世纪大道", as_="chen.wei")
    assert searched.output.count("hx-consumer") == 0

    # What statistics need stays; the audit trail still verifies and replays.
    assert office("report", "outcomes", "--format", "json", "--to", "2031-12-31T00:00Z").output == (
        outcomes.output
    )
    assert office("report", "reasons", "--format", "json", "--to", "2031-12-31T00:00Z").output == (
        reasons.output
    )
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output
    again = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert "of 0 cases" in again.output


REASON = "Sister Li Mei phoned from 13911112222: she will pay"


def test_every_free_text_is_masked_and_purged(office: Run, target: str) -> None:
    """A reopening's reason is a note like any other (issue 13, item 7)."""
    closed_case(office)
    reopened = office(
        "reopen", "1", "--reason", REASON, "--at", "2026-12-01T09:00+08:00", as_="chen.wei"
    )
    assert reopened.exit_code == 0, reopened.output
    refused = office(
        "reopen", "1", "--reason", REASON, "--at", "2026-12-01T09:05+08:00", as_="zhang.min"
    )
    assert refused.exit_code == 1
    masked = office("history", "1", "--json", as_="zhang.min").stdout
    assert REASON not in masked and "13911112222" not in masked
    assert REASON in office("history", "1", "--json", as_="chen.wei").stdout
    office(
        "close", "1", "--resolution", "withdrawn", "--at", "2026-12-01T10:00+08:00", as_="chen.wei"
    )
    done = office("purge", "--at", "2031-12-31T00:00+08:00", as_="chen.wei")
    assert done.exit_code == 0, done.output
    assert b"13911112222" not in raw(target)


@pytest.mark.sqlite_only  # a reader's snapshot holds back SQLite's checkpoint and VACUUM
def test_a_purge_that_cannot_clean_up_says_so_and_the_next_one_finishes(
    office: Run, db_path: Path
) -> None:
    closed_case(office)
    reader = sqlite3.connect(db_path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()  # holds a read snapshot
    try:
        blocked = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    finally:
        reader.rollback()
        reader.close()
    assert blocked.exit_code == 1
    assert "could not be cleared" in blocked.output and "run purge again" in blocked.output
    again = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert again.exit_code == 0, again.output
    assert NOTE.encode() not in raw(db_path)


class Copy:
    """A copy of the office's database, changed by its administrator (the triggers stay).

    A file copied with SQLite's backup, or on PostgreSQL a database made from the
    office's as a template: the office itself is left as it was.
    """

    def __init__(self, target: str, tmp_path: Path, server_office: PgOffice | None) -> None:
        self.conn: Any
        if server_office is None:
            self.db = str(tmp_path / "tampered.db")
            source = sqlite3.connect(target)
            self.conn = sqlite3.connect(self.db)
            source.backup(self.conn)
            source.close()
            self.errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
        else:
            import psycopg

            name = f"{server_office.name}_tampered"
            server = server_office.server
            with psycopg.connect(server.admin_url("postgres"), autocommit=True) as admin:
                # The commands' idle connections, which a test process keeps open, end first.
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [server_office.name],
                )
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{server_office.name}"')
            self.db = server.admin_url(name)
            self.conn = psycopg.connect(self.db, autocommit=True)
            self.conn.execute("SET search_path = fieldcase")
            self.errors = (psycopg.Error,)

    def execute(self, *statements: str) -> None:
        for statement in statements:
            self.conn.execute(statement)
        self.conn.commit()

    def verify(self, *options: str) -> Result:
        return CliRunner().invoke(cli, ["--db", self.db, "audit", "verify", *options])


@pytest.fixture
def copy_of_office(
    target: str, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Copy]]:
    """``copy_of_office()``: a :class:`Copy` of the database as it is now."""
    server_office = request.getfixturevalue("pg_office") if store_kind == "postgresql" else None
    made: list[Copy] = []

    def copy() -> Copy:
        made.append(Copy(target, tmp_path, server_office))
        return made[-1]

    yield copy
    for each in made:
        each.conn.close()


#: A payload the way a purge leaves one: through the one path each database allows.
REDACTED = '{"data": {}, "redacted": true, "rows": []}'
REDACT_EVENT_1 = {
    "sqlite": f"UPDATE events SET payload = '{REDACTED}' WHERE id = 1",
    # There only fieldcase.redact_event (a purge's way, a supervisor's) changes a payload.
    "postgresql": f"SELECT fieldcase.redact_event(1, '{REDACTED}')",
}


def test_only_a_redaction_may_change_an_event_and_only_a_purge_may_redact(
    office: Run, copy_of_office: Callable[[], Copy], store_kind: str
) -> None:
    closed_case(office)
    assert office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei").exit_code == 0
    copy = copy_of_office()
    try:
        copy.execute("UPDATE events SET actor = 'mallory' WHERE id = 1")
    except copy.errors as exc:
        assert "append-only" in str(exc)
    else:
        raise AssertionError("an event was changed")
    # The database lets a payload become a redacted one (a purge does that)...
    copy.execute(REDACT_EVENT_1[store_kind])
    # ...but no purge in the chain named it: the audit says it was edited.
    result = copy.verify()
    assert result.exit_code == 1 and "FAILED: event 1 " in result.output
    assert "was edited" in result.output


#: A payment before closing, and the same payment rewritten, event and row together.
PAYMENT = ("payment", "1", "CNY 1500", "--reference", "BOC-1", "--at", "2026-11-29T19:00+08:00")
PAYMENT_REWRITTEN = {
    "sqlite": (
        "UPDATE events SET payload = json_set(payload, '$.rows[1].row.amount_minor', 15)"
        " WHERE type = 'payment_recorded'",
        "UPDATE payments SET amount_minor = 15",
    ),
    "postgresql": (
        "SELECT redact_event(id, jsonb_set(payload::jsonb, '{rows,1,row,amount_minor}', '15')"
        "::text) FROM events WHERE type = 'payment_recorded'",
        "UPDATE payments SET amount_minor = 15",
    ),
}


def test_a_purged_event_cannot_be_rewritten_with_its_row(
    office: Run, copy_of_office: Callable[[], Copy], store_kind: str
) -> None:
    """A redacted payload and its table row rewritten together (issue 13, item 4).

    What a purge keeps (amounts, outcomes, dates) stays provable against the
    hash the event was written with: each withheld value leaves a digest.
    """
    closed_case(
        office,
        PAYMENT,
    )
    assert office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei").exit_code == 0
    seal = office("audit", "seal").output.strip()
    assert office("audit", "verify", "--replay", "--seal", seal).exit_code == 0

    copy = copy_of_office()
    copy.execute(*PAYMENT_REWRITTEN[store_kind])
    result = copy.verify("--replay", "--seal", seal)
    assert result.exit_code == 1, result.output
    assert "was edited" in result.output


def test_a_purged_event_written_before_seals_is_vouched_for_by_its_purge(
    office: Run,
    target: str,
    copy_of_office: Callable[[], Copy],
    store_kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events from before seals cannot prove their redacted form: the purge's hash does."""
    import fieldcase.store

    with monkeypatch.context() as before_seals:
        before_seals.setattr(fieldcase.store, "seal", lambda payload, *_: payload)
        closed_case(
            office,
            PAYMENT,
        )
    payment = next(e for e in events(target, 1) if e["type"] == "payment_recorded")
    assert '"seal"' not in payment["payload"]
    assert office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei").exit_code == 0
    assert office("audit", "verify", "--replay").exit_code == 0
    copy = copy_of_office()
    copy.execute(*PAYMENT_REWRITTEN[store_kind])
    result = copy.verify("--replay")
    assert result.exit_code == 1, result.output
    assert f"FAILED: event {payment['id']} " in result.output and "was edited" in result.output


def test_retention_comes_from_the_institutions_policy(office: Run, tmp_path: Path) -> None:
    closed_case(office)
    at = ("--at", "2031-12-01T00:00+08:00")
    result = office("purge", "--dry-run", *at, as_="chen.wei")
    assert "of 1 cases closed before 2026-12-01" in result.output
    set_policy(office, "hx-consumer", "retention_years=7")
    result = office("purge", "--dry-run", *at, as_="chen.wei")
    assert "of 0 cases closed before 2024-12-01" in result.output
    bad = office(
        "institution", "policy", "hx-consumer", "--set", "retention_years=seven", as_="chen.wei"
    )
    assert bad.exit_code == 2 and "retention_years = 'seven' must be years" in bad.output
    # A caller's own file in the folder changes nothing.
    (tmp_path / "fieldcase.toml").write_text("[privacy]\nretention_years = 1\n")
    again = office("purge", "--dry-run", *at, as_="chen.wei")
    assert "of 0 cases closed before 2024-12-01" in again.output


@pytest.mark.sqlite_only  # SQLite's online backup; PostgreSQL is backed up with pg_dump
def test_backup_and_restore(office: Run, db_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "backups" / "office-2026-11-23.db"
    target.parent.mkdir()
    refused = office("backup", str(target), *AT, as_="li.na")
    assert refused.exit_code == 1 and not target.exists()
    result = office("backup", str(target), *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    assert office("backup", str(target), *AT, as_="chen.wei").exit_code == 2  # no clobbering
    again = office("backup", str(target), "--replace", "--json", *AT, as_="chen.wei")
    assert json.loads(again.output) == {
        "file": str(target),
        "integrity": "ok",
        "events": int(result.output.split(", ")[1].split()[0]) + 1,  # its own backup_made
    }
    at_backup = snapshot(db_path)

    # Work goes on after the backup...
    office("contact", "1", "--channel", "sms", "--outcome", "left-message", *AT, as_="li.na")
    assert snapshot(db_path) != at_backup
    # ...then the database is lost and restored as docs/operations.md says.
    db_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(target, db_path)
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output
    assert snapshot(db_path) == at_backup
    history = office("history", "--system", "--json").output
    assert any(e["type"] == "backup_made" for e in json.loads(history))


def test_a_database_busy_too_long_is_an_error_not_a_traceback(
    office: Run,
    target: str,
    store_kind: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fieldcase.store import Store

    kwdefaults = Store.__init__.__kwdefaults__
    assert kwdefaults is not None
    monkeypatch.setitem(kwdefaults, "busy_timeout", 0.2)
    # Someone else's long write: on PostgreSQL, holding the lock every writer takes first.
    holder: Any
    if store_kind == "postgresql":
        from fieldcase.store.postgres_schema import WRITE_LOCK

        holder = request.getfixturevalue("pg_office").psql(None)
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
    else:
        holder = sqlite3.connect(target)
        holder.execute("BEGIN IMMEDIATE")
    try:
        before = snapshot(target)
        result = office(
            "contact", "1", "--channel", "sms", "--outcome", "left-message", *AT, as_="li.na"
        )
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 1
    assert "database stayed busy" in result.output and "Traceback" not in result.output
    assert snapshot(target) == before


def test_demo_replace_deletes_only_a_fieldcase_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    result = CliRunner().invoke(cli, ["--db", str(notes), "demo", "--replace", "--cases", "10"])
    assert result.exit_code == 2 and "was not built by 'fieldcase demo'" in result.output
    assert notes.read_text() == "not a database"
