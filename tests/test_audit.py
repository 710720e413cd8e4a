"""The event log: hash chains, seals, append-only, and tables rebuilt from events."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from conftest import Run, events, query
from fieldcase.cli import cli
from fieldcase.commitments import canonical_json
from fieldcase.store import STATE_TABLES, TEXT_KEYED, AuditProblem, Store
from fieldcase.store import verify as shared_walk
from fieldcase.store.dialect import is_server_url
from fieldcase.testing import invoke
from pgserver import PgOffice, Server, password_of

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo portfolio in mid-flight at a fixed now, built once."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(
        cli, ["--db", str(path), "demo", "--cases", "60", "--at", "2026-11-24T07:30+08:00"]
    )
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def pg_demo(pg_server: Server, demo_db: Path) -> PgOffice:
    """The same demo portfolio moved to a PostgreSQL database of its own, once."""
    office = PgOffice(pg_server)
    result = invoke("--db", demo_db, "migrate", "--to", office.admin)
    assert result.exit_code == 0, result.output
    store = Store(office.admin)
    try:  # the demo's supervisor logs in with the password the tests give her
        store.set_password("chen.wei", password_of("chen.wei"))
    finally:
        store.close()
    return office


@pytest.fixture
def demo(store_kind: str, request: pytest.FixtureRequest) -> str:
    """What ``--db`` names for an administrator of the demo (not to be written to)."""
    if store_kind == "postgresql":
        office: PgOffice = request.getfixturevalue("pg_demo")
        return office.admin
    return str(request.getfixturevalue("demo_db"))


copies = itertools.count(1)


class CopiedOffice(PgOffice):
    """A new database on the server made from another, as a copy of a file is."""

    def __init__(self, original: PgOffice) -> None:
        self.server = original.server
        self.name = f"{original.name}_copy_{next(copies)}"
        with psycopg.connect(self.server.admin_url("postgres"), autocommit=True) as conn:
            # The commands run in this process leave their connections to the collector.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [original.name],
            )
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{original.name}"')
        self.admin = self.server.admin_url(self.name)
        self.tampered = False


@dataclass(frozen=True)
class Copy:
    """A copy of the demo: what ``--db`` names for an administrator, and staff at work on it."""

    target: str
    run: Run


@pytest.fixture
def copied_demo(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Copy]:
    if store_kind == "postgresql":
        office = CopiedOffice(request.getfixturevalue("pg_demo"))
        yield Copy(office.admin, office.run)
        return
    demo_db: Path = request.getfixturevalue("demo_db")
    target = tmp_path / "copy.db"
    src = sqlite3.connect(demo_db)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()

    def run(*args: str, as_: str | None = None) -> Result:
        actor = ("--as", as_) if as_ else ()
        return invoke("--db", target, *actor, *args)

    yield Copy(str(target), run)


@pytest.fixture
def copy_of_demo(copied_demo: Copy) -> str:
    return copied_demo.target


def as_owner(target: str, *statements: str, redacting: bool = False) -> None:
    """``statements`` in one transaction, as whoever owns the database writes plain SQL.

    The SQLite file's owner, or PostgreSQL's administrator (``redacting``: through
    the door a purge opens, ``fieldcase.redacting``).
    """
    if is_server_url(target):
        with psycopg.connect(target) as server:  # one transaction, rolled back on an error
            server.execute("SET search_path = fieldcase")
            if redacting:
                server.execute("SET LOCAL fieldcase.redacting = 'on'")
            for sql in statements:
                server.execute(sql)
        return
    file = sqlite3.connect(target)
    try:
        for sql in statements:
            file.execute(sql)
        file.commit()
    finally:
        file.close()


def refused_as_append_only(target: str, sql: str, redacting: bool = False) -> None:
    error = psycopg.Error if is_server_url(target) else sqlite3.IntegrityError
    with pytest.raises(error, match="events are append-only"):
        as_owner(target, sql, redacting=redacting)


def tamper(path: str, sql: str, params: tuple[object, ...] = ()) -> None:
    """Edit the SQLite file's log as a careful someone with plain SQL access would.

    The triggers are dropped for the edit and put back after it, so that only
    the hash chains (and a seal) can tell.
    """
    conn = sqlite3.connect(path)
    guards = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'events_no_%'"
        )
    ]
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute(sql, params)
    for guard in guards:
        conn.execute(guard)
    conn.commit()
    conn.close()


def longest_chain(path: str) -> list[sqlite3.Row]:
    chains: dict[str, list[sqlite3.Row]] = {}
    for event in events(path):
        chains.setdefault(event["chain"], []).append(event)
    return max(chains.values(), key=len)


def verify(path: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(path), "audit", "verify", *args])
    return result.exit_code, result.output


def seal_of(target: str) -> str:
    """What ``audit seal`` prints for ``target``."""
    result = CliRunner().invoke(cli, ["--db", str(target), "audit", "seal"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_untouched_database_verifies(copy_of_demo: str) -> None:
    code, output = verify(copy_of_demo, "--replay")
    assert code == 0, output
    assert "valid hash chains" in output
    assert "every table equals the replay" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_edited_event_is_named(copy_of_demo: str) -> None:
    target = events(copy_of_demo)[40]
    payload = json.loads(target["payload"])
    payload["data"]["note"] = "nothing to see"
    tamper(
        copy_of_demo,
        "UPDATE events SET payload = ? WHERE id = ?",
        (json.dumps(payload), target["id"]),
    )
    code, output = verify(copy_of_demo)
    assert code == 1
    assert f"FAILED: event {target['id']} ({target['chain']})" in output
    assert "was edited" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_edited_event_with_recomputed_hash_breaks_the_next_link(copy_of_demo: str) -> None:
    # Whoever edits an event and fixes its own hash still breaks its successor's link.
    log = longest_chain(copy_of_demo)
    first, second = log[0], log[1]
    tamper(
        copy_of_demo,
        "UPDATE events SET actor = 'mallory', hash = 'f00' WHERE id = ?",
        (first["id"],),
    )
    code, output = verify(copy_of_demo)
    assert code == 1
    assert f"event {first['id']}" in output
    tamper_fix = sqlite3.connect(copy_of_demo)
    from fieldcase.store import DIGEST_PREFIX, event_hash

    prev, chain, type_, case_id, actor, at, sha, recorded, version = tamper_fix.execute(
        "SELECT prev_hash, chain, type, case_id, actor, at, payload_sha256, recorded_at,"
        " policy_version FROM events WHERE id = ?",
        [first["id"]],
    ).fetchone()
    fixed = event_hash(
        prev, chain, type_, case_id, actor, at, DIGEST_PREFIX + sha, recorded, version
    )
    tamper_fix.close()
    tamper(copy_of_demo, "UPDATE events SET hash = ? WHERE id = ?", (fixed, first["id"]))
    code, output = verify(copy_of_demo)
    assert code == 1
    assert f"event {second['id']} ({second['chain']})" in output
    assert "link to the previous event" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_removed_middle_event_is_found(copy_of_demo: str) -> None:
    log = longest_chain(copy_of_demo)
    tamper(copy_of_demo, "DELETE FROM events WHERE id = ?", (log[3]["id"],))
    code, output = verify(copy_of_demo)
    assert code == 1
    assert f"event {log[4]['id']} ({log[4]['chain']})" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_seal_exposes_a_removed_tail_event(copy_of_demo: str) -> None:
    seal = seal_of(copy_of_demo)
    assert re.fullmatch(r"[0-9a-f]{64}@[0-9]+", seal)
    assert verify(copy_of_demo, "--seal", seal)[0] == 0
    # A seal printed before seals named their event, the digest alone, still works.
    assert verify(copy_of_demo, "--seal", seal.split("@")[0])[0] == 0
    last = events(copy_of_demo)[-1]
    tamper(copy_of_demo, "DELETE FROM events WHERE id = ?", (last["id"],))
    # The chains alone still verify: a tail removal leaves no broken link...
    assert verify(copy_of_demo)[0] == 0
    # ...but the seal kept elsewhere does not match any more.
    code, output = verify(copy_of_demo, "--seal", seal)
    assert code == 1
    assert "seal mismatch" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_events_swapped_between_chains_are_caught(copy_of_demo: str) -> None:
    """Two neighbouring events of two cases trade places (issue 13, item 4).

    Each chain keeps its order and its heads, so links, the seal and the
    replay all agreed; the log's order (which policy was in force, what came
    first) did not. An event's hash now commits to its id.
    """
    log = events(copy_of_demo)
    heads = {e["chain"]: e["id"] for e in log}
    first, second = next(
        (a, b)
        for a, b in itertools.pairwise(log)
        if a["chain"] != b["chain"]
        and a["case_id"] is not None
        and b["case_id"] is not None
        and heads[a["chain"]] != a["id"]
        and heads[b["chain"]] != b["id"]
    )
    seal = seal_of(copy_of_demo)
    for sql, params in (
        ("UPDATE events SET id = -1 WHERE id = ?", (first["id"],)),
        ("UPDATE events SET id = ? WHERE id = ?", (first["id"], second["id"])),
        ("UPDATE events SET id = ? WHERE id = -1", (second["id"],)),
    ):
        tamper(copy_of_demo, sql, params)
    code, output = verify(copy_of_demo, "--replay", "--seal", seal)
    assert code == 1, output
    assert f"FAILED: event {first['id']} " in output
    assert f"written as event {second['id']}" in output


def test_a_purge_leaves_digests_that_reveal_nothing(copied_demo: Copy) -> None:
    """What a purge keeps is provable, and nothing left can be tried against a guess."""
    copy = copied_demo.target
    ((case_id,),) = query(
        copy, "SELECT id FROM cases WHERE stage = 'closed' ORDER BY closed_at LIMIT 1"
    )
    ((phone,),) = query(copy, "SELECT phone FROM cases WHERE id = ?", [case_id])
    purged = copied_demo.run("purge", "--at", "2040-01-01T00:00Z", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    withheld = [e for e in events(copy, case_id) if e["type"] != "case_purged"]
    assert withheld
    for event in withheld:
        payload = json.loads(event["payload"])
        assert payload["redacted"] is True and "salt" not in payload["seal"]
        assert payload["seal"]["event"] == event["id"]
        assert phone not in event["payload"]
    imported = json.loads(withheld[0]["payload"])
    row = imported["rows"][0]["row"]
    assert row["phone"].startswith("sha256:") and row["borrower_name"].startswith("sha256:")
    assert row["currency"] and row["principal_minor"]  # what statistics need stays
    assert verify(copy, "--replay")[0] == 0
    shown = copied_demo.run("history", str(case_id), "--json", as_="chen.wei")
    assert shown.exit_code == 0 and "sha256:" not in shown.output


def test_events_are_append_only(copy_of_demo: str) -> None:
    # On PostgreSQL, even for the administrator: the triggers refuse, not only the grants.
    refused_as_append_only(copy_of_demo, "UPDATE events SET actor = 'x' WHERE id = 1")
    refused_as_append_only(copy_of_demo, "DELETE FROM events WHERE id = 1")


def test_no_payload_can_be_rewritten_without_dropping_the_trigger(copy_of_demo: str) -> None:
    # A payload without "redacted" made the trigger's condition NULL, and NULL let it pass.
    # On PostgreSQL the same condition stands behind the door a purge opens (redacting).
    for redacting in (False, True):
        refused_as_append_only(
            copy_of_demo,
            """UPDATE events SET payload = '{"data":{},"rows":[]}' WHERE id = 1""",
            redacting=redacting,
        )
        refused_as_append_only(
            copy_of_demo,
            "UPDATE events SET recorded_at = '2030-01-01T00:00:00Z' WHERE id = 1",
            redacting=redacting,
        )


def test_verify_says_when_the_log_is_no_longer_guarded(copy_of_demo: str) -> None:
    on = " ON events" if is_server_url(copy_of_demo) else ""
    as_owner(copy_of_demo, f"DROP TRIGGER events_no_delete{on}")
    code, output = verify(copy_of_demo)
    assert code == 1
    assert "trigger events_no_delete is missing" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_verify_names_an_unreadable_event_instead_of_crashing(copy_of_demo: str) -> None:
    tamper(copy_of_demo, "UPDATE events SET payload = '{not json' WHERE id = 3")
    code, output = verify(copy_of_demo)
    assert code == 1 and "Traceback" not in output
    assert "event 3" in output


def test_every_table_rebuilds_from_the_events(demo: str) -> None:
    stored = Store(demo)
    rebuilt = Store(":memory:")
    try:
        rebuilt.migrate()
        assert stored.replay_into(rebuilt) == len(events(demo))
        for table in STATE_TABLES:
            original = stored.table_rows(table)
            assert original, f"demo left {table} empty: the comparison would prove nothing"
            assert rebuilt.table_rows(table) == original, table
        assert stored.compare_replay() == []
    finally:
        stored.close()
        rebuilt.close()


def test_replay_notices_a_table_edited_behind_the_log(copy_of_demo: str) -> None:
    as_owner(copy_of_demo, "UPDATE cases SET overdue_minor = 1 WHERE id = 3")
    code, output = verify(copy_of_demo, "--replay")
    assert code == 1
    assert "cases row 3" in output


def test_refusals_are_chained_too(office: Run, target: str) -> None:
    office("interview", "1", "--met", "nobody", as_="li.na")
    log = events(target, 1)
    assert [e["type"] for e in log] == ["case_created", "refused"]
    assert log[1]["prev_hash"] == log[0]["hash"]
    assert office("audit", "verify").exit_code == 0


def test_latest_migration_is_the_last_one(tmp_path: Path) -> None:
    """A database at LATEST_MIGRATION skips migrating; a new migration must move it."""
    from fieldcase.migrations import migrations
    from fieldcase.store.sqlite import LATEST_MIGRATION

    assert [m.name for m in migrations._migrations][-1] == LATEST_MIGRATION
    store = Store(tmp_path / "m.db")
    assert store.migrate()[-1] == LATEST_MIGRATION
    assert store.migrate() == []
    store.close()


# -- verifying at scale: a walk chain by chain, seals as starting points, a streamed replay


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_the_first_broken_event_is_named_whatever_its_chain(copy_of_demo: str) -> None:
    # Chains are walked one after another, in their names' order; the event named
    # is still the first broken one of the log, as when every event was walked in turn.
    log = events(copy_of_demo)
    walked_first = min(e["chain"] for e in log)
    later = [e for e in log if e["chain"] == walked_first][-1]
    earlier = next(e for e in log if e["chain"] > walked_first and e["id"] < later["id"])
    for event in (later, earlier):
        tamper(copy_of_demo, "UPDATE events SET actor = 'mallory' WHERE id = ?", (event["id"],))
    code, output = verify(copy_of_demo)
    assert code == 1
    assert output.strip() == (
        f"FAILED: event {earlier['id']} ({earlier['chain']}): its contents do not match "
        "its hash: it was edited"
    )


def test_the_seal_names_the_last_event_it_seals(copy_of_demo: str) -> None:
    last = events(copy_of_demo)[-1]["id"]
    seal = seal_of(copy_of_demo)
    digest, event = seal.split("@")
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and int(event) == last
    shown = CliRunner().invoke(cli, ["--db", copy_of_demo, "audit", "seal", "--json"])
    assert json.loads(shown.stdout) == {
        "seal": digest,
        "chains": len({e["chain"] for e in events(copy_of_demo)}),
        "events": len(events(copy_of_demo)),
        "last_event": last,
    }


def test_since_seal_verifies_only_the_events_after_it(copied_demo: Copy) -> None:
    copy = copied_demo.target
    seal = seal_of(copy)
    sealed_at = int(seal.split("@")[1])
    # A purge after the seal appends events and withholds data from events before it.
    purged = copied_demo.run("purge", "--at", "2040-01-01T00:00Z", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    after = [e for e in events(copy) if e["id"] > sealed_at]
    assert after, "nothing was recorded after the seal: the test would prove nothing"
    code, output = verify(copy, "--since-seal", seal)
    assert code == 0, output
    sound = "database" if is_server_url(copy) else "file"
    # The attachments' files are no part of the log: each is checked whatever the seal.
    files = len(query(copy, "SELECT sha256 FROM attachment_blobs"))
    assert files, "the demo attaches photos to visits of cases still open"
    assert output.splitlines() == [
        f"OK: the log up to event {sealed_at} matches the seal",
        f"OK: {len(after)} event{'s' if len(after) != 1 else ''} after event {sealed_at} in"
        " valid hash chains",
        f"OK: the log's guards are in place and the {sound} is sound",
        f"OK: {files} attachment files match their fingerprints",
    ]
    # The whole log still matches a seal taken now, and verifies from its first event.
    assert verify(copy, "--since-seal", seal_of(copy), "--replay")[0] == 0
    assert verify(copy)[0] == 0


def test_since_seal_refuses_a_seal_the_log_does_not_match(copy_of_demo: str) -> None:
    seal = seal_of(copy_of_demo)
    digest, event = seal.split("@")
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    code, output = verify(copy_of_demo, "--since-seal", f"{wrong}@{event}")
    assert code == 1
    assert output.startswith(f"FAILED: seal mismatch: up to event {event}, the log has ")
    assert "OK:" not in output  # nothing is vouched for
    # A seal of a log longer than this one: its last events are gone.
    code, output = verify(copy_of_demo, "--since-seal", f"{digest}@{int(event) + 5}")
    assert code == 1
    assert f"the seal was taken at event {int(event) + 5} but the log ends at event {event}" in (
        output
    )
    # What is not a seal as 'audit seal' prints it is a usage error, saying what is.
    code, output = verify(copy_of_demo, "--since-seal", digest)
    assert code == 2 and "without the event it was taken at" in output
    code, output = verify(copy_of_demo, "--since-seal", "last-tuesday")
    assert code == 2 and "DIGEST@EVENT" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_since_seal_catches_what_changed_after_the_seal_and_only_that(
    copied_demo: Copy,
) -> None:
    copy = copied_demo.target
    seal = seal_of(copy)
    sealed_at = int(seal.split("@")[1])
    purged = copied_demo.run("purge", "--at", "2040-01-01T00:00Z", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    before = events(copy)[sealed_at // 2]
    after = next(e for e in events(copy) if e["id"] > sealed_at)

    # An event after the seal, edited: named, as a full verify names it.
    tamper(copy, "UPDATE events SET actor = 'mallory' WHERE id = ?", (after["id"],))
    code, output = verify(copy, "--since-seal", seal)
    assert code == 1
    assert f"FAILED: event {after['id']} ({after['chain']}): " in output
    assert "it was edited" in output
    tamper(copy, "UPDATE events SET actor = ? WHERE id = ?", (after["actor"], after["id"]))
    assert verify(copy, "--since-seal", seal)[0] == 0

    # An event before it, edited: not read again (as the docs say); the full verify finds it.
    tamper(copy, "UPDATE events SET actor = 'mallory' WHERE id = ?", (before["id"],))
    assert verify(copy, "--since-seal", seal)[0] == 0
    code, output = verify(copy)
    assert code == 1 and f"FAILED: event {before['id']} " in output
    tamper(copy, "UPDATE events SET actor = ? WHERE id = ?", (before["actor"], before["id"]))

    # The last event the seal covers, removed: the log up to it no longer matches.
    tamper(copy, "DELETE FROM events WHERE id = ?", (sealed_at,))
    code, output = verify(copy, "--since-seal", seal)
    assert code == 1
    assert "FAILED: seal mismatch" in output


def test_replay_names_each_difference_in_the_order_it_always_did(copy_of_demo: str) -> None:
    ((contact,),) = query(copy_of_demo, "SELECT min(id) FROM contacts")
    as_owner(
        copy_of_demo,
        "UPDATE institutions SET name = 'Someone Else' WHERE id = 'pearl-river-bank'",
        f"DELETE FROM contacts WHERE id = {contact}",
    )
    code, output = verify(copy_of_demo, "--replay")
    assert code == 1
    failed = [line for line in output.splitlines() if line.startswith("FAILED: ")]
    assert len(failed) == 2
    assert failed[0].startswith(
        "FAILED: institutions row pearl-river-bank: stored {'id': 'pearl-river-bank', "
        "'name': 'Someone Else', "
    )
    assert "but events give {'id': 'pearl-river-bank', 'name': '珠江银行 " in failed[0]
    assert failed[1].startswith(f"FAILED: contacts row {contact}: stored None but events give {{")

    # Many rows differ: the first 20 are told, table by table, ids in their text order.
    as_owner(copy_of_demo, "UPDATE cases SET overdue_minor = overdue_minor + 1")
    code, output = verify(copy_of_demo, "--replay")
    assert code == 1
    failed = [line for line in output.splitlines() if line.startswith("FAILED: ")]
    cases = sorted(str(row[0]) for row in query(copy_of_demo, "SELECT id FROM cases"))
    assert failed[0].startswith("FAILED: institutions row pearl-river-bank: ")
    assert [line.split(":")[1] for line in failed[1:]] == [f" cases row {i}" for i in cases[:19]]


def test_progress_shows_on_a_terminal_and_never_in_piped_output(copy_of_demo: str) -> None:
    piped = CliRunner().invoke(cli, ["--db", copy_of_demo, "audit", "verify", "--replay"])
    assert piped.exit_code == 0, piped.output
    assert piped.stderr == ""
    assert piped.stdout.splitlines()[-1] == "OK: every table equals the replay of the events"

    # stderr a terminal, stdout a pipe: the bars go to the one, the verdicts to the other.
    terminal, seen_by_terminal = os.openpty()
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the process has ended and the terminal is closed
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDCASE_")}
    try:
        command = ["--db", copy_of_demo, "audit", "verify", "--replay"]
        ran = subprocess.run(
            [sys.executable, "-m", "fieldcase", *command],
            stdout=subprocess.PIPE,
            stderr=seen_by_terminal,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(seen_by_terminal)
        reader.join(timeout=10)
        os.close(terminal)
    assert ran.returncode == 0
    assert ran.stdout.decode().splitlines() == piped.stdout.splitlines()
    on_terminal = b"".join(shown).decode()
    for label in ("Verifying events", "Replaying events", "Comparing tables"):
        assert label in on_terminal


def test_the_tables_keyed_by_text_are_those_named_so(tmp_path: Path) -> None:
    # Text keys are compared in code point order on both databases (the replay's merge).
    store = Store(tmp_path / "keys.db")
    try:
        store.migrate()
        typed = {
            table: next(
                row[2]
                for row in store.db.execute(f'PRAGMA table_info("{table}")')
                if row[1] == "id"
            )
            for table in STATE_TABLES
        }
    finally:
        store.close()
    assert {table for table, kind in typed.items() if kind.upper() == "TEXT"} == set(TEXT_KEYED)


# -- a faster verify: payload texts that vouch for themselves, chains walked in parallel


def unsalted_events(path: str) -> list[sqlite3.Row]:
    """Events with nothing personal to withhold: their stored payload is their committed form."""
    found = [e for e in events(path) if "salt" not in json.loads(e["payload"])["seal"]]
    assert found, "the demo records staff and institutions, which carry nothing personal"
    return found


def salted_event(path: str) -> sqlite3.Row:
    return next(e for e in events(path) if "salt" in json.loads(e["payload"])["seal"])


def rewrite_payload(
    path: str, event_id: int, payload: object, *, with_digest: bool = False
) -> None:
    """Store ``payload`` (a text, or a value written as canonical JSON) as the event's."""
    text = payload if isinstance(payload, str) else canonical_json(payload)
    if with_digest:  # the recorded digest rewritten to match, the event's hash left
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        sql = "UPDATE events SET payload = ?, payload_sha256 = ? WHERE id = ?"
        tamper(path, sql, (text, digest, event_id))
    else:
        tamper(path, "UPDATE events SET payload = ? WHERE id = ?", (text, event_id))


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
@pytest.mark.parametrize("salted", [False, True], ids=["nothing-personal", "personal"])
def test_an_edited_payload_text_that_is_still_json_is_caught(
    copy_of_demo: str, salted: bool
) -> None:
    target = salted_event(copy_of_demo) if salted else unsalted_events(copy_of_demo)[0]
    payload = json.loads(target["payload"])
    payload["rows"][0]["row"]["id"] = "mallory"
    rewrite_payload(copy_of_demo, target["id"], payload)
    code, output = verify(copy_of_demo)
    assert code == 1
    assert output.strip() == (
        f"FAILED: event {target['id']} ({target['chain']}): its contents do not match "
        "its hash: it was edited"
    )


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_a_payload_whose_data_speaks_of_salt_is_checked_as_any_other(copy_of_demo: str) -> None:
    # The word is in the data, not in the seal: the payload still has nothing withheld,
    # and a change to it is still caught.
    target = unsalted_events(copy_of_demo)[0]
    payload = json.loads(target["payload"])
    payload["data"]["salt"] = "0" * 32
    rewrite_payload(copy_of_demo, target["id"], payload)
    code, output = verify(copy_of_demo)
    assert code == 1
    assert f"FAILED: event {target['id']} " in output and "was edited" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_a_payload_written_otherwise_but_equal_still_verifies(copy_of_demo: str) -> None:
    # Other spacing and key order: the same value, so the same committed form, as always.
    for target in (unsalted_events(copy_of_demo)[0], salted_event(copy_of_demo)):
        value = json.loads(target["payload"])
        text = json.dumps(dict(reversed(value.items())), indent=2, ensure_ascii=True)
        assert text != target["payload"] and json.loads(text) == value
        rewrite_payload(copy_of_demo, target["id"], text)
    code, output = verify(copy_of_demo)
    assert code == 0, output
    assert f"OK: {len(events(copy_of_demo))} events in valid hash chains" in output


@pytest.mark.sqlite_only  # edits the file with its triggers dropped
def test_a_text_rewritten_with_its_digest_is_named_as_the_full_check_names_it(
    copy_of_demo: str,
) -> None:
    # The new text hashes as its (rewritten) recorded digest, so it passes the quick look;
    # the event fails on its link first, and is named by what is wrong with its payload.
    chain = [e for e in events(copy_of_demo) if e["chain"] == "system"]
    removed, target = chain[0], chain[1]
    tamper(copy_of_demo, "DELETE FROM events WHERE id = ?", (removed["id"],))
    text = json.dumps(json.loads(target["payload"]), indent=1)  # equal, not canonical
    rewrite_payload(copy_of_demo, target["id"], text, with_digest=True)
    code, output = verify(copy_of_demo)
    assert code == 1
    assert output.strip() == (
        f"FAILED: event {target['id']} (system): its contents do not match its hash: it was edited"
    )


@pytest.fixture
def parallel_walk(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every walk shared out among two processes, however small the log; the list
    holds how many events each shared walk covered."""
    monkeypatch.setattr(shared_walk, "PARALLEL_FROM", 0)
    monkeypatch.setattr(shared_walk, "available_cores", lambda: 2)
    monkeypatch.setattr(shared_walk, "RANGES_PER_WORKER", 8)
    shared: list[int] = []
    walk = shared_walk.walk_in_parallel

    def counted(*args: Any) -> Any:
        result = walk(*args)
        assert result is not None, "the workers started"
        shared.append(result[0])
        return result

    monkeypatch.setattr(shared_walk, "walk_in_parallel", counted)
    return shared


def walk_serially(path: str, after: int = 0) -> tuple[int, AuditProblem | None]:
    store = Store(path, read_only=True)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(shared_walk, "PARALLEL_FROM", 10**12)
            return store.verify_chains(after)
    finally:
        store.close()


@pytest.mark.sqlite_only  # a SQLite file's chains are shared out; edits it, its triggers dropped
def test_chains_walked_in_parallel_give_what_one_walk_gives(
    copy_of_demo: str, parallel_walk: list[int]
) -> None:
    log = events(copy_of_demo)
    chains = sorted({e["chain"] for e in log})
    assert len(chains) > 50
    progress: list[tuple[int, int]] = []
    store = Store(copy_of_demo, read_only=True)
    try:
        assert store.verify_chains(progress=lambda *seen: progress.append(seen)) == (
            len(log),
            None,
        )
    finally:
        store.close()
    assert parallel_walk == [len(log)]
    assert len(progress) > 2 and progress[-1] == (len(log), len(log))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)

    # Edits in chains at both ends of the walk's order, and in the middle; the one of
    # the lowest id is named, whichever worker finds it, and those before it counted.
    edited = sorted(
        (next(e for e in log if e["chain"] == chain)["id"] for chain in chains[-3:]),
        reverse=True,
    )
    edited += [[e for e in log if e["chain"] == chains[len(chains) // 2]][-1]["id"]]
    for event_id in edited:
        tamper(copy_of_demo, "UPDATE events SET actor = 'mallory' WHERE id = ?", (event_id,))
    serial = walk_serially(copy_of_demo)
    code, output = verify(copy_of_demo)
    assert code == 1
    assert serial[1] is not None and serial[1].event_id == min(edited)
    assert f"FAILED: event {min(edited)} " in output
    store = Store(copy_of_demo, read_only=True)
    try:
        assert store.verify_chains() == serial
        assert serial[0] == sum(1 for e in log if e["id"] < min(edited))
        # From a seal, each chain going on from its head there.
        after = min(edited) - 5
        assert store.verify_chains(after) == walk_serially(copy_of_demo, after)
    finally:
        store.close()
    assert len(parallel_walk) == 4  # CLI verify, the two above, and the one before
