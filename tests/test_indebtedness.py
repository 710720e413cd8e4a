"""Business borrowers and multi-lender answers at the interview (issue 14, section 4)."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import AT, Row, Run, create_args, events, query, set_policy, to_interview
from fieldcase.money import ratio
from fieldcase.services import Services
from fieldcase.store import EXPORT_COLUMNS, Store, ratio_sql

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

VISITED = "2026-11-25T10:30+08:00"
EMPLOYER, SUPPLIERS, BUYERS = "王记杂货店", "金辉批发市场 Jinhui Wholesale", "Harbor Canteen Co."

BUSINESS = (
    "--employment", "self-employed", "--industry", "retail", "--employer", EMPLOYER,
    "--suppliers", SUPPLIERS, "--buyers", BUYERS, "--income", "6000",
    "--other-debts", "30000", "--monthly-repayments", "2500", "--lenders", "3",
)  # fmt: skip


def interview(run: Run, case: str = "1", *answers: str) -> None:
    result = run(
        "interview", case, "--met", "borrower", "--reason", "business-failure", *answers,
        "--at", VISITED, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.fixture
def business(office: Run) -> Run:
    """Case 1's borrower runs a grocery shop, owes three lenders, and was interviewed."""
    to_interview(office)
    interview(office, "1", *BUSINESS)
    return office


def visit_row(target: str) -> Row:
    return query(target, "SELECT * FROM visits WHERE case_id = 1")[0]


def raw(db_path: Path) -> bytes:
    files = [db_path, Path(f"{db_path}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_the_answers_are_stored_and_shown(business: Run, target: str) -> None:
    row = visit_row(target)
    assert (row["industry"], row["employer"], row["suppliers"], row["buyers"]) == (
        "retail",
        EMPLOYER,
        SUPPLIERS,
        BUYERS,
    )
    assert row["lenders"] == 3 and row["multi_lender"] == 1
    assert row["monthly_repayments_minor"] == 250000 and row["monthly_income_minor"] == 600000

    shown = business("show", "1", as_="li.na").output
    assert f"Industry: retail  employer: {EMPLOYER}  suppliers: {SUPPLIERS}" in shown
    assert "monthly repayments: CNY 2,500.00" in shown
    assert "Lenders: 3  debt to income: 5.00  repayments to income: 0.42" in shown

    (visit,) = json.loads(business("show", "1", "--json", as_="li.na").output)["visits"]
    assert visit["lenders"] == 3 and visit["multi_lender"] is True
    assert visit["employer"] == EMPLOYER and visit["buyers"] == BUYERS
    assert visit["monthly_repayments"] == "2500.00"
    assert visit["debt_to_income"] == "5.00" and visit["repayments_to_income"] == "0.42"


def test_a_viewer_off_the_case_sees_them_masked(business: Run, target: str) -> None:
    shown = business("show", "1", as_="zhang.min").output
    for secret in (EMPLOYER, SUPPLIERS, BUYERS, "2,500.00", "5.00", "0.42"):
        assert secret not in shown, secret
    assert "Industry: retail  employer: [masked]" in shown
    assert "Lenders: 3  debt to income: -" in shown

    (visit,) = json.loads(business("show", "1", "--json", as_="zhang.min").output)["visits"]
    assert visit["industry"] == "retail" and visit["lenders"] == 3
    assert visit["employer"] == visit["suppliers"] == visit["buyers"] == "[masked]"
    assert visit["monthly_repayments"] is None and visit["debt_to_income"] is None
    assert visit["repayments_to_income"] is None

    store = Store(target)
    try:
        from fieldcase.plugins import manager

        reader = Services(store, manager(), clock=None).reader("zhang.min")
        (seen,) = reader.visits(reader.case(1))
        assert seen.employer == "[masked]" and seen.monthly_repayments is None
        assert seen.debt_to_income is None and seen.lenders == 3
    finally:
        store.close()


def test_each_personal_answer_is_sealed_on_its_own(business: Run, target: str) -> None:
    (recorded,) = [e for e in events(target, 1) if e["type"] == "interview_recorded"]
    sealed = {path[-1] for path in json.loads(recorded["payload"])["seal"]["fields"]}
    assert {"employer", "suppliers", "buyers", "monthly_repayments_minor"} <= sealed
    assert not {"industry", "lenders", "multi_lender"} & sealed


@pytest.mark.sqlite_only  # reads the file's bytes
def test_a_purge_wipes_them_and_the_log_still_proves_the_rest(business: Run, db_path: Path) -> None:
    for args in (
        ("feedback", "1", "--recommend", "restructure", "--summary", "ok", "--at", VISITED),
        ("close", "1", "--resolution", "paid", "--at", "2026-11-30T12:00+08:00"),
    ):
        done = business(*args, as_="chen.wei" if args[0] == "close" else "li.na")
        assert done.exit_code == 0, done.output
    assert EMPLOYER.encode() in raw(db_path)

    done = business("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert done.exit_code == 0, done.output

    data = raw(db_path)
    for secret in (EMPLOYER, SUPPLIERS, BUYERS):
        assert secret.encode() not in data, secret
    row = visit_row(str(db_path))
    assert row["employer"] is row["suppliers"] is row["buyers"] is None
    assert row["monthly_repayments_minor"] is None
    # What the statistics need stays.
    assert row["industry"] == "retail" and row["lenders"] == 3 and row["multi_lender"] == 1
    verified = business("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output


def export(run: Run, *args: str) -> dict[str, str]:
    result = run("export", "visits", *args, "--at", "2026-11-26T09:00+08:00", as_="chen.wei")
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    return row


def test_the_export_has_the_new_columns_after_the_attributes(business: Run) -> None:
    after = EXPORT_COLUMNS.index("attributes") + 1
    assert EXPORT_COLUMNS[after : after + 8] == (
        "lenders", "monthly_repayments", "debt_to_income", "repayments_to_income",
        "industry", "employer", "suppliers", "buyers",
    )  # fmt: skip
    masked = export(business)
    assert masked["lenders"] == "3" and masked["multi_lender"] == "yes"
    # Income is not masked in an export, so neither are the ratios to it.
    assert masked["monthly_income"] == "6000.00" and masked["monthly_repayments"] == "2500.00"
    assert masked["debt_to_income"] == "5.00" and masked["repayments_to_income"] == "0.42"
    assert masked["industry"] == "retail"
    # Employer, suppliers and buyers are third parties, withheld like their notes.
    assert masked["employer"] == masked["suppliers"] == masked["buyers"] == "[masked]"
    unmasked = export(business, "--unmasked")
    assert (unmasked["employer"], unmasked["suppliers"], unmasked["buyers"]) == (
        EMPLOYER,
        SUPPLIERS,
        BUYERS,
    )


def test_the_exports_ratio_is_the_python_one() -> None:
    """store.ratio_sql repeats money.ratio in SQL: the two agree, to the edges of the range."""
    rng = random.Random(14)
    pairs = [(0, 1), (1, 8), (1, 200), (3, 200), (2, 3), (10**17 - 1, 1), (1, 0), (None, 5)]
    pairs += [
        (rng.randrange(10**17), rng.randrange(1, 10 ** rng.randrange(1, 18))) for _ in range(2000)
    ]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (part INTEGER, whole INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", pairs)
    for part, whole, sql in conn.execute(
        f"SELECT part, whole, {ratio_sql('part', 'whole')} FROM t"
    ):
        python = ratio(
            None if part is None else Decimal(part), None if whole is None else Decimal(whole)
        )
        assert sql == (None if python is None else str(python)), (part, whole)


def report(run: Run, *args: str) -> list[dict[str, object]]:
    result = run("report", "indebtedness", "--format", "json", "--to", "2026-12-01T00:00Z", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def to_interview_case(run: Run, case: str) -> None:
    for args in (
        ("confirm", case, "--address", "x"),
        ("plan", case, "--date", "2026-11-25", "--window", "14:00-16:00"),
        ("checklist", case, "--all"),
    ):
        done = run(*args, *AT, as_="li.na")
        assert done.exit_code == 0, done.output


def test_the_indebtedness_report(office: Run) -> None:
    set_policy(office, "hx-consumer", 'attributes.branch="text"')
    for ref, branch in (("L-1002", "Harbor-East"), ("L-1003", "Harbor-West")):
        created = office(
            *create_args(ref), "--assign", "li.na", "--attribute", f"branch={branch}",
            "--at", "2026-11-23T09:00+08:00", as_="chen.wei",
        )  # fmt: skip
        assert created.exit_code == 0, created.output
    to_interview(office)
    interview(office, "1", *BUSINESS)  # 3 lenders, 30000 / 6000 = 5.00
    to_interview_case(office, "2")
    interview(office, "2", "--lenders", "1", "--income", "8000", "--other-debts", "4000")
    to_interview_case(office, "3")
    interview(office, "3", "--income", "5000", "--other-debts", "10000")  # no lender answer

    (row,) = report(office)
    assert row == {
        "institution": "hx-consumer",
        "interviews": 3,
        "with_answers": 2,
        "lenders_mean": "2.0",
        "more_than_one_lender": "50.0%",
        "debt_to_income_median": "2.00",
        "debt_to_income_answers": 3,
    }
    (east,) = report(office, "--where", "branch=Harbor-East")
    assert east["interviews"] == 1 and east["more_than_one_lender"] == "0.0%"
    assert east["debt_to_income_median"] == "0.50"
    assert report(office, "--from", "2026-11-26T00:00Z") == []


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        (("--lenders", "0"), "lenders: 0 is not a count of lenders"),
        (("--lenders", "-2"), "lenders: -2 is not a count of lenders"),
        (("--lenders", "100"), "give 1 to 99"),
        (("--lenders", "two"), "'two' is not a valid integer"),
        (("--lenders", "1", "--multi-lender"), "contradicts --multi-lender"),
        (("--lenders", "2", "--single-lender"), "contradicts --single-lender"),
        (("--monthly-repayments", "-5"), "monthly repayments: '-5' is negative"),
        (("--monthly-repayments", "lots"), "monthly repayments: 'lots' is not a number"),
    ],
)
def test_bad_answers_are_usage_errors_and_change_nothing(
    office: Run, target: str, answers: tuple[str, ...], says: str
) -> None:
    to_interview(office)
    before = events(target)
    result = office(
        "interview", "1", "--met", "borrower", "--reason", "medical", *answers,
        "--at", VISITED, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert len(events(target)) == len(before)


def test_nobody_met_gives_no_answers(office: Run) -> None:
    to_interview(office)
    result = office(
        "interview", "1", "--met", "nobody", "--lenders", "2", "--employer", "X",
        "--at", VISITED, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "drop --lenders, --employer" in result.output
