"""A state machine over the case lifecycle, driven through the real services.

Hypothesis runs random sequences of every action (create, assign, contact,
confirm, plan, checklist, interview, feedback, review, close, reopen, flags,
offers, offer review and acceptance, promises, payments, and corrections: voids
of the latest event and of earlier contacts, amendments) on a few cases of
three institutions (two bound by rule packs), by field staff and supervisors,
with good and bad input, while a clock moves forward. Steering rules take the
next sensible step now and then, so that cases get deep into their lifecycle.

Each action is checked as it runs:

- a refused action raised a FieldcaseError and wrote at most its one
  ``refused`` event (a Refused: exactly one; bad input: none): no table changed;
- an action that went through was allowed (stage, staff, input, policy) and
  moved the case exactly as the model kept here says; one the rules allow
  must go through.

and after every step (invariants):

- the stored tables equal the replay of the events, and the hash chains verify;
- every case's events move it only along the lifecycle's transitions, its
  version counting them, and its stage is the model's;
- a void of a case's latest event leaves the case's rows exactly as they were
  before that event (bar the version and the time of the last change), and the
  model goes back with it;
- the columns the worklist reads agree with the visits, promises and payments;
- no balance, nor any component, is ever negative, and each is exactly what
  the model's payments and penalty interest give; a case a payment closed owes
  nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fieldcase import lifecycle, reviews
from fieldcase.arrangements import active_arrangement
from fieldcase.corrections import VOIDABLE
from fieldcase.errors import FieldcaseError, InvalidInput, Refused
from fieldcase.lifecycle import Stage
from fieldcase.model import Case, Offer
from fieldcase.money import exponent, quantum
from fieldcase.plugins import manager
from fieldcase.repayment import statuses_by_arrangement
from fieldcase.rows import from_iso
from fieldcase.services import Services
from fieldcase.store import STATE_TABLES, Store
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

T = TypeVar("T")

START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
FAR_FUTURE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
SUPERVISORS = ("sup.a", "sup.b")
FIELD = ("f.one", "f.two")
STAFF = (*SUPERVISORS, *FIELD)
#: The failed-visit limit each institution has (see CONFIG; 3 by default).
LIMITS = {"hx-consumer": 2, "cn-bank": 3, "example-bank": 3}
CONFIG = """
[institutions.hx-consumer]
max_failed_visits = 2

[institutions.cn-bank]
rule_packs = ["cn"]

[institutions.example-bank]
rule_packs = ["us-regf"]
approval_threshold = "500.00"
"""
JURISDICTIONS = {"hx-consumer": "CN", "cn-bank": "CN", "example-bank": "US-NY"}
HOLIDAYS = {"2026-11-26", "2026-12-25"}
OFFER_CODES = (
    "installment-3",
    "installment-6",
    "installment-12",
    "extension-30",
    "waiver",
    "settlement",
)

#: The action (as lifecycle names it) each event type records.
EVENT_ACTION = {
    "case_assigned": "assign",
    "contact_recorded": "contact",
    "address_confirmed": "confirm_address",
    "visit_planned": "plan_visit",
    "visit_replanned": "plan_visit",
    "checklist_ticked": "tick_checklist",
    "interview_recorded": "start_visit",
    "visit_failed": "start_visit",
    "feedback_submitted": "submit_feedback",
    "feedback_approved": "review",
    "feedback_returned": "review",
    "case_closed": "close",
    "case_reopened": "reopen",
    "offers_presented": "present_offer",
    "offer_approved": "review_offer",
    "offer_declined": "review_offer",
    "offer_accepted": "accept_offer",
    "promise_made": "promise",
    "payment_recorded": "record_payment",
    "payment_confirmed": "confirm_payment",
    "payment_reversed": "reverse_payment",
    "flags_changed": "flag",
    "dispute_opened": "open_dispute",
    "dispute_decided": "decide_dispute",
    "hardship_granted": "grant_hardship",
    "hardship_ended": "end_hardship",
    "complaint_recorded": "complaint",
    "review_opened": "open_review",
    "event_voided": "void_event",
    "event_amended": "amend_event",
}
CONFIRM, PREPARE, INTERVIEW, FEEDBACK, CLOSED = (
    Stage.CONFIRMATION,
    Stage.PREPARATION,
    Stage.INTERVIEW,
    Stage.FEEDBACK,
    Stage.CLOSED,
)
#: The only ways an event may change a case's stage; any other event keeps it.
STAGE_MOVES: dict[str, set[tuple[Stage, Stage]]] = {
    "address_confirmed": {(CONFIRM, PREPARE)},
    "visit_planned": {(PREPARE, PREPARE), (PREPARE, INTERVIEW), (INTERVIEW, INTERVIEW)},
    "visit_replanned": {(PREPARE, PREPARE), (PREPARE, INTERVIEW), (INTERVIEW, INTERVIEW)},
    "checklist_ticked": {(PREPARE, PREPARE), (PREPARE, INTERVIEW)},
    "interview_recorded": {(INTERVIEW, FEEDBACK)},
    "visit_failed": {(INTERVIEW, PREPARE), (INTERVIEW, FEEDBACK)},
    "case_closed": {(s, CLOSED) for s in lifecycle.OPEN_STAGES},
    # Reopened by a supervisor (to confirmation or preparation), or by reversing the
    # payment that closed it (to the stage it was closed from).
    "case_reopened": {(CLOSED, s) for s in lifecycle.OPEN_STAGES},
    # Decided from any stage: it stays, or closes (upheld, --close).
    "dispute_decided": {
        *((s, s) for s in lifecycle.OPEN_STAGES),
        *((s, CLOSED) for s in lifecycle.OPEN_STAGES),
    },
    "complaint_recorded": {(s, s) for s in Stage},
    "review_opened": {(CLOSED, CONFIRM)},
}
#: Where a review's path differs: findings from any open stage, and approved findings
#: close it (reviewed) or send it to the start of collection.
REVIEW_MOVES: dict[str, set[tuple[Stage, Stage]]] = {
    "feedback_submitted": {(s, FEEDBACK) for s in lifecycle.OPEN_STAGES},
    "feedback_approved": {(FEEDBACK, CLOSED), (FEEDBACK, CONFIRM), (FEEDBACK, PREPARE)},
}

# -- strategies -------------------------------------------------------------------

#: How the steering rules choose among the next steps, a few steps at a time.
CHOICES = st.lists(st.integers(0, 5), min_size=1, max_size=4)

#: Minutes the clock moves on before an action: a moment, hours, or days.
ADVANCE = st.one_of(st.integers(1, 90), st.integers(91, 3 * 24 * 60))
#: Who acts: mostly the case's own field worker, else anyone, or nobody we know.
ACTOR = st.sampled_from(["owner"] * 4 + [*STAFF, "ghost"])
#: The same moment told in different time zones: the store must not care.
ZONE = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5))]
)


@dataclasses.dataclass
class Model:
    """What the test expects of one case, kept independently of the store."""

    institution: str
    reference: str
    timezone: str
    currency: str
    stage: Stage = Stage.CONFIRMATION
    assigned: str | None = None
    confirmed: bool = False
    #: The staff of the planned visit not yet made; None when there is none.
    visit_staff: tuple[str, ...] | None = None
    visit_date: dt.date | None = None
    ticked: set[str] = dataclasses.field(default_factory=set)
    failed: int = 0
    escalated: bool = False
    feedback: str | None = None
    submitted_by: str | None = None
    #: collection, or review once a supervisor opened a review of the closed case.
    kind: str = "collection"
    recommendation: str | None = None
    #: Payment references recorded, with their amounts.
    paid: dict[str, Decimal] = dataclasses.field(default_factory=dict)
    #: Every payment that counts (confirmed, not reversed): when (as dated) and how much.
    payments: list[tuple[dt.datetime, Decimal]] = dataclasses.field(default_factory=list)
    #: Payments field staff reported, not yet confirmed: reference -> (when, how much).
    reported: dict[str, tuple[dt.datetime, Decimal]] = dataclasses.field(default_factory=dict)
    #: References reversed.
    reversed: set[str] = dataclasses.field(default_factory=set)
    #: The payment whose arrival closed the case, and the stage it closed from, while
    #: the case stays closed by it.
    closed_by: tuple[str, Stage] | None = None


#: Case columns every action moves on: not part of "as it was before".
BOOKKEEPING = ("version", "updated_at", "arrears_key")


@dataclasses.dataclass
class Done:
    """An action that went through: what a void of it must return the case to."""

    event: int
    types: tuple[str, ...]
    rows: dict[str, list[dict[str, Any]]]
    model: Model


class CaseMachine(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="fieldcase-sm-"))
        (self.tmp / "policy.toml").write_text(CONFIG, encoding="utf-8")
        self.store = Store(self.tmp / "office.db")
        self.store.migrate()
        self.services = Services(self.store, manager(), clock=None)
        self.clock = START
        self.models: dict[int, Model] = {}
        #: Per case, each action that went through, oldest first: its events' ids and
        #: types, and the case's rows and model just before it (what a void returns to).
        self.done: dict[int, list[Done]] = {}
        self.next_reference = 0
        self.services.add_staff("sup.a", "Supervisor A", "supervisor", actor=None, at=START)
        self.services.add_staff("sup.b", "Supervisor B", "supervisor", actor="sup.a", at=START)
        for member in FIELD:
            self.services.add_staff(member, member, "field", actor="sup.a", at=START)
        for institution, jurisdiction in JURISDICTIONS.items():
            self.services.add_institution(
                institution,
                name=institution,
                jurisdiction=jurisdiction,
                timezone="Asia/Shanghai" if jurisdiction == "CN" else "America/New_York",
                currency="CNY" if jurisdiction == "CN" else "USD",
                actor="sup.a",
                at=START,
                policy_file=self.tmp / "policy.toml",
            )

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------

    def tick(self, minutes: int) -> dt.datetime:
        self.clock += dt.timedelta(minutes=minutes)
        return self.clock

    def who(self, actor: str, case_id: int) -> str:
        if actor == "owner":
            return self.models[case_id].assigned or SUPERVISORS[0]
        return actor

    def case(self, case_id: int) -> Case:
        return self.store.get_case(case_id)

    def today(self, case_id: int, at: dt.datetime | None = None) -> dt.date:
        zone = ZoneInfo(self.models[case_id].timezone)
        return (at or self.clock).astimezone(zone).date()

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        return {table: self.store.table_rows(table) for table in STATE_TABLES}

    def last_event(self) -> int:
        row = self.store.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        return int(row[0])

    def events_after(self, event_id: int) -> list[dict[str, Any]]:
        return list(
            self.store.db.query("SELECT * FROM events WHERE id > ? ORDER BY id", [event_id])
        )

    def case_rows(self, case_id: int) -> dict[str, list[dict[str, Any]]]:
        """The case's rows in every state table, without the columns every action moves."""
        rows: dict[str, list[dict[str, Any]]] = {}
        for table in STATE_TABLES:
            if table in ("event_corrections", "voided_rows", "institutions", "staff"):
                continue
            if table == "policy_versions":
                continue
            column = "id" if table == "cases" else "case_id"
            found = self.store.db.query(
                f"SELECT * FROM [{table}] WHERE {column} = ? ORDER BY id", [case_id]
            )
            rows[table] = [{k: v for k, v in r.items() if k not in BOOKKEEPING} for r in found]
        return rows

    def attempt(
        self, action: str, case_id: int | None, call: Callable[[], T]
    ) -> tuple[T | None, FieldcaseError | None]:
        """Run ``call``; a refusal must leave the tables as they were, bar one event."""
        before, last = self.tables(), self.last_event()
        undo: tuple[dict[str, list[dict[str, Any]]], Model] | None = None
        if case_id is not None and case_id in self.models:
            undo = self.case_rows(case_id), copy.deepcopy(self.models[case_id])
        try:
            result = call()
        except FieldcaseError as exc:
            assert self.tables() == before, f"{action} raised {exc!r} yet changed the tables"
            new = self.events_after(last)
            if isinstance(exc, Refused):
                assert [e["type"] for e in new] == ["refused"], (action, exc, new)
                assert new[0]["case_id"] == case_id, (action, new[0])
                payload = json.loads(new[0]["payload"])
                assert payload["rows"] == []
                assert payload["data"]["action"] == action, (action, payload)
            else:
                assert new == [], f"{action} raised {exc!r} but wrote events {new}"
            event(f"{action}: {type(exc).__name__}")
            return None, exc
        event(f"{action}: done")
        new = self.events_after(last)
        after = self.tables()
        # An action on one case touches no other case.
        for written in new:
            assert written["type"] != "refused", (action, written)
            assert case_id is None or written["case_id"] == case_id, (action, case_id, written)
        if case_id is not None:
            others = [r for r in after["cases"] if r["id"] != case_id]
            assert others == [r for r in before["cases"] if r["id"] != case_id], action
            if new and undo is not None and action not in ("void_event", "amend_event"):
                types = tuple(e["type"] for e in new)
                self.done.setdefault(case_id, []).append(Done(new[-1]["id"], types, *undo))
        return result, None

    def allowed(
        self,
        action: str,
        pre: Case,
        actor: str,
        *,
        supervisor_only: bool = False,
        also: tuple[str, ...] = (),
    ) -> None:
        """An action that went through was allowed in its stage and to its actor."""
        assert lifecycle.stage_allows(action, pre.stage, pre.kind), (
            f"{action} went through in {pre.stage} ({pre.kind})"
        )
        if supervisor_only:
            assert actor in SUPERVISORS, f"{actor} did {action}, a supervisor's action"
        elif actor not in SUPERVISORS:
            assert actor == pre.assigned_to or actor in also, (
                f"{actor} did {action} on case {pre.id}, assigned to {pre.assigned_to}"
            )

    def moved(self, case_id: int, pre: Case, stage: Stage, steps: int = 1) -> Case:
        """The case is now in ``stage`` at version + ``steps``; the model follows."""
        post = self.case(case_id)
        assert post.stage == stage, (case_id, pre.stage, post.stage, stage)
        assert post.version == pre.version + steps, (pre.version, post.version)
        if stage != self.models[case_id].stage:
            self.models[case_id].closed_by = None
        self.models[case_id].stage = stage
        return post

    def required_items(self, case: Case) -> tuple[set[str], set[str]]:
        """(every checklist code, the required ones) for the case's visits."""
        items = self.services.checklist_for(case)
        return {i.code for i in items}, {i.code for i in items if i.required}

    def permitted(self, actor: str, pre: Case, also: tuple[str, ...] = ()) -> bool:
        """Whether ``actor`` may act on the case: a supervisor, its worker, or ``also``."""
        return actor in SUPERVISORS or (actor in FIELD and actor in (pre.assigned_to, *also))

    def amount_ok(self, text: str, currency: str) -> bool:
        """A positive number with no more decimals than the currency has."""
        try:
            value = Decimal(text)
        except ArithmeticError:
            return False
        return value > 0 and value == value.quantize(quantum(currency))

    def unflagged(self, case_id: int, pre: Case) -> bool:
        """No flag that stops contact (the us-regf pack binds example-bank)."""
        stops = {"cease-communication", "attorney"}
        return self.models[case_id].institution != "example-bank" or not stops & set(pre.flags)

    def in_hours(self, case_id: int, at: dt.datetime) -> bool:
        """Inside 08:00-21:00 borrower time, where a rule pack binds the institution."""
        model = self.models[case_id]
        local = at.astimezone(ZoneInfo(model.timezone)).time()
        return model.institution == "hx-consumer" or dt.time(8) <= local <= dt.time(21)

    def free_to_contact(self, pre: Case, at: dt.datetime, whom: str, purpose: str) -> bool:
        """No protection of the borrower stands in the way of this contact."""
        return (
            (pre.dispute is None or purpose == "dispute")
            and (purpose != "dispute" or pre.dispute is not None)
            and not (pre.paused(at) and purpose == "collect")
            and (
                whom == "third-party"
                or purpose == "dispute"
                or pre.fewer_contacts_until is None
                or pre.local_date(at) > pre.fewer_contacts_until
            )
        )

    def ready_stage(self, case_id: int, pre: Case) -> Stage:
        _, required = self.required_items(pre)
        return INTERVIEW if required <= self.models[case_id].ticked else pre.stage

    # -- cases -----------------------------------------------------------------------

    def _create(
        self,
        actor: str,
        institution: str,
        reference: str,
        timezone: str,
        days_overdue: int,
        principal: str,
        penalty_rate: str,
        assign: str | None,
        currency: str = "CNY",
    ) -> list[int]:
        zone = ZoneInfo("Asia/Shanghai" if timezone == "Mars/Olympus" else timezone)
        local = self.clock.astimezone(zone).date()
        # The same sums in yen are a hundred times the number, with no minor unit.
        scale = 100 if currency == "JPY" else 1

        def money(text: str) -> str:
            return str(Decimal(text) * scale) if text[0].isdigit() else text

        def call() -> Case:
            return self.services.create_case(
                actor=actor,
                at=self.clock,
                institution=institution,
                reference=reference,
                borrower_name="王芳",
                timezone=timezone,
                currency=currency,
                principal=money(principal),
                overdue_amount=money("3150.40"),
                overdue_since=local - dt.timedelta(days=days_overdue),
                jurisdiction=JURISDICTIONS[institution],
                phone="+86 138 0013 8000",
                address="上海市浦东新区世纪大道100号",
                assign_to=assign,
                accrued_interest=money("420.50"),
                fees=money("50"),
                penalty_rate=penalty_rate,
            )

        case, error = self.attempt("create", None, call)
        taken = {(m.institution, m.reference) for m in self.models.values()}
        must = (
            actor in SUPERVISORS
            and timezone != "Mars/Olympus"
            and principal != "lots"
            and assign != "ghost"
            and (institution, reference) not in taken
        )
        assert case is not None or not must, f"create refused: {error!r}"
        if case is None:
            return []
        assert error is None and case.id is not None
        assert actor in SUPERVISORS, f"{actor} created a case"
        assert case.stage == CONFIRM and case.version == 1
        assert case.assigned_to == assign
        assert case.id not in self.models
        assert (institution, reference) not in taken, f"{institution}/{reference} twice"
        self.models[case.id] = Model(institution, reference, timezone, currency, assigned=assign)
        return [case.id]

    @initialize(target=cases)
    def first_case(self) -> Any:
        return multiple(
            *self._create(
                "sup.a", "hx-consumer", "L-1", "Asia/Shanghai", 60, "20000", "18%", "f.one"
            )
        )

    @initialize(target=cases)
    def second_case(self) -> Any:
        # A bank bound by Regulation F, with its own checklist, holidays and eligibility.
        return multiple(
            *self._create(
                "sup.b", "example-bank", "EB-1", "America/New_York", 200, "1500.50", "0.36", "f.two"
            )
        )

    @precondition(lambda self: len(self.models) < 4)
    @rule(
        target=cases,
        advance=ADVANCE,
        actor=st.sampled_from([*STAFF, "ghost"]),
        institution=st.sampled_from(sorted(LIMITS)),
        reference=st.sampled_from(["L-1", "L-2", "L-3", "L-4"]),
        timezone=st.sampled_from(
            [
                "Asia/Shanghai",
                "America/New_York",
                "Pacific/Kiritimati",
                "Pacific/Pago_Pago",
                "Mars/Olympus",
            ]
        ),
        currency=st.sampled_from(["CNY", "CNY", "JPY"]),
        days_overdue=st.sampled_from([0, 5, 45, 200]),
        principal=st.sampled_from(["20000", "1500.50", "lots"]),
        penalty_rate=st.sampled_from(["18%", "0", "0.36"]),
        assign=st.sampled_from([None, *FIELD, "ghost"]),
    )
    def create(
        self,
        advance: int,
        actor: str,
        institution: str,
        reference: str,
        timezone: str,
        days_overdue: int,
        principal: str,
        penalty_rate: str,
        assign: str | None,
        currency: str,
    ) -> Any:
        self.tick(advance)
        created = self._create(
            actor,
            institution,
            reference,
            timezone,
            days_overdue,
            principal,
            penalty_rate,
            assign,
            currency,
        )
        return multiple(*created)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        to=st.sampled_from([*STAFF, "ghost"]),
        zone=ZONE,
    )
    def assign(self, case_id: int, advance: int, actor: str, to: str, zone: dt.tzinfo) -> None:
        at = self.tick(advance).astimezone(zone)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        result, error = self.attempt(
            "assign", case_id, lambda: self.services.assign(case_id, to=to, actor=actor, at=at)
        )
        must = actor in SUPERVISORS and to in STAFF and pre.stage != CLOSED
        assert result is not None or not must, f"assign refused: {error!r}"
        if result is None:
            return
        self.allowed("assign", pre, actor, supervisor_only=True)
        assert result.assigned_to == to
        self.moved(case_id, pre, pre.stage)
        self.models[case_id].assigned = to

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        channel=st.sampled_from([*lifecycle.CHANNELS, "pigeon"]),
        whom=st.sampled_from(lifecycle.TARGETS),
        outcome=st.sampled_from(lifecycle.OUTCOMES),
        purpose=st.sampled_from(lifecycle.PURPOSES),
        relationship=st.sampled_from(["", "spouse", "employer", "cousin"]),
        zone=ZONE,
    )
    def contact(
        self,
        case_id: int,
        advance: int,
        actor: str,
        channel: str,
        whom: str,
        outcome: str,
        purpose: str,
        relationship: str,
        zone: dt.tzinfo,
    ) -> None:
        at = self.tick(advance).astimezone(zone)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        result, error = self.attempt(
            "contact",
            case_id,
            lambda: self.services.record_contact(
                case_id,
                actor=actor,
                at=at,
                channel=channel,
                target=whom,
                outcome=outcome,
                purpose=purpose,
                note="rang",
                relationship=relationship,
            ),
        )
        # No rule pack binds hx-consumer: its own worker may always record a contact.
        must = (
            self.models[case_id].institution == "hx-consumer"
            and actor in (pre.assigned_to, *SUPERVISORS)
            and channel in lifecycle.CHANNELS
            and pre.stage != CLOSED
            # A third party's relationship is required; the borrower has none.
            and (
                relationship in lifecycle.RELATIONSHIPS
                if whom == "third-party"
                else not relationship
            )
            and self.free_to_contact(pre, at, whom, purpose)
        )
        assert result is not None or not must, f"contact refused: {error!r}"
        if result is None:
            return
        self.allowed("contact", pre, actor)
        assert (result.channel, result.target, result.outcome) == (channel, whom, outcome)
        assert result.relationship == relationship
        assert self.in_hours(case_id, at), f"contact at {at} outside hours"
        assert pre.dispute is None or purpose == "dispute", "a contact during a dispute"
        assert not pre.paused(at) or purpose != "collect", "a collection contact in a pause"
        institution = self.models[case_id].institution
        if institution == "cn-bank" and whom == "third-party":
            assert purpose == "message", "a third party was asked to do more than pass a message"
        if institution == "example-bank":
            assert not {"cease-communication", "attorney"} & set(pre.flags), pre.flags
        self.moved(case_id, pre, pre.stage)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        back=st.integers(1, 3 * 24 * 60),
    )
    def contact_back_in_time(self, case_id: int, advance: int, actor: str, back: int) -> None:
        """An action dated before the case's last change is bad input, not a refusal."""
        self.tick(advance)
        at = self.clock - dt.timedelta(minutes=back)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        result, error = self.attempt(
            "contact",
            case_id,
            lambda: self.services.record_contact(
                case_id, actor=actor, at=at, channel="phone", target="borrower", outcome="reached"
            ),
        )
        if actor in STAFF and pre.updated_at is not None and at < pre.updated_at:
            assert isinstance(error, InvalidInput), f"a contact dated {at} went in: {error!r}"
        if result is not None:
            self.allowed("contact", pre, actor)
            self.moved(case_id, pre, pre.stage)

    @rule(case_id=cases, advance=ADVANCE, actor=ACTOR)
    def naive_time(self, case_id: int, advance: int, actor: str) -> None:
        at = self.tick(advance).replace(tzinfo=None)
        actor = self.who(actor, case_id)
        _, error = self.attempt(
            "contact",
            case_id,
            lambda: self.services.record_contact(
                case_id, actor=actor, at=at, channel="phone", target="borrower", outcome="reached"
            ),
        )
        assert isinstance(error, InvalidInput), f"a time without a zone: {error!r}"

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        address=st.sampled_from(["上海市浦东新区世纪大道100号", "12 Main St", "   "]),
        source=st.sampled_from(["", "phone", "visit", "telepathy"]),
        zone=ZONE,
    )
    def confirm(
        self, case_id: int, advance: int, actor: str, address: str, source: str, zone: dt.tzinfo
    ) -> None:
        at = self.tick(advance).astimezone(zone)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        eligible = not self.services.eligibility(pre, at)
        result, error = self.attempt(
            "confirm_address",
            case_id,
            lambda: self.services.confirm_address(
                case_id, actor=actor, at=at, address=address, source=source
            ),
        )
        must = (
            pre.stage == CONFIRM
            and self.permitted(actor, pre)
            and bool(address.strip())
            and source != "telepathy"
            and eligible
        )
        assert result is not None or not must, f"confirm refused: {error!r}"
        if result is None:
            return
        self.allowed("confirm_address", pre, actor)
        assert address.strip() and source != "telepathy"
        assert not self.services.eligibility(pre, at), "an ineligible case was confirmed"
        post = self.moved(case_id, pre, PREPARE)
        assert post.confirmed_address == address and post.eligible
        self.models[case_id].confirmed = True

    # -- preparation and interview ------------------------------------------------------

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        days=st.integers(-1, 4),
        window=st.sampled_from(
            [(10, 12), (14, 16), (9, 17), (7, 9), (20, 22), (12, 11)],
        ),
        companions=st.sampled_from([(), (), ("f.two",), ("sup.b",), ("f.one", "f.two"), ("x",)]),
        zone=ZONE,
    )
    def plan(
        self,
        case_id: int,
        advance: int,
        actor: str,
        days: int,
        window: tuple[int, int],
        companions: tuple[str, ...],
        zone: dt.tzinfo,
    ) -> None:
        at = self.tick(advance).astimezone(zone)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        day = self.today(case_id) + dt.timedelta(days=days)
        start, end = dt.time(window[0]), dt.time(window[1])
        result, error = self.attempt(
            "plan_visit",
            case_id,
            lambda: self.services.plan_visit(
                case_id, actor=actor, at=at, date=day, window=(start, end), companions=companions
            ),
        )
        visiting = {pre.assigned_to or actor, *companions}
        bound = model.institution != "hx-consumer"
        must = (
            pre.stage in (PREPARE, INTERVIEW)
            and self.permitted(actor, pre)
            and start < end
            and days >= 0
            and set(companions) <= set(STAFF)
            and not (bound and not dt.time(8) <= start < end <= dt.time(21))
            and not (model.institution == "cn-bank" and len(visiting) < 2)
            and not (model.institution == "example-bank" and day.isoformat() in HOLIDAYS)
            and self.unflagged(case_id, pre)
            and pre.dispute is None
            # A plan is judged by the visit's date: one for after a pause is allowed.
            and not (pre.paused_until is not None and day <= pre.paused_until)
        )
        assert result is not None or not must, f"plan refused: {error!r}"
        if result is None:
            return
        self.allowed("plan_visit", pre, actor)
        assert start < end and days >= 0, (start, end, days)
        assert pre.dispute is None, "a visit planned during a dispute"
        assert pre.paused_until is None or day > pre.paused_until, "a visit planned in a pause"
        _, visit = result
        staff = [pre.assigned_to or actor]
        staff += [c for c in companions if c not in staff]
        assert visit.staff == tuple(staff) and visit.date == day
        if model.institution == "cn-bank":
            assert len(staff) >= 2, "a visit with one member of staff in China"
            assert dt.time(8) <= start and end <= dt.time(21)
        if model.institution == "example-bank":
            assert day.isoformat() not in HOLIDAYS, f"a visit planned on holiday {day}"
        if model.visit_staff is None:
            model.ticked = set()
        model.visit_staff, model.visit_date = tuple(staff), day
        assert {i.code for i in visit.checklist if i.ticked} == model.ticked
        self.moved(case_id, pre, self.ready_stage(case_id, pre))

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        items=st.lists(
            st.sampled_from(["id-badge", "authorisation", "contract", "statement", "bogus"]),
            max_size=3,
        ),
        tick_all=st.booleans(),
    )
    def checklist(
        self, case_id: int, advance: int, actor: str, items: list[str], tick_all: bool
    ) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "tick_checklist",
            case_id,
            lambda: self.services.tick_checklist(
                case_id, actor=actor, at=at, items=items, tick_all=tick_all
            ),
        )
        must = (
            pre.stage == PREPARE
            and self.permitted(actor, pre)
            and model.visit_staff is not None
            and set(items) <= self.required_items(pre)[0]
        )
        assert result is not None or not must, f"checklist refused: {error!r}"
        if result is None:
            return
        self.allowed("tick_checklist", pre, actor)
        assert model.visit_staff is not None, "ticked the checklist of no visit"
        codes, _ = self.required_items(pre)
        assert set(items) <= codes
        model.ticked |= codes if tick_all else set(items)
        _, visit = result
        assert {i.code for i in visit.checklist if i.ticked} == model.ticked
        self.moved(case_id, pre, self.ready_stage(case_id, pre))

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        met=st.sampled_from(lifecycle.MET),
        reason=st.sampled_from([None, "medical", "payroll-change", "nonsense"]),
        employment=st.sampled_from([None, None, "employed", "astronaut"]),
        income=st.sampled_from([None, None, "8500", "-1"]),
        attitude=st.sampled_from([None, "cooperative"]),
    )
    def interview(
        self,
        case_id: int,
        advance: int,
        actor: str,
        met: str,
        reason: str | None,
        employment: str | None,
        income: str | None,
        attitude: str | None,
    ) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "start_visit",
            case_id,
            lambda: self.services.record_interview(
                case_id,
                actor=actor,
                at=at,
                met=met,
                reason=reason,
                employment=employment,
                monthly_income=income,
                attitude=attitude,
                notes="visited",
            ),
        )
        findings = (reason, employment, income, attitude)
        must = (
            pre.stage == INTERVIEW
            and self.permitted(actor, pre, model.visit_staff or ())
            and model.visit_date is not None
            and self.today(case_id, at) >= model.visit_date
            and self.in_hours(case_id, at)
            and not (
                model.institution == "example-bank"
                and self.today(case_id, at).isoformat() in HOLIDAYS
            )
            and self.unflagged(case_id, pre)
            and pre.dispute is None
            and not pre.paused(at)
            and reason != "nonsense"
            and employment != "astronaut"
            and income != "-1"
            and (met != "borrower" or reason is not None)
            and (met != "nobody" or findings == (None, None, None, None))
        )
        assert result is not None or not must, f"interview refused: {error!r}"
        if result is None:
            return
        self.allowed("start_visit", pre, actor, also=model.visit_staff or ())
        assert model.visit_staff is not None and model.visit_date is not None
        assert self.today(case_id, at) >= model.visit_date, "a visit before its day"
        assert self.in_hours(case_id, at), f"a visit at {at} outside hours"
        if model.institution == "example-bank":
            assert self.today(case_id, at).isoformat() not in HOLIDAYS
        _, visit = result
        if met == "nobody":
            assert (reason, employment, income, attitude) == (None, None, None, None)
            model.failed += 1
            model.escalated = model.failed >= LIMITS[model.institution]
            assert visit.status == "failed"
            post = self.moved(case_id, pre, FEEDBACK if model.escalated else PREPARE)
        else:
            assert met != "borrower" or reason is not None
            assert reason != "nonsense" and employment != "astronaut" and income != "-1"
            assert visit.status == "done"
            post = self.moved(case_id, pre, FEEDBACK)
        assert (post.failed_visits, post.escalated) == (model.failed, model.escalated)
        model.visit_staff = model.visit_date = None
        model.ticked = set()

    # -- feedback and closure ----------------------------------------------------------

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        recommendation=st.sampled_from(
            [*lifecycle.RECOMMENDATIONS, *lifecycle.REVIEW_RECOMMENDATIONS, "magic"]
        ),
        summary=st.sampled_from(["Can pay 1,500 a month", "  "]),
    )
    def feedback(
        self, case_id: int, advance: int, actor: str, recommendation: str, summary: str
    ) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "submit_feedback",
            case_id,
            lambda: self.services.submit_feedback(
                case_id, actor=actor, at=at, recommendation=recommendation, summary=summary
            ),
        )
        fitting = (
            lifecycle.REVIEW_RECOMMENDATIONS if pre.kind == "review" else lifecycle.RECOMMENDATIONS
        )
        must = (
            lifecycle.stage_allows("submit_feedback", pre.stage, pre.kind)
            and self.permitted(actor, pre)
            and model.feedback in (None, "returned")
            and recommendation in fitting
            and bool(summary.strip())
        )
        assert result is not None or not must, f"feedback refused: {error!r}"
        if result is None:
            return
        self.allowed("submit_feedback", pre, actor)
        assert model.feedback in (None, "returned"), f"feedback {model.feedback} resubmitted"
        assert recommendation in fitting and summary.strip()
        # A review's findings may come from any open stage: they end its path.
        post = self.moved(case_id, pre, FEEDBACK)
        assert post.feedback_status == "submitted"
        model.feedback, model.submitted_by = "submitted", actor
        model.recommendation = recommendation

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        approve=st.booleans(),
        note=st.sampled_from(["", "Ask when he is back"]),
    )
    def review(self, case_id: int, advance: int, actor: str, approve: bool, note: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "review",
            case_id,
            lambda: self.services.review_feedback(
                case_id, actor=actor, at=at, approve=approve, note=note
            ),
        )
        must = (
            pre.stage == FEEDBACK
            and actor in SUPERVISORS
            and model.feedback == "submitted"
            and model.submitted_by != actor
            and (approve or bool(note.strip()))
        )
        assert result is not None or not must, f"review refused: {error!r}"
        if result is None:
            return
        self.allowed("review", pre, actor, supervisor_only=True)
        assert model.feedback == "submitted" and model.submitted_by != actor
        assert approve or note.strip()
        model.feedback = "approved" if approve else "returned"
        if approve and pre.kind == "review" and model.recommendation == "refer-to-collection":
            # The loan goes to collection, at the start of the visit's path.
            post = self.moved(case_id, pre, PREPARE if model.confirmed else CONFIRM)
            assert (post.kind, post.feedback_status, post.resolution) == ("collection", None, None)
            model.kind, model.feedback = "collection", None
            assert self.store.reviews(case_id)[-1].status == "referred"
        elif approve and pre.kind == "review":
            post = self.moved(case_id, pre, CLOSED)
            assert (post.resolution, post.closed_at) == ("reviewed", at)
            assert self.store.reviews(case_id)[-1].status == "reviewed"
        else:
            post = self.moved(case_id, pre, FEEDBACK)
            assert post.feedback_status == model.feedback

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        resolution=st.sampled_from([*lifecycle.RESOLUTIONS, "vanished"]),
    )
    def close(self, case_id: int, advance: int, actor: str, resolution: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "close",
            case_id,
            lambda: self.services.close(
                case_id, actor=actor, at=at, resolution=resolution, note="done"
            ),
        )
        approved = pre.stage == FEEDBACK and model.feedback == "approved"
        early = pre.stage in lifecycle.EARLY_RESOLUTIONS.get(resolution, ())
        if early and resolution == "unlocatable" and pre.stage == FEEDBACK:
            early = model.escalated and model.feedback != "submitted"
        # "paid" or "settled" with money still owed is a supervisor's word, not a worker's.
        owed = sum(self.expected_balance(case_id, pre, at)[:4], Decimal(0))
        must = (
            pre.stage != CLOSED
            and resolution in lifecycle.RESOLUTIONS
            and resolution != "reviewed"
            and self.permitted(actor, pre)
            and (approved or early)
            and (
                approved
                or resolution not in lifecycle.SUPERVISOR_RESOLUTIONS
                or actor in SUPERVISORS
            )
            and (pre.kind != "review" or actor in SUPERVISORS)
            and pre.dispute is None
            and (resolution not in ("paid", "settled") or actor in SUPERVISORS or owed == 0)
        )
        assert result is not None or not must, f"close refused: {error!r}"
        if result is None:
            return
        # A review ends by its approved findings; any other ending is a supervisor's.
        self.allowed(
            "close",
            pre,
            actor,
            supervisor_only=(
                pre.kind == "review"
                or (resolution in lifecycle.SUPERVISOR_RESOLUTIONS and not approved)
            ),
        )
        assert resolution in lifecycle.RESOLUTIONS and resolution != "reviewed"
        if resolution in ("paid", "settled") and actor not in SUPERVISORS:
            view = self.services.money_view(case_id, at)
            assert view.balance.total == 0, f"{actor} closed as {resolution}: {view.balance}"
            assert owed == 0 or view.balance.forgiven > 0, (owed, view.balance)
        if not approved:
            assert pre.stage in lifecycle.EARLY_RESOLUTIONS.get(resolution, ()), (
                f"closed as {resolution} from {pre.stage} without approved feedback"
            )
            if resolution == "unlocatable" and pre.stage == FEEDBACK:
                assert model.escalated and model.feedback != "submitted"
        post = self.moved(case_id, pre, CLOSED)
        assert post.resolution == resolution and post.closed_at == at

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        reason=st.sampled_from(["Borrower called back", " "]),
    )
    def reopen(self, case_id: int, advance: int, actor: str, reason: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "reopen",
            case_id,
            lambda: self.services.reopen(case_id, actor=actor, at=at, reason=reason),
        )
        must = (
            actor in SUPERVISORS and pre.stage == CLOSED and reason.strip() and pre.kind != "review"
        )
        assert result is not None or not must, f"reopen refused: {error!r}"
        if result is None:
            return
        self.allowed("reopen", pre, actor, supervisor_only=True)
        assert reason.strip() and pre.kind != "review", "a review reopened, not opened anew"
        post = self.moved(case_id, pre, PREPARE if model.confirmed else CONFIRM)
        assert (post.resolution, post.closed_at, post.feedback_status) == (None, None, None)
        model.failed, model.escalated, model.feedback = 0, False, None

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        trigger=st.sampled_from([*lifecycle.REVIEW_TRIGGERS, "rumour"]),
    )
    def open_review(self, case_id: int, advance: int, actor: str, trigger: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        result, error = self.attempt(
            "open_review",
            case_id,
            lambda: self.services.open_review(
                case_id, actor=actor, at=at, trigger=trigger, installment="250"
            ),
        )
        performing = pre.kind == "review" or pre.resolution in reviews.PERFORMING
        must = (
            actor in SUPERVISORS
            and pre.stage == CLOSED
            and trigger in lifecycle.REVIEW_TRIGGERS
            and performing
        )
        assert result is not None or not must, f"review refused: {error!r}"
        if result is None:
            return
        self.allowed("open_review", pre, actor, supervisor_only=True)
        assert trigger in lifecycle.REVIEW_TRIGGERS and performing, pre.resolution
        post, review = result
        self.moved(case_id, pre, CONFIRM)
        assert (post.kind, post.resolution, post.closed_at, post.feedback_status) == (
            "review",
            None,
            None,
            None,
        )
        assert (review.trigger, review.status) == (trigger, "open")
        model.kind, model.failed, model.escalated, model.feedback = "review", 0, False, None

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        add=st.lists(st.sampled_from([*lifecycle.FLAGS, "vip"]), max_size=2, unique=True),
        remove=st.lists(st.sampled_from(lifecycle.FLAGS), max_size=1),
    )
    def flags(
        self, case_id: int, advance: int, actor: str, add: list[str], remove: list[str]
    ) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        result, error = self.attempt(
            "flag",
            case_id,
            lambda: self.services.set_flags(
                case_id, actor=actor, at=at, add=add, remove=remove, note="letter"
            ),
        )
        must = (
            pre.stage != CLOSED
            and "vip" not in add
            and self.permitted(actor, pre)
            and (actor in SUPERVISORS or not remove)
        )
        assert result is not None or not must, f"flags refused: {error!r}"
        if result is None:
            return
        assert "vip" not in add
        expected = tuple(sorted((set(pre.flags) | set(add)) - set(remove)))
        assert tuple(sorted(result.flags)) == expected
        if expected == tuple(sorted(pre.flags)):
            assert self.case(case_id) == pre, "an unchanged set of flags was written"
            return
        self.allowed("flag", pre, actor, supervisor_only=bool(remove))
        self.moved(case_id, pre, pre.stage)

    # -- the borrower's protections -------------------------------------------------------

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        kind=st.sampled_from([*lifecycle.DISPUTE_KINDS, "grudge"]),
    )
    def open_dispute(self, case_id: int, advance: int, actor: str, kind: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        # After a rejection, another dispute is a supervisor's to open.
        decided = [d for d in self.store.disputes(case_id) if d.status != "open"]
        after_rejection = bool(decided) and decided[-1].status == "rejected"
        result, error = self.attempt(
            "open_dispute",
            case_id,
            lambda: self.services.open_dispute(case_id, actor=actor, at=at, kind=kind),
        )
        must = (
            pre.stage != CLOSED
            and self.permitted(actor, pre)
            and kind in lifecycle.DISPUTE_KINDS
            and pre.dispute is None
            and (actor in SUPERVISORS or not after_rejection)
        )
        assert result is not None or not must, f"dispute refused: {error!r}"
        if result is None:
            return
        self.allowed("open_dispute", pre, actor)
        assert pre.dispute is None, "a second dispute opened beside an open one"
        assert actor in SUPERVISORS or not after_rejection, "a rejected dispute reopened"
        post = self.moved(case_id, pre, pre.stage)
        assert post.dispute == kind

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        uphold=st.booleans(),
        close=st.booleans(),
    )
    def decide_dispute(
        self, case_id: int, advance: int, actor: str, uphold: bool, close: bool
    ) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        # Who opened the dispute, read before the decision closes it.
        opened = [d for d in self.store.disputes(case_id) if d.status == "open"]
        result, error = self.attempt(
            "decide_dispute",
            case_id,
            lambda: self.services.decide_dispute(
                case_id, actor=actor, at=at, uphold=uphold, note="decided", close=close
            ),
        )
        must = (
            pre.stage != CLOSED
            and actor in SUPERVISORS
            and pre.dispute is not None
            and (uphold or not close)
            and opened[-1].opened_by != actor
        )
        assert result is not None or not must, f"decision refused: {error!r}"
        if result is None:
            return
        self.allowed("decide_dispute", pre, actor, supervisor_only=True)
        assert pre.dispute is not None, "a dispute decided that was not open"
        assert opened[-1].opened_by != actor, "a dispute decided by the one who opened it"
        post, decided, correction = result
        assert decided.status == ("upheld" if uphold else "rejected")
        assert (correction is not None) == uphold
        assert post.dispute is None
        if close:
            self.moved(case_id, pre, CLOSED)
            assert post.resolution == "dispute-upheld"
        else:
            self.moved(case_id, pre, pre.stage)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        days=st.integers(-2, 120),
        end=st.booleans(),
    )
    def hardship(self, case_id: int, advance: int, actor: str, days: int, end: bool) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        until = self.today(case_id, at) + dt.timedelta(days=days)
        if end:
            running = [h for h in self.store.hardships(case_id) if h.covers(self.today(case_id))]
            by_supervisor = bool(running) and running[-1].granted_by in SUPERVISORS
            result, error = self.attempt(
                "end_hardship",
                case_id,
                lambda: self.services.end_hardship(case_id, actor=actor, at=at, note="better"),
            )
            must = (
                pre.stage != CLOSED
                and self.permitted(actor, pre)
                and pre.paused(at)
                and (actor in SUPERVISORS or not by_supervisor)
            )
            assert result is not None or not must, f"ending refused: {error!r}"
            if result is None:
                return
            assert pre.paused(at), "a pause ended that was not running"
            post, _ = result
            assert not post.paused(at)
            self.moved(case_id, pre, pre.stage)
            return
        result, error = self.attempt(
            "grant_hardship",
            case_id,
            lambda: self.services.grant_hardship(
                case_id, actor=actor, at=at, until=until, reason="illness"
            ),
        )
        # Field staff grant up to 90 days (the default), counting today.
        must = (
            pre.stage != CLOSED
            and self.permitted(actor, pre)
            and days >= 0
            # Field staff: up to 90 days in all (earlier pauses of the year count).
            and (actor in SUPERVISORS or (days < 90 and not self.store.hardships(case_id)))
            and not pre.paused(at)
        )
        assert result is not None or not must, f"pause refused: {error!r}"
        if result is None:
            return
        self.allowed("grant_hardship", pre, actor, supervisor_only=days >= 90)
        if actor not in SUPERVISORS:
            yesterday = self.today(case_id, at) - dt.timedelta(days=1)
            paused = sum(
                max((min(h.last_day, yesterday) - h.starts).days + 1, 0)
                for h in self.store.hardships(case_id)
            )
            assert paused + days + 1 <= 90, f"{actor} paused the case {paused + days + 1} days"
        assert not pre.paused(at), "a pause granted over a running one"
        post, _ = result
        assert post.paused(at) and post.paused_until == until
        self.moved(case_id, pre, pre.stage)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        about=st.sampled_from([*lifecycle.COMPLAINT_ABOUT, "weather"]),
    )
    def complaint(self, case_id: int, advance: int, actor: str, about: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        result, error = self.attempt(
            "complaint",
            case_id,
            lambda: self.services.record_complaint(case_id, actor=actor, at=at, about=about),
        )
        must = self.permitted(actor, pre) and about in lifecycle.COMPLAINT_ABOUT
        assert result is not None or not must, f"complaint refused: {error!r}"
        if result is None:
            return
        self.allowed("complaint", pre, actor)
        post, _ = result
        if about == "contact-frequency":
            assert post.fewer_contacts_until is not None
            assert post.fewer_contacts_until >= self.today(case_id, at)
        else:
            assert post.fewer_contacts_until == pre.fewer_contacts_until
        self.moved(case_id, pre, pre.stage)

    # -- money ----------------------------------------------------------------------------

    @rule(case_id=cases, advance=ADVANCE, actor=ACTOR)
    def present_offers(self, case_id: int, advance: int, actor: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        standing = active_arrangement(self.services, pre, at)
        result, error = self.attempt(
            "present_offer",
            case_id,
            lambda: self.services.present_offers(case_id, actor=actor, at=at),
        )
        must = pre.stage != CLOSED and self.permitted(actor, pre) and standing is None
        assert result is not None or not must, f"offers refused: {error!r}"
        if result is None:
            return
        self.allowed("present_offer", pre, actor)
        assert standing is None, f"offers presented over arrangement {standing.code}"
        balance, offers = result
        assert balance.total >= 0
        if self.models[case_id].institution == "example-bank":
            threshold = Decimal("500.00")
        else:
            share = balance.total * Decimal("0.10")
            threshold = share.quantize(quantum(balance.currency), rounding=ROUND_HALF_EVEN)
        for offer in offers:
            four_eyes = offer.saving > threshold
            assert offer.status == ("needs-approval" if four_eyes else "presented"), offer
            assert offer.total_payable >= 0
            assert sum(p.amount for p in offer.schedule) == offer.total_payable
        self.moved(case_id, pre, pre.stage)

    def standing_offer(self, case_id: int, code: str) -> Offer | None:
        for offer in reversed(self.store.offers(case_id)):
            if offer.code == code and offer.status != "superseded":
                return offer
        return None

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        code=st.sampled_from([*OFFER_CODES, "lottery"]),
        approve=st.booleans(),
    )
    def review_offer(
        self, case_id: int, advance: int, actor: str, code: str, approve: bool
    ) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        offer = self.standing_offer(case_id, code)
        result, error = self.attempt(
            "review_offer",
            case_id,
            lambda: self.services.review_offer(case_id, code, actor=actor, at=at, approve=approve),
        )
        must = (
            pre.stage != CLOSED
            and actor in SUPERVISORS
            and offer is not None
            and offer.status == "needs-approval"
            and offer.presented_by != actor
        )
        assert result is not None or not must, f"offer review refused: {error!r}"
        if result is None:
            return
        self.allowed("review_offer", pre, actor, supervisor_only=True)
        assert offer is not None and offer.status == "needs-approval"
        assert offer.presented_by != actor
        assert self.standing_offer(case_id, code) == result
        assert result.status == ("approved" if approve else "declined")
        self.moved(case_id, pre, pre.stage)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        code=st.sampled_from([*OFFER_CODES, "lottery"]),
    )
    def accept_offer(self, case_id: int, advance: int, actor: str, code: str) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        offer = self.standing_offer(case_id, code)
        standing = active_arrangement(self.services, pre, at)
        promises_before = len(self.store.promises(case_id, pre.currency))
        result, error = self.attempt(
            "accept_offer",
            case_id,
            lambda: self.services.accept_offer(case_id, code, actor=actor, at=at),
        )
        must = (
            pre.stage != CLOSED
            and self.permitted(actor, pre)
            and offer is not None
            and offer.status in ("presented", "approved")
            and standing is None
            and (offer.expires is None or self.today(case_id, at) <= offer.expires)
        )
        assert result is not None or not must, f"accept refused: {error!r}"
        if result is None:
            return
        self.allowed("accept_offer", pre, actor)
        assert offer is not None and offer.status in ("presented", "approved"), offer
        assert standing is None, "a second arrangement was accepted"
        assert offer.expires is None or self.today(case_id, at) <= offer.expires
        accepted, promises = result
        assert accepted.status == "accepted" and len(promises) == len(offer.schedule)
        assert len(self.store.promises(case_id, pre.currency)) == promises_before + len(promises)
        assert [o.code for o in self.store.offers(case_id) if o.status in ("presented",)] == []
        self.moved(case_id, pre, pre.stage)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        amount=st.sampled_from(["1000", "250.50", "1000", "0", "-5", "12.345"]),
        days=st.sampled_from([-1, 0, 3, 30, 30]),
    )
    def promise(self, case_id: int, advance: int, actor: str, amount: str, days: int) -> None:
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        due = self.today(case_id, at) + dt.timedelta(days=days)
        result, error = self.attempt(
            "promise",
            case_id,
            lambda: self.services.record_promise(
                case_id, actor=actor, at=at, amount=amount, due=due
            ),
        )
        must = (
            pre.stage != CLOSED
            and self.permitted(actor, pre)
            and self.amount_ok(amount, pre.currency)
            and days >= 0
        )
        assert result is not None or not must, f"promise refused: {error!r}"
        if result is None:
            return
        self.allowed("promise", pre, actor)
        assert Decimal(amount) > 0 and days >= 0 and amount != "12.345"
        assert result.amount == Decimal(amount) and result.due == due
        self.moved(case_id, pre, pre.stage)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        mode=st.sampled_from(
            ["balance", "installment", "part", "bad", "again", "conflict", "elsewhere"]
        ),
        cents=st.integers(1, 800_000),
        back=st.sampled_from([0, 0, 0, 30, 600, 1500, 3000]),
    )
    def pay(self, case_id: int, advance: int, actor: str, mode: str, cents: int, back: int) -> None:
        self.tick(advance)
        at = self.clock - dt.timedelta(minutes=back)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        model = self.models[case_id]
        view = self.services.money_view(case_id, at)
        self.next_reference += 1
        reference = f"BANK-{self.next_reference}"
        amount = str(Decimal(cents).scaleb(-exponent(pre.currency)))
        if mode == "balance" and view.balance.total > 0:
            amount = str(view.balance.total)
        elif mode == "installment":
            due = [s.promise.amount for s in view.promises if s.status != "kept"]
            amount = str(due[0]) if due else amount
        elif mode == "bad":
            amount = ["-5", "lots", "USD 100", "0", "12.345"][cents % 5]
        elif mode == "elsewhere":
            # A reference another case used: references are the bank's, per case.
            used = sorted({r for m in self.models.values() if m is not model for r in m.paid})
            reference = used[cents % len(used)] if used else reference
        elif mode in ("again", "conflict") and model.paid:
            reference = sorted(model.paid)[cents % len(model.paid)]
            earlier = model.paid[reference]
            amount = str(earlier if mode == "again" else earlier + 1)
        result, error = self.attempt(
            "record_payment",
            case_id,
            lambda: self.services.record_payment(
                case_id, actor=actor, at=at, amount=amount, reference=reference
            ),
        )
        must = (
            reference not in model.paid
            and self.amount_ok(amount, pre.currency)
            and at >= pre.referred_at
            and self.permitted(actor, pre)
        )
        assert result is not None or not must, f"payment refused: {error!r}"
        if result is None:
            assert (
                mode != "again"
                or reference not in model.paid
                or reference in model.reversed
                or actor not in STAFF
            )
            return
        payment, new, _ = result
        if not new:
            assert model.paid.get(reference) == payment.amount, "a new amount was taken as old"
            assert self.case(case_id) == pre
            return
        assert reference not in model.paid, f"payment {reference} recorded twice"
        self.allowed("record_payment", pre, actor)
        assert at >= pre.referred_at
        model.paid[reference] = payment.amount
        if actor not in SUPERVISORS:
            # Field staff's word alone moves no money: reported, it waits for a supervisor.
            assert payment.status == "reported", payment
            model.reported[reference] = (at, payment.amount)
            self.moved(case_id, pre, pre.stage)
            return
        assert payment.status == "confirmed", payment
        model.payments.append((at, payment.amount))
        self.money_arrived(case_id, pre, at, reference, 1)

    def money_arrived(
        self, case_id: int, pre: Case, at: dt.datetime, reference: str, steps: int
    ) -> None:
        """A payment paid at ``at`` now counts: offers fall, and a cleared case closes."""
        after = self.services.money_view(case_id, at)
        assert after.balance.total >= 0
        open_offers = [
            o.code
            for o in self.store.offers(case_id)
            if o.status in ("presented", "needs-approval", "approved")
        ]
        assert open_offers == [], f"offers {open_offers} still stand after a payment"
        # An open dispute holds the case open whatever is paid; a performing loan's kept
        # concession covered installments, so only the whole loan paid closes it.
        owed = after.balance.total + (
            after.balance.forgiven if self.on_installments(case_id, after.arrangement) else 0
        )
        closes = pre.stage != CLOSED and pre.dispute is None and owed == 0
        post = self.moved(
            case_id, pre, CLOSED if closes else pre.stage, steps + 1 if closes else steps
        )
        if closes:
            settled = after.balance.forgiven > 0
            assert post.resolution == ("settled" if settled else "paid"), post.resolution
            assert post.closed_at == at, (post.closed_at, at)
            self.models[case_id].closed_by = (reference, pre.stage)
        elif pre.stage == CLOSED:
            assert (post.resolution, post.closed_at) == (pre.resolution, pre.closed_at)

    @rule(case_id=cases, advance=ADVANCE, actor=ACTOR, pick=st.integers(0, 50))
    def confirm_payment(self, case_id: int, advance: int, actor: str, pick: int) -> None:
        model = self.models[case_id]
        if not model.paid:
            return
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        reference = sorted(model.paid)[pick % len(model.paid)]
        result, error = self.attempt(
            "confirm_payment",
            case_id,
            lambda: self.services.confirm_payment(case_id, reference, actor=actor, at=at),
        )
        must = actor in SUPERVISORS and reference in model.reported
        assert result is not None or not must, f"confirm refused: {error!r}"
        if result is None:
            return
        self.allowed("confirm_payment", pre, actor, supervisor_only=True)
        assert reference in model.reported, f"{reference} confirmed, but it was not reported"
        paid_at, amount = model.reported.pop(reference)
        payment, _ = result
        assert (payment.status, payment.at, payment.amount) == ("confirmed", paid_at, amount)
        assert (payment.confirmed_by, payment.confirmed_at) == (actor, at)
        model.payments.append((paid_at, amount))
        self.money_arrived(case_id, pre, paid_at, reference, 1)

    @rule(
        case_id=cases,
        advance=ADVANCE,
        actor=ACTOR,
        pick=st.integers(0, 50),
        reason=st.sampled_from(["Returned by the bank", " "]),
    )
    def reverse_payment(
        self, case_id: int, advance: int, actor: str, pick: int, reason: str
    ) -> None:
        model = self.models[case_id]
        if not model.paid:
            return
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        pre = self.case(case_id)
        reference = sorted(model.paid)[pick % len(model.paid)]
        result, error = self.attempt(
            "reverse_payment",
            case_id,
            lambda: self.services.reverse_payment(
                case_id, reference, actor=actor, at=at, reason=reason
            ),
        )
        must = actor in SUPERVISORS and reference not in model.reversed and reason.strip()
        assert result is not None or not must, f"reverse refused: {error!r}"
        if result is None:
            return
        self.allowed("reverse_payment", pre, actor, supervisor_only=True)
        assert reference not in model.reversed and reason.strip(), "reversed twice, or blindly"
        model.reversed.add(reference)
        payment, _ = result
        assert payment.status == "reversed" and payment.reversal_reason == reason
        if reference in model.reported:
            del model.reported[reference]
            self.moved(case_id, pre, pre.stage)
            return
        counted = next(p for p in model.payments if p[1] == payment.amount and p[0] == payment.at)
        model.payments.remove(counted)
        closed_by = model.closed_by
        post = self.case(case_id)
        if closed_by is None or closed_by[0] != reference or pre.kind == "review":
            self.moved(case_id, pre, pre.stage)
            return
        # The case this payment closed reopens where it was, unless the rest clears it.
        assert pre.closed_at is not None
        if post.stage == CLOSED:
            self.moved(case_id, pre, CLOSED)
            kept = self.services.money_view(case_id, pre.closed_at).balance
            assert kept.total == 0 or kept.forgiven > 0, kept
            return
        self.moved(case_id, pre, closed_by[1], 2)
        assert (post.resolution, post.closed_at) == (None, None)
        assert self.services.money_view(case_id, pre.closed_at).balance.total > 0

    # -- steering: the next sensible step, so that cases get far -------------------

    def until(self, case_id: int, day: dt.date, at: dt.time) -> int:
        """Minutes to move on to the next ``at`` borrower time on ``day`` or after."""
        zone = ZoneInfo(self.models[case_id].timezone)
        target = dt.datetime.combine(max(day, self.today(case_id)), at, tzinfo=zone)
        if target <= self.clock:
            target += dt.timedelta(days=1)
        return math.ceil((target - self.clock).total_seconds() / 60)

    def step_forward(self, case_id: int, advance: int, choice: int) -> None:
        """Take the case's next step in its lifecycle, with good arguments."""
        model = self.models[case_id]
        # Now and then a review's findings, with or without its visit.
        if (
            model.kind == "review"
            and model.stage != CLOSED
            and model.feedback in (None, "returned")
            and choice >= 3
        ):
            finding = lifecycle.REVIEW_RECOMMENDATIONS[choice % 6]
            self.feedback(case_id, advance, "owner", finding, "Pays on time")
            return
        if model.stage == CONFIRM:
            self.confirm(case_id, advance, "owner", "12 Main St", "visit", dt.UTC)
        elif model.stage == PREPARE and model.visit_staff is None:
            two = ("sup.b",) if model.institution == "cn-bank" else ()
            self.plan(case_id, advance, "owner", choice % 3, (10, 12), two, dt.UTC)
        elif model.stage == PREPARE:
            self.checklist(case_id, advance, "owner", [], True)
        elif model.stage == INTERVIEW:
            assert model.visit_date is not None
            minutes = self.until(case_id, model.visit_date, dt.time(10, 30))
            met = ("borrower", "relative", "nobody", "nobody")[choice % 4]
            reason = "medical" if met == "borrower" else None
            self.interview(case_id, minutes, "owner", met, reason, None, None, None)
        elif model.stage == FEEDBACK and model.feedback in (None, "returned"):
            if model.escalated and choice == 5:
                self.close(case_id, advance, "owner", "unlocatable")
            else:
                writer = SUPERVISORS[0] if choice >= 3 else "owner"
                finding = "no-action" if model.kind == "review" else "restructure"
                self.feedback(case_id, advance, writer, finding, "Can pay monthly")
        elif model.stage == FEEDBACK and model.feedback == "submitted":
            # Now and then the supervisor who wrote the feedback tries to pass it.
            reviewer = SUPERVISORS[model.submitted_by == SUPERVISORS[0]]
            if choice == 5 and model.submitted_by in SUPERVISORS:
                reviewer = model.submitted_by
            self.review(case_id, advance, reviewer, choice % 3 != 0, "Ask again")
        elif model.stage == FEEDBACK:
            resolution = ("restructured", "uncollectible", "legal-referral")[choice % 3]
            self.close(case_id, advance, "owner", resolution)
        elif choice % 3 == 1:
            self.open_review(case_id, advance, SUPERVISORS[choice % 2], "scheduled")
        else:
            self.reopen(case_id, advance, SUPERVISORS[choice % 2], "Borrower called back")

    def money_forward(self, case_id: int, advance: int, choice: int) -> None:
        """Present offers, have one approved and accepted, pay what it asks."""
        standing = [
            o
            for o in self.store.offers(case_id)
            if o.status in ("presented", "needs-approval", "approved")
        ]
        waiting = [o for o in standing if o.status == "needs-approval"]
        arrangement = active_arrangement(self.services, self.case(case_id), self.clock)
        if choice == 5:
            # Money that cleared the balance a day ago, recorded now.
            self.pay(case_id, advance, "owner", "balance", 10_000, 1500)
        elif self.models[case_id].stage == CLOSED and choice % 2:
            self.step_forward(case_id, advance, choice)
        elif self.models[case_id].stage == CLOSED or (arrangement is not None and choice % 3):
            self.pay(case_id, advance, "owner", "installment", 10_000 + choice, 0)
        elif waiting and choice % 2:
            offer = waiting[choice % len(waiting)]
            reviewer = SUPERVISORS[offer.presented_by == SUPERVISORS[0]]
            self.review_offer(case_id, advance, reviewer, offer.code, choice != 3)
        elif standing and arrangement is None:
            self.accept_offer(case_id, advance, "owner", standing[choice % len(standing)].code)
        elif arrangement is None:
            self.present_offers(case_id, advance, "owner")
        else:
            self.promise(case_id, advance, "owner", "500", 3)

    @rule(case_id=cases, advance=ADVANCE, choices=CHOICES)
    def progress(self, case_id: int, advance: int, choices: list[int]) -> None:
        """A few next steps in a row, so that cases get far in a short run."""
        for choice in choices:
            self.step_forward(case_id, advance, choice)

    # The same rule again, so that hypothesis picks it more often.
    @rule(case_id=cases, advance=ADVANCE, choices=CHOICES)
    def progress_again(self, case_id: int, advance: int, choices: list[int]) -> None:
        for choice in choices:
            self.step_forward(case_id, advance, choice)

    @rule(case_id=cases, advance=ADVANCE, choices=CHOICES)
    def arrange(self, case_id: int, advance: int, choices: list[int]) -> None:
        for choice in choices:
            self.money_forward(case_id, advance, choice)

    # -- corrections ----------------------------------------------------------------------

    @rule(case_id=cases, advance=ADVANCE, actor=ACTOR)
    def void_latest(self, case_id: int, advance: int, actor: str) -> None:
        """Void the case's latest action: the case is as it was before it."""
        done = self.done.get(case_id)
        if not done:
            return
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        latest = done[-1]
        result, error = self.attempt(
            "void_event",
            case_id,
            lambda: self.services.void_event(
                case_id, latest.event, actor=actor, at=at, reason="Recorded by mistake"
            ),
        )
        voidable = len(latest.types) == 1 and latest.types[0] in VOIDABLE
        if actor not in SUPERVISORS:
            assert error is not None, f"{actor} voided event {latest.event}"
            return
        assert (result is not None) == voidable, (latest.types, error)
        if result is None:
            return
        assert self.case_rows(case_id) == latest.rows, f"void of {latest.types} left a trace"
        self.models[case_id] = latest.model
        done.pop()

    @rule(case_id=cases, advance=ADVANCE, pick=st.integers(0, 5))
    def void_an_earlier_contact(self, case_id: int, advance: int, pick: int) -> None:
        """An earlier contact voided: it goes, and nothing else of the case changes."""
        contacts = [d for d in self.done.get(case_id, []) if d.types == ("contact_recorded",)]
        if not contacts:
            return
        mistaken = contacts[pick % len(contacts)]
        logged = self.store.event(mistaken.event)
        assert logged is not None
        (contact_id,) = [e["row"]["id"] for e in logged.payload["rows"] if e["table"] == "contacts"]
        at = self.tick(advance)
        before = self.case_rows(case_id)
        result, error = self.attempt(
            "void_event",
            case_id,
            lambda: self.services.void_event(
                case_id, mistaken.event, actor="sup.b", at=at, reason="Wrong case"
            ),
        )
        assert result is not None, f"an earlier contact could not be voided: {error!r}"
        expected = {**before, "contacts": [c for c in before["contacts"] if c["id"] != contact_id]}
        assert self.case_rows(case_id) == expected
        # Had it never happened, no later state would have held it either.
        done = self.done[case_id]
        done.remove(mistaken)
        for later in done:
            later.rows["contacts"] = [c for c in later.rows["contacts"] if c["id"] != contact_id]

    @rule(case_id=cases, advance=st.integers(1, 3 * 24 * 60), actor=ACTOR)
    def amend_a_note(self, case_id: int, advance: int, actor: str) -> None:
        """A contact's or an interview's note amended: only that field changes."""
        kinds: dict[tuple[str, ...], tuple[str, str]] = {
            ("contact_recorded",): ("contacts", "note"),
            ("interview_recorded",): ("visits", "notes"),
        }
        done = self.done.get(case_id, [])
        found = [(n, d) for n, d in enumerate(done) if d.types in kinds]
        if not found:
            return
        index, target = found[-1]
        table, column = kinds[target.types]
        logged = self.store.event(target.event)
        assert logged is not None
        (row_id,) = [e["row"]["id"] for e in logged.payload["rows"] if e["table"] == table]
        at = self.tick(advance)
        actor = self.who(actor, case_id)
        before = self.case_rows(case_id)
        text = f"amended at {at:%H:%M}"
        result, error = self.attempt(
            "amend_event",
            case_id,
            lambda: self.services.amend_event(
                case_id, target.event, actor=actor, at=at, values={"note": text}, reason="typo"
            ),
        )
        written = logged.recorded_at or logged.at
        # An interview's findings under a supervisor's review, or ever reported on, are
        # a supervisor's to amend.
        case = self.store.get_case(case_id)
        reviewed = table == "visits" and (
            case.feedback_status in ("submitted", "approved")
            or case.stage == CLOSED
            or any(
                f.visit_id == row_id or (f.visit_id is None and f.submitted_at >= logged.at)
                for f in self.store.feedback(case_id)
            )
        )
        may = actor in SUPERVISORS or (
            actor == logged.actor and at - written <= dt.timedelta(hours=24) and not reviewed
        )
        assert (result is not None) == may, (actor, logged.actor, at - written, error)
        if result is None:
            return
        expected = copy.deepcopy(before)
        for row in expected[table]:
            if row["id"] == row_id:
                row[column] = text
        assert self.case_rows(case_id) == expected
        for later in done[index + 1 :]:
            for row in later.rows[table]:
                if row["id"] == row_id:
                    row[column] = text

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def tables_equal_the_replay(self) -> None:
        assert self.store.compare_replay() == []

    @invariant()
    def chains_verify(self) -> None:
        checked, problem = self.store.verify_chains()
        assert problem is None, problem
        assert checked == self.last_event()

    @invariant()
    def model_agrees(self) -> None:
        for case_id, model in self.models.items():
            case = self.case(case_id)
            event(f"stage reached: {case.stage}")
            assert case.stage == model.stage, (case_id, case.stage, model.stage)
            assert case.assigned_to == model.assigned
            assert (case.failed_visits, case.escalated) == (model.failed, model.escalated)
            assert case.feedback_status == model.feedback
            assert (
                (case.stage == CLOSED)
                == (case.resolution is not None)
                == (case.closed_at is not None)
            )

    @invariant()
    def stages_follow_the_lifecycle(self) -> None:
        """Replaying each case's events: every stage change is an allowed transition."""
        for case_id in self.models:
            stage: Stage | None = None
            version, kind = 0, "collection"
            #: Each event's stage before it: a void may take the case back there.
            before: dict[int, Stage | None] = {}
            for logged in self.store.iter_events(case_id):
                assert logged.id is not None
                before[logged.id] = stage
                rows = [r["row"] for r in logged.payload["rows"] if r["table"] == "cases"]
                if logged.type == "refused":
                    assert rows == [] and stage is not None
                    continue
                assert len(rows) == 1 and rows[0]["id"] == case_id, logged
                version += 1
                assert rows[0]["version"] == version, (logged.type, rows[0]["version"], version)
                new = Stage(rows[0]["stage"])
                if stage is None:
                    assert (logged.type, new) == ("case_created", CONFIRM)
                else:
                    action = EVENT_ACTION[logged.type]
                    assert lifecycle.stage_allows(action, stage, kind), (logged.type, stage)
                    moves = STAGE_MOVES.get(logged.type, {(stage, stage)})
                    if logged.type == "event_voided":
                        earlier = before[logged.payload["data"]["event"]]
                        moves = {(stage, stage), (stage, earlier)} if earlier else moves
                    if kind == "review":
                        moves = REVIEW_MOVES.get(logged.type, moves)
                    assert (stage, new) in moves, f"{logged.type} moved {stage} -> {new}"
                stage, kind = new, rows[0].get("kind") or kind
            assert stage == self.models[case_id].stage

    def expected_balance(
        self, case_id: int, case: Case, at: dt.datetime
    ) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """(principal, interest, penalty, fees, paid) worked out here, from the model.

        Penalty interest accrues on the overdue amount to the borrower's today (to
        the closing day for a closed case), at most 24% a year under the cn pack;
        payments settle fees, then penalty, then interest, then principal.
        """
        model = self.models[case_id]
        end = at if case.closed_at is None or at <= case.closed_at else case.closed_at
        last = end.astimezone(ZoneInfo(model.timezone)).date()
        rate = case.penalty_rate
        if model.institution == "cn-bank":
            rate = min(rate, Decimal("0.24"))
        # Day by day: none from a dispute's date while it is open or once upheld; a
        # pause's share of the rate on the days it covered; the whole rate otherwise.
        disputes = [d for d in self.store.disputes(case_id) if d.status in ("open", "upheld")]
        pauses = self.store.hardships(case_id)
        # None either while the loan was under review: from a review's opening up to
        # the loan's next referral to collection, by that review or a later one.
        # A review of a closed case relieves it from the day it closed: worked out here
        # from the case's row just before each review was opened.
        reviews = self.store.reviews(case_id)
        closed_days: list[dt.date | None] = []
        closed_at: str | None = None
        for logged in self.store.iter_events(case_id):
            if logged.type == "review_opened":
                when = from_iso(closed_at)
                closed_days.append(
                    when.astimezone(ZoneInfo(model.timezone)).date() if when else None
                )
            for entry in logged.payload["rows"]:
                if entry["table"] == "cases":
                    closed_at = entry["row"]["closed_at"]
        reviewed: list[tuple[dt.date, dt.date | None]] = []
        for n, review in enumerate(reviews):
            referred = [r.finished_on for r in reviews[n:] if r.status == "referred"]
            closed = closed_days[n] if n < len(closed_days) else None
            start: dt.date = closed or review.opened_on
            reviewed.append((start, referred[0] if referred else None))
        days = Decimal(0)
        day = case.overdue_since
        while day < last:
            under_review = any(o <= day and (e is None or day < e) for o, e in reviewed)
            if not any(d.since <= day for d in disputes) and not under_review:
                shares = [h.penalty_share for h in pauses if h.starts <= day <= h.last_day]
                days += min(shares, default=Decimal(1))
            day += dt.timedelta(days=1)
        with localcontext() as ctx:
            ctx.prec = 50
            accrued = case.overdue_amount * rate * days / 365
        penalty = accrued.quantize(quantum(model.currency), rounding=ROUND_HALF_EVEN)
        paid = sum((a for when, a in model.payments if when <= at), Decimal(0))
        paid = paid.quantize(quantum(model.currency))
        left = paid
        owed = []
        reversed_fees = any(d.fees_reversed for d in self.store.disputes(case_id))
        fees = Decimal(0).quantize(quantum(model.currency)) if reversed_fees else case.fees
        for part in (fees, penalty, case.accrued_interest, case.principal):
            settled = min(part, left)
            owed.append(part - settled)
            left -= settled
        fees, penalty, interest, principal = owed
        return principal, interest, penalty, fees, paid

    @invariant()
    def derived_columns_agree(self) -> None:
        """The columns the worklist reads (planned visit day, promises met) match the facts."""
        for case_id, model in self.models.items():
            visit_date, unmet_due = self.store.db.execute(
                "SELECT visit_date, unmet_due FROM cases WHERE id = ?", [case_id]
            ).fetchone()
            planned = model.visit_date if model.visit_staff is not None else None
            assert visit_date == (planned.isoformat() if planned else None), (case_id, visit_date)
            promises = self.store.promises(case_id, model.currency)
            payments = self.store.payments(case_id, model.currency)
            met = dict(
                self.store.db.execute(
                    "SELECT id, met_at FROM promises WHERE case_id = ?", [case_id]
                )
            )
            for status in statuses_by_arrangement(promises, payments, model.timezone, self.clock):
                met_at = from_iso(met[status.promise.id])
                kept = met_at is not None and met_at <= self.clock
                assert kept == (status.status == "kept"), (status, met_at)
            ever = statuses_by_arrangement(promises, payments, model.timezone, FAR_FUTURE)
            unmet = [s.promise.due for s in ever if s.status != "kept"]
            assert unmet_due == (min(unmet).isoformat() if unmet else None), (case_id, unmet_due)

    @invariant()
    def paid_cases_owe_nothing(self) -> None:
        """A case a payment closed (as paid or settled) owes nothing while it stays closed."""
        for case_id, model in self.models.items():
            if model.stage != CLOSED:
                continue
            # Closed by 'close', or by an upheld dispute (which no payment closes).
            closing = [
                e
                for e in self.store.iter_events(case_id)
                if e.type in ("case_closed", "dispute_decided")
            ][-1]
            if closing.type == "case_closed" and "by_payment" in closing.payload["data"]:
                view = self.services.money_view(case_id, self.clock)
                assert view.balance.total == 0, (case_id, closing.payload["data"], view.balance)

    def on_installments(self, case_id: int, offer: Offer | None) -> bool:
        """Whether ``offer`` was worked out while a review was open: on installments due."""
        when = None if offer is None else offer.presented_at
        return when is not None and any(
            r.opened_at <= when and (r.finished_at is None or when < r.finished_at)
            for r in self.store.reviews(case_id)
        )

    @invariant()
    def balances_never_negative(self) -> None:
        for case_id in self.models:
            view = self.services.money_view(case_id, self.clock)
            b = view.balance
            parts = (b.principal, b.interest, b.penalty, b.fees)
            for value in (*parts, b.paid, b.total, b.overpaid, b.forgiven):
                assert value >= 0, (case_id, b)
            owed = self.expected_balance(case_id, view.case, self.clock)
            if b.forgiven == 0:
                assert b.total == sum(parts), b
                assert (*parts, b.paid) == owed, (case_id, b, owed)
            elif self.on_installments(case_id, view.arrangement):
                # A kept concession on installments due lets off only what it saved, even
                # once the loan went on to collection.
                assert b.total == sum(owed[:4]) - b.forgiven, (case_id, b, owed)
                assert view.arrangement is not None and b.forgiven <= view.arrangement.saving
            else:
                assert b.total == 0 and b.forgiven == sum(owed[:4]), (case_id, b, owed)
            assert view.arrangement_remaining is None or view.arrangement_remaining >= 0
            assert all(s.covered >= 0 for s in view.promises)


TestCaseLifecycle = CaseMachine.TestCase
TestCaseLifecycle.settings = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# -- what the machine found ---------------------------------------------------------


def test_a_late_recorded_payment_that_clears_the_balance_leaves_nothing_owed(
    services: Services,
) -> None:
    """Money that cleared the balance on Monday, recorded after Wednesday's contact.

    The case closes as paid; penalty interest stops when the money arrived, so
    nothing is owed afterwards (it used to stop at the Wednesday contact instead,
    leaving the 'paid' case owing two more days of penalty).
    """
    monday = START
    services.add_staff("sup.a", "Supervisor A", "supervisor", actor=None, at=monday)
    services.add_institution(
        "hx-consumer",
        name="HX",
        jurisdiction="CN",
        timezone="Asia/Shanghai",
        currency="CNY",
        actor="sup.a",
        at=monday,
    )
    case = services.create_case(
        actor="sup.a",
        at=monday,
        institution="hx-consumer",
        reference="L-1",
        borrower_name="王芳",
        timezone="Asia/Shanghai",
        currency="CNY",
        principal="20000",
        overdue_amount="3150.40",
        overdue_since=dt.date(2026, 9, 1),
        penalty_rate="18%",
    )
    assert case.id is not None
    wednesday = monday + dt.timedelta(days=2)
    services.record_contact(
        case.id, actor="sup.a", at=wednesday, channel="phone", target="borrower", outcome="reached"
    )
    paid_at = monday + dt.timedelta(hours=1)
    owed = services.money_view(case.id, paid_at).balance.total
    _, new, closed = services.record_payment(
        case.id, actor="sup.a", at=paid_at, amount=str(owed), reference="BOC-1"
    )
    assert new and (closed.stage, closed.resolution) == (Stage.CLOSED, "paid")
    later = services.money_view(case.id, wednesday + dt.timedelta(days=30)).balance
    assert (later.total, later.penalty) == (0, 0), later
    assert services.store.compare_replay() == []
