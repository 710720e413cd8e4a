"""Operations: backup and restore, and purging personal data past its retention."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import AT, Run, events, set_policy, snapshot, to_submitted
from fieldcase.cli import cli

PHONE, NATIONAL_ID = "+8613800138000", "310101199001011234"
NOTE = "HR at Huangpu Logistics confirms employment"


def raw(db_path: Path) -> bytes:
    """Every byte fieldcase keeps on disk for this database."""
    files = [db_path, Path(f"{db_path}-wal")]
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
    office: Run, db_path: Path
) -> None:
    closed_case(office)
    outcomes = office("report", "outcomes", "--format", "json", "--to", "2031-12-31T00:00Z")
    reasons = office("report", "reasons", "--format", "json", "--to", "2031-12-31T00:00Z")
    assert PHONE.encode() in raw(db_path) and NOTE.encode() in raw(db_path)

    early = office("purge", "--dry-run", "--at", "2031-11-01T00:00+08:00", as_="chen.wei")
    assert "Would purge the personal data of 0 cases closed before 2026-11-01" in early.output
    before = snapshot(db_path)
    due = office("purge", "--dry-run", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert "Would purge the personal data of 1 cases" in due.output
    assert snapshot(db_path) == before

    refused = office("purge", "--at", "2031-12-01T00:00+08:00", as_="li.na")
    assert refused.exit_code == 1
    assert "only a supervisor may purge" in refused.output

    done = office("purge", "--json", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["cases"] == [1] and summary["events_redacted"] > 5

    # Gone from the tables, the events, the search index and the file itself.
    data = raw(db_path)
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


def test_every_free_text_is_masked_and_purged(office: Run, db_path: Path) -> None:
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
    assert b"13911112222" not in raw(db_path)


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


def test_only_a_redaction_may_change_an_event_and_only_a_purge_may_redact(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    closed_case(office)
    assert office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei").exit_code == 0
    copy = tmp_path / "tampered.db"
    source = sqlite3.connect(db_path)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()

    def verify() -> Result:
        return CliRunner().invoke(cli, ["--db", str(copy), "audit", "verify"])

    try:
        target.execute("UPDATE events SET actor = 'mallory' WHERE id = 1")
    except sqlite3.DatabaseError as exc:
        assert "append-only" in str(exc)
    else:
        raise AssertionError("an event was changed")
    # The database lets a payload become a redacted one (a purge does that)...
    target.execute(
        'UPDATE events SET payload = \'{"data": {}, "redacted": true, "rows": []}\' WHERE id = 1'
    )
    target.commit()
    # ...but no purge in the chain named it: the audit says it was edited.
    result = verify()
    assert result.exit_code == 1 and "FAILED: event 1 " in result.output
    assert "was edited" in result.output
    target.close()


def tampered_copy(db_path: Path, tmp_path: Path, *statements: str) -> Path:
    """A copy of the database with ``statements`` run on it (the triggers stay)."""
    copy = tmp_path / "tampered.db"
    source, target = sqlite3.connect(db_path), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    for statement in statements:
        target.execute(statement)
    target.commit()
    target.close()
    return copy


#: A payment before closing, and the same payment rewritten, event and row together.
PAYMENT = ("payment", "1", "CNY 1500", "--reference", "BOC-1", "--at", "2026-11-29T19:00+08:00")
PAYMENT_REWRITTEN = (
    "UPDATE events SET payload = json_set(payload, '$.rows[1].row.amount_minor', 15)"
    " WHERE type = 'payment_recorded'",
    "UPDATE payments SET amount_minor = 15",
)


def test_a_purged_event_cannot_be_rewritten_with_its_row(
    office: Run, db_path: Path, tmp_path: Path
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

    copy = tampered_copy(db_path, tmp_path, *PAYMENT_REWRITTEN)
    result = CliRunner().invoke(
        cli, ["--db", str(copy), "audit", "verify", "--replay", "--seal", seal]
    )
    assert result.exit_code == 1, result.output
    assert "was edited" in result.output


def test_a_purged_event_written_before_seals_is_vouched_for_by_its_purge(
    office: Run, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events from before seals cannot prove their redacted form: the purge's hash does."""
    import fieldcase.store

    with monkeypatch.context() as before_seals:
        before_seals.setattr(fieldcase.store, "seal", lambda payload, *_: payload)
        closed_case(
            office,
            PAYMENT,
        )
    payment = next(e for e in events(db_path, 1) if e["type"] == "payment_recorded")
    assert '"seal"' not in payment["payload"]
    assert office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei").exit_code == 0
    assert office("audit", "verify", "--replay").exit_code == 0
    copy = tampered_copy(db_path, tmp_path, *PAYMENT_REWRITTEN)
    result = CliRunner().invoke(cli, ["--db", str(copy), "audit", "verify", "--replay"])
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
    office: Run, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldcase.store import Store

    kwdefaults = Store.__init__.__kwdefaults__
    assert kwdefaults is not None
    monkeypatch.setitem(kwdefaults, "busy_timeout", 0.2)
    holder = sqlite3.connect(db_path)
    holder.execute("BEGIN IMMEDIATE")  # someone else's long write
    try:
        before = snapshot(db_path)
        result = office(
            "contact", "1", "--channel", "sms", "--outcome", "left-message", *AT, as_="li.na"
        )
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 1
    assert "database stayed busy" in result.output and "Traceback" not in result.output
    assert snapshot(db_path) == before


def test_demo_replace_deletes_only_a_fieldcase_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    result = CliRunner().invoke(cli, ["--db", str(notes), "demo", "--replace", "--cases", "10"])
    assert result.exit_code == 2 and "was not built by 'fieldcase demo'" in result.output
    assert notes.read_text() == "not a database"
