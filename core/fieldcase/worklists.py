"""The worklist: which cases come first, for whom (the day plan is :mod:`.dayplan`).

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from . import lifecycle
from .errors import InstitutionNotFound, StaffNotFound
from .lifecycle import Stage
from .model import Case
from .store import WorklistFilter
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


def _by_priority(pair: tuple[Case, float]) -> tuple[float, int]:
    """Worklist order: highest priority first, ties by case id."""
    return -pair[1], pair[0].id or 0


@attrs.frozen
class WorklistPage:
    """One page of the worklist: ``rows`` from place ``offset + 1``, of ``total`` cases."""

    rows: list[tuple[Case, float]]
    offset: int
    total: int

    @property
    def cut(self) -> bool:
        """Whether cases are left out, before or after this page."""
        return self.offset > 0 or self.offset + len(self.rows) < self.total


def worklist(
    services: Services,
    filters: WorklistFilter,
    at: dt.datetime,
    *,
    limit: int | None = 50,
    viewer: str | None = None,
) -> list[tuple[Case, float]]:
    """Open cases matching ``filters``, highest ``case_priority`` first.

    A search finds names and references for anyone, and addresses only
    where ``viewer`` sees them in clear (supervisors: every case; field
    staff: the cases they work; nobody named: none), so that it cannot
    reveal a masked address one letter at a time. A search that may reach
    addresses is recorded (``searched``, in the system chain).
    """
    return _ranked(services, _checked(services, filters, at, viewer), at, limit)


def worklist_page(
    services: Services,
    filters: WorklistFilter,
    at: dt.datetime,
    *,
    limit: int,
    offset: int = 0,
    viewer: str | None = None,
) -> WorklistPage:
    """:func:`worklist` from place ``offset + 1``, with how many cases there are in all.

    Counted only when the page is full: a short page says the total itself.
    """
    filters = _checked(services, filters, at, viewer)
    rows = _ranked(services, filters, at, offset + limit)[offset:]
    if len(rows) < limit and (rows or not offset):
        total = offset + len(rows)
    else:
        total = services.store.count_cases(filters, at)
    return WorklistPage(rows, offset, total)


def check_staff_id(services: Services, staff_id: str) -> None:
    """StaffNotFound naming ``staff_id`` and the ids nearest it, unless it is a staff member's."""
    try:
        services.store.get_staff(staff_id)
    except StaffNotFound:
        known = [s.id for s in services.store.list_staff()]
        near = difflib.get_close_matches(staff_id, known, n=3, cutoff=0.5)
        raise StaffNotFound(
            f"no staff member {staff_id!r}"
            + (f"; did you mean {' or '.join(near)}?" if near else "")
            + " ('fieldcase staff' lists them)"
        ) from None


def _checked(
    services: Services, filters: WorklistFilter, at: dt.datetime, viewer: str | None
) -> WorklistFilter:
    """The filters checked (a wrong one is an error, not an empty list), a search scoped."""
    if filters.bucket:
        choice(filters.bucket, [b[0] for b in lifecycle.AGING_BUCKETS], "bucket")
    if filters.stage:
        choice(filters.stage, [str(s) for s in Stage], "stage")
    services.begin_action()
    if filters.staff:
        check_staff_id(services, filters.staff)
    if filters.institution:
        services.institution(filters.institution)
    if filters.search:
        filters = _scoped_search(services, filters, at, viewer)
    return filters


def _ranked(
    services: Services, filters: WorklistFilter, at: dt.datetime, limit: int | None
) -> list[tuple[Case, float]]:
    if limit is not None and not filters.include_closed and reads_from_index(services):
        return _worklist_by_index(services, filters, at, limit)
    cases = services.store.list_cases(filters, at)
    visiting = {visit.case_id for visit in services.store.visits_today(at)}
    broken = services.store.broken_promise_counts(at)
    ranked = []
    for case in cases:
        priority = services.pm.hook.case_priority(
            case=case,
            settings=_settings_if_registered(services, case),
            at=at,
            visit_today=case.id in visiting,
            broken_promises=broken.get(case.id or 0, 0),
        )
        ranked.append((case, float(priority or 0)))
    ranked.sort(key=_by_priority)
    return ranked[:limit] if limit is not None else ranked


def _scoped_search(
    services: Services, filters: WorklistFilter, at: dt.datetime, viewer: str | None
) -> WorklistFilter:
    if viewer is None:
        return attrs.evolve(filters, addresses="none")
    staff = services.actor(viewer, at)
    scoped = attrs.evolve(
        filters, addresses="all" if staff.is_supervisor else "own", searcher=staff.id
    )
    services.record_system_event(
        "searched", staff.id, at, {"text": filters.search, "addresses": scoped.addresses}
    )
    return scoped


def _settings_if_registered(services: Services, case: Case) -> Mapping[str, Any]:
    """For reading only: an unregistered institution's cases are listed, judged by nothing."""
    try:
        return services.settings(case)
    except InstitutionNotFound:
        return {}


def reads_from_index(services: Services) -> bool:
    """Whether the built-in priority is the only ``case_priority`` there is."""
    names = [impl.plugin_name for impl in services.pm.hook.case_priority.get_hookimpls()]
    return names == ["fieldcase.builtin.priority"]


def _worklist_by_index(
    services: Services, filters: WorklistFilter, at: dt.datetime, limit: int
) -> list[tuple[Case, float]]:
    """The built-in order, read from the ``arrears_key`` index (see :mod:`.ranking`)."""
    from .ranking import MAX_LOG_AMOUNT, priority

    def rank(candidates: Iterable[tuple[Case, bool, int]]) -> list[tuple[Case, float]]:
        return [
            (c, priority(c.days_past_due(at), float(c.overdue_amount), visit, broken))
            for c, visit, broken in candidates
        ]

    candidates, young_ranked = services.store.worklist_candidates(filters, at, limit)
    ranked = rank(candidates)
    ranked.sort(key=_by_priority)
    # A case not yet overdue counts 0 days, not fewer: the index order, which
    # counts fewer, can only miss one when the page reaches that low.
    floor = ranked[limit - 1][1] if len(ranked) >= limit else -math.inf
    if not young_ranked and floor <= MAX_LOG_AMOUNT:
        seen = {c.id for c, _ in ranked}
        young = [c for c in services.store.not_yet_overdue(filters, at) if c.id not in seen]
        ranked += rank((c, False, 0) for c in young)
        ranked.sort(key=_by_priority)
    return ranked[:limit]
