"""The worklist: search (Chinese included), due today, priority, and the day's plan."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import AT, Run, create_args
from fieldcase import hookimpl
from fieldcase.lifecycle import Stage
from fieldcase.model import (
    Borrower,
    Case,
    Institution,
    Payment,
    PolicyVersion,
    Promise,
    Staff,
    Visit,
)
from fieldcase.plugins import get_plugin_manager
from fieldcase.ranking import priority
from fieldcase.repayment import statuses_by_arrangement
from fieldcase.rows import to_iso
from fieldcase.services import Services
from fieldcase.store import Store, WorklistFilter, institution_chain
from fieldcase.worklists import reads_from_index

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

NOON = ("--at", "2026-11-25T07:00+08:00")


def refs(run: Run, *args: str, as_: str | None = None) -> list[str]:
    result = run("cases", "--json", *args, as_=as_)
    assert result.exit_code == 0, result.output
    return [row["case"] for row in json.loads(result.stdout)]


def more_cases(run: Run) -> None:
    run(
        *create_args("L-2002", name="李建国", address="广州市天河区体育西路8号"),
        "--assign",
        "li.na",
        *AT,
        as_="chen.wei",
    )
    run(
        *create_args("L-2003", name="Mary Johnson", address="12 Oak Ave, Chicago"),
        "--assign",
        "zhang.min",
        *AT,
        as_="chen.wei",
    )


def test_search_finds_chinese_names_and_addresses(office: Run) -> None:
    more_cases(office)
    # Addresses are searched for those who see them in clear (see test_oracles.py).
    assert refs(office, "--search", "浦东新区", *NOON, as_="chen.wei") == ["hx-consumer/L-1001"]
    assert refs(office, "--search", "王芳", *NOON) == ["hx-consumer/L-1001"]  # two characters
    assert refs(office, "--search", "体育西路", *NOON, as_="chen.wei") == ["hx-consumer/L-2002"]
    assert refs(office, "--search", "johnson", *NOON) == ["hx-consumer/L-2003"]
    assert refs(office, "--search", "L-2002", *NOON) == ["hx-consumer/L-2002"]
    assert refs(office, "--search", "深圳", *NOON, as_="chen.wei") == []


def test_search_follows_changes(office: Run) -> None:
    office(
        "confirm",
        "1",
        "--address",
        "杭州市西湖区文三路478号",
        "--at",
        "2026-11-23T12:00+08:00",
        as_="li.na",
    )
    assert refs(office, "--search", "文三路", *NOON, as_="li.na") == ["hx-consumer/L-1001"]


def test_due_today_and_visits_today_first(office: Run) -> None:
    more_cases(office)
    office("confirm", "2", "--address", "广州", "--at", "2026-11-23T12:00+08:00", as_="li.na")
    office(
        "plan",
        "2",
        "--date",
        "2026-11-25",
        "--window",
        "14:00-16:00",
        "--at",
        "2026-11-23T12:10+08:00",
        as_="li.na",
    )
    office(
        "promise",
        "3",
        "--amount",
        "100",
        "--date",
        "2026-11-25",
        "--at",
        "2026-11-23T12:00+08:00",
        as_="zhang.min",
    )
    assert sorted(refs(office, "--due-today", *NOON)) == [
        "hx-consumer/L-2002",
        "hx-consumer/L-2003",
    ]
    assert refs(office, "--due-today", "--at", "2026-11-26T07:00+08:00") == []
    # The visit planned today leads the worklist, whatever the arrears.
    assert refs(office, *NOON)[0] == "hx-consumer/L-2002"


def test_broken_promises_rank_before_older_arrears(office: Run) -> None:
    office(
        *create_args("L-3001", **{"overdue-since": "2026-01-01"}),
        "--assign",
        "li.na",
        *AT,
        as_="chen.wei",
    )
    assert refs(office, *NOON)[0] == "hx-consumer/L-3001"  # older arrears first
    office(
        "promise",
        "1",
        "--amount",
        "100",
        "--date",
        "2026-11-24",
        "--at",
        "2026-11-23T12:00+08:00",
        as_="li.na",
    )
    assert refs(office, *NOON)[0] == "hx-consumer/L-1001"  # its promise is broken


def test_today_lists_the_days_visits_and_promises(office: Run) -> None:
    more_cases(office)
    for case, window in (("1", "15:00-17:00"), ("2", "09:00-11:00")):
        office(
            "confirm",
            case,
            "--address",
            f"地址{case}",
            "--at",
            "2026-11-23T12:00+08:00",
            as_="li.na",
        )
        office(
            "plan",
            case,
            "--date",
            "2026-11-25",
            "--window",
            window,
            "--with",
            "zhang.min",
            "--at",
            "2026-11-23T12:10+08:00",
            as_="li.na",
        )
    office("checklist", "2", "--all", "--at", "2026-11-23T12:20+08:00", as_="li.na")
    office(
        "promise",
        "1",
        "--amount",
        "500",
        "--date",
        "2026-11-25",
        "--at",
        "2026-11-23T12:30+08:00",
        as_="li.na",
    )
    plan = json.loads(office("today", "--json", *NOON, as_="li.na").stdout)
    assert [v["case"] for v in plan["visits"]] == [2, 1]  # in window order
    assert plan["visits"][0]["address"] == "地址2" and plan["visits"][0]["with"] == "zhang.min"
    assert plan["visits"][0]["to_tick"] == ""
    assert plan["visits"][1]["to_tick"] == "id-badge, authorisation, contract, statement"
    assert plan["promises"] == [
        {"case": 1, "borrower": "王芳", "amount": "CNY 500.00", "due": "2026-11-25"}
    ]
    # zhang.min visits too, but has no promises on cases assigned to him.
    other = json.loads(office("today", "--json", *NOON, as_="zhang.min").stdout)
    assert len(other["visits"]) == 2 and other["promises"] == []
    text = office("today", *NOON, as_="li.na").stdout
    assert "2 visits, 1 promise falling due" in text


# -- the index-ordered worklist gives exactly the order of ranking every case -------

ZONES = ("Asia/Shanghai", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago")


def random_portfolio(
    store: Store, seed: int, cases: int = 300, oldest: int = 400, boosts: float = 1.0
) -> None:
    """Cases, visits, promises and payments written through the store's one write path."""
    rng = random.Random(seed)
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    store.commit("staff_added", actor=None, at=t0, records=[Staff("w1", "W1", "field")])
    store.commit("staff_added", actor=None, at=t0, records=[Staff("w2", "W2", "field")])
    for name in ("a", "b"):
        store.commit(
            "institution_added",
            actor=None,
            at=t0,
            records=[
                Institution(name, name, "CN", "Asia/Shanghai", "CNY"),
                PolicyVersion(name, 1, {}, t0, None),
            ],
            chain=institution_chain(name),
            policy_version=1,
        )
    today = dt.date(2026, 11, 23)
    for i in range(cases):
        zone = rng.choice(ZONES)
        case = Case(
            institution=rng.choice(["a", "b"]),
            reference=f"R{i}",
            borrower=Borrower(name=f"Borrower {i}", timezone=zone, address=f"{i} Road"),
            currency="CNY",
            principal=Decimal(100000),
            # A few amounts tie, a few cases are not overdue yet.
            overdue_amount=Decimal(rng.choice([500, 500, rng.randint(1, 10**9)])) / 100,
            overdue_since=today - dt.timedelta(days=rng.randint(-15, oldest)),
            referred_at=t0,
            stage=rng.choice(list(Stage)),
            assigned_to=rng.choice(["w1", "w2", None]),
            eligible=rng.random() > 0.1,
        )
        _, (saved,) = store.commit("case_created", actor=None, at=t0, records=[case])
        assert isinstance(saved, Case) and saved.id is not None
        records: list[Any] = []
        if rng.random() < 0.2 * boosts:
            records.append(
                Visit(
                    case_id=saved.id,
                    number=1,
                    date=today + dt.timedelta(days=rng.randint(-1, 1)),
                    window_start=dt.time(10),
                    window_end=dt.time(12),
                    timezone=zone,
                    staff=("w1",),
                    planned_by="w1",
                    planned_at=t0,
                    status=rng.choice(["planned", "planned", "done"]),
                )
            )
        if rng.random() < 0.25 * boosts:
            for n in range(rng.randint(1, 3)):
                due = today + dt.timedelta(days=rng.randint(-10, 4))
                records.append(Promise(saved.id, Decimal(100), due, t0, "w1", number=n + 1))
            for n in range(rng.randint(0, 3)):
                paid = t0 + dt.timedelta(days=rng.randint(0, 30))
                records.append(Payment(saved.id, Decimal(100), paid, f"P{i}-{n}", "w1"))
        if records:
            store.commit("money", actor=None, at=t0, records=records, case_id=saved.id)


class SameAsBuiltin:
    """The built-in formula as a plugin: the worklist must then rank every case."""

    @hookimpl
    def case_priority(
        self, case: Case, at: dt.datetime, visit_today: bool, broken_promises: int
    ) -> float:
        return priority(
            case.days_past_due(at), float(case.overdue_amount), visit_today, broken_promises
        )


@pytest.mark.parametrize(
    ("seed", "oldest", "boosts"), [(1, 400, 1.0), (2, 400, 1.0), (3, 400, 1.0), (4, 3, 0.05)]
)
def test_index_order_equals_ranking_every_case(
    tmp_path: Path, seed: int, oldest: int, boosts: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four time zones, visits, promises met and broken, ties, and (oldest=3) a
    young portfolio where cases not yet overdue but large come first."""
    store = Store(tmp_path / "w.db")
    store.migrate()
    random_portfolio(store, seed, 400, oldest, boosts)
    fast = Services(store, get_plugin_manager(load_entrypoints=False), clock=None)
    slow_pm = get_plugin_manager(load_entrypoints=False)
    slow_pm.register(SameAsBuiltin())
    slow = Services(store, slow_pm, clock=None)
    assert reads_from_index(fast) and not reads_from_index(slow)
    filters = [
        WorklistFilter(),
        WorklistFilter(staff="w1"),
        WorklistFilter(institution="b", stage="confirmation"),
        WorklistFilter(bucket="1-30"),
        WorklistFilter(due_today=True),
        WorklistFilter(search="Borrower 1"),
        WorklistFilter(include_ineligible=True),
    ]
    # Times when the zones' calendars disagree, by up to two days.
    times = [
        dt.datetime(2026, 11, 23, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 23, 11, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 22, 23, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 20, 12, tzinfo=dt.UTC),
    ]
    compared = 0
    for at in times:
        for f in filters:
            everything = slow.worklist(f, at, limit=None)
            for limit in (1, 7, 20, 60, 500):
                expected = [(c.id, p) for c, p in everything[:limit]]
                got = [(c.id, p) for c, p in fast.worklist(f, at, limit=limit)]
                assert got == expected, (at, f, limit)
                compared += len(got)
    assert compared > 1000
    # And the fast one really did not rank every case.
    monkeypatch.setattr(store, "list_cases", None)
    assert fast.worklist(WorklistFilter(), times[0], limit=20)
    store.close()


def test_stored_met_times_give_the_statuses_at_any_time(tmp_path: Path) -> None:
    """``met_at <= at`` is exactly "kept at ``at``", for promises of every kind of case."""
    store = Store(tmp_path / "w.db")
    store.migrate()
    random_portfolio(store, 7, cases=200)
    checked = Counter[str]()
    for case_id in store.case_ids_with_promises():
        case = store.get_case(case_id)
        met = {
            row["id"]: row["met_at"]
            for row in store.db.query(
                "SELECT id, met_at FROM promises WHERE case_id = ?", [case_id]
            )
        }
        for day in range(0, 45, 3):
            at = dt.datetime(2026, 11, 1, 7, tzinfo=dt.UTC) + dt.timedelta(days=day)
            for s in statuses_by_arrangement(
                store.promises(case_id, "CNY"),
                store.payments(case_id, "CNY"),
                case.borrower.timezone,
                at,
            ):
                stamp = met[s.promise.id]
                assert (s.status == "kept") == (stamp is not None and stamp <= to_iso(at))
                checked[s.status] += 1
    assert min(checked.values()) > 20, checked
    store.close()
