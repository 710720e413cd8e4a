"""What a last review found: each case once went wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Run, events, query, register, snapshot

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

T = "2026-11-23T{}+08:00"


@pytest.fixture
def owed(run: Run) -> Run:
    assert run("init").exit_code == 0
    run("staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor")
    run("staff", "add", "ann", "--name", "Ann", "--role", "supervisor", as_="chen.wei")
    run("staff", "add", "li.na", "--name", "李娜", as_="chen.wei")
    for institution in ("hx", "d"):
        register(run, institution)
    return run


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_reimport_changes_only_the_fields_the_file_has(
    owed: Run, tmp_path: Path, target: str
) -> None:
    full = write(
        tmp_path / "full.csv",
        "reference,borrower_name,currency,principal,overdue_amount,overdue_since,"
        "timezone,jurisdiction,fees,accrued_interest,penalty_rate",
        "R-1,A,CNY,1000,100,2026-09-01,Asia/Shanghai,CN,150,1200,0.18",
    )
    slim = write(
        tmp_path / "slim.csv",
        "reference,borrower_name,currency,principal,overdue_amount,overdue_since,timezone",
        "R-1,A,CNY,1000,120,2026-09-01,Asia/Shanghai",
    )
    for path, at in ((full, T.format("09:00")), (slim, T.format("10:00"))):
        result = owed("import", str(path), "--institution", "hx", "--at", at, as_="chen.wei")
        assert result.exit_code == 0, result.output
    found = query(
        target,
        "SELECT jurisdiction, fees_minor, interest_minor, penalty_rate, overdue_minor FROM cases",
    )
    row = tuple(found[0])
    assert row == ("CN", 15000, 120000, "0.18", 12000)
    data = json.loads(events(target, 1)[-1]["payload"])["data"]
    assert data["changes"] == {"overdue": ["100.00", "120.00"]}


def test_currency_cannot_change_once_money_is_recorded(owed: Run, tmp_path: Path) -> None:
    header = "reference,borrower_name,currency,principal,overdue_amount,overdue_since,timezone"
    first = write(tmp_path / "a.csv", header, "R-1,A,CNY,1000,100,2026-09-01,Asia/Shanghai")
    owed("import", str(first), "--institution", "hx", "--at", T.format("09:00"), as_="chen.wei")
    owed("payment", "1", "100", "--reference", "P", "--at", T.format("09:30"), as_="chen.wei")
    yen = write(tmp_path / "b.csv", header, "R-1,A,JPY,1000,100,2026-09-01,Asia/Shanghai")
    result = owed(
        "import",
        str(yen),
        "--institution",
        "hx",
        "--at",
        T.format("10:00"),
        "--json",
        as_="chen.wei",
    )
    assert json.loads(result.stdout)["rejected"] == 1
    assert "its currency cannot change" in (tmp_path / "b.rejects.csv").read_text()


@pytest.mark.sqlite_only  # the database as a file in the way
def test_export_never_overwrites_the_database(owed: Run, db_path: Path) -> None:
    result = owed("export", "visits", "-o", str(db_path), "--at", T.format("10:00"), as_="chen.wei")
    assert result.exit_code == 2 and "is the database" in result.stderr
    assert owed("staff").exit_code == 0


def test_only_a_supervisor_lifts_a_flag(owed: Run) -> None:
    owed(
        "create",
        "--institution",
        "hx",
        "--reference",
        "F",
        "--name",
        "F",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        "--principal",
        "10",
        "--overdue",
        "5",
        "--overdue-since",
        "2026-09-01",
        "--assign",
        "li.na",
        "--at",
        T.format("08:00"),
        as_="chen.wei",
    )
    assert (
        owed(
            "flags", "1", "--set", "cease-communication", "--at", T.format("09:00"), as_="li.na"
        ).exit_code
        == 0
    )
    result = owed(
        "flags", "1", "--clear", "cease-communication", "--at", T.format("09:10"), as_="li.na"
    )
    assert result.exit_code == 1 and "only a supervisor may clear a compliance flag" in (
        result.stderr
    )
    assert (
        owed(
            "flags",
            "1",
            "--clear",
            "cease-communication",
            "--at",
            T.format("09:20"),
            as_="chen.wei",
        ).exit_code
        == 0
    )


def money_case(run: Run) -> None:
    result = run(
        "create",
        "--institution",
        "hx",
        "--reference",
        "M",
        "--name",
        "M",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        "--principal",
        "20000",
        "--overdue",
        "3000",
        "--overdue-since",
        "2026-09-01",
        "--penalty-rate",
        "18%",
        "--assign",
        "li.na",
        "--at",
        T.format("08:00"),
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output


def test_a_payment_withdraws_the_offers_standing(owed: Run) -> None:
    money_case(owed)
    owed("offers", "1", "--at", T.format("09:00"), as_="li.na")
    owed("payment", "1", "5000", "--reference", "P1", "--at", T.format("10:00"), as_="chen.wei")
    result = owed("accept", "1", "waiver", "--at", T.format("11:00"), as_="li.na")
    assert result.exit_code == 2
    assert "present offers first" in result.stderr


def test_a_kept_extension_closes_as_paid_and_forgives_nothing(owed: Run) -> None:
    money_case(owed)
    data = json.loads(owed("offers", "1", "--json", "--at", T.format("09:00"), as_="li.na").stdout)
    total = next(o for o in data["offers"] if o["kind"] == "extension")["total_payable"]
    owed("accept", "1", "extension-30", "--at", T.format("09:05"), as_="li.na")
    result = owed(
        "payment", "1", total, "--reference", "E", "--at", "2026-12-20T10:00+08:00", as_="chen.wei"
    )
    assert "closed as settled" not in result.stdout
    balance = json.loads(owed("balance", "1", "--json", "--at", "2026-12-20T11:00+08:00").stdout)
    assert balance["balance"]["forgiven"] == "0"
    assert balance["balance"]["total"] != "0.00"  # penalty ran on during the extension


def test_a_broken_arrangement_makes_way_for_new_offers(owed: Run) -> None:
    money_case(owed)
    owed("offers", "1", "--at", T.format("09:00"), as_="li.na")
    owed("accept", "1", "waiver", "--at", T.format("09:05"), as_="li.na")
    result = owed("offers", "1", "--at", "2026-12-20T09:00+08:00", as_="li.na")
    assert result.exit_code == 0, result.output


def test_payments_stay_after_the_referral_and_never_move_time_back(owed: Run) -> None:
    money_case(owed)
    result = owed(
        "payment", "1", "10", "--reference", "OLD", "--at", "2020-01-01T00:00Z", as_="chen.wei"
    )
    assert result.exit_code == 2 and "before case 1 was referred" in result.stderr
    owed("confirm", "1", "--address", "x", "--at", T.format("11:00"), as_="li.na")
    assert (
        owed(
            "payment", "1", "10", "--reference", "LATE", "--at", T.format("10:00"), as_="chen.wei"
        ).exit_code
        == 0
    )
    result = owed(
        "contact",
        "1",
        "--channel",
        "sms",
        "--outcome",
        "left-message",
        "--at",
        T.format("10:30"),
        as_="li.na",
    )
    assert result.exit_code == 2 and "before case 1's last change" in result.stderr


@pytest.mark.parametrize(
    ("amount", "message"), [("1E+999999999", "exponent notation"), ("9" * 40, "too large")]
)
def test_absurd_amounts_are_refused_not_crashed(
    owed: Run, target: str, amount: str, message: str
) -> None:
    money_case(owed)
    before = snapshot(target)
    result = owed(
        "payment", "1", amount, "--reference", "X", "--at", T.format("09:00"), as_="chen.wei"
    )
    assert result.exit_code == 2 and message in result.stderr
    assert snapshot(target) == before


def test_odd_days_past_due_in_a_file(owed: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.csv",
        "reference,borrower_name,currency,principal,overdue_amount,days_past_due,timezone",
        "D-1,A,USD,10,5,²,America/New_York",
        "D-2,B,USD,10,5,99999999,America/New_York",
    )
    result = owed(
        "import",
        str(path),
        "--institution",
        "d",
        "--at",
        T.format("09:00"),
        "--json",
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected"] == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("[institutions.hx]\nrules = 5\n", "rules must be tables"),
        ("[institutions.hx.offers]\nvalid_days = 3000000\n", "valid_days = 3000000"),
        ('[institutions.hx]\napproval_threshold_share = "1e999999"\n', "approval_threshold_share"),
    ],
)
def test_settings_out_of_bounds_are_named(
    owed: Run, tmp_path: Path, target: str, settings: str, message: str
) -> None:
    (tmp_path / "policy.toml").write_text(settings)
    before = snapshot(target)
    result = owed("institution", "policy", "hx", "--from", "policy.toml", as_="chen.wei")
    assert result.exit_code == 2 and message in result.stderr
    assert snapshot(target) == before
