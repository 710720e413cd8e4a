"""Stage 1, confirmation: contact attempts through several channels, and the address confirmed.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import attrs

from . import lifecycle
from .errors import (
    InvalidInput,
    PolicyDenied,
)
from .lifecycle import Stage
from .model import (
    ActionContext,
    Case,
    ContactAttempt,
)
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


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
) -> ContactAttempt:
    staff, case = services.begin(ref, actor, at)
    choice(channel, lifecycle.CHANNELS, "channel")
    choice(target, lifecycle.TARGETS, "target")
    choice(outcome, lifecycle.OUTCOMES, "outcome")
    choice(purpose, lifecycle.PURPOSES, "purpose")
    attempted = {"channel": channel, "target": target, "outcome": outcome, "purpose": purpose}
    assert case.id is not None
    context = ActionContext(
        at=at,
        actor=staff.id,
        channel=channel,
        target=target,
        contacts=tuple(services.store.contacts(case.id)),
        staff_members=(staff,),
        # A contact on channel bureau is an inquiry recorded the old way: rules count both.
        inquiries=tuple(services.store.inquiries(case.id)) if channel == "bureau" else (),
    )
    services.guard(case, staff, "contact", at, attempted=attempted, context=context)
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
    )
    _, result = services.save_one("contact_recorded", case, staff.id, at, attempt, attempted)
    return result


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
        choice(source, (*lifecycle.CHANNELS, "visit", "institution"), "source")
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
