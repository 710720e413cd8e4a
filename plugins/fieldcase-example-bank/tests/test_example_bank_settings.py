"""Example Bank's settings and its listing, through fieldcase's command line."""

from __future__ import annotations

import json

import pytest
from fieldcase.testing import Office, OfficeFactory


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    """Example Bank registered with its defaults, beside a lender of no rules of its own."""
    office = fieldcase_office(plugins=["fieldcase-example-bank"], institution="example-bank")
    office.add_institution("acme-lending")
    return office


def test_listed_with_its_hooks(office: Office) -> None:
    listed = json.loads(office("plugins", "--json").stdout)

    assert listed == [
        {
            "name": "fieldcase-example-bank",
            "hooks": [
                "case_eligible",
                "cases_eligible",
                "check_action",
                "overdue_reasons",
                "register_commands",
                "register_exporters",
                "register_policy_settings",
                "register_reports",
                "visit_checklist",
            ],
            "version": "0.1.0",
        }
    ]
    assert "payroll-change" in office("reasons").stdout


def test_its_rules_apply_only_to_its_own_cases(office: Office) -> None:
    case = office.case_at("preparation", institution="acme-lending")

    result = office("plan", case, "--date", "2026-11-26", "--window", "10:00-12:00", at="11:00")

    assert result.exit_code == 0, result.stderr
    assert "hardship-form" not in result.stdout


def test_thresholds_and_holidays_come_from_the_policy(office: Office) -> None:
    small = office.create_case(overdue="300")
    assert office.show(small)["eligible"] is False
    office.set_policy({"visit_min_overdue": "100.00", "holidays": ["2026-11-27"]})
    lower = office.case_at("preparation", overdue="300")
    assert office.show(lower)["eligible"] is True
    holiday = office("plan", lower, "--date", "2026-11-27", "--window", "10:00-12:00", at="11:00")
    assert "(rule example-bank.holiday)" in holiday.stderr

    # Eligibility is checked again before preparation: under the lowered
    # threshold the first case now qualifies, and loses its flag.
    office.advance(small, "preparation")

    assert office.show(small)["eligible"] is True


def test_its_keys_are_checked_when_set(office: Office) -> None:
    def policy(setting: str) -> str:
        result = office(
            "institution", "policy", "example-bank", "--set", setting, as_=office.supervisor
        )
        assert result.exit_code == 2
        return result.stderr

    assert "holidays: 'Thanksgiving' is not a date; write holidays as YYYY-MM-DD" in policy(
        'holidays=["Thanksgiving"]'
    )
    assert "did you mean visit_min_overdue?" in policy("visit_min_overdu=100")


def test_its_command_and_report_follow_the_branches_promises(office: Office) -> None:
    office.set_policy({"attributes.branch": "text"})
    case = office.case_at("preparation", attribute="branch=Harbor-East")
    office("promise", case, "--amount", "200", "--date", "2026-11-24", at="11:00")

    followups = office("example-bank-followups", "--json", at="2026-11-25 12:00")
    branches = office(
        "report", "example-bank-branches", "--where", "branch=Harbor-East", "--format", "json"
    )

    assert [(row["case"], row["broken"]) for row in json.loads(followups.stdout)] == [
        ("example-bank/T-1", 1)
    ]
    assert json.loads(branches.stdout) == [
        {
            "branch": "Harbor-East",
            "cases": 1,
            "overdue": "910.25",
            "promised": "200.00",
            "paid": "0.00",
        }
    ]
