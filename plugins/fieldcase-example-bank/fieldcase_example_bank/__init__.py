"""Example Bank's rules for fieldcase, as one small plugin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, ChecklistItem, Decision, Reason

INSTITUTION = "example-bank"

#: US federal holidays 2026; override with ``holidays`` in the institution's settings.
DEFAULT_HOLIDAYS = (
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-09-07",
    "2026-10-12",
    "2026-11-11",
    "2026-11-26",
    "2026-12-25",
)


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
        raise ValueError
    return value


def _amount(value: Any) -> str:
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0:
        raise ValueError
    return format(amount, "f")


def _dates(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError
    return [dt.date.fromisoformat(str(day)).isoformat() for day in value]


@hookimpl
def register_policy_settings(register: Callable[..., None]) -> None:
    """The keys Example Bank's rules read, checked when a supervisor sets them."""
    register("visit_min_days_past_due", _days, "a whole number of days, 0 to 3650", 30)
    register("visit_min_overdue", _amount, 'an amount such as "500.00"', "500.00")
    register("holidays", _dates, 'a list of dates such as ["2026-12-25"]', list(DEFAULT_HOLIDAYS))


def _ours(case: Case | None) -> bool:
    return case is not None and case.institution == INSTITUTION


@hookimpl
def case_eligible(case: Case, settings: Mapping[str, Any], at: dt.datetime) -> Decision | None:
    """Visits only for accounts at least 30 days and 500.00 overdue (configurable)."""
    if not _ours(case):
        return None
    min_days = int(settings.get("visit_min_days_past_due", 30))
    min_amount = Decimal(str(settings.get("visit_min_overdue", "500.00")))
    if case.days_past_due(at) < min_days:
        return Decision.deny(
            "example-bank.min-days",
            f"Example Bank visits accounts from {min_days} days past due "
            f"(this one: {case.days_past_due(at)})",
        )
    if case.overdue_amount < min_amount:
        return Decision.deny(
            "example-bank.min-amount",
            f"Example Bank visits accounts with at least {min_amount} overdue "
            f"(this one: {case.overdue_amount})",
        )
    return None


@hookimpl
def visit_checklist(case: Case) -> list[ChecklistItem]:
    if not _ours(case):
        return []
    return [
        ChecklistItem("hardship-form", "Example Bank hardship application form"),
        ChecklistItem("privacy-notice", "Privacy notice, a copy for the borrower"),
    ]


@hookimpl
def overdue_reasons() -> list[Reason]:
    return [Reason("payroll-change", "Payroll or direct-deposit change broke the autopay")]


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> Decision | None:
    """No visit planned or made on one of the bank's public holidays."""
    if case is None or not _ours(case) or action not in ("plan_visit", "start_visit"):
        return None
    holidays = {dt.date.fromisoformat(d) for d in settings.get("holidays", DEFAULT_HOLIDAYS)}
    if action == "plan_visit" and context.window is not None:
        day = context.window[0].date()
    else:
        day = context.at.astimezone(case.borrower.zone).date()
    if day in holidays:
        return Decision.deny(
            "example-bank.holiday",
            f"{day} is an Example Bank public holiday: no field visits; pick another day",
        )
    return None
