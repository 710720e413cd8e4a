"""Reliability: many processes on one database, and processes killed mid-write.

Workers are separate Python processes running this file as a script (``work``
mode), each with its own connection, so SQLite's locking, WAL and the store's
optimistic version check are exercised as in an office where several people
act on the same cases at once. Crash tests SIGKILL writers at random moments
and check the database is whole after each kill.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fieldcase import hookimpl
from fieldcase.errors import FieldcaseError, Refused, StaleCase
from fieldcase.lifecycle import Stage
from fieldcase.model import ActionContext, Case, Visit
from fieldcase.plugins import get_plugin_manager, manager
from fieldcase.services import Services
from fieldcase.store import STATE_TABLES, Store
from pgserver import password_of

#: Setup happens an hour before the workers' clock starts.
BASE = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
SUPERVISORS = ("sup.a", "sup.b")
FIELD = ("f.1", "f.2", "f.3", "f.4")
INSTITUTION = "rel"
WORKERS = 8
ACTIONS_PER_WORKER = 500

#: Each action of a worker, the events a success writes, and its name in refusals.
EVENTS_OF: dict[str, tuple[str, ...]] = {
    "contact": ("contact_recorded",),
    "confirm": ("address_confirmed",),
    "plan": ("visit_planned", "visit_replanned"),
    "tick": ("checklist_ticked",),
    "interview": ("interview_recorded", "visit_failed"),
    "feedback": ("feedback_submitted",),
    "review": ("feedback_approved", "feedback_returned"),
    "close": ("case_closed",),
    "reopen": ("case_reopened",),
    "promise": ("promise_made",),
    "payment": ("payment_recorded",),
    "assign": ("case_assigned",),
}
REFUSAL_NAME = {
    "contact": "contact",
    "confirm": "confirm_address",
    "plan": "plan_visit",
    "tick": "tick_checklist",
    "interview": "start_visit",
    "feedback": "submit_feedback",
    "review": "review",
    "close": "close",
    "reopen": "reopen",
    "promise": "promise",
    "payment": "record_payment",
    "assign": "assign",
}
#: A StaleCase message says which case, that someone else changed it, and what to do.
STALE_MESSAGE = re.compile(
    r"^case \d+ was changed by someone else since it was read "
    r"\(version \d+, now \d+\); show it again and retry$"
)

Outcome = dict[str, Any]


# -- the office and its cases ------------------------------------------------------


#: A database: a SQLite file, or a PostgreSQL database's URL (its administrator's login).
Db = Path | str


def rows_of(db: Db, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of a query on either store, as tuples."""
    store = Store(db)
    try:
        return [tuple(row) for row in store.db.execute(sql, list(params))]
    finally:
        store.close()


def open_services(db: Db) -> Services:
    store = Store(db)
    store.migrate()
    return Services(store, manager(), clock=None)


def build_office(db: Db, cases: int) -> list[int]:
    """Two supervisors, four field workers and ``cases`` cases, assigned round-robin."""
    services = open_services(db)
    try:
        at = BASE - dt.timedelta(hours=1)
        services.add_staff("sup.a", "Supervisor A", "supervisor", actor=None, at=at)
        services.add_staff("sup.b", "Supervisor B", "supervisor", actor="sup.a", at=at)
        for staff in FIELD:
            services.add_staff(staff, f"Field {staff}", "field", actor="sup.a", at=at)
        for institution in (INSTITUTION, "bulk"):
            services.add_institution(
                institution,
                name=institution,
                jurisdiction="CN",
                timezone="Asia/Shanghai",
                currency="CNY",
                actor="sup.a",
                at=at,
            )
        ids = []
        for n in range(cases):
            case = services.create_case(
                actor="sup.a",
                at=at,
                institution=INSTITUTION,
                reference=f"R-{n:03d}",
                borrower_name=f"Borrower {n}",
                timezone="Asia/Shanghai",
                currency="CNY",
                principal="900000.00",
                # Far more than every payment together: no payment ever closes a case.
                overdue_amount="500000.00",
                overdue_since=dt.date(2026, 9, 1),
                address=f"{n} Century Avenue",
                assign_to=FIELD[n % len(FIELD)],
            )
            assert case.id is not None
            ids.append(case.id)
        return ids
    finally:
        services.store.close()


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def assert_whole(db: Db) -> None:
    """The log verifies, replays to the stored tables, and the database finds no damage."""
    store = Store(db)
    try:
        assert store.integrity() == "ok"
        checked, problem = store.verify_chains()
        assert problem is None, problem
        assert checked > 0
        assert store.compare_replay() == []
    finally:
        store.close()


# -- a worker: a stream of mixed actions on the shared cases ----------------------------


def clock(t0: float) -> dt.datetime:
    """Wall-clock seconds since ``t0`` after BASE: the same clock in every process."""
    return BASE + dt.timedelta(seconds=int(time.time() - t0))


def choose(rng: random.Random, case: Case) -> str:
    """An action that fits the case as last seen, or now and then any action at all."""
    if rng.random() < 0.1:
        return rng.choice(sorted(EVENTS_OF))
    common = ["contact", "promise", "payment", "assign"]
    stage = case.stage
    if stage == Stage.CONFIRMATION:
        likely = ["confirm", "confirm", "contact"]
    elif stage == Stage.PREPARATION:
        likely = ["plan", "plan", "tick", "tick"]
    elif stage == Stage.INTERVIEW:
        likely = ["interview", "interview", "interview", "plan"]
    elif stage == Stage.FEEDBACK:
        step = {"submitted": "review", "approved": "close"}.get(case.feedback_status or "")
        likely = [step or "feedback"] * 3
    else:
        return rng.choice(["reopen", "reopen", "payment"])
    return rng.choice(likely * 2 + common)


def perform(
    services: Services, action: str, case: Case, rng: random.Random, at: dt.datetime, tag: str
) -> dict[str, Any]:
    """Run ``action`` on ``case`` through the services; return what to check it by."""
    ref = case.id
    assert ref is not None
    anyone = rng.choice([*SUPERVISORS, *FIELD])
    actor = case.assigned_to if case.assigned_to and rng.random() < 0.75 else anyone
    supervisor = rng.choice(SUPERVISORS)
    today = at.astimezone(case.borrower.zone).date()
    if action == "contact":
        services.record_contact(
            ref,
            actor=actor,
            at=at,
            channel=rng.choice(["phone", "sms", "letter"]),
            target="borrower",
            outcome=rng.choice(["reached", "no-answer", "left-message"]),
        )
    elif action == "confirm":
        services.confirm_address(ref, actor=actor, at=at, address=f"confirmed {tag}")
    elif action == "plan":
        services.plan_visit(
            ref, actor=actor, at=at, date=today, window=(dt.time(0, 0), dt.time(23, 59))
        )
    elif action == "tick":
        if rng.random() < 0.5:
            services.tick_checklist(ref, actor=actor, at=at, tick_all=True)
        else:
            services.tick_checklist(ref, actor=actor, at=at, items=["id-badge"])
    elif action == "interview":
        if rng.random() < 0.7:
            services.record_interview(ref, actor=actor, at=at, met="borrower", reason="medical")
        else:
            services.record_interview(ref, actor=actor, at=at, met="nobody")
    elif action == "feedback":
        services.submit_feedback(
            ref, actor=actor, at=at, recommendation="restructure", summary=f"found {tag}"
        )
    elif action == "review":
        approve = rng.random() < 0.8
        note = "" if approve else "say more"
        services.review_feedback(ref, actor=supervisor, at=at, approve=approve, note=note)
    elif action == "close":
        services.close(ref, actor=supervisor, at=at, resolution="restructured")
    elif action == "reopen":
        services.reopen(ref, actor=supervisor, at=at, reason=f"new information {tag}")
    elif action == "promise":
        services.record_promise(
            ref, actor=actor, at=at, amount="100.00", due=today + dt.timedelta(days=7)
        )
    elif action == "payment":
        amount = rng.randint(1, 9)
        _, new, _ = services.record_payment(
            ref, actor=actor, at=at, amount=f"{amount}.00", reference=f"pay-{tag}"
        )
        assert new, f"payment {tag} was taken for a repeat"
        return {"amount_minor": amount * 100}
    elif action == "assign":
        services.assign(ref, to=rng.choice(FIELD), actor=supervisor, at=at)
    else:
        raise AssertionError(f"unknown action {action}")
    return {}


def work(
    db: Db,
    worker: int,
    count: int,
    t0: float,
    case_ids: Sequence[int],
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> Iterator[Outcome]:
    """``count`` actions on random cases (half of them on a few hot ones)."""
    rng = random.Random(worker * 7919 + os.getpid())
    services = open_services(db)
    hot = list(case_ids[:4])
    try:
        for i in range(count):
            case_id = rng.choice(hot) if rng.random() < 0.5 else rng.choice(list(case_ids))
            outcome: Outcome = {"worker": worker, "i": i, "case": case_id}
            try:
                seen = services.get_case(case_id)
                action = choose(rng, seen)
                outcome["action"] = action
                tag = f"w{worker}-{os.getpid()}-{i}"
                outcome.update(perform(services, action, seen, rng, clock(t0), tag))
                outcome["outcome"] = "ok"
            except StaleCase as exc:
                outcome.update(outcome="stale", error="StaleCase", message=str(exc))
            except Refused as exc:
                outcome.update(
                    outcome="refused", error=type(exc).__name__, rule=exc.rule, message=str(exc)
                )
            except FieldcaseError as exc:
                outcome.update(outcome="invalid", error=type(exc).__name__, message=str(exc))
            except Exception as exc:  # what must never happen: recorded, then asserted
                outcome.update(outcome="error", error=type(exc).__name__, message=repr(exc))
            on_outcome(outcome)
            yield outcome
    finally:
        services.store.close()


def main(argv: Sequence[str]) -> None:
    """``work DB JSON``: run a worker; print each outcome as a line of JSON."""
    mode, db, options = argv[0], argv[1], json.loads(argv[2])
    assert mode == "work"

    def emit(outcome: Outcome) -> None:
        print(json.dumps(outcome), flush=True)

    for _ in work(db, options["worker"], options["count"], options["t0"], options["cases"], emit):
        pass


def start_worker(
    db: Db, worker: int, count: int, t0: float, cases: Sequence[int], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A worker process writing its outcomes to ``log`` (and errors to ``log``.err)."""
    options = {"worker": worker, "count": count, "t0": t0, "cases": list(cases)}
    command = [sys.executable, __file__, "work", str(db), json.dumps(options)]
    if log is None:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Files, not pipes: a worker never waits for the test to read what it wrote.
    with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(command, stdout=out, stderr=err)


def finish_worker(process: subprocess.Popen[bytes], log: Path) -> list[Outcome]:
    """Wait for the worker to end by itself; its outcomes."""
    process.wait(timeout=300)
    errors = log.with_suffix(".err").read_text(encoding="utf-8")
    assert process.returncode == 0, errors
    assert "database is locked" not in errors
    lines = log.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# -- what the log holds -----------------------------------------------------------------


def event_counts(
    db: Db, after: int, institution: str = "%"
) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """Events after event ``after`` (on cases of ``institution``, a LIKE pattern):
    by type, and refusals by the action refused."""
    where = "id > ? AND (? = '%' OR case_id IN (SELECT id FROM cases WHERE institution LIKE ?))"
    params = [after, institution, institution]
    types = collections.Counter(
        row[0] for row in rows_of(db, f"SELECT type FROM events WHERE {where}", params)
    )
    refusals = collections.Counter(
        row[0]
        for row in rows_of(
            db,
            "SELECT json_extract(payload, '$.data.action') FROM events"
            f" WHERE {where} AND type = 'refused'",
            params,
        )
    )
    return types, refusals


def per_case(db: Db, sql: str) -> dict[int, Any]:
    return {row[0]: row[1] for row in rows_of(db, sql)}


def last_event(db: Db) -> int:
    return int(rows_of(db, "SELECT coalesce(max(id), 0) FROM events")[0][0])


def check_log_matches(db: Db, outcomes: Sequence[Outcome], after: int) -> None:
    """Each success has its event, each refusal its ``refused`` event, nothing else."""
    types, refusals = event_counts(db, after, INSTITUTION)
    ok = collections.Counter(o["action"] for o in outcomes if o["outcome"] == "ok")
    refused = collections.Counter(o["action"] for o in outcomes if o["outcome"] == "refused")
    for action, event_types in EVENTS_OF.items():
        written = sum(types[t] for t in event_types)
        assert written == ok[action], (action, written, ok[action])
        assert refusals[REFUSAL_NAME[action]] == refused[action], action
    expected = {t for ts in EVENTS_OF.values() for t in ts} | {"refused"}
    assert set(types) <= expected, set(types) - expected


# -- 1. concurrency -----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Db, Db]:
    """A database the workers share, and the ``--db`` of sup.a's bulk import.

    On PostgreSQL the workers are the administrator's connections over TCP (the
    actor each action names is checked by the services; the server stamps the
    login), and the import logs in as sup.a with a password.
    """
    if request.param == "sqlite":
        db = tmp_path / "shared.db"
        return db, db
    office = request.getfixturevalue("pg_office")
    return office.server.admin_tcp_url(office.name), office.url("sup.a")


@pytest.mark.slow
def test_eight_processes_on_one_database_lose_nothing(
    tmp_path: Path, shared: tuple[Db, Db]
) -> None:
    db, importer = shared
    case_ids = build_office(db, cases=24)
    if importer != db:  # PostgreSQL: sup.a logs in with a password
        store = Store(db)
        try:
            store.set_password("sup.a", password_of("sup.a"))
        finally:
            store.close()
    after = last_event(db)
    versions_before = per_case(db, "SELECT id, version FROM cases")
    # Beside the workers, a bulk import holds the write lock 500 cases at a time.
    portfolio = tmp_path / "portfolio.csv"
    write_portfolio(portfolio, 3000)
    t0 = time.time()
    logs = [tmp_path / f"worker{w}.jsonl" for w in range(WORKERS)]
    workers = [
        start_worker(db, w, ACTIONS_PER_WORKER, t0, case_ids, logs[w]) for w in range(WORKERS)
    ]
    bulk = subprocess.run(
        [*import_command(importer, portfolio), "--batch-size", "500", "--json"],
        env={**os.environ, "FIELDCASE_LOAD_PLUGINS": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bulk.returncode == 0, bulk.stderr
    assert json.loads(bulk.stdout)["imported"] == 3000
    assert imported_count(db) == 3000
    # The import's batches were interleaved with the workers' actions.
    first, last = rows_of(db, "SELECT min(id), max(id) FROM events WHERE type = 'case_imported'")[0]
    between = rows_of(
        db,
        "SELECT count(*) FROM events WHERE id BETWEEN ? AND ?"
        " AND case_id IN (SELECT id FROM cases WHERE institution = ?)",
        [first, last, INSTITUTION],
    )[0][0]
    print(f"\n{between} worker events between the import's first and last")
    assert between > 0, "the import ran alone: it never held the lock against the workers"
    outcomes: list[Outcome] = []
    for process, log in zip(workers, logs, strict=True):
        outcomes += finish_worker(process, log)
    elapsed = time.time() - t0

    assert len(outcomes) == WORKERS * ACTIONS_PER_WORKER
    errors = [o for o in outcomes if o["outcome"] == "error"]
    assert errors == [], json.dumps(errors[:5])  # no sqlite3.OperationalError ("locked")
    tally = collections.Counter(o["outcome"] for o in outcomes)
    print(f"\n{WORKERS} workers x {ACTIONS_PER_WORKER} actions in {elapsed:.1f}s: {dict(tally)}")
    for outcome in outcomes:
        if outcome["outcome"] == "invalid":  # bad input (e.g. --at out of order): no write
            print("invalid:", outcome["message"])
    print("by action:", dict(collections.Counter((o["action"], o["outcome"]) for o in outcomes)))
    # Concurrency really happened: cases changed between a read and its write.
    stale = [o for o in outcomes if o["outcome"] == "stale"]
    assert stale, "no StaleCase at all: the workers never collided, the test proves nothing"
    for outcome in stale:
        assert STALE_MESSAGE.match(outcome["message"]), outcome["message"]
        assert f"case {outcome['case']} " in outcome["message"]
    assert tally["ok"] > len(outcomes) // 3
    assert len({o["action"] for o in outcomes if o["outcome"] == "ok"}) == len(EVENTS_OF)

    # Every outcome is in the log exactly as reported, and only those.
    check_log_matches(db, outcomes, after)
    assert_whole(db)

    # No update was lost: each success moved its case on by one version, and each
    # contact, promise and payment reported made is there.
    ok = [o for o in outcomes if o["outcome"] == "ok"]
    versions = per_case(db, "SELECT id, version FROM cases")
    by_case = collections.Counter(o["case"] for o in ok)
    for case_id in case_ids:
        assert versions[case_id] == versions_before[case_id] + by_case[case_id], case_id
    chain_events = per_case(
        db,
        f"SELECT case_id, count(*) FROM events WHERE id > {after} AND type != 'refused'"
        f" AND case_id IN ({', '.join(map(str, case_ids))}) GROUP BY case_id",
    )
    assert chain_events == {c: n for c, n in by_case.items() if n}
    for table, action in (("contacts", "contact"), ("promises", "promise")):
        stored = per_case(db, f"SELECT case_id, count(*) FROM {table} GROUP BY case_id")
        made = collections.Counter(o["case"] for o in ok if o["action"] == action)
        assert stored == dict(made), table
    paid = per_case(db, "SELECT case_id, sum(amount_minor) FROM payments GROUP BY case_id")
    reported: collections.Counter[int] = collections.Counter()
    for o in ok:
        if o["action"] == "payment":
            reported[o["case"]] += o["amount_minor"]
    assert paid == dict(reported)


class ConcurrentChange:
    """A ``check_action`` that, once, has another connection change the case meanwhile.

    It runs after the service read the case and before it writes: exactly the
    moment a colleague's change makes the read stale.
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self.after: dict[str, list[tuple[Any, ...]]] | None = None

    @hookimpl
    def check_action(self, case: Case | None, action: str, context: ActionContext) -> None:
        if self.after is not None or case is None or case.id is None:
            return
        other = Services(Store(self.db), get_plugin_manager(load_entrypoints=False), clock=None)
        try:
            other.record_contact(
                case.id,
                actor="sup.b",
                at=context.at,
                channel="phone",
                target="borrower",
                outcome="reached",
            )
        finally:
            other.store.close()
        self.after = table_snapshot(self.db)


def table_snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {
            t: conn.execute(f"SELECT * FROM [{t}] ORDER BY id").fetchall()
            for t in (*STATE_TABLES, "events")
        }
    finally:
        conn.close()


STALE_ACTIONS: dict[str, Callable[[Services, int, dt.datetime], object]] = {
    "contact": lambda s, c, at: s.record_contact(
        c, actor="f.1", at=at, channel="sms", target="borrower", outcome="left-message"
    ),
    "confirm": lambda s, c, at: s.confirm_address(c, actor="f.1", at=at, address="there"),
    "promise": lambda s, c, at: s.record_promise(
        c, actor="f.1", at=at, amount="50.00", due=dt.date(2026, 12, 1)
    ),
    "payment": lambda s, c, at: s.record_payment(
        c, actor="f.1", at=at, amount="50.00", reference="stale-1"
    ),
    "assign": lambda s, c, at: s.assign(c, to="f.2", actor="sup.a", at=at),
    "close": lambda s, c, at: s.close(c, actor="sup.a", at=at, resolution="withdrawn"),
}


@pytest.mark.parametrize("action", sorted(STALE_ACTIONS))
def test_stale_case_inside_a_service_writes_nothing(tmp_path: Path, action: str) -> None:
    db = tmp_path / "stale.db"
    (case_id, *_) = build_office(db, cases=1)
    interfere = ConcurrentChange(db)
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(interfere)
    store = Store(db)
    services = Services(store, pm, clock=None)
    version = services.get_case(case_id).version
    try:
        with pytest.raises(StaleCase) as raised:
            STALE_ACTIONS[action](services, case_id, BASE)
    finally:
        store.close()
    assert interfere.after is not None, "the concurrent change never happened"
    message = str(raised.value)
    assert STALE_MESSAGE.match(message), message
    assert f"version {version}, now {version + 1}" in message
    # Nothing of the refused write, not even a refusal: only the colleague's contact.
    assert table_snapshot(db) == interfere.after
    assert_whole(db)


class VisitRecordedMeanwhile(Store):
    """A store on which a colleague records the interview just before visits are read."""

    colleague_done = False

    def visits(self, case_id: int, currency: str) -> list[Visit]:
        if not self.colleague_done:
            self.colleague_done = True
            other = Services(
                Store(self.path), get_plugin_manager(load_entrypoints=False), clock=None
            )
            try:
                other.record_interview(case_id, actor="sup.b", at=BASE, met="nobody")
            finally:
                other.store.close()
        return super().visits(case_id, currency)


def test_interview_recorded_meanwhile_is_stale_not_a_crash(tmp_path: Path) -> None:
    """The case is read in the interview stage, its visit after a colleague recorded it."""
    db = tmp_path / "interview.db"
    (case_id, *_) = build_office(db, cases=1)
    services = open_services(db)
    services.confirm_address(case_id, actor="f.1", at=BASE, address="there")
    window = (dt.time(0, 0), dt.time(23, 59))
    services.plan_visit(case_id, actor="f.1", at=BASE, date=dt.date(2026, 11, 23), window=window)
    services.tick_checklist(case_id, actor="f.1", at=BASE, tick_all=True)
    assert services.get_case(case_id).stage == Stage.INTERVIEW
    services.store.close()
    store = VisitRecordedMeanwhile(db)
    racing = Services(store, get_plugin_manager(load_entrypoints=False), clock=None)
    before = last_event(db) + 1  # the colleague's visit_failed
    try:
        with pytest.raises(StaleCase) as raised:
            racing.record_interview(case_id, actor="f.1", at=BASE, met="borrower", reason="medical")
    finally:
        store.close()
    assert store.colleague_done
    assert STALE_MESSAGE.match(str(raised.value)), str(raised.value)
    assert last_event(db) == before  # no refusal, no interview: only the colleague's event
    assert_whole(db)


# -- 2. crash safety ----------------------------------------------------------------


def audit_verify(db: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "fieldcase", "--db", str(db), "audit", "verify", "--replay"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def check_after_kill(db: Path) -> None:
    output = audit_verify(db)
    assert output.startswith("OK: "), output
    assert_whole(db)
    # Each action whole: every event on a case moved its version on by exactly one.
    versions = per_case(db, "SELECT id, version FROM cases")
    written = per_case(
        db, "SELECT case_id, count(*) FROM events WHERE type != 'refused' GROUP BY case_id"
    )
    assert {c: written.get(c, 0) for c in versions} == versions


def kill_at_random(
    process: subprocess.Popen[Any], rng: random.Random, progress: Callable[[], int], start: int
) -> bool:
    """Once ``progress`` passes ``start`` (the process is writing), wait a random short
    while and SIGKILL it. Whether it was still running when killed."""
    deadline = time.monotonic() + 60
    while progress() <= start and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.4))
    running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return running


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_actions_killed_mid_write_leave_whole_actions_and_resume(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    case_ids = build_office(db, cases=6)
    rng = random.Random(20261123)
    t0 = time.time()
    for round_ in range(7):
        before = last_event(db)
        process = start_worker(db, round_, 1_000_000, t0, case_ids)
        # Killed a random while after its first event: past start-up and writing.
        killed_running = kill_at_random(process, rng, lambda: last_event(db), before)
        assert killed_running, "the worker ended by itself: the kill proved nothing"
        assert last_event(db) > before, "nothing was written before the kill"
        check_after_kill(db)
    # Work resumes: a worker run to its end on the same database, every outcome in the log.
    after = last_event(db)
    log = tmp_path / "resumed.jsonl"
    outcomes = finish_worker(start_worker(db, 99, 60, t0, case_ids, log), log)
    assert len(outcomes) == 60
    assert [o for o in outcomes if o["outcome"] == "error"] == []
    assert any(o["outcome"] == "ok" for o in outcomes)
    check_log_matches(db, outcomes, after)
    check_after_kill(db)


def write_portfolio(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                *("reference", "borrower_name", "currency", "principal", "overdue_amount"),
                *("days_past_due", "timezone", "jurisdiction"),
            ]
        )
        for i in range(rows):
            out.writerow(
                [
                    *(f"B-{i:06d}", f"借款人{i}", "CNY", f"{1000 + i}.00", f"{100 + i % 97}.50"),
                    *(30 + i % 300, "Asia/Shanghai", "CN"),
                ]
            )


def import_command(db: Db, path: Path) -> list[str]:
    """``fieldcase import`` of ``path`` as institution ``bulk``, by supervisor sup.a.

    On PostgreSQL ``db`` is sup.a's own login: there, who is acting is who logged in.
    """
    acting = [] if str(db).startswith("postgresql://") else ["--as", "sup.a"]
    command = [sys.executable, "-m", "fieldcase", "--db", str(db), *acting, "import"]
    return [*command, str(path), "--institution", "bulk", "--at", "2026-11-23T09:00+08:00"]


def imported_count(db: Db) -> int:
    return int(rows_of(db, "SELECT count(*) FROM cases WHERE institution = 'bulk'")[0][0])


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_bulk_import_killed_again_and_again_completes(tmp_path: Path) -> None:
    db = tmp_path / "bulk.db"
    build_office(db, cases=1)
    total = 20_000
    path = tmp_path / "portfolio.csv"
    write_portfolio(path, total)
    command = [*import_command(db, path), "--batch-size", "50"]
    env = {**os.environ, "FIELDCASE_LOAD_PLUGINS": ""}
    rng = random.Random(7)
    counts = [0]
    for _ in range(5):
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        killed_running = kill_at_random(process, rng, lambda: imported_count(db), counts[-1])
        assert killed_running, "the import finished before the kill: use a bigger file"
        counts.append(imported_count(db))
        check_after_kill(db)
    print(f"\ncases in after each kill: {counts[1:]} of {total}")
    assert counts == sorted(counts) and counts[-1] > 0 and counts[-1] < total
    # Whole batches only: each batch of 50 is one transaction, in or out entirely.
    assert all(count % 50 == 0 for count in counts), counts
    # Resumed to the end: every row in once, each with its one event.
    result = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["unchanged"] == counts[-1]
    assert summary["imported"] == total - counts[-1]
    assert imported_count(db) == total
    types, _ = event_counts(db, 0)
    assert types["case_imported"] == total
    check_after_kill(db)


if __name__ == "__main__":
    main(sys.argv[1:])
