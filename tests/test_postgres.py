"""The PostgreSQL store: a team's database where the server enforces who did what.

Every test runs on a throwaway server (tests/pgserver.py) started once for the
session, each in a database of its own. Staff act through the real command
line, logged in as their own database roles; the attacks are made the way a
field worker with ``psql`` and their own password would, over TCP.
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result
from conftest import AT, create_args, register, to_submitted
from fieldcase.errors import FieldcaseError
from fieldcase.privacy import mask_phone, mask_tail
from fieldcase.store import Store
from pgserver import PgOffice as Office
from pgserver import Server


@pytest.fixture
def team(pg_server: Server) -> Iterator[Office]:
    """A supervisor, two field workers, case 1 for li.na and case 2 for zhang.min.

    Afterwards the log verifies and the tables replay from it, read by the administrator.
    """
    team = Office(pg_server)
    assert team.run("init").exit_code == 0
    ok = team.run("staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor")
    assert ok.exit_code == 0, ok.output
    for staff, name in (("li.na", "李娜"), ("zhang.min", "张敏")):
        ok = team.run("staff", "add", staff, "--name", name, as_="chen.wei")
        assert ok.exit_code == 0, ok.output
    register(team.run)
    at = ("--at", "2026-11-23T09:00+08:00")
    ok = team.run(*create_args(), "--assign", "li.na", *at, as_="chen.wei")
    assert ok.exit_code == 0, ok.output
    second = create_args("L-1002", name="赵磊", phone="+86 139 0000 1111")
    ok = team.run(*second, "--assign", "zhang.min", *at, as_="chen.wei")
    assert ok.exit_code == 0, ok.output
    yield team
    if team.tampered:
        return
    store = Store(team.admin)
    try:
        assert store.verify_chains()[1] is None
        assert store.compare_replay() == []
    finally:
        store.close()


def refused_by_database(action: Callable[[], object], words: str) -> None:
    with pytest.raises(psycopg.Error) as caught:
        action()
    assert words in str(caught.value), str(caught.value)


# -- the work, through the command line ---------------------------------------------------


def test_a_field_workers_day_on_postgres(team: Office) -> None:
    at = ("--at", "2026-11-23T10:00+08:00")
    ok = team.run("contact", "1", "--channel", "phone", "--outcome", "reached", *at, as_="li.na")
    assert ok.exit_code == 0, ok.output
    listed = team.run("cases", as_="li.na")
    assert "hx-consumer/L-1001" in listed.output and "hx-consumer/L-1002" in listed.output
    mine = team.run("cases", "--staff", "li.na", as_="li.na")
    assert "hx-consumer/L-1001" in mine.output and "hx-consumer/L-1002" not in mine.output
    found = team.run("cases", "--search", "王芳", as_="li.na")
    assert "hx-consumer/L-1001" in found.output and "hx-consumer/L-1002" not in found.output
    history = team.run("history", "1", as_="li.na")
    assert "contact_recorded" in history.output
    verified = team.run("audit", "verify", as_="li.na")
    assert verified.exit_code == 0, verified.output
    assert "guards are in place and the database is sound" in verified.output
    for report in ("pipeline", "staff", "compliance"):
        shown = team.run("report", report, as_="chen.wei")
        assert shown.exit_code == 0, (report, shown.output)


def test_the_events_name_the_login_and_the_servers_time(team: Office) -> None:
    """--at is the claimed time; who wrote it and when it was written are the server's."""
    ok = team.run(
        "contact",
        "1",
        "--channel",
        "phone",
        "--outcome",
        "no-answer",
        "--at",
        "2026-11-23T10:00+08:00",
        as_="li.na",
    )
    assert ok.exit_code == 0, ok.output
    with team.psql(None) as conn:
        actor, at, recorded, now = conn.execute(
            "SELECT actor, at, recorded_at, clock_timestamp() FROM fieldcase.events"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert actor == "li.na"
    assert at == "2026-11-23T02:00:00Z"
    assert recorded[:10] == now.strftime("%Y-%m-%d")


def test_as_someone_else_is_refused(team: Office) -> None:
    result = team.run("--as", "chen.wei", "cases", as_="li.na")
    assert result.exit_code == 2
    assert "does not match your login (li.na)" in result.output
    # Named as themselves, it is the same as leaving it out.
    assert team.run("--as", "li.na", "cases", as_="li.na").exit_code == 0


def test_a_deactivated_login_cannot_connect(team: Office) -> None:
    ok = team.run("staff", "deactivate", "zhang.min", "--note", "left", as_="chen.wei")
    assert ok.exit_code == 0, ok.output
    result = team.run("cases", as_="zhang.min")
    assert result.exit_code == 1
    assert "does not have CONNECT privilege" in result.output


def test_a_staff_id_that_names_an_administrator_is_refused(team: Office) -> None:
    result = team.run("staff", "add", "fc_admin", "--name", "Admin", as_="chen.wei")
    assert result.exit_code == 1
    assert "database administrator" in result.output
    with team.psql(None) as conn:
        assert conn.execute("SELECT count(*) FROM fieldcase.staff").fetchone() == (3,)


def test_a_field_worker_sets_their_own_password_only(team: Office) -> None:
    result = team.run("staff", "password", "zhang.min", as_="li.na", input="x1\nx1\n")
    assert result.exit_code == 1
    assert "only a supervisor" in result.output
    with team.psql("zhang.min"):  # still their old password
        pass


# -- attacks with psql and one's own login --------------------------------------------------


def test_a_field_worker_cannot_update_or_delete_an_event(team: Office) -> None:
    with team.psql("li.na") as conn:
        for sql in (
            "UPDATE fieldcase.events SET type = 'nothing' WHERE id = 1",
            "UPDATE events SET type = 'nothing' WHERE id = 1",
            "DELETE FROM fieldcase.events WHERE id = 1",
            "DELETE FROM events WHERE id = 1",
            "TRUNCATE fieldcase.events",
        ):
            refused_by_database(functools.partial(conn.execute, sql), "permission denied")
    # Not even the schema's owner edits the log without turning its triggers off.
    with team.psql(None) as conn:
        refused_by_database(
            lambda: conn.execute("UPDATE fieldcase.events SET actor = 'x' WHERE id = 1"),
            "events are append-only",
        )
        refused_by_database(
            lambda: conn.execute("DELETE FROM fieldcase.events WHERE id = 1"),
            "events are append-only",
        )


def test_a_field_worker_sees_other_cases_personal_data_masked(team: Office) -> None:
    with team.psql("li.na") as conn:
        mine = conn.execute("SELECT phone, national_id FROM cases WHERE id = 1").fetchone()
        theirs = conn.execute(
            "SELECT phone, national_id, address, borrower_name FROM cases WHERE id = 2"
        ).fetchone()
        assert mine == ("+8613800138000", "310101199001011234")
        # Their phone and national id as every masked view shows them; no address.
        masked = (mask_phone("+8613900001111"), mask_tail("310101199001011234"))
        assert theirs == (*masked, "[masked]", "赵磊")
        payloads = conn.execute(
            "SELECT case_id, payload IS NULL FROM events WHERE case_id IN (1, 2)"
        ).fetchall()
        assert {hidden for case_id, hidden in payloads if case_id == 2} == {True}
        assert {hidden for case_id, hidden in payloads if case_id == 1} == {False}
        refused_by_database(
            lambda: conn.execute("SELECT phone FROM fieldcase.cases WHERE id = 2"),
            "permission denied",
        )
        refused_by_database(
            lambda: conn.execute("SELECT payload FROM fieldcase.events"), "permission denied"
        )
    with team.psql("chen.wei") as conn:  # a supervisor sees every case
        row = conn.execute("SELECT phone FROM cases WHERE id = 2").fetchone()
        assert row == ("+8613900001111",)


def test_a_field_worker_cannot_change_policy(team: Office) -> None:
    with team.psql("li.na") as conn:
        refused_by_database(
            lambda: conn.execute("UPDATE fieldcase.institutions SET policy = '{}'"),
            "permission denied",
        )
        refused_by_database(
            lambda: conn.execute(
                "INSERT INTO fieldcase.policy_versions (id, institution, version, policy, at)"
                " VALUES (99, 'hx-consumer', 9, '{}', '2026-11-01T00:00:00Z')"
            ),
            "permission denied",
        )
        refused_by_database(
            lambda: conn.execute(
                "INSERT INTO fieldcase.events (id, case_id, chain, type, actor, at, payload,"
                " prev_hash, hash, payload_sha256) VALUES (1000, NULL, 'institution:hx-consumer',"
                " 'policy_changed', 'chen.wei', '2026-11-01T00:00:00Z', '{}', '', '', 'x')"
            ),
            "only a supervisor",
        )
    result = team.run(
        "institution", "policy", "hx-consumer", "--set", "max_discount=0.9", as_="li.na"
    )
    assert result.exit_code != 0


def test_an_event_inserted_as_someone_else_and_backdated_is_stamped_by_the_server(
    team: Office,
) -> None:
    team.tampered = True
    with team.psql("li.na") as conn:
        conn.execute(
            "INSERT INTO fieldcase.events (id, case_id, chain, type, actor, at, payload,"
            " prev_hash, hash, payload_sha256, recorded_at) VALUES (1000, 1, 'case:1',"
            " 'note', 'chen.wei', '2026-11-23T01:00:00Z', '{}', 'forged', 'forged', 'x',"
            " '2020-01-01T00:00:00Z')"
        )
        actor, recorded, prev, digest = conn.execute(
            "SELECT actor, recorded_at, prev_hash, hash FROM events WHERE id = 1000"
        ).fetchone()
        refused_by_database(
            lambda: conn.execute(
                "INSERT INTO fieldcase.events (id, case_id, chain, type, at, payload,"
                " prev_hash, hash, payload_sha256) VALUES (3, 1, 'case:1', 'note',"
                " '2026-11-23T01:00:00Z', '{}', '', '', 'x')"
            ),
            "events are appended in order",
        )
    assert actor == "li.na"
    assert not recorded.startswith("2020")
    assert prev != "forged" and digest != "forged"
    # The chain still links; the forged payload is caught against its digest.
    store = Store(team.admin)
    try:
        _, problem = store.verify_chains()
    finally:
        store.close()
    assert problem is not None and problem.event_id == 1000
    assert "payload" in problem.problem or "edited" in problem.problem


def test_a_sqlite_file_has_no_logins(run: Callable[..., Result]) -> None:
    """`staff password` on a file says why, before asking for a password."""
    assert run("init").exit_code == 0
    result = run("staff", "password", "li.na", input="x\nx\n")
    assert result.exit_code == 2
    assert "a SQLite file has no logins" in result.output
    assert "Password" not in result.output


# -- fieldcase migrate --to: an office's SQLite file moves to the team's database -------------


def sqlite_office(run: Callable[..., Result]) -> None:
    """The suite's office on a SQLite file, case 1 taken to submitted feedback and paid."""
    assert run("init").exit_code == 0
    assert run("staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor").exit_code == 0
    for staff, name in (("li.na", "李娜"), ("zhang.min", "张敏")):
        assert run("staff", "add", staff, "--name", name, as_="chen.wei").exit_code == 0
    register(run)
    at = ("--at", "2026-11-23T09:00+08:00")
    ok = run(*create_args(), "--assign", "li.na", *at, as_="chen.wei")
    assert ok.exit_code == 0, ok.output
    ok = run(*create_args("L-1002", name="赵磊"), "--assign", "zhang.min", *at, as_="chen.wei")
    assert ok.exit_code == 0, ok.output
    to_submitted(run)
    paid = run("payment", "1", "500", "--reference", "R-1", *AT, as_="chen.wei")
    assert paid.exit_code == 0, paid.output
    noted = run(
        "contact", "2", "--channel", "phone", "--outcome", "no-answer", *AT, as_="zhang.min"
    )
    assert noted.exit_code == 0, noted.output
    contact = json.loads(run("history", "2", "--json", as_="chen.wei").stdout)[-1]
    assert contact["type"] == "contact_recorded"
    voided = run("void", "2", str(contact["id"]), "--reason", "wrong case", *AT, as_="chen.wei")
    assert voided.exit_code == 0, voided.output


def test_an_office_moves_to_postgresql_whole(
    run: Callable[..., Result], db_path: Path, pg_office: Office, tmp_path: Path
) -> None:
    sqlite_office(run)
    source = Store(db_path)
    try:
        seal, counts = source.seal(), source.table_counts()
    finally:
        source.close()
    moved = run("migrate", "--to", pg_office.admin, "--json")
    assert moved.exit_code == 0, moved.output
    report = json.loads(moved.stdout)
    assert (report["events"], report["already"], report["seal"]) == (seal[2], 0, seal[0])
    target = Store(pg_office.admin)
    try:
        assert target.table_counts() == counts
        assert target.verify_chains()[1] is None and target.compare_replay() == []
        actors = {row["actor"] for row in target.db.query("SELECT actor FROM events")}
    finally:
        target.close()
    assert {"chen.wei", "li.na", "zhang.min"} <= actors  # as written, not the mover
    # Moving again finds everything there: nothing is copied twice.
    again = json.loads(run("migrate", "--to", pg_office.admin, "--json").stdout)
    assert (again["events"], again["already"]) == (0, seal[2])
    # Staff log in once given a password; their work goes on, stamped by the server.
    for staff in ("li.na", "chen.wei"):
        ok = pg_office.run("staff", "password", staff, input=f"pw-{staff}\npw-{staff}\n")
        assert ok.exit_code == 0, ok.output
    assert "hx-consumer/L-1001" in pg_office.run("cases", "--all", as_="li.na").output
    verified = pg_office.run("audit", "verify", "--replay", as_="chen.wei")
    assert verified.exit_code == 0, verified.output
    # The same office gives the same export and reports on both stores.
    for name, runner in (("file", run), ("server", pg_office.run)):
        out = tmp_path / f"{name}.csv"
        exported = runner("export", "visits", "-o", str(out), *AT, as_="chen.wei")
        assert exported.exit_code == 0, exported.output
    file_csv = (tmp_path / "file.csv").read_text(encoding="utf-8")
    assert file_csv == (tmp_path / "server.csv").read_text(encoding="utf-8")
    assert "CNY" in file_csv or "3150.40" in file_csv
    for report in ("pipeline", "outcomes", "staff", "reasons"):
        args = ("report", report, "--json", "--to", "2026-11-26T00:00+08:00")
        assert run(*args, as_="chen.wei").stdout == pg_office.run(*args, as_="chen.wei").stdout


def test_a_stopped_move_goes_on_where_it_stopped(
    run: Callable[..., Result], db_path: Path, pg_office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_office(run)
    append = Store.append_moved
    calls = itertools.count(1)

    def dies_on_the_third(self: Store, rows: Any) -> None:
        if next(calls) == 3:
            raise FieldcaseError("the network went away")
        append(self, rows)

    monkeypatch.setattr(Store, "append_moved", dies_on_the_third)
    stopped = run("migrate", "--to", pg_office.admin, "--batch", "5")
    assert stopped.exit_code == 1 and "the network went away" in stopped.stderr
    monkeypatch.undo()
    target = Store(pg_office.admin)
    try:
        assert target.last_event_id() == 10  # two batches, each whole
        assert target.verify_chains()[1] is None
    finally:
        target.close()
    resumed = json.loads(run("migrate", "--to", pg_office.admin, "--json").stdout)
    assert resumed["already"] == 10 and resumed["events"] == resumed["total"] - 10


def test_a_broken_log_is_not_moved(
    run: Callable[..., Result], db_path: Path, pg_office: Office
) -> None:
    sqlite_office(run)
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET actor = 'zhang.min' WHERE id = 6")
    conn.commit()
    conn.close()
    result = run("migrate", "--to", pg_office.admin)
    assert result.exit_code == 1
    assert "the source's log is broken at event 6" in result.stderr
    assert "no fieldcase database" in pg_office.run("cases").stderr  # not even the schema


def test_only_the_administrator_moves_an_office_in(
    run: Callable[..., Result], pg_office: Office, team: Office
) -> None:
    sqlite_office(run)
    result = run("migrate", "--to", team.url("chen.wei"))
    assert result.exit_code == 1
    assert "as the target database's administrator" in result.stderr
    into_another = run("migrate", "--to", team.admin)
    assert into_another.exit_code == 1
    assert "not the first of this office's log" in into_another.stderr


def test_audit_verify_names_a_missing_guard_or_masking_view(team: Office) -> None:
    """What only an administrator can do to the schema, audit verify says."""
    with team.psql(None) as conn:
        conn.execute("ALTER TABLE fieldcase.events DISABLE TRIGGER events_no_delete")
        conn.execute("DROP VIEW fieldcase_read.evidence")
    result = team.run("audit", "verify", as_="chen.wei")
    assert result.exit_code == 1
    assert "trigger events_no_delete is missing" in result.stderr
    assert "the masking views of evidence are missing" in result.stderr


def test_a_field_worker_cannot_pass_an_event_off_as_moved(team: Office) -> None:
    """The trigger keeps a moved event's actor and time only for the administrator."""
    with team.psql("li.na") as conn, conn.transaction():
        conn.execute("SET LOCAL fieldcase.moving = 'on'")
        conn.execute(
            "INSERT INTO fieldcase.events (id, case_id, chain, type, actor, at, payload,"
            " prev_hash, hash, payload_sha256, recorded_at) VALUES (1000, 1, 'case:1',"
            " 'note', 'chen.wei', '2026-11-23T01:00:00Z', '{}', 'x', 'x', 'x',"
            " '2020-01-01T00:00:00Z')"
        )
        actor, recorded = conn.execute(
            "SELECT actor, recorded_at FROM events WHERE id = 1000"
        ).fetchone()
    team.tampered = True  # a note event with a made-up payload digest
    assert actor == "li.na" and not recorded.startswith("2020")
