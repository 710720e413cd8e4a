"""A field pack made, worked offline and synced back: figures, not pass/fail.

    .venv/bin/python benchmarks/offline.py                  # 50 cases, 500 actions
    .venv/bin/python benchmarks/offline.py --cases 200 --actions 2000

The office is built as an office builds it: the staff and an institution through
the CLI, the cases through ``fieldcase import`` of a file mixing Chinese, US and
Indian borrowers (``transfer.py``'s generator), all assigned to one field
worker, who then phones each borrower once and confirms one address in three.
A pack of all those cases is made (its time and size), and the field worker
does ``--actions`` field actions on it, spread over the cases in the order of a
working week: contacts with various outcomes and channels, confirm, plan,
checklist, interview (one visit in five finds nobody home, so the feedback that
follows is refused, as it would be), promise, a call to a relative, feedback.
They are driven through the services in process, as the CLI would call them.
The pack is then synced into the office (``fieldcase.sync.sync_pack``: each
action done again there, judged by the office's rules).

The baseline, measured in the same run: the same actions done online, through
the same services, on a copy of the office taken before the pack was made. The
office after the sync must then equal that copy in every state table (all but
the sync's own ``synced_actions`` and ``sync_conflicts``): ``equal: yes``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transfer import fieldcase, generate

if TYPE_CHECKING:
    from fieldcase.services import Services

#: The office's supervisor and the field worker whose cases go out in the pack.
BOSS, WORKER = "chen.wei", "li.na"
INSTITUTION = "bench"
#: When the cases are referred; the field worker's week starts the next day.
AT = dt.datetime.fromisoformat("2026-11-23T09:00+08:00")
DAY = dt.datetime.fromisoformat("2026-11-24T01:00+00:00")
#: Visits are planned for the next day in every borrower's zone, and made the day
#: after (04:00 UTC is on or after that day from California to Shanghai).
VISIT_DATE = dt.date(2026, 11, 25)
VISITED = dt.datetime.fromisoformat("2026-11-26T04:00+00:00")
#: Tables a sync writes that online work does not: which pack actions came in.
SYNC_TABLES = ("synced_actions", "sync_conflicts")

#: One field action: (services, case id, when, case number) -> the call, done.
Step = Callable[["Services", int, dt.datetime, int], Any]


def contact(channel: str, outcome: str, target: str = "borrower", relationship: str = "") -> Step:
    def step(services: Services, case: int, at: dt.datetime, n: int) -> Any:
        return services.record_contact(
            case, actor=WORKER, at=at, channel=channel, target=target, outcome=outcome,
            relationship=relationship,
        )  # fmt: skip

    return step


def confirm(services: Services, case: int, at: dt.datetime, n: int) -> Any:
    return services.confirm_address(
        case, actor=WORKER, at=at, address=f"Building {n}, unit {n % 7 + 1}", source="phone"
    )


def plan(services: Services, case: int, at: dt.datetime, n: int) -> Any:
    return services.plan_visit(
        case, actor=WORKER, at=at, date=VISIT_DATE, window=(dt.time(10), dt.time(12))
    )


def checklist(services: Services, case: int, at: dt.datetime, n: int) -> Any:
    return services.tick_checklist(case, actor=WORKER, at=at, tick_all=True)


def interview(services: Services, case: int, at: dt.datetime, n: int) -> Any:
    if n % 5 == 0:
        return services.record_interview(
            case, actor=WORKER, at=at, met="nobody", notes="Door locked; neighbours say away"
        )
    return services.record_interview(
        case, actor=WORKER, at=at, met="borrower", reason=("medical", "income-loss")[n % 2],
        employment="employed", monthly_income=Decimal(3000 + 100 * n),
        other_debts=Decimal(500 * (n % 4)), attitude="cooperative",
        notes="Found at home; shows the pay slips",
    )  # fmt: skip


def promise(services: Services, case: int, at: dt.datetime, n: int) -> Any:
    return services.record_promise(
        case, actor=WORKER, at=at, amount=Decimal(100 + n), due=VISIT_DATE + dt.timedelta(days=10)
    )


def feedback(services: Services, case: int, at: dt.datetime, n: int) -> Any:
    return services.submit_feedback(
        case, actor=WORKER, at=at, recommendation="restructure",
        summary="Can pay in instalments from next month",
    )  # fmt: skip


#: A case's week, in order: (step, on the visit's day). A case whose address was
#: confirmed before the pack went out has a letter sent instead of a confirmation.
WEEK: list[tuple[str, Step, bool]] = [
    ("contact", contact("phone", "no-answer"), False),
    ("contact", contact("phone", "reached"), False),
    ("confirm", confirm, False),
    ("plan", plan, False),
    ("checklist", checklist, False),
    ("contact", contact("sms", "left-message"), False),
    ("interview", interview, True),
    ("promise", promise, True),
    ("contact", contact("phone", "reached", "third-party", "spouse"), True),
    ("feedback", feedback, True),
]
#: What is done on a case once its week is done, as often as --actions asks.
MORE = contact("wechat", "no-answer")
LETTER = contact("letter", "left-message")


def schedule(cases: list[int], confirmed: set[int], actions: int) -> list[tuple[int, int, Step]]:
    """``actions`` (case, place in its week, step), spread evenly, in the order they are done."""
    share, extra = divmod(actions, len(cases))
    todo = []
    for k in range(share + (extra > 0)):
        for i, case in enumerate(cases):
            if k >= share and i >= extra:
                continue
            if k < len(WEEK):
                _, step, _ = WEEK[k]
                if step is confirm and case in confirmed:
                    step = LETTER
            else:
                step = MORE
            todo.append((case, k, step))
    return todo


def when(k: int, i: int) -> dt.datetime:
    """The time of the ``k``-th step of the ``i``-th case: steps 40 minutes apart, those
    of the visit's day (and any after the week) from the morning of that day."""
    later = [n for n, (*_, on_visit_day) in enumerate(WEEK) if on_visit_day]
    if k in later or k >= len(WEEK):
        return VISITED + dt.timedelta(minutes=40 * (k - later[0]), seconds=20 * i)
    return DAY + dt.timedelta(minutes=40 * k, seconds=20 * i)


def work(services: Services, todo: list[tuple[int, int, Step]], index: dict[int, int]) -> int:
    """Do every action of ``todo``; how many the rules refused."""
    from fieldcase.errors import Refused

    refused = 0
    for case, k, step in todo:
        try:
            step(services, case, when(k, index[case]), index[case])
        except Refused:
            refused += 1
    return refused


def build(db: Path, cases: int) -> list[int]:
    """The office: staff and institution through the CLI, the cases imported and assigned."""
    path = str(db)
    fieldcase(path, "init")
    fieldcase(path, "staff", "add", BOSS, "--name", "Chen Wei", "--role", "supervisor")
    for member in (WORKER, "zhang.min"):
        fieldcase(path, "--as", BOSS, "staff", "add", member, "--name", member, "--role", "field")
    fieldcase(
        path, "--as", BOSS, "institution", "add", INSTITUTION, "--name", "Bench Finance",
        "--jurisdiction", "CN", "--timezone", "Asia/Shanghai", "--currency", "CNY",
        "--at", AT.isoformat(),
    )  # fmt: skip
    referrals = db.with_name("referrals.csv")
    generate(referrals, cases, broken_every=0)
    fieldcase(
        path, "--as", BOSS, "import", str(referrals), "--institution", INSTITUTION,
        "--at", AT.isoformat(),
    )  # fmt: skip
    conn = sqlite3.connect(db)
    ids = [row[0] for row in conn.execute("SELECT id FROM cases ORDER BY id")]
    conn.close()
    assigned = (AT + dt.timedelta(minutes=5)).isoformat()
    fieldcase(path, "--as", BOSS, "assign", *map(str, ids), "--to", WORKER, "--at", assigned)
    return ids


def history(services: Services, ids: list[int]) -> set[int]:
    """The field worker's first day on the cases: a call each, one address in three confirmed."""
    confirmed = set()
    for i, case in enumerate(ids):
        at = AT + dt.timedelta(hours=1, seconds=20 * i)
        services.record_contact(
            case, actor=WORKER, at=at, channel="phone", target="borrower", outcome="no-answer"
        )
        if i % 3 == 0:
            services.confirm_address(
                case, actor=WORKER, at=at + dt.timedelta(hours=1), address=f"Room {i}"
            )
            confirmed.add(case)
    return confirmed


def state(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every state table but the sync's own."""
    from fieldcase.store.tables import STATE_TABLES

    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT * FROM [{table}] ORDER BY id").fetchall()
            for table in STATE_TABLES
            if table not in SYNC_TABLES
        }
    finally:
        conn.close()


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--actions", type=int, default=500)
    args = parser.parse_args()

    # The modules the actions use, imported before anything is timed: no step pays for them.
    import fieldcase.arrangements
    import fieldcase.feedback
    import fieldcase.interview  # noqa: F401
    from fieldcase.offline import make_pack, services_for
    from fieldcase.plugins import manager
    from fieldcase.store import Store
    from fieldcase.sync import sync_pack

    pm = manager()
    with tempfile.TemporaryDirectory() as tmp:
        office, online, pack = (
            Path(tmp) / name for name in ("office.db", "online.db", "li.fcpack")
        )
        started = time.perf_counter()
        ids = build(office, args.cases)
        services = services_for(Store(office), pm, clock=None)
        confirmed = history(services, ids)
        services.store.close()
        shutil.copyfile(office, online)
        print(
            f"Office of {len(ids)} open cases of {WORKER} ({len(confirmed)} confirmed) built in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        index = {case: i for i, case in enumerate(ids)}
        todo = schedule(ids, confirmed, args.actions)

        services = services_for(Store(office), pm, clock=None)
        start = time.perf_counter()
        made = make_pack(
            services, WORKER, pack, actor=BOSS, at=DAY - dt.timedelta(hours=1),
            cases=[str(case) for case in ids],
        )  # fmt: skip
        pack_s = time.perf_counter() - start
        services.store.close()

        on_pack = services_for(Store(pack), pm, clock=None)
        start = time.perf_counter()
        refused_offline = work(on_pack, todo, index)
        offline_s = time.perf_counter() - start
        on_pack.store.close()

        services = services_for(Store(office), pm, clock=None)
        events_before = count(office, "SELECT count(*) FROM events")
        start = time.perf_counter()
        summary = sync_pack(services, pack, actor=WORKER, at=VISITED + dt.timedelta(days=1))
        sync_s = time.perf_counter() - start
        events = count(office, "SELECT count(*) FROM events") - events_before
        start = time.perf_counter()
        again = sync_pack(services, pack, actor=WORKER, at=VISITED + dt.timedelta(days=1))
        again_s = time.perf_counter() - start
        services.store.close()

        baseline = services_for(Store(online), pm, clock=None)
        start = time.perf_counter()
        refused_online = work(baseline, todo, index)
        online_s = time.perf_counter() - start
        baseline.store.close()

        equal = state(office) == state(online)

    print(
        f"\n{len(todo)} field actions on {len(ids)} cases "
        f"({refused_offline} refused by the rules on the pack, {refused_online} online)"
    )
    print(f"\n{'step':40} {'seconds':>9} {'figures'}")
    print(
        f"{'pack made':40} {pack_s:9.3f} {made.size:,} bytes, {made.size / 1024 / len(ids):.1f}"
        f" kB per case, {made.events:,} events copied"
    )
    print(
        f"{'offline actions, on the pack':40} {offline_s:9.3f} "
        f"{len(todo) / offline_s:,.0f} actions/s"
    )
    print(
        f"{'sync into the office':40} {sync_s:9.3f} {summary.actions / sync_s:,.0f} actions/s, "
        f"{events / sync_s:,.0f} events/s ({summary.applied} taken in, {summary.refused} "
        f"refused on the pack, {summary.held} held, {events} events)"
    )
    print(f"{'sync again (nothing to take in)':40} {again_s:9.3f} {again.already} taken in before")
    print(
        f"{'online baseline, the same actions':40} {online_s:9.3f} "
        f"{len(todo) / online_s:,.0f} actions/s"
    )
    print(f"\nratio sync / online: {sync_s / online_s:.2f}")
    print(f"ratio offline actions / online: {offline_s / online_s:.2f}")
    print(
        f"ratio pack made + offline + sync / online: {(pack_s + offline_s + sync_s) / online_s:.2f}"
    )
    same = "yes" if equal else "no"
    print(f"\noffice after sync equals the online copy (state tables): equal: {same}")


if __name__ == "__main__":
    main()
