"""The US rule pack's credit-bureau inquiries as an office meets them, through the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from fieldcase.testing import Office, OfficeFactory


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    """A US lender that enables the pack, and no other installed plugin loaded."""
    return fieldcase_office(
        plugins=["fieldcase-us-regf"],
        institution="thames-credit",
        name="Thames Credit",
        jurisdiction="US-NY",
        timezone="America/New_York",
        currency="USD",
        rule_packs=["us-regf"],
    )


def inquire(office: Office, case: int, at: str, purpose: str, kind: str = "hard") -> Result:
    return office("inquiry", case, "--purpose", purpose, "--kind", kind, at=at)


def last_refusal(office: Office, case: int) -> list[str]:
    """The rules of the case's last event if it is a refusal; [] if it is not."""
    history = json.loads(office("history", case, "--json", as_=office.supervisor).stdout)
    last = history[-1]
    return [r["rule"] for r in last["data"]["reasons"]] if last["type"] == "refused" else []


def test_account_review_and_collection_are_permissible_purposes(office: Office) -> None:
    case = office.case_at("confirmation")
    # An inquiry is not a communication with the borrower: 12 CFR 1006.6(b) hours do not apply.
    assert inquire(office, case, "22:00", "post-loan-management").exit_code == 0
    assert inquire(office, case, "22:05", "collection").exit_code == 0
    assert last_refusal(office, case) == []


def test_an_application_inquiry_on_an_existing_account_is_refused(office: Office) -> None:
    case = office.case_at("confirmation")

    refused = inquire(office, case, "10:00", "application", "soft")

    assert refused.exit_code == 1
    assert "purpose application is for new credit" in refused.stderr
    assert "15 U.S.C. 1681b(a)(3)(A)" in refused.stderr
    assert "(rule us.fcra.purpose)" in refused.stderr
    assert last_refusal(office, case) == ["us.fcra.purpose"]
    assert office.show(case)["inquiries"] == []


def test_no_inquiry_without_an_open_credit_relationship(office: Office) -> None:
    case = office.case_at("confirmation")
    office.succeed("flags", case, "--set", "no-credit-relationship", at="09:00")

    refused = inquire(office, case, "10:00", "collection")

    assert refused.exit_code == 1 and "no open credit relationship" in refused.stderr
    assert last_refusal(office, case) == ["us.fcra.purpose"]
    assert office.show(case)["inquiries"] == []


def test_an_inquiry_recorded_as_a_bureau_contact_needs_an_open_account(office: Office) -> None:
    """Attack: with no account left, ask the bureau anyway and record it as a contact."""
    case = office.case_at("confirmation")
    office.succeed("flags", case, "--set", "no-credit-relationship", at="09:00")

    refused = office("contact", case, "--channel", "bureau", "--outcome", "reached", at="10:00")

    assert refused.exit_code == 1 and "no open credit relationship" in refused.stderr
    assert last_refusal(office, case) == ["us.fcra.purpose"]
    assert office.show(case)["contacts"] == []
