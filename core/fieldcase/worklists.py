"""The worklist and the day plan: which cases come first, for whom.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from . import lifecycle
from .clock import aware
from .errors import (
    InstitutionNotFound,
)
from .lifecycle import Stage
from .model import (
    Case,
    Promise,
    Staff,
    Visit,
)
from .store import WorklistFilter
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


def _by_priority(pair: tuple[Case, float]) -> tuple[float, int]:
    """Worklist order: highest priority first, ties by case id."""
    return -pair[1], pair[0].id or 0


@attrs.frozen
class DayPlan:
    """What one staff member has on today: visits to make, promises falling due."""

    staff: Staff
    visits: list[tuple[Case, Visit]]
    promises: list[tuple[Case, Promise]]


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
    if filters.bucket:
        choice(filters.bucket, [b[0] for b in lifecycle.AGING_BUCKETS], "bucket")
    if filters.stage:
        choice(filters.stage, [str(s) for s in Stage], "stage")
    services.begin_action()
    if filters.institution:
        services.institution(filters.institution)
    if filters.search:
        filters = _scoped_search(services, filters, at, viewer)
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


def day_plan(services: Services, staff_id: str, at: dt.datetime) -> DayPlan:
    """One staff member's day: visits in window order, and promises falling due."""
    staff = services.actor(staff_id)
    visits = [
        (services.store.get_case(v.case_id), v)
        for v in services.store.visits_today(aware(at), staff.id)
    ]
    promises = [
        (services.store.get_case(p.case_id), p) for p in services.store.promises_due(at, staff.id)
    ]
    return DayPlan(staff=staff, visits=visits, promises=promises)
