"""Cases: referring one by hand, reading one whole (masked as the reader may see it), its history.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

from .clock import aware
from .errors import (
    InvalidInput,
    NotPermitted,
)
from .lifecycle import CASE_KINDS, REVIEW_TRIGGERS
from .model import (
    ActionContext,
    Attachment,
    Borrower,
    Case,
    CheckIn,
    Complaint,
    ContactAttempt,
    ContactDetail,
    Dispute,
    Event,
    Evidence,
    Feedback,
    Hardship,
    Inquiry,
    Offer,
    Payment,
    Review,
    Visit,
)
from .money import exponent, parse_amount, parse_rate
from .privacy import sees_in_clear
from .store import SYSTEM_CHAIN

if TYPE_CHECKING:
    from .reader import Reader
    from .services import Services

log = logging.getLogger(__name__)


@attrs.frozen
class CaseFile:
    """Everything known about one case, for ``show``."""

    case: Case
    contacts: list[ContactAttempt]
    visits: list[Visit]
    feedback: list[Feedback]
    #: Whether personal data was masked for the person asking.
    masked: bool = False
    disputes: list[Dispute] = attrs.field(factory=list)
    evidence: list[Evidence] = attrs.field(factory=list)
    hardships: list[Hardship] = attrs.field(factory=list)
    complaints: list[Complaint] = attrs.field(factory=list)
    #: The phones, emails and addresses recorded since referral, oldest first.
    details: list[ContactDetail] = attrs.field(factory=list)
    inquiries: list[Inquiry] = attrs.field(factory=list)
    #: The loan's post-loan reviews, oldest first.
    reviews: list[Review] = attrs.field(factory=list)
    #: Repayment offers presented, with their status (accepted, superseded...).
    offers: list[Offer] = attrs.field(factory=list)
    #: Payments recorded, oldest first: amounts and references, nothing personal.
    payments: list[Payment] = attrs.field(factory=list)
    #: Photos and documents attached, oldest first (names, notes and places masked likewise).
    attachments: list[Attachment] = attrs.field(factory=list)
    #: Where staff checked in on site, oldest first (positions masked likewise).
    checkins: list[CheckIn] = attrs.field(factory=list)

    @property
    def current_visit(self) -> Visit | None:
        return self.visits[-1] if self.visits else None


def create_case(
    services: Services,
    *,
    actor: str,
    at: dt.datetime,
    institution: str,
    reference: str,
    borrower_name: str,
    principal: str | Decimal,
    overdue_amount: str | Decimal = "0",
    overdue_since: dt.date | None = None,
    timezone: str = "",
    currency: str = "",
    jurisdiction: str = "",
    national_id: str = "",
    phone: str = "",
    address: str = "",
    assign_to: str | None = None,
    accrued_interest: str | Decimal = "0",
    fees: str | Decimal = "0",
    penalty_rate: str | Decimal = "0",
    attributes: Mapping[str, str] | None = None,
    kind: str = "collection",
    trigger: str | None = None,
    installment: str | Decimal | None = None,
    note: str = "",
) -> Case:
    """Refer a new case. Ineligible cases are stored, flagged, out of the field queue.

    The institution must be registered; its time zone, currency and
    jurisdiction are the case's unless given. ``attributes`` are the
    institution's own fields, as its policy declares them. A ``review`` of a
    performing loan needs its ``trigger`` and starts its first review
    (:mod:`fieldcase.reviews`); nothing need be overdue on it.
    """
    from . import attributes as custom
    from .jurisdictions import check_timezone, normalise
    from .reviews import installment_of, opening
    from .suggest import choice

    at = aware(at)
    services.begin_action()
    staff = services.actor(actor)
    institution, reference = institution.strip(), reference.strip()
    borrower_name = borrower_name.strip()
    if not institution or not reference or not borrower_name:
        raise InvalidInput("institution, reference and borrower name are required")
    registered = services.institution(institution)
    currency = (currency.strip() or registered.currency).upper()
    timezone = timezone.strip() or registered.timezone
    jurisdiction = normalise(jurisdiction or registered.jurisdiction)
    exponent(currency)
    choice(kind, CASE_KINDS, "kind")
    if kind == "review" and not trigger:
        raise InvalidInput(
            "a review needs --trigger saying what set it off: " + ", ".join(REVIEW_TRIGGERS)
        )
    if kind != "review" and trigger:
        raise InvalidInput("--trigger is for reviews (--kind review)")
    if overdue_since is None:
        if kind != "review":
            raise InvalidInput("overdue since is required: the first day the loan was overdue")
        # Nothing overdue: the borrower's today stands for the date, in their zone.
        overdue_since = at.astimezone(ZoneInfo(check_timezone(timezone))).date()
    existing = services.store.find_case(institution, reference)
    if existing is not None:
        raise InvalidInput(f"case {institution}/{reference} already exists (id {existing.id})")
    if assign_to:
        services.member(assign_to, "--assign")
    if phone.strip():
        from .importing import normalise_phone

        try:
            phone = normalise_phone(phone, jurisdiction.split("-")[0].upper() or None)
        except ValueError as exc:
            raise InvalidInput(f"phone: {phone!r} {exc}") from None
    case = Case(
        institution=institution,
        reference=reference,
        borrower=Borrower(
            name=borrower_name,
            timezone=check_timezone(timezone),
            national_id=national_id,
            phone=phone,
            address=address,
        ),
        jurisdiction=jurisdiction,
        currency=currency,
        principal=parse_amount(principal, currency, field="principal"),
        overdue_amount=parse_amount(overdue_amount, currency, field="overdue amount"),
        overdue_since=overdue_since,
        referred_at=at,
        assigned_to=assign_to,
        accrued_interest=parse_amount(accrued_interest, currency, field="interest"),
        fees=parse_amount(fees, currency, field="fees"),
        penalty_rate=parse_rate(penalty_rate),
        attributes=custom.clean(attributes or {}, custom.declared(registered.policy), institution),
        kind=kind,
        installment=installment_of(installment, currency),
    )
    attempted = {"institution": institution, "reference": reference}
    services.check_time(
        staff, at, registered.policy, "create", attempted=attempted, institution=registered
    )
    if not staff.is_supervisor:
        services.refuse(
            None,
            staff.id,
            at,
            "create",
            NotPermitted("only a supervisor may create cases", "permission.supervisor"),
            attempted,
            registered,
        )
    services.check_requirements(registered, None, staff.id, at, "create", attempted)
    services.check_policy(case, "create", ActionContext(at=at, actor=staff.id))
    denials = services.eligibility(case, at)
    if denials:
        case = attrs.evolve(
            case,
            eligible=False,
            eligibility_note="; ".join(f"{d.reason} (rule {d.rule})" for d in denials),
        )
    first = [opening(case, trigger, staff, at, note)] if trigger else []
    data: dict[str, Any] = {"eligible": case.eligible, "note": case.eligibility_note}
    if kind == "review":
        data |= {"kind": kind, "trigger": trigger}
    saved, _ = services.save("case_created", case, staff.id, at, first, data)
    return saved


def get_case(services: Services, ref: str | int) -> Case:
    return services.store.get_case(ref)


def case_file(services: Services, ref: str | int, viewer: str | None = None) -> CaseFile:
    """Everything about a case; personal data masked unless ``viewer`` works it.

    Supervisors, the staff member assigned and the staff on one of its
    visits see it whole; anyone else (or no one named) sees it masked
    (see :func:`fieldcase.privacy.mask_case_file`).
    """
    from .privacy import (
        mask_attachments,
        mask_case_file,
        mask_checkins,
        mask_details,
        mask_notes,
    )

    store = services.store
    case = store.get_case(ref)
    assert case.id is not None
    contacts = store.contacts(case.id)
    visits = store.visits(case.id, case.currency)
    feedback = store.feedback(case.id)
    disputes, evidence = store.disputes(case.id), store.evidence(case.id)
    hardships, complaints = store.hardships(case.id), store.complaints(case.id)
    details = store.contact_details(case.id)
    inquiries = store.inquiries(case.id)
    reviews = store.reviews(case.id)
    offers, payments = store.offers(case.id), store.payments(case.id, case.currency)
    attachments = store.attachments(case.id)
    checkins = store.checkins(case.id)
    masked = not services.may_see_personal_data(case, visits, viewer)
    if masked:
        case, contacts, visits, feedback = mask_case_file(case, contacts, visits, feedback)
        disputes, evidence = mask_notes(disputes), mask_notes(evidence)
        hardships, complaints = mask_notes(hardships), mask_notes(complaints)
        details = mask_details(details)
        inquiries = mask_notes(inquiries)
        reviews = mask_notes(reviews)
        payments = mask_notes(payments)  # why one was reversed may name the borrower
        attachments = mask_attachments(attachments)
        checkins = mask_checkins(checkins)
    return CaseFile(
        case,
        contacts,
        visits,
        feedback,
        masked,
        disputes,
        evidence,
        hardships,
        complaints,
        details,
        inquiries,
        reviews,
        offers,
        payments,
        attachments=attachments,
        checkins=checkins,
    )


def reader(services: Services, viewer: str | None = None) -> Reader:
    """Read-only, typed access to the data, masked as ``viewer`` may see it (for plugins)."""
    from .reader import Reader

    return Reader(services, viewer)


def may_see_personal_data(
    services: Services, case: Case, visits: Sequence[Visit], viewer: str | None
) -> bool:
    staff = services.actor(viewer) if viewer is not None else None
    return sees_in_clear(staff, case, lambda: visits)


def system_history(services: Services) -> list[Event]:
    """Events about no single case, oldest first."""
    return list(services.store.iter_events(chain=SYSTEM_CHAIN))


def institution_history(services: Services, institution_id: str) -> list[Event]:
    """The institution's own chain: its registration, policy changes and their refusals."""
    from .store import institution_chain

    return list(services.store.iter_events(chain=institution_chain(institution_id)))


def history(services: Services, ref: str | int, viewer: str | None = None) -> list[Event]:
    """The case's events; personal data in them masked unless ``viewer`` works it."""
    from .privacy import mask_event_data

    case = services.store.get_case(ref)
    assert case.id is not None
    events = list(services.store.iter_events(case.id))
    visits = services.store.visits(case.id, case.currency)
    if services.may_see_personal_data(case, visits, viewer):
        # A purge left digests where the personal data was: shown as withheld.
        return [
            attrs.evolve(
                e, payload={**e.payload, "data": mask_event_data(e.payload["data"], e.type)}
            )
            if e.payload.get("redacted") is True
            else e
            for e in events
        ]
    # Without their hashes too: a hash over guessable data (a phone number)
    # would let the masked value be found by trying candidates.
    return [
        attrs.evolve(
            e,
            payload={"data": mask_event_data(e.payload.get("data") or {}, e.type)},
            hash="",
            prev_hash="",
        )
        for e in events
    ]
