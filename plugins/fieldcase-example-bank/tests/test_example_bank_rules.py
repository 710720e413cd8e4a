"""Example Bank's rules called directly, as the plain functions they are."""

import datetime as dt
from decimal import Decimal

import fieldcase_example_bank as bank
from fieldcase.model import Borrower, Case


def test_too_recent_for_a_visit() -> None:
    case = Case(
        institution="example-bank",
        reference="EB-1",
        borrower=Borrower(name="Dana Reyes", timezone="America/New_York"),
        currency="USD",
        principal=Decimal("8000.00"),
        overdue_amount=Decimal("910.25"),
        overdue_since=dt.date(2026, 11, 5),
        referred_at=dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC),
    )
    at = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
    decision = bank.case_eligible(case=case, settings={"visit_min_days_past_due": 30}, at=at)
    assert decision is not None
    assert not decision.allowed and decision.rule == "example-bank.min-days"
