"""SQLite persistence: schema, the event log with its hash chains, and queries.

All SQL lives here. Every write goes through :meth:`Store.commit`, which appends
one event carrying the full rows it changes and applies those rows, in one
transaction; replaying the events therefore rebuilds every table.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import heapq
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from .. import commitments
from ..commitments import canonical_json, payload_sha256, seal
from ..errors import (
    CaseNotFound,
    InstitutionNotFound,
    NotPermitted,
    StaffNotFound,
    StaleCase,
)
from ..lifecycle import bucket_range
from ..model import (
    Attachment,
    Case,
    CheckIn,
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
    Staff,
    Visit,
)
from ..money import MINOR_UNITS
from ..privacy import anonymise_row
from ..ranking import BROKEN_PROMISE, MAX_BROKEN, MAX_LOG_AMOUNT, VISIT_TODAY
from ..rows import (
    CaseRow,
    Removal,
    TableRow,
    attachment_to_row,
    case_arrears_key,
    case_to_row,
    checkin_to_row,
    complaint_to_row,
    contact_to_row,
    correction_to_row,
    detail_to_row,
    dispute_to_row,
    event_correction_to_row,
    evidence_to_row,
    feedback_to_row,
    from_iso,
    hardship_to_row,
    inquiry_to_row,
    institution_to_row,
    offer_to_row,
    payment_to_row,
    policy_version_to_row,
    promise_to_row,
    refresh_met,
    refresh_visit_dates,
    review_to_row,
    row_to_attachment,
    row_to_case,
    row_to_checkin,
    row_to_complaint,
    row_to_contact,
    row_to_correction,
    row_to_detail,
    row_to_dispute,
    row_to_event,
    row_to_event_correction,
    row_to_evidence,
    row_to_feedback,
    row_to_hardship,
    row_to_inquiry,
    row_to_institution,
    row_to_offer,
    row_to_payment,
    row_to_policy_version,
    row_to_promise,
    row_to_review,
    row_to_staff,
    row_to_visit,
    staff_to_row,
    to_iso,
    visit_to_row,
)
from ..suggest import hint
from .dialect import Dialect, is_server_url
from .sqlite import SQLiteDialect
from .tables import EVENT_COLUMNS, STATE_TABLES, TEXT_KEYED

GENESIS = ""
#: Events (or rows) between two reports of a long audit's progress.
PROGRESS_STEP = 1000
#: A performing loan under review with nothing overdue: not past due at all.
PERFORMING = "(kind = 'review' AND overdue_minor = 0)"
#: The due date days past due count from, in SQL: a performing loan's is never reached
#: (``rows.NEVER_DUE``), as :meth:`fieldcase.model.Case.days_past_due` says.
DUE_SINCE = f"(CASE WHEN {PERFORMING} THEN '9999-12-31' ELSE overdue_since END)"
SYSTEM_CHAIN = "system"
Record = (
    Case
    | Visit
    | ContactAttempt
    | Feedback
    | Staff
    | CaseRow
    | Offer
    | Promise
    | Payment
    | Institution
    | PolicyVersion
    | Dispute
    | Evidence
    | Hardship
    | Complaint
    | CreditCorrection
    | ContactDetail
    | Inquiry
    | Review
    | EventCorrection
    | Attachment
    | CheckIn
    | TableRow
    | Removal
)
TABLE_OF: dict[type, str] = {
    Institution: "institutions",
    PolicyVersion: "policy_versions",
    Case: "cases",
    Visit: "visits",
    ContactAttempt: "contacts",
    Feedback: "feedback",
    Staff: "staff",
    Offer: "offers",
    Promise: "promises",
    Payment: "payments",
    Dispute: "disputes",
    Evidence: "evidence",
    Hardship: "hardships",
    Complaint: "complaints",
    CreditCorrection: "credit_corrections",
    ContactDetail: "contact_details",
    Inquiry: "inquiries",
    Review: "reviews",
    EventCorrection: "event_corrections",
    Attachment: "attachments",
    CheckIn: "checkins",
}

#: Records whose row needs no currency, and how each becomes one.
TO_ROW: dict[type, Callable[[Any], dict[str, Any]]] = {
    Dispute: dispute_to_row,
    Evidence: evidence_to_row,
    Hardship: hardship_to_row,
    Complaint: complaint_to_row,
    CreditCorrection: correction_to_row,
    ContactDetail: detail_to_row,
    Inquiry: inquiry_to_row,
    Review: review_to_row,
    EventCorrection: event_correction_to_row,
    Attachment: attachment_to_row,
    CheckIn: checkin_to_row,
}


def event_hash(
    prev_hash: str,
    chain: str,
    type: str,
    case_id: int | None,
    actor: str | None,
    at: str,
    payload: str,
    recorded_at: str | None = None,
    policy_version: int | None = None,
) -> str:
    """SHA-256 over the event's fields, each prefixed with its length (unambiguous).

    Events since migration 010 also carry the real time they were written and
    the policy version that judged them; older ones hash as they always did.
    """
    fields: tuple[str | None, ...] = (
        prev_hash,
        chain,
        type,
        None if case_id is None else str(case_id),
        actor,
        at,
        payload,
    )
    if recorded_at is not None:
        fields += (recorded_at, None if policy_version is None else str(policy_version))
    body = "".join("~" if f is None else f"{len(f)}:{f}" for f in fields)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


#: A promise ``p`` broken by the borrower's ``{today}``: not kept, and due before. Once a
#: due date has passed, only payments on or before it could have kept it, and those
#: were made before ``today``: "not kept" is then ``met_at IS NULL`` whatever ``at``.
#: One due during a hardship pause is excused, never broken (``repayment.excused``).
BROKEN = (
    "p.met_at IS NULL AND p.due < {today} AND NOT EXISTS (SELECT 1 FROM hardships h"
    " WHERE h.case_id = p.case_id AND p.due BETWEEN h.starts AND coalesce(h.ended_on, h.until))"
)

#: A payment ``p`` that counts toward what is paid: a confirmed one, not one only
#: reported by field staff or one reversed (the Python twin is ``repayment.counted``).
COUNTED = "p.status = 'confirmed'"

#: Events since migration 008 hash this and the payload's SHA-256, not the payload.
DIGEST_PREFIX = "sha256:"


def stamp_event(event: Event, stamp: tuple[Any, ...]) -> Event:
    """``event`` with the (actor, recorded_at, prev_hash, hash) the database gave it."""
    actor, recorded_at, prev_hash, digest = stamp
    return attrs.evolve(
        event, actor=actor, recorded_at=from_iso(recorded_at), prev_hash=prev_hash, hash=digest
    )


@attrs.frozen
class PackManifest:
    """A field pack's manifest (see :mod:`fieldcase.offline`) and the office's signature."""

    pack: str
    manifest: dict[str, Any]
    signature: str

    @property
    def staff(self) -> str:
        return str(self.manifest["staff"])

    @property
    def actions(self) -> list[str]:
        return list(self.manifest["actions"])


#: What :meth:`Store.carrying` adds to a change: data for its event, and records.
Carried = tuple[dict[str, Any], Sequence["Record"]]


def case_chain(case_id: int) -> str:
    return f"case:{case_id}"


def institution_chain(institution: str) -> str:
    return f"institution:{institution}"


# -- rows <-> values ---------------------------------------------------------


@attrs.frozen
class Change:
    """One action's worth of writing: its records and the event that carries them."""

    event_type: str
    actor: str | None
    at: dt.datetime
    records: tuple[Record, ...]
    data: dict[str, Any] = attrs.field(factory=dict)
    case_id: int | None = None
    expected_version: int | None = None
    #: The real time of writing (None only where no clock was given: the claimed time).
    recorded_at: dt.datetime | None = None
    #: The version of the institution's policy that judged the change.
    policy_version: int | None = None
    #: The chain, when not the case's (or the system's): an institution's.
    chain: str | None = None


@attrs.frozen
class ExportFilter:
    """Which visits an export holds."""

    institution: str | None = None
    stage: str | None = None
    staff: str | None = None
    since: dt.datetime | None = None
    after_event: int | None = None


#: Third-party notes, joined in the order they were recorded.
CONTACT_NOTES = ("CASE WHEN target = 'third-party' AND note != '' THEN note END", "' | '", "id")
#: Offer codes, each once, by status and then in the order they were presented.
OFFER_CODES = ("code", "','", "status, id")

#: One row per visit. Each summary (a case's contacts, offers, promises, payments and
#: latest dispute; a visit's latest feedback) is grouped once over its whole table and
#: joined by key, never worked out again for each visit. ``{contact_notes}`` and
#: ``{offer_codes}`` are the dialect's ``joined``: SQLite's group_concat joins in the
#: order it reads, which INDEXED BY fixes (case, then id; case, status, then id), and
#: PostgreSQL, which ignores the hint, orders the same way inside string_agg.
VISIT_EXPORT_SQL = """
WITH contact_summary AS (
  SELECT case_id, count(*) AS attempts, {contact_notes} AS third_party_notes
  FROM contacts INDEXED BY idx_contacts_case_id GROUP BY case_id
), offer_summary AS (
  SELECT case_id, {offer_codes} AS made,
    max(CASE WHEN status = 'accepted' THEN code END) AS accepted
  FROM offers INDEXED BY idx_offers_case_id_status GROUP BY case_id
), latest_feedback AS (
  SELECT visit_id, max(id) AS id FROM feedback GROUP BY visit_id
), promise_summary AS (
  SELECT case_id, count(*) AS made, sum(amount_minor) AS promised,
    sum(CASE WHEN met_at IS NOT NULL THEN 1 ELSE 0 END) AS kept
  FROM promises GROUP BY case_id
), payment_summary AS (
  SELECT case_id, sum(amount_minor) AS paid, max(at) AS last_at
  FROM payments p WHERE {counted} GROUP BY case_id
), latest_dispute AS (
  SELECT case_id, max(id) AS id FROM disputes GROUP BY case_id
)
SELECT v.id AS visit_id, v.case_id, c.institution, c.reference, c.borrower_name,
  {national_id} AS national_id, {phone} AS phone, c.address, c.confirmed_address,
  c.jurisdiction, c.currency,
  {principal} AS principal, {overdue} AS overdue_amount, c.overdue_since, c.stage,
  c.resolution, c.assigned_to, v.number AS visit_number, v.date AS visit_date,
  v.window_start || '-' || v.window_end AS window, v.timezone,
  -- staff ids are plain names: a JSON list becomes "a, b" by string surgery, no JSON per row
  replace(replace(replace(v.staff, '","', ', '), '["', ''), '"]', '') AS visiting_staff,
  v.status AS visit_status, v.visited_at, v.met, v.reason_code, v.employment,
  {income} AS monthly_income, {debts} AS other_debts,
  CASE v.multi_lender WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END AS multi_lender,
  v.attitude, v.notes, coalesce(cs.attempts, 0) AS contact_attempts,
  {third_party_notes} AS third_party_notes,
  os.made AS offers_made, os.accepted AS offer_accepted,
  f.recommendation, f.summary AS feedback_summary, f.review_status, f.reviewed_by,
  coalesce(ps.made, 0) AS promises_made, {promised} AS promised_amount,
  coalesce(ps.kept, 0) AS promises_kept, c.unmet_due AS next_promise_due,
  {paid} AS paid_amount, pay.last_at AS last_payment_at, c.attributes,
  v.lenders, {repayments} AS monthly_repayments,
  {debt_to_income} AS debt_to_income, {repayments_to_income} AS repayments_to_income,
  v.industry, {employer} AS employer, {suppliers} AS suppliers, {buyers} AS buyers,
  d.kind AS dispute_kind, d.status AS dispute_status, c.paused_until,
  c.kind AS case_kind
FROM visits v
JOIN cases c ON c.id = v.case_id
LEFT JOIN contact_summary cs ON cs.case_id = v.case_id
LEFT JOIN offer_summary os ON os.case_id = v.case_id
LEFT JOIN promise_summary ps ON ps.case_id = v.case_id
LEFT JOIN payment_summary pay ON pay.case_id = v.case_id
LEFT JOIN latest_feedback lf ON lf.visit_id = v.id
LEFT JOIN feedback f ON f.id = lf.id
LEFT JOIN latest_dispute ld ON ld.case_id = v.case_id
LEFT JOIN disputes d ON d.id = ld.id
"""


#: The columns of a visit export, in the order the query yields them.
EXPORT_COLUMNS = (
    "visit_id",
    "case_id",
    "institution",
    "reference",
    "borrower_name",
    "national_id",
    "phone",
    "address",
    "confirmed_address",
    "jurisdiction",
    "currency",
    "principal",
    "overdue_amount",
    "overdue_since",
    "stage",
    "resolution",
    "assigned_to",
    "visit_number",
    "visit_date",
    "window",
    "timezone",
    "visiting_staff",
    "visit_status",
    "visited_at",
    "met",
    "reason_code",
    "employment",
    "monthly_income",
    "other_debts",
    "multi_lender",
    "attitude",
    "notes",
    "contact_attempts",
    "third_party_notes",
    "offers_made",
    "offer_accepted",
    "recommendation",
    "feedback_summary",
    "review_status",
    "reviewed_by",
    "promises_made",
    "promised_amount",
    "promises_kept",
    "next_promise_due",
    "paid_amount",
    "last_payment_at",
    "attributes",
    "lenders",
    "monthly_repayments",
    "debt_to_income",
    "repayments_to_income",
    "industry",
    "employer",
    "suppliers",
    "buyers",
    "dispute_kind",
    "dispute_status",
    "paused_until",
    "case_kind",
)


def masked_text_sql(column: str) -> str:
    """SQL for :func:`fieldcase.privacy.mask_text`."""
    return f"(CASE WHEN {column} IS NULL OR {column} = '' THEN '' ELSE '[masked]' END)"


def ratio_sql(part: str, whole: str) -> str:
    """SQL for :func:`fieldcase.money.ratio` of two non-negative minor-unit columns.

    Exact in 64-bit integers: the whole part, then two decimal places digit by
    digit (no product of two amounts, which could overflow into a float), half up.
    """
    rest = f"({part} % {whole})"
    tenths_rest = f"(({rest} * 10) % {whole})"
    hundredths = (
        f"(({rest} * 10 / {whole}) * 10 + {tenths_rest} * 10 / {whole}"
        f" + CASE WHEN 2 * (({tenths_rest} * 10) % {whole}) >= {whole} THEN 1 ELSE 0 END)"
    )
    return (
        f"(CASE WHEN {part} IS NULL OR {whole} IS NULL OR {whole} = 0 THEN NULL"
        f" ELSE printf('%d.%02d', {part} / {whole} + {hundredths} / 100, {hundredths} % 100)"
        " END)"
    )


def minor_units_sql(column: str, currency: str = "c.currency") -> str:
    """SQL turning integer minor units into exact decimal text, per the row's currency.

    Export formats amounts in SQLite's C code: at a million rows, doing it in
    Python would double the export's time. The most common exponent is the ELSE.
    """
    by_places: dict[int, list[str]] = {}
    for code, places in MINOR_UNITS.items():
        by_places.setdefault(places, []).append(code)

    def text(places: int) -> str:
        if places == 0:
            return f"printf('%d', {column})"
        unit = 10**places
        return f"printf('%d.%0{places}d', {column} / {unit}, {column} % {unit})"

    common = max(by_places, key=lambda places: len(by_places[places]))
    branches = " ".join(
        f"WHEN {currency} IN ({', '.join(repr(code) for code in codes)}) THEN {text(places)}"
        for places, codes in sorted(by_places.items())
        if places != common
    )
    return f"(CASE WHEN {column} IS NULL THEN NULL {branches} ELSE {text(common)} END)"


class Snapshot:
    """Reads from one consistent point in time (a read transaction in WAL mode)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def last_event_id(self) -> int:
        row = self.store.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        return int(row[0])

    def visit_rows(
        self, filters: ExportFilter, cursor: int, *, masked: bool = True
    ) -> Iterator[tuple[Any, ...]]:
        """Tuples in :data:`EXPORT_COLUMNS` order, formatted and masked by the database.

        Streamed: the rows come a batch at a time (see the dialect's ``stream``), so
        memory does not grow with the export.
        """
        dialect = self.store.dialect
        where: list[str] = []
        params: list[Any] = []
        if filters.institution:
            where.append("c.institution = ?")
            params.append(filters.institution)
        if filters.stage:
            where.append("c.stage = ?")
            params.append(filters.stage)
        if filters.staff:
            where.append("EXISTS (SELECT 1 FROM json_each(v.staff) WHERE value = ?)")
            params.append(filters.staff)
        if filters.since is not None:
            where.append(
                "v.case_id IN (SELECT case_id FROM events WHERE at >= ? AND id <= ?"
                " AND case_id IS NOT NULL)"
            )
            params += [to_iso(filters.since), cursor]
        if filters.after_event is not None:
            where.append(
                "v.case_id IN (SELECT case_id FROM events WHERE id > ? AND id <= ?"
                " AND case_id IS NOT NULL)"
            )
            params += [filters.after_event, cursor]
        sql = VISIT_EXPORT_SQL.format(
            contact_notes=dialect.joined(*CONTACT_NOTES),
            offer_codes=dialect.joined(*OFFER_CODES, distinct=True),
            national_id="c.national_id_masked" if masked else "c.national_id",
            phone="c.phone_masked" if masked else "c.phone",
            third_party_notes=(
                masked_text_sql("cs.third_party_notes") if masked else "cs.third_party_notes"
            ),
            principal=minor_units_sql("c.principal_minor"),
            overdue=minor_units_sql("c.overdue_minor"),
            income=minor_units_sql("v.monthly_income_minor"),
            debts=minor_units_sql("v.other_debts_minor"),
            promised=minor_units_sql("coalesce(ps.promised, 0)"),
            paid=minor_units_sql("coalesce(pay.paid, 0)"),
            counted=COUNTED,
            repayments=minor_units_sql("v.monthly_repayments_minor"),
            debt_to_income=ratio_sql("v.other_debts_minor", "v.monthly_income_minor"),
            repayments_to_income=ratio_sql("v.monthly_repayments_minor", "v.monthly_income_minor"),
            # The employer, suppliers and buyers name third parties, as their notes do.
            # Not recorded stays null, as unmasked.
            **{
                column: (
                    f"(CASE WHEN v.{column} IS NULL THEN NULL"
                    f" ELSE {masked_text_sql(f'v.{column}')} END)"
                    if masked
                    else f"v.{column}"
                )
                for column in ("employer", "suppliers", "buyers")
            },
        ) + (" WHERE " + " AND ".join(where) if where else "")
        with dialect.stream(sql + " ORDER BY v.id", params) as rows:
            assert tuple(d[0] for d in rows.description) == EXPORT_COLUMNS
            yield from rows


@attrs.frozen
class AuditProblem:
    """The first event that breaks its chain, and how."""

    event_id: int
    chain: str
    problem: str


@attrs.frozen
class WorklistFilter:
    stage: str | None = None
    staff: str | None = None
    institution: str | None = None
    bucket: str | None = None
    include_closed: bool = False
    include_ineligible: bool = False
    #: Include cases in a hardship pause (left out by default: nobody should work them).
    include_paused: bool = False
    #: Text to find in the borrower's name, the reference or an address.
    search: str | None = None
    #: Only cases with a visit planned, or a promise falling due, today.
    due_today: bool = False
    #: Whose addresses ``search`` may match: every case's ("all"), only those of
    #: the cases ``searcher`` works ("own"), or none ("none": names and references).
    #: A search must not find what its viewer sees masked: that would be an oracle.
    addresses: str = "all"
    searcher: str | None = None
    #: The institution's own attributes that must equal these values ("branch": "Harbor-East").
    where: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    #: Only cases of this kind: ``collection`` or ``review``.
    kind: str | None = None


class _Batch:
    """One transaction's worth of changes: ids handed out, chain heads, versions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.next_ids: dict[str, int] = {}
        self.heads: dict[str, str] = {}
        self.fresh: set[int] = set()  # cases created in this batch: their chains are new
        self.versions: dict[int, int] = {}  # versions written earlier in this batch
        self.event_rows: list[tuple[Any, ...]] = []
        self.table_rows: list[dict[str, Any]] = []
        self._at: tuple[dt.datetime, str] | None = None

    def allocate(self, table: str) -> int:
        if table not in self.next_ids:
            self.next_ids[table] = self.store._next_id(table)
        self.next_ids[table] += 1
        return self.next_ids[table] - 1

    def at_text(self, at: dt.datetime) -> str:
        # A bulk import stamps thousands of events with one time: convert it once.
        if self._at is None or self._at[0] is not at:
            self._at = (at, to_iso(at))
        return self._at[1]

    def save(self, record: Record, case_id: int | None) -> tuple[Record, int | None]:
        """Give ``record`` its id if it has none; return it and the case it is about."""
        if isinstance(record, TableRow) and record.row.get("id") is None:  # a new row
            row = {**record.row, "id": self.allocate(record.table)}
            return TableRow(record.table, row), case_id
        if isinstance(record, TableRow | Removal):  # a correction's: ids of rows written before
            return record, case_id
        if isinstance(record, CaseRow):
            row = record.row
            if row["id"] is None:
                new_id = self.allocate("cases")
                row["id"] = new_id
                self.fresh.add(new_id)
            self.versions[row["id"]] = row["version"]
            return record, row["id"] if case_id is None else case_id
        if isinstance(record, Case):
            if record.id is None:
                record = attrs.evolve(record, id=self.allocate("cases"))
                self.fresh.add(record.id)  # type: ignore[arg-type]
            self.versions[record.id] = record.version  # type: ignore[index]
            return record, record.id if case_id is None else case_id
        if not isinstance(record, Staff | Institution) and record.id is None:
            record = attrs.evolve(record, id=self.allocate(TABLE_OF[type(record)]))
        if getattr(record, "case_id", 0) is None and case_id is not None:
            # A record of a case created by the same change (its first review).
            record = attrs.evolve(record, case_id=case_id)  # type: ignore[arg-type]
        return record, case_id

    def add(self, change: Change) -> tuple[Event, list[Record]]:
        case_id = change.case_id
        if change.expected_version is not None and case_id is not None:
            self.store._check_version(case_id, change.expected_version, self.versions.get(case_id))
        saved: list[Record] = []
        for record in change.records:
            record, case_id = self.save(record, case_id)
            saved.append(record)
        rows = self.rows(saved)
        payload = {"data": change.data, "rows": rows}
        chain = change.chain or (case_chain(case_id) if case_id is not None else SYSTEM_CHAIN)
        if chain not in self.heads:
            new_case = case_id is not None and case_id in self.fresh
            self.heads[chain] = GENESIS if new_case else self.store._chain_head(chain)
        prev = self.heads[chain]
        at_text = self.at_text(change.at)
        event_id = self.allocate("events")
        # The chain covers the digest of the payload's committed form (each
        # personal value by a salted digest, and the event's id): a purge can
        # later withhold the personal data and the rest still verifies.
        stored = seal(payload, change.event_type, event_id, self.store.salt)
        payload_text = canonical_json(stored)
        digest_of_payload = payload_sha256(stored, payload_text)
        recorded = change.recorded_at or change.at
        recorded_text = at_text if recorded is change.at else to_iso(recorded)
        digest = event_hash(
            prev,
            chain,
            change.event_type,
            case_id,
            change.actor,
            at_text,
            DIGEST_PREFIX + digest_of_payload,
            recorded_text,
            change.policy_version,
        )
        self.heads[chain] = digest
        self.event_rows.append(
            (
                event_id,
                case_id,
                chain,
                change.event_type,
                change.actor,
                at_text,
                payload_text,
                prev,
                digest,
                digest_of_payload,
                recorded_text,
                change.policy_version,
            )
        )
        self.table_rows.extend(rows)
        event = Event(
            id=event_id,
            case_id=case_id,
            chain=chain,
            type=change.event_type,
            actor=change.actor,
            at=change.at,
            payload=stored,
            prev_hash=prev,
            hash=digest,
            recorded_at=recorded,
            policy_version=change.policy_version,
        )
        return event, saved

    def rows(self, saved: Sequence[Record]) -> list[dict[str, Any]]:
        currency: str | None = None
        for record in saved:
            if isinstance(record, Case):
                currency = record.currency
            elif isinstance(record, CaseRow):
                currency = record.row["currency"]
        rows: list[dict[str, Any]] = []
        for record in saved:
            if isinstance(record, CaseRow):
                rows.append({"table": "cases", "row": record.row})
                continue
            if isinstance(record, TableRow):
                rows.append({"table": record.table, "row": record.row})
                continue
            if isinstance(record, Removal):
                row = {"id": record.id, "case_id": record.case_id}
                rows.append({"table": record.table, "row": row, "delete": True})
                continue
            if currency is None and isinstance(record, Offer):
                currency = record.currency
            elif currency is None and not isinstance(
                record, Case | Staff | Institution | PolicyVersion
            ):
                assert record.case_id is not None
                currency = self.store._case_currency(record.case_id)
            table, row = self.store._to_row(record, currency)
            rows.append({"table": table, "row": row})
        return rows

    def flush(self) -> None:
        self.store.db.executemany(
            f"INSERT INTO {self.store.dialect.write_table('events')} (id, case_id, chain, type,"
            " actor, at, payload, prev_hash, hash,"
            " payload_sha256, recorded_at, policy_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.event_rows,
        )
        self.store._apply_rows(self.table_rows)


def _key_text(difference: tuple[Any, str]) -> str:
    """The order differences are told in: by their rows' ids as text."""
    return str(difference[0])


def _row_dicts(cursor: Any) -> Iterator[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


class Store:
    """One fieldcase database: a SQLite file, or a PostgreSQL database a team shares.

    ``path`` is a file (``office.db``) or a ``postgresql://`` URL. What differs
    between the two lives in their dialects (:mod:`fieldcase.store.sqlite`,
    :mod:`fieldcase.store.postgres`); every query is written here once.
    ``read_only`` opens a file for reading only (see the SQLite dialect);
    ``scratch``, a file that is thrown away after use, written fast and never synced.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        read_only: bool = False,
        scratch: bool = False,
    ) -> None:
        self.path = str(path)
        #: Where each event's salt comes from (see :mod:`fieldcase.commitments`):
        #: random, so that digests of withheld values cannot be tried against
        #: guesses. Only the demo, whose people are made up, seeds it.
        self.salt: Callable[[], str] = commitments.new_salt
        self.dialect: Dialect
        if is_server_url(self.path):
            from .postgres import PostgresDialect

            self.dialect = PostgresDialect(self.path, busy_timeout=busy_timeout)
        else:
            self.dialect = SQLiteDialect(
                self.path, busy_timeout=busy_timeout, read_only=read_only, scratch=scratch
            )
        self.db: Any = self.dialect.db
        #: What the commits inside :meth:`carrying` carry (see there), and whether given.
        self._carry: list[Any] | None = None
        #: This file's pack manifest, once read (False: not a pack); see :meth:`pack`.
        self._pack: PackManifest | bool | None = False

    @property
    def read_only(self) -> bool:
        return self.dialect.read_only

    def close(self) -> None:
        self.db.close()

    # -- who and when: the database's word, where it has one --------------------

    @property
    def has_logins(self) -> bool:
        """Whether staff log in to the database, which then stamps every event itself."""
        return self.dialect.stamps_events

    def login(self) -> str | None:
        """The staff member logged in, on a store with logins (None: an administrator)."""
        return self.dialect.login()

    def clock(self) -> Callable[[], dt.datetime] | None:
        """The database's clock, on a store whose clock no caller sets; else None."""
        return self.dialect.clock()

    def set_password(self, staff_id: str, password: str | None) -> None:
        self.dialect.set_password(staff_id, password)

    # -- schema --------------------------------------------------------------

    def initialised(self) -> bool:
        """Whether ``init`` has made this a fieldcase database (a migrated schema)."""
        return self.dialect.initialised()

    def up_to_date(self) -> bool:
        """Whether the schema has every migration (then :meth:`migrate` writes nothing)."""
        return self.dialect.up_to_date()

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied."""
        if self.up_to_date():
            applied = []
        elif self.read_only:
            raise self.dialect.read_only_refusal(
                "its schema is older than this fieldcase's and must be brought up to date"
            )
        else:
            applied = self.dialect.migrate()
        # An import killed while its indexes were set aside left them to the next
        # command: the data is whole, its indexes are rebuilt here.
        self.dialect.finish_set_aside()
        return applied

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """An immediate (write-locking) transaction; rolled back on any error.

        A write the disk refuses (full, read-only) becomes :class:`WriteRefused`.
        """
        if self.read_only:
            raise self.dialect.read_only_refusal("this command writes, and nothing was written")
        db = self.db
        try:
            self.dialect.begin_write()
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT leaves it open: end it
                    db.execute("ROLLBACK")
                raise
        except self.dialect.errors as exc:
            refused = self.dialect.refused(
                exc, "the change was rolled back, nothing of it was written"
            )
            if refused is None:
                raise
            raise refused from None

    def _next_id(self, table: str) -> int:
        # An id a voided row had is never handed out again: each id in the log names one row.
        row = self.db.execute(
            f'SELECT coalesce((SELECT max(id) FROM "{table}"), 0), coalesce((SELECT'
            " max(row_id) FROM voided_rows WHERE table_name = ?), 0)",
            [table],
        ).fetchone()
        return max(int(row[0]), int(row[1])) + 1

    def _to_row(self, record: Record, currency: str | None) -> tuple[str, dict[str, Any]]:
        if isinstance(record, Case):
            return "cases", case_to_row(record)
        if isinstance(record, Visit):
            assert currency is not None
            return "visits", visit_to_row(record, currency)
        if isinstance(record, ContactAttempt):
            return "contacts", contact_to_row(record)
        if isinstance(record, Feedback):
            return "feedback", feedback_to_row(record)
        if isinstance(record, CaseRow):
            return "cases", record.row
        if isinstance(record, Offer):
            return "offers", offer_to_row(record)
        if isinstance(record, Promise):
            assert currency is not None
            return "promises", promise_to_row(record, currency)
        if isinstance(record, Payment):
            assert currency is not None
            return "payments", payment_to_row(record, currency)
        if isinstance(record, Institution):
            return "institutions", institution_to_row(record)
        if isinstance(record, PolicyVersion):
            return "policy_versions", policy_version_to_row(record)
        if type(record) in TO_ROW:
            return TABLE_OF[type(record)], TO_ROW[type(record)](record)
        assert isinstance(record, Staff)
        return "staff", staff_to_row(record)

    def _chain_head(self, chain: str) -> str:
        head = self.db.execute(
            "SELECT hash FROM events WHERE chain = ? ORDER BY id DESC LIMIT 1", [chain]
        ).fetchone()
        return str(head[0]) if head else GENESIS

    def _apply_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert each ``{"table", "row"}`` by id: the one way rows reach the tables."""
        grouped: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = {}
        money: set[int] = set()
        visited: set[int] = set()
        removed: list[tuple[str, int, int | None]] = []
        # An attachment voided or purged: its file goes, unless another still holds it.
        files_released = False
        for change in rows:
            row, table = change["row"], change["table"]
            if table == "attachments":
                files_released |= bool(change.get("delete") or row.get("purged_at"))
            if change.get("delete"):
                removed.append((table, row["id"], row.get("case_id")))
                if table in ("promises", "payments"):
                    money.add(row["case_id"])
                elif table == "visits":
                    visited.add(row["case_id"])
                continue
            if table == "cases":
                # Derived, not carried by events: worked out the same way on replay.
                row = {**row, "arrears_key": case_arrears_key(row)}
            elif table in ("promises", "payments"):
                money.add(row["case_id"])
            elif table == "visits":
                visited.add(row["case_id"])
            grouped.setdefault((table, tuple(row)), []).append(list(row.values()))
        for (table, columns), values in grouped.items():
            self.dialect.upsert(table, columns, values)
        for table, row_id, case_id in removed:
            self.db.execute(f"DELETE FROM {self.dialect.write_table(table)} WHERE id = ?", [row_id])
            self.db.execute(
                f"INSERT INTO {self.dialect.write_table('voided_rows')} (table_name, row_id,"
                " case_id) VALUES (?, ?, ?)",
                [table, row_id, case_id],
            )
        if money:
            refresh_met(self.db, sorted(money))
        if visited:
            refresh_visit_dates(self.db, sorted(visited))
        if files_released:
            self.db.execute(
                f"DELETE FROM {self.dialect.write_table('attachment_blobs')} WHERE sha256 NOT IN"
                " (SELECT sha256 FROM attachments WHERE purged_at IS NULL)"
            )

    def commit(
        self,
        event_type: str,
        *,
        actor: str | None,
        at: dt.datetime,
        records: Sequence[Record],
        data: dict[str, Any] | None = None,
        case_id: int | None = None,
        expected_version: int | None = None,
        recorded_at: dt.datetime | None = None,
        policy_version: int | None = None,
        chain: str | None = None,
    ) -> tuple[Event, list[Record]]:
        """Write ``records`` and the one event that carries them, atomically.

        Records without an id get the next one. ``expected_version`` is the
        version of the case as it was read: if it has moved on, :class:`StaleCase`.
        Returns the event and the records as saved (with their ids).
        """
        change = Change(
            event_type,
            actor,
            at,
            tuple(records),
            data or {},
            case_id,
            expected_version,
            recorded_at,
            policy_version,
            chain,
        )
        return self.commit_many([change])[0]

    def commit_many(
        self,
        changes: Sequence[Change],
        *,
        redactions: Sequence[tuple[int, str]] = (),
        fingerprints: Sequence[str | None] = (),
        files: Sequence[tuple[str, bytes]] = (),
    ) -> list[tuple[Event, list[Record]]]:
        """Write several changes, each with its own event, in ONE transaction.

        ``redactions`` (event id, redacted payload) replace earlier payloads in
        the same transaction: only ``purge`` does this, and the database lets
        nothing else change an event (see migration 008); the purged cases'
        import fingerprints go too. ``fingerprints``: an import's, one per
        change (its case's first record), kept with the case's new version.
        ``files``: attachments' contents, (SHA-256, bytes), each kept once (the
        events carry only their fingerprints).
        """
        # What a carrying block adds is written, not handed back: callers get their records.
        own = len(changes[0].records) if changes else 0
        changes = self._carried(changes)
        with self.transaction():
            self._keep_files(files)
            batch = _Batch(self)
            results = [batch.add(change) for change in changes]
            if results:
                results[0] = (results[0][0], results[0][1][:own])
            try:
                batch.flush()
            except self.dialect.integrity_errors as exc:
                if "policy_versions" not in str(exc) and "institutions.id" not in str(exc):
                    raise
                raise StaleCase(
                    "the institution was registered or its policy changed by someone else "
                    "meanwhile; nothing was written: show it again (fieldcase institution "
                    "show) and retry"
                ) from None
            if redactions:
                self.dialect.redact(redactions)
                self.db.executemany(
                    f"DELETE FROM {self.dialect.write_table('import_fingerprints')} WHERE id = ?",
                    [[change.case_id] for change in changes if change.case_id is not None],
                )
            if fingerprints:
                self._keep_fingerprints(
                    (saved[0], digest)
                    for (_, saved), digest in zip(results, fingerprints, strict=True)
                    if digest is not None
                )
            if self.dialect.stamps_events:
                # The database set who wrote each event, when and its link: read them back.
                stamped = self.dialect.stamped([int(event.id or 0) for event, _ in results])
                results = [
                    (stamp_event(event, stamped[int(event.id or 0)]), saved)
                    for event, saved in results
                ]
        return results

    @contextmanager
    def carrying(self, extra: Callable[[Change], Carried]) -> Iterator[None]:
        """Inside, the first change committed also carries ``extra(change)``: data merged
        into its event's and records written with it, in the same transaction.

        This is how a field pack writes down the action behind each event, and how a
        sync notes which pack action each event of the office's log takes in (whether
        the action was done or refused, the same transaction tells).
        """
        self._carry = [extra, False]
        try:
            yield
        finally:
            self._carry = None

    def _carried(self, changes: Sequence[Change]) -> Sequence[Change]:
        pack = self.pack()
        if self._carry is None:
            if pack is not None and changes:
                raise NotPermitted(
                    f"{self.path} is the field pack of {pack.staff}: it records field actions "
                    f"only ({', '.join(pack.actions)}); do this at the office",
                    "pack.field_only",
                )
            return changes
        if self._carry[1] or not changes:
            return changes
        self._carry[1] = True
        data, records = self._carry[0](changes[0])
        first = changes[0]
        return [
            attrs.evolve(first, data={**first.data, **data}, records=(*first.records, *records)),
            *changes[1:],
        ]

    def pack(self) -> PackManifest | None:
        """The signed manifest when this file is a field pack, else None (read once)."""
        if self._pack is False:
            row = self.db.execute(
                "SELECT pack, manifest, signature FROM pack_manifest WHERE id = 1"
            ).fetchone()
            self._pack = None if row is None else PackManifest(row[0], json.loads(row[1]), row[2])
        assert self._pack is not True
        return self._pack

    def make_pack(self, manifest: PackManifest) -> None:
        """Make this (new) file a field pack: from now on it takes field actions only."""
        with self.transaction():
            self.db.execute(
                f"INSERT INTO {self.dialect.write_table('pack_manifest')} (id, pack, manifest,"
                " signature) VALUES (1, ?, ?, ?)",
                [manifest.pack, canonical_json(manifest.manifest), manifest.signature],
            )
        self._pack = manifest

    def pack_signature(self, digest: str) -> str:
        """This office's signature of a pack manifest's SHA-256 (hex): SHA-256 over the
        office's secret and the digest, worked out where the secret is kept."""
        return self.dialect.pack_signature(digest)

    def case_event_rows(self, case_ids: Sequence[int]) -> list[tuple[Any, ...]]:
        """Every event of these cases, whole, in :data:`EVENT_COLUMNS`, oldest first."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(case_ids), 500):
            part = list(case_ids[start : start + 500])
            rows.extend(
                tuple(row)
                for row in self.db.execute(
                    f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE case_id IN"
                    f" ({', '.join('?' * len(part))})",
                    part,
                )
            )
        return sorted(rows)

    def reference_rows(self, institutions: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        """What a pack needs beside its cases: every staff member, and these institutions
        with their policies' versions, as (table, row)."""
        found: list[tuple[str, dict[str, Any]]] = [
            ("staff", row) for row in self.db.query("SELECT * FROM staff ORDER BY id")
        ]
        for table in ("institutions", "policy_versions"):
            column = "id" if table == "institutions" else "institution"
            for institution in institutions:
                found.extend(
                    (table, row)
                    for row in self.db.query(
                        f"SELECT * FROM {table} WHERE {column} = ? ORDER BY id", [institution]
                    )
                )
        return found

    def events_after(self, after: int) -> list[Event]:
        """Every event after event ``after``, oldest first."""
        return [
            row_to_event(row)
            for row in self.db.query("SELECT * FROM events WHERE id > ? ORDER BY id", [after])
        ]

    def synced_action(self, pack: str, seq: int) -> dict[str, Any] | None:
        """What the office did with action ``seq`` of ``pack`` (a row of synced_actions)."""
        rows = list(
            self.db.query("SELECT * FROM synced_actions WHERE pack = ? AND seq = ?", [pack, seq])
        )
        return rows[0] if rows else None

    def synced_actions(self, pack: str) -> dict[int, dict[str, Any]]:
        """Every action of ``pack`` the office has seen, by its number in the pack."""
        return {
            row["seq"]: row
            for row in self.db.query("SELECT * FROM synced_actions WHERE pack = ?", [pack])
        }

    def sync_conflicts(
        self,
        *,
        open_only: bool = True,
        conflict_id: int | None = None,
        case_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Conflicts kept by syncs (rows of sync_conflicts), oldest first."""
        where: list[str] = []
        params: list[Any] = []
        if open_only:
            where.append("status = 'open'")
        for column, value in (("id", conflict_id), ("case_id", case_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return list(self.db.query(f"SELECT * FROM sync_conflicts{clause} ORDER BY id", params))

    def backup_to(self, target: Path, progress: Callable[[int, int], object] | None = None) -> None:
        """Copy the whole database to ``target`` (a new SQLite file), one consistent state.

        Other processes may go on writing. The copy is left in rollback-journal
        mode (open it with ``read_only`` to keep it so), readable from read-only
        media. A write the disk refuses becomes :class:`WriteRefused` naming ``target``.
        """
        self.dialect.backup_to(target, progress)

    def missing_guards(self) -> list[str]:
        """The triggers that keep the log append-only, if any is gone."""
        return self.dialect.missing_guards()

    def integrity(self) -> str:
        """The database's own check: ``'ok'`` or what is wrong."""
        return self.dialect.integrity()

    def purgeable(self, closed_before: dt.datetime, institution: str) -> list[int]:
        """The institution's closed cases, not yet purged, closed before ``closed_before``."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM cases WHERE stage = 'closed' AND purged_at IS NULL"
                " AND closed_at < ? AND institution = ? ORDER BY id",
                [to_iso(closed_before), institution],
            )
        ]

    def case_events(self, case_id: int) -> list[tuple[int, str, str | None, str]]:
        """(id, payload, payload_sha256, type) of every event of the case, oldest first."""
        return list(
            self.db.execute(
                "SELECT id, payload, payload_sha256, type FROM events WHERE case_id = ?"
                " ORDER BY id",
                [case_id],
            )
        )

    def scrub(self) -> bool:
        """After a purge: drop withheld text from the search index and the write-ahead log.

        False when a reader kept the write-ahead log from being cleared: the old
        text is still in the file until a later scrub succeeds.
        """
        return self.dialect.scrub()

    def check_version(self, case_id: int, expected: int) -> None:
        """:class:`StaleCase` unless the stored case is still at version ``expected``."""
        self._check_version(case_id, expected, None)

    def _check_version(self, case_id: int, expected: int, in_batch: int | None) -> None:
        if in_batch is None:
            row = self.db.execute("SELECT version FROM cases WHERE id = ?", [case_id]).fetchone()
            current = None if row is None else row[0]
        else:
            current = in_batch
        if current != expected:
            raise StaleCase(
                f"case {case_id} was changed by someone else since it was read "
                f"(version {expected}, now {current if current is not None else 'gone'}); "
                "show it again and retry"
            )

    @contextmanager
    def read_snapshot(self) -> Iterator[Snapshot]:
        """Everything read inside sees the database as it was at the first read."""
        with self.dialect.read_transaction():
            yield Snapshot(self)

    # -- import runs: references seen so far in the file --------------------------

    def start_import(self, set_aside: bool = False) -> None:
        """An import begins; ``set_aside``: its file is large against the table, and
        the cases' indexes and search index are rebuilt at the end, not kept up per row."""
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_refs (reference TEXT PRIMARY KEY, line INT)"
        )
        self.db.execute("DELETE FROM import_refs")
        self.db.commit()
        self.dialect.start_bulk()
        if set_aside:
            self.dialect.set_aside()

    def claim_references(self, pairs: Sequence[tuple[str, int]]) -> dict[str, int]:
        """Record where each reference first appears in this run; return the first lines."""
        first: dict[str, int] = {}
        for reference, line in pairs:
            first.setdefault(reference, line)
        refs = list(first)
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for reference, line in self.db.execute(
                f"SELECT reference, line FROM import_refs WHERE reference IN ({marks})", chunk
            ):
                first[reference] = line
        self.db.executemany(
            "INSERT INTO import_refs (reference, line) VALUES (?, ?) ON CONFLICT DO NOTHING",
            list(first.items()),
        )
        self.db.commit()
        return first

    def finish_import(self, progress: Callable[[str], object] | None = None) -> None:
        """An import ends: what it set aside is rebuilt (``progress`` hears each name)."""
        self.db.execute("DROP TABLE IF EXISTS import_refs")
        self.db.commit()
        self.dialect.put_back(progress)
        self.dialect.end_bulk()

    def import_fingerprints(self, institution: str, references: Sequence[str]) -> dict[str, str]:
        """The import fingerprint of each of ``institution``'s cases among
        ``references`` that nothing has changed since it was imported: by reference.

        A case written since (its version moved on), or purged, has none.
        """
        found: dict[str, str] = {}
        refs = list(dict.fromkeys(references))
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for reference, digest in self.db.execute(
                "SELECT c.reference, f.digest FROM cases c"
                " JOIN import_fingerprints f ON f.id = c.id AND f.version = c.version"
                f" WHERE c.institution = ? AND c.reference IN ({marks})"
                " AND c.purged_at IS NULL",
                [institution, *chunk],
            ):
                found[reference] = digest
        return found

    def keep_fingerprints(self, kept: Sequence[tuple[dict[str, Any], str]]) -> None:
        """Record the fingerprints of stored case rows an import found unchanged."""
        if kept:
            with self.transaction():
                self._keep_fingerprints(kept)

    def _keep_fingerprints(self, kept: Iterable[tuple[Any, str]]) -> None:
        rows = []
        for record, digest in kept:
            row = record.row if isinstance(record, CaseRow) else record
            if isinstance(row, Case):
                rows.append([row.id, row.version, digest])
            else:
                rows.append([row["id"], row["version"], digest])
        # Keyed by the case's id, as the upsert of every table is.
        self.dialect.upsert("import_fingerprints", ("id", "version", "digest"), rows)

    def case_count_bound(self) -> int:
        """At least as many as the cases there are (the highest id): one index lookup."""
        row = self.db.execute("SELECT max(id) FROM cases").fetchone()
        return int(row[0] or 0)

    def existing_cases(
        self, institution: str, references: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Stored rows of ``institution``'s cases among ``references``, by reference."""
        found: dict[str, dict[str, Any]] = {}
        refs = list(dict.fromkeys(references))
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT * FROM cases WHERE institution = ? AND reference IN ({marks})",
                [institution, *chunk],
            ):
                found[row["reference"]] = row
        return found

    def record_refusal(
        self,
        *,
        case_id: int | None,
        actor: str | None,
        at: dt.datetime,
        action: str,
        reasons: Sequence[tuple[str, str]],
        attempted: dict[str, Any] | None = None,
        recorded_at: dt.datetime | None = None,
        policy_version: int | None = None,
        chain: str | None = None,
    ) -> Event:
        """Append a ``refused`` event, alone in its transaction; nothing else is written."""
        data = {
            "action": action,
            "reasons": [{"rule": rule, "reason": reason} for rule, reason in reasons],
            "attempted": attempted or {},
        }
        change = Change(
            "refused", actor, at, (), data, case_id, None, recorded_at, policy_version, chain
        )
        return self.commit_many([change])[0][0]

    def _case_currency(self, case_id: int) -> str:
        row = self.db.execute("SELECT currency FROM cases WHERE id = ?", [case_id]).fetchone()
        if row is None:
            raise CaseNotFound(f"no case with id {case_id}")
        return str(row[0])

    # -- audit ------------------------------------------------------------------

    def iter_events(
        self, case_id: int | None = None, chain: str | None = None, after: int = 0
    ) -> Iterator[Event]:
        """Events oldest first: all, a chain's, or a case's (those after event ``after``)."""
        if chain is not None:
            rows = self.db.query("SELECT * FROM events WHERE chain = ? ORDER BY id", [chain])
        elif case_id is None:
            rows = self.db.query("SELECT * FROM events ORDER BY id")
        else:
            rows = self.db.query(
                "SELECT * FROM events WHERE case_id = ? AND id > ? ORDER BY id", [case_id, after]
            )
        for row in rows:
            yield row_to_event(row)

    @contextmanager
    def _one_state(self) -> Iterator[None]:
        """Every read inside sees one state of the database: the caller's transaction's,
        or that of a read transaction begun for them."""
        if self.db.in_transaction:
            yield
            return
        with self.dialect.read_transaction():
            yield

    def count_events(self, after: int = 0) -> int:
        """How many events come after event ``after`` (0: every event)."""
        row = self.db.execute("SELECT count(*) FROM events WHERE id > ?", [after]).fetchone()
        return int(row[0])

    def verify_chains(
        self, after: int = 0, progress: Callable[[int, int], object] | None = None
    ) -> tuple[int, AuditProblem | None]:
        """Check every event against its hash and its chain; return (checked, first problem).

        The first problem is the one of the lowest event id; ``checked`` counts the
        events before it. Events are walked chain by chain (the index on
        (chain, id)): only the head of the chain at hand is held, however many
        chains there are. ``after``: only the events after that event, each chain
        going on from its head there (what a seal vouches for). ``progress(done,
        total)`` hears of the walk now and then. A large SQLite file has its
        chains walked by several processes at once (:mod:`fieldcase.store.verify`),
        with the same answer.
        """
        from . import verify

        # Other processes see only what is committed: a caller's open transaction keeps one walk.
        alone = self.db.in_transaction
        with self._one_state():
            total = self.count_events(after) if progress is not None else 0
            last = self.last_event_id()
            workers = 1 if alone else verify.workers_for(self, last - after)
            shared = None
            if workers > 1:
                shared = verify.walk_in_parallel(self, after, last, workers, progress, total)
            if shared is not None:
                walked, first = shared
            else:
                redacted, pinned = self.redactions(after)
                told = None if progress is None else (lambda done: progress(done, total))
                walked, first = self.walk_chains(after, redacted, pinned, progress=told)
            if progress is not None:
                progress(walked, total)
            if first is None:
                return walked, None
            before = self.db.execute(
                "SELECT count(*) FROM events WHERE id > ? AND id < ?", [after, first.event_id]
            ).fetchone()
            return int(before[0]), first

    def walk_chains(
        self,
        after: int,
        redacted: set[int],
        pinned: dict[int, str],
        *,
        up_to: int | None = None,
        chains: tuple[str | None, str | None] = (None, None),
        progress: Callable[[int], object] | None = None,
    ) -> tuple[int, AuditProblem | None]:
        """Check the events after ``after`` (up to ``up_to``) of the chains named from
        ``chains[0]`` up to, not including, ``chains[1]`` (None: no bound): (events
        walked, the problem of the lowest event id). ``redacted`` and ``pinned``: as
        :meth:`redactions` gives them, read in the same state of the database.
        """
        where: list[str] = ["id > ?"]
        params: list[Any] = [after]
        # "+id": a bound on both sides of the id would have the rows read by id and sorted.
        bounds = (("+id <= ?", up_to), ("chain >= ?", chains[0]), ("chain < ?", chains[1]))
        for clause, bound in bounds:
            if bound is not None:
                where.append(clause)
                params.append(bound)
        first: AuditProblem | None = None
        walked = 0
        chain_at: str | None = None
        head, broken = GENESIS, False
        with self.dialect.stream(
            "SELECT id, case_id, chain, type, actor, at, payload, prev_hash, hash,"
            " payload_sha256, recorded_at, policy_version FROM events"
            f" WHERE {' AND '.join(where)} ORDER BY chain, id",
            params,
        ) as rows:
            for row in rows:
                walked += 1
                if progress is not None and walked % PROGRESS_STEP == 0:
                    progress(walked)
                event_id, chain = row[0], row[2]
                if chain != chain_at:
                    chain_at, broken = chain, False
                    head = self._head_at(chain, after) if after else GENESIS
                if broken or (first is not None and event_id > first.event_id):
                    continue  # a later event of a broken chain, or after the first problem
                problem = self._event_problem(row, head, redacted, pinned)
                if problem is None:
                    head = row[8]
                else:
                    first, broken = AuditProblem(event_id, chain, problem), True
        return walked, first

    def _head_at(self, chain: str, event_id: int) -> str:
        """The hash of the last event of ``chain`` up to event ``event_id``."""
        head = self.db.execute(
            "SELECT hash FROM events WHERE chain = ? AND id <= ? ORDER BY id DESC LIMIT 1",
            [chain, event_id],
        ).fetchone()
        return str(head[0]) if head else GENESIS

    @classmethod
    def _event_problem(
        cls,
        row: Sequence[Any],
        expected_prev: str,
        redacted: set[int],
        pinned: dict[int, str],
    ) -> str | None:
        """Why an event (a row of :meth:`walk_chains`' query) breaks its chain, if it does."""
        if cls._event_fault(row, expected_prev, redacted, pinned, quick=True) is None:
            return None
        # The quick check passes a payload whose text hashes as recorded; should the
        # event fail all the same, the full check names its problem as it always did.
        return cls._event_fault(row, expected_prev, redacted, pinned, quick=False)

    @classmethod
    def _event_fault(
        cls,
        row: Sequence[Any],
        expected_prev: str,
        redacted: set[int],
        pinned: dict[int, str],
        *,
        quick: bool,
    ) -> str | None:
        event_id, case_id, chain, type, actor, at, payload, prev_hash, stored, sha = row[:10]
        recorded_at, policy_version = row[10:]
        # A payload the reader may not see (PostgreSQL's masking views give none)
        # is checked by those who may; its digest still links the chain.
        if sha is not None and payload is not None:
            problem = cls._payload_problem(event_id, payload, sha, redacted, pinned, quick=quick)
            if problem:
                return problem
        if sha is not None:
            payload = DIGEST_PREFIX + sha
        if recorded_at is None and policy_version is not None:
            # Events before migration 010 have neither: a version set later is forged.
            return "it carries a policy version it was not written with"
        if prev_hash != expected_prev:
            return (
                "its link to the previous event of the chain is broken: an earlier "
                "event was removed or altered"
            )
        digest = event_hash(
            prev_hash, chain, type, case_id, actor, at, payload, recorded_at, policy_version
        )
        if digest != stored:
            return "its contents do not match its hash: it was edited"
        return None

    @staticmethod
    def _payload_problem(
        event_id: int,
        payload: str,
        sha: str,
        redacted: set[int],
        pinned: dict[int, str],
        *,
        quick: bool = False,
    ) -> str | None:
        """Why a payload is not the one its event was written with, if it is not.

        ``quick``: its text alone may vouch for it (:func:`commitments.matches_sha256`).
        """
        edited = "its contents do not match its hash: it was edited"
        try:
            stored = json.loads(payload)
            is_redacted = stored.get("redacted") is True
            written_as = stored["seal"]["event"] if "seal" in stored else None
            if quick:
                matches = commitments.matches_sha256(stored, payload, sha)
            else:
                matches = payload_sha256(stored, payload) == sha
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            return "its payload is not readable: it was edited"
        if is_redacted and event_id not in redacted:
            return edited + " (no purge in the log withheld it)"
        if written_as is not None and written_as != event_id:
            return f"it was written as event {written_as}: events were moved or swapped"
        if matches:
            return None
        # Withheld before seals: the purge that did it vouches for what it kept.
        if is_redacted and written_as is None:
            kept = hashlib.sha256(payload.encode("utf-8")).hexdigest()
            if pinned.get(event_id, kept) == kept:
                return None
        return edited

    def redactions(self, after: int = 0) -> tuple[set[int], dict[int, str]]:
        """Events a purge withheld personal data from, and for those written before
        seals, the SHA-256 of what the purge kept (event id -> digest).

        ``after``: only what purges after that event withheld (a purge withholds
        only events before it).
        """
        withheld: set[int] = set()
        pinned: dict[int, str] = {}
        for purge_id, listed, kept in self.db.execute(
            "SELECT id, json_extract(payload, '$.data.redacted_events'),"
            " json_extract(payload, '$.data.redacted_sha256') FROM events"
            " WHERE type = 'case_purged' AND id > ?",
            [after],
        ):
            withheld |= {event_id for event_id in json.loads(listed or "[]") if event_id < purge_id}
            pinned |= {int(k): v for k, v in json.loads(kept or "{}").items()}
        return withheld, pinned

    def seal(self, up_to: int | None = None) -> tuple[str, int, int]:
        """One digest over every chain's head and length: (digest, chains, events).

        ``up_to``: as the log stood after that event. Chains are ordered by their
        names' code points, whatever the database's collation; they are read one
        at a time, however many there are.
        """
        digest = hashlib.sha256()
        chains = events = 0
        limit, params = ("", []) if up_to is None else (" WHERE id <= ?", [up_to])
        with self.dialect.stream(
            "SELECT c.chain, c.n, e.hash FROM (SELECT chain, max(id) AS last, count(*) AS n"
            f" FROM events{limit} GROUP BY chain) c JOIN events e ON e.id = c.last"
            f" ORDER BY c.chain{self.dialect.code_point_order}",
            params,
        ) as heads:
            for chain, count, head in heads:
                digest.update(f"{chain}\t{count}\t{head}\n".encode())
                chains += 1
                events += count
        return digest.hexdigest(), chains, events

    @staticmethod
    def _payload_rows(payload: str) -> list[dict[str, Any]]:
        """The rows an event's stored payload writes (withheld values as a purge left them)."""
        stored = json.loads(payload)
        rows: list[dict[str, Any]] = stored["rows"]
        if stored.get("redacted") is True:
            rows = [{**r, "row": anonymise_row(r["table"], r["row"])} for r in rows]
        return rows

    def replay_into(
        self, target: Store, progress: Callable[[int, int], object] | None = None
    ) -> int:
        """Rebuild every state table of ``target`` (freshly migrated) from this log.

        The events are read a batch at a time; ``progress(done, total)`` hears of it.
        """
        applied = 0
        with self._one_state():
            total = self.count_events() if progress is not None else 0
            with (
                target.transaction(),
                self.dialect.stream("SELECT payload FROM events ORDER BY id") as payloads,
            ):
                for (payload,) in payloads:
                    target._apply_rows(self._payload_rows(payload))
                    applied += 1
                    if progress is not None and applied % PROGRESS_STEP == 0:
                        progress(applied, total)
        if progress is not None:
            progress(applied, total)
        return applied

    # -- moving a whole log to another store --------------------------------------

    def event_rows(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` events after event ``after``, whole, in :data:`EVENT_COLUMNS`."""
        return [
            tuple(row)
            for row in self.db.execute(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                [after, limit],
            )
        ]

    def last_event_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])

    def append_moved(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append events copied whole from another store, and the rows they write, in one
        transaction. They keep their actors, times and hashes: the database checks
        each link instead of stamping it (PostgreSQL lets only its administrator)."""
        with self.transaction():
            self.dialect.keep_stamps()
            self.db.executemany(
                f"INSERT INTO {self.dialect.write_table('events')} ({', '.join(EVENT_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
                rows,
            )
            for row in rows:
                self._apply_rows(self._payload_rows(row[EVENT_COLUMNS.index("payload")]))

    def table_counts(self) -> dict[str, int]:
        """Rows in every table the log rebuilds, and in the log itself."""
        return {
            table: int(self.db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            for table in (*STATE_TABLES, "events")
        }

    def compare_replay(
        self,
        limit: int | None = None,
        progress: Callable[[str, int, int], object] | None = None,
    ) -> list[str]:
        """Rebuild every state table from the events; describe each difference.

        The tables are rebuilt in a temporary SQLite file (about the database's
        size, in the temporary folder), and each is compared with the stored one
        by walking both in id order together: memory does not grow with the
        tables. Differences come table by table, each table's rows ordered by
        their ids as text; ``limit``: only that many, the same first ones.
        ``progress(stage, done, total)`` hears of the ``replay``, then the ``compare``.
        """
        with (
            tempfile.TemporaryDirectory(prefix="fieldcase-replay-") as folder,
            self._one_state(),
        ):
            replayed = Store(Path(folder) / "replayed.db", scratch=True)
            try:
                replayed.migrate()
                # Rebuilt only to be compared: the cases' indexes for the worklist and
                # the search index would be kept up event by event for nothing.
                replayed.dialect.drop_derived()
                self.replay_into(
                    replayed, None if progress is None else functools.partial(progress, "replay")
                )
                total = sum(replayed.table_counts()[table] for table in STATE_TABLES)
                compared = 0

                def advance() -> None:
                    nonlocal compared
                    compared += 1
                    if progress is not None and compared % PROGRESS_STEP == 0:
                        progress("compare", compared, total)

                differences: list[str] = []
                for table in STATE_TABLES:
                    wanted = None if limit is None else limit - len(differences)
                    if wanted is not None and wanted <= 0:
                        break
                    found = self._table_differences(replayed, table, advance)
                    first = (
                        sorted(found, key=_key_text)
                        if wanted is None
                        else heapq.nsmallest(wanted, found, key=_key_text)
                    )
                    differences += [message for _, message in first]
                if progress is not None:
                    progress("compare", compared, total)
                return differences
            finally:
                replayed.close()

    def _table_differences(
        self, replayed: Store, table: str, advance: Callable[[], object]
    ) -> Iterator[tuple[Any, str]]:
        """(row id, what differs) for each row of ``table`` that differs from ``replayed``'s.

        Both sides are read in id order and walked together (a merge); text ids
        in code point order on both databases, so that the two orders agree.
        """
        sql = f'SELECT * FROM "{table}" ORDER BY id'
        with (
            self.dialect.stream(sql + self._key_order(table)) as ours,
            replayed.dialect.stream(sql + replayed._key_order(table)) as theirs,
        ):
            stored_rows, rebuilt_rows = _row_dicts(ours), _row_dicts(theirs)
            stored, rebuilt = next(stored_rows, None), next(rebuilt_rows, None)
            pair: tuple[dict[str, Any] | None, dict[str, Any] | None]
            while stored is not None or rebuilt is not None:
                if rebuilt is None or (stored is not None and stored["id"] < rebuilt["id"]):
                    assert stored is not None
                    key, pair = stored["id"], (stored, None)
                    stored = next(stored_rows, None)
                elif stored is None or rebuilt["id"] < stored["id"]:
                    key, pair = rebuilt["id"], (None, rebuilt)
                    rebuilt = next(rebuilt_rows, None)
                else:
                    key, pair = stored["id"], (stored, rebuilt)
                    stored, rebuilt = next(stored_rows, None), next(rebuilt_rows, None)
                advance()
                if pair[0] != pair[1]:
                    yield key, f"{table} row {key}: stored {pair[0]} but events give {pair[1]}"

    def _key_order(self, table: str) -> str:
        return self.dialect.code_point_order if table in TEXT_KEYED else ""

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.db.query(f'SELECT * FROM "{table}" ORDER BY id'))

    # -- queries ------------------------------------------------------------

    def get_case(self, ref: str | int) -> Case:
        """A case by id (``42``) or by ``institution/reference``."""
        text = str(ref).strip()
        number = text.lstrip("#")
        if number.isascii() and number.isdigit():
            rows = (
                list(self.db.query("SELECT * FROM cases WHERE id = ?", [int(number)]))
                if len(number) < 19
                else []
            )
        elif "/" in text:
            institution, reference = text.split("/", 1)
            rows = list(
                self.db.query(
                    "SELECT * FROM cases WHERE institution = ? AND reference = ?",
                    [institution, reference],
                )
            )
        else:
            rows = []
        if not rows:
            known = ""
            if "/" in text:
                institution = text.split("/", 1)[0]
                ids = self.institution_ids()
                if institution not in ids:
                    known = (
                        f"; no institution {institution!r} is registered{hint(institution, ids)}"
                    )
            raise CaseNotFound(
                f"no case {text!r}: give a case id (e.g. 42) or INSTITUTION/REFERENCE{known}"
            )
        return row_to_case(rows[0])

    def find_case(self, institution: str, reference: str) -> Case | None:
        try:
            return self.get_case(f"{institution}/{reference}")
        except CaseNotFound:
            return None

    def zones(self) -> list[tuple[str]]:
        """The borrowers' time zones, each once: one index seek per zone, not a scan."""
        return list(
            self.db.execute(
                "WITH RECURSIVE z(zone) AS (SELECT min(timezone) FROM cases UNION ALL"
                " SELECT (SELECT min(timezone) FROM cases WHERE timezone > z.zone) FROM z"
                " WHERE z.zone IS NOT NULL) SELECT zone FROM z WHERE zone IS NOT NULL"
            )
        )

    def list_cases(
        self,
        filters: WorklistFilter,
        at: dt.datetime,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Case]:
        where, params = self._case_where(filters, at)
        sql = "SELECT * FROM cases"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [row_to_case(row) for row in self.db.query(sql, params)]

    def count_cases(self, filters: WorklistFilter, at: dt.datetime) -> int:
        """How many cases :meth:`list_cases` would give without a limit."""
        where, params = self._case_where(filters, at)
        sql = "SELECT count(*) FROM cases" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self.db.execute(sql, params).fetchone()[0])

    def worklist_candidates(
        self, filters: WorklistFilter, at: dt.datetime, limit: int
    ) -> tuple[list[tuple[Case, bool, int]], bool]:
        """Every case that can be in the top ``limit`` by the built-in priority.

        Each as (case, visit planned today, promises broken). Cases that may be
        boosted (a visit today, a broken promise) are found through the partial
        indexes on ``visit_date`` and ``unmet_due`` and ranked in SQL; the rest
        are read zone by zone in ``arrears_key`` order, since within one time
        zone that order is the priority's. ``limit`` and a few more of each
        (float rounding can reorder near-ties); open cases only. The caller
        ranks them exactly. The flag says whether cases not yet overdue were
        ranked too (the key order counts their days below 0).
        """
        assert not filters.include_closed
        where, where_params = self._case_where(filters, at)
        today = {zone: at.astimezone(ZoneInfo(zone)).date() for (zone,) in self.zones()}
        if not today:
            return [], True
        days = sorted(d.isoformat() for d in today.values())
        local_day, day_params = self.local_date_sql(at)
        # The zones' todays span up to three dates: this finds a superset.
        maybe = "(visit_date BETWEEN ? AND ? OR unmet_due < ?)"
        maybe_params = [days[0], days[-1], days[-1]]
        # Filters that leave few cases (due today, a search) are ranked in one go.
        few = filters.due_today or bool(filters.search)
        if few:
            maybe, maybe_params = "TRUE", []
        # ranking.priority, in SQL: a visit today, broken promises, days past
        # due (not below 0) and log10(1 + amount) = arrears_key + the due day.
        rows = self.db.query(
            "SELECT * FROM (SELECT cases.*,"
            f" CASE WHEN visit_date = {local_day} THEN 1 ELSE 0 END AS _visit,"
            f" CASE WHEN unmet_due < {local_day} THEN (SELECT count(*) FROM promises p"
            f" WHERE p.case_id = cases.id AND {BROKEN.format(today=local_day)})"
            " ELSE 0 END AS _broken,"
            f" max(julianday({local_day}) - julianday({DUE_SINCE}), 0) AS _days,"
            f" julianday({DUE_SINCE}) AS _due"
            f" FROM cases WHERE {' AND '.join([*where, maybe])}) ranked"
            f" ORDER BY _visit * {VISIT_TODAY} + min(_broken, {MAX_BROKEN}) * {BROKEN_PROMISE}"
            " + _days + arrears_key + _due DESC, id LIMIT ?",
            [
                *day_params,
                *day_params,
                *day_params,
                *day_params,
                *where_params,
                *maybe_params,
                limit + 5,
            ],
        )
        found: dict[int, tuple[Case, bool, int]] = {}
        for row in rows:
            visit, broken = bool(row.pop("_visit")), int(row.pop("_broken"))
            del row["_days"], row["_due"]
            found[row["id"]] = (row_to_case(row), visit, broken)
        if few:
            return list(found.values()), True
        rest = [
            *where,
            "timezone = ?",
            "NOT coalesce(visit_date BETWEEN ? AND ?, FALSE)",
            "NOT coalesce(unmet_due < ?, FALSE)",
        ]
        for zone, day in today.items():
            # In one aging bucket, the keys lie between those of its oldest and
            # newest days: the index is read from there, not from the oldest case.
            keys, key_params = "", list[float]()
            if filters.bucket:
                low, high = bucket_range(filters.bucket)
                keys = " AND arrears_key >= ?"
                key_params.append(-(day - dt.timedelta(days=low)).toordinal())
                if high is not None:
                    keys += " AND arrears_key <= ?"
                    key_params.append(MAX_LOG_AMOUNT - (day - dt.timedelta(days=high)).toordinal())
            for row in self.db.query(
                f"SELECT * FROM cases WHERE {' AND '.join(rest)}{keys}"
                " ORDER BY arrears_key DESC, id LIMIT ?",
                [*where_params, zone, *maybe_params, *key_params, limit + 5],
            ):
                found[row["id"]] = (row_to_case(row), False, 0)
        return list(found.values()), False

    def broken_promise_counts(self, at: dt.datetime) -> dict[int, int]:
        """Promises broken by ``at``, by case (cases with none are left out)."""
        local_day, params = self.local_date_sql(at)
        return dict(
            self.db.execute(
                "SELECT p.case_id, count(*) FROM promises p JOIN cases ON cases.id = p.case_id"
                f" WHERE {BROKEN.format(today=local_day)} GROUP BY p.case_id",
                params,
            )
        )

    def not_yet_overdue(self, filters: WorklistFilter, at: dt.datetime) -> list[Case]:
        """Open cases whose due date has not come in the borrower's calendar (a scan)."""
        where, params = self._case_where(filters, at)
        local_day, day_params = self.local_date_sql(at)
        sql = f"SELECT * FROM cases WHERE {' AND '.join([*where, f'{DUE_SINCE} > {local_day}'])}"
        return [row_to_case(row) for row in self.db.query(sql, [*params, *day_params])]

    def _case_where(self, filters: WorklistFilter, at: dt.datetime) -> tuple[list[str], list[Any]]:
        """The WHERE clauses, and their parameters, of a worklist's filters."""
        where: list[str] = []
        params: list[Any] = []
        if not filters.include_closed:
            where.append("stage != 'closed'")
        if not filters.include_ineligible:
            where.append("eligible = 1")
        if not filters.include_paused:
            local_day, day_params = self.local_date_sql(at)
            where.append(f"(paused_until IS NULL OR paused_until < {local_day})")
            params += day_params
        if filters.stage:
            where.append("stage = ?")
            params.append(filters.stage)
        if filters.kind:
            where.append("kind = ?")
            params.append(filters.kind)
        if filters.staff:
            where.append("assigned_to = ?")
            params.append(filters.staff)
        if filters.institution:
            where.append("institution = ?")
            params.append(filters.institution)
        if filters.bucket:
            # Days past due count in the borrower's local date: one clause per time zone.
            low, high = bucket_range(filters.bucket)
            clauses = []
            for (zone,) in self.zones():
                today = at.astimezone(ZoneInfo(zone)).date()
                clause = f"(timezone = ? AND {DUE_SINCE} <= ?"
                params += [zone, (today - dt.timedelta(days=low)).isoformat()]
                if high is not None:
                    clause += f" AND {DUE_SINCE} >= ?"
                    params.append((today - dt.timedelta(days=high)).isoformat())
                clauses.append(clause + ")")
            where.append("(" + (" OR ".join(clauses) or "FALSE") + ")")
        if filters.search:
            clause, clause_params = self._search_sql(filters)
            where.append(clause)
            params += clause_params
        for name, value in filters.where.items():
            where.append("json_extract(cases.attributes, ?) = ?")
            params += [f"$.{name}", value]
        if filters.due_today:
            local_day, today_params = self.local_date_sql(at)
            theirs, their_params = self.local_date_sql(at, "c.timezone")
            days = sorted({at.astimezone(ZoneInfo(z)).date().isoformat() for (z,) in self.zones()})
            # Promises due on some zone's today, found once; then on the case's own today.
            where.append(
                f"(visit_date = {local_day} OR cases.id IN (SELECT p.case_id FROM promises p"
                f" JOIN cases c ON c.id = p.case_id WHERE p.due BETWEEN ? AND ?"
                f" AND p.due = {theirs}))"
            )
            params += [*today_params, *(days[:1] or [""]), *(days[-1:] or [""]), *their_params]
        return where, params

    def _search_sql(self, filters: WorklistFilter) -> tuple[str, list[Any]]:
        """Names and references of every case; addresses only where the searcher may see them."""
        assert filters.search is not None
        text = filters.search.strip()
        names, names_params = self.dialect.search(text, ("borrower_name", "reference"))
        places, places_params = self.dialect.search(text, ("address", "confirmed_address"))
        if filters.addresses == "none":
            return names, names_params
        if filters.addresses == "own":
            places = (
                f"({places} AND (assigned_to = ? OR EXISTS (SELECT 1 FROM visits v,"
                " json_each(v.staff) s WHERE v.case_id = cases.id AND s.value = ?)))"
            )
            places_params += [filters.searcher, filters.searcher]
        return f"({names} OR {places})", [*names_params, *places_params]

    def visits(self, case_id: int, currency: str) -> list[Visit]:
        return [
            row_to_visit(row, currency)
            for row in self.db.query(
                "SELECT * FROM visits WHERE case_id = ? ORDER BY number", [case_id]
            )
        ]

    def contacts(self, case_id: int) -> list[ContactAttempt]:
        return [
            row_to_contact(row)
            for row in self.db.query(
                "SELECT * FROM contacts WHERE case_id = ? ORDER BY id", [case_id]
            )
        ]

    def contact_details(self, case_id: int) -> list[ContactDetail]:
        """The phones, emails and addresses recorded on the case, oldest first."""
        return [
            row_to_detail(row)
            for row in self.db.query(
                "SELECT * FROM contact_details WHERE case_id = ? ORDER BY id", [case_id]
            )
        ]

    def feedback(self, case_id: int) -> list[Feedback]:
        return [
            row_to_feedback(row)
            for row in self.db.query(
                "SELECT * FROM feedback WHERE case_id = ? ORDER BY id", [case_id]
            )
        ]

    def offers(self, case_id: int) -> list[Offer]:
        return [
            row_to_offer(row)
            for row in self.db.query(
                "SELECT * FROM offers WHERE case_id = ? ORDER BY id", [case_id]
            )
        ]

    def promises(self, case_id: int, currency: str) -> list[Promise]:
        return [
            row_to_promise(row, currency)
            for row in self.db.query(
                "SELECT * FROM promises WHERE case_id = ? ORDER BY due, id", [case_id]
            )
        ]

    def payments(self, case_id: int, currency: str) -> list[Payment]:
        return [
            row_to_payment(row, currency)
            for row in self.db.query(
                "SELECT * FROM payments WHERE case_id = ? ORDER BY at, id", [case_id]
            )
        ]

    def disputes(self, case_id: int) -> list[Dispute]:
        query = "SELECT * FROM disputes WHERE case_id = ? ORDER BY id"
        return [row_to_dispute(row) for row in self.db.query(query, [case_id])]

    def evidence(self, case_id: int) -> list[Evidence]:
        query = "SELECT * FROM evidence WHERE case_id = ? ORDER BY id"
        return [row_to_evidence(row) for row in self.db.query(query, [case_id])]

    def hardships(self, case_id: int) -> list[Hardship]:
        query = "SELECT * FROM hardships WHERE case_id = ? ORDER BY id"
        return [row_to_hardship(row) for row in self.db.query(query, [case_id])]

    def complaints(self, case_id: int) -> list[Complaint]:
        query = "SELECT * FROM complaints WHERE case_id = ? ORDER BY id"
        return [row_to_complaint(row) for row in self.db.query(query, [case_id])]

    def inquiries(self, case_id: int) -> list[Inquiry]:
        query = "SELECT * FROM inquiries WHERE case_id = ? ORDER BY id"
        return [row_to_inquiry(row) for row in self.db.query(query, [case_id])]

    def checkins(self, case_id: int) -> list[CheckIn]:
        query = "SELECT * FROM checkins WHERE case_id = ? ORDER BY id"
        return [row_to_checkin(row) for row in self.db.query(query, [case_id])]

    # -- attachments and their files --------------------------------------------------

    def attachments(self, case_id: int | None = None) -> list[Attachment]:
        """The case's attachments (None: every case's), oldest first."""
        where, params = ("", []) if case_id is None else (" WHERE case_id = ?", [case_id])
        query = f"SELECT * FROM attachments{where} ORDER BY id"
        return [row_to_attachment(row) for row in self.db.query(query, params)]

    def attachment(self, attachment_id: int) -> Attachment | None:
        rows = list(self.db.query("SELECT * FROM attachments WHERE id = ?", [attachment_id]))
        return row_to_attachment(rows[0]) if rows else None

    def attachment_file(self, sha256: str) -> bytes | None:
        """The stored file of that fingerprint: None when none is kept (purged, voided),
        or the reader may not see it (PostgreSQL's view gives such a reader none)."""
        row = self.db.execute(
            "SELECT content FROM attachment_blobs WHERE sha256 = ?", [sha256]
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def file_keys(self) -> dict[str, int]:
        """Every stored file's fingerprint, with its recorded size."""
        return dict(self.db.execute("SELECT sha256, size FROM attachment_blobs"))

    def keep_files(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Store files (SHA-256, bytes) not yet kept, in one transaction."""
        with self.transaction():
            self._keep_files(files)

    def _keep_files(self, files: Sequence[tuple[str, bytes]]) -> None:
        for sha256, content in files:
            self.db.execute(
                f"INSERT INTO {self.dialect.write_table('attachment_blobs')} (sha256, size,"
                " content) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                [sha256, len(content), content],
            )

    def recorded_fingerprints(self) -> dict[int, str]:
        """Each attachment's fingerprint as the event that added it carries it, by id
        (events whose payload the reader may not see are left out)."""
        found: dict[int, str] = {}
        for (payload,) in self.db.execute(
            "SELECT payload FROM events WHERE type = 'attachment_added' ORDER BY id"
        ):
            if payload is None:
                continue
            for entry in json.loads(payload).get("rows", []):
                if entry.get("table") == "attachments":
                    found[entry["row"]["id"]] = entry["row"]["sha256"]
        return found

    def event(self, event_id: int) -> Event | None:
        """One event by its id, or None."""
        rows = list(self.db.query("SELECT * FROM events WHERE id = ?", [event_id]))
        return row_to_event(rows[0]) if rows else None

    def corrections(self, case_id: int) -> list[EventCorrection]:
        """The case's corrections (voids and amendments), oldest first."""
        query = "SELECT * FROM event_corrections WHERE case_id = ? ORDER BY id"
        return [row_to_event_correction(row) for row in self.db.query(query, [case_id])]

    def row(self, table: str, row_id: int) -> dict[str, Any] | None:
        """One state table's row as stored, or None (never written, or removed)."""
        assert table in STATE_TABLES
        rows = list(self.db.query(f"SELECT * FROM [{table}] WHERE id = ?", [row_id]))
        return rows[0] if rows else None

    def reviews(self, case_id: int) -> list[Review]:
        query = "SELECT * FROM reviews WHERE case_id = ? ORDER BY id"
        return [row_to_review(row) for row in self.db.query(query, [case_id])]

    def reviews_due(self, on: dt.date, institution: str | None = None) -> list[Case]:
        """Review cases closed as reviewed whose next review falls due by ``on``, oldest
        due first (``on`` is compared with each borrower's local date by the caller)."""
        where = ["kind = 'review'", "stage = 'closed'", "next_review <= ?", "purged_at IS NULL"]
        params: list[Any] = [on.isoformat()]
        if institution:
            where.append("institution = ?")
            params.append(institution)
        query = f"SELECT * FROM cases WHERE {' AND '.join(where)} ORDER BY next_review, id"
        return [row_to_case(row) for row in self.db.query(query, params)]

    def credit_corrections(
        self, institution: str | None = None, after: int | None = None
    ) -> list[tuple[CreditCorrection, Case]]:
        """Correction requests (with their cases), oldest first; ``after`` a request id."""
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if institution:
            where.append("c.institution = ?")
            params.append(institution)
        if after is not None:
            where.append("r.id > ?")
            params.append(after)
        rows = list(
            self.db.query(
                "SELECT r.* FROM credit_corrections r JOIN cases c ON c.id = r.case_id"
                f" WHERE {' AND '.join(where)} ORDER BY r.id",
                params,
            )
        )
        return [(row_to_correction(row), self.get_case(row["case_id"])) for row in rows]

    def _window(
        self,
        column: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        institution: str | None = None,
        institution_column: str = "c.institution",
        attributes: Mapping[str, str] | None = None,
    ) -> tuple[list[str], list[Any]]:
        """WHERE clauses (and parameters) for a time window, an institution, and the
        cases' attributes (``{"branch": "Harbor-East"}``: each must have that value)."""
        where, params = [], []
        if institution:
            where.append(f"{institution_column} = ?")
            params.append(institution)
        case_columns = institution_column.removesuffix("institution")
        for name, value in (attributes or {}).items():
            where.append(f"json_extract({case_columns}attributes, ?) = ?")
            params += [f"$.{name}", value]
        if start is not None:
            where.append(f"{column} >= ?")
            params.append(to_iso(start))
        if end is not None:
            where.append(f"{column} < ?")
            params.append(to_iso(end))
        return where, params

    def local_date_sql(
        self, at: dt.datetime, zone_column: str = "cases.timezone"
    ) -> tuple[str, list[Any]]:
        """SQL for the borrower's calendar date at ``at``, per case (its ``zone_column``)."""
        parts, params = [], []
        for (zone,) in self.zones():
            parts.append("WHEN ? THEN ?")
            params += [zone, at.astimezone(ZoneInfo(zone)).date().isoformat()]
        if not parts:
            return "NULL", []
        return f"(CASE {zone_column} {' '.join(parts)} END)", params

    def visits_today(self, at: dt.datetime, staff: str | None = None) -> list[Visit]:
        """Planned visits on the borrower's today, with their case, in window order."""
        today, params = self.local_date_sql(at)
        sql = (
            "SELECT v.*, cases.currency AS case_currency FROM visits v"
            " JOIN cases ON cases.id = v.case_id"
            f" WHERE v.status = 'planned' AND v.date = {today}"
        )
        if staff is not None:
            sql += " AND EXISTS (SELECT 1 FROM json_each(v.staff) WHERE value = ?)"
            params.append(staff)
        rows = self.db.query(sql + " ORDER BY v.window_start, v.case_id", params)
        return [row_to_visit(row, row.pop("case_currency")) for row in rows]

    def promises_due(self, at: dt.datetime, staff: str | None = None) -> list[Promise]:
        """Promises falling due on the borrower's today, on cases assigned to ``staff``."""
        today, params = self.local_date_sql(at)
        sql = (
            "SELECT p.*, cases.currency AS case_currency FROM promises p"
            f" JOIN cases ON cases.id = p.case_id WHERE p.due = {today}"
        )
        if staff is not None:
            sql += " AND cases.assigned_to = ?"
            params.append(staff)
        rows = self.db.query(sql + " ORDER BY p.case_id, p.id", params)
        return [row_to_promise(row, row.pop("case_currency")) for row in rows]

    def pipeline_counts(
        self,
        institution: str | None,
        at: dt.datetime,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Open cases by stage and days past due at ``at`` (borrower's calendar).

        Counted by stage, time zone and due date from one covering index, then
        turned into days: thousands of groups, not a million date sums.
        """
        where, params = self._window("", None, None, institution, "institution", attributes)
        where.append("stage != 'closed'")
        today = {zone: at.astimezone(ZoneInfo(zone)).date() for (zone,) in self.zones()}
        found: dict[tuple[str, int], int] = {}
        for stage, zone, since, n in self.db.execute(
            "SELECT stage, timezone, overdue_since, count(*) FROM cases"
            f" WHERE {' AND '.join(where)} GROUP BY stage, timezone, overdue_since",
            params,
        ):
            days = max((today[zone] - dt.date.fromisoformat(since)).days, 0)
            found[(stage, days)] = found.get((stage, days), 0) + n
        # Performing loans under review are not past due: few, found by their kind.
        for stage, zone, since, n in self.db.execute(
            "SELECT stage, timezone, overdue_since, count(*) FROM cases"
            f" WHERE {' AND '.join([*where, PERFORMING])} GROUP BY stage, timezone, overdue_since",
            params,
        ):
            days = max((today[zone] - dt.date.fromisoformat(since)).days, 0)
            found[(stage, days)] -= n
            found[(stage, 0)] = found.get((stage, 0), 0) + n
        return [{"stage": stage, "days": days, "n": n} for (stage, days), n in found.items()]

    def staff_activity(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Per staff member: contacts, visits by status, borrowers met, promises made,
        check-ins found too far from the borrower."""
        found: dict[str, dict[str, Any]] = {}

        def counted(table: str, alias: str, column: str) -> tuple[str, str, list[Any]]:
            """FROM, WHERE and parameters for ``table`` in the window; cases joined if needed."""
            where, params = self._window(
                f"{alias}.{column}", start, end, institution, attributes=attributes
            )
            join = f" JOIN cases c ON c.id = {alias}.case_id" if institution or attributes else ""
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            return f"{table} {alias}{join}", clause, params

        source, clause, params = counted("contacts", "x", "at")
        for staff, n in self.db.execute(
            f"SELECT x.staff, count(*) FROM {source}{clause} GROUP BY x.staff", params
        ):
            found.setdefault(staff, {})["contacts"] = n
        source, clause, params = counted("visits", "v", "planned_at")
        columns = {"planned": "visits planned", "done": "visits done", "failed": "visits failed"}
        for staff, status, met, n in self.db.execute(
            f"SELECT s.value, v.status, v.met = 'borrower', count(*) FROM {source},"
            f" json_each(v.staff) s{clause} GROUP BY 1, 2, 3",
            params,
        ):
            mine = found.setdefault(staff, {})
            if status in columns:
                mine[columns[status]] = mine.get(columns[status], 0) + n
            if met:
                mine["borrowers met"] = mine.get("borrowers met", 0) + n
        source, clause, params = counted("promises", "p", "made_at")
        for staff, n in self.db.execute(
            f"SELECT p.made_by, count(*) FROM {source}{clause} GROUP BY p.made_by", params
        ):
            found.setdefault(staff, {})["promises made"] = n
        source, clause, params = counted("checkins", "k", "at")
        clause = f"{clause} AND k.far = 1" if clause else " WHERE k.far = 1"
        for staff, n in self.db.execute(
            f"SELECT k.staff, count(*) FROM {source}{clause} GROUP BY k.staff", params
        ):
            found.setdefault(staff, {})["far check-ins"] = n
        where, params = self._window("p.at", start, end, institution, attributes=attributes)
        for staff, currency, minor in self.db.execute(
            "SELECT c.assigned_to, c.currency, sum(p.amount_minor) FROM payments p"
            f" JOIN cases c ON c.id = p.case_id WHERE c.assigned_to IS NOT NULL AND {COUNTED}"
            f"{''.join(' AND ' + w for w in where)} GROUP BY 1, 2",
            params,
        ):
            found.setdefault(staff, {}).setdefault("recovered", {})[currency] = minor
        return found

    def promise_statuses(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        at: dt.datetime,
        attributes: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, int]]:
        """Promises made in the window, kept and broken at ``at``, by who took them."""
        today, day_params = self.local_date_sql(at, "c.timezone")
        where, params = self._window("p.made_at", start, end, institution, attributes=attributes)
        stamp = to_iso(at)
        rows = self.db.execute(
            "SELECT p.made_by,"
            " sum(CASE WHEN p.met_at IS NOT NULL AND p.met_at <= ? THEN 1 ELSE 0 END),"
            f" sum(CASE WHEN {BROKEN.format(today=today)} THEN 1 ELSE 0 END)"
            " FROM promises p JOIN cases c ON c.id = p.case_id"
            f"{' WHERE ' + ' AND '.join(where) if where else ''} GROUP BY p.made_by",
            [stamp, *day_params, *params],
        )
        return {staff: {"kept": kept, "broken": broken} for staff, kept, broken in rows}

    def reason_counts(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Overdue reasons found at interviews (visits done), most first."""
        where, params = self._window("v.visited_at", start, end, institution, attributes=attributes)
        where.append("v.status = 'done' AND v.reason_code IS NOT NULL")
        join = " JOIN cases c ON c.id = v.case_id" if institution or attributes else ""
        return list(
            self.db.query(
                f"SELECT v.reason_code AS code, count(*) AS visits FROM visits v{join}"
                f" WHERE {' AND '.join(where)} GROUP BY 1 ORDER BY visits DESC, code",
                params,
            )
        )

    def interview_debts(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Per interview (visit done) in the window: its case's institution, the lender
        count and multi-lender answer, other debts and monthly income in minor units."""
        where, params = self._window("v.visited_at", start, end, institution, attributes=attributes)
        where.append("v.status = 'done'")
        return list(
            self.db.query(
                "SELECT c.institution, v.lenders, v.multi_lender, v.other_debts_minor,"
                " v.monthly_income_minor FROM visits v JOIN cases c ON c.id = v.case_id"
                f" WHERE {' AND '.join(where)} ORDER BY c.institution, v.id",
                params,
            )
        )

    def protection_rows(
        self,
        table: str,
        column: str,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``disputes``, ``hardships``, ``complaints`` or ``reviews`` whose
        ``column`` (the time they were opened, granted or made) is in the window, for the
        reports; each with its case's ``timezone``."""
        assert table in ("disputes", "hardships", "complaints", "reviews")
        where, params = self._window(f"t.{column}", start, end, institution, attributes=attributes)
        return list(
            self.db.query(
                f"SELECT t.*, c.timezone FROM {table} t JOIN cases c ON c.id = t.case_id"
                f" WHERE {' AND '.join(where) or 'TRUE'} ORDER BY t.id",
                params,
            )
        )

    def inquiry_counts(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Credit-bureau inquiries made in the window, per institution, purpose and kind:
        how many, and of how many cases."""
        where, params = self._window("q.at", start, end, institution, attributes=attributes)
        return list(
            self.db.query(
                "SELECT c.institution, q.purpose, q.kind, count(*) AS inquiries,"
                " count(DISTINCT q.case_id) AS cases FROM inquiries q"
                f" JOIN cases c ON c.id = q.case_id WHERE {' AND '.join(where) or 'TRUE'}"
                " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                params,
            )
        )

    def closing_days(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[tuple[str, float]]:
        """(resolution, days from referral to closure) of the cases closed in the window."""
        where, params = self._window(
            "closed_at", start, end, institution, "institution", attributes
        )
        where.append("stage = 'closed'")
        return list(
            self.db.execute(
                "SELECT resolution, julianday(closed_at) - julianday(referred_at)"
                f" FROM cases INDEXED BY idx_cases_closed WHERE {' AND '.join(where)}",
                params,
            )
        )

    def recovery_sums(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Per currency: overdue at referral and payments, of cases referred in the window."""
        where, params = self._window(
            "c.referred_at", start, end, institution, attributes=attributes
        )
        clause = " WHERE " + " AND ".join(where) if where else ""
        paid = dict(
            self.db.execute(
                "SELECT c.currency, sum(p.amount_minor) FROM payments p"
                f" JOIN cases c ON c.id = p.case_id WHERE {' AND '.join([*where, COUNTED])}"
                " GROUP BY c.currency",
                params,
            )
        )
        return [
            {**row, "paid": paid.get(row["currency"], 0)}
            for row in self.db.query(
                "SELECT c.currency, count(*) AS cases, sum(c.overdue_minor) AS overdue"
                f" FROM cases c{clause} GROUP BY c.currency ORDER BY c.currency",
                params,
            )
        ]

    def case_ids_with_promises(self) -> set[int]:
        return {row[0] for row in self.db.execute("SELECT DISTINCT case_id FROM promises")}

    def has_money(self, case_id: int) -> bool:
        """Whether the case has offers, promises or payments recorded in its currency."""
        row = self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM payments WHERE case_id = ?)"
            " OR EXISTS (SELECT 1 FROM promises WHERE case_id = ?)"
            " OR EXISTS (SELECT 1 FROM offers WHERE case_id = ?)",
            [case_id, case_id, case_id],
        ).fetchone()
        return bool(row[0])

    def refusal_counts(
        self,
        institution: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Refused actions by rule, acting staff member and institution, most first."""
        # A refusal on an institution's own chain (a policy change, a create) is the institution's.
        owner = (
            "coalesce(c.institution, CASE WHEN e.chain LIKE 'institution:%'"
            f" THEN substr(e.chain, {len('institution:') + 1}) END, '')"
        )
        where, params = ["e.type = 'refused'"], []
        if institution:
            where.append(f"{owner} = ?")
            params.append(institution)
        if start is not None:
            where.append("e.at >= ?")
            params.append(to_iso(start))
        if end is not None:
            where.append("e.at < ?")
            params.append(to_iso(end))
        for name, value in (attributes or {}).items():  # only refusals about such cases
            where.append("json_extract(c.attributes, ?) = ?")
            params += [f"$.{name}", value]
        sql = (
            "SELECT json_extract(r.value, '$.rule') AS rule, e.actor AS staff,"
            f" {owner} AS institution, count(*) AS refusals"
            " FROM events e LEFT JOIN cases c ON c.id = e.case_id,"
            " json_each(e.payload, '$.data.reasons') r"
            f" WHERE {' AND '.join(where)}"
            " GROUP BY 1, 2, 3 ORDER BY refusals DESC, rule, staff, institution"
        )
        return list(self.db.query(sql, params))

    def last_event_data(self, case_id: int, event_type: str) -> dict[str, Any] | None:
        """The ``data`` of the case's latest event of ``event_type``, or None."""
        row = self.db.execute(
            "SELECT payload FROM events WHERE case_id = ? AND type = ? ORDER BY id DESC LIMIT 1",
            [case_id, event_type],
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0] or "{}").get("data")
        return data if isinstance(data, dict) else {}

    def last_policy_version(self, case_id: int, event_types: Sequence[str]) -> int | None:
        """The policy version of the case's latest event of one of ``event_types``."""
        marks = ", ".join("?" * len(event_types))
        row = self.db.execute(
            f"SELECT policy_version FROM events WHERE case_id = ? AND type IN ({marks})"
            " ORDER BY id DESC LIMIT 1",
            [case_id, *event_types],
        ).fetchone()
        return None if row is None else row[0]

    # -- institutions -------------------------------------------------------------

    def institution_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT id FROM institutions ORDER BY id")]

    def get_institution(self, institution: str) -> Institution:
        """The institution, or :class:`InstitutionNotFound` naming the nearest registered one."""
        rows = list(self.db.query("SELECT * FROM institutions WHERE id = ?", [institution]))
        if not rows:
            ids = self.institution_ids()
            raise InstitutionNotFound(
                f"no institution {institution!r} is registered{hint(institution, ids)}"
                + (
                    f" (registered: {', '.join(ids)})"
                    if ids and len(ids) <= 12
                    else "; a supervisor registers it with 'fieldcase institution add'"
                )
            )
        return row_to_institution(rows[0])

    def list_institutions(self) -> list[Institution]:
        return [
            row_to_institution(r) for r in self.db.query("SELECT * FROM institutions ORDER BY id")
        ]

    def policy_versions(self, institution: str) -> list[PolicyVersion]:
        return [
            row_to_policy_version(row)
            for row in self.db.query(
                "SELECT * FROM policy_versions WHERE institution = ? ORDER BY version",
                [institution],
            )
        ]

    def policy_in_force(self, institution: str, at: dt.datetime) -> PolicyVersion | None:
        """The newest version set at or before ``at`` (claimed times), or None before the first."""
        rows = list(
            self.db.query(
                "SELECT * FROM policy_versions WHERE institution = ? AND at <= ?"
                " ORDER BY version DESC LIMIT 1",
                [institution, to_iso(at)],
            )
        )
        return row_to_policy_version(rows[0]) if rows else None

    def institutions_of_cases(self) -> dict[str, int]:
        """Every institution named by a case, with how many cases it has."""
        return dict(self.db.execute("SELECT institution, count(*) FROM cases GROUP BY institution"))

    def case_defaults(self, institution: str) -> dict[str, str | None]:
        """The most common jurisdiction, time zone and currency of an institution's cases."""
        found: dict[str, str | None] = {}
        for column in ("jurisdiction", "timezone", "currency"):
            row = self.db.execute(
                f"SELECT {column} FROM cases WHERE institution = ? AND coalesce({column}, '') != ''"
                f" GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT 1",
                [institution],
            ).fetchone()
            found[column] = row[0] if row else None
        return found

    def get_staff(self, staff_id: str) -> Staff:
        rows = list(self.db.query("SELECT * FROM staff WHERE id = ?", [staff_id]))
        if not rows:
            raise StaffNotFound(
                f"no staff member {staff_id!r}: add them with 'fieldcase staff add' first"
            )
        return row_to_staff(rows[0])

    def list_staff(self) -> list[Staff]:
        return [row_to_staff(row) for row in self.db.query("SELECT * FROM staff ORDER BY id")]

    def staff_workload(self) -> dict[str, int]:
        return {
            row["assigned_to"]: row["n"]
            for row in self.db.query(
                "SELECT assigned_to, count(*) AS n FROM cases"
                " WHERE stage != 'closed' AND assigned_to IS NOT NULL GROUP BY assigned_to"
            )
        }
