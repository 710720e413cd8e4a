"""Input hygiene: what fieldcase takes in, and what it shows of what it holds.

Amounts in digits no statement is written in are refused where they come in
(the command line and import files), naming the field and what to do.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, snapshot

LATE = ("--at", "2026-11-26T09:00+08:00")


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
