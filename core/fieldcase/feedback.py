"""Stage 4, feedback: the visit record submitted to the institution, and its review.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import attrs

from .errors import (
    InvalidInput,
    InvalidTransition,
    NotPermitted,
)
from .lifecycle import Stage
from .model import (
    Case,
    Feedback,
    Review,
)
from .reviews import check_recommendation, finished

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

#: The overdue reason (see :mod:`fieldcase.builtin.reasons`) that calls for a dispute review.
DISPUTE = "dispute"


def submit_feedback(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    recommendation: str,
    summary: str,
) -> tuple[Case, Feedback]:
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    check_recommendation(case, recommendation)
    if not summary.strip():
        raise InvalidInput("summary must not be empty: say what was found and why")
    attempted = {"recommendation": recommendation}
    services.guard(case, staff, "submit_feedback", at, attempted=attempted)
    if case.feedback_status in ("submitted", "approved"):
        services.refuse(
            case,
            staff.id,
            at,
            "submit_feedback",
            InvalidTransition(
                f"feedback for case {case.id} was already "
                f"{'approved' if case.feedback_status == 'approved' else 'submitted'}; "
                "submitted feedback cannot be changed"
                + ("; a supervisor can return it" if case.feedback_status == "submitted" else ""),
                "feedback.immutable",
            ),
            attempted,
        )
    visits = services.store.visits(case.id, case.currency)
    feedback = Feedback(
        case_id=case.id,
        visit_id=visits[-1].id if visits else None,
        recommendation=recommendation,
        summary=summary,
        submitted_by=staff.id,
        submitted_at=at,
    )
    saved_case, result = services.save_one(
        "feedback_submitted",
        # A review's findings may come before or without a visit: they end its path.
        attrs.evolve(case, stage=Stage.FEEDBACK, feedback_status="submitted"),
        staff.id,
        at,
        feedback,
        data=attempted,
    )
    found = visits[-1].reason_code if visits else None
    if found == DISPUTE and recommendation != "dispute-review":
        # A dispute sent on as a debt to collect is what complaints are made of;
        # the field worker may still know better, so it is said, not refused.
        log.warning(
            "case %s: the overdue reason found at the interview is %s, but the "
            "recommendation is %s, not dispute-review; if the borrower disputes the debt, "
            "ask a supervisor to return this feedback and recommend dispute-review",
            case.id,
            DISPUTE,
            recommendation,
        )
    return saved_case, result


def review_feedback(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    approve: bool,
    note: str = "",
) -> tuple[Case, Feedback]:
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    if not approve and not note.strip():
        raise InvalidInput("returning feedback needs --note saying what to change")
    attempted = {"approve": approve, "note": note}
    services.guard(case, staff, "review", at, attempted=attempted, supervisor_only=True)
    if case.feedback_status != "submitted":
        services.refuse(
            case,
            staff.id,
            at,
            "review",
            InvalidTransition(
                f"case {case.id} has no feedback awaiting review "
                f"(feedback is {case.feedback_status or 'not submitted'})",
                "stage.review",
            ),
            attempted,
        )
    feedback = services.store.feedback(case.id)[-1]
    if feedback.submitted_by == staff.id:
        services.refuse(
            case,
            staff.id,
            at,
            "review",
            NotPermitted(
                f"you submitted this feedback ({staff.id}); another supervisor must review it",
                "review.four_eyes",
            ),
            attempted,
        )
    status = "approved" if approve else "returned"
    reviewed = attrs.evolve(
        feedback, review_status=status, reviewed_by=staff.id, reviewed_at=at, review_note=note
    )
    after, ended = attrs.evolve(case, feedback_status=status), list[Review]()
    if approve and case.kind == "review":
        # Approved findings end the review: closed until the next, or on to collection.
        after, ended = finished(services, case, feedback.recommendation, staff, at)
        attempted = {**attempted, "outcome": after.resolution or f"now {after.kind}"}
    saved_case, saved = services.save(
        f"feedback_{status}", after, staff.id, at, [reviewed, *ended], attempted
    )
    result = saved[0]
    assert isinstance(result, Feedback)
    return saved_case, result
