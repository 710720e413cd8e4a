"""Masking of personal data in what leaves fieldcase (exports, case files)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from .model import (
        Attachment,
        Case,
        CheckIn,
        ContactAttempt,
        ContactDetail,
        Feedback,
        Staff,
        Visit,
    )

MASK = "*"

T = TypeVar("T")

#: The free-text fields of disputes, evidence, hardship pauses, complaints, inquiries and
#: reviews.
NOTE_FIELDS = ("note", "decision_note", "end_note", "description", "reversal_reason")


#: What withheld text reads as (``mask_text``); a value already withheld stays so.
WITHHELD = "[masked]"


def mask_tail(value: str | None, keep: int = 4) -> str:
    """``'310101199001011234'`` -> ``'**************1234'``: only the last digits stay."""
    if not value:
        return ""
    if value == WITHHELD:  # withheld already (by PostgreSQL's masking views)
        return value
    if len(value) <= keep:
        return MASK * len(value)
    return MASK * (len(value) - keep) + value[-keep:]


def mask_phone(value: str | None) -> str:
    """``'+8613800138000'`` -> ``'+86*******8000'``: country code and last four digits."""
    if not value:
        return ""
    if value == WITHHELD:
        return value
    if value.startswith("+"):
        from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

        # Country codes are prefix-free: the first known 1-3 digit prefix is it.
        for width in (1, 2, 3):
            prefix = value[1 : 1 + width]
            if prefix.isdigit() and int(prefix) in COUNTRY_CODE_TO_REGION_CODE:
                head = value[: 1 + width]
                return head + mask_tail(value[len(head) :])
    return mask_tail(value)


def mask_text(value: str | None) -> str:
    """Free text about third parties: withheld whole when masked."""
    return WITHHELD if value else ""


def sees_in_clear(staff: Staff | None, case: Case, visits: Callable[[], Sequence[Visit]]) -> bool:
    """Whether ``staff`` may see ``case``'s personal data: a supervisor, its assignee, or
    one of its visiting staff (``visits`` is asked only when it decides). Nobody: no."""
    if staff is None:
        return False
    if staff.is_supervisor or case.assigned_to == staff.id:
        return True
    return any(staff.id in v.staff for v in visits())


def mask_case_file(
    case: Case,
    contacts: Sequence[ContactAttempt],
    visits: Sequence[Visit],
    feedback: Sequence[Feedback],
) -> tuple[Case, list[ContactAttempt], list[Visit], list[Feedback]]:
    """A case file as someone not working the case may see it.

    The borrower's name, the stage, the amounts and the history of actions
    stay; how to reach the borrower (phone, email, addresses, coordinates), the
    national id, the financial situation found at interviews (income, debts,
    repayments, and so the ratios to income), the employer, suppliers and
    buyers, and free-text notes do not. The industry and the number of lenders
    stay.
    """
    import attrs

    b = case.borrower
    borrower = attrs.evolve(
        b,
        phone=mask_phone(b.phone),
        national_id=mask_tail(b.national_id),
        address=mask_text(b.address),
        email=mask_text(b.email),
        latitude=None,
        longitude=None,
    )
    return (
        attrs.evolve(
            case,
            borrower=borrower,
            confirmed_address=mask_text(case.confirmed_address) or None,
        ),
        [
            attrs.evolve(
                c,
                note=mask_text(c.note),
                recipient=mask_text(c.recipient),
                message_subject=mask_text(c.message_subject),
                message_text=mask_text(c.message_text),
                message_sha256=mask_text(c.message_sha256),
                delivery_error=mask_text(c.delivery_error),
            )
            for c in contacts
        ],
        [
            attrs.evolve(
                v,
                notes=mask_text(v.notes),
                monthly_income=None,
                other_debts=None,
                monthly_repayments=None,
                employment=mask_text(v.employment) or None,
                employer=mask_text(v.employer) or None,
                suppliers=mask_text(v.suppliers) or None,
                buyers=mask_text(v.buyers) or None,
            )
            for v in visits
        ],
        [
            attrs.evolve(f, summary=mask_text(f.summary), review_note=mask_text(f.review_note))
            for f in feedback
        ],
    )


def mask_notes(records: Sequence[T]) -> list[T]:
    """Records with their free text (:data:`NOTE_FIELDS`) withheld."""
    import attrs

    return [
        attrs.evolve(  # type: ignore[misc]
            record,
            **{f: mask_text(getattr(record, f)) for f in NOTE_FIELDS if hasattr(record, f)},
        )
        for record in records
    ]


def mask_details(details: Sequence[ContactDetail]) -> list[ContactDetail]:
    """Recorded contact details as someone not working the case may see them: a phone
    as ``mask_phone`` shows it, an email or address withheld whole, notes withheld."""
    import attrs

    def masked(kind: str, value: str) -> str:
        return mask_phone(value) if kind == "phone" else mask_text(value)

    return [
        attrs.evolve(
            d,
            value=masked(d.kind, d.value),
            previous=masked(d.kind, d.previous),
            note=mask_text(d.note),
        )
        for d in details
    ]


def mask_checkins(checkins: Sequence[CheckIn]) -> list[CheckIn]:
    """Check-ins as someone not working the case sees them: who, when, how far and
    whether too far stay; where does not."""
    import attrs

    return [attrs.evolve(c, lat=None, lon=None) for c in checkins]


def mask_attachments(attachments: Sequence[Attachment]) -> list[Attachment]:
    """Attachments as someone who may not see the case's files sees them: what each is
    (kind, type, size, fingerprint, when taken) stays; its name, note and place do not."""
    import attrs

    return [
        attrs.evolve(a, filename=mask_text(a.filename), note=mask_text(a.note), lat=None, lon=None)
        for a in attachments
    ]


#: What an event's data may say about the borrower or third parties.
PERSONAL_KEYS = frozenset(
    {
        "address",
        "phone",
        "email",
        "national_id",
        "note",
        "notes",
        "summary",
        "employment",
        "monthly_income",
        "other_debts",
        "monthly_repayments",
        "employer",
        "suppliers",
        "buyers",
        "borrower_name",
        "decision_note",
        "end_note",
        # An attachment's name as given, and where a photo was taken (or a check-in
        # made); where the borrower lives.
        "filename",
        "lat",
        "lon",
        "latitude",
        "longitude",
        # A letter's or message's fingerprint: its text names the borrower, and a
        # fingerprint can be tried against guesses at it.
        "message_sha256",
    }
)


#: Free text kept under a key that is not personal elsewhere, by event type (or,
#: in a refusal's ``attempted``, by the action refused): a reopening's reason.
FREE_TEXT: dict[str, frozenset[str]] = {
    "case_reopened": frozenset({"reason"}),
    "reopen": frozenset({"reason"}),
    "evidence_added": frozenset({"description"}),
    "add_evidence": frozenset({"description"}),
    # Why an event was voided or amended, a payment reversed: may name the borrower.
    "event_voided": frozenset({"reason"}),
    "void_event": frozenset({"reason"}),
    "event_amended": frozenset({"reason"}),
    "amend_event": frozenset({"reason"}),
    "payment_reversed": frozenset({"reason"}),
    "reverse_payment": frozenset({"reason"}),
    # Why a message could not be sent: a gateway's answer may name the recipient.
    "message_failed": frozenset({"error"}),
}


def personal_data_paths(data: dict[str, Any], event_type: str = "") -> list[list[str]]:
    """The keys (nested: a path) under which an event's data holds personal values or free text."""
    personal = PERSONAL_KEYS | FREE_TEXT.get(event_type, frozenset())
    paths: list[list[str]] = []
    for key, value in data.items():
        if key in personal:
            paths.append([key])
        elif isinstance(value, dict):
            # A refusal's attempted values are those of the action it refused.
            inner = str(data.get("action", "")) if key == "attempted" else ""
            paths += [[key, *path] for path in personal_data_paths(value, inner)]
    return paths


def mask_event_data(data: dict[str, Any], event_type: str = "") -> dict[str, Any]:
    """An event's data with the personal values and free text withheld (nested too)."""
    masked = copy.deepcopy(data)
    for path in personal_data_paths(data, event_type):
        parent = masked
        for key in path[:-1]:
            parent = parent[key]
        if parent[path[-1]] not in (None, ""):
            parent[path[-1]] = "[masked]"
    return masked


PURGED = "[purged]"

#: Per table, the personal columns and what a purge makes of them.
PERSONAL_COLUMNS: dict[str, dict[str, Any]] = {
    "cases": {
        "borrower_name": PURGED,
        "national_id": "",
        "phone": "",
        "address": "",
        "confirmed_address": None,
        "national_id_masked": "",
        "phone_masked": "",
        "email": "",
        "latitude": None,
        "longitude": None,
    },
    "contacts": {
        "note": "",
        "recipient": "",
        "message_subject": "",
        "message_text": "",
        "message_sha256": "",
        "delivery_error": "",
    },
    "contact_details": {"value": "", "previous": "", "note": ""},
    "visits": {
        "notes": "",
        "employment": None,
        "monthly_income_minor": None,
        "other_debts_minor": None,
        "monthly_repayments_minor": None,
        "employer": None,
        "suppliers": None,
        "buyers": None,
    },
    "feedback": {"summary": PURGED, "review_note": ""},
    "disputes": {"note": "", "decision_note": ""},
    "evidence": {"description": ""},
    "hardships": {"note": "", "end_note": ""},
    "complaints": {"note": ""},
    "inquiries": {"note": ""},
    "checkins": {"lat": None, "lon": None},
    # What a field pack did, held in a conflict: its arguments are what was typed.
    "sync_conflicts": {"field": "[]", "note": ""},
    "reviews": {"note": ""},
    # An amendment's fields, before and after, are the record's own (notes, finances).
    "event_corrections": {"changes": "{}", "reason": ""},
    "payments": {"reversal_reason": ""},
    # The file itself goes too (see fieldcase.purge); its fingerprint, type and size stay.
    "attachments": {"filename": "", "note": "", "lat": None, "lon": None},
}


def anonymise_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A table row with its personal columns as a purge leaves them."""
    personal = PERSONAL_COLUMNS.get(table, {})
    return {k: personal.get(k, v) for k, v in row.items()}
