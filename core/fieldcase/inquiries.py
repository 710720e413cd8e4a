"""Credit-bureau inquiries: the lender asking the bureau about the borrower.

An inquiry is its own record (table ``inquiries``), not a contact: it reaches
the bureau, not the borrower. Whether one may be made is for the rules
(``check_action`` with action ``inquiry``): the built-in ``default.inquiries``
counts hard inquiries against the institution's ``max_inquiries_per_year``
(:mod:`fieldcase.builtin.inquiries`), and the rule packs judge the purpose
and the credit relationship the law requires. An inquiry may still be
recorded the old way, as a contact on channel ``bureau``: the rules judge such
a contact as the inquiry it is too (:func:`as_inquiry`), and count the earlier
ones with the inquiries.

The action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from . import lifecycle
from .model import ActionContext, Inquiry
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services


def as_inquiry(context: ActionContext) -> ActionContext:
    """The context of a contact on channel ``bureau`` for the rules of ``inquiry``.

    Its kind is ``hard``: the contact says none, and a hard inquiry is the one
    the borrower's score pays for. It says no purpose either: a contact's
    (``collect``, ``locate``...) is not an inquiry's.
    """
    extra = {key: value for key, value in context.extra.items() if key != "purpose"}
    return attrs.evolve(context, extra={**extra, "kind": "hard"})


def record_inquiry(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    purpose: str,
    kind: str,
    bureau: str = "",
    note: str = "",
) -> Inquiry:
    """Record a credit-bureau inquiry about the case's borrower, if the rules allow it.

    The rules see the purpose and kind in ``context.extra`` and the case's
    earlier inquiries in ``context.inquiries`` (its contacts, legacy bureau
    ones among them, in ``context.contacts``).
    """
    staff, case = services.begin(ref, actor, at)
    choice(purpose, lifecycle.INQUIRY_PURPOSES, "purpose")
    choice(kind, lifecycle.INQUIRY_KINDS, "kind")
    assert case.id is not None
    attempted = {"purpose": purpose, "kind": kind, "bureau": bureau, "note": note}
    context = ActionContext(
        at=at,
        actor=staff.id,
        contacts=tuple(services.store.contacts(case.id)),
        staff_members=(staff,),
        inquiries=tuple(services.store.inquiries(case.id)),
    )
    services.guard(case, staff, "inquiry", at, attempted=attempted, context=context)
    inquiry = Inquiry(
        case_id=case.id,
        purpose=purpose,
        kind=kind,
        at=at,
        staff=staff.id,
        bureau=bureau,
        note=note,
    )
    _, saved = services.save("inquiry_recorded", case, staff.id, at, [inquiry], attempted)
    result = saved[0]
    assert isinstance(result, Inquiry)
    return result
