"""The China rule pack as an office meets it, through fieldcase's command line."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from fieldcase.testing import Office, OfficeFactory


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    """A Chinese consumer lender that enables the pack, and no other installed plugin loaded."""
    return fieldcase_office(
        plugins=["fieldcase-cn"],
        institution="hx-consumer",
        name="华夏消费金融",
        jurisdiction="CN",
        timezone="Asia/Shanghai",
        currency="CNY",
        rule_packs=["cn"],
    )


def call(office: Office, case: int, at: str, *options: str) -> tuple[int, str]:
    result = office(
        "contact", case, "--channel", "phone", "--outcome", "no-answer", *options, at=at
    )
    return result.exit_code, result.stderr


def last_refusal(office: Office, case: int) -> list[str]:
    """The rules of the case's last event if it is a refusal; [] if it is not."""
    history = json.loads(office("history", case, "--json", as_=office.supervisor).stdout)
    last = history[-1]
    return [r["rule"] for r in last["data"]["reasons"]] if last["type"] == "refused" else []


def visit_nobody_home(office: Office, case: int, day: str) -> None:
    """Plan a visit for ``day`` with a colleague, tick the checklist, find nobody at home."""
    office.succeed(
        "plan", case, "--date", day, "--window", "10:00-12:00", "--with", office.colleague,
        at=f"{day} 08:30",
    )  # fmt: skip
    office.succeed("checklist", case, "--all", at=f"{day} 08:45")
    office.succeed("interview", case, "--met", "nobody", at=f"{day} 10:30")


def test_listed_with_its_hooks(office: Office) -> None:
    listed = json.loads(office("plugins", "--json").stdout)

    assert [(p["name"], p["hooks"]) for p in listed] == [
        ("fieldcase-cn", ["check_action", "penalty_rate_cap", "register_rule_packs"])
    ]


@pytest.mark.parametrize(
    ("time", "refused"),
    [("07:59", True), ("08:00", False), ("21:00", False), ("21:01", True)],
)
def test_calls_only_between_eight_and_nine_borrower_time(
    office: Office, time: str, refused: bool
) -> None:
    case = office.case_at("confirmation")

    code, stderr = call(office, case, f"2026-11-24 {time}")

    assert (code, "(rule cn.hours)" in stderr) == ((1, True) if refused else (0, False))


def test_the_hours_are_a_parameter_of_the_policy(office: Office) -> None:
    case = office.case_at("confirmation")
    office.set_policy({"rules.cn.hours.end": "20:00"})

    code, stderr = call(office, case, "2026-11-24 20:30")

    assert code == 1 and "(rule cn.hours)" in stderr


def test_three_contacts_with_the_borrower_a_day(office: Office) -> None:
    case = office.case_at("confirmation")
    # A credit-report inquiry reaches the bureau, not the borrower: it does not count.
    inquiry = office(
        "contact", case, "--channel", "bureau", "--outcome", "reached", at="2026-11-24 09:30"
    )
    assert inquiry.exit_code == 0, inquiry.stderr
    for time in ("10:00", "11:00"):
        assert call(office, case, f"2026-11-24 {time}") == (0, "")
    texted = office(
        "contact", case, "--channel", "sms", "--outcome", "left-message", at="2026-11-24 12:00"
    )
    assert texted.exit_code == 0, texted.stderr

    code, stderr = call(office, case, "2026-11-24 15:00")

    assert code == 1
    assert "3 contacts with the borrower on 2026-11-24 already; at most 3 a day" in stderr
    assert "(rule cn.frequency)" in stderr
    assert last_refusal(office, case) == ["cn.frequency"]
    # A friend asked to pass a message on is not the borrower; the next day starts afresh.
    message = ("--target", "third-party", "--relationship", "friend", "--purpose", "message")
    assert call(office, case, "2026-11-24 15:05", *message) == (0, "")
    assert call(office, case, "2026-11-25 08:00") == (0, "")


def test_the_day_is_the_borrowers_calendar_day(office: Office) -> None:
    case = office.case_at("confirmation", timezone="America/New_York")
    # 19:00-20:30 on the 24th in New York is already the 25th in Beijing.
    for time in ("19:00", "20:00", "20:30"):
        assert call(office, case, f"2026-11-24T{time}-05:00") == (0, "")

    late = call(office, case, "2026-11-24T20:45-05:00")
    morning = call(office, case, "2026-11-25T08:30-05:00")

    assert late[0] == 1 and "on 2026-11-24 already; at most 3 a day" in late[1]
    assert morning == (0, "")


def test_seven_contacts_in_seven_days(office: Office) -> None:
    case = office.case_at("confirmation")
    for moment in ("24 10:00", "24 11:00", "25 10:00", "25 11:00", "26 10:00", "26 11:00",
                   "27 10:00"):  # fmt: skip
        assert call(office, case, f"2026-11-{moment}") == (0, "")

    code, stderr = call(office, case, "2026-11-30 10:00")

    assert code == 1
    assert (
        "7 contacts with the borrower in the 7 days to 2026-11-30 already; at most 7 in 7 days"
        in stderr
    )
    assert last_refusal(office, case) == ["cn.frequency"]
    # Seven days after the first call, it no longer counts.
    assert call(office, case, "2026-12-01 10:00") == (0, "")


def test_the_limits_are_parameters_of_the_policy(office: Office) -> None:
    case = office.case_at("confirmation")
    office.set_policy({"rules.cn.frequency.max_per_day": 1})

    assert call(office, case, "2026-11-24 10:00") == (0, "")
    code, stderr = call(office, case, "2026-11-24 11:00")

    assert code == 1
    assert "1 contact with the borrower on 2026-11-24 already; at most 1 a day" in stderr


def test_two_visits_in_thirty_days(office: Office) -> None:
    case = office.case_at("preparation")
    visit_nobody_home(office, case, "2026-11-25")
    visit_nobody_home(office, case, "2026-11-27")

    soon = office(
        "plan", case, "--date", "2026-12-01", "--window", "10:00-12:00",
        "--with", office.colleague, at="2026-11-27 18:00",
    )  # fmt: skip

    assert soon.exit_code == 1
    assert (
        "2 visits within 30 days of 2026-12-01 already (2026-11-25, 2026-11-27); "
        "at most 2 in 30 days"
    ) in soon.stderr
    assert "(rule cn.frequency)" in soon.stderr
    assert last_refusal(office, case) == ["cn.frequency"]
    # On 25 December the visit of 25 November is 30 days old and no longer counts.
    later = office(
        "plan", case, "--date", "2026-12-25", "--window", "10:00-12:00",
        "--with", office.colleague, at="2026-11-27 18:05",
    )  # fmt: skip
    assert later.exit_code == 0, later.stderr


def test_no_contact_or_visit_once_the_borrower_asks_to_cease(office: Office) -> None:
    case = office.case_at("preparation")
    assert call(office, case, "2026-11-23 11:00") == (0, "")
    office.succeed(
        "flags", case, "--set", "cease-communication", "--note", "letter of 2026-11-23",
        at="2026-11-23 12:00",
    )  # fmt: skip

    code, stderr = call(office, case, "2026-11-23 13:00")
    plan = office(
        "plan", case, "--date", "2026-11-25", "--window", "10:00-12:00",
        "--with", office.colleague, at="2026-11-23 13:05",
    )  # fmt: skip
    message = ("--target", "third-party", "--relationship", "friend", "--purpose", "message")
    friend = call(office, case, "2026-11-23 13:10", *message)

    assert code == 1
    assert "the borrower asked in writing for no more contact" in stderr
    assert "(rule cn.cease)" in stderr
    assert plan.exit_code == 1 and "(rule cn.cease)" in plan.stderr
    assert friend[0] == 1 and "(rule cn.cease)" in friend[1]
    assert last_refusal(office, case) == ["cn.cease"]
    # A credit-report inquiry is not a contact with the borrower: cn.bureau alone judges it.
    inquiry = office(
        "contact", case, "--channel", "bureau", "--outcome", "reached", at="2026-11-23 13:15"
    )
    assert inquiry.exit_code == 0, inquiry.stderr


def test_a_visit_needs_two_staff(office: Office) -> None:
    case = office.case_at("preparation")

    alone = office("plan", case, "--date", "2026-11-25", "--window", "10:00-12:00", at="11:00")

    assert alone.exit_code == 1
    assert "a visit needs at least 2 staff members; plan it --with a colleague" in alone.stderr
    assert "(rule cn.two_staff)" in alone.stderr
    office.advance(case, "interview")  # the plan is made --with a colleague


def test_third_parties_may_only_pass_a_message(office: Office) -> None:
    case = office.case_at("confirmation")
    third_party = ("--target", "third-party", "--relationship", "friend", "--purpose")

    code, stderr = call(office, case, "10:00", *third_party, "locate")
    assert code == 1 and "(rule cn.third_party)" in stderr

    assert call(office, case, "10:01", *third_party, "message") == (0, "")


def test_one_credit_report_inquiry_a_month_while_credit_is_open(office: Office) -> None:
    case = office.case_at("confirmation")

    def inquiry(at: str) -> tuple[int, str]:
        result = office("contact", case, "--channel", "bureau", "--outcome", "reached", at=at)
        return result.exit_code, result.stderr

    assert inquiry("10:00") == (0, "")
    code, stderr = inquiry("2026-11-30 10:00")
    assert code == 1 and "at most one every 30 days" in stderr
    assert inquiry("2026-12-24 10:00") == (0, "")
    office("flags", case, "--set", "no-credit-relationship", at="2026-12-25 09:00")
    code, stderr = inquiry("2027-01-25 10:00")
    assert code == 1 and "no open credit relationship" in stderr


def inquire(office: Office, case: int, at: str, purpose: str = "post-loan-management") -> Result:
    return office("inquiry", case, "--purpose", purpose, "--kind", "soft", at=at)


def inquiries(office: Office, case: int) -> int:
    return len(office.show(case)["inquiries"])


def test_an_inquiry_once_a_month_counting_those_recorded_as_bureau_contacts(
    office: Office,
) -> None:
    case = office.case_at("confirmation")
    # It reaches the bureau, not the borrower: the hours are not the borrower's.
    assert inquire(office, case, "22:30").exit_code == 0

    again = inquire(office, case, "2026-12-20 10:00", "collection")
    assert again.exit_code == 1
    assert "a credit-report inquiry on 2026-11-23 already; at most one every 30 days" in (
        again.stderr
    )
    assert last_refusal(office, case) == ["cn.bureau"] and inquiries(office, case) == 1
    # An inquiry recorded as a contact on channel bureau counts, either way round.
    bureau = office(
        "contact", case, "--channel", "bureau", "--outcome", "reached", at="2026-12-20 10:05"
    )
    assert bureau.exit_code == 1 and "(rule cn.bureau)" in bureau.stderr
    office.succeed(
        "contact", case, "--channel", "bureau", "--outcome", "reached", at="2026-12-24 10:00"
    )
    after_contact = inquire(office, case, "2027-01-20 10:00")
    assert after_contact.exit_code == 1 and "on 2026-12-24 already" in after_contact.stderr
    assert inquire(office, case, "2027-01-24 10:00").exit_code == 0


def test_no_inquiry_without_an_open_credit_relationship(office: Office) -> None:
    case = office.case_at("confirmation")
    office.succeed("flags", case, "--set", "no-credit-relationship", at="09:00")

    refused = inquire(office, case, "10:00")

    assert refused.exit_code == 1
    assert "no open credit relationship with the borrower" in refused.stderr
    assert "(rule cn.bureau)" in refused.stderr
    assert last_refusal(office, case) == ["cn.bureau"] and inquiries(office, case) == 0


def test_penalty_interest_is_capped_at_24_percent_a_year(office: Office) -> None:
    case = office.create_case(
        principal="1000", overdue="1000", overdue_since="2026-01-01", penalty_rate="36%"
    )

    balance = json.loads(office("balance", case, "--json", at="2027-01-01 12:00").stdout)

    assert balance["balance"]["penalty"] == "240.00"  # 24% of 1000 for a year, not 36%


def test_nothing_is_refused_for_a_lender_that_did_not_enable_the_pack(office: Office) -> None:
    office.add_institution(
        "pearl-river", jurisdiction="CN", timezone="Asia/Shanghai", currency="CNY"
    )
    case = office.case_at("preparation", institution="pearl-river")

    alone = office("plan", case, "--date", "2026-11-25", "--window", "10:00-12:00", at="11:00")
    late = call(office, case, "2026-11-24 22:30")

    assert alone.exit_code == 0, alone.stderr
    assert late == (0, "")
