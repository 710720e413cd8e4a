"""Imports keep the meaning of what banks send: daily penalty rates, and days late that
disagree with the due date."""

from __future__ import annotations

import csv
import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, query, register, set_policy

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

AT = ("--at", "2026-11-23T09:00+08:00")


@pytest.fixture
def office(office: Run) -> Run:
    """The office with two banks: one counting 365 days a year (the default), one 360."""
    register(office, "bank")
    register(office, "bank360")
    set_policy(office, "bank360", "day_count=360")
    return office


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def imported(office: Run, *args: str) -> dict[str, Any]:
    result = office("import", *args, *AT, "--json", as_="chen.wei")
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def stored(target: str, institution: str) -> dict[str, dict[str, Any]]:
    rows = query(target, "SELECT * FROM cases WHERE institution = ?", [institution])
    return {r["reference"]: dict(r) for r in rows}


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def penalty(office: Run, case: str, at: str) -> Decimal:
    result = office("balance", case, "--json", "--at", at, as_="chen.wei")
    assert result.exit_code == 0, result.output
    return Decimal(json.loads(result.stdout)["balance"]["penalty"])


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


# -- daily penalty rates --------------------------------------------------------------

DAILY = (
    "reference,borrower_name,principal,overdue_amount,overdue_since,penalty_rate_daily",
    "P-1,Wang Fang,50000,12345.67,2026-10-24,0.0005",
    "P-2,Li Jianguo,50000,8000.00,2026-10-24,0.05%",
    "P-3,Zhao Min,200000,99999.99,2026-09-30,0.00049315",
)


def test_a_daily_rate_is_stored_as_the_annual_rate_of_the_institutions_year(
    office: Run, tmp_path: Path, target: str
) -> None:
    file = write(tmp_path / "daily.csv", *DAILY)
    assert imported(office, str(file), "--institution", "bank")["imported"] == 3
    assert imported(office, str(file), "--institution", "bank360")["imported"] == 3
    rates = {ref: row["penalty_rate"] for ref, row in stored(target, "bank").items()}
    assert rates == {"P-1": "0.1825", "P-2": "0.1825", "P-3": "0.17999975"}
    rates = {ref: row["penalty_rate"] for ref, row in stored(target, "bank360").items()}
    assert rates == {"P-1": "0.18", "P-2": "0.18", "P-3": "0.177534"}


@pytest.mark.parametrize("institution", ["bank", "bank360"])
def test_a_case_imported_with_a_daily_rate_owes_exactly_that_rate_a_day(
    office: Run, tmp_path: Path, institution: str
) -> None:
    file = write(tmp_path / "daily.csv", *DAILY)
    imported(office, str(file), "--institution", institution)
    # 38 days from 24 October to 1 December; 62 from 30 September.
    at = "2026-12-01T12:00+08:00"
    assert penalty(office, f"{institution}/P-1", at) == cents(
        Decimal("12345.67") * Decimal("0.0005") * 38
    )
    assert penalty(office, f"{institution}/P-2", at) == Decimal("8000.00") * Decimal("0.0005") * 38
    assert penalty(office, f"{institution}/P-3", at) == cents(
        Decimal("99999.99") * Decimal("0.00049315") * 62
    )


def test_a_bank_column_maps_onto_the_daily_rate(office: Run, tmp_path: Path, target: str) -> None:
    file = write(
        tmp_path / "hx.csv",
        "贷款编号,客户姓名,本金,逾期金额,逾期日期,罚息日利率",
        "HX-1,王芳,50000,10000.00,2026-10-24,0.0005",
    )
    mapping = write(
        tmp_path / "map.toml",
        "[columns]",
        '"贷款编号" = "reference"',
        '"客户姓名" = "borrower_name"',
        '"本金" = "principal"',
        '"逾期金额" = "overdue_amount"',
        '"逾期日期" = "overdue_since"',
        '"罚息日利率" = "penalty_rate_daily"',
    )
    imported(office, str(file), "--institution", "bank", "--mapping", str(mapping))
    assert stored(target, "bank")["HX-1"]["penalty_rate"] == "0.1825"
    assert penalty(office, "bank/HX-1", "2026-11-24T12:00+08:00") == Decimal("155.00")


def test_an_annual_and_a_daily_rate_must_agree(office: Run, tmp_path: Path, target: str) -> None:
    file = write(
        tmp_path / "both.csv",
        "reference,borrower_name,principal,overdue_amount,overdue_since,penalty_rate,"
        "penalty_rate_daily",
        "B-1,Wang Fang,50000,10000.00,2026-10-24,18.25%,0.05%",
        "B-2,Li Jianguo,50000,10000.00,2026-10-24,0.18,0.0005",
        "B-3,Zhao Min,50000,10000.00,2026-10-24,0.18,",
    )
    summary = imported(office, str(file), "--institution", "bank")
    assert (summary["imported"], summary["rejected"]) == (2, 1)
    assert read_csv(tmp_path / "both.rejects.csv") == [
        ["line", "field", "value", "reason"],
        [
            "3",
            "penalty_rate_daily",
            "0.0005",
            "is 0.1825 a year in bank's 365-day year (day_count), but penalty_rate is 0.18; "
            "give one of the two, or make them agree",
        ],
    ]
    rates = {ref: row["penalty_rate"] for ref, row in stored(target, "bank").items()}
    assert rates == {"B-1": "0.1825", "B-3": "0.18"}
    # In a 360-day year it is the other pair that agrees.
    assert imported(office, str(file), "--institution", "bank360")["rejected"] == 1
    assert [r[0] for r in read_csv(tmp_path / "both.rejects.csv")] == ["line", "2"]
    assert stored(target, "bank360")["B-2"]["penalty_rate"] == "0.18"


def test_a_daily_rate_that_is_no_rate_is_rejected(office: Run, tmp_path: Path) -> None:
    file = write(
        tmp_path / "bad.csv",
        "reference,borrower_name,principal,overdue_amount,overdue_since,penalty_rate_daily",
        "X-1,Wang Fang,50000,10000.00,2026-10-24,abc",
        "X-2,Li Jianguo,50000,10000.00,2026-10-24,0.03",
        "X-3,Zhao Min,50000,10000.00,2026-10-24,-0.0005",
    )
    summary = imported(office, str(file), "--institution", "bank")
    assert summary["rejected"] == 3
    assert read_csv(tmp_path / "bad.rejects.csv")[1:] == [
        ["2", "penalty_rate_daily", "abc", "is not a number; e.g. 0.0005 or 0.05% a day"],
        [
            "3",
            "penalty_rate_daily",
            "0.03",
            "is 10.95 a year in bank's 365-day year (day_count); a rate must be between "
            "0 and 1000% a year",
        ],
        ["4", "penalty_rate_daily", "-0.0005", "must be between 0 and 1000% a year"],
    ]


def test_a_daily_rate_updates_a_case_once(office: Run, tmp_path: Path) -> None:
    annual = write(
        tmp_path / "annual.csv",
        "reference,borrower_name,principal,overdue_amount,overdue_since,penalty_rate",
        "U-1,Wang Fang,50000,10000.00,2026-10-24,0.18",
    )
    imported(office, str(annual), "--institution", "bank")
    daily = write(
        tmp_path / "daily.csv",
        "reference,borrower_name,principal,overdue_amount,overdue_since,penalty_rate_daily",
        "U-1,Wang Fang,50000,10000.00,2026-10-24,0.0005",
    )
    assert imported(office, str(daily), "--institution", "bank")["updated"] == 1
    assert imported(office, str(daily), "--institution", "bank")["unchanged"] == 1
    history = office("history", "bank/U-1", "--json", as_="chen.wei")
    changes = [e["data"]["changes"] for e in json.loads(history.stdout) if "changes" in e["data"]]
    assert changes == [{"penalty_rate": ["0.18", "0.1825"]}]


# -- days late against the due date ------------------------------------------------------

#: On 23 November 2026 (the import's --at, in Shanghai) 30 days late is due 24 October.
DAYS_LATE = (
    "reference,borrower_name,principal,overdue_amount,overdue_since,days_past_due",
    "D-1,Wang Fang,50000,10000.00,2026-10-24,30",
    "D-2,Li Jianguo,50000,10000.00,2026-10-24,31",
    "D-3,Zhao Min,50000,10000.00,2026-09-01,thirty",
    "D-4,Sun Li,abc,10000.00,2026-09-01,83",
    "D-5,Zhou Qiang,50000,10000.00,,45",
    "D-6,Wu Lei,50000,10000.00,2026-10-24,28",
)
WARNINGS = [
    ["line", "field", "value", "reason"],
    [
        "3",
        "days_past_due",
        "31",
        "disagrees with overdue_since 2026-10-24: 31 days late on 2026-11-23 is due "
        "2026-10-23, 1 day earlier; overdue_since was used",
    ],
    [
        "4",
        "days_past_due",
        "thirty",
        "is not a whole number of days; overdue_since 2026-09-01 was used",
    ],
    [
        "7",
        "days_past_due",
        "28",
        "disagrees with overdue_since 2026-10-24: 28 days late on 2026-11-23 is due "
        "2026-10-26, 2 days later; overdue_since was used",
    ],
]


def test_days_late_that_disagree_with_the_due_date_are_warned_about(
    office: Run, tmp_path: Path, target: str
) -> None:
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    summary = imported(office, str(file), "--institution", "bank")
    assert summary == {
        "file": str(file),
        "institution": "bank",
        "rows": 6,
        "imported": 5,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "ineligible": 0,
        "rejects_file": str(tmp_path / "late.rejects.csv"),
        "warned": 3,
        "warnings_file": str(tmp_path / "late.warnings.csv"),
    }
    assert read_csv(tmp_path / "late.warnings.csv") == WARNINGS
    # The rejected row is in the rejects file only.
    assert [r[0] for r in read_csv(tmp_path / "late.rejects.csv")] == ["line", "5"]
    since = {ref: row["overdue_since"] for ref, row in stored(target, "bank").items()}
    assert since == {
        "D-1": "2026-10-24",
        "D-2": "2026-10-24",
        "D-3": "2026-09-01",
        "D-5": "2026-10-09",
        "D-6": "2026-10-24",
    }


def test_the_summary_says_how_many_rows_were_warned_about_and_where(
    office: Run, tmp_path: Path
) -> None:
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    result = office("import", str(file), "--institution", "bank", *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{file}: 6 rows: 5 imported, 0 updated, 0 unchanged, 1 rejected",
        f"Rejected rows, with line, field and reason: {tmp_path / 'late.rejects.csv'}",
        f"Warnings about 3 rows, with line, field and reason: {tmp_path / 'late.warnings.csv'}",
    ]


def test_importing_again_warns_again_and_changes_nothing(office: Run, tmp_path: Path) -> None:
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    imported(office, str(file), "--institution", "bank")
    again = imported(office, str(file), "--institution", "bank")
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 5)
    assert again["warned"] == 3
    assert read_csv(tmp_path / "late.warnings.csv") == WARNINGS


def test_no_warnings_file_when_nothing_disagrees(office: Run, tmp_path: Path) -> None:
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    imported(office, str(file), "--institution", "bank")
    write(file, *DAYS_LATE[:2], *DAYS_LATE[5:6])
    summary = imported(office, str(file), "--institution", "bank")
    assert (summary["warned"], summary["warnings_file"]) == (0, None)
    # The earlier run's warnings are gone: the file is never stale.
    assert not (tmp_path / "late.warnings.csv").exists()
    result = office("import", str(file), "--institution", "bank", *AT, as_="chen.wei")
    assert "Warnings" not in result.stdout


def test_the_warnings_file_sits_beside_the_rejects_file(office: Run, tmp_path: Path) -> None:
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    out = tmp_path / "out"
    out.mkdir()
    summary = imported(
        office, str(file), "--institution", "bank", "--rejects", str(out / "bad.csv")
    )
    assert summary["warnings_file"] == str(out / "bad.warnings.csv")
    assert read_csv(out / "bad.warnings.csv") == WARNINGS


def test_a_file_in_the_warnings_files_place_is_not_overwritten(office: Run, tmp_path: Path) -> None:
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    mine = write(tmp_path / "late.warnings.csv", "my notes")
    result = office("import", str(file), "--institution", "bank", *AT, as_="chen.wei")
    assert result.exit_code == 2
    assert "late.warnings.csv exists and is not a warnings file" in result.stderr
    assert mine.read_text(encoding="utf-8") == "my notes\n"


def test_policy_can_reject_rows_whose_days_late_disagree(
    office: Run, tmp_path: Path, target: str
) -> None:
    set_policy(office, "bank", "import_days_late_mismatch=reject")
    file = write(tmp_path / "late.csv", *DAYS_LATE)
    summary = imported(office, str(file), "--institution", "bank")
    assert (summary["imported"], summary["rejected"], summary["warned"]) == (2, 4, 0)
    assert summary["warnings_file"] is None
    assert not (tmp_path / "late.warnings.csv").exists()
    assert read_csv(tmp_path / "late.rejects.csv") == [
        ["line", "field", "value", "reason"],
        [
            "3",
            "days_past_due",
            "31",
            "disagrees with overdue_since 2026-10-24: 31 days late on 2026-11-23 is due "
            "2026-10-23, 1 day earlier; bank's policy rejects such rows "
            "(import_days_late_mismatch): correct one, or leave one out",
        ],
        ["4", "days_past_due", "thirty", "must be a whole number of days"],
        ["5", "principal", "abc", "is not a number"],
        [
            "7",
            "days_past_due",
            "28",
            "disagrees with overdue_since 2026-10-24: 28 days late on 2026-11-23 is due "
            "2026-10-26, 2 days later; bank's policy rejects such rows "
            "(import_days_late_mismatch): correct one, or leave one out",
        ],
    ]
    assert sorted(stored(target, "bank")) == ["D-1", "D-5"]


def test_the_policy_key_takes_warn_or_reject_only(office: Run) -> None:
    result = office(
        "institution",
        "policy",
        "bank",
        "--set",
        "import_days_late_mismatch=ignore",
        "--at",
        "2026-11-01T09:00+08:00",
        as_="chen.wei",
    )
    assert result.exit_code == 2, result.output
    assert "import_days_late_mismatch = 'ignore' must be" in result.stderr
    keys = office("institution", "keys", "--json", as_="chen.wei")
    (row,) = [r for r in json.loads(keys.stdout) if r["key"] == "import_days_late_mismatch"]
    assert row["default"] == "warn"
