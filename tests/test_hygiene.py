"""Input hygiene: what fieldcase takes in, and what it shows of what it holds.

Machine-dependent time zones and amounts in digits no statement is written in
are refused where they come in (the command line and import files), naming
the field and what to do; text stored with control characters is escaped
wherever it is shown (a terminal, a workbook).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, create_args, snapshot
from fieldcase.plugins import manager
from fieldcase.services import Services
from fieldcase.store import Store

LATE = ("--at", "2026-11-26T09:00+08:00")
ESC = "\x1b"
#: Clears the screen and writes a lie in red where the note should be.
SCREEN_ATTACK = "\x1b[2J\x1b[H\x1b[31mPAID IN FULL\x1b[0m"


# -- files to import -----------------------------------------------------------------------

HEADER = [
    "reference",
    "borrower_name",
    "principal",
    "overdue_amount",
    "overdue_since",
    "address",
    "timezone",
]


def write_cases(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        out.writerows(rows)
    return path


def row(reference: str, **values: str) -> list[str]:
    fields = {
        "borrower_name": "王芳",
        "principal": "1000",
        "overdue_amount": "100",
        "overdue_since": "2026-09-15",
        "address": "上海市浦东新区世纪大道100号",
        "timezone": "",
        **values,
    }
    return [reference, *(fields[name] for name in HEADER[1:])]


def import_file(office: Run, path: Path) -> dict[str, Any]:
    result = office(
        "import", str(path), "--institution", "hx-consumer", *LATE, "--json", as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def references(db_path: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return [r for (r,) in conn.execute("SELECT reference FROM cases ORDER BY id")]
    finally:
        conn.close()


# -- time zones ----------------------------------------------------------------------------

NOT_IANA = [
    ("localtime", "machine is set to"),
    ("posixrules", "machine is set to"),
    ("Factory", "machine is set to"),
    ("UTC+8", "offset"),
    ("GMT+8", "offset"),
    ("+08:00", "offset"),
    ("CST-8", "offset"),
    ("<+08>-8", "offset"),
    ("EST5EDT,M3.2.0,M11.1.0", "offset"),
    ("right/Asia/Shanghai", "did you mean Asia/Shanghai?"),
    ("posix/Asia/Shanghai", "did you mean Asia/Shanghai?"),
    ("asia/shanghai", "did you mean Asia/Shanghai?"),
    ("Asia/Shanghai/../Tokyo", "not an IANA"),
]


def add_institution(office: Run, zone: str, name: str = "zoned") -> Any:
    return office(
        "institution",
        "add",
        name,
        "--name",
        name,
        "--jurisdiction",
        "CN",
        "--timezone",
        zone,
        "--currency",
        "CNY",
        *LATE,
        as_="chen.wei",
    )


@pytest.mark.parametrize(("zone", "hint"), NOT_IANA, ids=[z for z, _ in NOT_IANA])
def test_only_iana_time_zones_are_taken(office: Run, db_path: Path, zone: str, hint: str) -> None:
    before = snapshot(db_path)
    result = add_institution(office, zone)
    assert result.exit_code == 2
    assert repr(zone) in result.stderr
    assert hint in result.stderr
    assert snapshot(db_path) == before


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Etc/GMT-8", "Asia/Urumqi", "EST5EDT"])
def test_iana_names_stay_accepted(office: Run, zone: str) -> None:
    result = add_institution(office, zone)
    assert result.exit_code == 0, result.output


def test_a_case_time_zone_is_checked_the_same_way(office: Run, db_path: Path) -> None:
    before = snapshot(db_path)
    result = office(*create_args("L-5", timezone="localtime"), *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "'localtime'" in result.stderr
    assert snapshot(db_path) == before


def test_an_import_timezone_column_is_checked_the_same_way(office: Run, tmp_path: Path) -> None:
    rows = [
        row("Z-1", timezone="localtime"),
        row("Z-2", timezone="UTC+8"),
        row("Z-3", timezone="Asia/Urumqi"),
    ]
    summary = import_file(office, write_cases(tmp_path / "zones.csv", rows))
    assert (summary["imported"], summary["rejected"]) == (1, 2)
    found = rejects(Path(summary["rejects_file"]))
    assert [(r["line"], r["field"], r["value"]) for r in found] == [
        ("2", "timezone", "localtime"),
        ("3", "timezone", "UTC+8"),
    ]
    assert "machine is set to" in found[0]["reason"]
    assert "offset" in found[1]["reason"]


@pytest.mark.parametrize(
    ("name", "zone", "message"),
    [
        ("Midwest Credit", "localtime", "machine is set to"),
    ],
)
def test_an_old_configuration_file_is_checked_like_typed_input(
    office: Run, tmp_path: Path, db_path: Path, name: str, zone: str, message: str
) -> None:
    (tmp_path / "fieldcase.toml").write_text(
        f'[institutions.midwest]\nname = "{name}"\njurisdiction = "US-IL"\n'
        f'timezone = "{zone}"\ncurrency = "USD"\n'
    )
    before = snapshot(db_path)
    result = office("institution", "migrate", "fieldcase.toml", *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "cannot register midwest" in result.stderr
    assert message in result.stderr
    assert ESC not in result.stderr
    assert snapshot(db_path) == before


# -- amounts -------------------------------------------------------------------------------

ODD_AMOUNTS = [
    ("-0", "negative"),
    ("1e3", "exponent"),
    ("1E3", "exponent"),
    ("1_000", "underscore"),
    ("１０００", "ASCII digits 0-9"),
    ("١٠٠٠", "ASCII digits 0-9"),
    ("۱۰۰۰", "ASCII digits 0-9"),
    ("१०००", "ASCII digits 0-9"),
]


@pytest.mark.parametrize(("amount", "message"), ODD_AMOUNTS, ids=[a for a, _ in ODD_AMOUNTS])
def test_odd_amounts_are_refused_as_payments_and_promises(
    office: Run, db_path: Path, amount: str, message: str
) -> None:
    before = snapshot(db_path)
    paid = office("payment", "1", amount, "--reference", "R-1", *LATE, as_="chen.wei")
    assert paid.exit_code == 2
    assert message in paid.stderr
    promised = office(
        "promise", "1", "--amount", amount, "--date", "2026-12-15", *LATE, as_="li.na"
    )
    assert promised.exit_code == 2
    assert message in promised.stderr
    assert snapshot(db_path) == before


def test_odd_amounts_in_an_import_are_rejects(office: Run, tmp_path: Path) -> None:
    rows = [row(f"A-{n}", principal=amount) for n, (amount, _) in enumerate(ODD_AMOUNTS)]
    summary = import_file(office, write_cases(tmp_path / "amounts.csv", [*rows, row("A-ok")]))
    assert (summary["imported"], summary["rejected"]) == (1, len(ODD_AMOUNTS))
    found = rejects(Path(summary["rejects_file"]))
    assert [r["field"] for r in found] == ["principal"] * len(ODD_AMOUNTS)
    for reject, (_, message) in zip(found, ODD_AMOUNTS, strict=True):
        assert message in reject["reason"]


def test_plain_amounts_stay_accepted(office: Run) -> None:
    for n, amount in enumerate(["1500", "1,500.50", "1500.5", "CNY 15", "0.01"]):
        result = office("payment", "1", amount, "--reference", f"P-{n}", *LATE, as_="chen.wei")
        assert result.exit_code == 0, result.output


# -- what is shown of text stored before the checks ----------------------------------------


@pytest.fixture
def old_services(office: Run, db_path: Path) -> Iterator[Services]:
    """The services on the office's database: they store what they are given, as fieldcase
    did before text was checked where it comes in."""
    store = Store(db_path)
    try:
        yield Services(store, manager(), clock=None)
    finally:
        store.close()


@pytest.fixture
def poisoned(office: Run, old_services: Services) -> Run:
    """Case 2 stored with escape sequences in its name, addresses, notes and summary."""
    at = dt.datetime.fromisoformat("2026-11-23T12:00+08:00")
    services = old_services
    case = services.create_case(
        actor="chen.wei",
        at=at,
        institution="hx-consumer",
        reference=f"OLD{ESC}[8m-1",
        borrower_name=f"王{ESC}]0;owned\x07芳",
        principal="1000",
        overdue_amount="100",
        overdue_since=dt.date(2026, 9, 1),
        address=f"{ESC}[2K上海\x9b31m\uffff",
        assign_to="li.na",
    )
    assert case.id == 2
    services.add_staff(f"mallory{ESC}[1A", f"Mal{ESC}[2Jlory", "field", actor="chen.wei", at=at)
    services.record_contact(
        2,
        actor="li.na",
        at=at,
        channel="phone",
        target="borrower",
        outcome="reached",
        note=SCREEN_ATTACK,
    )
    services.confirm_address(2, actor="li.na", at=at, address=f"road{ESC}[2J 1\u202egnp.exe")
    services.plan_visit(
        2,
        actor="li.na",
        at=at,
        date=dt.date(2026, 11, 25),
        window=(dt.time(10), dt.time(12)),
    )
    services.tick_checklist(2, actor="li.na", at=at, tick_all=True)
    visit_at = dt.datetime.fromisoformat("2026-11-25T10:30+08:00")
    services.record_interview(
        2, actor="li.na", at=visit_at, met="borrower", reason="medical", notes="page\x0cbreak"
    )
    services.submit_feedback(
        2,
        actor="li.na",
        at=visit_at,
        recommendation="restructure",
        summary=f"ok{ESC}[2J\x00",
    )
    # Case 3 has its visit today (2026-11-25), for li.na's day plan.
    planned = services.create_case(
        actor="chen.wei",
        at=at,
        institution="hx-consumer",
        reference="OLD-3",
        borrower_name=f"张{ESC}[5m敏",
        principal="1000",
        overdue_amount="100",
        overdue_since=dt.date(2026, 9, 1),
        assign_to="li.na",
    )
    assert planned.id == 3
    services.confirm_address(3, actor="li.na", at=at, address=f"{ESC}[2J北京")
    services.plan_visit(
        3, actor="li.na", at=at, date=dt.date(2026, 11, 25), window=(dt.time(14), dt.time(16))
    )
    return office


DISPLAYS = [
    ["show", "2"],
    ["history", "2"],
    ["cases", "--all"],
    ["staff"],
    ["today", "--at", "2026-11-25T07:30+08:00"],
    ["report", "staff"],
    ["history", "--system"],
]


@pytest.mark.parametrize("command", DISPLAYS, ids=" ".join)
def test_stored_control_characters_reach_the_terminal_escaped(
    poisoned: Run, command: list[str]
) -> None:
    actor = "li.na" if command[0] == "today" else "chen.wei"
    result = poisoned(*command, as_=actor)
    assert result.exit_code == 0, result.output
    for raw in (ESC, "\x07", "\x9b", "\x0c", "\x00", "\u202e"):
        assert raw not in result.output, f"{raw!r} reached the terminal"
    assert "\\x1b" in result.output


def test_show_escapes_each_stored_text_where_it_stands(poisoned: Run) -> None:
    shown = poisoned("show", "2", as_="chen.wei").stdout
    assert "王\\x1b]0;owned\\x07芳" in shown
    assert "\\x1b[2K上海\\x9b31m\\uffff" in shown
    assert "road\\x1b[2J 1\\u202egnp.exe" in shown
    assert "page\\x0cbreak" in shown
    assert "\\x1b[2J\\x1b[H\\x1b[31mPAID IN FULL\\x1b[0m" in shown


def test_json_output_carries_the_text_exactly_without_raw_controls(poisoned: Run) -> None:
    result = poisoned("show", "2", "--json", as_="chen.wei")
    assert result.exit_code == 0, result.output
    for raw in (ESC, "\x07", "\x9b", "\u202e"):
        assert raw not in result.stdout
    data = json.loads(result.stdout)
    assert data["borrower"]["address"] == f"{ESC}[2K上海\x9b31m\uffff"
    assert data["contacts"][0]["note"] == SCREEN_ATTACK


def test_a_real_terminal_receives_no_escape_sequence(poisoned: Run, db_path: Path) -> None:
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldcase", "--db", str(db_path), "--as", "chen.wei", "show", "2"],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    received = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other end closed: the command is done
            break
        if not chunk:
            break
        received += chunk
    os.close(primary)
    assert process.wait(timeout=30) == 0, received
    assert b"Case 2" in received
    assert b"\x1b" not in received and b"\x07" not in received and b"\xc2\x9b" not in received


def test_the_workbook_shows_stored_control_characters_escaped(
    poisoned: Run, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "visits.xlsx"
    result = poisoned("export", "visits", "--unmasked", "-o", str(target), *LATE, as_="chen.wei")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).worksheets[0]
    header = [c.value for c in sheet[1]]
    (visit,) = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == 2]
    assert visit[header.index("notes")] == "page\\x0cbreak"
    assert visit[header.index("feedback_summary")] == "ok\\x1b[2J\\x00"
    assert visit[header.index("borrower_name")] == "王\\x1b]0;owned\\x07芳"
    assert visit[header.index("address")] == "\\x1b[2K上海\\x9b31m\\uffff"


def test_a_rejects_file_shows_the_bad_value_escaped(office: Run, tmp_path: Path) -> None:
    bad = f"1{SCREEN_ATTACK}"
    summary = import_file(office, write_cases(tmp_path / "cases.csv", [row("R-1", principal=bad)]))
    assert summary["rejected"] == 1
    raw = Path(summary["rejects_file"]).read_text(encoding="utf-8")
    assert ESC not in raw
    (reject,) = rejects(Path(summary["rejects_file"]))
    assert (reject["field"], reject["value"]) == (
        "principal",
        "1\\x1b[2J\\x1b[H\\x1b[31mPAID IN FULL\\x1b[0m",
    )
