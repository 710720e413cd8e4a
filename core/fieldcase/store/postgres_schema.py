"""The PostgreSQL schema, by numbered migrations, and what the database enforces.

``001_schema`` holds the tables and indexes of SQLite's migrations 001 to 019,
with the few SQLite functions the store's queries call. ``002_logins`` makes the
database the judge of identity and of the log:

- each staff member logs in as a role of the same name, a member of the
  database's ``<db>_field`` or ``<db>_supervisor`` group (kept in step with the
  ``staff`` table by a trigger);
- a trigger sets every event's ``actor`` (``session_user``), ``recorded_at``
  (``clock_timestamp()``), ``prev_hash`` and ``hash``, whatever the client sent;
- staff may insert events but never update or delete them; a purge withholds
  personal data through ``fieldcase.redact_event``, which runs as the owner and
  changes nothing but the payload;
- staff read through the views of ``fieldcase_read``, where personal columns
  (and events' payloads) are masked unless they are the case's supervisor,
  assignee or visiting staff; the tables under them show a field worker no
  personal column at all;
- institutions' policies, and events on institutions' chains, are written by
  supervisors only.

A new migration of the SQLite schema needs its twin here (a test compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..privacy import PERSONAL_COLUMNS
from .tables import STATE_TABLES

#: Every writer takes this lock first (the application's transactions and the events'
#: trigger alike), so ids and chain heads are handed out one transaction at a time,
#: as SQLite's single writer does.
WRITE_LOCK = 0x66696564

#: The triggers that keep the log append-only and stamped by the database.
GUARDS = ("events_stamp", "events_no_update", "events_no_delete", "events_no_truncate")

#: Personal columns every staff member sees (the masked forms, and the name the
#: worklist and search show everyone): the rest of ``PERSONAL_COLUMNS`` is masked.
SHOWN = {"cases": {"borrower_name", "national_id_masked", "phone_masked"}}

#: What a masked value reads as, when not ``'[masked]'`` (text) or NULL (numbers).
MASKED_AS = {
    ("event_corrections", "changes"): "'{}'",
    ("cases", "phone"): 't."phone_masked"',
    ("cases", "national_id"): 't."national_id_masked"',
    # Degrees are text, read back as numbers: withheld as none.
    ("attachments", "lat"): "NULL",
    ("attachments", "lon"): "NULL",
    ("checkins", "lat"): "NULL",
    ("checkins", "lon"): "NULL",
    ("cases", "latitude"): "NULL",
    ("cases", "longitude"): "NULL",
}

SCHEMA = """
CREATE SCHEMA fieldcase;
CREATE SCHEMA fieldcase_read;
CREATE TABLE fieldcase.schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE fieldcase."staff" (
    "id" TEXT PRIMARY KEY,
    "name" TEXT,
    "role" TEXT,
    "active" BIGINT,
    "badge" TEXT
);
CREATE TABLE fieldcase."cases" (
    "id" BIGINT PRIMARY KEY,
    "institution" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "borrower_name" TEXT,
    "national_id" TEXT,
    "phone" TEXT,
    "address" TEXT,
    "timezone" TEXT,
    "jurisdiction" TEXT,
    "currency" TEXT NOT NULL,
    "principal_minor" BIGINT,
    "overdue_minor" BIGINT,
    "overdue_since" TEXT,
    "referred_at" TEXT,
    "stage" TEXT NOT NULL,
    "assigned_to" TEXT,
    "eligible" BIGINT,
    "eligibility_note" TEXT,
    "confirmed_address" TEXT,
    "failed_visits" BIGINT,
    "escalated" BIGINT,
    "feedback_status" TEXT,
    "resolution" TEXT,
    "closed_at" TEXT,
    "updated_at" TEXT,
    "version" BIGINT NOT NULL,
    "national_id_masked" TEXT,
    "phone_masked" TEXT,
    "interest_minor" BIGINT,
    "fees_minor" BIGINT,
    "penalty_rate" TEXT,
    "flags" TEXT,
    "arrears_key" DOUBLE PRECISION,
    "visit_date" TEXT,
    "unmet_due" TEXT,
    "purged_at" TEXT,
    "attributes" TEXT NOT NULL DEFAULT '{}',
    "dispute" TEXT,
    "paused_until" TEXT,
    "fewer_contacts_until" TEXT,
    "email" TEXT,
    "kind" TEXT NOT NULL DEFAULT 'collection',
    "installment_minor" BIGINT,
    "next_review" TEXT
);
CREATE TABLE fieldcase."contacts" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "channel" TEXT,
    "target" TEXT,
    "outcome" TEXT,
    "note" TEXT,
    "at" TEXT,
    "staff" TEXT,
    "purpose" TEXT,
    "relationship" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."visits" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "number" BIGINT,
    "date" TEXT,
    "window_start" TEXT,
    "window_end" TEXT,
    "timezone" TEXT,
    "staff" TEXT,
    "planned_by" TEXT,
    "planned_at" TEXT,
    "checklist" TEXT,
    "status" TEXT,
    "met" TEXT,
    "reason_code" TEXT,
    "employment" TEXT,
    "monthly_income_minor" BIGINT,
    "other_debts_minor" BIGINT,
    "multi_lender" BIGINT,
    "attitude" TEXT,
    "notes" TEXT,
    "visited_at" TEXT,
    "recorded_by" TEXT,
    "lenders" BIGINT,
    "monthly_repayments_minor" BIGINT,
    "industry" TEXT,
    "employer" TEXT,
    "suppliers" TEXT,
    "buyers" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."feedback" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "visit_id" BIGINT,
    "recommendation" TEXT,
    "summary" TEXT,
    "submitted_by" TEXT,
    "submitted_at" TEXT,
    "review_status" TEXT,
    "reviewed_by" TEXT,
    "reviewed_at" TEXT,
    "review_note" TEXT,
    FOREIGN KEY ("visit_id") REFERENCES fieldcase."visits" ("id"),
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."events" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "chain" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "actor" TEXT,
    "at" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "prev_hash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "payload_sha256" TEXT,
    "recorded_at" TEXT,
    "policy_version" BIGINT
);
CREATE TABLE fieldcase."offers" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "code" TEXT,
    "kind" TEXT,
    "label" TEXT,
    "currency" TEXT,
    "total_payable_minor" BIGINT,
    "saving_minor" BIGINT,
    "balance_minor" BIGINT,
    "schedule" TEXT,
    "expires" TEXT,
    "terms" TEXT,
    "status" TEXT,
    "presented_at" TEXT,
    "presented_by" TEXT,
    "reviewed_by" TEXT,
    "accepted_at" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."promises" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "offer_id" BIGINT,
    "number" BIGINT,
    "amount_minor" BIGINT,
    "due" TEXT,
    "made_at" TEXT,
    "made_by" TEXT,
    "met_at" TEXT,
    FOREIGN KEY ("offer_id") REFERENCES fieldcase."offers" ("id"),
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."payments" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT,
    "amount_minor" BIGINT,
    "at" TEXT,
    "reference" TEXT,
    "recorded_by" TEXT,
    "status" TEXT NOT NULL DEFAULT 'confirmed',
    "confirmed_by" TEXT,
    "confirmed_at" TEXT,
    "reversed_by" TEXT,
    "reversed_at" TEXT,
    "reversal_reason" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."institutions" (
    "id" TEXT PRIMARY KEY,
    "name" TEXT NOT NULL,
    "jurisdiction" TEXT NOT NULL,
    "timezone" TEXT NOT NULL,
    "currency" TEXT NOT NULL,
    "policy" TEXT NOT NULL,
    "policy_version" BIGINT NOT NULL,
    "created_at" TEXT,
    "updated_at" TEXT
);
CREATE TABLE fieldcase."policy_versions" (
    "id" BIGINT PRIMARY KEY,
    "institution" TEXT NOT NULL,
    "version" BIGINT NOT NULL,
    "policy" TEXT NOT NULL,
    "at" TEXT NOT NULL,
    "actor" TEXT,
    FOREIGN KEY ("institution") REFERENCES fieldcase."institutions" ("id")
);
CREATE TABLE fieldcase."disputes" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "since" TEXT NOT NULL,
    "opened_at" TEXT,
    "opened_by" TEXT,
    "note" TEXT,
    "status" TEXT NOT NULL,
    "decided_at" TEXT,
    "decided_by" TEXT,
    "decision_note" TEXT,
    "fees_reversed" BIGINT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."evidence" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "dispute_id" BIGINT,
    "description" TEXT,
    "sha256" TEXT NOT NULL,
    "added_at" TEXT,
    "added_by" TEXT,
    FOREIGN KEY ("dispute_id") REFERENCES fieldcase."disputes" ("id"),
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."hardships" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "starts" TEXT NOT NULL,
    "until" TEXT NOT NULL,
    "granted_at" TEXT,
    "granted_by" TEXT,
    "penalty_share" TEXT,
    "note" TEXT,
    "ended_on" TEXT,
    "ended_at" TEXT,
    "ended_by" TEXT,
    "end_note" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."complaints" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "about" TEXT NOT NULL,
    "at" TEXT NOT NULL,
    "recorded_by" TEXT,
    "note" TEXT,
    "fewer_contacts_until" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."credit_corrections" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "dispute_id" BIGINT NOT NULL,
    "since" TEXT NOT NULL,
    "reason" TEXT,
    "requested_at" TEXT,
    "requested_by" TEXT,
    FOREIGN KEY ("dispute_id") REFERENCES fieldcase."disputes" ("id"),
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."contact_details" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "value" TEXT,
    "at" TEXT NOT NULL,
    "staff" TEXT,
    "verified" BIGINT,
    "source" TEXT,
    "note" TEXT,
    "previous" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."inquiries" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "purpose" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "bureau" TEXT,
    "at" TEXT NOT NULL,
    "staff" TEXT,
    "note" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."reviews" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "trigger" TEXT NOT NULL,
    "opened_at" TEXT NOT NULL,
    "opened_by" TEXT,
    "opened_on" TEXT NOT NULL,
    "note" TEXT,
    "status" TEXT NOT NULL,
    "recommendation" TEXT,
    "finished_at" TEXT,
    "finished_by" TEXT,
    "finished_on" TEXT,
    "next_review" TEXT,
    "relief_from" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."event_corrections" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "event_id" BIGINT NOT NULL,
    "event_type" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "reason" TEXT,
    "made_by" TEXT NOT NULL,
    "made_at" TEXT NOT NULL,
    "changes" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE TABLE fieldcase."voided_rows" (
    "id" BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "table_name" TEXT NOT NULL,
    "row_id" BIGINT NOT NULL,
    "case_id" BIGINT
);
CREATE UNIQUE INDEX "idx_cases_institution_reference" ON fieldcase."cases" ("institution", "reference");
CREATE INDEX "idx_cases_stage_assigned_to" ON fieldcase."cases" ("stage", "assigned_to");
CREATE INDEX "idx_contacts_case_id" ON fieldcase."contacts" ("case_id");
CREATE UNIQUE INDEX "idx_visits_case_id_number" ON fieldcase."visits" ("case_id", "number");
CREATE INDEX "idx_visits_date_status" ON fieldcase."visits" ("date", "status");
CREATE INDEX "idx_feedback_case_id" ON fieldcase."feedback" ("case_id");
CREATE INDEX "idx_events_chain_id" ON fieldcase."events" ("chain", "id");
CREATE INDEX "idx_events_case_id_id" ON fieldcase."events" ("case_id", "id");
CREATE INDEX "idx_feedback_visit_id" ON fieldcase."feedback" ("visit_id");
CREATE INDEX "idx_events_at" ON fieldcase."events" ("at");
CREATE INDEX "idx_offers_case_id_status" ON fieldcase."offers" ("case_id", "status");
CREATE INDEX "idx_promises_case_id_due" ON fieldcase."promises" ("case_id", "due");
CREATE UNIQUE INDEX "idx_payments_case_id_reference" ON fieldcase."payments" ("case_id", "reference");
CREATE INDEX "idx_cases_timezone_arrears_key" ON fieldcase."cases" ("timezone", "arrears_key");
CREATE INDEX "idx_cases_assigned_to_timezone_arrears_key" ON fieldcase."cases" ("assigned_to", "timezone", "arrears_key");
CREATE INDEX "idx_promises_met_at_due" ON fieldcase."promises" ("met_at", "due");
CREATE INDEX "idx_promises_due" ON fieldcase."promises" ("due");
CREATE INDEX idx_cases_visit_date ON fieldcase."cases" (visit_date) WHERE visit_date IS NOT NULL;
CREATE INDEX idx_cases_assigned_to_visit_date ON fieldcase."cases" (assigned_to, visit_date) WHERE visit_date IS NOT NULL;
CREATE INDEX idx_cases_unmet_due ON fieldcase."cases" (unmet_due) WHERE unmet_due IS NOT NULL;
CREATE INDEX idx_cases_assigned_to_unmet_due ON fieldcase."cases" (assigned_to, unmet_due) WHERE unmet_due IS NOT NULL;
CREATE INDEX "idx_cases_stage_timezone_overdue_since_institution" ON fieldcase."cases" ("stage", "timezone", "overdue_since", "institution");
CREATE INDEX idx_cases_closed ON fieldcase."cases" (closed_at, resolution, referred_at, institution) WHERE stage = 'closed';
CREATE INDEX "idx_cases_referred_at_currency_overdue_minor_institution" ON fieldcase."cases" ("referred_at", "currency", "overdue_minor", "institution");
CREATE INDEX "idx_visits_status_visited_at_reason_code_case_id" ON fieldcase."visits" ("status", "visited_at", "reason_code", "case_id");
CREATE INDEX "idx_events_type_at" ON fieldcase."events" ("type", "at");
CREATE UNIQUE INDEX "idx_policy_versions_institution_version" ON fieldcase."policy_versions" ("institution", "version");
CREATE INDEX "idx_policy_versions_institution_at" ON fieldcase."policy_versions" ("institution", "at");
CREATE INDEX "idx_disputes_case_id" ON fieldcase."disputes" ("case_id");
CREATE INDEX "idx_evidence_case_id" ON fieldcase."evidence" ("case_id");
CREATE INDEX "idx_hardships_case_id" ON fieldcase."hardships" ("case_id");
CREATE INDEX "idx_complaints_case_id" ON fieldcase."complaints" ("case_id");
CREATE INDEX "idx_credit_corrections_case_id" ON fieldcase."credit_corrections" ("case_id");
CREATE INDEX "idx_contact_details_case_id_kind" ON fieldcase."contact_details" ("case_id", "kind");
CREATE INDEX "idx_inquiries_case_id" ON fieldcase."inquiries" ("case_id");
CREATE INDEX "idx_inquiries_at" ON fieldcase."inquiries" ("at");
CREATE INDEX "idx_cases_kind_next_review" ON fieldcase."cases" ("kind", "next_review");
CREATE INDEX "idx_reviews_case_id" ON fieldcase."reviews" ("case_id");
CREATE INDEX "idx_payments_case_id_status" ON fieldcase."payments" ("case_id", "status");
CREATE INDEX "idx_event_corrections_case_id" ON fieldcase."event_corrections" ("case_id");
CREATE INDEX "idx_event_corrections_event_id" ON fieldcase."event_corrections" ("event_id");
CREATE UNIQUE INDEX "idx_voided_rows_table_name_row_id" ON fieldcase."voided_rows" ("table_name", "row_id");
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA fieldcase;
CREATE INDEX idx_cases_name_trgm ON fieldcase.cases
    USING gin (lower(borrower_name) fieldcase.gin_trgm_ops);
CREATE INDEX idx_cases_reference_trgm ON fieldcase.cases
    USING gin (lower(reference) fieldcase.gin_trgm_ops);

-- SQLite's functions that the store's queries use, with SQLite's meaning.
CREATE FUNCTION fieldcase.julianday(value text) RETURNS double precision
    LANGUAGE sql STABLE STRICT
    AS $$ SELECT extract(epoch FROM value::timestamptz) / 86400.0 + 2440587.5 $$;
CREATE FUNCTION fieldcase.max(a double precision, b double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE AS $$ SELECT greatest(a, b) $$;
CREATE FUNCTION fieldcase.min(a double precision, b double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE AS $$ SELECT least(a, b) $$;
CREATE FUNCTION fieldcase.instr(haystack text, needle text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(haystack, needle) $$;
CREATE FUNCTION fieldcase.json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT (doc::jsonb) #>> string_to_array(substr(path, 3), '.') $$;
CREATE FUNCTION fieldcase.json_value_text(e jsonb) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}' ELSE e::text END $$;
CREATE FUNCTION fieldcase.json_each(doc text) RETURNS TABLE(key text, value text)
    LANGUAGE sql IMMUTABLE AS $$
    SELECT (t.ord - 1)::text, fieldcase.json_value_text(t.e)
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb) = 'array'
                                THEN doc::jsonb ELSE '[]' END) WITH ORDINALITY AS t(e, ord)
    UNION ALL
    SELECT o.k, fieldcase.json_value_text(o.e)
      FROM jsonb_each(CASE WHEN jsonb_typeof(doc::jsonb) = 'object'
                      THEN doc::jsonb ELSE '{}' END) AS o(k, e)
$$;
CREATE FUNCTION fieldcase.json_each(doc text, path text) RETURNS TABLE(key text, value text)
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT * FROM fieldcase.json_each(fieldcase.json_extract(doc, path)) $$;
CREATE FUNCTION fieldcase.group_concat_step(acc text, value text, sep text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN acc WHEN acc IS NULL THEN value
                ELSE acc || sep || value END $$;
CREATE FUNCTION fieldcase.group_concat_step(acc text, value text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT fieldcase.group_concat_step(acc, value, ',') $$;
CREATE AGGREGATE fieldcase.group_concat(text, text)
    (SFUNC = fieldcase.group_concat_step, STYPE = text);
CREATE AGGREGATE fieldcase.group_concat(text)
    (SFUNC = fieldcase.group_concat_step, STYPE = text);
-- printf, in the two forms the store's money formatting uses: '%d', and '%d.%0Nd'
-- (whole units, then N digits of minor units). SQL functions, inlined into the query.
CREATE FUNCTION fieldcase.printf(fmt text, a numeric) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT trunc(a)::text $$;
CREATE FUNCTION fieldcase.printf(fmt text, a numeric, b numeric) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT trunc(a)::text || '.'
        || lpad(trunc(b)::text, substring(fmt FROM '%0([0-9]+)d')::int, '0') $$;
"""

LOGINS = """
CREATE FUNCTION fieldcase.is_staff() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = fieldcase, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM fieldcase.staff WHERE id = session_user::text) $$;
CREATE FUNCTION fieldcase.is_supervisor() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = fieldcase, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM fieldcase.staff WHERE id = session_user::text
                   AND role = 'supervisor' AND coalesce(active, 1) != 0) $$;
-- An administrator: a login that is no staff member but may act as the schema's owner.
CREATE FUNCTION fieldcase.is_admin() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = fieldcase, pg_temp AS $$
    SELECT NOT fieldcase.is_staff() AND pg_has_role(session_user,
        (SELECT nspowner FROM pg_namespace WHERE nspname = 'fieldcase'), 'MEMBER') $$;
-- Whether the login sees every case's personal data: an administrator or a supervisor.
-- The views ask it once per query, as a subquery of their own (an InitPlan).
CREATE FUNCTION fieldcase.sees_all() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = fieldcase, pg_temp AS $$
    SELECT fieldcase.is_admin() OR fieldcase.is_supervisor() $$;

CREATE FUNCTION fieldcase.hash_field(f text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN f IS NULL THEN '~' ELSE length(f)::text || ':' || f END $$;
-- fieldcase.store.event_hash, in SQL.
CREATE FUNCTION fieldcase.event_hash(prev text, chain text, type text, case_id bigint,
        actor text, at text, payload text, recorded_at text, policy_version bigint)
    RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        fieldcase.hash_field(prev) || fieldcase.hash_field(chain) || fieldcase.hash_field(type)
        || fieldcase.hash_field(case_id::text) || fieldcase.hash_field(actor)
        || fieldcase.hash_field(at) || fieldcase.hash_field(payload)
        || CASE WHEN recorded_at IS NULL THEN '' ELSE fieldcase.hash_field(recorded_at)
                || fieldcase.hash_field(policy_version::text) END, 'UTF8')), 'hex') $$;

CREATE FUNCTION fieldcase.stamp_event() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = fieldcase, pg_temp AS $$
DECLARE
    last_id bigint;
BEGIN
    -- One writer at a time, as the application's own transactions take it.
    PERFORM pg_advisory_xact_lock({lock});
    SELECT max(id) INTO last_id FROM fieldcase.events;
    IF NEW.id IS NULL OR NEW.id <= coalesce(last_id, 0) THEN
        RAISE EXCEPTION 'event % comes after event %: events are appended in order',
            NEW.id, last_id;
    END IF;
    IF current_setting('fieldcase.moving', true) = 'on' AND fieldcase.is_admin() THEN
        -- An office's log moved here whole (fieldcase migrate --to): kept as it was
        -- written, each event checked against its chain and its hash.
        IF NEW.prev_hash IS DISTINCT FROM coalesce((SELECT hash FROM fieldcase.events
                WHERE chain = NEW.chain ORDER BY id DESC LIMIT 1), '') THEN
            RAISE EXCEPTION 'event % does not follow the last event of %', NEW.id, NEW.chain;
        END IF;
        IF NEW.hash IS DISTINCT FROM fieldcase.event_hash(NEW.prev_hash, NEW.chain, NEW.type,
                NEW.case_id, NEW.actor, NEW.at,
                CASE WHEN NEW.payload_sha256 IS NULL THEN NEW.payload
                     ELSE 'sha256:' || NEW.payload_sha256 END,
                NEW.recorded_at, NEW.policy_version) THEN
            RAISE EXCEPTION 'event % does not match its hash', NEW.id;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.payload_sha256 IS NULL THEN
        RAISE EXCEPTION 'an event must carry the digest of its payload';
    END IF;
    IF NEW.type != 'refused'
       AND (NEW.chain LIKE 'institution:%' OR NEW.type LIKE 'staff%'
            OR NEW.type IN ('institution_added', 'policy_changed'))
       AND fieldcase.is_staff() AND NOT fieldcase.is_supervisor() THEN
        RAISE EXCEPTION 'only a supervisor may change staff, institutions or policy';
    END IF;
    NEW.actor := session_user::text;
    NEW.recorded_at := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                               'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    NEW.prev_hash := coalesce((SELECT hash FROM fieldcase.events WHERE chain = NEW.chain
                               ORDER BY id DESC LIMIT 1), '');
    NEW.hash := fieldcase.event_hash(NEW.prev_hash, NEW.chain, NEW.type, NEW.case_id,
        NEW.actor, NEW.at, 'sha256:' || NEW.payload_sha256, NEW.recorded_at,
        NEW.policy_version);
    RETURN NEW;
END $$;
CREATE TRIGGER events_stamp BEFORE INSERT ON fieldcase.events
    FOR EACH ROW EXECUTE FUNCTION fieldcase.stamp_event();

CREATE FUNCTION fieldcase.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('fieldcase.redacting', true) = 'on'
       AND (NEW.id, NEW.case_id, NEW.chain, NEW.type, NEW.actor, NEW.at, NEW.prev_hash,
            NEW.hash, NEW.payload_sha256, NEW.recorded_at, NEW.policy_version)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.case_id, OLD.chain, OLD.type, OLD.actor, OLD.at, OLD.prev_hash,
            OLD.hash, OLD.payload_sha256, OLD.recorded_at, OLD.policy_version)
       AND (NEW.payload::jsonb ->> 'redacted') = 'true' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE ON fieldcase.events
    FOR EACH ROW EXECUTE FUNCTION fieldcase.refuse_event_change();
CREATE TRIGGER events_no_delete BEFORE DELETE ON fieldcase.events
    FOR EACH ROW EXECUTE FUNCTION fieldcase.refuse_event_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON fieldcase.events
    FOR EACH STATEMENT EXECUTE FUNCTION fieldcase.refuse_event_change();

-- A purge withholds an event's personal data: only this, by a supervisor.
CREATE FUNCTION fieldcase.redact_event(event_id bigint, payload text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = fieldcase, pg_temp AS $$
BEGIN
    IF NOT (fieldcase.is_supervisor() OR fieldcase.is_admin()) THEN
        RAISE EXCEPTION 'only a supervisor may purge';
    END IF;
    PERFORM set_config('fieldcase.redacting', 'on', true);
    UPDATE fieldcase.events SET payload = redact_event.payload WHERE id = event_id;
    PERFORM set_config('fieldcase.redacting', 'off', true);
END $$;

-- A login for each staff member, in the group of their role; none while deactivated.
CREATE FUNCTION fieldcase.check_login(staff_id text) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = fieldcase, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = staff_id
               AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication
                    OR rolbypassrls OR pg_has_role(oid,
                        (SELECT nspowner FROM pg_namespace WHERE nspname = 'fieldcase'),
                        'MEMBER'))) THEN
        RAISE EXCEPTION 'staff id % is a database administrator''s login: choose another',
            staff_id;
    END IF;
END $$;
CREATE FUNCTION fieldcase.sync_login() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = fieldcase, pg_temp AS $$
DECLARE
    field text := current_database() || '_field';
    supervisor text := current_database() || '_supervisor';
BEGIN
    PERFORM fieldcase.check_login(NEW.id);
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.id) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', NEW.id);
    END IF;
    EXECUTE format('REVOKE %I, %I FROM %I', field, supervisor, NEW.id);
    IF coalesce(NEW.active, 1) != 0 THEN
        EXECUTE format('GRANT %I TO %I', CASE WHEN NEW.role = 'supervisor'
                       THEN supervisor ELSE field END, NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER staff_login AFTER INSERT OR UPDATE ON fieldcase.staff
    FOR EACH ROW EXECUTE FUNCTION fieldcase.sync_login();
CREATE FUNCTION fieldcase.set_password(staff_id text, password text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = fieldcase, pg_temp AS $$
BEGIN
    IF NOT (fieldcase.is_supervisor() OR fieldcase.is_admin()
            OR session_user::text = staff_id) THEN
        RAISE EXCEPTION 'only a supervisor may set another staff member''s password';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM fieldcase.staff WHERE id = staff_id) THEN
        RAISE EXCEPTION 'no staff member %', staff_id;
    END IF;
    PERFORM fieldcase.check_login(staff_id);
    EXECUTE format('ALTER ROLE %I PASSWORD %L', staff_id, password);
END $$;
"""

#: Every table: those the log rebuilds, and the log.
ALL_TABLES = (*STATE_TABLES, "events")
#: Where every login finds the tables: the masking views first (psql's too).
READ_PATH = "fieldcase_read, fieldcase"
#: Written by supervisors only: a field worker reads them.
SUPERVISORS_WRITE = ("staff", "institutions", "policy_versions")


def _view_sql(db: Any, table: str) -> str:
    """The masking view over ``table``: its columns, personal ones masked for non-seers."""
    columns = [
        (row[0], row[1])
        for row in db.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'fieldcase' AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
    ]
    hidden = set(PERSONAL_COLUMNS.get(table, {})) - SHOWN.get(table, set())
    if table == "events":
        hidden = {"payload"}
    # As the application decides it (fieldcase.privacy.sees_in_clear): a supervisor (asked
    # once per query), the case's assignee, or one of its visiting staff.
    me = "session_user::text"
    if table == "cases":
        mine = f"t.assigned_to = {me}"
        case_id = "t.id"
    else:
        case_id = "t.case_id"
        mine = (
            f"{case_id} IS NULL OR EXISTS (SELECT 1 FROM fieldcase.cases c"
            f" WHERE c.id = {case_id} AND c.assigned_to = {me})"
        )
    sees = (
        f"CASE WHEN (SELECT fieldcase.sees_all()) OR {mine} THEN TRUE"
        f" ELSE EXISTS (SELECT 1 FROM fieldcase.visits v WHERE v.case_id = {case_id}"
        f" AND v.staff::jsonb ? {me}) END"
    )
    parts = []
    for name, data_type in columns:
        if name not in hidden:
            parts.append(f't."{name}"')
            continue
        if table == "events":
            masked = "NULL"
        elif (table, name) in MASKED_AS:
            masked = MASKED_AS[(table, name)]
        elif data_type == "text":
            masked = (
                f"""CASE WHEN coalesce(t."{name}", '') = '' THEN t."{name}" ELSE '[masked]' END"""
            )
        else:
            masked = "NULL"
        parts.append(f'CASE WHEN {sees} THEN t."{name}" ELSE {masked} END AS "{name}"')
    return (
        f'CREATE VIEW fieldcase_read."{table}" AS SELECT {", ".join(parts)}'
        f' FROM fieldcase."{table}" t'
    )


def m001_schema(db: Any) -> None:
    db.run_script(SCHEMA)


def m002_logins(db: Any) -> None:
    database = db.execute("SELECT current_database()").fetchone()[0]
    field, supervisor = f"{database}_field", f"{database}_supervisor"
    db.run_script(LOGINS.replace("{lock}", str(WRITE_LOCK)))
    for group in (field, supervisor):
        if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", [group]).fetchone():
            db.execute(f'CREATE ROLE "{group}" NOLOGIN')
    db.execute(f'GRANT "{field}" TO "{supervisor}"')
    db.execute(f'ALTER DATABASE "{database}" SET search_path = {READ_PATH}')
    db.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
    db.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{field}"')
    db.execute("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA fieldcase FROM PUBLIC")
    db.execute(f'GRANT USAGE ON SCHEMA fieldcase, fieldcase_read TO "{field}"')
    db.execute(f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fieldcase TO "{field}"')
    db.execute(f'GRANT SELECT ON fieldcase.schema_migrations TO "{field}"')
    # voided_rows numbers its rows itself, as SQLite's rowid does.
    db.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA fieldcase TO "{field}"')
    for table in ALL_TABLES:
        # A table a later migration creates is exposed by that migration.
        if db.execute("SELECT to_regclass(?) IS NOT NULL", [f'fieldcase."{table}"']).fetchone()[0]:
            expose(db, table)


def expose(db: Any, table: str) -> None:
    """Give staff ``table``: reads through its masking view, writes to the table itself
    (by field staff, or for :data:`SUPERVISORS_WRITE` by supervisors only)."""
    database = db.execute("SELECT current_database()").fetchone()[0]
    field, supervisor = f"{database}_field", f"{database}_supervisor"
    db.run_script(_view_sql(db, table))
    db.execute(f'GRANT SELECT ON fieldcase_read."{table}" TO "{field}"')
    db.execute(f'GRANT SELECT (id) ON fieldcase."{table}" TO "{field}"')
    if table == "events":
        db.execute(f'GRANT INSERT ON fieldcase.events TO "{field}"')
        return
    writer = supervisor if table in SUPERVISORS_WRITE else field
    db.execute(f'GRANT INSERT, UPDATE, DELETE ON fieldcase."{table}" TO "{writer}"')
    db.execute(f'GRANT UPDATE ON fieldcase_read."{table}" TO "{writer}"')


def m003_import_fingerprints(db: Any) -> None:
    """What each case was last imported from (see the SQLite migration of the same
    name): read and written by supervisors, who import; no field login reads it."""
    database = db.execute("SELECT current_database()").fetchone()[0]
    db.execute(
        "CREATE TABLE fieldcase.import_fingerprints (id BIGINT PRIMARY KEY"
        " REFERENCES fieldcase.cases(id), version BIGINT NOT NULL, digest TEXT NOT NULL)"
    )
    db.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON fieldcase.import_fingerprints"
        f' TO "{database}_supervisor"'
    )


#: Who may read an attachment's file: as :func:`_view_sql` decides for a row of its case,
#: for any case holding the same file.
BLOB_SEEN = """(SELECT fieldcase.sees_all()) OR EXISTS (SELECT 1 FROM fieldcase.attachments a
    JOIN fieldcase.cases c ON c.id = a.case_id WHERE a.sha256 = t.sha256
    AND (c.assigned_to = session_user::text OR EXISTS (SELECT 1 FROM fieldcase.visits v
         WHERE v.case_id = c.id AND v.staff::jsonb ? session_user::text)))"""


def m004_attachments(db: Any) -> None:
    """Attachments and their files (see the SQLite migration of the same name).

    Staff read a file's content only where they may see a case holding it (the
    view gives others NULL); field staff add files, supervisors (purges and voids)
    remove them. Nobody changes one.
    """
    database = db.execute("SELECT current_database()").fetchone()[0]
    field, supervisor = f"{database}_field", f"{database}_supervisor"
    db.run_script(
        """
CREATE TABLE fieldcase."attachments" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "media_type" TEXT NOT NULL,
    "at" TEXT NOT NULL,
    "staff" TEXT,
    "visit_number" BIGINT,
    "filename" TEXT,
    "note" TEXT,
    "taken_at" TEXT,
    "lat" TEXT,
    "lon" TEXT,
    "purged_at" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE INDEX "idx_attachments_case_id" ON fieldcase."attachments" ("case_id");
CREATE INDEX "idx_attachments_sha256" ON fieldcase."attachments" ("sha256");
CREATE TABLE fieldcase."attachment_blobs" (
    "sha256" TEXT PRIMARY KEY,
    "size" BIGINT NOT NULL,
    "content" BYTEA NOT NULL
);
"""
    )
    expose(db, "attachments")
    db.run_script(
        'CREATE VIEW fieldcase_read."attachment_blobs" AS SELECT t."sha256", t."size",'
        f' CASE WHEN {BLOB_SEEN} THEN t."content" END AS "content"'
        ' FROM fieldcase."attachment_blobs" t'
    )
    db.execute(f'GRANT SELECT ON fieldcase_read."attachment_blobs" TO "{field}"')
    db.execute(f'GRANT SELECT (sha256, size), INSERT ON fieldcase."attachment_blobs" TO "{field}"')
    db.execute(f'GRANT DELETE ON fieldcase."attachment_blobs" TO "{supervisor}"')


def m005_checkins(db: Any) -> None:
    """Check-ins, and the cases' own coordinates (see the SQLite migration of the same
    name): personal, so masked in the views; the cases' view is made again to show
    its new columns."""
    db.run_script(
        """
ALTER TABLE fieldcase."cases" ADD COLUMN "latitude" TEXT;
ALTER TABLE fieldcase."cases" ADD COLUMN "longitude" TEXT;
DROP VIEW fieldcase_read."cases";
CREATE TABLE fieldcase."checkins" (
    "id" BIGINT PRIMARY KEY,
    "case_id" BIGINT NOT NULL,
    "visit_number" BIGINT,
    "at" TEXT NOT NULL,
    "staff" TEXT,
    "lat" TEXT,
    "lon" TEXT,
    "accuracy_m" BIGINT,
    "distance_m" BIGINT,
    "reference" TEXT,
    "limit_m" BIGINT,
    "far" BIGINT NOT NULL,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE INDEX "idx_checkins_case_id" ON fieldcase."checkins" ("case_id");
CREATE INDEX "idx_checkins_at" ON fieldcase."checkins" ("at");
"""
    )
    expose(db, "cases")
    expose(db, "checkins")


def m006_messages(db: Any) -> None:
    """Letters and messages as contacts (see the SQLite migration of the same name).

    The masking view over contacts is made again, so that it shows the new
    columns, the personal ones masked.
    """
    db.run_script(
        """
ALTER TABLE fieldcase."contacts"
    ADD COLUMN "template" TEXT,
    ADD COLUMN "language" TEXT,
    ADD COLUMN "message_sha256" TEXT,
    ADD COLUMN "recipient" TEXT,
    ADD COLUMN "message_subject" TEXT,
    ADD COLUMN "message_text" TEXT,
    ADD COLUMN "delivery" TEXT,
    ADD COLUMN "receipt" TEXT,
    ADD COLUMN "delivery_error" TEXT;
DROP VIEW fieldcase_read."contacts";
"""
    )
    expose(db, "contacts")


def m007_packs(db: Any) -> None:
    """Offline field packs (see the SQLite migration of the same name).

    The office's signing secret is readable by the schema's owner only: staff
    sign and check packs through ``fieldcase.pack_signature``, which runs as the
    owner and returns a signature, never the secret. The manifest table exists
    for the schemas to match: only a pack (a SQLite file) holds one.
    """
    db.run_script(
        """
CREATE TABLE fieldcase.office_keys (
    "id" BIGINT PRIMARY KEY CHECK ("id" = 1),
    "secret" BYTEA NOT NULL
);
INSERT INTO fieldcase.office_keys ("id", "secret") VALUES (1, decode(replace(
    gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
CREATE FUNCTION fieldcase.pack_signature(digest TEXT) RETURNS TEXT
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT encode(sha256(k."secret" || decode(digest, 'hex')), 'hex')
    FROM fieldcase.office_keys k WHERE k."id" = 1
$$;
CREATE TABLE fieldcase."pack_manifest" (
    "id" BIGINT PRIMARY KEY CHECK ("id" = 1),
    "pack" TEXT NOT NULL,
    "manifest" TEXT NOT NULL,
    "signature" TEXT NOT NULL
);
CREATE TABLE fieldcase."synced_actions" (
    "id" BIGINT PRIMARY KEY,
    "pack" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "case_id" BIGINT NOT NULL,
    "action" TEXT NOT NULL,
    "at" TEXT,
    "status" TEXT NOT NULL,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE UNIQUE INDEX "idx_synced_actions_pack_seq" ON fieldcase."synced_actions" ("pack", "seq");
CREATE TABLE fieldcase."sync_conflicts" (
    "id" BIGINT PRIMARY KEY,
    "pack" TEXT NOT NULL,
    "staff" TEXT,
    "case_id" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "detail" TEXT,
    "field" TEXT NOT NULL,
    "central" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "at" TEXT,
    "resolved_by" TEXT,
    "resolved_at" TEXT,
    "note" TEXT,
    FOREIGN KEY ("case_id") REFERENCES fieldcase."cases" ("id")
);
CREATE INDEX "idx_sync_conflicts_status" ON fieldcase."sync_conflicts" ("status");
CREATE INDEX "idx_sync_conflicts_case_id" ON fieldcase."sync_conflicts" ("case_id");
"""
    )
    database = db.execute("SELECT current_database()").fetchone()[0]
    db.execute("REVOKE ALL ON FUNCTION fieldcase.pack_signature(TEXT) FROM PUBLIC")
    db.execute(
        "GRANT EXECUTE ON FUNCTION fieldcase.pack_signature(TEXT)"
        f' TO "{database}_field", "{database}_supervisor"'
    )
    db.execute(
        f'GRANT SELECT ON fieldcase."pack_manifest" TO "{database}_field", "{database}_supervisor"'
    )
    expose(db, "synced_actions")
    expose(db, "sync_conflicts")


MIGRATIONS: tuple[tuple[str, Callable[[Any], None]], ...] = (
    ("001_schema", m001_schema),
    ("002_logins", m002_logins),
    ("003_import_fingerprints", m003_import_fingerprints),
    ("004_attachments", m004_attachments),
    ("005_checkins", m005_checkins),
    ("006_messages", m006_messages),
    ("007_packs", m007_packs),
)
LATEST_MIGRATION = MIGRATIONS[-1][0]


def up_to_date(db: Any) -> bool:
    row = db.execute("SELECT to_regclass('fieldcase.schema_migrations') IS NOT NULL").fetchone()
    if not row[0]:
        return False
    return bool(
        db.execute(
            "SELECT 1 FROM fieldcase.schema_migrations WHERE name = ?", [LATEST_MIGRATION]
        ).fetchone()
    )


def migrate(db: Any) -> list[str]:
    """Apply the pending migrations, each in its own transaction; return their names."""
    applied: list[str] = []
    for name, step in MIGRATIONS:
        db.execute("BEGIN")
        try:
            db.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            exists = db.execute(
                "SELECT to_regclass('fieldcase.schema_migrations') IS NOT NULL"
            ).fetchone()[0]
            done = (
                exists
                and db.execute(
                    "SELECT 1 FROM fieldcase.schema_migrations WHERE name = ?", [name]
                ).fetchone()
            )
            if not done:
                step(db)
                db.execute(
                    "INSERT INTO fieldcase.schema_migrations (name, applied_at)"
                    " VALUES (?, to_char(clock_timestamp() AT TIME ZONE 'UTC',"
                    ' \'YYYY-MM-DD"T"HH24:MI:SS"Z"\'))',
                    [name],
                )
                applied.append(name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied
