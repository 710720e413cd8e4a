"""The money side of a case: its balance, and whether promises were kept.

Pure functions over values: no store, no hooks, no clock. Only confirmed
payments count (:func:`counted`): each function here filters for itself, so a
caller may pass every payment of the case, reported and reversed ones too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs

from .model import Case, Hardship, Offer, Payment, Promise
from .money import penalty_interest, quantum


def counted(payments: Sequence[Payment]) -> list[Payment]:
    """The payments that count: confirmed ones (the SQL twin is ``store.COUNTED``)."""
    return [p for p in payments if p.counts]


@attrs.frozen
class Balance:
    """What a case owes at a moment, by component, after payments.

    Payments settle fees first, then penalty interest, then interest, then
    principal. ``total`` never goes below zero; anything paid beyond it is
    ``overpaid``.
    """

    currency: str
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    fees: Decimal
    paid: Decimal
    total: Decimal
    overpaid: Decimal
    days_past_due: int
    #: What an arrangement kept in full let the borrower off (settlement, waiver).
    forgiven: Decimal = Decimal(0)
    #: What ``total`` covers: the whole balance, or (offers on a performing loan under
    #: review) only the installments due, e.g. ``"3 installments due"``.
    basis: str = "balance"


def case_balance(
    case: Case,
    payments: Sequence[Payment],
    at: dt.datetime,
    *,
    penalty_cap: Decimal | None = None,
    rate_cap: Decimal | None = None,
    day_count: int = 365,
    reliefs: Sequence[tuple[dt.date, dt.date | None, Decimal]] = (),
    fees_reversed: bool = False,
) -> Balance:
    """The balance of ``case`` at ``at``: penalty accrues daily to the borrower's today.

    ``reliefs`` are the days on which only a share of the penalty rate accrues
    (a dispute, a hardship pause: :func:`fieldcase.protections.penalty_reliefs`);
    ``fees_reversed`` drops the fees (an upheld dispute, by policy).
    """
    zero = Decimal(0).quantize(quantum(case.currency))
    today = at.astimezone(ZoneInfo(case.borrower.timezone)).date()
    if case.closed_at is not None and at > case.closed_at:
        today = case.closed_at.astimezone(ZoneInfo(case.borrower.timezone)).date()
    cap = None if penalty_cap is None else case.overdue_amount * penalty_cap
    rate = case.penalty_rate if rate_cap is None else min(case.penalty_rate, rate_cap)
    penalty = penalty_interest(
        case.overdue_amount,
        rate,
        case.overdue_since,
        today,
        case.currency,
        day_count=day_count,
        cap=cap,
        reliefs=reliefs,
    )
    paid = sum((p.amount for p in counted(payments) if p.at <= at), zero)
    remaining = paid
    parts = {}
    for name, owed in (
        ("fees", zero if fees_reversed else case.fees),
        ("penalty", penalty),
        ("interest", case.accrued_interest),
        ("principal", case.principal),
    ):
        settled = min(owed, remaining)
        parts[name] = owed - settled
        remaining -= settled
    total = sum(parts.values(), zero)
    return Balance(
        currency=case.currency,
        principal=parts["principal"],
        interest=parts["interest"],
        penalty=parts["penalty"],
        fees=parts["fees"],
        paid=paid,
        total=total,
        overpaid=remaining,
        days_past_due=case.days_past_due(at),
    )


@attrs.frozen
class PromiseStatus:
    promise: Promise
    status: str  # open | kept | broken | excused
    covered: Decimal


def excused(promise: Promise, hardships: Sequence[Hardship]) -> bool:
    """A promise falling due during a hardship pause is never broken (the SQL twin is
    ``store.BROKEN``)."""
    return any(h.covers(promise.due) for h in hardships)


def promise_statuses(
    promises: Sequence[Promise],
    payments: Sequence[Payment],
    zone: str,
    at: dt.datetime,
    hardships: Sequence[Hardship] = (),
) -> list[PromiseStatus]:
    """Kept, broken, open or excused, at ``at``, from the payments made.

    Promises are met in due order: payments made since the first promise and on
    or before a promise's due date (borrower's local date) count toward it and
    every promise before it. A promise not met by its due date is broken once
    that day has passed; before then it is open. One due during a hardship
    pause is excused instead of broken.
    """
    if not promises:
        return []
    local = ZoneInfo(zone)
    today = at.astimezone(local).date()
    start = min(p.made_at for p in promises)
    paid_in = sorted(
        (p.at.astimezone(local).date(), p.amount) for p in counted(payments) if start <= p.at <= at
    )
    result = []
    promised = Decimal(0)
    for promise in sorted(promises, key=lambda p: (p.due, p.number, p.id or 0)):
        promised += promise.amount
        by_due = sum((amount for day, amount in paid_in if day <= promise.due), Decimal(0))
        covered = min(max(by_due - (promised - promise.amount), Decimal(0)), promise.amount)
        if by_due >= promised:
            status = "kept"
        elif promise.due < today:
            status = "excused" if excused(promise, hardships) else "broken"
        else:
            status = "open"
        result.append(PromiseStatus(promise, status, covered))
    return result


def statuses_by_arrangement(
    promises: Sequence[Promise],
    payments: Sequence[Payment],
    zone: str,
    at: dt.datetime,
    hardships: Sequence[Hardship] = (),
) -> list[PromiseStatus]:
    """Promise statuses, each arrangement's promises (and loose ones) judged on their own.

    A broken promise made on the doorstep does not spoil a later arrangement:
    payments count toward a group from the group's first promise on.
    """
    groups: dict[int | None, list[Promise]] = {}
    for promise in promises:
        groups.setdefault(promise.offer_id, []).append(promise)
    result = []
    for group in groups.values():
        result.extend(promise_statuses(group, payments, zone, at, hardships))
    return sorted(result, key=lambda s: (s.promise.due, s.promise.id or 0))


def met_times(
    promises: Sequence[Promise], payments: Sequence[Payment], zone: str
) -> dict[int | None, dt.datetime | None]:
    """When each promise came to be kept (by promise id), or None if it is not yet.

    The payment that completed it, counting as :func:`statuses_by_arrangement`
    does: a promise is kept at ``at`` exactly when its time is ``<= at``. Once
    its due date has passed this cannot change, so a promise with no time and
    a past due date is broken; the store keeps these times (``promises.met_at``)
    so that the worklist and the reports ask SQL instead of working it out.
    """
    local = ZoneInfo(zone)
    groups: dict[int | None, list[Promise]] = {}
    for promise in promises:
        groups.setdefault(promise.offer_id, []).append(promise)
    result: dict[int | None, dt.datetime | None] = {}
    for group in groups.values():
        start = min(p.made_at for p in group)
        paid_in = sorted(
            (p.at, p.at.astimezone(local).date(), p.amount)
            for p in counted(payments)
            if p.at >= start
        )
        promised = Decimal(0)
        for promise in sorted(group, key=lambda p: (p.due, p.number, p.id or 0)):
            promised += promise.amount
            paid, met = Decimal(0), None
            for at, day, amount in paid_in:
                if day <= promise.due:
                    paid += amount
                    if paid >= promised:
                        met = at
                        break
            result[promise.id] = met
    return result


def arrangement_kept(
    offer: Offer,
    promises: Sequence[Promise],
    payments: Sequence[Payment],
    zone: str,
    at: dt.datetime,
) -> bool:
    """Whether every promise of the accepted ``offer`` was kept, on time, by ``at``."""
    own = [p for p in promises if p.offer_id == offer.id]
    statuses = promise_statuses(own, payments, zone, at)
    return bool(statuses) and all(s.status == "kept" for s in statuses)


def arrangement_remaining(offer: Offer, payments: Sequence[Payment], at: dt.datetime) -> Decimal:
    """What is left to pay of an accepted offer, counting payments since its acceptance."""
    assert offer.accepted_at is not None
    paid = sum((p.amount for p in counted(payments) if offer.accepted_at <= p.at <= at), Decimal(0))
    return max(offer.total_payable - paid, Decimal(0))
