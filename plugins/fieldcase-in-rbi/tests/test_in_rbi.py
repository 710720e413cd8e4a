"""The India rule pack as an office meets it, through fieldcase's command line."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from fieldcase.testing import Office, OfficeFactory


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    """An Indian lender that enables the pack, and no other installed plugin loaded."""
    return fieldcase_office(
        plugins=["fieldcase-in-rbi"],
        institution="deccan-finance",
        name="Deccan Finance",
        jurisdiction="IN",
        timezone="Asia/Kolkata",
        currency="INR",
        rule_packs=["in-rbi"],
    )


def call(office: Office, case: int, at: str, *options: str) -> tuple[int, str]:
    # An --outcome among the options replaces the default (an option is given once).
    outcome = () if "--outcome" in options else ("--outcome", "no-answer")
    result = office("contact", case, "--channel", "phone", *outcome, *options, at=at)
    return result.exit_code, result.stderr


def last_refusal(office: Office, case: int) -> list[str]:
    """The rules of the case's last event if it is a refusal; [] if it is not."""
    history = json.loads(office("history", case, "--json", as_=office.supervisor).stdout)
    last = history[-1]
    return [r["rule"] for r in last["data"]["reasons"]] if last["type"] == "refused" else []


def plan(office: Office, case: int, day: str, at: str) -> tuple[int, str]:
    result = office("plan", case, "--date", day, "--window", "10:00-12:00", at=at)
    return result.exit_code, result.stderr


def visit_nobody_home(office: Office, case: int, day: str) -> None:
    """Plan a visit for ``day``, tick the checklist, find nobody at home."""
    assert plan(office, case, day, at=f"{day} 08:30") == (0, "")
    office.succeed("checklist", case, "--all", at=f"{day} 08:45")
    office.succeed("interview", case, "--met", "nobody", at=f"{day} 10:30")


def test_listed_with_its_hooks(office: Office) -> None:
    listed = json.loads(office("plugins", "--json").stdout)

    assert [(p["name"], p["hooks"]) for p in listed] == [
        ("fieldcase-in-rbi", ["check_action", "register_rule_packs"])
    ]


def test_three_contacts_with_the_borrower_a_day(office: Office) -> None:
    case = office.case_at("confirmation")
    answered = ("--outcome", "reached")
    assert call(office, case, "2026-11-24 10:00") == (0, "")
    assert call(office, case, "2026-11-24 11:00", *answered) == (0, "")
    assert call(office, case, "2026-11-24 12:00", "--purpose", "locate") == (0, "")

    code, stderr = call(office, case, "2026-11-24 16:00")

    assert code == 1
    assert "3 contacts with the borrower on 2026-11-24 already; at most 3 a day" in stderr
    assert "(rule in.rbi.frequency)" in stderr
    assert "the institution's choice" in stderr
    assert last_refusal(office, case) == ["in.rbi.frequency"]
    # A referee asked where the borrower lives is not the borrower.
    referee = ("--target", "third-party", "--relationship", "reference", "--purpose", "locate")
    assert call(office, case, "2026-11-24 16:05", *referee) == (0, "")
    assert call(office, case, "2026-11-25 08:00") == (0, "")


def test_seven_contacts_in_seven_days(office: Office) -> None:
    case = office.case_at("confirmation")
    for day in range(24, 31):  # one call a day, 24 to 30 November
        assert call(office, case, f"2026-11-{day} 10:00") == (0, "")

    code, stderr = call(office, case, "2026-11-30 18:00")

    assert code == 1
    assert (
        "7 contacts with the borrower in the 7 days to 2026-11-30 already; at most 7 in 7 days"
        in stderr
    )
    assert last_refusal(office, case) == ["in.rbi.frequency"]
    # A week after the first call, it no longer counts.
    assert call(office, case, "2026-12-01 10:01") == (0, "")


def test_the_limits_are_parameters_of_the_policy(office: Office) -> None:
    case = office.case_at("confirmation")
    office.set_policy({"rules.in.rbi.frequency.max_per_week": 2})

    assert call(office, case, "2026-11-24 10:00") == (0, "")
    assert call(office, case, "2026-11-25 10:00") == (0, "")
    code, stderr = call(office, case, "2026-11-26 10:00")

    assert code == 1
    assert "2 contacts with the borrower in the 7 days to 2026-11-26 already" in stderr


def test_a_visit_is_planned_only_when_fewer_than_two_were_made_in_thirty_days(
    office: Office,
) -> None:
    case = office.case_at("preparation")
    visit_nobody_home(office, case, "2026-11-25")
    visit_nobody_home(office, case, "2026-11-27")

    code, stderr = plan(office, case, "2026-12-01", at="2026-11-27 18:00")

    assert code == 1
    assert (
        "2 visits within 30 days of 2026-12-01 already (2026-11-25, 2026-11-27); "
        "at most 2 in 30 days"
    ) in stderr
    assert "(rule in.rbi.frequency)" in stderr
    assert last_refusal(office, case) == ["in.rbi.frequency"]
    assert plan(office, case, "2026-12-25", at="2026-11-27 18:05") == (0, "")


def test_a_visit_is_made_only_within_the_limit_in_force(office: Office) -> None:
    case = office.case_at("preparation")
    office.set_policy({"rules.in.rbi.frequency.max_visits": 3})
    visit_nobody_home(office, case, "2026-11-25")
    visit_nobody_home(office, case, "2026-11-27")
    assert plan(office, case, "2026-12-01", at="2026-11-27 18:00") == (0, "")
    office.succeed("checklist", case, "--all", at="2026-11-27 18:05")
    office.succeed(
        "institution", "policy", office.institution,
        "--set", "rules.in.rbi.frequency.max_visits=2",
        as_=office.supervisor, at="2026-11-30 09:00",
    )  # fmt: skip

    made = office(
        "interview", case, "--met", "borrower", "--reason", "medical", at="2026-12-01 10:30"
    )

    assert made.exit_code == 1
    assert "2 visits within 30 days of 2026-12-01 already" in made.stderr
    assert last_refusal(office, case) == ["in.rbi.frequency"]
    assert office.show(case)["stage"] == "interview"


def test_no_contact_or_visit_once_the_borrower_asks_to_cease(office: Office) -> None:
    case = office.case_at("preparation")
    assert call(office, case, "2026-11-23 11:00") == (0, "")
    office.succeed(
        "flags", case, "--set", "cease-communication", "--note", "letter of 2026-11-23",
        at="2026-11-23 12:00",
    )  # fmt: skip

    code, stderr = call(office, case, "2026-11-23 13:00")
    visit = plan(office, case, "2026-11-25", at="2026-11-23 13:05")
    referee = call(
        office,
        case,
        "2026-11-23 13:10",
        "--target",
        "third-party",
        "--relationship",
        "reference",
        "--purpose",
        "locate",
    )

    assert code == 1
    assert "the borrower asked in writing for no more contact" in stderr
    assert "(rule in.rbi.cease)" in stderr
    assert visit[0] == 1 and "(rule in.rbi.cease)" in visit[1]
    assert referee[0] == 1 and "(rule in.rbi.cease)" in referee[1]
    assert last_refusal(office, case) == ["in.rbi.cease"]
    # Only a supervisor lifts the block.
    office.succeed(
        "flags", case, "--clear", "cease-communication", "--note", "borrower called to agree",
        as_=office.supervisor, at="2026-11-24 09:00",
    )  # fmt: skip
    assert call(office, case, "2026-11-24 10:00") == (0, "")


def test_nothing_is_refused_for_a_lender_that_did_not_enable_the_pack(office: Office) -> None:
    office.add_institution(
        "konkan-credit", jurisdiction="IN", timezone="Asia/Kolkata", currency="INR"
    )
    case = office.case_at("confirmation", institution="konkan-credit")
    for time in ("10:00", "11:00", "12:00"):
        assert call(office, case, f"2026-11-24 {time}") == (0, "")

    assert call(office, case, "2026-11-24 12:30") == (0, "")


def inquire(office: Office, case: int, at: str, purpose: str, kind: str = "soft") -> Result:
    return office("inquiry", case, "--purpose", purpose, "--kind", kind, at=at)


def test_an_inquiry_serves_the_open_account(office: Office) -> None:
    case = office.case_at("confirmation")
    # Not a call or a visit: the hours (08:00-19:00) do not apply.
    assert inquire(office, case, "20:00", "post-loan-management").exit_code == 0
    assert inquire(office, case, "20:05", "collection", "hard").exit_code == 0

    application = inquire(office, case, "20:10", "application")

    assert application.exit_code == 1
    assert "purpose application is for new credit" in application.stderr
    assert "(rule in.cicra.purpose)" in application.stderr
    assert last_refusal(office, case) == ["in.cicra.purpose"]
    assert len(office.show(case)["inquiries"]) == 2


def test_no_inquiry_without_an_open_credit_relationship(office: Office) -> None:
    case = office.case_at("confirmation")
    office.succeed("flags", case, "--set", "no-credit-relationship", at="09:00")

    refused = inquire(office, case, "10:00", "collection")

    assert refused.exit_code == 1 and "no open credit relationship" in refused.stderr
    assert last_refusal(office, case) == ["in.cicra.purpose"]
    assert office.show(case)["inquiries"] == []


def test_an_inquiry_recorded_as_a_bureau_contact_needs_an_open_account(office: Office) -> None:
    """Attack: with no account left, ask the bureau anyway and record it as a contact."""
    case = office.case_at("confirmation")
    office.succeed("flags", case, "--set", "no-credit-relationship", at="09:00")

    refused = office("contact", case, "--channel", "bureau", "--outcome", "reached", at="10:00")

    assert refused.exit_code == 1 and "no open credit relationship" in refused.stderr
    assert last_refusal(office, case) == ["in.cicra.purpose"]
    assert office.show(case)["contacts"] == []
