"""Retention: removing the personal data of cases closed long ago.

A purge keeps what the statistics need (institution, stage, resolution,
amounts, dates, overdue reasons, outcomes, promises and payments) and the
audit trail: every event stays in its chain, but the personal data in its
payload is withheld. An event's hash covers its payload's committed form
(:mod:`fieldcase.commitments`: each personal value by a salted digest), and
the purge stores exactly that form without the salt, so what it keeps is
still proven by the original hash. The purge is itself an event listing the
events it redacted, which is how ``audit verify`` tells a purge from an edit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

import attrs

from .commitments import canonical_json, withheld
from .errors import FieldcaseError, NotPermitted
from .model import Borrower, Case
from .money import add_months
from .policy import default
from .privacy import PURGED, anonymise_row, mask_event_data
from .rows import TableRow
from .store import Change

if TYPE_CHECKING:
    from .services import Services


@attrs.frozen
class PurgeResult:
    #: Per institution: cases closed before this lose their personal data.
    cutoffs: dict[str, dt.datetime]
    purged: list[int]
    events_redacted: int
    #: Cases that could not be purged, with why.
    skipped: list[tuple[int, str]]


def redacted_payload(text: str, event_type: str = "") -> str:
    """What a purge keeps of a stored payload: its committed form, or for a payload
    written before seals, its rows anonymised and its data masked."""
    payload = json.loads(text)
    if "seal" in payload:
        return canonical_json(withheld(payload))
    rows = [
        {"table": r["table"], "row": anonymise_row(r["table"], r["row"])}
        for r in payload.get("rows", [])
    ]
    return canonical_json(
        {
            "redacted": True,
            "data": mask_event_data(payload.get("data") or {}, event_type),
            "rows": rows,
        }
    )


def retention_cutoff(at: dt.datetime, years: int) -> dt.datetime:
    """``years`` before ``at``, on the calendar (29 February falls back to the 28th)."""
    day = add_months(at.date(), -12 * years)
    return dt.datetime.combine(day, at.timetz())


def purge(
    services: Services,
    *,
    actor: str,
    at: dt.datetime,
    years: int | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Remove the personal data of cases closed longer ago than their institution keeps it.

    Each institution's policy says how long (``retention_years``, default 5);
    ``years`` may only lengthen it. Cases of institutions not registered are
    left alone.
    """
    staff = services.actor(actor)
    services.begin_action()
    services.check_time(staff, at, {}, "purge", attempted={"years": years})
    if not staff.is_supervisor:
        services.refuse_unscoped(
            staff.id,
            at,
            "purge",
            NotPermitted("only a supervisor may purge personal data", "permission.supervisor"),
            {"years": years},
        )
    store = services.store
    purged: list[int] = []
    skipped: list[tuple[int, str]] = []
    redacted = 0
    kept: dict[str, int] = {}
    cutoffs: dict[str, dt.datetime] = {}
    for registered in store.list_institutions():
        kept[registered.id] = max(
            int(registered.policy.get("retention_years", default("retention_years"))), years or 0
        )
        cutoffs[registered.id] = retention_cutoff(at, kept[registered.id])
    candidates = [
        (case_id, institution)
        for institution, cutoff in cutoffs.items()
        for case_id in store.purgeable(cutoff, institution)
    ]
    for institution in sorted(set(store.institutions_of_cases()) - set(cutoffs)):
        cutoff = retention_cutoff(at, max(default("retention_years"), years or 0))
        skipped += [
            (case_id, f"its institution {institution} is not registered; no policy says how long")
            for case_id in store.purgeable(cutoff, institution)
        ]
    for case_id, institution in sorted(candidates):
        events = store.case_events(case_id)
        if any(sha is None for _, _, sha, _ in events):
            skipped.append(
                (
                    case_id,
                    "its events were recorded before this database could redact events "
                    "(migration 008); its personal data stays",
                )
            )
            continue
        if dry_run:
            purged.append(case_id)
            continue
        case = store.get_case(case_id)
        changes = _anonymised(services, case, at)
        redactions = [
            (event_id, redacted_payload(payload, kind)) for event_id, payload, _, kind in events
        ]
        data: dict[str, Any] = {
            "retention_years": kept[institution],
            "closed_at": case.closed_at.isoformat() if case.closed_at else None,
            "redacted_events": [event_id for event_id, _, _, _ in events],
        }
        # Payloads written before seals cannot be proven against their own hash
        # once redacted: this purge's own hash vouches for what it kept of them.
        unsealed = {
            str(event_id): hashlib.sha256(text.encode("utf-8")).hexdigest()
            for event_id, text in redactions
            if '"seal":' not in text
        }
        if unsealed:
            data["redacted_sha256"] = unsealed
        store.commit_many(
            [
                Change(
                    "case_purged",
                    staff.id,
                    at,
                    tuple(changes),
                    data,
                    case_id,
                    case.version,
                    services.recorded_at(),
                    services.institution(institution).policy_version,
                )
            ],
            redactions=redactions,
        )
        purged.append(case_id)
        redacted += len(events)
    # Every purge clears the index and the write-ahead log, so that one cut short
    # (or blocked by a reader) is finished by the next.
    if not dry_run and not store.scrub():
        raise FieldcaseError(
            f"purged {len(purged)} cases, but their old text could not be cleared from the "
            "write-ahead log: someone is reading the database. It is removed from the tables "
            "and events; run purge again when no one is reading to clear it from the file"
        )
    return PurgeResult(cutoffs, purged, redacted, skipped)


def _anonymised(services: Services, case: Case, at: dt.datetime) -> list[Any]:
    assert case.id is not None
    store = services.store
    borrower = Borrower(name=PURGED, timezone=case.borrower.timezone)
    records: list[Any] = [
        attrs.evolve(
            case,
            borrower=borrower,
            confirmed_address=None,
            purged_at=at,
            version=case.version + 1,
            updated_at=max(case.updated_at or at, at),
        )
    ]
    records += [
        attrs.evolve(
            c,
            note="",
            recipient="",
            message_subject="",
            message_text="",
            message_sha256="",
            delivery_error="",
        )
        for c in store.contacts(case.id)
    ]
    records += [
        attrs.evolve(
            v,
            notes="",
            employment=None,
            monthly_income=None,
            other_debts=None,
            monthly_repayments=None,
            employer=None,
            suppliers=None,
            buyers=None,
        )
        for v in store.visits(case.id, case.currency)
    ]
    records += [attrs.evolve(f, summary=PURGED, review_note="") for f in store.feedback(case.id)]
    # Free text of the protections: what happened stays, what was said goes.
    records += [attrs.evolve(d, note="", decision_note="") for d in store.disputes(case.id)]
    records += [attrs.evolve(e, description="") for e in store.evidence(case.id)]
    records += [attrs.evolve(h, note="", end_note="") for h in store.hardships(case.id)]
    records += [attrs.evolve(c, note="") for c in store.complaints(case.id)]
    records += [
        attrs.evolve(d, value="", previous="", note="") for d in store.contact_details(case.id)
    ]
    records += [attrs.evolve(q, note="") for q in store.inquiries(case.id)]
    # Where staff stood on site goes; how far it was from the borrower stays.
    records += [attrs.evolve(c, lat=None, lon=None) for c in store.checkins(case.id)]
    records += [attrs.evolve(r, note="") for r in store.reviews(case.id)]
    records += [attrs.evolve(c, changes={}, reason="") for c in store.corrections(case.id)]
    records += [attrs.evolve(p, reversal_reason="") for p in store.payments(case.id, case.currency)]
    # Attachments keep what they were (kind, type, size, fingerprint); their names,
    # notes and places go, and the store removes their files as it writes them purged.
    records += [
        attrs.evolve(a, filename="", note="", lat=None, lon=None, purged_at=at)
        for a in store.attachments(case.id)
    ]
    # A sync conflict keeps what the field worker typed: that goes, what happened stays.
    records += [
        TableRow("sync_conflicts", anonymise_row("sync_conflicts", row))
        for row in store.sync_conflicts(open_only=False, case_id=case.id)
    ]
    return records
