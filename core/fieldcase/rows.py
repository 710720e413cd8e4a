"""Values and table rows: each record's row and back, and the columns derived from rows.

The store writes and reads rows through these; the migrations that fill a
derived column use them too, so they live apart from the store itself.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import attrs

from .commitments import canonical_json
from .lifecycle import Stage
from .model import (
    Attachment,
    Borrower,
    Case,
    CheckIn,
    ChecklistItem,
    Complaint,
    ContactAttempt,
    ContactDetail,
    CreditCorrection,
    Dispute,
    Event,
    EventCorrection,
    Evidence,
    Feedback,
    Hardship,
    Inquiry,
    Institution,
    Offer,
    Payment,
    PolicyVersion,
    Promise,
    Review,
    ScheduledPayment,
    Staff,
    Visit,
)
from .money import from_minor, to_minor
from .privacy import mask_phone, mask_tail
from .ranking import arrears_key


@attrs.frozen
class CaseRow:
    """A case already in row form, for bulk imports: no conversion on the way in."""

    row: dict[str, Any]


@attrs.frozen
class TableRow:
    """A row of any state table as it is to be written, already in row form: what a
    correction writes back (a row as it was before the event it voids)."""

    table: str
    row: dict[str, Any]


@attrs.frozen
class Removal:
    """A row to take out of a state table: one that only a voided event wrote. Its id
    is never handed out again (``voided_rows``)."""

    table: str
    id: int
    case_id: int


def to_iso(value: dt.datetime) -> str:
    """Aware datetime -> ISO-8601 UTC text; naive datetimes are a programming error."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: fieldcase times are timezone-aware")
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def printable(value: Any) -> Any:
    """``value`` as JSON can hold it: a date (or time) as ISO text, anything else as is."""
    return value.isoformat() if isinstance(value, dt.date) else value


def from_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def case_to_row(case: Case) -> dict[str, Any]:
    b = case.borrower
    return {
        "id": case.id,
        "institution": case.institution,
        "reference": case.reference,
        "borrower_name": b.name,
        "national_id": b.national_id,
        "phone": b.phone,
        "national_id_masked": mask_tail(b.national_id),
        "phone_masked": mask_phone(b.phone),
        "address": b.address,
        "email": b.email,
        "timezone": b.timezone,
        "jurisdiction": case.jurisdiction,
        "currency": case.currency,
        "principal_minor": to_minor(case.principal, case.currency),
        "overdue_minor": to_minor(case.overdue_amount, case.currency),
        "overdue_since": case.overdue_since.isoformat(),
        "referred_at": to_iso(case.referred_at),
        "stage": str(case.stage),
        "assigned_to": case.assigned_to,
        "eligible": int(case.eligible),
        "eligibility_note": case.eligibility_note,
        "confirmed_address": case.confirmed_address,
        "failed_visits": case.failed_visits,
        "escalated": int(case.escalated),
        "feedback_status": case.feedback_status,
        "resolution": case.resolution,
        "closed_at": to_iso(case.closed_at) if case.closed_at else None,
        "updated_at": to_iso(case.updated_at) if case.updated_at else None,
        "version": case.version,
        "interest_minor": to_minor(case.accrued_interest, case.currency),
        "fees_minor": to_minor(case.fees, case.currency),
        "penalty_rate": str(case.penalty_rate),
        "flags": canonical_json(sorted(case.flags)),
        "attributes": canonical_json(case.attributes),
        "dispute": case.dispute,
        "paused_until": _date_text(case.paused_until),
        "fewer_contacts_until": _date_text(case.fewer_contacts_until),
        "kind": case.kind,
        "installment_minor": (
            None if case.installment is None else to_minor(case.installment, case.currency)
        ),
        "next_review": _date_text(case.next_review),
        # Degrees as exact text, as they are in the event.
        "latitude": degrees_text(b.latitude),
        "longitude": degrees_text(b.longitude),
        **({"purged_at": to_iso(case.purged_at)} if case.purged_at else {}),
    }


def row_to_case(row: dict[str, Any]) -> Case:
    currency = row["currency"]
    referred_at = from_iso(row["referred_at"])
    assert referred_at is not None
    return Case(
        id=row["id"],
        institution=row["institution"],
        reference=row["reference"],
        borrower=Borrower(
            name=row["borrower_name"],
            timezone=row["timezone"],
            national_id=row["national_id"] or "",
            phone=row["phone"] or "",
            address=row["address"] or "",
            email=row.get("email") or "",
            latitude=degrees_from_text(row.get("latitude")),
            longitude=degrees_from_text(row.get("longitude")),
        ),
        jurisdiction=row["jurisdiction"] or "",
        currency=currency,
        principal=from_minor(row["principal_minor"], currency),
        overdue_amount=from_minor(row["overdue_minor"], currency),
        overdue_since=dt.date.fromisoformat(row["overdue_since"]),
        referred_at=referred_at,
        stage=Stage(row["stage"]),
        assigned_to=row["assigned_to"],
        eligible=bool(row["eligible"]),
        eligibility_note=row["eligibility_note"] or "",
        confirmed_address=row["confirmed_address"],
        failed_visits=row["failed_visits"],
        escalated=bool(row["escalated"]),
        feedback_status=row["feedback_status"],
        resolution=row["resolution"],
        closed_at=from_iso(row["closed_at"]),
        updated_at=from_iso(row["updated_at"]),
        version=row["version"],
        accrued_interest=from_minor(row.get("interest_minor") or 0, currency),
        fees=from_minor(row.get("fees_minor") or 0, currency),
        penalty_rate=Decimal(row.get("penalty_rate") or "0"),
        flags=tuple(json.loads(row.get("flags") or "[]")),
        purged_at=from_iso(row.get("purged_at")),
        attributes=json.loads(row.get("attributes") or "{}"),
        dispute=row.get("dispute"),
        paused_until=_date(row.get("paused_until")),
        fewer_contacts_until=_date(row.get("fewer_contacts_until")),
        kind=row.get("kind") or "collection",
        installment=(
            None
            if row.get("installment_minor") is None
            else from_minor(row["installment_minor"], currency)
        ),
        next_review=_date(row.get("next_review")),
    )


def degrees_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def degrees_from_text(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _date_text(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _time_text(moment: dt.datetime | None) -> str | None:
    return None if moment is None else to_iso(moment)


def dispute_to_row(dispute: Dispute) -> dict[str, Any]:
    row = attrs.asdict(dispute)
    row.update(
        since=dispute.since.isoformat(),
        opened_at=to_iso(dispute.opened_at),
        decided_at=_time_text(dispute.decided_at),
        fees_reversed=int(dispute.fees_reversed),
    )
    return row


def row_to_dispute(row: dict[str, Any]) -> Dispute:
    opened_at = from_iso(row["opened_at"])
    assert opened_at is not None
    return Dispute(
        **{
            **row,
            "since": dt.date.fromisoformat(row["since"]),
            "opened_at": opened_at,
            "decided_at": from_iso(row["decided_at"]),
            "note": row["note"] or "",
            "decision_note": row["decision_note"] or "",
            "fees_reversed": bool(row["fees_reversed"]),
        }
    )


def evidence_to_row(evidence: Evidence) -> dict[str, Any]:
    return {**attrs.asdict(evidence), "added_at": to_iso(evidence.added_at)}


def row_to_evidence(row: dict[str, Any]) -> Evidence:
    added_at = from_iso(row["added_at"])
    assert added_at is not None
    return Evidence(**{**row, "added_at": added_at, "description": row["description"] or ""})


def hardship_to_row(hardship: Hardship) -> dict[str, Any]:
    row = attrs.asdict(hardship)
    row.update(
        starts=hardship.starts.isoformat(),
        until=hardship.until.isoformat(),
        granted_at=to_iso(hardship.granted_at),
        penalty_share=str(hardship.penalty_share),
        ended_on=_date_text(hardship.ended_on),
        ended_at=_time_text(hardship.ended_at),
    )
    return row


def row_to_hardship(row: dict[str, Any]) -> Hardship:
    granted_at = from_iso(row["granted_at"])
    assert granted_at is not None
    return Hardship(
        **{
            **row,
            "starts": dt.date.fromisoformat(row["starts"]),
            "until": dt.date.fromisoformat(row["until"]),
            "granted_at": granted_at,
            "penalty_share": Decimal(row["penalty_share"] or "0"),
            "ended_on": _date(row["ended_on"]),
            "ended_at": from_iso(row["ended_at"]),
            "note": row["note"] or "",
            "end_note": row["end_note"] or "",
        }
    )


def complaint_to_row(complaint: Complaint) -> dict[str, Any]:
    row = attrs.asdict(complaint)
    row.update(
        at=to_iso(complaint.at), fewer_contacts_until=_date_text(complaint.fewer_contacts_until)
    )
    return row


def event_correction_to_row(correction: EventCorrection) -> dict[str, Any]:
    row = attrs.asdict(correction)
    row.update(made_at=to_iso(correction.made_at), changes=canonical_json(correction.changes))
    return row


def row_to_event_correction(row: dict[str, Any]) -> EventCorrection:
    made_at = from_iso(row["made_at"])
    assert made_at is not None
    return EventCorrection(
        **{**row, "made_at": made_at, "changes": json.loads(row["changes"] or "{}")}
    )


def row_to_complaint(row: dict[str, Any]) -> Complaint:
    at = from_iso(row["at"])
    assert at is not None
    return Complaint(
        **{
            **row,
            "at": at,
            "note": row["note"] or "",
            "fewer_contacts_until": _date(row["fewer_contacts_until"]),
        }
    )


def inquiry_to_row(inquiry: Inquiry) -> dict[str, Any]:
    return {**attrs.asdict(inquiry), "at": to_iso(inquiry.at)}


def row_to_inquiry(row: dict[str, Any]) -> Inquiry:
    at = from_iso(row["at"])
    assert at is not None
    return Inquiry(**{**row, "at": at, "bureau": row["bureau"] or "", "note": row["note"] or ""})


def checkin_to_row(checkin: CheckIn) -> dict[str, Any]:
    return {
        **attrs.asdict(checkin),
        "at": to_iso(checkin.at),
        "lat": degrees_text(checkin.lat),
        "lon": degrees_text(checkin.lon),
        "far": int(checkin.far),
    }


def row_to_checkin(row: dict[str, Any]) -> CheckIn:
    at = from_iso(row["at"])
    assert at is not None
    return CheckIn(
        **{
            **row,
            "at": at,
            "lat": degrees_from_text(row["lat"]),
            "lon": degrees_from_text(row["lon"]),
            "reference": row["reference"] or "",
            "far": bool(row["far"]),
        }
    )


def attachment_to_row(attachment: Attachment) -> dict[str, Any]:
    return {
        **attrs.asdict(attachment),
        "at": to_iso(attachment.at),
        "taken_at": None if attachment.taken_at is None else to_iso(attachment.taken_at),
        # Degrees as exact text, as they are in the event.
        "lat": degrees_text(attachment.lat),
        "lon": degrees_text(attachment.lon),
        "purged_at": None if attachment.purged_at is None else to_iso(attachment.purged_at),
    }


def row_to_attachment(row: dict[str, Any]) -> Attachment:
    at = from_iso(row["at"])
    assert at is not None
    return Attachment(
        **{
            **row,
            "at": at,
            "taken_at": from_iso(row["taken_at"]),
            "lat": degrees_from_text(row["lat"]),
            "lon": degrees_from_text(row["lon"]),
            "purged_at": from_iso(row["purged_at"]),
            "filename": row["filename"] or "",
            "note": row["note"] or "",
        }
    )


def correction_to_row(correction: CreditCorrection) -> dict[str, Any]:
    row = attrs.asdict(correction)
    row.update(since=correction.since.isoformat(), requested_at=to_iso(correction.requested_at))
    return row


def row_to_correction(row: dict[str, Any]) -> CreditCorrection:
    requested_at = from_iso(row["requested_at"])
    assert requested_at is not None
    return CreditCorrection(
        **{**row, "since": dt.date.fromisoformat(row["since"]), "requested_at": requested_at}
    )


def _money_minor(amount: Decimal | None, currency: str) -> int | None:
    return None if amount is None else to_minor(amount, currency)


def visit_to_row(visit: Visit, currency: str) -> dict[str, Any]:
    return {
        "id": visit.id,
        "case_id": visit.case_id,
        "number": visit.number,
        "date": visit.date.isoformat(),
        "window_start": visit.window_start.strftime("%H:%M"),
        "window_end": visit.window_end.strftime("%H:%M"),
        "timezone": visit.timezone,
        "staff": canonical_json(list(visit.staff)),
        "planned_by": visit.planned_by,
        "planned_at": to_iso(visit.planned_at),
        "checklist": canonical_json([attrs.asdict(item) for item in visit.checklist]),
        "status": visit.status,
        "met": visit.met,
        "reason_code": visit.reason_code,
        "employment": visit.employment,
        "monthly_income_minor": _money_minor(visit.monthly_income, currency),
        "other_debts_minor": _money_minor(visit.other_debts, currency),
        "multi_lender": None if visit.multi_lender is None else int(visit.multi_lender),
        "lenders": visit.lenders,
        "monthly_repayments_minor": _money_minor(visit.monthly_repayments, currency),
        "industry": visit.industry,
        "employer": visit.employer,
        "suppliers": visit.suppliers,
        "buyers": visit.buyers,
        "attitude": visit.attitude,
        "notes": visit.notes,
        "visited_at": to_iso(visit.visited_at) if visit.visited_at else None,
        "recorded_by": visit.recorded_by,
    }


def row_to_visit(row: dict[str, Any], currency: str) -> Visit:
    planned_at = from_iso(row["planned_at"])
    assert planned_at is not None

    def money(minor: int | None) -> Decimal | None:
        return None if minor is None else from_minor(minor, currency)

    return Visit(
        id=row["id"],
        case_id=row["case_id"],
        number=row["number"],
        date=dt.date.fromisoformat(row["date"]),
        window_start=dt.time.fromisoformat(row["window_start"]),
        window_end=dt.time.fromisoformat(row["window_end"]),
        timezone=row["timezone"],
        staff=tuple(json.loads(row["staff"])),
        planned_by=row["planned_by"],
        planned_at=planned_at,
        checklist=tuple(ChecklistItem(**item) for item in json.loads(row["checklist"])),
        status=row["status"],
        met=row["met"],
        reason_code=row["reason_code"],
        employment=row["employment"],
        monthly_income=money(row["monthly_income_minor"]),
        other_debts=money(row["other_debts_minor"]),
        multi_lender=None if row["multi_lender"] is None else bool(row["multi_lender"]),
        lenders=row["lenders"],
        monthly_repayments=money(row["monthly_repayments_minor"]),
        industry=row["industry"],
        employer=row["employer"],
        suppliers=row["suppliers"],
        buyers=row["buyers"],
        attitude=row["attitude"],
        notes=row["notes"] or "",
        visited_at=from_iso(row["visited_at"]),
        recorded_by=row["recorded_by"],
    )


#: A contact's columns that only a letter or message from a template fills.
MESSAGE_COLUMNS = (
    "template",
    "language",
    "message_sha256",
    "recipient",
    "message_subject",
    "message_text",
    "delivery",
    "receipt",
    "delivery_error",
)


def contact_to_row(contact: ContactAttempt) -> dict[str, Any]:
    row = attrs.asdict(contact)
    row["at"] = to_iso(contact.at)
    if not contact.template:
        # Any other contact's row (and event) stays as it was before messages.
        for column in MESSAGE_COLUMNS:
            del row[column]
    return row


def row_to_contact(row: dict[str, Any]) -> ContactAttempt:
    at = from_iso(row["at"])
    assert at is not None
    return ContactAttempt(
        **{
            **row,
            "at": at,
            "note": row["note"] or "",
            "purpose": row.get("purpose") or "collect",
            "relationship": row.get("relationship") or "",
            **{column: row.get(column) or "" for column in MESSAGE_COLUMNS},
        }
    )


def detail_to_row(detail: ContactDetail) -> dict[str, Any]:
    row = attrs.asdict(detail)
    row["at"] = to_iso(detail.at)
    row["verified"] = int(detail.verified)
    return row


def row_to_detail(row: dict[str, Any]) -> ContactDetail:
    at = from_iso(row["at"])
    assert at is not None
    return ContactDetail(
        **{
            **row,
            "at": at,
            "verified": bool(row["verified"]),
            "value": row["value"] or "",
            "source": row["source"] or "",
            "note": row["note"] or "",
            "previous": row["previous"] or "",
        }
    )


def feedback_to_row(feedback: Feedback) -> dict[str, Any]:
    row = attrs.asdict(feedback)
    row["submitted_at"] = to_iso(feedback.submitted_at)
    row["reviewed_at"] = to_iso(feedback.reviewed_at) if feedback.reviewed_at else None
    return row


def row_to_feedback(row: dict[str, Any]) -> Feedback:
    submitted_at = from_iso(row["submitted_at"])
    assert submitted_at is not None
    return Feedback(
        **{
            **row,
            "submitted_at": submitted_at,
            "reviewed_at": from_iso(row["reviewed_at"]),
            "review_note": row["review_note"] or "",
        }
    )


def offer_to_row(offer: Offer) -> dict[str, Any]:
    currency = offer.currency
    return {
        "id": offer.id,
        "case_id": offer.case_id,
        "code": offer.code,
        "kind": offer.kind,
        "label": offer.label,
        "currency": currency,
        "total_payable_minor": to_minor(offer.total_payable, currency),
        "saving_minor": to_minor(offer.saving, currency),
        "balance_minor": None if offer.balance is None else to_minor(offer.balance, currency),
        "schedule": canonical_json(
            [[p.due.isoformat(), to_minor(p.amount, currency)] for p in offer.schedule]
        ),
        "expires": offer.expires.isoformat() if offer.expires else None,
        "terms": canonical_json(offer.terms),
        "status": offer.status,
        "presented_at": to_iso(offer.presented_at) if offer.presented_at else None,
        "presented_by": offer.presented_by,
        "reviewed_by": offer.reviewed_by,
        "accepted_at": to_iso(offer.accepted_at) if offer.accepted_at else None,
    }


def row_to_offer(row: dict[str, Any]) -> Offer:
    currency = row["currency"]
    return Offer(
        id=row["id"],
        case_id=row["case_id"],
        code=row["code"],
        kind=row["kind"],
        label=row["label"],
        currency=currency,
        total_payable=from_minor(row["total_payable_minor"], currency),
        saving=from_minor(row["saving_minor"], currency),
        balance=None
        if row["balance_minor"] is None
        else from_minor(row["balance_minor"], currency),
        schedule=tuple(
            ScheduledPayment(dt.date.fromisoformat(due), from_minor(minor, currency))
            for due, minor in json.loads(row["schedule"])
        ),
        expires=dt.date.fromisoformat(row["expires"]) if row["expires"] else None,
        terms=json.loads(row["terms"]),
        status=row["status"],
        presented_at=from_iso(row["presented_at"]),
        presented_by=row["presented_by"],
        reviewed_by=row["reviewed_by"],
        accepted_at=from_iso(row["accepted_at"]),
    )


def promise_to_row(promise: Promise, currency: str) -> dict[str, Any]:
    return {
        "id": promise.id,
        "case_id": promise.case_id,
        "offer_id": promise.offer_id,
        "number": promise.number,
        "amount_minor": to_minor(promise.amount, currency),
        "due": promise.due.isoformat(),
        "made_at": to_iso(promise.made_at),
        "made_by": promise.made_by,
    }


def row_to_promise(row: dict[str, Any], currency: str) -> Promise:
    made_at = from_iso(row["made_at"])
    assert made_at is not None
    return Promise(
        id=row["id"],
        case_id=row["case_id"],
        offer_id=row["offer_id"],
        number=row["number"],
        amount=from_minor(row["amount_minor"], currency),
        due=dt.date.fromisoformat(row["due"]),
        made_at=made_at,
        made_by=row["made_by"],
    )


def payment_to_row(payment: Payment, currency: str) -> dict[str, Any]:
    return {
        "id": payment.id,
        "case_id": payment.case_id,
        "amount_minor": to_minor(payment.amount, currency),
        "at": to_iso(payment.at),
        "reference": payment.reference,
        "recorded_by": payment.recorded_by,
        "status": payment.status,
        "confirmed_by": payment.confirmed_by,
        "confirmed_at": _time_text(payment.confirmed_at),
        "reversed_by": payment.reversed_by,
        "reversed_at": _time_text(payment.reversed_at),
        "reversal_reason": payment.reversal_reason,
    }


def row_to_payment(row: dict[str, Any], currency: str) -> Payment:
    at = from_iso(row["at"])
    assert at is not None
    return Payment(
        id=row["id"],
        case_id=row["case_id"],
        amount=from_minor(row["amount_minor"], currency),
        at=at,
        reference=row["reference"],
        recorded_by=row["recorded_by"],
        # Rows of events written before payments had a status were counted at once.
        status=row.get("status") or "confirmed",
        confirmed_by=row.get("confirmed_by"),
        confirmed_at=from_iso(row.get("confirmed_at")),
        reversed_by=row.get("reversed_by"),
        reversed_at=from_iso(row.get("reversed_at")),
        reversal_reason=row.get("reversal_reason"),
    )


def staff_to_row(staff: Staff) -> dict[str, Any]:
    return {
        "id": staff.id,
        "name": staff.name,
        "role": staff.role,
        "active": int(staff.active),
        "badge": staff.badge,
    }


def row_to_staff(row: dict[str, Any]) -> Staff:
    return Staff(row["id"], row["name"], row["role"], bool(row["active"]), row.get("badge") or "")


def row_to_event(row: dict[str, Any]) -> Event:
    at = from_iso(row["at"])
    assert at is not None
    return Event(
        id=row["id"],
        case_id=row["case_id"],
        chain=row["chain"],
        type=row["type"],
        actor=row["actor"],
        at=at,
        # None: withheld from this reader by the database (PostgreSQL's masking views).
        payload=json.loads(row["payload"]) if row["payload"] is not None else {},
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        recorded_at=from_iso(row.get("recorded_at")),
        policy_version=row.get("policy_version"),
    )


def institution_to_row(institution: Institution) -> dict[str, Any]:
    return {
        "id": institution.id,
        "name": institution.name,
        "jurisdiction": institution.jurisdiction,
        "timezone": institution.timezone,
        "currency": institution.currency,
        "policy": canonical_json(institution.policy),
        "policy_version": institution.policy_version,
        "created_at": to_iso(institution.created_at) if institution.created_at else None,
        "updated_at": to_iso(institution.updated_at) if institution.updated_at else None,
    }


def row_to_institution(row: dict[str, Any]) -> Institution:
    return Institution(
        id=row["id"],
        name=row["name"],
        jurisdiction=row["jurisdiction"],
        timezone=row["timezone"],
        currency=row["currency"],
        policy=json.loads(row["policy"]),
        policy_version=row["policy_version"],
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


def policy_version_to_row(version: PolicyVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "institution": version.institution,
        "version": version.version,
        "policy": canonical_json(version.policy),
        "at": to_iso(version.at),
        "actor": version.actor,
    }


def row_to_policy_version(row: dict[str, Any]) -> PolicyVersion:
    at = from_iso(row["at"])
    assert at is not None
    return PolicyVersion(
        institution=row["institution"],
        version=row["version"],
        policy=json.loads(row["policy"]),
        at=at,
        actor=row["actor"],
        id=row["id"],
    )


#: The due date a performing loan under review never reaches (``store.DUE_SINCE``).
NEVER_DUE = dt.date.max


def case_arrears_key(row: dict[str, Any]) -> float | None:
    """The stored ordering key of a ``cases`` row (see :mod:`fieldcase.ranking`)."""
    if row.get("overdue_minor") is None or not row.get("overdue_since"):
        return None
    amount = float(from_minor(row["overdue_minor"], row["currency"]))
    if row.get("kind") == "review" and not row["overdue_minor"]:
        return arrears_key(amount, NEVER_DUE)  # not past due: ranked as not yet due
    return arrears_key(amount, dt.date.fromisoformat(row["overdue_since"]))


def refresh_met(db: Connection, case_ids: Iterable[int]) -> None:
    """Set ``promises.met_at`` for these cases: when each promise came to be kept.

    See :func:`fieldcase.repayment.met_times`: kept at ``at`` is ``met_at <= at``,
    broken is not kept with a due date before the borrower's today, and both
    are questions SQL answers from an index.
    """
    from .repayment import met_times

    for case_id in case_ids:
        case = db.execute("SELECT currency, timezone FROM cases WHERE id = ?", [case_id]).fetchone()
        if case is None:
            continue
        currency, zone = case
        promises = [
            row_to_promise(row, currency)
            for row in db.query("SELECT * FROM promises WHERE case_id = ?", [case_id])
        ]
        payments = [
            row_to_payment(row, currency)
            for row in db.query("SELECT * FROM payments WHERE case_id = ?", [case_id])
        ]
        for promise_id, met in met_times(promises, payments, zone).items():
            db.execute(
                "UPDATE promises SET met_at = ? WHERE id = ? AND met_at IS DISTINCT FROM ?",
                [to_iso(met) if met else None, promise_id, to_iso(met) if met else None],
            )
        db.execute(
            "UPDATE cases SET unmet_due = (SELECT min(due) FROM promises"
            " WHERE case_id = cases.id AND met_at IS NULL) WHERE id = ?",
            [case_id],
        )


def refresh_visit_dates(db: Connection, case_ids: Iterable[int]) -> None:
    """Set ``cases.visit_date``: the date of the case's planned visit (there is one at most)."""
    db.executemany(
        "UPDATE cases SET visit_date = (SELECT date FROM visits WHERE case_id = cases.id"
        " AND status = 'planned' ORDER BY number DESC LIMIT 1) WHERE id = ?",
        [[case_id] for case_id in case_ids],
    )


class Connection:
    """The reading and writing the store does, on one sqlite3 connection.

    The same two calls as sqlite-utils' ``Database`` (``execute``, ``query``),
    which the migrations use; loading sqlite-utils takes longer than a worklist
    page, so commands that only read and write rows do without it.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters or [])

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, params or [])
        keys = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row, strict=True))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def commit(self) -> None:
        self.conn.commit()

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def close(self) -> None:
        self.conn.close()


def review_to_row(review: Review) -> dict[str, Any]:
    row = attrs.asdict(review)
    row.update(
        opened_at=to_iso(review.opened_at),
        opened_on=review.opened_on.isoformat(),
        finished_at=_time_text(review.finished_at),
        finished_on=_date_text(review.finished_on),
        next_review=_date_text(review.next_review),
        relief_from=_date_text(review.relief_from),
    )
    return row


def row_to_review(row: dict[str, Any]) -> Review:
    opened_at = from_iso(row["opened_at"])
    assert opened_at is not None
    return Review(
        **{
            **row,
            "opened_at": opened_at,
            "opened_on": dt.date.fromisoformat(row["opened_on"]),
            "finished_at": from_iso(row["finished_at"]),
            "finished_on": _date(row["finished_on"]),
            "next_review": _date(row["next_review"]),
            "relief_from": _date(row.get("relief_from")),
            "note": row["note"] or "",
        }
    )
