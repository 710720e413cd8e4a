"""Numbered schema migrations. Never edit one that has shipped: add the next."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("fieldcase")


@migrations(name="001_initial")
def m001_initial(db: Database) -> None:
    db.table("staff").create({"id": str, "name": str, "role": str, "active": int}, pk="id")
    db.table("cases").create(
        {
            "id": int,
            "institution": str,
            "reference": str,
            "borrower_name": str,
            "national_id": str,
            "phone": str,
            "address": str,
            "timezone": str,
            "jurisdiction": str,
            "currency": str,
            "principal_minor": int,
            "overdue_minor": int,
            "overdue_since": str,
            "referred_at": str,
            "stage": str,
            "assigned_to": str,
            "eligible": int,
            "eligibility_note": str,
            "confirmed_address": str,
            "failed_visits": int,
            "escalated": int,
            "feedback_status": str,
            "resolution": str,
            "closed_at": str,
            "updated_at": str,
            "version": int,
        },
        pk="id",
        not_null={"institution", "reference", "stage", "currency", "version"},
    )
    db.table("cases").create_index(["institution", "reference"], unique=True)
    db.table("cases").create_index(["stage", "assigned_to"])
    db.table("cases").create_index(["assigned_to"])
    db.table("contacts").create(
        {
            "id": int,
            "case_id": int,
            "channel": str,
            "target": str,
            "outcome": str,
            "note": str,
            "at": str,
            "staff": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
    )
    db.table("contacts").create_index(["case_id"])
    db.table("visits").create(
        {
            "id": int,
            "case_id": int,
            "number": int,
            "date": str,
            "window_start": str,
            "window_end": str,
            "timezone": str,
            "staff": str,
            "planned_by": str,
            "planned_at": str,
            "checklist": str,
            "status": str,
            "met": str,
            "reason_code": str,
            "employment": str,
            "monthly_income_minor": int,
            "other_debts_minor": int,
            "multi_lender": int,
            "attitude": str,
            "notes": str,
            "visited_at": str,
            "recorded_by": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
    )
    db.table("visits").create_index(["case_id", "number"], unique=True)
    db.table("visits").create_index(["date", "status"])
    db.table("feedback").create(
        {
            "id": int,
            "case_id": int,
            "visit_id": int,
            "recommendation": str,
            "summary": str,
            "submitted_by": str,
            "submitted_at": str,
            "review_status": str,
            "reviewed_by": str,
            "reviewed_at": str,
            "review_note": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id"), ("visit_id", "visits", "id")],
    )
    db.table("feedback").create_index(["case_id"])
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            case_id INTEGER,
            chain TEXT NOT NULL,
            type TEXT NOT NULL,
            actor TEXT,
            at TEXT NOT NULL,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """
    )
    db.table("events").create_index(["chain", "id"])
    db.table("events").create_index(["case_id", "id"])
    db.table("events").create_index(["type"])
    # The log is append-only: refuse edits and deletions made by mistake.
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations(name="002_export_indexes")
def m002_export_indexes(db: Database) -> None:
    # Export joins each visit to its latest feedback, and feeds select by event time.
    db.table("feedback").create_index(["visit_id"])
    db.table("events").create_index(["at"])


@migrations(name="003_masked_personal_data")
def m003_masked_personal_data(db: Database) -> None:
    # Masked copies, kept beside the originals: exports and lists read them as they
    # are, instead of masking a million values on every export.
    from .privacy import mask_phone, mask_tail

    cases = db.table("cases")
    cases.add_column("national_id_masked", str)
    cases.add_column("phone_masked", str)
    for row in list(db.query("SELECT id, national_id, phone FROM cases")):
        db.execute(
            "UPDATE cases SET national_id_masked = ?, phone_masked = ? WHERE id = ?",
            [mask_tail(row["national_id"]), mask_phone(row["phone"]), row["id"]],
        )


@migrations(name="004_money")
def m004_money(db: Database) -> None:
    cases = db.table("cases")
    cases.add_column("interest_minor", int)
    cases.add_column("fees_minor", int)
    cases.add_column("penalty_rate", str)
    db.table("offers").create(
        {
            "id": int,
            "case_id": int,
            "code": str,
            "kind": str,
            "label": str,
            "currency": str,
            "total_payable_minor": int,
            "saving_minor": int,
            "balance_minor": int,
            "schedule": str,
            "expires": str,
            "terms": str,
            "status": str,
            "presented_at": str,
            "presented_by": str,
            "reviewed_by": str,
            "accepted_at": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
    )
    db.table("offers").create_index(["case_id", "status"])
    db.table("promises").create(
        {
            "id": int,
            "case_id": int,
            "offer_id": int,
            "number": int,
            "amount_minor": int,
            "due": str,
            "made_at": str,
            "made_by": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id"), ("offer_id", "offers", "id")],
    )
    db.table("promises").create_index(["case_id", "due"])
    db.table("payments").create(
        {
            "id": int,
            "case_id": int,
            "amount_minor": int,
            "at": str,
            "reference": str,
            "recorded_by": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
    )
    db.table("payments").create_index(["case_id", "reference"], unique=True)


@migrations(name="005_compliance")
def m005_compliance(db: Database) -> None:
    db.table("contacts").add_column("purpose", str)
    db.table("staff").add_column("badge", str)
    db.table("cases").add_column("flags", str)


@migrations(name="006_search")
def m006_search(db: Database) -> None:
    # Trigram full-text search finds any three characters in a row: Chinese
    # names and addresses included. Kept in step with cases by triggers.
    db.execute(
        "CREATE VIRTUAL TABLE cases_fts USING fts5(borrower_name, reference, address,"
        " confirmed_address, content='cases', content_rowid='id', tokenize='trigram')"
    )
    columns = "borrower_name, reference, address, confirmed_address"
    new = ", ".join(f"new.{c.strip()}" for c in columns.split(","))
    old = ", ".join(f"old.{c.strip()}" for c in columns.split(","))
    db.execute(
        f"CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN"
        f" INSERT INTO cases_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    db.execute(
        f"CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN"
        f" INSERT INTO cases_fts(cases_fts, rowid, {columns}) VALUES ('delete', old.id, {old});"
        " END"
    )
    db.execute(
        f"CREATE TRIGGER cases_fts_update AFTER UPDATE OF {columns} ON cases BEGIN"
        f" INSERT INTO cases_fts(cases_fts, rowid, {columns}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO cases_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    db.execute("INSERT INTO cases_fts(cases_fts) VALUES ('rebuild')")


@migrations(name="007_worklist_order")
def m007_worklist_order(db: Database) -> None:
    # Derived columns the store keeps up to date as rows are written (see
    # Store._apply_rows), so that a worklist page is read from indexes: the
    # built-in priority's stored key; when each promise came to be kept; and,
    # on the case, the date of its planned visit and the earliest due date of
    # a promise not (yet) kept, what puts a case at the top of a worklist.
    from .rows import Connection, case_arrears_key, refresh_met, refresh_visit_dates

    db.table("cases").add_column("arrears_key", float)
    db.conn.executemany(
        "UPDATE cases SET arrears_key = ? WHERE id = ?",
        (
            (case_arrears_key(row), row["id"])
            for row in db.query("SELECT id, overdue_minor, currency, overdue_since FROM cases")
        ),
    )
    db.table("cases").create_index(["timezone", "arrears_key"])
    db.table("cases").create_index(["assigned_to", "timezone", "arrears_key"])
    db.table("cases").add_column("visit_date", str)
    db.table("cases").add_column("unmet_due", str)
    db.table("promises").add_column("met_at", str)
    store = Connection(db.conn)
    refresh_met(store, [row[0] for row in db.execute("SELECT DISTINCT case_id FROM promises")])
    refresh_visit_dates(
        store, [row[0] for row in db.execute("SELECT DISTINCT case_id FROM visits")]
    )
    db.table("promises").create_index(["met_at", "due"])
    db.table("promises").create_index(["due"])
    for column in ("visit_date", "unmet_due"):
        db.execute(f"CREATE INDEX idx_cases_{column} ON cases({column}) WHERE {column} IS NOT NULL")
        db.execute(
            f"CREATE INDEX idx_cases_assigned_to_{column} ON cases(assigned_to, {column})"
            f" WHERE {column} IS NOT NULL"
        )


@migrations(name="008_purge")
def m008_purge(db: Database) -> None:
    # New events hash their payload's digest (store.DIGEST_PREFIX): a purge
    # may then replace a payload by its redacted copy, and nothing else.
    db.table("events").add_column("payload_sha256", str)
    db.table("cases").add_column("purged_at", str)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    same = " AND ".join(
        f"new.{c} IS old.{c}"
        for c in ("id", "case_id", "chain", "type", "actor", "at", "prev_hash", "hash")
    )
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events WHEN NOT ("
        f"{same} AND old.payload_sha256 IS NOT NULL"
        " AND new.payload_sha256 IS old.payload_sha256"
        " AND json_extract(new.payload, '$.redacted') = 1)"
        " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations(name="009_report_indexes")
def m009_report_indexes(db: Database) -> None:
    # Covering indexes, so the reports read thin indexes, not the wide cases rows.
    db.table("cases").create_index(["stage", "timezone", "overdue_since", "institution"])
    db.execute(
        "CREATE INDEX idx_cases_closed ON cases(closed_at, resolution, referred_at, institution)"
        " WHERE stage = 'closed'"
    )
    db.table("cases").create_index(["referred_at", "currency", "overdue_minor", "institution"])
    db.table("visits").create_index(["status", "visited_at", "reason_code", "case_id"])
    db.table("events").create_index(["type", "at"])


@migrations(name="010_institutions")
def m010_institutions(db: Database) -> None:
    # Institutions and their policy versions live in the database, rebuilt from
    # the events of each institution's own chain; events record the real time
    # they were written and the policy version that judged them.
    db.table("institutions").create(
        {
            "id": str,
            "name": str,
            "jurisdiction": str,
            "timezone": str,
            "currency": str,
            "policy": str,
            "policy_version": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"name", "jurisdiction", "timezone", "currency", "policy", "policy_version"},
    )
    db.table("policy_versions").create(
        {
            "id": int,
            "institution": str,
            "version": int,
            "policy": str,
            "at": str,
            "actor": str,
        },
        pk="id",
        foreign_keys=[("institution", "institutions", "id")],
        not_null={"institution", "version", "policy", "at"},
    )
    db.table("policy_versions").create_index(["institution", "version"], unique=True)
    db.table("policy_versions").create_index(["institution", "at"])
    db.table("events").add_column("recorded_at", str)
    db.table("events").add_column("policy_version", int)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    same = " AND ".join(
        f"new.{c} IS old.{c}"
        for c in (
            "id",
            "case_id",
            "chain",
            "type",
            "actor",
            "at",
            "prev_hash",
            "hash",
            "recorded_at",
            "policy_version",
        )
    )
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events WHEN NOT ("
        f"{same} AND old.payload_sha256 IS NOT NULL"
        " AND new.payload_sha256 IS old.payload_sha256"
        " AND json_extract(new.payload, '$.redacted') = 1)"
        " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations(name="011_append_only")
def m011_append_only(db: Database) -> None:
    # A payload without "redacted" made the condition NULL, and a NULL WHEN
    # lets the update through: only a purge's redaction may rewrite a payload.
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    same = " AND ".join(
        f"new.{c} IS old.{c}"
        for c in (
            "id",
            "case_id",
            "chain",
            "type",
            "actor",
            "at",
            "prev_hash",
            "hash",
            "recorded_at",
            "policy_version",
        )
    )
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events WHEN NOT coalesce("
        f"{same} AND old.payload_sha256 IS NOT NULL"
        " AND new.payload_sha256 IS old.payload_sha256"
        " AND json_valid(new.payload) AND json_extract(new.payload, '$.redacted') IS 1, 0)"
        " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations(name="012_attributes")
def m012_attributes(db: Database) -> None:
    # The institution's own fields, declared in its policy (fieldcase.attributes).
    db.table("cases").add_column("attributes", str, not_null_default="{}")


@migrations(name="013_protections")
def m013_protections(db: Database) -> None:
    # Disputes, hardship pauses and complaints hold collection on a case: the case
    # row says which hold is on (rules and the worklist read it), the tables why.
    db.table("cases").add_column("dispute", str)
    db.table("cases").add_column("paused_until", str)
    db.table("cases").add_column("fewer_contacts_until", str)
    db.table("disputes").create(
        {
            "id": int,
            "case_id": int,
            "kind": str,
            "since": str,
            "opened_at": str,
            "opened_by": str,
            "note": str,
            "status": str,
            "decided_at": str,
            "decided_by": str,
            "decision_note": str,
            "fees_reversed": int,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "kind", "since", "status"},
    )
    db.table("disputes").create_index(["case_id"])
    db.table("evidence").create(
        {
            "id": int,
            "case_id": int,
            "dispute_id": int,
            "description": str,
            "sha256": str,
            "added_at": str,
            "added_by": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id"), ("dispute_id", "disputes", "id")],
        not_null={"case_id", "sha256"},
    )
    db.table("evidence").create_index(["case_id"])
    db.table("hardships").create(
        {
            "id": int,
            "case_id": int,
            "reason": str,
            "starts": str,
            "until": str,
            "granted_at": str,
            "granted_by": str,
            "penalty_share": str,
            "note": str,
            "ended_on": str,
            "ended_at": str,
            "ended_by": str,
            "end_note": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "reason", "starts", "until"},
    )
    db.table("hardships").create_index(["case_id"])
    db.table("complaints").create(
        {
            "id": int,
            "case_id": int,
            "about": str,
            "at": str,
            "recorded_by": str,
            "note": str,
            "fewer_contacts_until": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "about", "at"},
    )
    db.table("complaints").create_index(["case_id"])
    db.table("credit_corrections").create(
        {
            "id": int,
            "case_id": int,
            "dispute_id": int,
            "since": str,
            "reason": str,
            "requested_at": str,
            "requested_by": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id"), ("dispute_id", "disputes", "id")],
        not_null={"case_id", "dispute_id", "since"},
    )
    db.table("credit_corrections").create_index(["case_id"])


@migrations(name="014_contact_details")
def m014_contact_details(db: Database) -> None:
    # Who a third party is to the borrower; the borrower's email; and every phone,
    # email and address learned or verified since referral, with where it came from.
    db.table("contacts").add_column("relationship", str)
    db.table("cases").add_column("email", str)
    db.table("contact_details").create(
        {
            "id": int,
            "case_id": int,
            "kind": str,
            "value": str,
            "at": str,
            "staff": str,
            "verified": int,
            "source": str,
            "note": str,
            "previous": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "kind", "at"},
    )
    db.table("contact_details").create_index(["case_id", "kind"])


@migrations(name="015_inquiries")
def m015_inquiries(db: Database) -> None:
    # Credit-bureau inquiries, their own record rather than a contact on channel
    # "bureau": rules count them by purpose and kind, and reports group them so.
    db.table("inquiries").create(
        {
            "id": int,
            "case_id": int,
            "purpose": str,
            "kind": str,
            "bureau": str,
            "at": str,
            "staff": str,
            "note": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "purpose", "kind", "at"},
    )
    db.table("inquiries").create_index(["case_id"])
    db.table("inquiries").create_index(["at"])


@migrations(name="016_interview_details")
def m016_interview_details(db: Database) -> None:
    # What the interview learns of a business borrower or employee, and of the
    # borrower's other lenders. Ratios to income are derived, not stored.
    visits = db.table("visits")
    visits.add_column("lenders", int)
    visits.add_column("monthly_repayments_minor", int)
    visits.add_column("industry", str)
    visits.add_column("employer", str)
    visits.add_column("suppliers", str)
    visits.add_column("buyers", str)


@migrations(name="017_reviews")
def m017_reviews(db: Database) -> None:
    # A second kind of case: the post-loan review of a performing loan, with its
    # regular installment (what offers on it are built on), the date its next review
    # falls due, and every review it had: why it was opened and what it found.
    cases = db.table("cases")
    cases.add_column("kind", str, not_null_default="collection")
    cases.add_column("installment_minor", int)
    cases.add_column("next_review", str)
    cases.create_index(["kind", "next_review"])
    db.table("reviews").create(
        {
            "id": int,
            "case_id": int,
            "trigger": str,
            "opened_at": str,
            "opened_by": str,
            "opened_on": str,
            "note": str,
            "status": str,
            "recommendation": str,
            "finished_at": str,
            "finished_by": str,
            "finished_on": str,
            "next_review": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "trigger", "opened_at", "opened_on", "status"},
    )
    db.table("reviews").create_index(["case_id"])


@migrations(name="018_payment_status")
def m018_payment_status(db: Database) -> None:
    # A payment a field worker reports counts once a supervisor (or the bank's file)
    # confirms it; a wrong one is reversed, never deleted. Payments recorded before
    # this were counted at once: they are confirmed, and so are old events' rows on
    # replay, which carry no status.
    payments = db.table("payments")
    payments.add_column("status", str, not_null_default="confirmed")
    payments.add_column("confirmed_by", str)
    payments.add_column("confirmed_at", str)
    payments.add_column("reversed_by", str)
    payments.add_column("reversed_at", str)
    payments.add_column("reversal_reason", str)
    payments.create_index(["case_id", "status"])


@migrations(name="019_corrections")
def m019_corrections(db: Database) -> None:
    # Mistakes put right by events of their own: each correction names the event it
    # voids or amends, and the rows only a voided event wrote leave the tables (their
    # ids stay taken, so that every id in the log names one row).
    db.table("event_corrections").create(
        {
            "id": int,
            "case_id": int,
            "event_id": int,
            "event_type": str,
            "kind": str,
            "reason": str,
            "made_by": str,
            "made_at": str,
            "changes": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "event_id", "event_type", "kind", "made_by", "made_at"},
    )
    db.table("event_corrections").create_index(["case_id"])
    db.table("event_corrections").create_index(["event_id"])
    db.table("voided_rows").create(
        {"id": int, "table_name": str, "row_id": int, "case_id": int},
        pk="id",
        not_null={"table_name", "row_id"},
    )
    db.table("voided_rows").create_index(["table_name", "row_id"], unique=True)
    # A review of a closed case relieves the penalty from the day the case closed: a
    # loan paid and then reviewed owes nothing for the days in between.
    db.table("reviews").add_column("relief_from", str)


@migrations(name="020_lean_indexes")
def m020_lean_indexes(db: Database) -> None:
    # Each duplicates the leading column of a wider index (cases(assigned_to,
    # timezone, arrears_key), events(type, at)) that serves the same lookups, and
    # every case or event written paid to keep it.
    db.execute("DROP INDEX IF EXISTS idx_cases_assigned_to")
    db.execute("DROP INDEX IF EXISTS idx_events_type")


@migrations(name="021_import_fingerprints")
def m021_import_fingerprints(db: Database) -> None:
    # What each case was last imported from (a digest of the file's row and what
    # judged it), while the case stays at that version: a row that comes again
    # unchanged is known without validating and comparing it. Not the case's
    # state (replay does not rebuild it); a purge deletes its case's.
    db.execute(
        "CREATE TABLE import_fingerprints (id INTEGER PRIMARY KEY REFERENCES cases(id),"
        " version INTEGER NOT NULL, digest TEXT NOT NULL)"
    )


@migrations(name="022_attachments")
def m022_attachments(db: Database) -> None:
    # Photos and documents attached to cases: the records (rebuilt from the events,
    # which carry each file's fingerprint) and the files themselves, once per content,
    # keyed by their SHA-256. The files are no state replay rebuilds: audit verify
    # checks each against its key, a purge removes those only purged cases held.
    db.table("attachments").create(
        {
            "id": int,
            "case_id": int,
            "kind": str,
            "sha256": str,
            "size": int,
            "media_type": str,
            "at": str,
            "staff": str,
            "visit_number": int,
            "filename": str,
            "note": str,
            "taken_at": str,
            "lat": str,
            "lon": str,
            "purged_at": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "kind", "sha256", "size", "media_type", "at"},
    )
    db.table("attachments").create_index(["case_id"])
    db.table("attachments").create_index(["sha256"])
    db.execute(
        "CREATE TABLE attachment_blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
        " content BLOB NOT NULL)"
    )


@migrations(name="023_checkins")
def m023_checkins(db: Database) -> None:
    # Where field staff were on site, each with its distance from where the borrower
    # is known to be (the case's own coordinates, imported with it, as text of
    # degrees to 6 places) and whether that was beyond the institution's limit.
    cases = db.table("cases")
    cases.add_column("latitude", str)
    cases.add_column("longitude", str)
    db.table("checkins").create(
        {
            "id": int,
            "case_id": int,
            "visit_number": int,
            "at": str,
            "staff": str,
            "lat": str,
            "lon": str,
            "accuracy_m": int,
            "distance_m": int,
            "reference": str,
            "limit_m": int,
            "far": int,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "at", "far"},
    )
    db.table("checkins").create_index(["case_id"])
    db.table("checkins").create_index(["at"])


@migrations(name="024_messages")
def m024_messages(db: Database) -> None:
    # Letters and messages from the institution's templates are contacts: which
    # template, in which language, the fingerprint of the text, where it went, the
    # text itself, and whether a plugin sent it (with its receipt, or why not).
    contacts = db.table("contacts")
    for column in (
        "template",
        "language",
        "message_sha256",
        "recipient",
        "message_subject",
        "message_text",
        "delivery",
        "receipt",
        "delivery_error",
    ):
        contacts.add_column(column, str)


@migrations(name="025_packs")
def m025_packs(db: Database) -> None:
    # Offline field packs (fieldcase.offline, fieldcase.sync). An office keeps the
    # secret it signs its packs with; a pack keeps its signed manifest; the office
    # keeps which pack actions it has taken in (so a second sync takes in nothing)
    # and the conflicts it kept, each with both sides.
    import secrets

    db.execute(
        "CREATE TABLE office_keys (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL)"
    )
    db.execute("INSERT INTO office_keys (id, secret) VALUES (1, ?)", [secrets.token_bytes(32)])
    db.execute(
        "CREATE TABLE pack_manifest (id INTEGER PRIMARY KEY CHECK (id = 1), pack TEXT NOT NULL,"
        " manifest TEXT NOT NULL, signature TEXT NOT NULL)"
    )
    db.table("synced_actions").create(
        {
            "id": int,
            "pack": str,
            "seq": int,
            "case_id": int,
            "action": str,
            "at": str,
            "status": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"pack", "seq", "case_id", "action", "status"},
    )
    db.table("synced_actions").create_index(["pack", "seq"], unique=True)
    db.table("sync_conflicts").create(
        {
            "id": int,
            "pack": str,
            "staff": str,
            "case_id": int,
            "kind": str,
            "detail": str,
            "field": str,
            "central": str,
            "status": str,
            "at": str,
            "resolved_by": str,
            "resolved_at": str,
            "note": str,
        },
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"pack", "case_id", "kind", "field", "central", "status"},
    )
    db.table("sync_conflicts").create_index(["status"])
    db.table("sync_conflicts").create_index(["case_id"])
