"""The default policy: who qualifies for a visit, visit dates, and the failed-visit limit.

Keys of the institution's policy (checked when set, see :mod:`fieldcase.policy`):

- ``min_days_past_due`` (default 1): fewer days past due are not eligible.
- ``min_overdue_amount`` (default 0): a smaller overdue amount is not eligible.
- ``max_failed_visits`` (default 3): failed visits before the case is escalated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.money import from_minor
from fieldcase.policy import default

DEFAULT_MIN_DAYS_PAST_DUE = default("min_days_past_due")
DEFAULT_MAX_FAILED_VISITS = default("max_failed_visits")


@hookimpl(trylast=True)
def case_eligible(case: Case, settings: Mapping[str, Any], at: dt.datetime) -> Decision | None:
    return ineligible(
        case.kind,
        case.days_past_due(at),
        case.overdue_amount,
        case.currency,
        case.institution,
        thresholds(settings),
    )


@hookimpl(trylast=True)
def cases_eligible(
    cases: Sequence[Mapping[str, Any]], settings: Mapping[str, Any], at: dt.datetime
) -> list[Decision | None]:
    # The batch form of case_eligible, over the same rule: the two cannot disagree.
    minimums = thresholds(settings)
    return [
        ineligible(
            case["kind"],
            case["days_past_due"],
            from_minor(case["overdue_minor"], case["currency"]),
            case["currency"],
            case["institution"],
            minimums,
        )
        for case in cases
    ]


def thresholds(settings: Mapping[str, Any]) -> tuple[int, Decimal]:
    """(minimum days past due, minimum overdue amount) of the institution's policy."""
    min_days = int(settings.get("min_days_past_due", DEFAULT_MIN_DAYS_PAST_DUE))
    return min_days, Decimal(str(settings.get("min_overdue_amount", "0")))


def ineligible(
    kind: str,
    days: int,
    overdue_amount: Decimal,
    currency: str,
    institution: str,
    minimums: tuple[int, Decimal],
) -> Decision | None:
    """The rule default.eligibility: a denial when too few days or too little is overdue."""
    if kind == "review":
        return None  # a performing loan's review: not judged by how far it is past due
    min_days, min_amount = minimums
    if days < min_days:
        return Decision.deny(
            "default.eligibility",
            f"{days} days past due is under the minimum of {min_days} for {institution}",
        )
    if overdue_amount < min_amount:
        return Decision.deny(
            "default.eligibility",
            f"overdue amount {currency} {overdue_amount} is under the minimum of "
            f"{min_amount} for {institution}",
        )
    return None


@hookimpl(trylast=True)
def check_action(case: Case | None, action: str, context: ActionContext) -> Decision | None:
    if action == "plan_visit" and context.window is not None:
        start, _ = context.window
        today = context.at.astimezone(start.tzinfo).date()
        if start.date() < today:
            return Decision.deny(
                "default.plan_date",
                f"visit date {start.date()} is in the past (today is {today} "
                "in the borrower's time zone); plan a date from today on",
            )
    if action == "start_visit" and context.window is not None:
        start, _ = context.window
        day = context.at.astimezone(start.tzinfo).date()
        if day < start.date():
            return Decision.deny(
                "default.visit_date",
                f"the visit is planned for {start.date()}, not {day}; "
                "plan it again for the day it happens",
            )
    return None


@hookimpl(trylast=True)
def max_failed_visits(settings: Mapping[str, Any]) -> int:
    return int(settings.get("max_failed_visits", DEFAULT_MAX_FAILED_VISITS))
