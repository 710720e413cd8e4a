"""China: hours, how often, stop requests, third parties, visiting staff, inquiries, penalty cap."""

from __future__ import annotations

import datetime as dt
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
    ceased,
    clock,
    judged_by_frequency,
    local_day,
    outside_hours,
    too_frequent,
    whole,
    within,
)

CONVENTION = "NIFA Self-Regulatory Convention on Overdue Debt Collection (2018)"
CBA_GUIDELINES = "CBA Guidelines on Collection of Personal Consumer Loans (Trial, Jan 2026)"

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
            "cn.frequency",
            f"{CBA_GUIDELINES}: a reasonable and necessary frequency, at most 6 unanswered "
            "calls to one number a day; the limits here are the institution's choice",
            "Contacts with the borrower (every channel but credit-report inquiries, answered "
            "or not, whatever their purpose) at most max_per_day a borrower-local calendar "
            "day and max_per_week in 7 days; contacts with third parties do not count. "
            "Visits made (met or not) at most max_visits within visit_days days.",
            {"max_per_day": 3, "max_per_week": 7, "max_visits": 2, "visit_days": 30},
        ),
        Rule(
            "cn.cease",
            "Institution's choice (no PRC provision is cited for it)",
            "No contact or visit while the case carries the flag cease-communication "
            "(the borrower asked in writing for no more contact).",
            {},
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
            "Credit-report inquiries (fieldcase inquiry, or a contact on channel bureau) "
            "only while a credit relationship is open, at most one in period_days days.",
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
    if case is None or not PACK.applies(case, settings):
        return None
    # An inquiry reaches the bureau, not the borrower: cn.bureau alone judges it.
    if action == "inquiry":
        return [PACK.verdict("cn.bureau", bureau_denial(case, context, settings))]
    if action not in CONTACT_ACTIONS:
        return None
    verdicts = []
    hours = PACK.params("cn.hours", settings)
    verdicts.append(
        PACK.verdict(
            "cn.hours",
            outside_hours(case, context, action, clock(hours["start"]), clock(hours["end"])),
        )
    )
    # A credit-report inquiry reaches the bureau, not the borrower: cn.bureau governs it.
    if context.channel != "bureau":
        verdicts.append(
            PACK.verdict(
                "cn.cease",
                ceased(case),
            )
        )
        frequency = PACK.params("cn.frequency", settings)
        if judged_by_frequency(action, context):
            verdicts.append(
                PACK.verdict("cn.frequency", too_frequent(case, action, context, frequency))
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
    # A contact on channel bureau is judged as an inquiry too (fieldcase does so),
    # where cn.bureau judges it.
    return verdicts


def bureau_denial(case: Case, context: ActionContext, settings: Mapping[str, Any]) -> str | None:
    """Why a credit-report inquiry may not be made now, or None.

    Inquiries recorded as such (``fieldcase inquiry``) and those recorded as
    contacts on channel ``bureau`` (before inquiries had their own record)
    count alike, whatever their purpose or kind.
    """
    if "no-credit-relationship" in case.flags:
        return "no open credit relationship with the borrower: no credit-report inquiry"
    period = whole(PACK.params("cn.bureau", settings)["period_days"], "period_days")
    since = context.at - dt.timedelta(days=period)
    made = [c.at for c in within(context.contacts, context.at, period) if c.channel == "bureau"]
    made += [q.at for q in context.inquiries if since < q.at <= context.at]
    if not made:
        return None
    return (
        f"a credit-report inquiry on {local_day(case, max(made))} already; "
        f"at most one every {period} days"
    )


@hookimpl
def penalty_rate_cap(case: Case, settings: Mapping[str, Any]) -> Decimal | None:
    if not PACK.applies(case, settings):
        return None
    rate = PACK.params("cn.penalty_cap", settings)["max_annual_rate"]
    return annual_rate(rate, "max_annual_rate")
