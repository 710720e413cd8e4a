"""Amortisation, penalty interest and balances: exact to the cent, checked independently."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy_financial as npf
import pytest
from fieldcase.model import Borrower, Case, Payment
from fieldcase.money import (
    add_months,
    annuity_schedule,
    equal_principal_schedule,
    penalty_interest,
    round_money,
)
from fieldcase.repayment import case_balance
from hypothesis import given, settings
from hypothesis import strategies as st

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

FIRST = dt.date(2026, 12, 23)
CENT = Decimal("0.01")

GRID = [
    (Decimal(amount), Decimal(rate), periods)
    for amount in ("1000.00", "20577.70", "99999.99", "123456789.01")
    for rate in ("0.005", "0.01", "0.0125", "0.02")
    for periods in (3, 6, 12, 24, 36)
]


@pytest.mark.parametrize(("amount", "rate", "periods"), GRID)
def test_annuity_agrees_with_numpy_financial_to_the_cent(
    amount: Decimal, rate: Decimal, periods: int
) -> None:
    schedule = annuity_schedule(amount, rate, periods, FIRST, "CNY")
    pmt = round(Decimal(str(npf.pmt(float(rate), periods, -float(amount)))), 2)
    for item in schedule[:-1]:
        assert item.payment == pmt
        ppmt = npf.ppmt(float(rate), item.number, periods, -float(amount))
        assert item.principal == round(Decimal(str(ppmt)), 2), item
    # The last installment takes the rounding residue: within a cent per period.
    last_ppmt = Decimal(str(npf.ppmt(float(rate), periods, periods, -float(amount))))
    assert abs(schedule[-1].principal - last_ppmt) <= CENT * periods
    assert sum(i.principal for i in schedule) == amount
    assert schedule[-1].remaining == 0


@pytest.mark.parametrize(("amount", "rate", "periods"), GRID)
def test_equal_principal_agrees_with_a_direct_computation(
    amount: Decimal, rate: Decimal, periods: int
) -> None:
    schedule = equal_principal_schedule(amount, rate, periods, FIRST, "USD")
    remaining = amount
    for item in schedule:
        assert item.interest == round_money(remaining * rate, "USD")
        remaining -= item.principal
    assert sum(i.principal for i in schedule) == amount
    assert len({i.principal for i in schedule[:-1]}) <= 1


def test_zero_rate_and_yen() -> None:
    schedule = annuity_schedule(Decimal("1000"), Decimal(0), 3, FIRST, "JPY")
    assert [i.payment for i in schedule] == [Decimal(333), Decimal(333), Decimal(334)]
    assert all(i.interest == 0 for i in schedule)


def test_due_dates_follow_the_calendar() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 12, 31), 2) == dt.date(2028, 2, 29)
    schedule = annuity_schedule(Decimal("100"), Decimal("0.01"), 3, dt.date(2026, 1, 31), "CNY")
    assert [i.due for i in schedule] == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
    ]


def test_penalty_interest_accrues_daily_with_a_cap() -> None:
    start, end = dt.date(2026, 9, 15), dt.date(2026, 11, 23)
    assert penalty_interest(Decimal("3150.40"), Decimal("0.18"), start, end, "CNY") == Decimal(
        "107.20"
    )  # 3150.40 x 0.18 x 69 / 365
    capped = penalty_interest(
        Decimal("3150.40"), Decimal("0.18"), start, end, "CNY", cap=Decimal("100")
    )
    assert capped == Decimal("100.00")
    assert penalty_interest(Decimal("100"), Decimal("0.18"), end, start, "CNY") == 0


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)
rates = st.decimals(min_value=Decimal(0), max_value=Decimal("0.05"), places=4)
terms = st.integers(min_value=1, max_value=60)


@settings(max_examples=300, deadline=None)
@given(amounts, rates, terms)
def test_schedules_never_negative_and_sum_exactly(
    amount: Decimal, rate: Decimal, periods: int
) -> None:
    for build in (annuity_schedule, equal_principal_schedule):
        schedule = build(amount, rate, periods, FIRST, "CNY")
        assert len(schedule) == periods
        assert sum(i.principal for i in schedule) == amount
        for item in schedule:
            assert item.payment >= 0 and item.principal >= 0 and item.interest >= 0
            assert item.payment == item.principal + item.interest
            assert item.remaining >= 0


def make_case(overdue: Decimal, rate: Decimal, fees: Decimal) -> Case:
    return Case(
        institution="hx",
        reference="r",
        id=1,
        borrower=Borrower(name="王芳", timezone="Asia/Shanghai"),
        currency="CNY",
        principal=overdue * 4,
        overdue_amount=overdue,
        overdue_since=dt.date(2026, 6, 1),
        referred_at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
        accrued_interest=round_money(overdue / 10, "CNY"),
        fees=fees,
        penalty_rate=rate,
    )


@settings(max_examples=300, deadline=None)
@given(
    amounts,
    st.decimals(min_value=Decimal(0), max_value=Decimal("0.36"), places=3),
    st.decimals(min_value=Decimal(0), max_value=Decimal("500"), places=2),
    st.lists(amounts, max_size=6),
    st.integers(min_value=0, max_value=800),
)
def test_balance_never_below_zero_and_payments_only_reduce_it(
    overdue: Decimal, rate: Decimal, fees: Decimal, paid: list[Decimal], days: int
) -> None:
    case = make_case(overdue, rate, fees)
    at = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC) + dt.timedelta(days=days)
    payments: list[Payment] = []
    previous = case_balance(case, payments, at)
    for n, amount in enumerate(paid):
        payments.append(
            Payment(case_id=1, amount=amount, at=at, reference=f"p{n}", recorded_by="w")
        )
        current = case_balance(case, payments, at)
        assert current.total >= 0
        assert current.total <= previous.total
        assert (
            current.total + current.paid - current.overpaid
            == previous.total + previous.paid - previous.overpaid
        )
        previous = current


@settings(max_examples=200, deadline=None)
@given(
    amounts,
    st.decimals(min_value=Decimal(0), max_value=Decimal("0.36"), places=3),
    st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=2),
    st.integers(min_value=0, max_value=800),
)
def test_waiver_never_increases_what_is_owed(
    overdue: Decimal, rate: Decimal, share: Decimal, days: int
) -> None:
    from fieldcase.builtin.offers import repayment_offers

    case = make_case(overdue, rate, Decimal("0"))
    at = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC) + dt.timedelta(days=days)
    balance = case_balance(case, [], at)
    offers = repayment_offers(case, balance, at, {"offers": {"waiver_share": str(share)}})
    for offer in offers:
        if offer.kind == "waiver":
            assert offer.total_payable <= balance.total
            assert offer.saving >= 0
            assert offer.total_payable + offer.saving == balance.total
