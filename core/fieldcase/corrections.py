"""Corrections: a mistaken event voided, or some of its fields amended, by events of their own.

An event is never edited. **Voiding** one writes back, for every row it wrote,
the row as it would be had the event not happened: rows it created leave the
tables (their ids stay taken), fields it changed get their earlier values back,
and the case's last change is the last event still standing, so that a
future-dated event voided no longer holds the case. Nothing is guessed at: a
step of the visit's path with later steps after it (feedback on the interview,
a plan on the address, money on an arrangement), or a field a later event
changed again, refuses the void, naming those events, to be put right first
(newest first). Records beside the path (contacts, details, complaints,
inquiries, evidence, loose promises) are voided beneath later actions.

**Amending** rewrites some fields of the contact or interview an event
recorded: its author (still on the case) may within the policy's
``amend_window_hours``, counted to the real clock; a supervisor at any time,
and alone for a contact's outcome (the rules read it) and for findings that
feedback was ever submitted on.

Either way the correction is a new event on the case's chain that names the
event it corrects and carries the rows it writes (so a replay of the log
agrees), with an :class:`~fieldcase.model.EventCorrection` record saying what
changed. Money has its own path: a payment is reversed (``payment reverse``),
not voided.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from . import lifecycle
from .errors import InvalidInput, InvalidTransition
from .interview import check_reason, multi_lender_of
from .lifecycle import Stage
from .model import Case, ContactAttempt, Event, EventCorrection, Staff, Visit
from .money import parse_money
from .policy import default
from .rows import Removal, TableRow, case_to_row, to_iso
from .store import Change
from .suggest import choice
from .text import clean

if TYPE_CHECKING:
    from .services import Services

#: The events a supervisor may void, and what each recorded.
VOIDABLE: dict[str, str] = {
    "contact_recorded": "a contact",
    "details_recorded": "contact details",
    "address_confirmed": "the address confirmed",
    "visit_planned": "a visit plan",
    "checklist_ticked": "checklist items ticked",
    "interview_recorded": "an interview",
    "visit_failed": "a failed visit",
    "feedback_submitted": "the feedback",
    "promise_made": "a promise",
    "offers_presented": "offers presented",
    "offer_accepted": "an accepted offer",
    "inquiry_recorded": "a credit-bureau inquiry",
    "checked_in": "a check-in",
    "evidence_added": "evidence",
    "complaint_recorded": "a complaint",
    "attachment_added": "an attachment",
}

#: What to do instead, for events that are put right another way.
INSTEAD: dict[str, str] = {
    "payment_recorded": "reverse the payment instead: fieldcase payment reverse CASE "
    "REFERENCE --reason ...",
    "case_closed": "reopen the case instead (fieldcase reopen CASE --reason ...)",
    "case_reopened": "close the case again (fieldcase close)",
    "case_created": "close the case as withdrawn (fieldcase close CASE --resolution withdrawn)",
    "case_imported": "close the case as withdrawn (fieldcase close CASE --resolution withdrawn)",
    "case_updated": "import the corrected row again",
    "case_assigned": "assign the case again (fieldcase assign)",
    "flags_changed": "change the flags again (fieldcase flags)",
    "feedback_approved": "reopen the case (fieldcase reopen), or submit new findings",
    "feedback_returned": "have the feedback submitted again (fieldcase feedback)",
    "hardship_granted": "end the pause (fieldcase hardship end)",
    "dispute_decided": "open a new dispute if the decision was wrong (fieldcase dispute open)",
    "event_voided": "record the voided action again",
    "event_amended": "amend the event again",
    "refused": "nothing: a refusal wrote nothing but itself",
    "message_recorded": "a letter or message that went out is not taken back; record what "
    "followed (fieldcase contact ... --note)",
    "message_sent": "a letter or message that went out is not taken back",
    "message_failed": "send the message again (fieldcase message)",
}

#: Voidable records beside the visit's path: voiding one moves no stage, so later
#: actions do not rest on it (what a later one changed of its rows still blocks).
SIDE = frozenset(
    {
        "contact_recorded",
        "details_recorded",
        "complaint_recorded",
        "inquiry_recorded",
        "checked_in",
        "evidence_added",
        "promise_made",
        "attachment_added",
    }
)
#: What may follow an event on the path without resting on it (a letter or message
#: sent is a contact, and rests on nothing but the case).
INDEPENDENT = SIDE | {
    "case_assigned",
    "flags_changed",
    "refused",
    "event_amended",
    "message_recorded",
    "message_sent",
    "message_failed",
}

CORRECTION_EVENTS = ("event_voided", "event_amended")
#: Case columns that every event moves on, worked out rather than restored.
BOOKKEEPING = ("version", "updated_at", "arrears_key")


def _find_event(services: Services, case: Case, event_id: int) -> Event:
    event = services.store.event(event_id)
    if event is None or event.case_id != case.id:
        raise InvalidInput(
            f"event {event_id} is not one of case {case.id}'s; its events are listed by "
            f"'fieldcase history {case.id}'"
        )
    return event


def _not_purged(case: Case) -> None:
    if case.purged_at is not None:
        raise InvalidInput(
            f"case {case.id}'s personal data were purged at the end of its retention: "
            "its records are no longer corrected"
        )


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("--reason is required: say what was wrong")
    return reason


def _voided(services: Services, case_id: int) -> set[int]:
    return {c.event_id for c in services.store.corrections(case_id) if c.kind == "void"}


def _carried(event: Event) -> dict[tuple[str, int], dict[str, Any] | None]:
    """The rows an event wrote, by (table, id): None for a row it removed."""
    rows: dict[tuple[str, int], dict[str, Any] | None] = {}
    for entry in event.payload.get("rows") or []:
        row = entry["row"]
        rows[(entry["table"], row["id"])] = None if entry.get("delete") else row
    return rows


@attrs.frozen
class VoidPlan:
    """What voiding an event writes back, or why it cannot yet."""

    restored: list[TableRow]
    removed: list[Removal]
    #: Later events that rest on the voided one (a later step of the visit's path) or
    #: changed again what it wrote, newest first: "318 checklist_ticked".
    blocking: list[str]
    #: The case's last change once the event is voided (None: keep the stored one).
    last_change: dt.datetime | None


def plan_void(
    events: Sequence[Event],
    target: Event,
    voided: set[int],
    stored: Callable[[str, int], Mapping[str, Any] | None],
) -> VoidPlan:
    """Work out the rows as they would be had ``target`` not happened.

    ``events`` are the case's, oldest first; ``voided`` the ids already voided;
    ``stored(table, id)`` a row as it is now. A step of the visit's path (not in
    :data:`SIDE`) is voided only with nothing but independent records after it.
    Then, per field: one ``target`` did not change stays; one it changed and
    nothing changed since gets its earlier value back; one changed again since
    blocks the void (the later event is named).
    """
    # An amendment goes with the event it amended (what it changed was that event's
    # record), and a void with the event it voided (it put back what that one wrote).
    amendments = [e for e in events if e.type == "event_amended" and _names(e, target)]
    gone = (
        voided
        | {target.id}
        | {e.id for e in events if e.type == "event_voided"}
        | {e.id for e in events if e.type == "event_amended" and _target(e) in voided}
    )
    live = [e for e in events if e.id not in gone and e not in amendments]
    earlier = [e for e in live if _id(e) < _id(target)]
    later = [e for e in live if _id(e) > _id(target)]
    restored: list[TableRow] = []
    removed: list[Removal] = []
    blocking: dict[int, str] = {}
    if target.type not in SIDE:
        # A step of the path: whatever came after it on the path rests on it (feedback
        # on the interview, a plan on the address, money on the arrangement).
        blocking.update((_id(e), f"{e.id} {e.type}") for e in later if e.type not in INDEPENDENT)
    wrote = _carried(target)
    for amendment in amendments:
        # Its own record (the correction) stays: it is the amendment's, not the event's.
        wrote.update(
            (k, v)
            for k, v in _carried(amendment).items()
            if k[0] not in ("cases", "event_corrections")
        )
    for key, after in wrote.items():
        table, row_id = key
        if after is None:
            continue
        before: dict[str, Any] | None = None
        for event in earlier:
            carried = _carried(event)
            if key in carried:
                before = carried[key]
        now = stored(table, row_id)
        touching = [e for e in later if key in _carried(e)]
        # An amendment of a later event is undone with that event: name the event.
        blockers = [e for e in touching if e.type != "event_amended"]
        if before is None:
            # Created by the mistaken event: it goes, unless a later one built on it.
            if touching:
                blocking.update((_id(e), f"{e.id} {e.type}") for e in blockers or touching)
            elif now is not None:
                assert target.case_id is not None
                removed.append(Removal(table, row_id, target.case_id))
            continue
        assert now is not None, f"{table} row {row_id} is gone though a live event wrote it"
        row = {name: now[name] for name in after if name in now}
        for name, value in after.items():
            if name in BOOKKEEPING and table == "cases":
                continue
            if before.get(name) == value or now.get(name) == before.get(name):
                continue  # unchanged by the event, or already back as it was
            if now.get(name) == value:
                row[name] = before.get(name)
                continue
            for event in touching:
                changed = _carried(event)[key]
                if changed is None or changed.get(name) == value:
                    continue
                if event.type == "event_amended":  # voided, the event takes it along
                    blocking[int(_target(event))] = f"{_target(event)} (amended by {event.id})"
                else:
                    blocking[_id(event)] = f"{event.id} {event.type}"
                break
        restored.append(TableRow(table, row))
    last = [e.at for e in live if e.type not in CORRECTION_EVENTS and _writes_case(e)]
    return VoidPlan(
        restored,
        removed,
        [blocking[k] for k in sorted(blocking, reverse=True)],
        max(last) if last else None,
    )


def _id(event: Event) -> int:
    assert event.id is not None  # a stored event
    return event.id


def _target(event: Event) -> Any:
    return (event.payload.get("data") or {}).get("event")


def _names(event: Event, target: Event) -> bool:
    return bool(_target(event) == target.id)


def _writes_case(event: Event) -> bool:
    return any(entry["table"] == "cases" for entry in event.payload.get("rows") or [])


def _case_row(case: Case, restored: list[TableRow], last_change: dt.datetime | None) -> TableRow:
    """The case's row to write: restored fields, one version on, its last change."""
    row = case_to_row(case)
    for entry in restored:
        if entry.table == "cases":
            row.update({k: v for k, v in entry.row.items() if k not in BOOKKEEPING})
    row["version"] = case.version + 1
    if last_change is not None:
        row["updated_at"] = to_iso(last_change)
    return TableRow("cases", row)


def void_event(
    services: Services,
    ref: str | int,
    event_id: int,
    *,
    actor: str,
    at: dt.datetime,
    reason: str,
) -> tuple[Case, EventCorrection]:
    """Void event ``event_id`` of a case (supervisors): as if it had not happened."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    reason = _reason(reason)
    _not_purged(case)
    target = _find_event(services, case, event_id)
    attempted = {"event": event_id, "event_type": target.type, "reason": reason}
    services.guard(
        case, staff, "void_event", at, attempted=attempted, supervisor_only="void an event"
    )

    def refuse(message: str, rule: str) -> NoReturn:
        error = InvalidTransition(message, rule)
        services.refuse(case, staff.id, at, "void_event", error, attempted)

    voided = _voided(services, case.id)
    if target.id in voided:
        refuse(f"event {event_id} ({target.type}) is already voided", "correction.once")
    if target.type not in VOIDABLE:
        instead = INSTEAD.get(target.type, "record what should have happened as a new action")
        refuse(f"event {event_id} ({target.type}) cannot be voided: {instead}", "correction.kind")
    plan = plan_void(list(services.store.iter_events(case.id)), target, voided, services.store.row)
    if plan.blocking:
        refuse(
            f"later events rest on event {event_id} ({target.type}): "
            f"{', '.join(plan.blocking)}; put those right first, newest first (void, reverse "
            "the payment, reopen), or record the correction as a new action",
            "correction.order",
        )
    removed: dict[str, list[int]] = {}
    for removal in plan.removed:
        removed.setdefault(removal.table, []).append(removal.id)
    restored: dict[str, list[int]] = {}
    for entry in plan.restored:
        if entry.table != "cases":
            restored.setdefault(entry.table, []).append(entry.row["id"])
    correction = _correction(case, target, "void", reason, staff, at)
    correction = attrs.evolve(correction, changes={"removed": removed, "restored": restored})
    others = [r for r in plan.restored if r.table != "cases"]
    records = [_case_row(case, plan.restored, plan.last_change), *others, *plan.removed]
    return _commit(services, case, staff, at, "event_voided", records, correction, attempted)


def _correction(
    case: Case, target: Event, kind: str, reason: str, staff: Staff, at: dt.datetime
) -> EventCorrection:
    assert case.id is not None
    return EventCorrection(
        case_id=case.id,
        event_id=_id(target),
        event_type=target.type,
        kind=kind,
        reason=reason,
        made_by=staff.id,
        made_at=at,
    )


def _commit(
    services: Services,
    case: Case,
    staff: Staff,
    at: dt.datetime,
    event_type: str,
    records: list[Any],
    correction: EventCorrection,
    data: dict[str, Any],
) -> tuple[Case, EventCorrection]:
    assert case.id is not None
    change = Change(
        event_type,
        staff.id,
        at,
        (*records, correction),
        data,
        case.id,
        case.version,
        services.recorded_at(),
        services.policy_version(case),
    )
    ((event, saved),) = services.store.commit_many([change])
    final = services.store.get_case(case.id)
    services.notify(final, event)
    made = saved[-1]
    assert isinstance(made, EventCorrection)
    return final, made


# -- amendments ----------------------------------------------------------------------


def _text(value: str) -> str:
    return value.strip()


def _optional_text(value: str) -> str | None:
    return value.strip() or None


@attrs.frozen
class Amendable:
    """What an event recorded that may be amended: its table and each field's parser.

    A parser takes the text given and the services and case (for reason codes,
    money) and returns ``{attribute: value}`` to set on the record.
    """

    table: str
    fields: dict[str, Callable[[str, Services, Case], dict[str, Any]]]
    #: Fields the rules read (a contact's outcome: a conversation holds the next call):
    #: only a supervisor amends those, lest an amendment loosen what the rules allow.
    judged: frozenset[str] = frozenset()


def _choice(attribute: str, options: Sequence[str]) -> Callable[[str, Services, Case], Any]:
    def parse(value: str, services: Services, case: Case) -> dict[str, Any]:
        return {attribute: choice(value.strip().lower(), options, attribute)}

    return parse


def _reason_code(value: str, services: Services, case: Case) -> dict[str, Any]:
    return {"reason_code": check_reason(services, value.strip().lower())}


def _money(attribute: str, label: str) -> Callable[[str, Services, Case], dict[str, Any]]:
    def parse(value: str, services: Services, case: Case) -> dict[str, Any]:
        amount: Decimal = parse_money(value, case.currency, field=label, owner=f"case {case.id}")
        return {attribute: amount}

    return parse


def _lenders(value: str, services: Services, case: Case) -> dict[str, Any]:
    try:
        count = int(value.strip())
    except ValueError:
        raise InvalidInput(f"lenders: {value!r} is not a whole number") from None
    return {"lenders": count, "multi_lender": multi_lender_of(count, None)}


def _plain(attribute: str, field: str, empty_is_none: bool = False) -> Any:
    """Text checked as the recording command checks its option ``field``."""

    def parse(value: str, services: Services, case: Case) -> dict[str, Any]:
        value = clean(value, field)
        return {attribute: _optional_text(value) if empty_is_none else _text(value)}

    return parse


#: The fields each kind of event may have amended, named as the recording command's
#: options. Who was contacted, how and when were judged by the rules: those are voided
#: and recorded again, never amended.
AMENDABLE: dict[str, Amendable] = {
    "contact_recorded": Amendable(
        "contacts",
        {"outcome": _choice("outcome", lifecycle.OUTCOMES), "note": _plain("note", "note")},
        judged=frozenset({"outcome"}),
    ),
    "interview_recorded": Amendable(
        "visits",
        {
            "reason": _reason_code,
            "employment": _choice("employment", lifecycle.EMPLOYMENT),
            "income": _money("monthly_income", "income"),
            "other-debts": _money("other_debts", "other debts"),
            "monthly-repayments": _money("monthly_repayments", "monthly repayments"),
            "lenders": _lenders,
            "industry": _plain("industry", "industry", True),
            "employer": _plain("employer", "employer", True),
            "suppliers": _plain("suppliers", "suppliers", True),
            "buyers": _plain("buyers", "buyers", True),
            "attitude": _choice("attitude", lifecycle.ATTITUDES),
            "note": _plain("notes", "note"),
        },
    ),
    "visit_failed": Amendable("visits", {"note": _plain("notes", "note")}),
}


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """``FIELD=VALUE`` texts as a mapping; a field given twice is a mistake."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lower().replace("_", "-")
        if not sep or not name:
            raise InvalidInput(f"--set {pair!r}: write FIELD=VALUE, e.g. --set note='Met at 10'")
        if name in values:
            raise InvalidInput(f"--set {name} is given twice; give each field once")
        values[name] = value
    return values


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def amend_event(
    services: Services,
    ref: str | int,
    event_id: int,
    *,
    actor: str,
    at: dt.datetime,
    values: Mapping[str, str],
    reason: str,
) -> tuple[Case, EventCorrection]:
    """Amend fields of the contact or interview event ``event_id`` recorded.

    The author may within ``amend_window_hours`` of recording it; a supervisor
    at any time.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    reason = _reason(reason)
    _not_purged(case)
    target = _find_event(services, case, event_id)
    amendable = AMENDABLE.get(target.type)
    if amendable is None:
        kinds = ", ".join(AMENDABLE)
        raise InvalidInput(
            f"event {event_id} is {target.type}: only {kinds} events are amended; "
            "a supervisor voids any other mistaken event (fieldcase void) and it is "
            "recorded again"
        )
    if not values:
        raise InvalidInput(
            f"say what to change: --set FIELD=VALUE; fields: {', '.join(amendable.fields)}"
        )
    unknown = sorted(set(values) - set(amendable.fields))
    if unknown:
        raise InvalidInput(
            f"--set {unknown[0]}: the fields of a {target.type} event that may be amended are "
            f"{', '.join(amendable.fields)}; anything else is voided and recorded again"
        )
    changes: dict[str, Any] = {}
    for name, text in values.items():
        changes.update(amendable.fields[name](text, services, case))
    attempted = {"event": event_id, "event_type": target.type, "reason": reason}
    hours = int(services.settings(case).get("amend_window_hours", default("amend_window_hours")))
    # From when it was written to the real time now: a backdated --at stretches nothing.
    # Without a real clock the claimed times stand, on both sides (a PostgreSQL server
    # stamps recorded_at with its own clock whatever the services were given).
    now = services.recorded_at()
    written = target.at if now is None else target.recorded_at or target.at
    late = max(at, now or at) - written > dt.timedelta(hours=hours)
    supervisor_only: str | bool = False
    judged = sorted(set(values) & amendable.judged)
    if judged:
        what = "a contact's" if amendable.table == "contacts" else "an interview's"
        supervisor_only = f"amend {what} {judged[0]}: the rules read it"
    elif amendable.table == "visits" and (
        case.feedback_status in ("submitted", "approved")
        or case.stage == Stage.CLOSED
        or _reported_on(services, case, target)
    ):
        # The findings a supervisor is reviewing, or approved: theirs to change now.
        supervisor_only = "amend an interview's findings once its feedback is submitted"
    elif target.actor != staff.id:
        supervisor_only = "amend another staff member's record"
    elif late:
        supervisor_only = f"amend a record more than {hours} hours after it was written"
    services.guard(
        case,
        staff,
        "amend_event",
        at,
        attempted=attempted,
        supervisor_only=supervisor_only,
    )
    if target.id in _voided(services, case.id):
        error = InvalidTransition(
            f"event {event_id} ({target.type}) is voided: record it again instead",
            "correction.voided",
        )
        services.refuse(case, staff.id, at, "amend_event", error, attempted)
    record = _amended_record(services, case, target, amendable.table)
    before = {k: _json_value(getattr(record, k)) for k in changes}
    after = {k: _json_value(v) for k, v in changes.items()}
    if before == after:
        raise InvalidInput(f"event {event_id} already says that; nothing to amend")
    amended = attrs.evolve(record, **changes)
    correction = attrs.evolve(
        _correction(case, target, "amend", reason, staff, at),
        changes={k: [before[k], after[k]] for k in changes if before[k] != after[k]},
    )
    bumped = attrs.evolve(case, version=case.version + 1)
    data = {**attempted, "fields": sorted(correction.changes)}
    return _commit(services, case, staff, at, "event_amended", [bumped, amended], correction, data)


def _reported_on(services: Services, case: Case, target: Event) -> bool:
    """Whether feedback was ever submitted on the visit ``target`` recorded: what it
    found then stood under a supervisor's review, whatever the case is now."""
    assert case.id is not None
    visits = {key[1] for key in _carried(target) if key[0] == "visits"}
    return any(
        f.visit_id in visits or (f.visit_id is None and f.submitted_at >= target.at)
        for f in services.store.feedback(case.id)
    )


def _amended_record(
    services: Services, case: Case, target: Event, table: str
) -> ContactAttempt | Visit:
    assert case.id is not None
    ids = [key[1] for key in _carried(target) if key[0] == table]
    records: Sequence[ContactAttempt | Visit]
    if table == "contacts":
        records = services.store.contacts(case.id)
    else:
        records = services.store.visits(case.id, case.currency)
    for record in records:
        if record.id in ids:
            return record
    raise InvalidInput(f"event {target.id}'s {table} record is no longer there to amend")
