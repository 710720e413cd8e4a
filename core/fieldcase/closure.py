"""Closing a case, reopening it, and its compliance flags.

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

from . import lifecycle
from .errors import (
    InvalidInput,
    InvalidTransition,
)
from .lifecycle import Stage
from .model import (
    Case,
)
from .money import format_money
from .reviews import withdrawn
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


def close(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    resolution: str,
    note: str = "",
) -> Case:
    staff, case = services.begin(ref, actor, at)
    choice(resolution, lifecycle.RESOLUTIONS, "resolution")
    if resolution == "reviewed":
        raise InvalidInput(
            "a review closes as reviewed when a supervisor approves its findings "
            f"(fieldcase review {case.id} --approve), not by close"
        )
    attempted = {"resolution": resolution, "note": note}
    approved = case.stage == Stage.FEEDBACK and case.feedback_status == "approved"
    # Before approved feedback, "paid" and "withdrawn" are a supervisor's call; a review
    # ends by its approved findings, and any other ending is a supervisor's too.
    supervisor_only: str | bool = False
    if case.kind == "review":
        supervisor_only = f"end a review as {resolution} without approved findings"
    elif resolution in lifecycle.SUPERVISOR_RESOLUTIONS and not approved:
        supervisor_only = f"close a case as {resolution} before its feedback is approved"
    if resolution in ("paid", "settled") and not supervisor_only and case.id is not None:
        # Money closes a case by itself once counted payments clear it; "paid" with money
        # still owed (a worker's word, a reported payment) is a supervisor's call.
        owed = services.money_view(case.id, at).balance.total
        if owed > 0:
            supervisor_only = (
                f"close a case as {resolution} while it still owes "
                f"{format_money(owed, case.currency)} by the payments counted"
            )
    services.guard(case, staff, "close", at, attempted=attempted, supervisor_only=supervisor_only)
    if case.dispute is not None:
        services.refuse(
            case,
            staff.id,
            at,
            "close",
            InvalidTransition(
                f"case {case.id} has an open dispute ({case.dispute}): a supervisor decides it "
                f"first (fieldcase dispute decide {case.id} --uphold|--reject ...; --uphold "
                "--close closes it as dispute-upheld)",
                "dispute.open",
            ),
            attempted,
        )
    early = case.stage in lifecycle.EARLY_RESOLUTIONS.get(resolution, ())
    if early and case.stage == Stage.FEEDBACK and resolution == "unlocatable":
        # Only an escalated case (failed visits) is unlocatable from feedback.
        early = case.escalated and case.feedback_status != "submitted"
    if not (approved or early):
        allowed = [r for r, st in lifecycle.EARLY_RESOLUTIONS.items() if case.stage in st]
        services.refuse(
            case,
            staff.id,
            at,
            "close",
            InvalidTransition(
                f"cannot close case {case.id} as {resolution}: it is in stage {case.stage} "
                "without approved feedback; have the feedback approved first"
                + (f", or close it as {' / '.join(allowed)}" if allowed else ""),
                "stage.close",
            ),
            attempted,
        )
    saved, _ = services.save(
        "case_closed",
        attrs.evolve(case, stage=Stage.CLOSED, resolution=resolution, closed_at=at),
        staff.id,
        at,
        withdrawn(services, case, staff, at),
        data={**attempted, "from_stage": str(case.stage)},
    )
    return saved


def set_flags(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    note: str = "",
) -> Case:
    """Set or clear the compliance flags of a case (e.g. a cease-communication letter)."""
    staff, case = services.begin(ref, actor, at)
    for flag in (*add, *remove):
        choice(flag, lifecycle.FLAGS, "flag")
    flags = tuple(sorted((set(case.flags) | set(add)) - set(remove)))
    attempted = {"set": list(add), "clear": list(remove), "note": note}
    if flags == tuple(sorted(case.flags)):
        return case
    # Anyone on the case may raise a flag; only a supervisor may lift one.
    services.guard(
        case,
        staff,
        "flag",
        at,
        attempted=attempted,
        supervisor_only="clear a compliance flag" if remove else False,
    )
    saved, _ = services.save(
        "flags_changed",
        attrs.evolve(case, flags=flags),
        staff.id,
        at,
        data={**attempted, "flags": list(flags)},
    )
    return saved


def reopen(services: Services, ref: str | int, *, actor: str, at: dt.datetime, reason: str) -> Case:
    """Reopen a closed case: back to preparation (or confirmation without an address)."""
    staff, case = services.begin(ref, actor, at)
    if not reason.strip():
        raise InvalidInput("reopening needs --reason saying why")
    attempted = {"reason": reason}
    services.guard(case, staff, "reopen", at, attempted=attempted, supervisor_only=True)
    if case.kind == "review":
        # Reopened, it would be under review with no review in progress to end.
        services.refuse(
            case,
            staff.id,
            at,
            "reopen",
            InvalidTransition(
                f"case {case.id} is a performing loan's review: open its next review "
                f"instead (fieldcase reviews open {case.id} --trigger ...)",
                "review.reopen",
            ),
            attempted,
        )
    stage = Stage.PREPARATION if case.confirmed_address else Stage.CONFIRMATION
    saved, _ = services.save(
        "case_reopened",
        attrs.evolve(
            case,
            stage=stage,
            resolution=None,
            closed_at=None,
            feedback_status=None,
            escalated=False,
            failed_visits=0,
        ),
        staff.id,
        at,
        data={**attempted, "previous_resolution": case.resolution},
    )
    return saved
