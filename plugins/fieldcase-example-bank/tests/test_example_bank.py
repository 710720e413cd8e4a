"""Example Bank's rules as an office meets them, through fieldcase's command line."""

from __future__ import annotations

import json

import pytest
from fieldcase.testing import Office, OfficeFactory, OnlyPlugins


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    """Staff, and Example Bank registered with a policy that needs this plugin."""
    return fieldcase_office(
        plugins=["fieldcase-example-bank"],  # and no other installed plugin
        institution="example-bank",
        jurisdiction="US-NY",
        timezone="America/New_York",
        currency="USD",
        settings={"require_plugins": "fieldcase-example-bank"},
    )


def test_no_visit_is_planned_on_a_bank_holiday(office: Office) -> None:
    case = office.case_at("preparation")

    result = office("plan", case, "--date", "2026-11-26", "--window", "10:00-12:00", at="11:00")

    assert result.exit_code == 1
    assert "2026-11-26 is an Example Bank public holiday" in result.stderr
    assert "(rule example-bank.holiday)" in result.stderr
    refused = json.loads(office("history", case, "--json").stdout)[-1]
    assert refused["type"] == "refused" and refused["data"]["action"] == "plan_visit"


def test_a_visit_waits_for_the_banks_two_forms(office: Office) -> None:
    case = office.case_at("preparation")
    plan = office("plan", case, "--date", "2026-11-27", "--window", "10:00-12:00", at="11:00")
    assert "hardship-form, privacy-notice" in plan.stdout
    for item in ("id-badge", "authorisation", "contract", "statement"):
        office("checklist", case, "--tick", item, at="11:30")
    assert office.show(case)["stage"] == "preparation"

    office("checklist", case, "--tick", "hardship-form", "--tick", "privacy-notice", at="11:40")

    assert office.show(case)["stage"] == "interview"


def test_an_account_under_30_days_past_due_is_not_eligible(office: Office) -> None:
    case = office.create_case(overdue_since="2026-11-05")

    shown = office.show(case)

    assert shown["eligible"] is False
    assert shown["eligibility_note"] == (
        "Example Bank visits accounts from 30 days past due (this one: 18)"
        " (rule example-bank.min-days)"
    )


def test_the_banks_overdue_reason_can_be_recorded(office: Office) -> None:
    case = office.case_at("interview")

    result = office(
        "interview", case, "--met", "borrower", "--reason", "payroll-change", at="2026-11-25 10:30"
    )

    assert result.exit_code == 0, result.stderr
    assert office.show(case)["stage"] == "feedback"


def test_without_the_plugin_the_banks_cases_are_refused(
    office: Office, only_plugins: OnlyPlugins
) -> None:
    case = office.case_at("confirmation")
    only_plugins()  # from now on, this process loads no installed plugin

    result = office("contact", case, "--channel", "phone", "--outcome", "no-answer", at="10:45")

    assert result.exit_code == 1
    assert "needs plugin fieldcase-example-bank" in result.stderr
    assert "(rule policy.plugins)" in result.stderr
