"""What the morning commands print: ``today``'s plan, ``cases``' rows, ``show``'s money
and a loan's reviews.

Rows and lines only, built from what the services return (:mod:`fieldcase.dayplan`,
:mod:`fieldcase.worklists`, :mod:`fieldcase.casefiles`, :mod:`fieldcase.arrangements`);
the click commands that print them live in :mod:`fieldcase.cli`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .commands import echo, table
from .contact_times import next_contact
from .lifecycle import Stage, next_step

if TYPE_CHECKING:
    from .arrangements import MoneyView
    from .casefiles import CaseFile
    from .dayplan import DayPlan
    from .model import Case, Payment
    from .services import Services
    from .worklists import WorklistPage


def payment_status(payment: Payment) -> str:
    """A payment's status as ``show`` and ``balance`` say it."""
    if payment.status == "reported":
        return "reported, not yet counted"
    if payment.status == "reversed":
        return f"reversed: {payment.reversal_reason}"
    return payment.status


def local_time(value: dt.datetime, zone: str) -> str:
    """A time as the borrower lives it: ``2026-11-23 10:05 +0800``."""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %z")


def money(amount: Any, currency: str) -> str:
    from .money import format_money

    return "-" if amount is None else format_money(amount, currency)


def counted(number: int, noun: str, plural: str = "") -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


# -- cases ---------------------------------------------------------------------------------


def next_move(case: Case) -> str:
    """The command(s) that move the case on, from :func:`fieldcase.lifecycle.next_step`;
    in feedback, by where the feedback is (to submit, to review, returned to fix)."""
    if case.stage == Stage.FEEDBACK and case.feedback_status:
        return {"submitted": "review", "returned": "feedback (returned)"}.get(
            case.feedback_status, "close"
        )
    found = re.search(r"\(fieldcase ([^)]*)\)", next_step(case.stage, case.kind))
    return found.group(1).replace("fieldcase ", "") if found else ""


def worklist_rows(
    services: Services, page: WorklistPage, at: dt.datetime, viewer: str | None
) -> list[dict[str, Any]]:
    """``cases``' rows: the rank, the case, what to do next and when a call is allowed."""
    rows = []
    for place, (case, score) in enumerate(page.rows, page.offset + 1):
        call = next_contact(services, case, at, viewer)
        rows.append(
            {
                "rank": place,
                "id": case.id,
                "case": case.label,
                "borrower": case.borrower.name,
                "stage": str(case.stage),
                "staff": case.assigned_to or "",
                "dpd": case.days_past_due(at),
                "bucket": case.aging_bucket(at),
                "overdue": money(case.overdue_amount, case.currency),
                "next_step": next_move(case),
                "next_contact": call.describe() if call.allowed or call.refused_by else "-",
                "priority_score": round(score, 1),
            }
        )
    return rows


def print_worklist(rows: list[dict[str, Any]], page: WorklistPage) -> None:
    table(
        [{k.replace("_", " "): v for k, v in row.items() if k != "priority_score"} for row in rows]
    )
    if page.cut:
        first = page.offset + 1
        shown = f"{first}-{page.offset + len(page.rows)}" if page.rows else "none"
        echo(f"showing {shown} of {page.total:,}; --limit/--offset for more")


# -- today ---------------------------------------------------------------------------------


def day_plan_json(plan: DayPlan) -> dict[str, Any]:
    staff = plan.staff.id
    return {
        "staff": staff,
        "visits": [
            {
                "case": p.case.id,
                "window": f"{p.visit.window_start:%H:%M}-{p.visit.window_end:%H:%M} "
                f"{p.visit.timezone}",
                "borrower": p.case.borrower.name,
                "address": p.case.confirmed_address or p.case.borrower.address,
                "area": p.area,
                "with": ", ".join(s for s in p.visit.staff if s != staff),
                "to_tick": ", ".join(
                    i.code for i in p.visit.checklist if i.required and not i.ticked
                ),
            }
            for p in plan.visits
        ],
        "promises": [
            {
                "case": case.id,
                "borrower": case.borrower.name,
                "amount": money(promise.amount, case.currency),
                "due": str(promise.due),
            }
            for case, promise in plan.promises
        ],
        "contacts": [
            {
                "case": c.case.id,
                "borrower": c.case.borrower.name,
                "phone": c.case.borrower.phone,
                "stage": str(c.case.stage),
                "when": c.next.describe(zone=True),
                "allowed_from": c.next.allowed.isoformat() if c.next.allowed else None,
                "refused_by": ", ".join(c.next.refused_by),
                "reason": c.next.reason,
                "last_contact": (
                    f"{local_time(c.last.at, c.case.borrower.timezone)[:16]} {c.last.outcome}"
                    if c.last
                    else ""
                ),
            }
            for c in plan.contacts
        ],
        "feedback": [
            {
                "case": f.case.id,
                "borrower": f.case.borrower.name,
                "returned_by": f.feedback.reviewed_by or "",
                "note": f.feedback.review_note,
            }
            for f in plan.feedback
        ],
    }


def print_day_plan(plan: DayPlan) -> None:
    data = day_plan_json(plan)
    visits, promises = data["visits"], data["promises"]
    contacts, feedback = data["contacts"], data["feedback"]
    now = sum(1 for c in plan.contacts if c.next.now)
    echo(
        f"{plan.staff.name}: {counted(len(visits), 'visit')}, "
        f"{counted(len(promises), 'promise')} falling due, "
        f"{counted(len(contacts), 'contact')} to make"
        + (f" ({now} now)" if contacts else "")
        + f", {len(feedback)} feedback to fix"
    )
    if visits:
        echo("\nVisits, in route order (by window; overlapping windows area by area)")
        table([{k.replace("_", " "): v for k, v in row.items()} for row in visits])
    if promises:
        echo("\nPromises falling due")
        table(promises)
    if contacts:
        echo("\nContacts to make (a call to the borrower, as the rules allow it)")
        table(
            [
                {
                    "case": c["case"],
                    "borrower": c["borrower"],
                    "phone": c["phone"],
                    "stage": c["stage"],
                    "when": c["when"] + (f" ({c['refused_by']})" if c["refused_by"] else ""),
                    "last contact": c["last_contact"],
                }
                for c in contacts
            ]
        )
    if feedback:
        echo("\nFeedback returned to fix")
        table([{k.replace("_", " "): v for k, v in row.items()} for row in feedback])


# -- show ----------------------------------------------------------------------------------


def balance_json(view: MoneyView) -> dict[str, Any]:
    """``balance --json`` (and ``show --json``'s): components, promises, arrangement."""
    import attrs

    return {
        "balance": attrs.asdict(view.balance),
        "promises": [
            {
                "due": p.promise.due,
                "amount": p.promise.amount,
                "status": p.status,
                "offer_id": p.promise.offer_id,
            }
            for p in view.promises
        ],
        "arrangement": attrs.asdict(view.arrangement, recurse=True) if view.arrangement else None,
        "arrangement_remaining": view.arrangement_remaining,
        # Reported by field staff, not yet confirmed: not in the balance.
        "reported": [
            {"reference": p.reference, "amount": p.amount, "at": p.at, "recorded_by": p.recorded_by}
            for p in view.reported
        ],
    }


def print_balance(view: MoneyView) -> None:
    """What the case owes by component, its arrangement and its promises with their status."""
    b, currency = view.balance, view.balance.currency
    table(
        [
            {"": "principal", "amount": money(b.principal, currency)},
            {"": "interest", "amount": money(b.interest, currency)},
            {"": "penalty interest", "amount": money(b.penalty, currency)},
            {"": "fees", "amount": money(b.fees, currency)},
            *(
                [{"": "forgiven (arrangement kept)", "amount": money(b.forgiven, currency)}]
                if b.forgiven
                else []
            ),
            {"": "owed", "amount": money(b.total, currency)},
            {"": "paid so far", "amount": money(b.paid, currency)},
        ]
    )
    if b.overpaid:
        echo(f"Overpaid: {money(b.overpaid, currency)}")
    for p in view.reported:
        echo(
            f"Reported, not yet counted: {money(p.amount, currency)} ({p.reference}, by "
            f"{p.recorded_by}); a supervisor confirms it: fieldcase payment confirm "
            f"{view.case.id} {p.reference}"
        )
    if view.arrangement is not None:
        echo(
            f"\nArrangement: {view.arrangement.code} - {view.arrangement.label}; "
            f"left to pay {money(view.arrangement_remaining, currency)}"
        )
    if view.promises:
        echo("\nPromises to pay")
        table(
            [
                {
                    "due": str(p.promise.due),
                    "amount": money(p.promise.amount, currency),
                    "status": p.status,
                }
                for p in view.promises
            ]
        )


def money_json(view: MoneyView | None, file: CaseFile) -> dict[str, Any]:
    """``show --json``'s money: :func:`balance_json`, the offers and the payments."""
    import attrs

    data: dict[str, Any] = {
        "offers": [attrs.asdict(o, recurse=True) for o in file.offers],
        "payments": [attrs.asdict(p) for p in file.payments],
    }
    if view is None:
        return data | {"balance": None, "promises": [], "arrangement": None}
    return data | balance_json(view)


def print_money(view: MoneyView | None, file: CaseFile) -> None:
    """``show``'s balance (as ``balance`` prints it), offers and payments."""
    case, zone = file.case, file.case.borrower.timezone
    currency = case.currency
    if view is None:
        echo("\nBalance: not worked out (the institution is not registered)")
    else:
        echo("\nBalance")
        print_balance(view)
    if file.offers:
        echo("\nOffers")
        table(
            [
                {
                    "offer": o.code,
                    "what": o.label,
                    "total to pay": money(o.total_payable, currency),
                    "status": o.status,
                    "presented": local_time(o.presented_at, zone) if o.presented_at else "",
                    "by": o.presented_by or "",
                }
                for o in file.offers
            ]
        )
    if file.payments:
        echo("\nPayments")
        table(
            [
                {
                    "at": local_time(p.at, zone),
                    "amount": money(p.amount, currency),
                    "reference": p.reference,
                    "recorded by": p.recorded_by,
                    "status": payment_status(p),
                }
                for p in file.payments
            ]
        )


def review_lines(file: CaseFile) -> list[str]:
    """``show``'s lines on a performing loan's review: why, and when the next is due."""
    case, lines = file.case, []
    if case.kind == "review":
        review = file.reviews[-1] if file.reviews else None
        why = f" ({review.trigger}, {review.status})" if review else ""
        lines.append(f"  Kind:       review of a performing loan{why}")
    if case.installment is not None:
        lines.append(f"  Installment: {money(case.installment, case.currency)}")
    if case.next_review is not None:
        lines.append(f"  Next review: {case.next_review}")
    return lines


def show_reviews(file: CaseFile, zone: str) -> None:
    """``show``'s post-loan reviews of the loan."""
    if file.reviews:
        echo("\nReviews")
        table(
            [
                {
                    "opened": local_time(r.opened_at, zone),
                    "trigger": r.trigger,
                    "by": r.opened_by,
                    "status": r.status,
                    "recommendation": r.recommendation or "",
                    "finished": r.finished_on or "",
                    "next due": r.next_review or "",
                    "note": r.note,
                }
                for r in file.reviews
            ]
        )
