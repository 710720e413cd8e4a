"""The money actions: present and accept offers, promises to pay, payments, balance.

Like every action, each runs in one transaction with its event; see
:mod:`fieldcase.services` for the shared checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .errors import InvalidInput, InvalidTransition, NotPermitted
from .lifecycle import Stage
from .model import ActionContext, Case, Offer, Payment, Promise, Staff
from .money import format_money, parse_money, round_money
from .policy import default
from .protections import penalty_reliefs
from .repayment import (
    Balance,
    PromiseStatus,
    arrangement_kept,
    arrangement_remaining,
    case_balance,
    promise_statuses,
    statuses_by_arrangement,
)
from .reviews import installments_due, on_installments, under_review, withdrawn
from .store import Change, Record

if TYPE_CHECKING:
    from .services import Services

OPEN_OFFER = ("presented", "needs-approval", "approved")


@attrs.frozen
class MoneyView:
    """A case's balance, its promises and its accepted arrangement, at a moment."""

    case: Case
    balance: Balance
    promises: list[PromiseStatus]
    arrangement: Offer | None
    arrangement_remaining: Decimal | None
    #: Payments field staff reported, not yet confirmed: shown, not counted.
    reported: list[Payment] = attrs.field(factory=list)


def _today(case: Case, at: dt.datetime) -> dt.date:
    return at.astimezone(case.borrower.zone).date()


def balance_of(services: Services, case: Case, at: dt.datetime) -> Balance:
    assert case.id is not None
    return balance_with(services, case, services.store.payments(case.id, case.currency), at)


def balance_with(
    services: Services, case: Case, payments: Sequence[Payment], at: dt.datetime
) -> Balance:
    """The balance with the institution's cap and the law's cap on penalty interest."""
    settings = services.settings(case)
    cap = settings.get("penalty_cap")
    rate_cap = services.pm.hook.penalty_rate_cap(case=services.judged(case), settings=settings)
    assert case.id is not None
    disputes = services.store.disputes(case.id)
    return case_balance(
        case,
        payments,
        at,
        penalty_cap=None if cap is None else Decimal(str(cap)),
        rate_cap=None if rate_cap is None else Decimal(str(rate_cap)),
        day_count=int(settings.get("day_count", default("day_count"))),
        reliefs=[
            *penalty_reliefs(disputes, services.store.hardships(case.id)),
            *under_review(services.store.reviews(case.id)),
        ],
        fees_reversed=any(d.fees_reversed for d in disputes if d.status == "upheld"),
    )


def accepted_offer(offers: Sequence[Offer]) -> Offer | None:
    accepted = [o for o in offers if o.status == "accepted"]
    return accepted[-1] if accepted else None


def active_arrangement(services: Services, case: Case, at: dt.datetime) -> Offer | None:
    """The accepted offer still standing: none of its promises broken at ``at``."""
    assert case.id is not None
    offer = accepted_offer(services.store.offers(case.id))
    if offer is None:
        return None
    own = [p for p in services.store.promises(case.id, case.currency) if p.offer_id == offer.id]
    statuses = promise_statuses(
        own,
        services.store.payments(case.id, case.currency),
        case.borrower.timezone,
        at,
        services.store.hardships(case.id),
    )
    return None if any(s.status == "broken" for s in statuses) else offer


def concession(offer: Offer | None) -> bool:
    """An arrangement that, kept, lets the borrower off part of the debt."""
    return offer is not None and offer.saving > 0


def money_view(services: Services, ref: str | int, at: dt.datetime) -> MoneyView:
    case = services.store.get_case(ref)
    assert case.id is not None
    payments = services.store.payments(case.id, case.currency)
    promises = services.store.promises(case.id, case.currency)
    arrangement = accepted_offer(services.store.offers(case.id))
    balance = balance_of(services, case, at)
    zone = case.borrower.timezone
    if (
        concession(arrangement)
        and balance.total > 0
        and arrangement is not None
        and arrangement_kept(arrangement, promises, payments, zone, at)
    ):
        # Kept, a concession on an overdue loan lets the borrower off the rest; one
        # worked out on a performing loan's installments due lets off only what it
        # saved on them, even once the loan is in collection.
        cut = (
            min(arrangement.saving, balance.total)
            if on_installments(case, arrangement, services.store.reviews(case.id))
            else balance.total
        )
        balance = attrs.evolve(balance, forgiven=cut, total=balance.total - cut)
    return MoneyView(
        case=case,
        balance=balance,
        promises=statuses_by_arrangement(
            promises, payments, zone, at, services.store.hardships(case.id)
        ),
        arrangement=arrangement,
        arrangement_remaining=(
            arrangement_remaining(arrangement, payments, at) if arrangement else None
        ),
        reported=[p for p in payments if p.status == "reported" and p.at <= at],
    )


def _approval_threshold(services: Services, case: Case, balance: Balance) -> Decimal:
    settings = services.settings(case)
    if "approval_threshold" in settings:
        return Decimal(str(settings["approval_threshold"]))
    share = Decimal(
        str(settings.get("approval_threshold_share", default("approval_threshold_share")))
    )
    return round_money(balance.total * share, case.currency)


def _check_offer(offer: Offer, case: Case) -> None:
    """A plugin's offer must be exact and self-consistent before anyone sees it."""
    problem = None
    if offer.currency != case.currency:
        problem = f"is in {offer.currency}, but the case is in {case.currency}"
    elif not offer.schedule:
        problem = "has no schedule: say when each payment is due"
    elif offer.total_payable < 0 or any(p.amount < 0 for p in offer.schedule):
        problem = "has a negative amount"
    elif offer.schedule and sum(p.amount for p in offer.schedule) != offer.total_payable:
        problem = "has a schedule that does not add up to its total payable"
    elif any(round_money(p.amount, case.currency) != p.amount for p in offer.schedule):
        problem = f"has amounts finer than {case.currency}'s minor unit"
    if problem:
        raise InvalidInput(f"offer {offer.code} {problem}; the plugin that made it must be fixed")


def present_offers(
    services: Services, ref: str | int, *, actor: str, at: dt.datetime
) -> tuple[Balance, list[Offer]]:
    """Compute the offers for the case now, store them, and return them."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    current = active_arrangement(services, case, at)
    if current is not None:
        attempted = {"arrangement": current.code}
        # Time, permission, stage and policy first: the refusal is judged like any other.
        services.guard(case, staff, "present_offer", at, attempted=attempted)
        services.refuse(
            case,
            staff.id,
            at,
            "present_offer",
            InvalidTransition(
                f"case {case.id} already has an arrangement ({current.code}, accepted "
                f"{current.accepted_at:%Y-%m-%d}); see fieldcase balance {case.id}",
                "offer.arrangement_exists",
            ),
            attempted,
        )
    balance = balance_of(services, case, at)
    if case.kind == "review":
        settings = services.settings(case)
        count = int(settings.get("review_offer_installments", default("review_offer_installments")))
        balance = installments_due(case, balance, count)
    visits = services.store.visits(case.id, case.currency)
    found: dict[str, Offer] = {}
    for batch in reversed(
        services.pm.hook.repayment_offers(
            case=services.judged(case),
            visit=visits[-1] if visits else None,
            balance=balance,
            at=at,
            settings=services.settings(case),
        )
    ):
        for offer in batch or []:
            _check_offer(offer, case)
            if offer.code in found:
                raise InvalidInput(
                    f"offer code {offer.code!r} is made twice (two plugins, or a plugin and "
                    "the built-in offers); give each offer its own code"
                )
            found[offer.code] = offer
    threshold = _approval_threshold(services, case, balance)
    offers = [
        attrs.evolve(
            offer,
            case_id=case.id,
            balance=balance.total,
            presented_at=at,
            presented_by=staff.id,
            status="needs-approval" if offer.saving > threshold else "presented",
        )
        for offer in found.values()
    ]
    presented: dict[str, Any] = {"offers": [o.code for o in offers], "balance": str(balance.total)}
    services.guard(case, staff, "present_offer", at, attempted=presented)
    superseded = [
        attrs.evolve(o, status="superseded")
        for o in services.store.offers(case.id)
        if o.status in OPEN_OFFER
    ]
    _, saved = services.save(
        "offers_presented", case, staff.id, at, [*superseded, *offers], presented
    )
    return balance, [o for o in saved if isinstance(o, Offer) and o.status != "superseded"]


def _find_offer(services: Services, case: Case, code: str) -> Offer:
    assert case.id is not None
    offers = services.store.offers(case.id)
    for offer in reversed(offers):
        if code in (offer.code, str(offer.id)) and offer.status != "superseded":
            return offer
    codes = sorted({o.code for o in offers if o.status in OPEN_OFFER})
    hint = f"offers now standing: {', '.join(codes)}" if codes else "present offers first"
    raise InvalidInput(f"case {case.id} has no offer {code!r}; {hint} (fieldcase offers)")


def _worked_out_under_another_policy(services: Services, case: Case, offer: Offer) -> str | None:
    """Why ``offer`` no longer stands: the policy changed since offers were presented."""
    assert case.id is not None
    presented = services.store.last_policy_version(case.id, ("offers_presented",))
    now = services.policy_version(case)
    if presented is None or presented == now:
        return None
    # Its terms, and whether it needed approval, were decided under that version.
    return (
        f"offer {offer.code} was worked out under {case.institution} policy v{presented}, "
        f"and the policy is now v{now}; present offers again (fieldcase offers {case.id})"
    )


def review_offer(
    services: Services, ref: str | int, code: str, *, actor: str, at: dt.datetime, approve: bool
) -> Offer:
    """A supervisor approves (or declines) an offer whose concession needs four eyes."""
    staff, case = services.begin(ref, actor, at)
    offer = _find_offer(services, case, code)
    attempted = {"offer": offer.code, "approve": approve}
    context = ActionContext(at=at, actor=staff.id, extra={"offer": offer})
    services.guard(
        case,
        staff,
        "review_offer",
        at,
        attempted=attempted,
        context=context,
        supervisor_only="review an offer",
    )
    stale = _worked_out_under_another_policy(services, case, offer)
    if stale is not None:
        services.refuse(
            case,
            staff.id,
            at,
            "review_offer",
            InvalidTransition(stale, "offer.policy_changed"),
            attempted,
        )
    if offer.status != "needs-approval":
        services.refuse(
            case,
            staff.id,
            at,
            "review_offer",
            InvalidTransition(
                f"offer {offer.code} does not await approval (it is {offer.status})",
                "offer.review",
            ),
            attempted,
        )
    if offer.presented_by == staff.id:
        services.refuse(
            case,
            staff.id,
            at,
            "review_offer",
            NotPermitted(
                f"you presented offer {offer.code}; another supervisor must approve it",
                "review.four_eyes",
            ),
            attempted,
        )
    reviewed = attrs.evolve(
        offer, status="approved" if approve else "declined", reviewed_by=staff.id
    )
    services.save(f"offer_{reviewed.status}", case, staff.id, at, [reviewed], attempted)
    return reviewed


def accept_offer(
    services: Services, ref: str | int, code: str, *, actor: str, at: dt.datetime
) -> tuple[Offer, list[Promise]]:
    """The borrower takes an offer: it becomes an arrangement and promises to pay."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    offer = _find_offer(services, case, code)
    attempted = {
        "offer": offer.code,
        "total_payable": str(offer.total_payable),
        "saving": str(offer.saving),
    }
    context = ActionContext(at=at, actor=staff.id, extra={"offer": offer})
    services.guard(case, staff, "accept_offer", at, attempted=attempted, context=context)
    refusal: str | None = None
    rule = "offer.accept"
    current = active_arrangement(services, case, at)
    if offer.status == "accepted":
        refusal = f"offer {offer.code} was already accepted on {offer.accepted_at:%Y-%m-%d}"
        rule = "offer.accepted_twice"
    elif current is not None:
        refusal = f"offer {current.code} is already the case's arrangement; one at a time"
    elif offer.status == "declined":
        refusal = f"offer {offer.code} was declined by {offer.reviewed_by}"
    elif offer.status == "needs-approval":
        refusal = (
            f"offer {offer.code} saves the borrower {format_money(offer.saving, offer.currency)}, "
            "above the institution's threshold: a supervisor must approve it first "
            f"(fieldcase review offer {case.id} {offer.code} --approve)"
        )
        rule = "offer.four_eyes"
    elif offer.expires is not None and _today(case, at) > offer.expires:
        refusal = f"offer {offer.code} expired on {offer.expires}; present offers again"
        rule = "offer.expired"
    elif (stale := _worked_out_under_another_policy(services, case, offer)) is not None:
        refusal, rule = stale, "offer.policy_changed"
    if refusal:
        services.refuse(
            case, staff.id, at, "accept_offer", InvalidTransition(refusal, rule), attempted
        )
    accepted = attrs.evolve(offer, status="accepted", accepted_at=at)
    others = [
        attrs.evolve(o, status="superseded")
        for o in services.store.offers(case.id)
        if o.status in OPEN_OFFER and o.id != offer.id
    ]
    promises = [
        Promise(
            case_id=case.id,
            amount=p.amount,
            due=p.due,
            made_at=at,
            made_by=staff.id,
            offer_id=offer.id,
            number=n,
        )
        for n, p in enumerate(offer.schedule, start=1)
    ]
    _, saved = services.save(
        "offer_accepted", case, staff.id, at, [accepted, *others, *promises], attempted
    )
    return accepted, [p for p in saved if isinstance(p, Promise)]


def record_promise(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    amount: str | Decimal,
    due: dt.date,
) -> Promise:
    """A promise to pay made outside an arrangement (e.g. during the interview)."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    value = parse_money(amount, case.currency, owner=f"case {case.id}")
    if value <= 0:
        raise InvalidInput("amount: a promise is for more than nothing")
    if due < _today(case, at):
        raise InvalidInput(f"--date {due} is in the past for the borrower")
    attempted = {"amount": str(value), "due": due.isoformat()}
    services.guard(case, staff, "promise", at, attempted=attempted)
    promise = Promise(case_id=case.id, amount=value, due=due, made_at=at, made_by=staff.id)
    _, result = services.save_one("promise_made", case, staff.id, at, promise, attempted)
    return result


def _check_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference:
        raise InvalidInput("--reference is required: the bank's or the institution's reference")
    return reference


def record_payment(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    amount: str,
    reference: str,
    currency: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> tuple[Payment, bool, Case]:
    """Record money received; idempotent on ``reference``. Returns (payment, new?, case).

    A supervisor's payment is confirmed at once, and if it clears what is owed
    (the balance, or an accepted arrangement) it closes the case, as paid or
    settled, in the same transaction. Field staff's is reported: it counts, and
    may close the case, once a supervisor confirms it (:func:`confirm_payment`).
    ``source`` (a payment file's name and line) goes into the event.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    value = parse_money(amount, case.currency, named=currency, owner=f"case {case.id}")
    if value <= 0:
        raise InvalidInput("amount: a payment is for more than nothing")
    reference = _check_reference(reference)
    payments = services.store.payments(case.id, case.currency)
    for earlier in payments:
        if earlier.reference == reference:
            if earlier.status == "reversed":
                raise InvalidInput(_reversed_reference(case, earlier))
            if earlier.amount != value:
                raise InvalidInput(
                    f"payment {reference} is already recorded for "
                    f"{format_money(earlier.amount, case.currency)}, not "
                    f"{format_money(value, case.currency)}"
                )
            return earlier, False, case
    attempted = {"amount": str(value), "reference": reference}
    if at < case.referred_at:
        raise InvalidInput(
            f"--at {at.isoformat()} is before case {case.id} was referred "
            f"({case.referred_at.isoformat()})"
        )
    services.guard(case, staff, "record_payment", at, attempted=attempted)
    # Only a supervisor's word makes money count; a field worker's is reported.
    payment = Payment(
        case_id=case.id,
        amount=value,
        at=at,
        reference=reference,
        recorded_by=staff.id,
        status="confirmed" if staff.is_supervisor else "reported",
        confirmed_by=staff.id if staff.is_supervisor else None,
        confirmed_at=at if staff.is_supervisor else None,
    )
    data = {**attempted, "status": payment.status, **(source or {})}
    saved, final = _commit_money(
        services, case, staff, at, payment, "payment_recorded", data, [*payments, payment]
    )
    return saved, True, final


def _reversed_reference(case: Case, payment: Payment) -> str:
    assert payment.reversed_at is not None
    return (
        f"payment {payment.reference} of {format_money(payment.amount, case.currency)} was "
        f"reversed on {payment.reversed_at.astimezone(case.borrower.zone):%Y-%m-%d} "
        f"({payment.reversal_reason}); its reference stays taken: record the money "
        "under the bank's correction reference"
    )


def clearing(
    services: Services, case: Case, payments: Sequence[Payment], at: dt.datetime
) -> tuple[Balance, str | None]:
    """The balance after ``payments`` at ``at``, and the resolution they close the case
    as (``paid``, or ``settled`` for a concession kept), or None while something is owed.

    The one answer to "does this money close the case", for recording, confirming
    and reversing a payment. Only confirmed payments count (:func:`repayment.counted`).
    """
    assert case.id is not None
    after = balance_with(services, case, payments, at)
    arrangement = accepted_offer(services.store.offers(case.id))
    # A concession (settlement, waiver) is earned when every promise was kept on time.
    fulfilled = (
        concession(arrangement)
        and arrangement is not None
        and arrangement_kept(
            arrangement,
            services.store.promises(case.id, case.currency),
            payments,
            case.borrower.timezone,
            at,
        )
    )
    # An arrangement on a performing loan's installments due, not the loan: kept, the
    # loan goes on (even once it is in collection).
    settles = (
        fulfilled
        and arrangement is not None
        and not on_installments(case, arrangement, services.store.reviews(case.id))
    )
    if after.total == 0 or settles:
        return after, "settled" if fulfilled and after.total > 0 else "paid"
    return after, None


def _commit_money(
    services: Services,
    case: Case,
    staff: Staff,
    at: dt.datetime,
    payment: Payment,
    event_type: str,
    data: dict[str, Any],
    payments: Sequence[Payment],
) -> tuple[Payment, Case]:
    """Write ``payment`` with its event, and close the case in the same transaction if
    the counted ``payments`` now clear what is owed as of the money's time."""
    assert case.id is not None
    after, resolution = clearing(services, case, payments, payment.at)
    last = max(case.updated_at or at, at)
    paid_case = attrs.evolve(case, version=case.version + 1, updated_at=last)
    # Offers were worked out from the balance before this money: they no longer stand.
    # Money only reported changes nothing yet.
    stale: tuple[Offer, ...] = ()
    if payment.status != "reported":
        stale = tuple(
            attrs.evolve(o, status="superseded")
            for o in services.store.offers(case.id)
            if o.status in OPEN_OFFER
        )
    changes: list[Change] = [
        Change(
            event_type,
            staff.id,
            at,
            (paid_case, payment, *stale),
            {**data, "balance_after": str(after.total)},
            case.id,
            case.version,
            services.recorded_at(),
            services.policy_version(case),
        )
    ]
    # A dispute holds the case open: its decision, not the money, says what is owed.
    if (
        payment.counts
        and resolution is not None
        and case.stage != Stage.CLOSED
        and case.dispute is None
    ):
        closed = attrs.evolve(
            paid_case,
            stage=Stage.CLOSED,
            resolution=resolution,
            # Closed when the money arrived: penalty stops then, not at a later action.
            closed_at=payment.at,
            version=paid_case.version + 1,
        )
        changes.append(
            Change(
                "case_closed",
                staff.id,
                at,
                (closed, *withdrawn(services, case, staff, at)),
                {
                    "resolution": resolution,
                    "from_stage": str(case.stage),
                    "by_payment": payment.reference,
                },
                case.id,
                paid_case.version,
                services.recorded_at(),
                services.policy_version(case),
            )
        )
    return _written(services, changes)


def find_payment(services: Services, case: Case, reference: str) -> Payment:
    """The case's payment with ``reference``, or :class:`InvalidInput` listing its references."""
    assert case.id is not None
    reference = _check_reference(reference)
    payments = services.store.payments(case.id, case.currency)
    for payment in payments:
        if payment.reference == reference:
            return payment
    known = ", ".join(p.reference for p in payments[-5:])
    raise InvalidInput(
        f"case {case.id} has no payment {reference!r}; "
        + (f"its payments: {known}" if known else "it has no payments recorded")
    )


def confirm_payment(
    services: Services,
    ref: str | int,
    reference: str,
    *,
    actor: str,
    at: dt.datetime,
    source: Mapping[str, Any] | None = None,
    paid_at: dt.datetime | None = None,
    amount: Decimal | None = None,
) -> tuple[Payment, Case]:
    """A supervisor confirms a reported payment: it counts from when it was paid.

    ``paid_at`` is the bank's time for it (from a payment file): it replaces the
    time the payment was reported with, which a worker may have dated back. With
    the bank's ``amount`` too, a report that was reversed before it ever counted
    (a wrong amount, say) is replaced by the bank's record under its reference.
    If the confirmed payments now clear what is owed, the case closes in the
    same transaction, as :func:`record_payment` closes it.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    payment = find_payment(services, case, reference)
    attempted = {"reference": payment.reference, "amount": str(payment.amount)}
    services.guard(
        case,
        staff,
        "confirm_payment",
        at,
        attempted=attempted,
        supervisor_only="confirm a payment",
    )
    revived = (
        payment.status == "reversed"
        and payment.confirmed_at is None
        and paid_at is not None
        and amount is not None
    )
    if payment.status != "reported" and not revived:
        when = payment.confirmed_at if payment.status == "confirmed" else payment.reversed_at
        who = payment.confirmed_by if payment.status == "confirmed" else payment.reversed_by
        assert when is not None
        services.refuse(
            case,
            staff.id,
            at,
            "confirm_payment",
            InvalidTransition(
                f"payment {payment.reference} was already {payment.status} by {who} on "
                f"{when.astimezone(case.borrower.zone):%Y-%m-%d}; only a reported payment "
                "is confirmed",
                "payment.confirm",
            ),
            attempted,
        )
    confirmed = attrs.evolve(
        payment,
        status="confirmed",
        confirmed_by=staff.id,
        confirmed_at=at,
        at=paid_at or payment.at,
    )
    if revived:
        assert amount is not None
        attempted["replaces_reversed_report"] = str(payment.amount)
        attempted["amount"] = str(amount)
        confirmed = attrs.evolve(
            confirmed, amount=amount, reversed_by=None, reversed_at=None, reversal_reason=None
        )
    if paid_at is not None and paid_at != payment.at:
        attempted["reported_at"] = payment.at.isoformat()
        attempted["paid_at"] = paid_at.isoformat()
    payments = [
        confirmed if p.id == payment.id else p
        for p in services.store.payments(case.id, case.currency)
    ]
    data = {**attempted, **(source or {})}
    return _commit_money(services, case, staff, at, confirmed, "payment_confirmed", data, payments)


def reverse_payment(
    services: Services,
    ref: str | int,
    reference: str,
    *,
    actor: str,
    at: dt.datetime,
    reason: str,
) -> tuple[Payment, Case]:
    """A supervisor reverses a payment (a typo, a bounced transfer): it stops counting.

    The payment stays on record, marked reversed, with the reversal as its own
    event. A case that payment closed is reopened, in the same transaction, to
    the stage it was closed from, unless the other payments still clear it.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    if not reason.strip():
        raise InvalidInput("reversing a payment needs --reason saying why")
    payment = find_payment(services, case, reference)
    attempted = {"reference": payment.reference, "amount": str(payment.amount), "reason": reason}
    services.guard(
        case,
        staff,
        "reverse_payment",
        at,
        attempted=attempted,
        supervisor_only="reverse a payment",
    )
    if payment.status == "reversed":
        assert payment.reversed_at is not None
        services.refuse(
            case,
            staff.id,
            at,
            "reverse_payment",
            InvalidTransition(
                f"payment {payment.reference} was already reversed by {payment.reversed_by} "
                f"on {payment.reversed_at.astimezone(case.borrower.zone):%Y-%m-%d} "
                f"({payment.reversal_reason}); nothing to undo",
                "payment.reversed_twice",
            ),
            attempted,
        )
    reversed_ = attrs.evolve(
        payment, status="reversed", reversed_by=staff.id, reversed_at=at, reversal_reason=reason
    )
    payments = [
        reversed_ if p.id == payment.id else p
        for p in services.store.payments(case.id, case.currency)
    ]
    reversed_case = attrs.evolve(case, version=case.version + 1, updated_at=at)
    stale = tuple(
        attrs.evolve(o, status="superseded")
        for o in services.store.offers(case.id)
        if o.status in OPEN_OFFER and payment.counts
    )
    changes = [
        Change(
            "payment_reversed",
            staff.id,
            at,
            (reversed_case, reversed_, *stale),
            {**attempted, "was": payment.status},
            case.id,
            case.version,
            services.recorded_at(),
            services.policy_version(case),
        )
    ]
    reopening = _reopening(services, reversed_case, payment, payments, staff.id, at)
    if reopening is not None:
        changes.append(reopening)
    return _written(services, changes)


def _reopening(
    services: Services,
    case: Case,
    payment: Payment,
    payments: Sequence[Payment],
    actor: str,
    at: dt.datetime,
) -> Change | None:
    """The reopening of a case whose closing rested on ``payment``, now reversed; None
    if it stays closed.

    A case closed as paid or settled, by the money itself or by hand once the
    counted payments cleared it, is reopened when they cleared it with this
    payment and no longer do. It stays closed when it was closed otherwise (or
    as paid on a supervisor's word while money was owed), when the other payments
    still clear it, and when it is a performing loan's review (whose review in
    progress the payment ended: its next review is opened instead).
    """
    assert case.id is not None
    if case.stage != Stage.CLOSED or case.kind == "review" or case.closed_at is None:
        return None
    closing = services.store.last_event_data(case.id, "case_closed")
    # Closed as paid or settled (by the money itself, or by hand once it cleared the
    # case): reopened when the payments cleared it with this one and no longer do.
    if closing is None or case.resolution not in ("paid", "settled"):
        return None
    reopened = attrs.evolve(
        case,
        stage=Stage(closing["from_stage"]),
        resolution=None,
        closed_at=None,
        version=case.version + 1,
    )
    counted_before = [payment if p.id == payment.id else p for p in payments]
    if clearing(services, reopened, counted_before, case.closed_at)[1] is None:
        return None  # it did not rest on the money (a supervisor's call): it stays closed
    if clearing(services, reopened, payments, case.closed_at)[1] is not None:
        return None
    return Change(
        "case_reopened",
        actor,
        at,
        (reopened,),
        {
            "reason": f"payment {payment.reference} reversed",
            "previous_resolution": case.resolution,
            "by_reversal": payment.reference,
        },
        case.id,
        case.version,
        services.recorded_at(),
        services.policy_version(case),
    )


def _written(services: Services, changes: Sequence[Change]) -> tuple[Payment, Case]:
    """Write a payment's changes in one transaction, then notify: the payment (the first
    change's second record) and the case as the last change left it."""
    results = services.store.commit_many(changes)
    final: Record = results[-1][1][0]
    assert isinstance(final, Case)
    for event, _ in results:
        services.notify(final, event)
    saved = results[0][1][1]
    assert isinstance(saved, Payment)
    return saved, final
