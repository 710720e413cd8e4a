"""Messages for mistyped input: each names what was wrong and what to type instead.

Refused input writes nothing; input the import reads is read the same on the
command line.
"""

from __future__ import annotations

import json

import pytest
from conftest import AT, Run, query, snapshot, to_preparation, to_submitted

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores


def refused(run: Run, target: str, *args: str, as_: str | None = "li.na") -> str:
    """Run a command that must be refused as a usage error, changing nothing; its message."""
    before = snapshot(target)
    result = run(*args, as_=as_)
    assert result.exit_code == 2, result.output
    assert snapshot(target) == before
    return " ".join(result.output.split())


# -- amounts -----------------------------------------------------------------------------


def test_a_letter_in_an_amount_is_named(office: Run, target: str) -> None:
    message = refused(
        office, target, "promise", "1", "--amount", "12,3O4.00", "--date", "2026-12-15", *AT
    )
    assert "ambiguous" not in message
    assert "letter 'O'" in message
    assert "12,304.00" in message


def test_promise_takes_an_amount_with_its_currency_as_payment_does(office: Run) -> None:
    result = office(
        "promise", "1", "--amount", "1000 CNY", "--date", "2026-12-15", *AT, as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert "promise of CNY 1,000.00" in result.output


def test_promise_in_another_currency_is_refused_as_payment_is(office: Run, target: str) -> None:
    message = refused(
        office, target, "promise", "1", "--amount", "1000 USD", "--date", "2026-12-15", *AT
    )
    assert "is in USD, but case 1 is in CNY" in message


def test_interview_amounts_take_their_currency_too(office: Run) -> None:
    from conftest import to_interview

    to_interview(office)
    result = office(
        "interview",
        "1",
        "--met",
        "borrower",
        "--reason",
        "medical",
        "--income",
        "CNY 8000",
        "--at",
        "2026-11-25T10:30+08:00",
        as_="li.na",
    )
    assert result.exit_code == 0, result.output


# -- dates and times ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "1", "--date", "2026-11-31", "--window", "10:00-12:00", *AT],
        ["promise", "1", "--amount", "100", "--date", "2026-11-31", *AT],
        ["hardship", "1", "--until", "2026-11-31", "--reason", "illness", *AT],
        [
            "contact",
            "1",
            "--channel",
            "phone",
            "--outcome",
            "reached",
            "--at",
            "2026-11-31T10:00+08:00",
        ],
    ],
    ids=["plan --date", "promise --date", "hardship --until", "contact --at"],
)
def test_an_impossible_day_is_said_to_not_exist(office: Run, target: str, args: list[str]) -> None:
    to_preparation(office)
    message = refused(office, target, *args)
    assert "does not match" not in message
    assert "November 2026 has 30 days" in message


def test_dispute_since_an_impossible_day(office: Run, target: str) -> None:
    message = refused(
        office,
        target,
        "dispute",
        "open",
        "1",
        "--kind",
        "bank-error",
        "--since",
        "2026-02-29",
        *AT,
    )
    assert "February 2026 has 28 days" in message


@pytest.mark.parametrize("spelling", ["2026/12/01", "20261201", "2026.12.01"])
def test_the_command_line_reads_the_dates_files_do(office: Run, spelling: str) -> None:
    to_preparation(office)
    result = office("plan", "1", "--date", spelling, "--window", "10:00-12:00", *AT, as_="li.na")
    assert result.exit_code == 0, result.output
    assert "2026-12-01" in result.output


def test_a_date_in_no_known_spelling_lists_the_spellings(office: Run, target: str) -> None:
    to_preparation(office)
    message = refused(
        office, target, "plan", "1", "--date", "01/12/2026", "--window", "10:00-12:00", *AT
    )
    assert "2026-12-01" in message and "2026/12/01" in message


# -- closed choices ----------------------------------------------------------------------


def test_choices_are_read_in_any_case_and_stored_lower_case(office: Run, target: str) -> None:
    result = office(
        "contact",
        "1",
        "--channel",
        "Phone",
        "--target",
        "Borrower",
        "--outcome",
        "No-Answer",
        *AT,
        as_="li.na",
    )
    assert result.exit_code == 0, result.output
    row = query(target, "SELECT channel, target, outcome FROM contacts")[0]
    assert tuple(row) == ("phone", "borrower", "no-answer")


# -- options given twice or together -----------------------------------------------------


def test_approve_and_return_exclude_each_other(office: Run, target: str) -> None:
    to_submitted(office)
    message = refused(office, target, "review", "1", "--approve", "--return", *AT, as_="chen.wei")
    assert "--approve and --return exclude each other" in message
    assert "--note" not in message


def test_a_single_value_option_given_twice_is_refused(office: Run, target: str) -> None:
    message = refused(
        office, target, "assign", "1", "--to", "li.na", "--to", "zhang.min", *AT, as_="chen.wei"
    )
    assert "--to is given twice" in message
    assert "give it once" in message


def test_a_repeatable_option_still_repeats(office: Run) -> None:
    to_preparation(office)
    result = office(
        "plan",
        "1",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--with",
        "zhang.min",
        "--with",
        "chen.wei",
        *AT,
        as_="li.na",
    )
    assert result.exit_code == 0, result.output


# -- staff ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "suggested"), [("Li Na", "li.na"), ("LI.NA", "li.na"), ("9lives", None)]
)
def test_staff_ids_are_lower_case_slugs(
    office: Run, target: str, given: str, suggested: str | None
) -> None:
    message = refused(office, target, "staff", "add", given, "--name", "x", as_="chen.wei")
    assert "lower-case" in message
    if suggested:
        assert f"e.g. {suggested}" in message


def test_staff_ids_already_stored_keep_working(
    office: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldcase import administration

    # A database from before ids were checked.
    with monkeypatch.context() as before_the_check:
        before_the_check.setattr(administration, "check_staff_id", lambda staff_id: None)
        result = office("staff", "add", "Old Timer", "--name", "x", as_="chen.wei")
        assert result.exit_code == 0, result.output
    result = office("assign", "1", "--to", "Old Timer", *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert office("staff", "deactivate", "Old Timer", as_="chen.wei").exit_code == 0


# -- JSON keys ---------------------------------------------------------------------------


def test_staff_json_keys_are_identifiers(office: Run) -> None:
    result = office("staff", "--json", as_="chen.wei")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert "open_cases" in rows[0]
    assert all(key.isidentifier() for row in rows for key in row)
