"""The China rule pack as an office meets it, through fieldcase's command line."""

from __future__ import annotations

import json

import pytest
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


def test_a_visit_needs_two_staff(office: Office) -> None:
    case = office.case_at("preparation")

    alone = office("plan", case, "--date", "2026-11-25", "--window", "10:00-12:00", at="11:00")

    assert alone.exit_code == 1
    assert "a visit needs at least 2 staff members; plan it --with a colleague" in alone.stderr
    assert "(rule cn.two_staff)" in alone.stderr
    office.advance(case, "interview")  # the plan is made --with a colleague


def test_third_parties_may_only_pass_a_message(office: Office) -> None:
    case = office.case_at("confirmation")
    third_party = ("--target", "third-party", "--purpose")

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
