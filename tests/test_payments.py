"""Payments as the money really arrives: reported by field staff, confirmed by a
supervisor (or the bank's file), and reversed when they were wrong."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import Result
from conftest import Run, create_args, events, snapshot, to_preparation

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

T = "2026-11-23T{}+08:00"


@pytest.fixture
def owing(office: Run) -> Run:
    """Case 1, li.na's, in confirmation; its balance is the principal, CNY 20,000.00."""
    shown = json.loads(office("balance", "1", "--json", "--at", T.format("10:00")).stdout)
    assert shown["balance"]["total"] == "20000.00", shown
    return office


def at(time: str) -> tuple[str, str]:
    return ("--at", T.format(time))


def pay(run: Run, amount: str, reference: str, time: str, who: str) -> Result:
    result = run("payment", "1", amount, "--reference", reference, *at(time), as_=who)
    assert result.exit_code == 0, result.output
    return result


def balance(run: Run, at: str = T.format("18:00")) -> dict:
    return json.loads(run("balance", "1", "--json", "--at", at).stdout)


def stage(run: Run) -> tuple[str, str | None]:
    shown = json.loads(run("show", "1", "--json", as_="chen.wei").stdout)
    return shown["stage"], shown["resolution"]


def test_a_field_workers_payment_is_reported_and_does_not_close_the_case(owing: Run) -> None:
    result = owing(
        "payment", "1", "20000", "--reference", "BOC-1", "--at", T.format("10:30"), as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert "closed" not in result.stdout
    assert stage(owing) == ("confirmation", None)
    assert balance(owing)["balance"]["total"] == "20000.00"
    shown = owing("show", "1", as_="li.na")
    assert "BOC-1" in shown.stdout and "reported, not yet counted" in shown.stdout
    said = owing("balance", "1", "--at", T.format("18:00"))
    assert "Reported, not yet counted: CNY 20,000.00 (BOC-1, by li.na)" in said.stdout
    assert "fieldcase payment confirm 1 BOC-1" in said.stdout
    history = owing("history", "1", as_="li.na")
    assert "(reported, not yet counted)" in history.stdout
    assert balance(owing)["reported"][0]["reference"] == "BOC-1"


def test_a_supervisor_confirms_the_reported_payment_and_it_closes_the_case(
    owing: Run, target: str
) -> None:
    pay(owing, "20000", "BOC-1", "10:30", "li.na")
    confirmed = owing("payment", "confirm", "1", "BOC-1", "--at", T.format("16:00"), as_="chen.wei")
    assert confirmed.exit_code == 0, confirmed.output
    assert "confirmed; it counts" in confirmed.stdout
    assert "closed as paid" in confirmed.stdout
    assert stage(owing) == ("closed", "paid")
    shown = json.loads(owing("show", "1", "--json", as_="chen.wei").stdout)
    # Closed when the money arrived; confirmed when the supervisor said so.
    assert shown["closed_at"].startswith("2026-11-23T02:30")
    (paid,) = shown["payments"]
    assert (paid["status"], paid["confirmed_by"]) == ("confirmed", "chen.wei")
    assert paid["at"].startswith("2026-11-23T02:30") and paid["confirmed_at"].startswith(
        "2026-11-23T08:00"
    )
    assert balance(owing)["balance"]["total"] == "0.00"
    types = [e["type"] for e in events(target, 1)][-2:]
    assert types == ["payment_confirmed", "case_closed"]
    again = owing("payment", "confirm", "1", "BOC-1", "--at", T.format("16:05"), as_="chen.wei")
    assert again.exit_code == 1
    assert "already confirmed by chen.wei" in again.stderr


def test_a_supervisors_own_payment_is_confirmed_at_once(owing: Run) -> None:
    result = pay(owing, "20000", "BOC-1", "10:30", "chen.wei")
    assert "recorded (BOC-1)" in result.stdout and "closed as paid" in result.stdout
    assert stage(owing) == ("closed", "paid")
    assert "reported" not in owing("show", "1", as_="chen.wei").stdout


def test_a_part_payment_confirmed_counts_but_leaves_the_case_open(owing: Run) -> None:
    pay(owing, "1500", "BOC-1", "10:30", "li.na")
    assert balance(owing)["balance"]["total"] == "20000.00"
    owing("payment", "confirm", "1", "BOC-1", "--at", T.format("11:00"), as_="chen.wei")
    assert balance(owing)["balance"]["total"] == "18500.00"
    assert stage(owing) == ("confirmation", None)


def test_reversing_the_payment_that_closed_the_case_reopens_it(owing: Run, target: str) -> None:
    to_preparation(owing)
    pay(owing, "20000", "BOC-1", "13:00", "chen.wei")
    assert stage(owing) == ("closed", "paid")
    result = owing(
        "payment", "reverse", "1", "BOC-1", "--reason", "transfer returned by the bank",
        "--at", T.format("17:00"), as_="chen.wei",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reversed; it no longer counts" in result.stdout
    assert "reopened to preparation (it was closed as paid)" in result.stdout
    assert stage(owing) == ("preparation", None)
    assert balance(owing)["balance"]["total"] == "20000.00"
    shown = owing("show", "1", as_="chen.wei")
    assert "reversed: transfer returned by the bank" in shown.stdout
    data = [json.loads(e["payload"])["data"] for e in events(target, 1)][-2:]
    assert [e["type"] for e in events(target, 1)][-2:] == ["payment_reversed", "case_reopened"]
    assert data[0]["reason"] == "transfer returned by the bank"
    assert data[1]["by_reversal"] == "BOC-1"


def test_a_typed_amount_far_too_large_is_reversed_and_the_right_one_recorded(
    owing: Run,
) -> None:
    # The story: 1e5 typed for a case owing less. Exponents are refused...
    typo = owing("payment", "1", "1e5", "--reference", "BOC-7", *at("10:00"), as_="chen.wei")
    assert typo.exit_code == 2 and "exponent notation" in typo.stderr
    # ...but two zeros too many still close the case, a lot overpaid.
    pay(owing, "150000", "BOC-7", "10:05", "chen.wei")
    assert stage(owing) == ("closed", "paid")
    assert balance(owing)["balance"]["overpaid"] == "130000.00"
    reverse = owing(
        "payment", "reverse", "1", "BOC-7", "--reason", "typed 150000 for 1500", *at("10:10"),
        as_="chen.wei",
    )  # fmt: skip
    assert reverse.exit_code == 0, reverse.output
    assert stage(owing) == ("confirmation", None)
    # A small payment after the reversal no longer closes the case.
    pay(owing, "5", "BOC-8", "10:15", "chen.wei")
    assert stage(owing) == ("confirmation", None)
    # The reference is the bank's: it stays taken; the right amount comes under another.
    retyped = owing("payment", "1", "1500", "--reference", "BOC-7", *at("10:20"), as_="chen.wei")
    assert retyped.exit_code == 2
    assert "reversed on 2026-11-23" in retyped.stderr
    assert "the bank's correction reference" in retyped.stderr
    pay(owing, "1500", "BOC-7-C", "10:20", "chen.wei")
    assert balance(owing)["balance"]["total"] == "18495.00"
    twice = owing(
        "payment", "reverse", "1", "BOC-7", "--reason", "again", *at("10:30"), as_="chen.wei"
    )
    assert twice.exit_code == 1
    assert "already reversed by chen.wei" in twice.stderr


def test_reversing_a_reported_payment_leaves_the_case_as_it_was(owing: Run) -> None:
    pay(owing, "20000", "BOC-1", "10:30", "li.na")
    result = owing(
        "payment", "reverse", "1", "BOC-1", "--reason", "wrong case", *at("11:00"), as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    assert stage(owing) == ("confirmation", None)
    refused = owing("payment", "confirm", "1", "BOC-1", *at("11:05"), as_="chen.wei")
    assert refused.exit_code == 1 and "already reversed" in refused.stderr


@pytest.mark.parametrize("action", ["confirm", "reverse"])
def test_field_staff_may_not_confirm_or_reverse(owing: Run, target: str, action: str) -> None:
    pay(owing, "20000", "BOC-1", "10:30", "li.na")
    before = snapshot(target)
    extra = ["--reason", "mine"] if action == "reverse" else []
    result = owing("payment", action, "1", "BOC-1", *extra, *at("11:00"), as_="li.na")
    assert result.exit_code == 1
    assert f"only a supervisor may {action} a payment" in result.stderr
    after = snapshot(target)
    new = after["events"][len(before["events"]) :]
    assert [row[3] for row in new] == ["refused"]
    assert {k: v for k, v in after.items() if k != "events"} == {
        k: v for k, v in before.items() if k != "events"
    }


def test_unknown_reference_and_missing_reason_are_usage_errors(owing: Run) -> None:
    pay(owing, "100", "BOC-1", "10:30", "li.na")
    unknown = owing("payment", "confirm", "1", "BOC-9", *at("11:00"), as_="chen.wei")
    assert unknown.exit_code == 2 and "no payment 'BOC-9'" in unknown.stderr
    assert "BOC-1" in unknown.stderr
    blank = owing("payment", "reverse", "1", "BOC-1", "--reason", " ", *at("11:00"), as_="chen.wei")
    assert blank.exit_code == 2 and "--reason" in blank.stderr


def test_payment_help_shows_the_three_forms(owing: Run) -> None:
    shown = owing("payment", "--help")
    assert shown.exit_code == 0
    for form in ("payment CASE AMOUNT", "payment confirm CASE", "payment reverse CASE"):
        assert form in shown.stdout
    negative = owing("payment", "1", "-5", "--reference", "R", *at("11:00"), as_="chen.wei")
    assert negative.exit_code == 2 and "is negative" in negative.stderr


# -- the bank's payment file --------------------------------------------------------


def second_case(run: Run) -> None:
    result = run(
        *create_args("L-1002", principal="5000.00"), "--assign", "li.na", *at("09:30"),
        as_="chen.wei",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("reference,case,loan_reference,amount,currency,paid_at\n" + "\n".join(rows))
    return path


def import_payments(run: Run, path: Path, time: str = "20:00", as_: str = "chen.wei") -> Result:
    return run("import", "payments", str(path), "--institution", "hx-consumer", *at(time), as_=as_)


def test_the_bank_file_confirms_records_and_is_idempotent(
    owing: Run, target: str, tmp_path: Path
) -> None:
    second_case(owing)
    pay(owing, "1500", "BOC-1", "10:30", "li.na")
    bank = write_csv(
        tmp_path / "boc.csv",
        "BOC-1,1,,1500.00,CNY,2026-11-23T10:29+08:00",  # the reported one: confirmed
        "BOC-2,,L-1002,5000,,2026-11-23 11:00",  # nobody reported it: recorded, clears 2
        "BOC-3,1,L-1001,CNY 200,CNY,2026-11-23T03:30Z",
    )
    result = import_payments(owing, bank)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"{bank}: 3 rows: 1 confirmed, 2 recorded, 0 unchanged, 0 rejected (1 case closed)"
    )
    assert not (tmp_path / "boc.rejects.csv").exists()
    assert balance(owing)["balance"]["total"] == "18300.00"
    two = json.loads(owing("show", "2", "--json", as_="chen.wei").stdout)
    assert (two["stage"], two["resolution"]) == ("closed", "paid")
    # Without a zone, the time is the institution's (Asia/Shanghai).
    assert two["payments"][0]["at"].startswith("2026-11-23T03:00")
    assert two["payments"][0]["status"] == "confirmed"
    imported = [json.loads(e["payload"])["data"] for e in events(target, 1)][-2:]
    assert imported[0]["file"] == "boc.csv" and imported[0]["line"] == 2
    before = snapshot(target)
    again = import_payments(owing, bank, "20:30")
    assert again.exit_code == 0, again.output
    assert "0 confirmed, 0 recorded, 3 unchanged, 0 rejected" in again.stdout
    assert snapshot(target) == before


def test_the_bank_file_confirms_a_payment_that_clears_the_case(owing: Run, tmp_path: Path) -> None:
    pay(owing, "20000", "BOC-1", "10:30", "li.na")
    bank = write_csv(tmp_path / "boc.csv", "BOC-1,1,,20000,CNY,2026-11-23T10:30+08:00")
    result = import_payments(owing, bank)
    assert "1 confirmed" in result.stdout and "(1 case closed)" in result.stdout
    assert stage(owing) == ("closed", "paid")


def test_the_bank_files_rows_that_cannot_be_taken_go_to_the_rejects_file(
    owing: Run, tmp_path: Path
) -> None:
    pay(owing, "1500", "BOC-1", "10:30", "li.na")
    pay(owing, "100", "BOC-9", "10:40", "chen.wei")
    reversed_ = owing(
        "payment", "reverse", "1", "BOC-9", "--reason", "bounced", *at("10:50"), as_="chen.wei"
    )
    assert reversed_.exit_code == 0, reversed_.output
    bank = write_csv(
        tmp_path / "boc.csv",
        "BOC-1,1,,1600,CNY,2026-11-23T10:30+08:00",
        "BOC-4,77,,100,CNY,2026-11-23T10:30+08:00",
        "BOC-5,,L-9999,100,CNY,2026-11-23T10:30+08:00",
        "BOC-6,1,,100,XYZ,2026-11-23T10:30+08:00",
        "BOC-7,1,,100,USD,2026-11-23T10:30+08:00",
        "BOC-9,1,,100,CNY,2026-11-23T10:40+08:00",
        "BOC-8,1,,-5,CNY,2026-11-23T10:30+08:00",
        "BOC-10,1,,100,CNY,yesterday",
    )
    result = import_payments(owing, bank)
    assert result.exit_code == 0, result.output
    assert "0 confirmed, 0 recorded, 0 unchanged, 8 rejected" in result.stdout
    with (tmp_path / "boc.rejects.csv").open(newline="") as handle:
        rejects = [(r["line"], r["field"], r["value"], r["reason"]) for r in csv.DictReader(handle)]
    expected = [
        ("2", "amount", "CNY 1,600.00", "payment BOC-1 of case 1 was reported by li.na as "
         "CNY 1,500.00; check which is right (a wrong one is reversed: fieldcase payment "
         "reverse 1 BOC-1 --reason ...)"),
        ("3", "case", "77", "no such case"),
        ("4", "loan_reference", "L-9999", "no case of hx-consumer"),
        ("5", "currency", "XYZ", "is not one of fieldcase's currencies"),
        ("6", "currency", "USD", "is not case 1's currency (CNY)"),
        ("7", "reference", "BOC-9", "payment BOC-9 of case 1 was reversed on 2026-11-23 "
         "(bounced) after it had counted; its reference stays taken"),
        ("8", "amount", "-5", "'-5' is negative"),
        ("9", "paid_at", "yesterday", "is not a time; write it as 2026-11-23T10:30+08:00"),
    ]  # fmt: skip
    assert len(rejects) == len(expected)
    for got, want in zip(rejects, expected, strict=True):
        assert got[:3] == want[:3] and got[3].startswith(want[3]), got
    # Nothing changed: the reported payment still waits.
    assert balance(owing)["balance"]["total"] == "20000.00"
    assert balance(owing)["reported"][0]["reference"] == "BOC-1"


def test_only_a_supervisor_imports_payment_files(owing: Run, target: str, tmp_path: Path) -> None:
    bank = write_csv(tmp_path / "boc.csv", "BOC-1,1,,1500,CNY,2026-11-23T10:30+08:00")
    before = snapshot(target)
    result = import_payments(owing, bank, as_="li.na")
    assert result.exit_code == 1
    assert "only a supervisor may import payment files" in result.stderr
    after = snapshot(target)
    assert [row[3] for row in after["events"][len(before["events"]) :]] == ["refused"]
    assert after["payments"] == before["payments"]


def test_a_file_without_the_columns_is_refused_before_anything_is_written(
    owing: Run, target: str, tmp_path: Path
) -> None:
    bank = tmp_path / "boc.csv"
    bank.write_text("ref,amt\nBOC-1,100\n")
    before = snapshot(target)
    result = import_payments(owing, bank)
    assert result.exit_code == 2
    assert "no column for reference, amount, paid_at, case (or loan_reference)" in result.stderr
    assert snapshot(target) == before
    mapping = tmp_path / "boc.toml"
    mapping.write_text('[columns]\nref = "reference"\namt = "amount"\n[defaults]\ncase = "1"\n'
                       'paid_at = "2026-11-23T10:30+08:00"\n')  # fmt: skip
    mapped = owing(
        "import", "payments", str(bank), "--institution", "hx-consumer", "--mapping",
        str(mapping), *at("20:00"), as_="chen.wei",
    )  # fmt: skip
    assert mapped.exit_code == 0, mapped.output
    assert "1 recorded" in mapped.stdout


def test_case_files_still_import_without_naming_the_subcommand(owing: Run, tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "reference,borrower_name,principal,overdue_amount,overdue_since\n"
        "L-2001,Zhao Lei,1000,100,2026-10-01\n"
    )
    plain = owing(
        "import", str(cases), "--institution", "hx-consumer", *at("20:00"), as_="chen.wei"
    )
    assert plain.exit_code == 0, plain.output
    assert "1 imported" in plain.stdout
    options_first = owing(
        "import", "--institution", "hx-consumer", str(cases), *at("20:00"), as_="chen.wei"
    )
    assert options_first.exit_code == 0, options_first.output
    assert "1 unchanged" in options_first.stdout


def test_the_reports_sums_count_what_the_balance_counts(owing: Run, target: str) -> None:
    # store.COUNTED is the SQL twin of repayment.counted: the two must agree.
    from fieldcase.repayment import counted
    from fieldcase.store import Store

    pay(owing, "1500", "BOC-1", "10:30", "li.na")  # reported
    pay(owing, "700", "BOC-2", "10:40", "li.na")
    pay(owing, "300", "BOC-3", "10:50", "chen.wei")  # confirmed at once
    pay(owing, "9000", "BOC-4", "11:00", "chen.wei")
    owing("payment", "confirm", "1", "BOC-2", *at("11:10"), as_="chen.wei")
    owing("payment", "reverse", "1", "BOC-4", "--reason", "typo", *at("11:20"), as_="chen.wei")
    store = Store(target)
    try:
        payments = store.payments(1, "CNY")
        assert [p.status for p in payments] == ["reported", "confirmed", "confirmed", "reversed"]
        expected = sum(p.amount for p in counted(payments))
        assert expected == 1000
        (row,) = store.recovery_sums(None, None, None)
        assert row["paid"] == 100000  # minor units
        activity = store.staff_activity(None, None, None)
        assert activity["li.na"]["recovered"] == {"CNY": 100000}
    finally:
        store.close()
    assert balance(owing)["balance"]["paid"] == "1000.00"


def test_the_bank_files_time_replaces_a_backdated_report(owing: Run, tmp_path: Path) -> None:
    """Attack: a worker reports the money hours early (penalty stops, promises kept);
    the bank's file says when it was really paid, and that time stands."""
    result = owing(
        "payment", "1", "20000", "--reference", "BOC-7", "--at", "2026-11-23T09:30+08:00",
        as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bank = write_csv(tmp_path / "boc.csv", "BOC-7,1,,20000,CNY,2026-11-23T16:00+08:00")
    imported = import_payments(owing, bank)
    assert "1 confirmed" in imported.stdout, imported.output
    shown = json.loads(owing("show", "1", "--json", as_="chen.wei").stdout)
    assert shown["payments"][0]["at"].startswith("2026-11-23T08:00")
    assert shown["closed_at"].startswith("2026-11-23T08:00")


def test_reversing_any_payment_a_closing_rested_on_reopens_the_case(owing: Run) -> None:
    """Attack: 1,000 then 19,000 close the case; the 1,000 bounces, the case owes it."""
    pay(owing, "1000", "B", "10:00", "chen.wei")
    pay(owing, "19000", "A", "10:05", "chen.wei")
    assert stage(owing) == ("closed", "paid")
    result = owing(
        "payment", "reverse", "1", "B", "--reason", "bounced", *at("10:10"), as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    assert stage(owing) == ("confirmation", None)
    assert balance(owing)["balance"]["total"] == "1000.00"


def test_a_wrong_report_reversed_gives_way_to_the_banks_record(owing: Run, tmp_path: Path) -> None:
    """Attack: a worker's report of 1 under the bank's reference would block it for good."""
    pay(owing, "1", "BOC-5", "10:00", "li.na")
    bank = write_csv(tmp_path / "boc.csv", "BOC-5,1,,1500,CNY,2026-11-23T11:00+08:00")
    first = import_payments(owing, bank, "12:00")
    assert "1 rejected" in first.stdout, first.output
    reversed_ = owing(
        "payment", "reverse", "1", "BOC-5", "--reason", "Wrong amount", *at("12:30"),
        as_="chen.wei",
    )  # fmt: skip
    assert reversed_.exit_code == 0, reversed_.output
    again = import_payments(owing, bank, "13:00")
    assert "1 confirmed" in again.stdout, again.output
    shown = json.loads(owing("show", "1", "--json", as_="chen.wei").stdout)
    (paid,) = shown["payments"]
    assert (paid["status"], paid["amount"]) == ("confirmed", "1500.00")
    assert paid["at"].startswith("2026-11-23T03:00")
    assert balance(owing)["balance"]["total"] == "18500.00"


def test_a_paid_close_by_hand_reopens_when_the_money_it_rested_on_is_reversed(
    owing: Run,
) -> None:
    """Money cleared the case while a dispute held it open; once it was decided the case
    was closed as paid by hand; the money bounced. It must not stay closed owing it all."""
    opened = owing(
        "dispute", "open", "1", "--kind", "bank-error", "--note", "x", *at("10:00"), as_="li.na"
    )
    assert opened.exit_code == 0, opened.output
    pay(owing, "20000", "R1", "10:30", "chen.wei")
    assert stage(owing) == ("confirmation", None)  # the dispute holds it open
    decided = owing(
        "dispute", "decide", "1", "--reject", "--note", "no", *at("11:00"), as_="chen.wei"
    )
    assert decided.exit_code == 0, decided.output
    closed = owing("close", "1", "--resolution", "paid", *at("11:30"), as_="chen.wei")
    assert closed.exit_code == 0, closed.output
    reversed_ = owing(
        "payment", "reverse", "1", "R1", "--reason", "bounced", *at("12:00"), as_="chen.wei"
    )
    assert reversed_.exit_code == 0, reversed_.output
    assert stage(owing) == ("confirmation", None)
    assert balance(owing)["balance"]["total"] == "20000.00"


def test_a_reversal_reason_is_masked_in_show_for_staff_not_on_the_case(owing: Run) -> None:
    pay(owing, "100", "R2", "10:00", "chen.wei")
    why = "Wang Fang's brother paid from his card"
    reversed_ = owing(
        "payment", "reverse", "1", "R2", "--reason", why, *at("10:30"), as_="chen.wei"
    )
    assert reversed_.exit_code == 0, reversed_.output
    assert why in owing("show", "1", as_="li.na").stdout
    for args in (("show", "1"), ("show", "1", "--json")):
        assert "Wang Fang" not in owing(*args, as_="zhang.min").stdout


def test_the_payment_commands_print_json_for_scripts(owing: Run) -> None:
    def run(*args: str, who: str) -> dict:
        result = owing("payment", *args, "--json", as_=who)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    reported = run("1", "20000", "--reference", "J-1", *at("10:00"), who="li.na")
    assert (reported["case"], reported["new"]) == (1, True)
    assert (reported["payment"]["status"], reported["payment"]["amount"]) == (
        "reported",
        "20000.00",
    )
    confirmed = run("confirm", "1", "J-1", *at("11:00"), who="chen.wei")
    assert confirmed["payment"]["status"] == "confirmed"
    assert (confirmed["stage"], confirmed["resolution"]) == ("closed", "paid")
    reversed_ = run("reverse", "1", "J-1", "--reason", "bounced", *at("12:00"), who="chen.wei")
    assert reversed_["payment"]["status"] == "reversed" and reversed_["reopened"] is True
    assert reversed_["stage"] == "confirmation"
