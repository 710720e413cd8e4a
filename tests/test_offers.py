"""Offers, promises and payments through the command line, exact to the cent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, create_args, events, query, register, set_policy, snapshot
from fieldcase import hookimpl
from fieldcase.plugins import manager

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

T = "2026-11-23T{}+08:00"


@pytest.fixture
def owed(run: Run) -> Run:
    """Case 1 owes principal, interest, fees and 18% penalty interest; li.na has it."""
    assert run("init").exit_code == 0
    run("staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor")
    run("staff", "add", "ann", "--name", "Ann", "--role", "supervisor", as_="chen.wei")
    run("staff", "add", "li.na", "--name", "李娜", as_="chen.wei")
    register(run)
    result = run(
        *create_args(),
        "--interest",
        "420.50",
        "--fees",
        "50",
        "--penalty-rate",
        "18%",
        "--assign",
        "li.na",
        "--at",
        T.format("09:00"),
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output
    return run


def offers(run: Run, at: str = "11:00") -> dict[str, Any]:
    result = run("offers", "1", "--json", "--at", T.format(at), as_="li.na")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_balance_by_component(owed: Run) -> None:
    data = json.loads(owed("balance", "1", "--json", "--at", T.format("11:00")).stdout)
    b = data["balance"]
    # 3150.40 x 18% x 69 days / 365 = 107.20
    assert (b["principal"], b["interest"], b["penalty"], b["fees"], b["total"]) == (
        "20000.00",
        "420.50",
        "107.20",
        "50.00",
        "20577.70",
    )


def test_offers_side_by_side(owed: Run) -> None:
    data = offers(owed)
    assert data["balance"] == "20577.70"
    by_code = {o["code"]: o for o in data["offers"]}
    assert list(by_code) == [
        "installment-3",
        "installment-6",
        "installment-12",
        "extension-30",
        "waiver",
        "settlement",
    ]
    plan = by_code["installment-6"]
    assert [p["amount"] for p in plan["schedule"]][:2] == ["3550.65", "3550.65"]
    assert sum(Decimalish(p["amount"]) for p in plan["schedule"]) == Decimalish(
        plan["total_payable"]
    )
    assert by_code["waiver"]["saving"] == "107.20"
    assert by_code["settlement"]["total_payable"] == "16462.16"
    # 20% off is above the default 10% threshold: four eyes.
    assert by_code["settlement"]["status"] == "needs-approval"
    assert by_code["waiver"]["status"] == "presented"
    table = owed("offers", "1", "--at", T.format("11:01"), as_="li.na").stdout
    assert "6 monthly payments of CNY 3,550.65" in table
    assert "saves CNY 107.20" in table and "costs CNY" in table


def Decimalish(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def test_accept_makes_promises(owed: Run, target: str) -> None:
    offers(owed)
    result = owed("accept", "1", "installment-3", "--at", T.format("11:05"), as_="li.na")
    assert result.exit_code == 0, result.output
    assert "3 promises to pay, CNY 20,990.61 in all, first due 2026-12-23" in result.stdout
    rows = query(target, "SELECT number, amount_minor, due FROM promises ORDER BY number")
    assert [tuple(row) for row in rows] == [
        (1, 699687, "2026-12-23"),
        (2, 699687, "2027-01-23"),
        (3, 699687, "2027-02-23"),
    ]
    statuses = {r["code"]: r["status"] for r in query(target, "SELECT code, status FROM offers")}
    assert statuses["installment-3"] == "accepted"
    assert statuses["waiver"] == "superseded"


def test_large_concession_needs_another_supervisor(owed: Run) -> None:
    offers(owed)
    result = owed("accept", "1", "settlement", "--at", T.format("11:05"), as_="li.na")
    assert result.exit_code == 1
    assert "a supervisor must approve it first" in result.stderr
    assert "(rule offer.four_eyes)" in result.stderr
    result = owed(
        "review", "offer", "1", "settlement", "--approve", "--at", T.format("11:06"), as_="li.na"
    )
    assert result.exit_code == 1 and "only a supervisor" in result.stderr
    result = owed(
        "review", "offer", "1", "settlement", "--approve", "--at", T.format("11:06"), as_="ann"
    )
    assert result.exit_code == 0, result.output
    result = owed("accept", "1", "settlement", "--at", T.format("11:07"), as_="li.na")
    assert result.exit_code == 0, result.output


def test_presenter_cannot_approve_their_own_offer(owed: Run) -> None:
    owed("offers", "1", "--at", T.format("11:00"), as_="chen.wei")
    result = owed(
        "review", "offer", "1", "settlement", "--approve", "--at", T.format("11:06"), as_="chen.wei"
    )
    assert result.exit_code == 1
    assert "another supervisor must approve it" in result.stderr


def test_expired_offer_and_accepting_twice(owed: Run, target: str) -> None:
    offers(owed)
    before = snapshot(target)
    result = owed("accept", "1", "waiver", "--at", "2026-12-01T09:00+08:00", as_="li.na")
    assert result.exit_code == 1
    assert "offer waiver expired on 2026-11-30; present offers again" in result.stderr
    after = snapshot(target)
    assert after["offers"] == before["offers"] and after["promises"] == before["promises"]
    assert events(target)[-1]["type"] == "refused"
    assert owed("accept", "1", "waiver", "--at", T.format("12:00"), as_="li.na").exit_code == 0
    result = owed("accept", "1", "waiver", "--at", T.format("12:01"), as_="li.na")
    assert result.exit_code == 1
    assert "offer waiver was already accepted on 2026-11-23" in result.stderr


def test_unknown_offer(owed: Run) -> None:
    offers(owed)
    result = owed("accept", "1", "lottery", "--at", T.format("11:05"), as_="li.na")
    assert result.exit_code == 2
    assert "no offer 'lottery'" in result.stderr and "installment-3" in result.stderr


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "is negative"),
        ("lots", "is not a number"),
        ("USD 100", "is in USD, but case 1"),
        ("0", "more than nothing"),
        ("12.345", "more decimal places"),
    ],
)
def test_bad_payments_write_nothing(owed: Run, target: str, amount: str, message: str) -> None:
    before = snapshot(target)
    result = owed(
        "payment", "1", amount, "--reference", "R1", "--at", T.format("12:00"), as_="chen.wei"
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert snapshot(target) == before


def test_payment_is_idempotent_on_its_reference(owed: Run, target: str) -> None:
    args = ("payment", "1", "CNY 1500", "--reference", "BOC-1", "--at", T.format("12:00"))
    assert "recorded (BOC-1)" in owed(*args, as_="chen.wei").stdout
    before = snapshot(target)
    again = owed(*args, as_="chen.wei")
    assert again.exit_code == 0 and "already recorded; nothing changed" in again.stdout
    assert snapshot(target) == before
    different = owed(
        "payment", "1", "1600", "--reference", "BOC-1", "--at", T.format("12:05"), as_="chen.wei"
    )
    assert different.exit_code == 2
    assert "already recorded for CNY 1,500.00, not CNY 1,600.00" in different.stderr
    data = json.loads(owed("balance", "1", "--json", "--at", T.format("12:10")).stdout)
    # Fees first, then penalty, then interest, then principal.
    assert data["balance"]["fees"] == "0.00" and data["balance"]["penalty"] == "0.00"
    assert data["balance"]["interest"] == "0.00"
    assert data["balance"]["principal"] == "19077.70"


def test_payment_clearing_the_balance_closes_the_case_from_any_stage(owed: Run) -> None:
    result = owed(
        "payment", "1", "20577.70", "--reference", "FULL", "--at", T.format("11:00"), as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    assert "closed as paid" in result.stdout
    shown = json.loads(owed("show", "1", "--json", as_="chen.wei").stdout)
    assert (shown["stage"], shown["resolution"]) == ("closed", "paid")
    # Penalty stops at closure: the balance stays zero later.
    later = json.loads(owed("balance", "1", "--json", "--at", "2027-06-01T09:00+08:00").stdout)
    assert later["balance"]["total"] == "0.00"


def test_settlement_paid_closes_as_settled(owed: Run) -> None:
    offers(owed)
    owed("review", "offer", "1", "settlement", "--approve", "--at", T.format("11:02"), as_="ann")
    owed("accept", "1", "settlement", "--at", T.format("11:03"), as_="li.na")
    result = owed(
        "payment",
        "1",
        "16462.16",
        "--reference",
        "S1",
        "--at",
        "2026-12-01T10:00+08:00",
        as_="chen.wei",
    )
    assert "closed as settled" in result.stdout


def test_promises_kept_broken_open(owed: Run) -> None:
    owed(
        "promise",
        "1",
        "--amount",
        "1000",
        "--date",
        "2026-11-30",
        "--at",
        T.format("11:00"),
        as_="li.na",
    )
    owed(
        "promise",
        "1",
        "--amount",
        "1000",
        "--date",
        "2026-12-15",
        "--at",
        T.format("11:01"),
        as_="li.na",
    )
    owed(
        "promise",
        "1",
        "--amount",
        "1000",
        "--date",
        "2027-01-15",
        "--at",
        T.format("11:02"),
        as_="li.na",
    )
    owed(
        "payment",
        "1",
        "1000",
        "--reference",
        "P1",
        "--at",
        "2026-11-29T10:00+08:00",
        as_="chen.wei",
    )
    data = json.loads(owed("balance", "1", "--json", "--at", "2026-12-20T10:00+08:00").stdout)
    assert [p["status"] for p in data["promises"]] == ["kept", "broken", "open"]
    # A late payment covers what was promised, but the broken promise stays broken.
    owed(
        "payment",
        "1",
        "2000",
        "--reference",
        "P2",
        "--at",
        "2026-12-21T10:00+08:00",
        as_="chen.wei",
    )
    data = json.loads(owed("balance", "1", "--json", "--at", "2026-12-22T10:00+08:00").stdout)
    assert [p["status"] for p in data["promises"]] == ["kept", "broken", "kept"]


def test_promise_needs_a_future_date_and_an_amount(owed: Run, target: str) -> None:
    before = snapshot(target)
    result = owed(
        "promise",
        "1",
        "--amount",
        "100",
        "--date",
        "2026-11-01",
        "--at",
        T.format("11:00"),
        as_="li.na",
    )
    assert result.exit_code == 2 and "is in the past" in result.stderr
    result = owed(
        "promise",
        "1",
        "--amount",
        "-1",
        "--date",
        "2026-12-01",
        "--at",
        T.format("11:00"),
        as_="li.na",
    )
    assert result.exit_code == 2 and "is negative" in result.stderr
    assert snapshot(target) == before


def test_check_action_decides_on_presenting_and_accepting(owed: Run) -> None:
    seen: list[tuple[str, Any]] = []

    class NoSettlements:
        @hookimpl
        def check_action(self, action: str, context: Any) -> Any:
            from fieldcase.model import Decision

            seen.append((action, dict(context.extra)))
            if action == "accept_offer" and context.extra["offer"].kind == "settlement":
                return Decision.deny("test.no_settlement", "settlements are suspended")
            return None

    manager().register(NoSettlements(), name="no-settlements")
    try:
        offers(owed)
        owed(
            "review", "offer", "1", "settlement", "--approve", "--at", T.format("11:02"), as_="ann"
        )
        result = owed("accept", "1", "settlement", "--at", T.format("11:03"), as_="li.na")
    finally:
        manager().unregister(name="no-settlements")
    assert result.exit_code == 1
    assert "settlements are suspended (rule test.no_settlement)" in result.stderr
    actions = [a for a, _ in seen]
    assert "present_offer" in actions and "accept_offer" in actions
    presented = next(extra for a, extra in seen if a == "present_offer")
    assert "settlement" in presented["offers"]


def test_institution_terms_and_a_plugin_offer(owed: Run, tmp_path: Path) -> None:
    from decimal import Decimal

    from fieldcase.model import Offer, ScheduledPayment

    set_policy(
        owed,
        "hx-consumer",
        "approval_threshold=5000",
        "offers.installment_periods=[24]",
        "offers.installment_rate=0",
        "offers.settlement_discount=0",
    )

    class Holiday:
        @hookimpl
        def repayment_offers(self, case: Any, balance: Any) -> list[Offer]:
            half = (balance.total / 2).quantize(Decimal("0.01"))
            return [
                Offer(
                    code="spring-festival",
                    kind="installment",
                    label="Half now",
                    currency=case.currency,
                    total_payable=balance.total,
                    schedule=(
                        ScheduledPayment(case.overdue_since, half),
                        ScheduledPayment(case.overdue_since, balance.total - half),
                    ),
                )
            ]

    manager().register(Holiday(), name="holiday")
    try:
        data = offers(owed)
    finally:
        manager().unregister(name="holiday")
    codes = [o["code"] for o in data["offers"]]
    assert codes == ["installment-24", "extension-30", "waiver", "spring-festival"]
    plan = data["offers"][0]
    assert plan["total_payable"] == "20577.70"  # 0% interest
    assert all(o["status"] == "presented" for o in data["offers"])  # threshold 5000


def test_a_plugin_offer_that_does_not_add_up_is_refused(owed: Run) -> None:
    from decimal import Decimal

    from fieldcase.model import Offer, ScheduledPayment

    class Sloppy:
        @hookimpl
        def repayment_offers(self, case: Any) -> list[Offer]:
            return [
                Offer(
                    code="sloppy",
                    kind="installment",
                    label="?",
                    currency=case.currency,
                    total_payable=Decimal("100.00"),
                    schedule=(ScheduledPayment(case.overdue_since, Decimal("99.99")),),
                )
            ]

    manager().register(Sloppy(), name="sloppy")
    try:
        result = owed("offers", "1", "--at", T.format("11:00"), as_="li.na")
    finally:
        manager().unregister(name="sloppy")
    assert result.exit_code == 2
    assert "offer sloppy has a schedule that does not add up" in result.stderr


def test_no_new_offers_while_an_arrangement_stands(owed: Run) -> None:
    offers(owed)
    owed("accept", "1", "installment-3", "--at", T.format("11:05"), as_="li.na")
    result = owed("offers", "1", "--at", T.format("11:10"), as_="li.na")
    assert result.exit_code == 1
    assert "already has an arrangement (installment-3" in result.stderr


def test_a_payment_may_be_recorded_after_later_actions(owed: Run) -> None:
    offers(owed, "12:00")
    result = owed(
        "payment", "1", "100", "--reference", "LATE", "--at", T.format("10:00"), as_="chen.wei"
    )
    assert result.exit_code == 0, result.output


def test_settled_case_owes_nothing_and_shows_what_was_forgiven(owed: Run) -> None:
    offers(owed)
    owed("review", "offer", "1", "settlement", "--approve", "--at", T.format("11:02"), as_="ann")
    owed("accept", "1", "settlement", "--at", T.format("11:03"), as_="li.na")
    owed(
        "payment",
        "1",
        "16462.16",
        "--reference",
        "S1",
        "--at",
        "2026-12-01T10:00+08:00",
        as_="chen.wei",
    )
    data = json.loads(owed("balance", "1", "--json", "--at", "2026-12-16T10:00+08:00").stdout)
    assert data["balance"]["total"] == "0.00"
    # The offer's saving (4115.54) plus penalty accrued until the payment (8 days: 12.43).
    assert data["balance"]["forgiven"] == "4127.97"


def test_settlement_paid_late_is_not_settled(owed: Run) -> None:
    offers(owed)
    owed("review", "offer", "1", "settlement", "--approve", "--at", T.format("11:02"), as_="ann")
    owed("accept", "1", "settlement", "--at", T.format("11:03"), as_="li.na")
    result = owed(
        "payment",
        "1",
        "16462.16",
        "--reference",
        "S1",
        "--at",
        "2026-12-20T10:00+08:00",
        as_="chen.wei",
    )
    assert result.exit_code == 0 and "closed" not in result.stdout
    data = json.loads(owed("balance", "1", "--json", "--at", "2026-12-20T11:00+08:00").stdout)
    assert [p["status"] for p in data["promises"]] == ["broken"]
    assert data["balance"]["total"] != "0.00"


def test_a_broken_doorstep_promise_does_not_spoil_an_arrangement(owed: Run) -> None:
    owed(
        "promise",
        "1",
        "--amount",
        "500",
        "--date",
        "2026-11-24",
        "--at",
        T.format("10:00"),
        as_="li.na",
    )
    data = offers(owed, "11:00")
    total = next(o for o in data["offers"] if o["code"] == "waiver")["total_payable"]
    owed("accept", "1", "waiver", "--at", "2026-11-25T09:00+08:00", as_="li.na")
    result = owed(
        "payment", "1", total, "--reference", "W1", "--at", "2026-11-26T10:00+08:00", as_="chen.wei"
    )
    assert "closed as settled" in result.stdout
    data = json.loads(owed("balance", "1", "--json", "--at", "2026-11-27T10:00+08:00").stdout)
    assert sorted(p["status"] for p in data["promises"]) == ["broken", "kept"]


def test_a_word_is_not_an_amount(owed: Run) -> None:
    result = owed(
        "payment", "1", "ten CNY", "--reference", "X", "--at", T.format("12:00"), as_="chen.wei"
    )
    assert result.exit_code == 2 and "'ten' is not a number" in result.stderr


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ('valid_days="a week"', "valid_days = 'a week' must be a whole number of days"),
        ("installment_periods=[0]", "installment_periods = [0] must be a list"),
        ('installment_method="equal"', 'must be "annuity" or "equal-principal"'),
        ("settlement_discount=1.5", 'settlement_discount = 1.5 must be a share below "1"'),
    ],
)
def test_bad_offer_terms_are_refused_when_set(
    owed: Run, target: str, terms: str, message: str
) -> None:
    before = snapshot(target)
    result = owed(
        "institution", "policy", "hx-consumer", "--set", f"offers.{terms}", as_="chen.wei"
    )
    assert result.exit_code == 2
    assert f"offers.{message}" in result.stderr or message in result.stderr
    assert snapshot(target) == before


def test_equal_principal_label_and_no_extension(owed: Run, tmp_path: Path) -> None:
    set_policy(
        owed,
        "hx-consumer",
        "offers.installment_periods=[3]",
        "offers.installment_method=equal-principal",
        "offers.extension_days=0",
    )
    data = offers(owed)
    codes = [o["code"] for o in data["offers"]]
    assert "extension-30" not in codes
    assert data["offers"][0]["label"].startswith("3 monthly payments, from CNY ")


def test_offers_need_a_schedule_and_their_own_code(owed: Run) -> None:
    from decimal import Decimal

    from fieldcase.model import Offer

    class Empty:
        @hookimpl
        def repayment_offers(self, case: Any) -> list[Offer]:
            return [
                Offer(
                    code="waiver",
                    kind="waiver",
                    label="?",
                    currency=case.currency,
                    total_payable=Decimal("0"),
                )
            ]

    manager().register(Empty(), name="empty")
    try:
        result = owed("offers", "1", "--at", T.format("11:00"), as_="li.na")
    finally:
        manager().unregister(name="empty")
    assert result.exit_code == 2 and "offer waiver has no schedule" in result.stderr
