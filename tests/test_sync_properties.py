"""Field work on a pack and the office's own, interleaved: after a sync nothing is lost.

Hypothesis draws a story: li.na works her pack of three cases offline (contacts
of every outcome, confirm, plan with zhang.min, checklist, interview, offers,
promises, payments, feedback; some refused there by the stage rules) while the
office goes on (li.na's contacts and confirmations there, chen.wei reassigning,
recording payments, closing and reopening, zhang.min deactivated, the policy
tightened), all at strictly increasing times; then the pack is synced, maybe
twice, maybe worked on further and synced again. After each sync:

- every action the pack wrote down has exactly one ``synced_actions`` row;
  applied: the office took it in once, as li.na's, at the time she gave;
  refused (on the pack): the office records the refusal; held: an open
  conflict of its case holds it exactly as the pack wrote it;
- the pack's actions on a case are taken in in order: once one is held, the
  later ones wait with it, not even tried at the office;
- nothing the office did is undone: its events, contacts and payments stand;
- the sync's summary counts each action once, as what became of it;
- the log verifies and replays to the tables; a second sync changes nothing.

Then every conflict is resolved (keep-field, falling back to merge or
keep-central when refused), and: nothing is held, every action is applied,
refused or dropped (and said so), every conflict keeps its field side, and
the log still verifies. Each example runs in a folder of its own, on a copy
of an office prepared once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fieldcase.clock
import pytest
from click.testing import Result
from conftest import T0, create_args, register, snapshot
from fieldcase.testing import invoke
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

CN = dt.timezone(dt.timedelta(hours=8))
#: The pack is made at noon the day before; the story starts at 09:00 the next morning.
PACK_AT = "2026-11-23T12:00+08:00"
START = dt.datetime(2026, 11, 24, 9, 0, tzinfo=CN)
DB = "office.db"
PACK = "li.na.fcpack"
CASES = ("1", "2", "3")
STAFF = "li.na"
SUPERVISOR = "chen.wei"

#: Events a sync or a resolution writes about an action without taking it in.
NOT_TAKEN_IN = ("refused", "sync_action_dropped")

PROPERTIES = settings(
    deadline=None,
    max_examples=30,
    # Explaining a failure replays it hundreds of times: minutes, for lines of little use.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    # The autouse fixture only isolates the environment; each example makes its own copy.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- what li.na does on her pack, and what the office does meanwhile ----------------------

Build = Callable[[str, int, dt.datetime], list[str]]


def _contact(outcome: str) -> Build:
    return lambda case, n, at: [
        *("contact", case, "--channel", "phone", "--outcome", outcome),
    ]


FIELD: dict[str, Build] = {
    "contact-reached": _contact("reached"),
    "contact-no-answer": _contact("no-answer"),
    "contact-wrong-number": _contact("wrong-number"),
    "contact-left-message": _contact("left-message"),
    "confirm": lambda case, n, at: ["confirm", case, "--address", "上海市浦东新区世纪大道100号3楼"],
    "plan": lambda case, n, at: [
        *("plan", case, "--date", at.date().isoformat(), "--window", "09:00-20:00"),
        *("--with", "zhang.min"),
    ],
    "checklist": lambda case, n, at: ["checklist", case, "--all"],
    "interview": lambda case, n, at: [
        *("interview", case, "--met", "borrower", "--reason", "medical", "--income", "8000"),
    ],
    "interview-nobody": lambda case, n, at: ["interview", case, "--met", "nobody"],
    "offers": lambda case, n, at: ["offers", case],
    "accept": lambda case, n, at: ["accept", case, "installment-6"],
    "promise": lambda case, n, at: ["promise", case, "--amount", "100", "--date", "2026-12-15"],
    # One payment a case, under the receipt's reference: the office may record it too.
    "payment": lambda case, n, at: ["payment", "record", case, "80", "--reference", f"R-{case}"],
    "feedback": lambda case, n, at: [
        *("feedback", case, "--recommend", "restructure", "--summary", "agreed to pay"),
    ],
}
#: What "next" does on a case, one step further each time: the visit's path.
ROUTE = (
    "confirm",
    "payment",
    "plan",
    "checklist",
    "interview",
    "offers",
    "accept",
    "promise",
    "feedback",
)

#: The office's actions: who does them, and the command line (some on no case).
OFFICE: dict[str, tuple[str, Build]] = {
    "contact": (STAFF, _contact("no-answer")),
    "confirm": (STAFF, lambda case, n, at: ["confirm", case, "--address", "上海市静安区1号"]),
    "promise": (
        STAFF,
        lambda case, n, at: ["promise", case, "--amount", "60", "--date", "2026-12-20"],
    ),
    "assign-away": (SUPERVISOR, lambda case, n, at: ["assign", case, "--to", "zhang.min"]),
    "assign-back": (SUPERVISOR, lambda case, n, at: ["assign", case, "--to", STAFF]),
    "payment": (SUPERVISOR, lambda case, n, at: ["payment", case, "100", "--reference", f"O-{n}"]),
    # The money li.na took on site, as the bank's statement shows it.
    "payment-same": (
        SUPERVISOR,
        lambda case, n, at: ["payment", case, "80", "--reference", f"R-{case}"],
    ),
    "close": (SUPERVISOR, lambda case, n, at: ["close", case, "--resolution", "withdrawn"]),
    "reopen": (SUPERVISOR, lambda case, n, at: ["reopen", case, "--reason", "borrower called"]),
    "deactivate-zhang.min": (SUPERVISOR, lambda case, n, at: ["staff", "deactivate", "zhang.min"]),
    "activate-zhang.min": (SUPERVISOR, lambda case, n, at: ["staff", "activate", "zhang.min"]),
    "tighten-policy": (
        SUPERVISOR,
        lambda case, n, at: [
            *("institution", "policy", "hx-consumer", "--set", "rule_packs=cn"),
            *("--set", "rules.cn.frequency.max_per_day=1"),
        ],
    ),
    "relax-policy": (
        SUPERVISOR,
        lambda case, n, at: [
            *("institution", "policy", "hx-consumer", "--unset", "rule_packs"),
            *("--unset", "rules.cn.frequency.max_per_day"),
        ],
    ),
}

#: (where, what, case, minutes since the step before)
Step = tuple[str, str, str, int]

GAP = st.integers(1, 25)
#: Case 1 is worked most, on both sides: it gets far along its path on the pack, and
#: the office meets it there.
CASE = st.sampled_from(("1", "1", "1", "2", "3"))
PACK_STEP = st.tuples(
    st.just("pack"), st.sampled_from(("next",) * 2 * len(FIELD) + tuple(FIELD)), CASE, GAP
)
OFFICE_STEP = st.tuples(st.just("office"), st.sampled_from(tuple(OFFICE)), CASE, GAP)
STEPS = st.lists(st.one_of(PACK_STEP, PACK_STEP, OFFICE_STEP), min_size=3, max_size=20)
LATER_STEPS = st.lists(st.one_of(PACK_STEP, OFFICE_STEP), max_size=6)


# -- the office, prepared once -----------------------------------------------------------


def build_office(db: Path) -> None:
    """chen.wei supervises li.na and zhang.min; cases 1-3 of hx-consumer are li.na's."""

    def run(*args: str, as_: str | None = None) -> Result:
        result = invoke("--db", db, *(("--as", as_) if as_ else ()), *args)
        assert result.exit_code == 0, result.output
        return result

    run("init")
    run("staff", "add", SUPERVISOR, "--name", "陈伟", "--role", "supervisor", "--at", T0)
    run("staff", "add", STAFF, "--name", "李娜", "--at", T0, as_=SUPERVISOR)
    run("staff", "add", "zhang.min", "--name", "张敏", "--at", T0, as_=SUPERVISOR)
    register(lambda *args, as_=None, input=None: run(*args, as_=as_))
    for reference in ("L-1001", "L-1002", "L-1003"):
        run(*create_args(reference), "--assign", STAFF, "--at", T0, as_=SUPERVISOR)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("office")
    with contextlib.chdir(folder), pytest.MonkeyPatch.context() as patch:
        patch.setattr(fieldcase.clock, "real_clock", None)  # the story's times are the real ones
        build_office(folder / "build.db")
    path = folder / "template.db"
    source, target = sqlite3.connect(folder / "build.db"), sqlite3.connect(path)
    try:
        source.backup(target)  # one self-contained file, no -wal beside it
    finally:
        source.close()
        target.close()
    return path


class Office:
    """One example's office and li.na's pack, in a folder of their own; the story's clock."""

    def __init__(self, folder: Path, note: Callable[[str], object]) -> None:
        self.note = note  # hypothesis's event() in the property: what the steps did
        self.db = folder / DB
        self.pack = folder / PACK
        self.now = START
        self.steps = 0
        self.route = dict.fromkeys(CASES, 0)
        made = self.run(SUPERVISOR, "pack", "--staff", STAFF, *self.all_cases(), "-o", self.pack,
                        "--at", PACK_AT, "--json")  # fmt: skip
        assert made.exit_code == 0, made.output
        self.pack_id = json.loads(made.output)["pack"]

    @staticmethod
    def all_cases() -> list[str]:
        return [arg for case in CASES for arg in ("--case", case)]

    def run(self, actor: str | None, *args: str | Path) -> Result:
        return invoke("--db", self.db, *(("--as", actor) if actor else ()), *args)

    def tick(self, minutes: int) -> str:
        self.now += dt.timedelta(minutes=minutes)
        return self.now.isoformat()

    def do(self, step: Step) -> Result:
        where, what, case, gap = step
        at = self.tick(gap)
        self.steps += 1
        if where == "pack":
            if what == "next":
                route = self.route[case]
                what = ROUTE[min(route, len(ROUTE) - 1)]
                self.route[case] = route + 1
            args = FIELD[what](case, self.steps, self.now)
            result = invoke("--db", self.pack, "--as", STAFF, *args, "--at", at)
        else:
            actor, build = OFFICE[what]
            result = self.run(actor, *build(case, self.steps, self.now), "--at", at)
        self.note(f"{where} {what}: exit {result.exit_code}")
        assert result.exit_code in (0, 1, 2), (step, result.output)
        return result

    def sync(self, actor: str) -> dict[str, Any]:
        synced = self.run(actor, "sync", self.pack, "--json", "--at", self.tick(1))
        assert synced.exit_code == 0, synced.output
        return dict(json.loads(synced.output))

    def verify(self) -> None:
        verified = self.run(None, "audit", "verify", "--replay")
        assert verified.exit_code == 0, verified.output


@contextlib.contextmanager
def office_copy(template: Path, note: Callable[[str], object] = str) -> Iterator[Office]:
    with tempfile.TemporaryDirectory(prefix="sync-") as name, contextlib.chdir(name):
        shutil.copyfile(template, Path(name) / DB)
        yield Office(Path(name), note)


# -- reading both sides ------------------------------------------------------------------


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def data_of(row: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(row["payload"]).get("data") or {})


def pack_calls(office: Office) -> list[dict[str, Any]]:
    """The actions the pack wrote down: its event id (seq), case, type and the call."""
    found = []
    for row in rows(office.pack, "SELECT * FROM events ORDER BY id"):
        call = data_of(row).get("call")
        if call is not None:
            found.append({"seq": row["id"], "case": row["case_id"], "type": row["type"], **call})
    return found


def marked(office: Office) -> dict[int, list[dict[str, Any]]]:
    """The office's events carrying an action of the pack, by the action's place in it."""
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows(office.db, "SELECT * FROM events ORDER BY id"):
        data = data_of(row)
        if data.get("pack") == office.pack_id and "pack_action" in data:
            found.setdefault(int(data["pack_action"]), []).append(row)
    return found


def statuses(office: Office) -> dict[int, str]:
    found = rows(office.db, "SELECT * FROM synced_actions WHERE pack = ?", (office.pack_id,))
    counted = Counter(row["seq"] for row in found)
    assert all(n == 1 for n in counted.values()), counted
    return {row["seq"]: row["status"] for row in found}


def conflicts(office: Office) -> list[dict[str, Any]]:
    found = rows(office.db, "SELECT * FROM sync_conflicts ORDER BY id")
    return [{**row, "field": json.loads(row["field"])} for row in found]


def named_by_resolutions(office: Office, which: str) -> set[int]:
    """The actions the resolutions in the log say were applied (or dropped)."""
    named: set[int] = set()
    for row in rows(office.db, "SELECT * FROM events WHERE type = 'sync_conflict_resolved'"):
        named |= set(data_of(row)[which])
    return named


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class Before:
    """What the office held before a sync or a resolution: none of it may be undone."""

    def __init__(self, office: Office) -> None:
        self.events = rows(office.db, "SELECT * FROM events ORDER BY id")
        self.contacts = rows(office.db, "SELECT * FROM contacts ORDER BY id")
        self.payments = rows(office.db, "SELECT * FROM payments ORDER BY id")
        self.statuses = statuses(office)

    def still_stands(self, office: Office) -> None:
        events = rows(office.db, "SELECT * FROM events ORDER BY id")
        assert events[: len(self.events)] == self.events
        contacts = {row["id"]: row for row in rows(office.db, "SELECT * FROM contacts")}
        for contact in self.contacts:
            assert contacts.get(contact["id"]) == contact
        payments = {row["id"]: row for row in rows(office.db, "SELECT * FROM payments")}
        for payment in self.payments:
            kept = payments.get(payment["id"])
            assert kept is not None, payment
            fixed = ("case_id", "amount_minor", "reference", "at", "recorded_by")
            assert [kept[k] for k in fixed] == [payment[k] for k in fixed], (payment, kept)


# -- the invariants ----------------------------------------------------------------------


def assert_taken_in_once(
    office: Office, calls: list[dict[str, Any]], status: dict[int, str], resolved: bool = False
) -> None:
    """Applied: one event of the office carries it, li.na's at her time; else none does.

    Once conflicts are resolved, a payment the office had recorded itself under the
    same reference is applied with no event of its own: the resolution names it.
    """
    events = marked(office)
    for call in calls:
        seq = call["seq"]
        taken = [e for e in events.get(seq, []) if e["type"] not in NOT_TAKEN_IN]
        if status[seq] != "applied":
            assert taken == [], (call, status[seq], taken)
            continue
        if not taken and resolved and call["action"] == "record_payment":
            assert seq in named_by_resolutions(office, "applied"), call
            amount, reference = call["kwargs"]["amount"], call["kwargs"]["reference"]
            assert rows(
                office.db,
                "SELECT id FROM payments WHERE case_id = ? AND reference = ? AND amount_minor = ?",
                (call["case"], reference, int(amount) * 100),
            ), call
            continue
        assert len(taken) == 1, (call, taken)
        assert taken[0]["case_id"] == call["case"]
        assert taken[0]["actor"] == STAFF
        assert moment(taken[0]["at"]) == moment(call["at"]), (call, taken[0]["at"])


def assert_refusals_recorded(
    office: Office, calls: list[dict[str, Any]], status: dict[int, str]
) -> None:
    events = marked(office)
    for call in calls:
        refused_on_pack = call["type"] == "refused"
        assert (status[call["seq"]] == "refused") == refused_on_pack, (call, status[call["seq"]])
        if refused_on_pack:
            recorded = [e for e in events.get(call["seq"], []) if e["type"] == "refused"]
            assert recorded and all(e["case_id"] == call["case"] for e in recorded), call
            assert all(e["actor"] == STAFF for e in recorded)


def as_held(call: dict[str, Any]) -> dict[str, Any]:
    keys = ("seq", "case", "action", "at", "args", "kwargs")
    return {key: call[key] for key in keys}


def assert_synced(office: Office, before: Before, summary: dict[str, Any]) -> None:
    calls = pack_calls(office)
    status = statuses(office)
    # Every action written down is accounted for, once; none the pack did not write.
    assert set(status) == {call["seq"] for call in calls}
    assert_refusals_recorded(office, calls, status)
    assert {status[c["seq"]] for c in calls if c["type"] != "refused"} <= {"applied", "held"}
    assert_taken_in_once(office, calls, status)
    # A held action is in an open conflict of its case, as the pack wrote it; and an
    # open conflict holds only actions still held.
    open_ = [c for c in conflicts(office) if c["status"] == "open"]
    holding = {held["seq"]: (c, held) for c in open_ for held in c["field"]}
    for call in calls:
        if status[call["seq"]] == "held":
            conflict, held = holding[call["seq"]]
            assert conflict["case_id"] == call["case"]
            assert {k: held[k] for k in as_held(call)} == as_held(call)
    assert all(status[seq] == "held" for seq in holding), holding
    # The pack's actions on a case are taken in in order: once one is held, the later
    # ones are held with it, none of them tried at the office (applied, or refused there).
    events = marked(office)
    for case in {call["case"] for call in calls}:
        done = [c for c in calls if c["case"] == case and c["type"] != "refused"]
        held = [i for i, c in enumerate(done) if status[c["seq"]] == "held"]
        for later in done[held[0] + 1 :] if held else []:
            tried = [(e["id"], e["type"]) for e in events.get(later["seq"], [])]
            assert status[later["seq"]] == "held" and not tried, (
                f"case {case}: action {later['seq']} ({later['action']}) is "
                f"{status[later['seq']]}, office events {tried}, while the earlier action "
                f"{done[held[0]]['seq']} ({done[held[0]]['action']}) is held"
            )
    before.still_stands(office)
    # What the sync says it did is what it did, each action counted once.
    new = Counter(s for seq, s in status.items() if seq not in before.statuses)
    told = {key: summary[key] for key in ("applied", "refused", "held", "already")}
    counted = {"applied": new["applied"], "refused": new["refused"], "held": new["held"]}
    assert told == {**counted, "already": len(before.statuses)}, summary
    assert sum(told.values()) == summary["actions"] == len(calls), summary
    office.verify()


def resolve_all(office: Office, data: st.DataObject) -> dict[int, list[dict[str, Any]]]:
    """Resolve every open conflict as drawn; keep-field refused falls back. Their field sides."""
    kept = {c["id"]: c["field"] for c in conflicts(office)}
    open_ids = [c["id"] for c in conflicts(office) if c["status"] == "open"]
    for conflict_id in data.draw(st.permutations(open_ids), label="resolution order"):
        how = data.draw(st.sampled_from(("keep-field", "keep-central", "merge")), label="how")
        done = resolve(office, conflict_id, how)
        if done is None:
            assert how == "keep-field"
            fallback = data.draw(st.sampled_from(("merge", "keep-central")), label="fallback")
            done = resolve(office, conflict_id, fallback)
            assert done is not None, f"conflict {conflict_id} --{fallback} refused"
            how = fallback
        event(f"resolved {how}")
        status = statuses(office)
        assert all(status[seq] == "applied" for seq in done["applied"]), (done, status)
        assert all(status[seq] == "dropped" for seq in done["dropped"]), (done, status)
    return kept


def resolve(office: Office, conflict_id: int, how: str) -> dict[str, Any] | None:
    """The resolution's JSON, or None when keep-field was refused (the conflict stays open)."""
    before = Before(office)
    result = office.run(
        SUPERVISOR, "conflict", "resolve", str(conflict_id), f"--{how}", "--json",
        "--at", office.tick(1),
    )  # fmt: skip
    before.still_stands(office)
    if how == "keep-field" and result.exit_code != 0:
        assert result.exit_code in (1, 2), result.output
        assert "resolve again with --merge" in result.output
        (still,) = [c for c in conflicts(office) if c["id"] == conflict_id]
        assert still["status"] == "open"
        return None
    assert result.exit_code == 0, (how, result.output)
    return dict(json.loads(result.output))


def assert_resolved(office: Office, before: Before, kept: dict[int, list[dict[str, Any]]]) -> None:
    calls = pack_calls(office)
    status = statuses(office)
    assert set(status) == {call["seq"] for call in calls}
    assert set(status.values()) <= {"applied", "refused", "dropped"}, status
    assert_refusals_recorded(office, calls, status)
    assert_taken_in_once(office, calls, status, resolved=True)
    # A dropped action is named so in the resolution that ended its conflict.
    dropped = {seq for seq, s in status.items() if s == "dropped"}
    assert dropped <= named_by_resolutions(office, "dropped")
    # Every conflict is ended, by the supervisor, and still holds its field side.
    for conflict in conflicts(office):
        assert conflict["status"] in ("kept-field", "kept-central", "merged"), conflict
        assert conflict["resolved_by"] == SUPERVISOR
        assert conflict["field"] == kept[conflict["id"]]
    before.still_stands(office)
    office.verify()


def assert_sync_changes_nothing(office: Office) -> None:
    tables = snapshot(office.db)
    again = office.sync(SUPERVISOR)
    assert again["already"] == again["actions"] == len(pack_calls(office)), again
    assert (again["applied"], again["refused"], again["held"]) == (0, 0, 0), again
    assert snapshot(office.db) == tables


# -- the property ------------------------------------------------------------------------


@PROPERTIES
@given(data=st.data())
def test_interleaved_field_and_office_work_loses_nothing_in_a_sync(
    template: Path, data: st.DataObject
) -> None:
    rounds = [data.draw(STEPS, label="before the first sync")]
    if data.draw(st.booleans(), label="worked on after the sync"):
        rounds.append(data.draw(LATER_STEPS, label="before the second sync"))
    with office_copy(template, event) as office:
        for steps in rounds:
            for step in steps:
                office.do(step)
            before = Before(office)
            summary = office.sync(data.draw(st.sampled_from((STAFF, SUPERVISOR)), label="syncer"))
            assert_synced(office, before, summary)
            if data.draw(st.booleans(), label="synced twice"):
                assert_sync_changes_nothing(office)
        event(f"conflicts kept: {len(conflicts(office))}")
        before = Before(office)
        kept = resolve_all(office, data)
        assert_resolved(office, before, kept)
        assert_sync_changes_nothing(office)


# -- what the property found, as stories -------------------------------------------------


def test_a_payment_the_office_recorded_too_is_taken_in_once_and_not_also_dropped(
    template: Path,
) -> None:
    with office_copy(template) as office:
        for step in [("pack", "confirm", "1", 1), ("pack", "payment", "1", 1)]:
            assert office.do(step).exit_code == 0
        # The bank's statement shows the same money under the receipt's reference.
        assert office.do(("office", "payment-same", "1", 1)).exit_code == 0
        summary = office.sync(STAFF)
        assert (summary["held"], summary["already"]) == (2, 0), summary
        done = resolve(office, 1, "keep-field")
        assert done is not None
        status = statuses(office)
        assert sorted(done["applied"]) == sorted(status) and done["dropped"] == [], done
        assert set(status.values()) == {"applied"}, status
        paid = rows(office.db, "SELECT reference, status FROM payments WHERE case_id = 1")
        assert paid == [{"reference": "R-1", "status": "confirmed"}]
        office.verify()


def test_work_after_a_sync_waits_behind_what_the_office_could_not_take_in(
    template: Path,
) -> None:
    with office_copy(template) as office:
        assert office.do(("pack", "confirm", "1", 1)).exit_code == 0
        assert office.do(("office", "deactivate-zhang.min", "1", 1)).exit_code == 0
        assert office.do(("pack", "plan", "1", 1)).exit_code == 0  # --with zhang.min
        summary = office.sync(STAFF)
        assert (summary["applied"], summary["held"]) == (1, 1), summary
        (kept,) = conflicts(office)
        # Out again, li.na goes on with the same pack: her contact comes after the plan
        # the office could not take in, and waits behind it.
        assert office.do(("pack", "contact-reached", "1", 60)).exit_code == 0
        before = Before(office)
        summary = office.sync(STAFF)
        assert (summary["applied"], summary["held"], summary["already"]) == (0, 1, 2), summary
        assert_synced(office, before, summary)
        assert [c["id"] for c in conflicts(office)] == [kept["id"]]
        assert [c["action"] for c in conflicts(office)[0]["field"]] == [
            "plan_visit",
            "record_contact",
        ]
        assert rows(office.db, "SELECT * FROM contacts") == []
