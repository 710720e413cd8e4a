"""The borrower's protections: disputes, hardship pauses and complaints.

Each holds or limits collection on a case without moving it along the
visit's path. An open dispute or a hardship pause is written on the case row
(``Case.dispute``, ``Case.paused_until``), and a complaint about contact
frequency lowers the limit until a date (``Case.fewer_contacts_until``): the
built-in rules (:mod:`fieldcase.builtin.protections`) and the worklist read
those. What they do to the money (penalty interest stopped or reduced, fees
reversed, promises excused) is worked out from the records by
:mod:`fieldcase.repayment`, so nothing is ever edited after the fact.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from . import lifecycle
from .errors import InvalidInput, InvalidTransition, NotPermitted
from .lifecycle import Stage
from .model import (
    ActionContext,
    Case,
    Complaint,
    CreditCorrection,
    Dispute,
    Evidence,
    Hardship,
)
from .policy import default
from .repayment import statuses_by_arrangement
from .reviews import withdrawn
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

_SHA256 = re.compile(r"[0-9a-f]{64}")


def fingerprint(text: str) -> str:
    """A SHA-256 given as 64 hex digits (any case), in lower case; else InvalidInput."""
    value = text.strip().lower()
    if not _SHA256.fullmatch(value):
        raise InvalidInput(
            f"--sha256 {text!r} is not a SHA-256 fingerprint (64 hex digits); compute one "
            "with 'sha256sum FILE', or pass --file FILE"
        )
    return value


def open_dispute(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    kind: str,
    note: str = "",
    since: dt.date | None = None,
) -> tuple[Case, Dispute]:
    """Open a dispute: collection is held until a supervisor decides it.

    ``since`` is the borrower's local date from which the overdue is disputed
    (default: the day it became overdue). Documents are added to it with
    :func:`add_evidence`. Once the case's last decided dispute was rejected,
    only a supervisor opens another (rule ``dispute.reopen``): else each
    rejection could be met with a new dispute, and collection held again.
    """
    staff, case = services.begin(ref, actor, at)
    choice(kind, lifecycle.DISPUTE_KINDS, "kind")
    assert case.id is not None
    today = case.local_date(at)
    since = since or case.overdue_since
    if since > today:
        raise InvalidInput(f"--since {since} is after today ({today} for the borrower)")
    if since < case.overdue_since:
        raise InvalidInput(
            f"--since {since} is before case {case.id} became overdue ({case.overdue_since})"
        )
    attempted: dict[str, Any] = {"kind": kind, "since": since.isoformat(), "note": note}
    services.guard(case, staff, "open_dispute", at, attempted=attempted)
    if case.dispute is not None:
        services.refuse(
            case,
            staff.id,
            at,
            "open_dispute",
            InvalidTransition(
                f"case {case.id} already has an open dispute ({case.dispute}); add to it "
                f"(fieldcase dispute evidence {case.id} ...) or have a supervisor decide it "
                f"(fieldcase dispute decide {case.id} ...)",
                "dispute.open",
            ),
            attempted,
        )
    decided = [d for d in services.store.disputes(case.id) if d.status != "open"]
    if decided and decided[-1].status == "rejected" and not staff.is_supervisor:
        last = decided[-1]
        assert last.decided_at is not None
        services.refuse(
            case,
            staff.id,
            at,
            "open_dispute",
            NotPermitted(
                f"dispute {last.id} on case {case.id} was rejected on "
                f"{case.local_date(last.decided_at)} by {last.decided_by}: only a supervisor "
                f"may open another; record what is new (fieldcase dispute evidence {case.id} "
                "...) and ask a supervisor",
                "dispute.reopen",
            ),
            attempted,
        )
    dispute = Dispute(
        case_id=case.id, kind=kind, since=since, opened_at=at, opened_by=staff.id, note=note
    )
    saved_case, saved = services.save(
        "dispute_opened", attrs.evolve(case, dispute=kind), staff.id, at, [dispute], attempted
    )
    opened = saved[0]
    assert isinstance(opened, Dispute)
    return saved_case, opened


def open_dispute_of(services: Services, case: Case) -> Dispute | None:
    assert case.id is not None
    found = [d for d in services.store.disputes(case.id) if d.status == "open"]
    return found[-1] if found else None


def add_evidence(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    description: str,
    sha256: str,
) -> Evidence:
    """Record a document offered for the case (for its open dispute, if any)."""
    staff, case = services.begin(ref, actor, at)
    if not description.strip():
        raise InvalidInput("say what the document is: --description 'bank statement, March'")
    digest = fingerprint(sha256)
    attempted = {"description": description, "sha256": digest}
    services.guard(case, staff, "add_evidence", at, attempted=attempted)
    assert case.id is not None
    dispute = open_dispute_of(services, case)
    evidence = Evidence(
        case_id=case.id,
        description=description,
        sha256=digest,
        added_at=at,
        added_by=staff.id,
        dispute_id=dispute.id if dispute else None,
    )
    _, saved = services.save("evidence_added", case, staff.id, at, [evidence], attempted)
    result = saved[0]
    assert isinstance(result, Evidence)
    return result


def decide_dispute(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    uphold: bool,
    note: str,
    close: bool = False,
) -> tuple[Case, Dispute, CreditCorrection | None]:
    """A supervisor upholds or rejects the open dispute, from whatever stage the case is in;
    not the one who opened it (four eyes).

    Upheld: the penalty interest from the disputed date is reversed (and the
    fees, if the policy says so), a credit-record correction is requested of
    the institution, and with ``close`` the case closes as ``dispute-upheld``:
    that close is judged by the rules of ``close`` as well, on the case as the
    decision leaves it. Rejected: collection resumes where it was, the penalty
    owed as before.
    """
    staff, case = services.begin(ref, actor, at)
    if not note.strip():
        raise InvalidInput("a decision needs --note saying why")
    if close and not uphold:
        raise InvalidInput("--close goes with --uphold: a rejected dispute leaves the case open")
    outcome = "upheld" if uphold else "rejected"
    attempted = {"outcome": outcome, "note": note, "close": close}
    closing = ActionContext(
        at=at, actor=staff.id, extra={"resolution": "dispute-upheld", "note": note}
    )
    services.guard(
        case,
        staff,
        "decide_dispute",
        at,
        attempted=attempted,
        supervisor_only="decide a dispute",
        also_judged_as=[("close", attrs.evolve(case, dispute=None), closing)] if close else (),
    )
    dispute = open_dispute_of(services, case)
    if dispute is None:
        services.refuse(
            case,
            staff.id,
            at,
            "decide_dispute",
            InvalidTransition(
                f"case {case.id} has no open dispute to decide (fieldcase dispute open "
                f"{case.id} --kind ... opens one)",
                "dispute.decide",
            ),
            attempted,
        )
    assert case.id is not None and dispute is not None and dispute.id is not None
    if dispute.opened_by == staff.id:
        # Four eyes: upholding reverses money; nobody does that on their own say-so.
        services.refuse(
            case,
            staff.id,
            at,
            "decide_dispute",
            NotPermitted(
                f"you opened dispute {dispute.id}: another supervisor decides it",
                "dispute.four_eyes",
            ),
            attempted,
        )
    reverse_fees = (
        uphold
        and services.settings(case).get("dispute_reverse_fees", default("dispute_reverse_fees"))
        == "yes"
    )
    decided = attrs.evolve(
        dispute,
        status=outcome,
        decided_at=at,
        decided_by=staff.id,
        decision_note=note,
        fees_reversed=reverse_fees,
    )
    records: list[Any] = [decided]
    correction = None
    if uphold:
        correction = CreditCorrection(
            case_id=case.id,
            dispute_id=dispute.id,
            since=dispute.since,
            reason=dispute.kind,
            requested_at=at,
            requested_by=staff.id,
        )
        records.append(correction)
    changed = attrs.evolve(case, dispute=None)
    if close:
        changed = attrs.evolve(
            changed, stage=Stage.CLOSED, resolution="dispute-upheld", closed_at=at
        )
        records += withdrawn(services, case, staff, at)
    saved_case, saved = services.save(
        "dispute_decided",
        changed,
        staff.id,
        at,
        records,
        {**attempted, "dispute": dispute.id, "from_stage": str(case.stage)},
    )
    result = saved[0]
    assert isinstance(result, Dispute)
    saved_correction = saved[1] if uphold else None
    assert saved_correction is None or isinstance(saved_correction, CreditCorrection)
    return saved_case, result, saved_correction


def current_hardship(services: Services, case: Case, at: dt.datetime) -> Hardship | None:
    """The hardship pause covering the borrower's day at ``at``, if any."""
    assert case.id is not None
    today = case.local_date(at)
    found = [h for h in services.store.hardships(case.id) if h.covers(today)]
    return found[-1] if found else None


def grant_hardship(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    until: dt.date,
    reason: str,
    note: str = "",
) -> tuple[Case, Hardship]:
    """Pause collection from today to ``until`` (the borrower's local dates, inclusive).

    The policy says who may grant it (``hardship_granted_by``) and the longest
    pause field staff may grant (``hardship_max_days``, counting the days paused
    in the last 365 too); a longer one needs a supervisor. Penalty interest
    accrues at ``hardship_penalty_share`` of its rate meanwhile. A pause dated
    back (``at`` on a day before the real one) would excuse promises already
    broken in the days between: only a supervisor grants one (rule
    ``hardship.backdate``).
    """
    staff, case = services.begin(ref, actor, at)
    choice(reason, lifecycle.HARDSHIP_REASONS, "reason")
    today = case.local_date(at)
    if until < today:
        raise InvalidInput(f"--until {until} is before today ({today} for the borrower)")
    settings = services.settings(case)
    longest = int(settings.get("hardship_max_days", default("hardship_max_days")))
    who = settings.get("hardship_granted_by", default("hardship_granted_by"))
    days = (until - today).days + 1
    attempted = {"until": until.isoformat(), "reason": reason, "note": note, "days": days}
    assert case.id is not None
    # Pauses back to back count together: field staff grant up to the longest in a year.
    year_ago = today - dt.timedelta(days=365)
    earlier = sum(
        max((min(h.last_day, today - dt.timedelta(days=1)) - max(h.starts, year_ago)).days + 1, 0)
        for h in services.store.hardships(case.id)
    )
    supervisor_only: bool | str = False
    if who == "supervisor":
        supervisor_only = f"grant a hardship pause under {case.institution}'s policy"
    elif days > longest:
        supervisor_only = (
            f"grant a hardship pause of {days} days (field staff up to {longest}, "
            "policy hardship_max_days)"
        )
    elif earlier + days > longest:
        supervisor_only = (
            f"grant a hardship pause of {days} days after {earlier} days paused in the last "
            f"365 (field staff up to {longest} in all, policy hardship_max_days)"
        )
    services.guard(
        case, staff, "grant_hardship", at, attempted=attempted, supervisor_only=supervisor_only
    )
    backdated = dated_back(services, case, today)
    if backdated is not None and not staff.is_supervisor:
        services.refuse(
            case,
            staff.id,
            at,
            "grant_hardship",
            NotPermitted(
                f"only a supervisor may grant a hardship pause from {today}, {backdated}; "
                "grant it from today (leave --at out), or ask a supervisor",
                "hardship.backdate",
            ),
            attempted,
        )
    running = current_hardship(services, case, at)
    if running is not None:
        services.refuse(
            case,
            staff.id,
            at,
            "grant_hardship",
            InvalidTransition(
                f"case {case.id} is already paused until {running.last_day}; end that pause "
                f"first (fieldcase hardship {case.id} --end --note ...) and grant the new one",
                "hardship.grant",
            ),
            attempted,
        )
    assert case.id is not None
    share = Decimal(str(settings.get("hardship_penalty_share", default("hardship_penalty_share"))))
    hardship = Hardship(
        case_id=case.id,
        reason=reason,
        starts=today,
        until=until,
        granted_at=at,
        granted_by=staff.id,
        penalty_share=share,
        note=note,
    )
    saved_case, saved = services.save(
        "hardship_granted",
        attrs.evolve(case, paused_until=until),
        staff.id,
        at,
        [hardship],
        {**attempted, "penalty_share": str(share)},
    )
    result = saved[0]
    assert isinstance(result, Hardship)
    return saved_case, result


def dated_back(services: Services, case: Case, starts: dt.date) -> str | None:
    """Why a pause from ``starts`` is dated back, said for people, or None.

    The real day (the borrower's, by the real clock) is the one that counts:
    field staff may claim an earlier time of it, never an earlier day, for the
    days between may hold promises already broken that the pause would excuse.
    Without a real clock (a replay) the claimed time is the real one.
    """
    real = services.recorded_at()
    if real is None or starts >= case.local_date(real):
        return None
    today = case.local_date(real)
    assert case.id is not None
    broken = [
        s.promise.due
        for s in statuses_by_arrangement(
            services.store.promises(case.id, case.currency),
            services.store.payments(case.id, case.currency),
            case.borrower.timezone,
            real,
            services.store.hardships(case.id),
        )
        if s.status == "broken" and starts <= s.promise.due
    ]
    if not broken:
        return f"before today ({today})"
    dues = ", ".join(str(due) for due in broken)
    which = "the promise" if len(broken) == 1 else "the promises"
    return f"before today ({today}): it would excuse {which} due {dues}, already broken"


def end_hardship(
    services: Services, ref: str | int, *, actor: str, at: dt.datetime, note: str
) -> tuple[Case, Hardship]:
    """End the running pause before its date: collection resumes today."""
    staff, case = services.begin(ref, actor, at)
    if not note.strip():
        raise InvalidInput("ending a pause early needs --note saying why")
    attempted = {"note": note}
    running = current_hardship(services, case, at)
    granted_by_supervisor = (
        running is not None and services.store.get_staff(running.granted_by).is_supervisor
    )
    services.guard(
        case,
        staff,
        "end_hardship",
        at,
        attempted=attempted,
        # A pause a supervisor granted is a supervisor's to end.
        supervisor_only="end a hardship pause a supervisor granted"
        if granted_by_supervisor
        else False,
    )
    if running is None:
        services.refuse(
            case,
            staff.id,
            at,
            "end_hardship",
            InvalidTransition(f"case {case.id} has no hardship pause running", "hardship.end"),
            attempted,
        )
    assert running is not None
    ended = attrs.evolve(
        running,
        ended_on=case.local_date(at) - dt.timedelta(days=1),
        ended_at=at,
        ended_by=staff.id,
        end_note=note,
    )
    saved_case, saved = services.save(
        "hardship_ended",
        attrs.evolve(case, paused_until=None),
        staff.id,
        at,
        [ended],
        {**attempted, "hardship": running.id},
    )
    result = saved[0]
    assert isinstance(result, Hardship)
    return saved_case, result


def record_complaint(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    about: str,
    note: str = "",
) -> tuple[Case, Complaint]:
    """Record a borrower's complaint; one about contact frequency lowers the limit for a time.

    For ``complaint_quiet_days`` (policy) after it, at most
    ``complaint_max_contacts_per_week`` contacts with the borrower a week are allowed
    (rule ``default.complaint``), on top of whatever the rule packs allow.
    """
    staff, case = services.begin(ref, actor, at)
    choice(about, lifecycle.COMPLAINT_ABOUT, "about")
    attempted = {"about": about, "note": note}
    services.guard(case, staff, "complaint", at, attempted=attempted)
    assert case.id is not None
    until = None
    changed = case
    if about == "contact-frequency":
        days = int(
            services.settings(case).get("complaint_quiet_days", default("complaint_quiet_days"))
        )
        if days:
            until = case.local_date(at) + dt.timedelta(days=days - 1)
            if case.fewer_contacts_until is not None:
                until = max(until, case.fewer_contacts_until)
            changed = attrs.evolve(case, fewer_contacts_until=until)
    complaint = Complaint(
        case_id=case.id,
        about=about,
        at=at,
        recorded_by=staff.id,
        note=note,
        fewer_contacts_until=until,
    )
    saved_case, saved = services.save(
        "complaint_recorded",
        changed,
        staff.id,
        at,
        [complaint],
        {**attempted, "fewer_contacts_until": until.isoformat() if until else None},
    )
    result = saved[0]
    assert isinstance(result, Complaint)
    return saved_case, result


def penalty_reliefs(
    disputes: Sequence[Dispute], hardships: Sequence[Hardship]
) -> list[tuple[dt.date, dt.date | None, Decimal]]:
    """Days on which penalty interest accrues at a share of its rate: (first, last, share).

    An open or upheld dispute stops it from its disputed date on (a rejected
    one does not: the penalty was owed all along); a hardship pause reduces it
    to the pause's share over the days it covered.
    """
    reliefs: list[tuple[dt.date, dt.date | None, Decimal]] = [
        (d.since, None, Decimal(0)) for d in disputes if d.status in ("open", "upheld")
    ]
    reliefs += [(h.starts, h.last_day, h.penalty_share) for h in hardships]
    return reliefs


#: The columns of ``fieldcase export corrections``: enough for the institution to
#: find the account and correct what it reported, and no personal data.
CORRECTION_COLUMNS = (
    "request",
    "institution",
    "reference",
    "case",
    "dispute",
    "reason",
    "not_borrowers_fault_since",
    "requested_at",
    "requested_by",
)


def export_corrections(
    services: Services,
    out: BinaryIO,
    *,
    fmt: str,
    actor: str,
    at: dt.datetime,
    institution: str | None = None,
    after: int | None = None,
    output_name: str = "-",
) -> tuple[int, int | None]:
    """Write the credit-record correction requests (after request ``after``) with the
    exporter ``fmt``; recorded before any row leaves. Returns (rows, last request id)."""
    from .formats import exporter_for
    from .rows import to_iso

    services.begin_action()
    staff = services.actor(actor, at)
    registered = services.institution(institution) if institution else None
    attempted = {
        "what": "corrections",
        "format": fmt,
        "output": output_name,
        "institution": institution,
        "after": after,
    }
    policy = registered.policy if registered else {}
    services.check_time(staff, at, policy, "export", attempted=attempted, institution=registered)
    if not staff.is_supervisor:
        services.refuse_unscoped(
            staff.id,
            at,
            "export",
            NotPermitted(
                "only a supervisor may export credit-record corrections", "permission.supervisor"
            ),
            attempted,
            registered,
        )
    services.check_unscoped("export", staff.id, at, institution, attempted)
    exporter = exporter_for(services.pm, fmt, None)
    found = services.store.credit_corrections(institution, after)
    started = services.record_system_event("export", staff.id, at, attempted)
    rows = [
        (
            request.id,
            case.institution,
            case.reference,
            case.id,
            request.dispute_id,
            request.reason,
            request.since.isoformat(),
            to_iso(request.requested_at),
            request.requested_by,
        )
        for request, case in found
    ]
    exporter.write(rows, CORRECTION_COLUMNS, out)
    out.flush()
    last = found[-1][0].id if found else after
    services.record_system_event(
        "export_completed",
        staff.id,
        at,
        {"export": started.id, "rows": len(rows), "cursor": last},
    )
    return len(rows), last
