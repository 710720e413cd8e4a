"""China: hours, third parties, visiting staff, credit-report inquiries, penalty cap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.rules import (
    CONTACT_ACTIONS,
    Rule,
    RulePack,
    annual_rate,
    clock,
    local_day,
    outside_hours,
    whole,
    within,
)

CONVENTION = "NIFA Self-Regulatory Convention on Overdue Debt Collection (2018)"

PACK = RulePack(
    name="cn",
    jurisdictions=("CN",),
    rules=(
        Rule(
            "cn.hours",
            CONVENTION,
            "Contact and visits only inside the daily window, borrower local time.",
            {"start": "08:00", "end": "21:00"},
        ),
        Rule(
            "cn.third_party",
            CONVENTION,
            "No collection with third parties unrelated to the debt: they may only be "
            "asked to pass a message.",
            {},
        ),
        Rule(
            "cn.two_staff",
            CONVENTION,
            "Field visits by at least two staff members.",
            {"min_staff": 2},
        ),
        Rule(
            "cn.bureau",
            "Regulation on the Administration of Credit Reporting Industry (2013)",
            "Credit-report inquiries for post-loan management only while a credit "
            "relationship is open, at most once per period.",
            {"period_days": 30},
        ),
        Rule(
            "cn.penalty_cap",
            "SPC Provisions on Private Lending Cases (2020 revision)",
            "Penalty interest at most this annual rate.",
            {"max_annual_rate": "0.24"},
        ),
    ),
)


@hookimpl
def register_rule_packs(register: Callable[[RulePack], None]) -> None:
    register(PACK)


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> list[Decision] | None:
    if case is None or action not in CONTACT_ACTIONS or not PACK.applies(case, settings):
        return None
    verdicts = []
    hours = PACK.params("cn.hours", settings)
    verdicts.append(
        PACK.verdict(
            "cn.hours",
            outside_hours(case, context, action, clock(hours["start"]), clock(hours["end"])),
        )
    )
    if action in ("plan_visit", "start_visit"):
        least = whole(PACK.params("cn.two_staff", settings)["min_staff"], "min_staff")
        verdicts.append(
            PACK.verdict(
                "cn.two_staff",
                (
                    f"a visit needs at least {least} staff members; plan it --with a colleague"
                    if len(context.staff) < least
                    else None
                ),
            )
        )
    if action == "contact" and context.target == "third-party":
        purpose = context.extra.get("purpose", "collect")
        verdicts.append(
            PACK.verdict(
                "cn.third_party",
                (
                    "a third party may only be asked to pass a message (--purpose message)"
                    if purpose != "message"
                    else None
                ),
            )
        )
    if action == "contact" and context.channel == "bureau":
        period = whole(PACK.params("cn.bureau", settings)["period_days"], "period_days")
        recent = [c for c in within(context.contacts, context.at, period) if c.channel == "bureau"]
        denial = None
        if "no-credit-relationship" in case.flags:
            denial = "no open credit relationship with the borrower: no credit-report inquiry"
        elif recent:
            denial = (
                f"a credit-report inquiry on {local_day(case, recent[-1].at)} already; "
                f"at most one every {period} days"
            )
        verdicts.append(PACK.verdict("cn.bureau", denial))
    return verdicts


@hookimpl
def penalty_rate_cap(case: Case, settings: Mapping[str, Any]) -> Decimal | None:
    if not PACK.applies(case, settings):
        return None
    rate = PACK.params("cn.penalty_cap", settings)["max_annual_rate"]
    return annual_rate(rate, "max_annual_rate")
