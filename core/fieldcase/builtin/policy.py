"""The default policy: who qualifies for a visit, visit dates, and the failed-visit limit.

Keys of the institution's policy (checked when set, see :mod:`fieldcase.policy`):

- ``min_days_past_due`` (default 1): fewer days past due are not eligible.
- ``min_overdue_amount`` (default 0): a smaller overdue amount is not eligible.
- ``max_failed_visits`` (default 3): failed visits before the case is escalated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.policy import default

DEFAULT_MIN_DAYS_PAST_DUE = default("min_days_past_due")
DEFAULT_MAX_FAILED_VISITS = default("max_failed_visits")


@hookimpl(trylast=True)
def case_eligible(case: Case, settings: Mapping[str, Any], at: dt.datetime) -> Decision | None:
    if case.kind == "review":
        return None  # a performing loan's review: not judged by how far it is past due
    min_days = int(settings.get("min_days_past_due", DEFAULT_MIN_DAYS_PAST_DUE))
    min_amount = Decimal(str(settings.get("min_overdue_amount", "0")))
    days = case.days_past_due(at)
    if days < min_days:
        return Decision.deny(
            "default.eligibility",
            f"{days} days past due is under the minimum of {min_days} for {case.institution}",
        )
    if case.overdue_amount < min_amount:
        return Decision.deny(
            "default.eligibility",
            f"overdue amount {case.currency} {case.overdue_amount} is under the minimum of "
            f"{min_amount} for {case.institution}",
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
