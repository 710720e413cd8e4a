"""Stage 2, preparation: the visit planned (date, window, staff) and its checklist ticked.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from .errors import (
    InvalidInput,
    InvalidTransition,
)
from .lifecycle import Stage
from .model import (
    ActionContext,
    Case,
    ChecklistItem,
    Visit,
)

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


def checklist_for(services: Services, case: Case) -> tuple[ChecklistItem, ...]:
    items: dict[str, ChecklistItem] = {}
    # pluggy calls the last-registered plugin first; defaults should lead the list.
    for batch in reversed(
        services.pm.hook.visit_checklist(
            case=services.judged(case), settings=services.settings(case)
        )
    ):
        for item in batch or []:
            items.setdefault(item.code, item)
    return tuple(items.values())


def plan_visit(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    date: dt.date,
    window: tuple[dt.time, dt.time],
    companions: Sequence[str] = (),
) -> tuple[Case, Visit]:
    """Plan (or re-plan) the next visit in the borrower's local time."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    start, end = window
    if start >= end:
        raise InvalidInput(f"visit window {start:%H:%M}-{end:%H:%M} must end after it starts")
    visiting = [case.assigned_to or staff.id]
    for other in companions:
        services.member(other, "--with")
        if other not in visiting:
            visiting.append(other)
    pending = services.pending_visit(case)
    draft = Visit(
        case_id=case.id,
        number=pending.number
        if pending
        else len(services.store.visits(case.id, case.currency)) + 1,
        date=date,
        window_start=start,
        window_end=end,
        timezone=case.borrower.timezone,
        staff=tuple(visiting),
        planned_by=staff.id,
        planned_at=at,
        id=pending.id if pending else None,
    )
    attempted = {
        "date": date.isoformat(),
        "window": f"{start:%H:%M}-{end:%H:%M}",
        "staff": visiting,
    }
    context = ActionContext(
        at=at,
        actor=staff.id,
        window=draft.window(),
        staff=tuple(visiting),
        staff_members=tuple(services.store.get_staff(s) for s in visiting),
        visits=tuple(services.store.visits(case.id, case.currency)),
    )
    services.guard(case, staff, "plan_visit", at, attempted=attempted, context=context)
    ticked = {i.code for i in pending.checklist if i.ticked} if pending else set()
    checklist = tuple(
        attrs.evolve(item, ticked=item.code in ticked) for item in services.checklist_for(case)
    )
    visit = attrs.evolve(draft, checklist=checklist)
    stage = Stage.INTERVIEW if visit.checklist_ready else case.stage
    saved_case, result = services.save_one(
        "visit_replanned" if pending else "visit_planned",
        attrs.evolve(case, stage=stage),
        staff.id,
        at,
        visit,
        data=attempted,
    )
    return saved_case, result


def tick_checklist(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    items: Sequence[str] = (),
    tick_all: bool = False,
) -> tuple[Case, Visit]:
    """Tick checklist items; when every required one is ticked the case moves to interview."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    attempted = {"items": list(items), "all": tick_all}
    services.guard(case, staff, "tick_checklist", at, attempted=attempted)
    visit = services.pending_visit(case)
    if visit is None:
        services.refuse(
            case,
            staff.id,
            at,
            "tick_checklist",
            InvalidTransition(
                f"case {case.id} has no planned visit; plan one first (fieldcase plan)",
                "stage.tick_checklist",
            ),
            attempted,
        )
    codes = {item.code for item in visit.checklist}
    unknown = [code for code in items if code not in codes]
    if unknown:
        raise InvalidInput(
            f"no checklist item {', '.join(unknown)}; items are {', '.join(sorted(codes))}"
        )
    chosen = codes if tick_all else set(items)
    checklist = tuple(
        attrs.evolve(item, ticked=item.ticked or item.code in chosen) for item in visit.checklist
    )
    visit = attrs.evolve(visit, checklist=checklist)
    stage = Stage.INTERVIEW if visit.checklist_ready else case.stage
    saved_case, result = services.save_one(
        "checklist_ticked",
        attrs.evolve(case, stage=stage),
        staff.id,
        at,
        visit,
        data={"ticked": sorted(chosen)},
    )
    return saved_case, result
