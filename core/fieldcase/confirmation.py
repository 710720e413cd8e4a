"""Stage 1, confirmation: contact attempts through several channels, the contact details
they turn up (phone, email, address), and the address confirmed.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import TYPE_CHECKING, Any

import attrs

from . import lifecycle
from .errors import (
    InvalidInput,
    PolicyDenied,
)
from .inquiries import as_inquiry
from .lifecycle import Stage
from .model import (
    ActionContext,
    Case,
    ContactAttempt,
    ContactDetail,
    Staff,
)
from .suggest import choice, hint

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

#: Where an address or a contact detail may come from besides a contact channel.
SOURCES = ("visit", "institution")


def record_contact(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    channel: str,
    target: str,
    outcome: str,
    note: str = "",
    purpose: str = "collect",
    relationship: str = "",
) -> ContactAttempt:
    """Record a contact attempt. ``channel`` is a built-in channel or one of the
    institution's messaging apps; a third party's ``relationship`` to the borrower
    is required, and a contact with the borrower has none."""
    staff, case = services.begin(ref, actor, at)
    services.check_channel(case, channel)
    choice(target, lifecycle.TARGETS, "target")
    choice(outcome, lifecycle.OUTCOMES, "outcome")
    choice(purpose, lifecycle.PURPOSES, "purpose")
    check_relationship(target, relationship)
    attempted = {"channel": channel, "target": target, "outcome": outcome, "purpose": purpose}
    if relationship:
        attempted["relationship"] = relationship
    guard_contact(services, case, staff, at, attempted)
    assert case.id is not None
    attempt = ContactAttempt(
        case_id=case.id,
        channel=channel,
        target=target,
        outcome=outcome,
        at=at,
        staff=staff.id,
        note=note,
        purpose=purpose,
        relationship=relationship,
    )
    _, result = services.save_one("contact_recorded", case, staff.id, at, attempt, attempted)
    return result


def guard_contact(
    services: Services, case: Case, staff: Staff, at: dt.datetime, attempted: dict[str, Any]
) -> None:
    """The checks of a contact (``attempted`` holds its ``channel`` and ``target``): time,
    permission, stage, and every rule of ``check_action`` on action ``contact``.

    One path for every kind of contact, so that a letter from a template
    (:mod:`fieldcase.messages`) is judged exactly as the same contact recorded by hand.
    """
    assert case.id is not None
    channel = attempted["channel"]
    context = ActionContext(
        at=at,
        actor=staff.id,
        channel=channel,
        target=attempted["target"],
        contacts=tuple(services.store.contacts(case.id)),
        staff_members=(staff,),
        # A contact on channel bureau is an inquiry recorded the old way: rules count both.
        inquiries=tuple(services.store.inquiries(case.id)) if channel == "bureau" else (),
    )
    # ...and it is judged as the inquiry it is, by the rules of inquiries, as well.
    also = (
        [("inquiry", case, as_inquiry(attrs.evolve(context, extra=attempted)))]
        if channel == "bureau"
        else []
    )
    services.guard(
        case, staff, "contact", at, attempted=attempted, context=context, also_judged_as=also
    )


def check_relationship(target: str, relationship: str) -> None:
    """A third party's relationship is required and one of RELATIONSHIPS; the borrower has none."""
    if target != "third-party":
        if relationship:
            raise InvalidInput(
                f"--relationship {relationship} is for a third party; a contact with the "
                "borrower has none (leave --relationship out, or pass --target third-party)"
            )
        return
    if not relationship:
        raise InvalidInput(
            "a third-party contact needs --relationship: who the person is to the borrower "
            f"({', '.join(lifecycle.RELATIONSHIPS)})"
        )
    if relationship not in lifecycle.RELATIONSHIPS:
        raise InvalidInput(
            f"relationship: {relationship!r} is not one of {', '.join(lifecycle.RELATIONSHIPS)}"
            + hint(relationship, lifecycle.RELATIONSHIPS)
        )


def confirm_address(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    address: str,
    source: str = "",
) -> Case:
    staff, case = services.begin(ref, actor, at)
    if not address.strip():
        raise InvalidInput("the confirmed address must not be empty")
    if source:
        services.check_channel(case, source, "source", SOURCES)
    attempted = {"address": address, "source": source}
    services.guard(case, staff, "confirm_address", at, attempted=attempted)
    # Eligibility is checked again before the case enters preparation.
    denials = services.eligibility(case, at)
    if denials:
        services.refuse(case, staff.id, at, "confirm_address", PolicyDenied(denials), attempted)
    saved, _ = services.save(
        "address_confirmed",
        attrs.evolve(
            case,
            confirmed_address=address,
            stage=Stage.PREPARATION,
            eligible=True,
            eligibility_note="",
        ),
        staff.id,
        at,
        data=attempted,
    )
    return saved


_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def record_details(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    phone: str = "",
    email: str = "",
    address: str = "",
    verified: bool = False,
    source: str = "",
    note: str = "",
) -> list[ContactDetail]:
    """Record a phone, email or address learned (or verified) while working the case.

    Each becomes the borrower's current one of its kind; the one it replaces
    stays in its record (``previous``) and in the event, so corrections are new
    records, never edits. ``source`` is the channel it came from, ``visit`` or
    ``institution``.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    given = {"phone": phone, "email": email, "address": address}
    learned = {kind: value.strip() for kind, value in given.items() if value.strip()}
    if not learned:
        raise InvalidInput("say what was learned: --phone, --email or --address")
    if "phone" in learned:
        learned["phone"] = _phone(services, case, learned["phone"])
    if "email" in learned:
        learned["email"] = _email(learned["email"])
    if source:
        services.check_channel(case, source, "source", SOURCES)
    current = attrs.asdict(case.borrower)
    unchanged = [kind for kind, value in learned.items() if current[kind] == value]
    if unchanged and not verified:
        raise InvalidInput(
            f"the borrower's {' and '.join(unchanged)} is that already; pass --verified "
            "to record that it was verified"
        )
    attempted: dict[str, Any] = {**learned, "verified": verified, "source": source}
    services.guard(case, staff, "record_details", at, attempted=attempted)
    details = [
        ContactDetail(
            case_id=case.id,
            kind=kind,
            value=value,
            at=at,
            staff=staff.id,
            verified=verified,
            source=source,
            note=note,
            previous=current[kind],
        )
        for kind, value in learned.items()
    ]
    fields: dict[str, Any] = dict(learned)  # phone, email, address: all text
    borrower = attrs.evolve(case.borrower, **fields)
    _, saved = services.save(
        "details_recorded",
        attrs.evolve(case, borrower=borrower),
        staff.id,
        at,
        details,
        data={**attempted, "note": note},
    )
    return [d for d in saved if isinstance(d, ContactDetail)]


def _phone(services: Services, case: Case, text: str) -> str:
    """A phone number in E.164 form, read in the case's jurisdiction, as at referral."""
    from .importing import normalise_phone

    region = services.judged(case).jurisdiction.split("-")[0].upper() or None
    try:
        return normalise_phone(text, region)
    except ValueError as exc:
        raise InvalidInput(f"phone: {text!r} {exc}") from None


def _email(text: str) -> str:
    """An email address with its domain in lower case, or InvalidInput saying why."""
    if not _EMAIL.match(text):
        raise InvalidInput(f"email: {text!r} is not an email address such as wang.fang@example.cn")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"
