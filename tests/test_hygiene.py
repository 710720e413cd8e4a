"""Input hygiene: what fieldcase takes in, and what it shows of what it holds.

Invisible characters, control characters, endless text, machine-dependent time
zones and exotic digits are refused where they come in (the command line and
import files), naming the field and what to do; text stored before these
checks is escaped wherever it is shown (a terminal, a workbook).
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

import click
import pytest
from conftest import Run, create_args, query, snapshot
from fieldcase import hookimpl
from fieldcase.plugins import manager
from fieldcase.services import Services
from fieldcase.store import Store
from fieldcase.testing import RegisterPlugin
from pgserver import PgOffice

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

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


def references(target: str) -> list[str]:
    return [r for (r,) in query(target, "SELECT reference FROM cases ORDER BY id")]


# -- identifiers: references, staff and institution ids ------------------------------------


INVISIBLE = [
    ("A\u200bB", "U+200B ZERO WIDTH SPACE"),
    ("A\u200dB", "U+200D ZERO WIDTH JOINER"),
    ("L-\u202e1001", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("L-\u20661001", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("\ufeffL-1002", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("L-10\x0002", "U+0000 NULL"),
    ("L-10\x1b02", "U+001B ESCAPE"),
    ("L-10\n02", "U+000A LINE FEED"),
]


@pytest.mark.parametrize(("reference", "named"), INVISIBLE, ids=[n for _, n in INVISIBLE])
def test_a_reference_with_an_invisible_character_is_refused(
    office: Run, target: str, reference: str, named: str
) -> None:
    before = snapshot(target)
    result = office(*create_args(reference), *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "'--reference'" in result.stderr
    assert f"({named})" in result.stderr
    assert "remove it" in result.stderr
    assert snapshot(target) == before


def test_a_reference_in_full_width_characters_is_the_same_reference(
    office: Run, target: str
) -> None:
    # NFKC: what a Chinese input method types in full width is the ASCII reference.
    before = snapshot(target)
    again = office(*create_args("Ｌ－１００１"), *LATE, as_="chen.wei")
    assert again.exit_code == 2
    assert "case hx-consumer/L-1001 already exists (id 1)" in again.stderr
    assert snapshot(target) == before
    created = office(*create_args("Ｌ-２００２"), *LATE, "--json", as_="chen.wei")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["reference"] == "L-2002"
    shown = office("show", "ｈｘ-consumer/Ｌ-2002", as_="chen.wei")
    assert shown.exit_code == 0, shown.output
    assert "hx-consumer/L-2002" in shown.stdout


def test_staff_and_institution_ids_with_invisible_characters_are_refused(
    office: Run, target: str
) -> None:
    before = snapshot(target)
    staff = office("staff", "add", "li\u200b.na", "--name", "Li Na", *LATE, as_="chen.wei")
    assert staff.exit_code == 2
    assert "U+200B ZERO WIDTH SPACE" in staff.stderr
    institution = office(
        "institution",
        "add",
        "hx\u2060consumer",
        "--name",
        "HX",
        "--jurisdiction",
        "CN",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        *LATE,
        as_="chen.wei",
    )
    assert institution.exit_code == 2
    assert "U+2060 WORD JOINER" in institution.stderr
    assert snapshot(target) == before


def test_a_payment_reference_is_an_identifier_too(office: Run, target: str) -> None:
    first = office("payment", "1", "100", "--reference", "BOC-0042", *LATE, as_="chen.wei")
    assert first.exit_code == 0, first.output
    before = snapshot(target)
    # The same reference typed in full width is the same payment: recorded once.
    again = office("payment", "1", "100", "--reference", "ＢＯＣ-００４２", *LATE, as_="chen.wei")
    assert again.exit_code == 0, again.output
    assert "was already recorded; nothing changed" in again.stdout
    hidden = office("payment", "1", "100", "--reference", "BOC-0042\u200b", *LATE, as_="chen.wei")
    assert hidden.exit_code == 2
    assert "U+200B ZERO WIDTH SPACE" in hidden.stderr
    assert snapshot(target) == before


# -- free text: names, addresses, notes ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (SCREEN_ATTACK, "U+001B ESCAPE"),
        ("page\x0cbreak", "U+000C FORM FEED"),
        ("a\x00b", "U+0000 NULL"),
        ("ok\x7f", "U+007F DELETE"),
        ("ok\x9b31m", "U+009B"),
        ("paid \u202e0001 \u202c", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("paid \u2067x\u2069", "U+2067 RIGHT-TO-LEFT ISOLATE"),
        ("broken\uffffworkbook", "U+FFFF"),
    ],
)
def test_a_note_with_a_control_or_direction_character_is_refused(
    office: Run, target: str, text: str, named: str
) -> None:
    before = snapshot(target)
    result = office(
        "contact", "1", "--channel", "phone", "--outcome", "reached", "--note", text, *LATE,
        as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "'--note'" in result.stderr
    assert named in result.stderr
    assert ESC not in result.stderr
    assert snapshot(target) == before


def test_notes_keep_lines_tabs_and_the_joiners_scripts_need(office: Run, target: str) -> None:
    # Persian needs the zero-width non-joiner, emoji the joiner, Arabic its direction marks.
    note = "Neighbour:\n\tback Monday\r\nمی\u200cخواهم 👩\u200d👧 \u200fتم"
    result = office(
        "contact", "1", "--channel", "phone", "--outcome", "reached", "--note", note, *LATE,
        as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = office("show", "1", "--json", as_="li.na")
    (contact,) = json.loads(shown.stdout)["contacts"]
    assert contact["note"] == note.replace("\r\n", "\n")


def test_a_name_is_one_line(office: Run, target: str) -> None:
    before = snapshot(target)
    result = office(*create_args("L-3", name="王芳\n已结清"), *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "'--name'" in result.stderr
    assert "U+000A LINE FEED" in result.stderr
    assert snapshot(target) == before


@pytest.mark.parametrize(
    ("command", "option", "limit"),
    [
        (create_args("L-" + "9" * 63), "--reference", 64),
        (create_args("L-4", name="王" * 201), "--name", 200),
        (create_args("L-4", address="路" * 501), "--address", 500),
        (["confirm", "1", "--address", "x" * 501], "--address", 500),
        (
            ["contact", "1", "--channel", "phone", "--outcome", "reached", "--note", "n" * 4001],
            "--note",
            4000,
        ),
        (["reopen", "1", "--reason", "r" * 4001], "--reason", 4000),
        (["staff", "add", "s" * 65, "--name", "S"], "STAFF_ID", 64),
    ],
    ids=["reference", "name", "address", "confirmed address", "note", "reason", "staff id"],
)
def test_every_text_has_a_length_limit(
    office: Run, target: str, command: list[str], option: str, limit: int
) -> None:
    before = snapshot(target)
    actor = "li.na" if command[0] in ("confirm", "contact") else "chen.wei"
    result = office(*command, *LATE, as_=actor)
    assert result.exit_code == 2
    assert option in result.stderr
    assert f"at most {limit:,} characters" in result.stderr
    assert snapshot(target) == before


def test_text_at_its_limit_is_taken(office: Run) -> None:
    note = "n" * 4000
    result = office(
        "contact", "1", "--channel", "phone", "--outcome", "reached", "--note", note, *LATE,
        as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


class Shout:
    """A plugin with a command that says its note aloud."""

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("shout")
        @click.option("--note", default="")
        def shout(note: str) -> None:
            """Say the note (a plugin's command)."""
            click.echo(note.upper())


def test_a_plugin_command_gets_the_same_checks(
    office: Run, register_plugin: RegisterPlugin
) -> None:
    register_plugin(Shout(), name="shout")

    refused = office("shout", "--note", SCREEN_ATTACK)
    taken = office("shout", "--note", "ok")

    assert refused.exit_code == 2
    assert "U+001B ESCAPE" in refused.stderr
    assert taken.stdout == "OK\n"


# -- imports -------------------------------------------------------------------------------


def test_bad_text_in_an_import_is_a_reject_and_the_rest_imports(
    office: Run, tmp_path: Path, target: str
) -> None:
    path = write_cases(
        tmp_path / "cases.csv",
        [
            row("HX-1"),
            row("HX-\u200b2"),
            row("HX-3", borrower_name=f"王{SCREEN_ATTACK}芳"),
            row("HX-4", address="\u202e001 road"),
            row("HX-5", borrower_name="李" * 201),
            row("HX-6", timezone="localtime"),
            row("ＨＸ－７"),
            row("HX-8\u3000"),
        ],
    )
    summary = import_file(office, path)
    assert (summary["imported"], summary["rejected"]) == (3, 5)
    found = {(r["line"], r["field"]): r for r in rejects(Path(summary["rejects_file"]))}
    assert set(found) == {
        ("3", "reference"),
        ("4", "borrower_name"),
        ("5", "address"),
        ("6", "borrower_name"),
        ("7", "timezone"),
    }
    assert "U+200B ZERO WIDTH SPACE" in found["3", "reference"]["reason"]
    assert "U+001B ESCAPE" in found["4", "borrower_name"]["reason"]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in found["5", "address"]["reason"]
    assert "at most 200 characters" in found["6", "borrower_name"]["reason"]
    assert "not an IANA" in found["7", "timezone"]["reason"]
    # The rejects file shows the bad value escaped: opening it cannot clear a screen.
    raw = Path(summary["rejects_file"]).read_text(encoding="utf-8")
    assert ESC not in raw and "\\x1b[2J" in raw
    # Full width and a trailing ideographic space are the ASCII references (NFKC).
    assert references(target) == ["L-1001", "HX-1", "HX-7", "HX-8"]


def test_reimporting_the_same_cases_spelt_in_full_width_changes_nothing(
    office: Run, tmp_path: Path, target: str
) -> None:
    first = import_file(office, write_cases(tmp_path / "a.csv", [row("HX-7"), row("HX-8")]))
    assert first["imported"] == 2
    before = snapshot(target)
    # The same file again, and the same cases typed in full width or with a trailing space.
    again = import_file(office, write_cases(tmp_path / "a.csv", [row("HX-7"), row("HX-8")]))
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 2)
    wide = import_file(
        office, write_cases(tmp_path / "b.csv", [row("ＨＸ－７"), row("HX-8\u3000")])
    )
    assert (wide["imported"], wide["updated"], wide["unchanged"]) == (0, 0, 2)
    # Only the import events were added: no case, no update.
    after = snapshot(target)
    assert {t: rows for t, rows in after.items() if t != "events"} == {
        t: rows for t, rows in before.items() if t != "events"
    }
    assert references(target).count("HX-7") == 1


def test_one_file_naming_a_case_twice_in_two_spellings_rejects_the_second(
    office: Run, tmp_path: Path
) -> None:
    summary = import_file(office, write_cases(tmp_path / "c.csv", [row("HX-9"), row("ＨＸ-９")]))
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    (reject,) = rejects(Path(summary["rejects_file"]))
    assert (reject["line"], reject["field"]) == ("3", "reference")
    assert "appears again" in reject["reason"]


def test_json_lines_with_a_broken_surrogate_is_a_reject_not_a_crash(
    office: Run, tmp_path: Path
) -> None:
    path = tmp_path / "cases.jsonl"
    good = {
        "reference": "J-1",
        "borrower_name": "Zhao",
        "principal": "100",
        "overdue_amount": "10",
        "overdue_since": "2026-09-01",
    }
    path.write_text(
        json.dumps(good)
        + "\n"
        + json.dumps({**good, "reference": "J-2"}).replace("Zhao", "\\ud800")
        + "\n",
        encoding="utf-8",
    )
    summary = import_file(office, path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    (reject,) = rejects(Path(summary["rejects_file"]))
    assert reject["field"] == "borrower_name"
    assert "U+D800" in reject["reason"]


def test_an_institution_attribute_is_text_like_any_other(
    office: Run, tmp_path: Path, target: str
) -> None:
    from conftest import set_policy

    set_policy(office, "hx-consumer", 'attributes.branch="text"')
    path = tmp_path / "cases.csv"
    path.write_text(
        "reference,borrower_name,principal,overdue_amount,overdue_since,attributes.branch\n"
        f"AT-1,王芳,1000,100,2026-09-15,Harbor{ESC}[2J East\n"
        "AT-2,李强,1000,100,2026-09-15,Harbor East\n",
        encoding="utf-8",
    )
    summary = import_file(office, path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    (reject,) = rejects(Path(summary["rejects_file"]))
    assert reject["line"] == "2"
    assert (
        "attribute branch = 'Harbor\\x1b[2J East' contains a control character"
        in (reject["reason"])
    )
    before = snapshot(target)
    typed = office(
        *create_args("AT-3"), "--attribute", "branch=Harbor\u202eEast", *LATE, as_="chen.wei"
    )
    assert typed.exit_code == 2
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in typed.stderr
    assert snapshot(target) == before


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
def test_only_iana_time_zones_are_taken(office: Run, target: str, zone: str, hint: str) -> None:
    before = snapshot(target)
    result = add_institution(office, zone)
    assert result.exit_code == 2
    assert repr(zone) in result.stderr
    assert hint in result.stderr
    assert snapshot(target) == before


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Etc/GMT-8", "Asia/Urumqi", "EST5EDT"])
def test_iana_names_stay_accepted(office: Run, zone: str) -> None:
    result = add_institution(office, zone)
    assert result.exit_code == 0, result.output


def test_a_case_time_zone_is_checked_the_same_way(office: Run, target: str) -> None:
    before = snapshot(target)
    result = office(*create_args("L-5", timezone="localtime"), *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "'localtime'" in result.stderr
    assert snapshot(target) == before


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
        ("Midwest\\u001b[2J Credit", "America/Chicago", "U+001B ESCAPE"),
        ("Midwest Credit", "localtime", "machine is set to"),
    ],
)
def test_an_old_configuration_file_is_checked_like_typed_input(
    office: Run, tmp_path: Path, target: str, name: str, zone: str, message: str
) -> None:
    (tmp_path / "fieldcase.toml").write_text(
        f'[institutions.midwest]\nname = "{name}"\njurisdiction = "US-IL"\n'
        f'timezone = "{zone}"\ncurrency = "USD"\n'
    )
    before = snapshot(target)
    result = office("institution", "migrate", "fieldcase.toml", *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "cannot register midwest" in result.stderr
    assert message in result.stderr
    assert ESC not in result.stderr
    assert snapshot(target) == before


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
    office: Run, target: str, amount: str, message: str
) -> None:
    before = snapshot(target)
    paid = office("payment", "1", amount, "--reference", "R-1", *LATE, as_="chen.wei")
    assert paid.exit_code == 2
    assert message in paid.stderr
    promised = office(
        "promise", "1", "--amount", amount, "--date", "2026-12-15", *LATE, as_="li.na"
    )
    assert promised.exit_code == 2
    assert message in promised.stderr
    assert snapshot(target) == before


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
def old_services(office: Run, target: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The services on the office's database: they store what they are given, as fieldcase
    did before text (and staff ids) were checked where it comes in.

    On PostgreSQL they are the administrator's, whom the server names in each event.
    """
    from fieldcase import administration

    monkeypatch.setattr(administration, "check_staff_id", lambda staff_id: None)
    store = Store(target)
    try:
        yield Services(store, manager(), clock=None)
    finally:
        store.close()


def stored_nul(store_kind: str) -> str:
    """A NUL character as an old database can hold it: PostgreSQL's text cannot at all."""
    return "\x00" if store_kind == "sqlite" else ""


@pytest.fixture
def poisoned(office: Run, old_services: Services, store_kind: str) -> Run:
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
        summary=f"ok{ESC}[2J{stored_nul(store_kind)}",
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


def test_a_real_terminal_receives_no_escape_sequence(
    poisoned: Run, target: str, store_kind: str, request: pytest.FixtureRequest
) -> None:
    if store_kind == "postgresql":  # chen.wei logs in as herself
        pg_office: PgOffice = request.getfixturevalue("pg_office")
        acting = ["--db", pg_office.url("chen.wei")]
    else:
        acting = ["--db", target, "--as", "chen.wei"]
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldcase", *acting, "show", "2"],
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
    poisoned: Run, tmp_path: Path, store_kind: str
) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "visits.xlsx"
    result = poisoned("export", "visits", "--unmasked", "-o", str(target), *LATE, as_="chen.wei")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).worksheets[0]
    header = [c.value for c in sheet[1]]
    (visit,) = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == 2]
    assert visit[header.index("notes")] == "page\\x0cbreak"
    nul = "\\x00" if stored_nul(store_kind) else ""
    assert visit[header.index("feedback_summary")] == f"ok\\x1b[2J{nul}"
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
