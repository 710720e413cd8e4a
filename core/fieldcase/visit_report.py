"""The visit report: what one visit found, as a lender files it, assembled for one viewer.

:func:`build_visit_report` reads a case through the plugin read interface
(:class:`~fieldcase.reader.Reader`) and nothing else, so the report holds
exactly what its viewer may see: the borrower's contact details, the
visit's findings on money, notes, coordinates and photos are masked for
someone who may not see the case's personal data, and so are the events'
hashes. A :class:`VisitReport` is a value; drawing it (a PDF) is a plugin's
job (hook ``render_visit_report``; the bundled fieldcase-documents draws
it), and ``fieldcase report visit`` (:mod:`fieldcase.visit_report_commands`)
records that it was drawn.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

from .errors import FieldcaseError, InstitutionNotFound

if TYPE_CHECKING:
    from .model import Case, Event, Offer, Visit
    from .reader import Reader
    from .services import Services

#: The events that prove a visit: its plan and checklist, what was found on site, the
#: check-ins and files of the visit, the offers made and accepted, the feedback and
#: its review.
VISIT_EVENTS = frozenset(
    {
        "visit_planned",
        "visit_replanned",
        "checklist_ticked",
        "visit_failed",
        "interview_recorded",
        "checked_in",
        "attachment_added",
        "offers_presented",
        "offer_approved",
        "offer_declined",
        "offer_accepted",
        "promise_made",
        "feedback_submitted",
        "feedback_returned",
        "feedback_approved",
    }
)

#: Visit statuses of a visit that was made (someone went; "failed": nobody was met).
MADE = ("done", "failed")


class NoVisitMade(FieldcaseError):
    """The case has no visit that was made, or not the one asked for."""


@attrs.frozen
class Person:
    """A staff member as the report names them."""

    id: str
    name: str


@attrs.frozen
class ReportCase:
    """The case the visit was made on; amounts in the case's currency."""

    id: int
    label: str
    institution: str
    institution_name: str
    reference: str
    jurisdiction: str
    currency: str
    principal: Decimal
    overdue_amount: Decimal
    overdue_since: dt.date
    #: Days past due on the day of the visit (the borrower's calendar).
    days_past_due: int
    #: What the case owed at the visit, penalty and fees included; None if unknown.
    balance_at_visit: Decimal | None
    stage: str
    resolution: str | None
    assigned_to: str | None


@attrs.frozen
class ReportBorrower:
    """The borrower, masked as the viewer may see them."""

    name: str
    national_id: str
    phone: str
    address: str
    confirmed_address: str | None
    timezone: str


@attrs.frozen
class ReportVisit:
    """The visit: its plan and what was found on site (money and notes masked likewise)."""

    number: int
    status: str
    date: dt.date
    window: str
    timezone: str
    #: When the visit was recorded, in the borrower's local time.
    visited_at: dt.datetime | None
    staff: tuple[Person, ...]
    recorded_by: str | None
    met: str | None
    reason_code: str | None
    reason_label: str | None
    employment: str | None
    industry: str | None
    employer: str | None
    monthly_income: Decimal | None
    other_debts: Decimal | None
    monthly_repayments: Decimal | None
    multi_lender: bool | None
    lenders: int | None
    attitude: str | None
    notes: str


@attrs.frozen
class ReportCheckIn:
    """A check-in on the visit: where (masked likewise), how far from the known place."""

    at: dt.datetime
    staff: str
    lat: str | None
    lon: str | None
    accuracy_m: int | None
    distance_m: int | None
    reference: str
    limit_m: int | None
    far: bool


@attrs.frozen
class ReportAttachment:
    """A photo or document attached to the visit; ``content`` only when the viewer may
    see it (a photo is personal: faces, homes)."""

    id: int
    kind: str
    media_type: str
    size: int
    sha256: str
    taken_at: dt.datetime | None
    note: str
    content: bytes | None = attrs.field(default=None, repr=False)

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


@attrs.frozen
class ReportOffer:
    """A repayment offer presented on the visit, with what became of it."""

    id: int | None
    code: str
    kind: str
    label: str
    total_payable: Decimal
    saving: Decimal
    installments: int
    first_due: dt.date | None
    status: str
    presented_at: dt.datetime | None
    accepted_at: dt.datetime | None


@attrs.frozen
class ReportFeedback:
    """The recommendation fed back, and its review (summary and note masked likewise)."""

    recommendation: str
    summary: str
    submitted_by: str
    submitted_at: dt.datetime
    review_status: str
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    review_note: str


@attrs.frozen
class ReportEvent:
    """An event of the visit in the case's hash chain; ``hash`` empty where withheld."""

    id: int
    type: str
    at: dt.datetime
    actor: str | None
    hash: str


@attrs.frozen
class VisitReport:
    """One visit of one case, as the viewer may see it, at ``prepared_at``."""

    prepared_at: dt.datetime
    #: Whom the report was prepared for (``--as``); it shows what they may see.
    viewer: str | None
    #: Whether personal data is masked in it (the viewer may not see the case in clear).
    masked: bool
    case: ReportCase
    borrower: ReportBorrower
    visit: ReportVisit
    checkins: tuple[ReportCheckIn, ...]
    attachments: tuple[ReportAttachment, ...]
    offers: tuple[ReportOffer, ...]
    feedback: tuple[ReportFeedback, ...]
    events: tuple[ReportEvent, ...]

    @property
    def accepted(self) -> tuple[ReportOffer, ...]:
        """The offers the borrower accepted."""
        return tuple(o for o in self.offers if o.status == "accepted")

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data: files by their fingerprint, not their bytes."""
        data = attrs.asdict(self, filter=lambda field, _: field.name != "content")
        for shown, attachment in zip(data["attachments"], self.attachments, strict=True):
            shown["content_included"] = attachment.content is not None
        return data


def build_visit_report(
    reader: Reader, case: Case, visit_number: int | None = None, *, at: dt.datetime
) -> VisitReport:
    """The report of visit ``visit_number`` of ``case`` (default: the latest made), as
    ``reader``'s viewer may see it, prepared at ``at`` (aware).

    :class:`NoVisitMade` when the case has no such visit, or it was not made yet.
    """
    case = reader.case(case.id if case.id is not None else case.label)
    visits = reader.visits(case)
    visit = _chosen_visit(case, visits, visit_number)
    staff = {s.id: s.name for s in reader.staff()}
    institutions = {i.id: i.name for i in reader.institutions()}
    reasons = reader.reasons()
    masked = not reader.sees_in_clear(case)
    moment = visit.visited_at or visit.window()[0]
    # The visit's part of the case ends where the next visit is planned.
    until = min((v.planned_at for v in visits if v.number > visit.number), default=None)
    b = case.borrower
    assert case.id is not None
    return VisitReport(
        prepared_at=at,
        viewer=reader.viewer,
        masked=masked,
        case=ReportCase(
            id=case.id,
            label=case.label,
            institution=case.institution,
            institution_name=institutions.get(case.institution, case.institution),
            reference=case.reference,
            jurisdiction=case.jurisdiction,
            currency=case.currency,
            principal=case.principal,
            overdue_amount=case.overdue_amount,
            overdue_since=case.overdue_since,
            days_past_due=case.days_past_due(moment),
            balance_at_visit=_balance(reader, case, moment),
            stage=str(case.stage),
            resolution=case.resolution,
            assigned_to=case.assigned_to,
        ),
        borrower=ReportBorrower(
            name=b.name,
            national_id=b.national_id,
            phone=b.phone,
            address=b.address,
            confirmed_address=case.confirmed_address,
            timezone=b.timezone,
        ),
        visit=ReportVisit(
            number=visit.number,
            status=visit.status,
            date=visit.date,
            window=f"{visit.window_start:%H:%M}-{visit.window_end:%H:%M}",
            timezone=visit.timezone,
            visited_at=(
                visit.visited_at.astimezone(ZoneInfo(visit.timezone)) if visit.visited_at else None
            ),
            staff=tuple(Person(s, staff.get(s, s)) for s in visit.staff),
            recorded_by=visit.recorded_by,
            met=visit.met,
            reason_code=visit.reason_code,
            reason_label=(
                reasons[visit.reason_code].label
                if visit.reason_code in reasons
                else visit.reason_code
            ),
            employment=visit.employment,
            industry=visit.industry,
            employer=visit.employer,
            monthly_income=visit.monthly_income,
            other_debts=visit.other_debts,
            monthly_repayments=visit.monthly_repayments,
            multi_lender=visit.multi_lender,
            lenders=visit.lenders,
            attitude=visit.attitude,
            notes=visit.notes,
        ),
        checkins=_checkins(reader, case, visit),
        attachments=_attachments(reader, case, visit),
        offers=tuple(
            _offer(o)
            for o in reader.offers(case)
            if _between(o.presented_at, visit.visited_at, until)
        ),
        feedback=tuple(
            ReportFeedback(
                recommendation=f.recommendation,
                summary=f.summary,
                submitted_by=f.submitted_by,
                submitted_at=f.submitted_at,
                review_status=f.review_status,
                reviewed_by=f.reviewed_by,
                reviewed_at=f.reviewed_at,
                review_note=f.review_note,
            )
            for f in reader.feedback(case)
            if f.visit_id is not None and f.visit_id == visit.id
        ),
        events=tuple(
            ReportEvent(e.id, e.type, e.at, e.actor, e.hash)
            for e in _visit_events(reader, case, visit)
            if e.id is not None
        ),
    )


class NoRenderer(FieldcaseError):
    """No installed plugin draws visit reports in the format asked for."""


def draw_visit_report(
    services: Services, report: VisitReport, path: Path, *, actor: str, output_name: str
) -> Event:
    """Have a plugin draw ``report`` into ``path``, then record it: a ``visit_report``
    event on the system chain (who, which case and visit, the file, masked or not),
    as an export is recorded, since the file takes the case's data out of fieldcase."""
    drawn = services.pm.hook.render_visit_report(report=report, path=path)
    if not drawn:
        raise NoRenderer(
            f"no plugin renders visit reports as {path.suffix or 'that'}; install "
            "fieldcase-documents (PDF) and name a .pdf file"
        )
    return services.record_system_event(
        "visit_report",
        actor,
        report.prepared_at,
        {
            "case": report.case.id,
            "visit": report.visit.number,
            "output": output_name,
            "masked": report.masked,
        },
    )


def _chosen_visit(case: Case, visits: list[Visit], number: int | None) -> Visit:
    made = [v for v in visits if v.status in MADE]
    if number is None:
        if not made:
            planned = f" (visit {visits[-1].number} is {visits[-1].status})" if visits else ""
            raise NoVisitMade(
                f"case {case.id} has no visit made yet{planned}; a visit report is of a visit "
                "someone went on: record it with fieldcase interview"
            )
        return made[-1]
    for visit in visits:
        if visit.number == number:
            if visit.status not in MADE:
                raise NoVisitMade(
                    f"visit {number} of case {case.id} is {visit.status}, not made yet; "
                    "record it with fieldcase interview"
                )
            return visit
    numbers = ", ".join(str(v.number) for v in made) or "none"
    raise NoVisitMade(f"case {case.id} has no visit {number} (visits made: {numbers})")


def _balance(reader: Reader, case: Case, at: dt.datetime) -> Decimal | None:
    try:
        return reader.balance(case, at).total
    except InstitutionNotFound:  # a case of an institution no longer registered
        return None


def _between(at: dt.datetime | None, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """Whether ``at`` falls in the visit's part of the case: from it to the next plan."""
    if at is None or start is None:
        return False
    return at >= start and (end is None or at < end)


def _offer(offer: Offer) -> ReportOffer:
    return ReportOffer(
        id=offer.id,
        code=offer.code,
        kind=offer.kind,
        label=offer.label,
        total_payable=offer.total_payable,
        saving=offer.saving,
        installments=len(offer.schedule),
        first_due=offer.schedule[0].due if offer.schedule else None,
        status=offer.status,
        presented_at=offer.presented_at,
        accepted_at=offer.accepted_at,
    )


def _checkins(reader: Reader, case: Case, visit: Visit) -> tuple[ReportCheckIn, ...]:
    return tuple(
        ReportCheckIn(
            at=c.at,
            staff=c.staff,
            lat=None if c.lat is None else str(c.lat),
            lon=None if c.lon is None else str(c.lon),
            accuracy_m=c.accuracy_m,
            distance_m=c.distance_m,
            reference=c.reference,
            limit_m=c.limit_m,
            far=c.far,
        )
        for c in reader.checkins(case)
        if c.visit_number == visit.number
    )


def _attachments(reader: Reader, case: Case, visit: Visit) -> tuple[ReportAttachment, ...]:
    shown = []
    clear = reader.sees_in_clear(case)
    for a in reader.attachments(case):
        if a.visit_number != visit.number or a.id is None:
            continue
        content: bytes | None = None
        if clear:
            try:
                content = reader.attachment_content(a)
            except FieldcaseError:  # withheld, or gone with a purge
                content = None
        shown.append(
            ReportAttachment(
                id=a.id,
                kind=a.kind,
                media_type=a.media_type,
                size=a.size,
                sha256=a.sha256,
                taken_at=a.taken_at,
                note=a.note,
                content=content,
            )
        )
    return tuple(shown)


def _visit_events(reader: Reader, case: Case, visit: Visit) -> list[Event]:
    """The visit's events: from its planning to the planning of the next visit."""
    events = list(reader.events(case))
    planned = [e for e in events if e.type == "visit_planned"]
    # The n-th visit planned is visit n; its planning claims the visit's planned_at.
    start = next((e for e in planned if e.at == visit.planned_at), None)
    if start is None and len(planned) >= visit.number:
        start = planned[visit.number - 1]
    later = [e for e in planned if start is not None and (e.id or 0) > (start.id or 0)]
    first = start.id if start is not None and start.id is not None else 0
    last = later[0].id if later and later[0].id is not None else None
    return [
        e
        for e in events
        if e.type in VISIT_EVENTS and (e.id or 0) >= first and (last is None or (e.id or 0) < last)
    ]
