"""The day's plan for one staff member: visits in route order, promises falling due,
calls to make (with when the rules allow them) and returned feedback to fix.

Reads only. Which case comes first is the worklist's (:mod:`fieldcase.worklists`);
when a call is allowed is the rule packs', asked by :mod:`fieldcase.contact_times`;
this module decides what belongs on the day and in what order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from .clock import aware
from .contact_times import NextContact, next_contact
from .lifecycle import Stage
from .model import Case, ContactAttempt, Feedback, Promise, Staff, Visit
from .store import WorklistFilter
from .worklists import worklist

if TYPE_CHECKING:
    from .services import Services

#: Institution attributes that name where a borrower lives, best first.
AREA_ATTRIBUTES = ("postcode", "postal_code", "zip", "district", "area")

#: A postal code in an address: US ZIP, a six-digit PIN or Chinese code, a UK postcode.
_POSTCODE = re.compile(r"\b(\d{5}(?:-\d{4})?|\d{6}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b")
#: A Chinese address up to its district or county: 上海市浦东新区, 杭州市西湖区.
_DISTRICT = re.compile(r"^(.*?[省市].*?[区县旗])")


@attrs.frozen
class PlannedVisit:
    case: Case
    visit: Visit
    #: The district, postcode or town the visit is in (see :func:`area`).
    area: str


@attrs.frozen
class ContactToMake:
    case: Case
    #: Its place in the staff member's worklist, 1 first.
    rank: int
    next: NextContact
    last: ContactAttempt | None


@attrs.frozen
class FeedbackToFix:
    case: Case
    feedback: Feedback


@attrs.frozen
class DayPlan:
    """What one staff member has on today."""

    staff: Staff
    visits: list[PlannedVisit]
    promises: list[tuple[Case, Promise]]
    contacts: list[ContactToMake] = attrs.field(factory=list)
    feedback: list[FeedbackToFix] = attrs.field(factory=list)


def area(case: Case) -> str:
    """Where the borrower lives, as coarsely as a route needs: a postcode or district
    attribute, else a postal code in the address, else a Chinese address's city and
    district (上海市浦东新区), else what follows the street (``Yonkers, NY``)."""
    for name in AREA_ATTRIBUTES:
        if case.attributes.get(name):
            return str(case.attributes[name])
    address = (case.confirmed_address or case.borrower.address).strip()
    code = _POSTCODE.search(address)
    if code:
        return code.group(1)
    district = _DISTRICT.match(address)
    if district:
        return district.group(1)
    street, _, rest = address.partition(",")
    return rest.strip() or street


def route_order(visits: Sequence[PlannedVisit]) -> list[PlannedVisit]:
    """Windows first (the borrower was told them); visits whose windows overlap one
    another go area by area, each area where its earliest window puts it."""
    by_start = sorted(visits, key=lambda p: (p.visit.window_start, p.visit.window_end))
    groups: list[list[PlannedVisit]] = []
    end: dt.time | None = None
    for planned in by_start:
        if end is None or planned.visit.window_start >= end:
            groups.append([])
            end = planned.visit.window_end
        groups[-1].append(planned)
        end = max(end, planned.visit.window_end)
    ordered: list[PlannedVisit] = []
    for group in groups:
        areas = list(dict.fromkeys(p.area for p in group))
        ordered += sorted(group, key=lambda p: areas.index(p.area))
    return ordered


def day_plan(services: Services, staff_id: str, at: dt.datetime) -> DayPlan:
    """One staff member's day at ``at`` (each borrower's today)."""
    at = aware(at)
    staff = services.actor(staff_id)
    store = services.store
    visits = route_order(
        [
            PlannedVisit(case, v, area(case))
            for v in store.visits_today(at, staff.id)
            for case in [store.get_case(v.case_id)]
        ]
    )
    promises = [(store.get_case(p.case_id), p) for p in store.promises_due(at, staff.id)]
    visiting = {p.case.id for p in visits}
    contacts, feedback = [], []
    ranked = worklist(services, WorklistFilter(staff=staff.id), at, limit=None)
    for rank, (case, _) in enumerate(ranked, 1):
        assert case.id is not None
        if case.stage == Stage.FEEDBACK and case.feedback_status == "returned":
            feedback.append(FeedbackToFix(case, store.feedback(case.id)[-1]))
        if case.id in visiting or not needs_contact(services, case):
            continue
        made = store.contacts(case.id)
        contacts.append(
            ContactToMake(case, rank, next_contact(services, case, at), made[-1] if made else None)
        )
    contacts.sort(key=_soonest)
    return DayPlan(staff, visits, promises, contacts, feedback)


def needs_contact(services: Services, case: Case) -> bool:
    """A case the worker reaches by calling: one in confirmation, or waiting in
    preparation for a visit to be agreed (none planned: new, or after nobody was home)."""
    if case.stage == Stage.CONFIRMATION:
        return True
    return case.stage == Stage.PREPARATION and services.pending_visit(case) is None


def _soonest(contact: ContactToMake) -> tuple[int, dt.datetime, int]:
    """Calls allowed now first, then by the time they are allowed, then not today; by rank."""
    allowed = contact.next.allowed
    if allowed is None:
        return 2, contact.next.asked, contact.rank
    return (0 if contact.next.now else 1), allowed, contact.rank
