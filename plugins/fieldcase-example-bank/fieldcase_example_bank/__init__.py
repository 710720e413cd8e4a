"""Example Bank's rules for fieldcase, and its own report, export and command, as one plugin."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, BinaryIO

import click
from fieldcase import hookimpl
from fieldcase.commands import (
    CommandContext,
    at_option,
    json_option,
    json_rows,
    pass_command_context,
)
from fieldcase.errors import SettingError
from fieldcase.model import ActionContext, Case, ChecklistItem, Decision, Reason
from fieldcase.money import from_minor

INSTITUTION = "example-bank"
#: Example Bank lends in US dollars.
CENT = Decimal("0.01")

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
    days = []
    for day in value:
        try:
            days.append(dt.date.fromisoformat(str(day)).isoformat())
        except ValueError:
            raise SettingError(f"{day!r} is not a date; write holidays as YYYY-MM-DD") from None
    return days


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
    return _visit_threshold(case.days_past_due(at), case.overdue_amount, settings)


@hookimpl
def cases_eligible(
    cases: Sequence[Mapping[str, Any]], settings: Mapping[str, Any], at: dt.datetime
) -> list[Decision | None] | None:
    """The same rule for an import's batch: one institution's cases, so one look decides."""
    if not cases or cases[0]["institution"] != INSTITUTION:
        return None
    return [
        _visit_threshold(
            c["days_past_due"], from_minor(c["overdue_minor"], c["currency"]), settings
        )
        for c in cases
    ]


def _visit_threshold(days: int, overdue: Decimal, settings: Mapping[str, Any]) -> Decision | None:
    min_days = int(settings.get("visit_min_days_past_due", 30))
    min_amount = Decimal(str(settings.get("visit_min_overdue", "500.00")))
    if days < min_days:
        return Decision.deny(
            "example-bank.min-days",
            f"Example Bank visits accounts from {min_days} days past due (this one: {days})",
        )
    if overdue < min_amount:
        return Decision.deny(
            "example-bank.min-amount",
            f"Example Bank visits accounts with at least {min_amount} overdue "
            f"(this one: {overdue})",
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


# -- data: a branch report, an export for the core system, a command ------------------------
#
# Example Bank declares a custom attribute in its policy (attributes.branch =
# "text") and maps its case file's branch column to it. Everything below reads
# through fieldcase's documented interfaces: the Reader, the report filters,
# the exporter's rows and the command context.


def branches(services: Any, filters: Any) -> list[dict[str, Any]]:
    """Open Example Bank cases by branch: how many, overdue, promised and paid."""
    read = services.reader(filters.viewer)
    rows: dict[str, dict[str, Any]] = {}
    for case in read.cases(institution=INSTITUTION, where=filters.where, include_closed=False):
        branch = case.attributes.get("branch", "(none)")
        row = rows.setdefault(
            branch,
            {
                "branch": branch,
                "cases": 0,
                "overdue": Decimal(0),
                "promised": Decimal(0),
                "paid": Decimal(0),
            },
        )
        row["cases"] += 1
        row["overdue"] += case.overdue_amount
        row["promised"] += sum((p.amount for p in read.promises(case)), Decimal(0))
        row["paid"] += sum((p.amount for p in read.payments(case) if p.counts), Decimal(0))
    return [
        {**row, **{k: str(row[k].quantize(CENT)) for k in ("overdue", "promised", "paid")}}
        for _, row in sorted(rows.items())
    ]


@hookimpl
def register_reports(register: Callable[..., None]) -> None:
    register(
        "example-bank-branches",
        branches,
        ["branch", "cases", "overdue", "promised", "paid"],
        "Open Example Bank cases by branch: overdue, promised and paid.",
        where=True,
    )


def write_core_json(rows: Any, columns: Sequence[str], out: BinaryIO) -> None:
    """One JSON object per line for the bank's core system: the visit, its promises
    and payments, and the case's branch, amounts as exact text."""
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        attributes = json.loads(record.pop("attributes") or "{}")
        record["branch"] = attributes.get("branch")
        out.write(json.dumps(record, ensure_ascii=False, default=str).encode("utf-8") + b"\n")


@hookimpl
def register_exporters(register: Callable[..., None]) -> None:
    register(
        "example-bank-core",
        write_core_json,
        suffix=".eb.jsonl",
        description="Example Bank core system feed: visits with promises, payments, branch",
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="example-bank-followups")
    @click.option("--branch", help="Only this branch's cases.")
    @at_option
    @json_option
    @pass_command_context
    def followups(
        context: CommandContext, branch: str | None, at: dt.datetime, json_: bool
    ) -> None:
        """Example Bank cases whose borrower broke a promise to pay, oldest first.

        \b
        Example:
            fieldcase --as chen.wei example-bank-followups --branch Harbor-East --json
        """
        read = context.reader()
        where = {"branch": branch} if branch else {}
        rows: list[dict[str, Any]] = []
        for case in read.cases(institution=INSTITUTION, where=where, include_closed=False):
            broken = [s for s in read.promise_statuses(case, at) if s.status == "broken"]
            if broken:
                rows.append(
                    {
                        "case": case.label,
                        "borrower": case.borrower.name,
                        "phone": case.borrower.phone,
                        "branch": case.attributes.get("branch", ""),
                        "broken": len(broken),
                        "due since": broken[0].promise.due.isoformat(),
                        "unpaid": str(
                            sum((s.promise.amount - s.covered for s in broken), Decimal(0))
                        ),
                    }
                )
        rows.sort(key=lambda row: str(row["due since"]))
        context.emit(json_rows(rows), json_, lambda: context.table(rows))
