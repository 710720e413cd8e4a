"""The built-in reports, checked against counts made independently from the tables."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fieldcase import hookimpl
from fieldcase.cli import cli
from fieldcase.commands import json_key
from fieldcase.plugins import manager
from fieldcase.reports import reports
from fieldcase.testing import RegisterPlugin, invoke

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

AT = "2026-11-10T00:00Z"


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports") / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "demo", "--cases", "120", "--at", AT])
    assert result.exit_code == 0, result.output
    return path


def report(path: Path, name: str, *args: str) -> list[dict[str, Any]]:
    """The report as JSON, up to ``AT`` unless ``args`` give another --to."""
    until = [] if "--to" in args else ["--to", AT]
    result = CliRunner().invoke(
        cli, ["--db", str(path), "report", name, "--format", "json", *until, *args]
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def rows(path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def bucket(days: int) -> str:
    for label, low, high in (
        ("1-30", 1, 30),
        ("31-60", 31, 60),
        ("61-90", 61, 90),
        ("91-180", 91, 180),
        ("181+", 181, 10**9),
    ):
        if low <= days <= high:
            return label
    return "current"


def test_pipeline_counts_every_open_case_once(portfolio: Path) -> None:
    at = dt.datetime.fromisoformat(AT.replace("Z", "+00:00"))
    expected: Counter[tuple[str, str]] = Counter()
    for case in rows(portfolio, "SELECT * FROM cases WHERE stage != 'closed'"):
        today = at.astimezone(ZoneInfo(case["timezone"])).date()
        days = (today - dt.date.fromisoformat(case["overdue_since"])).days
        if case["kind"] == "review" and case["overdue_minor"] == 0:
            days = 0  # a performing loan under review is not past due
        expected[(case["stage"], bucket(days))] += 1
    got = report(portfolio, "pipeline")
    keys = {
        "current": "current",
        "1-30": "_1_30",
        "31-60": "_31_60",
        "61-90": "_61_90",
        "91-180": "_91_180",
        "181+": "_181_plus",
    }
    for row in got:
        for label, key in keys.items():
            assert row[key] == expected[(row["stage"], label)], (row["stage"], label)
    assert sum(r["total"] for r in got) == len(
        rows(portfolio, "SELECT id FROM cases WHERE stage != 'closed'")
    )


def test_staff_report_matches_the_tables(portfolio: Path) -> None:
    contacts = Counter(r["staff"] for r in rows(portfolio, "SELECT staff FROM contacts"))
    visits: Counter[tuple[str, str]] = Counter()
    met: Counter[str] = Counter()
    for visit in rows(portfolio, "SELECT staff, status, met FROM visits"):
        for member in json.loads(visit["staff"]):
            visits[(member, visit["status"])] += 1
            met[member] += visit["met"] == "borrower"
    made = Counter(r["made_by"] for r in rows(portfolio, "SELECT made_by FROM promises"))
    paid: Counter[str] = Counter()
    for p in rows(
        portfolio,
        "SELECT c.assigned_to, p.amount_minor FROM payments p JOIN cases c ON c.id = p.case_id",
    ):
        paid[p["assigned_to"]] += p["amount_minor"]
    got = {r["staff"]: r for r in report(portfolio, "staff")}
    assert set(got) == {r["id"] for r in rows(portfolio, "SELECT id FROM staff")}
    for member, row in got.items():
        assert row["contacts"] == contacts[member]
        assert row["visits_done"] == visits[(member, "done")]
        assert row["visits_failed"] == visits[(member, "failed")]
        assert row["borrowers_met"] == met[member]
        assert row["promises_made"] == made[member]
        assert row["promises_kept"] + row["promises_broken"] <= made[member]
        if paid[member]:
            assert row["recovered"]
    assert sum(r["contacts"] for r in got.values()) > 0  # the demo did work


def test_reasons_report(portfolio: Path) -> None:
    found = Counter(
        r["reason_code"]
        for r in rows(portfolio, "SELECT reason_code FROM visits WHERE status = 'done'")
    )
    got = report(portfolio, "reasons")
    assert {r["reason"]: r["visits"] for r in got} == dict(found)
    assert got[0]["label"]


def test_outcomes_report(portfolio: Path) -> None:
    closed = Counter(
        r["resolution"]
        for r in rows(portfolio, "SELECT resolution FROM cases WHERE stage = 'closed'")
    )
    got = {r["outcome"]: r for r in report(portfolio, "outcomes")}
    for resolution, n in closed.items():
        assert got[resolution]["cases"] == n
    for currency, overdue, paid in [
        (r["currency"], r["overdue"], r["paid"])
        for r in rows(
            portfolio,
            "SELECT currency, sum(overdue_minor) AS overdue, (SELECT coalesce(sum(amount_minor),"
            " 0) FROM payments p JOIN cases k ON k.id = p.case_id WHERE k.currency ="
            " c.currency) AS paid FROM cases c GROUP BY currency",
        )
    ]:
        assert got[f"recovered, {currency}"]["rate"] == f"{paid / overdue:.1%}"


def test_reports_filter_by_institution(portfolio: Path) -> None:
    total = sum(r["total"] for r in report(portfolio, "pipeline", "--institution", "hx-consumer"))
    assert total == len(
        rows(
            portfolio,
            "SELECT id FROM cases WHERE stage != 'closed' AND institution = 'hx-consumer'",
        )
    )


def test_a_plugin_report_appears_in_help_and_runs(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "from fieldcase import hookimpl\n"
        "from fieldcase.plugins import manager\n"
        "class Mine:\n"
        "    @hookimpl\n"
        "    def register_reports(self, register):\n"
        "        rows = lambda services, filters: [{'branch': 'Pudong', 'cases': 3}]\n"
        "        register('branches', rows, ('branch', 'cases'), 'Cases by branch.')\n"
        "manager().register(Mine(), name='mine')\n"
        "from fieldcase.cli import cli\n"
        "cli()\n"
    )
    import subprocess
    import sys

    db = tmp_path / "x.db"
    subprocess.run(
        [sys.executable, str(script), "--db", str(db), "init"], check=True, capture_output=True
    )
    help_text = subprocess.run(
        [sys.executable, str(script), "report", "--help"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "branches" in help_text and "Cases by branch." in help_text
    out = subprocess.run(
        [sys.executable, str(script), "--db", str(db), "report", "branches", "--format", "csv"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.splitlines() == ["branch,cases", "Pudong,3"]


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_reports_draw_charts_through_the_bundled_plugin(
    portfolio: Path, tmp_path: Path, suffix: str, magic: bytes
) -> None:
    target = tmp_path / f"pipeline{suffix}"
    result = CliRunner().invoke(
        cli, ["--db", str(portfolio), "report", "pipeline", "--to", AT, "--chart", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(magic)
    assert f"Chart: {target}" in result.stderr


def test_an_unknown_chart_format_is_a_usage_error(portfolio: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(portfolio), "report", "reasons", "--chart", str(tmp_path / "r.gif")]
    )
    assert result.exit_code == 2
    assert "no installed plugin draws .gif charts" in result.stderr


@pytest.mark.parametrize("to", ["2026-11-10T00:00Z", "2026-12-20T00:00Z", "2027-03-01T00:00Z"])
def test_promises_kept_and_broken_match_the_payments(portfolio: Path, to: str) -> None:
    """Worked out afresh from promise and payment rows, as `balance` does, per staff member."""
    from fieldcase.repayment import statuses_by_arrangement
    from fieldcase.rows import row_to_payment, row_to_promise

    at = dt.datetime.fromisoformat(to.replace("Z", "+00:00"))
    expected: Counter[tuple[str, str]] = Counter()
    for case in rows(portfolio, "SELECT * FROM cases WHERE id IN (SELECT case_id FROM promises)"):
        promises = [
            row_to_promise(dict(r), case["currency"])
            for r in rows(portfolio, f"SELECT * FROM promises WHERE case_id = {case['id']}")
        ]
        payments = [
            row_to_payment(dict(r), case["currency"])
            for r in rows(portfolio, f"SELECT * FROM payments WHERE case_id = {case['id']}")
        ]
        for s in statuses_by_arrangement(promises, payments, case["timezone"], at):
            expected[(s.promise.made_by, s.status)] += 1
    got = report(portfolio, "staff", "--to", to)
    for row in got:
        assert row["promises_kept"] == expected[(row["staff"], "kept")], row["staff"]
        assert row["promises_broken"] == expected[(row["staff"], "broken")], row["staff"]
    kept = sum(n for (_, status), n in expected.items() if status == "kept")
    broken = sum(n for (_, status), n in expected.items() if status == "broken")
    outcomes = {r["outcome"]: r for r in report(portfolio, "outcomes", "--to", to)}
    if kept + broken:
        row = outcomes["promises kept (of kept or broken)"]
        assert (row["cases"], row["rate"]) == (kept + broken, f"{kept / (kept + broken):.1%}")
    if to.startswith("2027"):
        assert kept and broken  # the demo's arrangements have both by then


# -- JSON keys are identifiers (issue 15) ------------------------------------------------------

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@pytest.mark.parametrize("name", sorted(reports(manager())))
def test_every_reports_json_keys_are_its_columns_as_unique_identifiers(
    portfolio: Path, name: str
) -> None:
    """Every registered report (the built-in ones and the bundled plugins'), on the demo."""
    columns = reports(manager())[name].columns
    keys = [json_key(column) for column in columns]
    assert all(IDENTIFIER.match(key) for key in keys), keys
    assert len(set(keys)) == len(keys), keys  # no two columns make the same key
    got = report(portfolio, name, "--to", "2027-03-01T00:00Z")
    assert got, f"the demo gives report {name} no rows to check"
    for row in got:  # a row may leave a column out (outcomes' rates have no days)
        assert set(row) <= set(keys), row
    assert {key for row in got for key in row} == set(keys)


def fieldcase(*args: str) -> str:
    """``fieldcase ARGS...`` as a person runs it, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "fieldcase", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_report_json_keys_are_identifiers_and_tables_and_csv_keep_the_headings(
    portfolio: Path,
) -> None:
    staff = ("--db", str(portfolio), "report", "staff", "--to", AT)
    (first, *_) = json.loads(fieldcase(*staff, "--format", "json"))
    assert list(first) == [
        "staff",
        "contacts",
        "visits_planned",
        "visits_done",
        "visits_failed",
        "borrowers_met",
        "promises_made",
        "promises_kept",
        "promises_broken",
        "far_check_ins",
        "recovered",
    ]
    heading = "staff,contacts,visits planned,visits done,visits failed,borrowers met,"
    assert fieldcase(*staff, "--format", "csv").startswith(heading)
    assert "visits planned" in fieldcase(*staff).splitlines()[0]

    pipeline = ("--db", str(portfolio), "report", "pipeline", "--to", AT)
    (first, *_) = json.loads(fieldcase(*pipeline, "--format", "json"))
    assert list(first) == [
        "stage", "current", "_1_30", "_31_60", "_61_90", "_91_180", "_181_plus", "total"
    ]  # fmt: skip
    assert fieldcase(*pipeline, "--format", "csv").startswith(
        "stage,current,1-30,31-60,61-90,91-180,181+,total"
    )

    outcomes = ("--db", str(portfolio), "report", "outcomes", "--to", AT, "--format", "json")
    (first, *_) = json.loads(fieldcase(*outcomes))
    assert "days_to_close_mean" in first and "days_to_close_median" in first


class Clashing:
    """A plugin's report whose columns differ only in symbols: 'days (mean)', 'days mean'."""

    @hookimpl
    def register_reports(self, register: Callable[..., None]) -> None:
        def run(services: object, filters: object) -> list[dict[str, Any]]:
            return [{"branch": "Pudong", "days (mean)": 3, "days mean": 4}]

        register("clashing", run, ("branch", "days (mean)", "days mean"), "Two means.")


def test_columns_that_make_the_same_json_key_are_refused_not_overwritten(
    portfolio: Path, register_plugin: RegisterPlugin
) -> None:
    register_plugin(Clashing(), name="clashing")
    clashing = ("--db", str(portfolio), "report", "clashing")
    result = invoke(*clashing, "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        "report clashing: the columns 'days (mean)' and 'days mean' both make the JSON key "
        "'days_mean'"
    ) in result.stderr
    # The table and CSV keep the names, which differ.
    csv = invoke(*clashing, "--format", "csv")
    assert csv.exit_code == 0, csv.output
    assert csv.stdout.splitlines() == ["branch,days (mean),days mean", "Pudong,3,4"]
