"""Post-loan reviews of performing loans: a second kind of case, with its own short path.

A lender reviews its loans on a schedule and when the borrower does something
that signals change (a cash withdrawal, a new loan elsewhere...). A review is
a case of kind ``review`` (``create --kind review --trigger CODE``, an import
with a ``kind`` column, or ``reviews open`` on a closed case of the same
loan), worked through a short path:

1. the check: contacts, a credit-bureau inquiry, new contact details (stage
   confirmation);
2. an optional visit: confirm the address, plan, interview, as for collection;
3. the findings, submitted from any open stage with a review recommendation
   (``feedback --recommendation watch-list``), approved by another supervisor.

Approved, ``refer-to-collection`` makes the case a collection case, back at
the start of the visit's path; every other recommendation closes the review
as ``reviewed`` and sets the date the next one falls due (policy
``review_every_months``, ``review_watch_months`` for the watch list).
``reviews due`` lists the loans whose review has come round and ``reviews
open --due`` opens them.

Each review is a row of ``reviews`` (:class:`fieldcase.model.Review`); no
penalty interest accrues while a loan is under review, and offers on a
performing loan are built on its installments due, not the whole principal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from . import lifecycle
from .errors import InvalidInput, NotPermitted
from .lifecycle import Stage
from .model import Case, Offer, Review, Staff
from .money import add_months, parse_money, quantum
from .policy import default
from .suggest import choice

if TYPE_CHECKING:
    from .repayment import Balance
    from .services import Services

#: The recommendation that hands the loan to collection instead of closing the review.
REFER = "refer-to-collection"

#: How a collection case closes when its loan performs again, and may be reviewed.
PERFORMING = ("paid", "settled", "restructured", "dispute-upheld")


def opening(case: Case, trigger: str, staff: Staff, at: dt.datetime, note: str = "") -> Review:
    """The review record a new review of ``case`` starts with."""
    choice(trigger, lifecycle.REVIEW_TRIGGERS, "trigger")
    return Review(
        case_id=case.id,
        trigger=trigger,
        opened_at=at,
        opened_by=staff.id,
        opened_on=case.local_date(at),
        note=note,
        # A closed case accrued nothing since it closed; reviewed, it still does not.
        relief_from=case.local_date(case.closed_at) if case.closed_at else None,
    )


def installment_of(value: str | Decimal | None, currency: str) -> Decimal | None:
    """The loan's regular installment, parsed; it must be more than zero."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    amount = parse_money(value, currency, field="installment")
    if amount <= 0:
        raise InvalidInput(f"installment: {value!r} must be more than zero")
    return amount


def current(services: Services, case: Case) -> Review | None:
    """The review in progress on ``case``, if it is under review."""
    assert case.id is not None
    reviews = services.store.reviews(case.id)
    if reviews and reviews[-1].status == "open":
        return reviews[-1]
    return None


def open_review(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    trigger: str,
    note: str = "",
    installment: str | Decimal | None = None,
) -> tuple[Case, Review]:
    """Open the next review of a closed case's loan: it becomes a review case in the check.

    A supervisor's call, like reopening, and only for a loan that performs: a
    review closed as reviewed (or withdrawn), or a collection case closed as
    paid, settled, restructured or dispute-upheld (:data:`PERFORMING`). One
    still open is refused by its stage; one closed as unlocatable,
    uncollectible, legal-referral or withdrawn by rule ``review.performing``.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    choice(trigger, lifecycle.REVIEW_TRIGGERS, "trigger")
    amount = installment_of(installment, case.currency)
    attempted: dict[str, Any] = {"trigger": trigger, "note": note}
    if amount is not None:
        attempted["installment"] = str(amount)
    services.guard(
        case,
        staff,
        "open_review",
        at,
        attempted=attempted,
        supervisor_only="open a review",
    )
    if case.purged_at is not None:
        raise InvalidInput(
            f"case {case.id}'s personal data was purged at the end of its retention: its "
            "loan is no longer reviewed here; the institution refers it anew if it must be"
        )
    if case.kind == "collection" and case.resolution not in PERFORMING:
        services.refuse(
            case,
            staff.id,
            at,
            "open_review",
            NotPermitted(
                f"case {case.id} was closed as {case.resolution}: its loan is not performing, "
                "and a review would stop its penalty interest; a review is for loans closed "
                f"as {', '.join(PERFORMING)} (reopen it to collect: fieldcase reopen "
                f"{case.id} --reason ...)",
                "review.performing",
            ),
            attempted,
        )
    review = opening(case, trigger, staff, at, note)
    reviewing = attrs.evolve(
        case,
        kind="review",
        stage=Stage.CONFIRMATION,
        resolution=None,
        closed_at=None,
        feedback_status=None,
        escalated=False,
        failed_visits=0,
        next_review=None,
        installment=amount if amount is not None else case.installment,
    )
    saved_case, saved = services.save(
        "review_opened",
        reviewing,
        staff.id,
        at,
        [review],
        data={**attempted, "previous_kind": case.kind, "previous_resolution": case.resolution},
    )
    opened = saved[0]
    assert isinstance(opened, Review)
    return saved_case, opened


def next_review(settings: Mapping[str, Any], recommendation: str, day: dt.date) -> dt.date | None:
    """When the loan's next review falls due after one ending on ``day`` (None: never)."""
    key = "review_watch_months" if recommendation == "watch-list" else "review_every_months"
    months = int(settings.get(key, default(key)))
    return add_months(day, months) if months > 0 else None


def finished(
    services: Services, case: Case, recommendation: str, staff: Staff, at: dt.datetime
) -> tuple[Case, list[Review]]:
    """The case and its review as approving the findings leaves them.

    ``refer-to-collection`` turns the case into a collection case at the start
    of the visit's path (the check done, an address confirmed on the review
    carries over); anything else closes it as ``reviewed`` until its next review.
    """
    review = current(services, case)
    day = case.local_date(at)
    if recommendation == REFER:
        collection = attrs.evolve(
            case,
            kind="collection",
            stage=Stage.PREPARATION if case.confirmed_address else Stage.CONFIRMATION,
            feedback_status=None,
            next_review=None,
            # Nothing overdue on record yet (the institution's next file says what is):
            # days past due count from the referral, not from when the review began.
            overdue_since=day if not case.overdue_amount else case.overdue_since,
        )
        status, due = "referred", None
        result = collection
    else:
        due = next_review(services.settings(case), recommendation, day)
        result = attrs.evolve(
            case,
            stage=Stage.CLOSED,
            feedback_status="approved",
            resolution="reviewed",
            closed_at=at,
            next_review=due,
        )
        status = "reviewed"
    if review is None:  # a review case from before reviews were recorded: nothing to end
        return result, []
    ended = attrs.evolve(
        review,
        status=status,
        recommendation=recommendation,
        finished_at=at,
        finished_by=staff.id,
        finished_on=day,
        next_review=due,
    )
    return result, [ended]


def withdrawn(services: Services, case: Case, staff: Staff, at: dt.datetime) -> list[Review]:
    """The review in progress, ended because the case was closed some other way."""
    if case.kind != "review":
        return []
    review = current(services, case)
    if review is None:
        return []
    return [
        attrs.evolve(
            review,
            status="withdrawn",
            finished_at=at,
            finished_by=staff.id,
            finished_on=case.local_date(at),
        )
    ]


def check_recommendation(case: Case, recommendation: str) -> None:
    """A review recommends what a review may; a collection case what a visit may."""
    if case.kind == "review":
        choice(recommendation, lifecycle.REVIEW_RECOMMENDATIONS, "recommendation")
    else:
        choice(recommendation, lifecycle.RECOMMENDATIONS, "recommendation")


def reviews_due(services: Services, at: dt.datetime, institution: str | None = None) -> list[Case]:
    """Review cases whose next review has come round at ``at`` (each borrower's own day)."""
    # Every time zone's today is at most a day and a half ahead of UTC's.
    latest = (at.astimezone(dt.UTC) + dt.timedelta(hours=14)).date()
    return [
        case
        for case in services.store.reviews_due(latest, institution)
        if case.next_review is not None and case.next_review <= case.local_date(at)
    ]


def under_review(
    reviews: Sequence[Review],
) -> list[tuple[dt.date, dt.date | None, Decimal]]:
    """The days a loan was under review, as penalty reliefs (no penalty while performing).

    A loan is under review from a review's opening to the day before it is
    next referred to collection (by that review or a later one). Until then a
    review closed as reviewed or withdrawn runs on: a closed case stops
    accruing anyway, and only a referral makes the loan a collection case again.
    """
    reliefs: list[tuple[dt.date, dt.date | None, Decimal]] = []
    for n, review in enumerate(reviews):
        referred = [r.finished_on for r in reviews[n:] if r.status == "referred" and r.finished_on]
        end = referred[0] - dt.timedelta(days=1) if referred else None
        reliefs.append((review.relief_from or review.opened_on, end, Decimal(0)))
    return reliefs


def on_installments(case: Case, offer: Offer, reviews: Sequence[Review]) -> bool:
    """Whether ``offer`` was worked out on a performing loan's installments due.

    So it was if it was presented while a review was open, whatever the case
    has become since (a referral to collection does not make it an offer on
    the whole balance); kept, it lets the borrower off only what it saved.
    """
    when = offer.presented_at
    if when is None or not reviews:
        return case.kind == "review"  # a review from before reviews were recorded
    return any(
        r.opened_at <= when and (r.finished_at is None or when < r.finished_at) for r in reviews
    )


def installments_due(case: Case, balance: Balance, count: int) -> Balance:
    """The part of a performing loan's balance that ``count`` installments cover.

    Offers on a performing loan are built on what falls due, not on the
    whole principal: the first ``count`` installments, capped at the balance,
    taken from fees, penalty, interest and principal in the order payments
    settle them.
    """
    if case.installment is None:
        raise InvalidInput(
            f"case {case.id} is a performing loan under review without an installment "
            "amount, and offers on it are built on its installments due; a supervisor "
            f"records it with 'fieldcase reviews open' or the institution's file "
            "(column installment)"
        )
    due = min(case.installment * count, balance.total)
    left, parts = due, {}
    for name in ("fees", "penalty", "interest", "principal"):
        part = min(getattr(balance, name), left)
        parts[name] = part
        left -= part
    zero = Decimal(0).quantize(quantum(case.currency))
    return attrs.evolve(
        balance,
        total=due,
        paid=zero,
        overpaid=zero,
        basis=f"{count} installments due",
        **parts,
    )
