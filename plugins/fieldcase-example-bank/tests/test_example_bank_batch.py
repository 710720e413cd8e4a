"""Example Bank's batch form of its eligibility rule, called directly."""

import datetime as dt

import fieldcase_example_bank as bank

AT = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
ROW = {"institution": "example-bank", "currency": "USD", "days_past_due": 45}


def test_a_batch_is_judged_by_the_same_rule() -> None:
    decisions = bank.cases_eligible(
        cases=[
            {**ROW, "overdue_minor": 91025},  # 910.25 overdue for 45 days: a visit
            {**ROW, "overdue_minor": 49999},  # 499.99: too little
            {**ROW, "overdue_minor": 91025, "days_past_due": 18},  # too recent
        ],
        settings={},
        at=AT,
    )
    assert decisions is not None
    first, little, recent = decisions
    assert first is None
    assert little is not None and little.rule == "example-bank.min-amount"
    assert "(this one: 499.99)" in little.reason
    assert recent is not None and recent.rule == "example-bank.min-days"


def test_another_institutions_batch_is_not_judged() -> None:
    other = bank.cases_eligible(cases=[{**ROW, "institution": "acme"}], settings={}, at=AT)
    assert other is None
