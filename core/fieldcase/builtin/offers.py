"""The built-in repayment offers: installments, extension, penalty waiver, settlement.

Terms come from the institution's policy, ``offers.<term>`` (``fieldcase
institution policy ID --set offers.valid_days=5``; checked when set, see
:data:`fieldcase.policy.OFFERS`); every key is optional:

    installment_periods = [3, 6, 12]   # months; [] for none
    installment_rate = "0.12"          # annual rate, as a fraction
    installment_method = "annuity"     # or "equal-principal"
    extension_days = 30                # 0 for no extension
    extension_fee = "0"                # in the case currency
    waiver_share = "1"                 # of the penalty interest: 1 full, 0.5 half
    waiver_pay_within_days = 14
    settlement_discount = "0.20"       # off the balance; "0" for no settlement
    settlement_days = 14
    valid_days = 7                     # how long an offer stands
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fieldcase import hookimpl
from fieldcase.model import Case, Offer, ScheduledPayment
from fieldcase.money import (
    add_months,
    annuity_schedule,
    equal_principal_schedule,
    format_money,
    round_money,
)
from fieldcase.policy import OFFERS
from fieldcase.repayment import Balance

#: The terms an institution's policy does not set (their checks: fieldcase.policy.OFFERS).
DEFAULT_TERMS: dict[str, Any] = {setting.key: setting.default for setting in OFFERS}


def terms(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {**DEFAULT_TERMS, **dict(settings.get("offers", {}))}


@hookimpl(trylast=True)
def repayment_offers(
    case: Case, balance: Balance, at: dt.datetime, settings: Mapping[str, Any]
) -> list[Offer]:
    if balance.total <= 0:
        return []
    t = terms(settings)
    currency = case.currency
    today = at.astimezone(ZoneInfo(case.borrower.timezone)).date()
    expires = today + dt.timedelta(days=int(t["valid_days"]))
    owed = balance.total
    offers = []

    rate = Decimal(str(t["installment_rate"]))
    method = t["installment_method"]
    build = equal_principal_schedule if method == "equal-principal" else annuity_schedule
    for periods in t["installment_periods"]:
        schedule = build(owed, rate / 12, int(periods), add_months(today, 1), currency)
        total = sum((i.payment for i in schedule), Decimal(0))
        first, last = schedule[0].payment, schedule[-1].payment
        label = f"{periods} monthly payments of {format_money(first, currency)}"
        if method == "equal-principal":
            label = (
                f"{periods} monthly payments, from {format_money(first, currency)} "
                f"down to {format_money(last, currency)}"
            )
        offers.append(
            Offer(
                code=f"installment-{periods}",
                kind="installment",
                label=label,
                currency=currency,
                total_payable=total,
                schedule=tuple(ScheduledPayment(i.due, i.payment) for i in schedule),
                expires=expires,
                saving=owed - total,
                terms={"periods": int(periods), "annual_rate": str(rate), "method": method},
            )
        )

    days = int(t["extension_days"])
    fee = round_money(Decimal(str(t["extension_fee"])), currency)
    due = today + dt.timedelta(days=days)
    if days > 0:  # extension_days = 0 switches the extension off
        offers.append(
            Offer(
                code=f"extension-{days}",
                kind="extension",
                label=f"Pay everything by {due}"
                + (f", fee {format_money(fee, currency)}" if fee else ""),
                currency=currency,
                total_payable=owed + fee,
                schedule=(ScheduledPayment(due, owed + fee),),
                expires=expires,
                saving=-fee,
                terms={"days": days, "fee": str(fee)},
            )
        )

    share = Decimal(str(t["waiver_share"]))
    waived = round_money(balance.penalty * share, currency)
    if waived > 0:
        due = today + dt.timedelta(days=int(t["waiver_pay_within_days"]))
        what = "all" if share >= 1 else f"{share:.0%} of"
        offers.append(
            Offer(
                code="waiver",
                kind="waiver",
                label=f"Pay {format_money(owed - waived, currency)} by {due}: {what} the penalty "
                "interest waived",
                currency=currency,
                total_payable=owed - waived,
                schedule=(ScheduledPayment(due, owed - waived),),
                expires=expires,
                saving=waived,
                terms={"share": str(share), "waived": str(waived)},
            )
        )

    discount = Decimal(str(t["settlement_discount"]))
    if discount > 0:
        pay = round_money(owed * (1 - discount), currency)
        due = today + dt.timedelta(days=int(t["settlement_days"]))
        offers.append(
            Offer(
                code="settlement",
                kind="settlement",
                label=f"Settle for {format_money(pay, currency)} by {due} ({discount:.0%} off)",
                currency=currency,
                total_payable=pay,
                schedule=(ScheduledPayment(due, pay),),
                expires=expires,
                saving=owed - pay,
                terms={"discount": str(discount)},
            )
        )
    return offers
