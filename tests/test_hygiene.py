"""Input hygiene: what fieldcase takes in, and what it shows of what it holds.

Machine-dependent time zones and amounts in digits no statement is written in
are refused where they come in (the command line and import files), naming
the field and what to do.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, create_args, snapshot

LATE = ("--at", "2026-11-26T09:00+08:00")
ESC = "\x1b"


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
