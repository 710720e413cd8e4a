"""One case through all four stages to closure, through the command line."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    Run,
    create_args,
    events,
    query,
    set_policy,
    to_feedback,
    to_interview,
    to_preparation,
    to_submitted,
)

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

NOON = ("--at", "2026-11-23T12:00+08:00")


def test_case_walks_every_stage_to_closure(office: Run, target: str) -> None:
    run = office
    steps = [
        (
            "contact",
            "1",
            "--channel",
            "phone",
            "--outcome",
            "no-answer",
            "--at",
            "2026-11-23T10:00+08:00",
        ),
        (
            "contact",
            "1",
            "--channel",
            "employer",
            "--target",
            "third-party",
            "--relationship",
            "employer",
            "--outcome",
            "reached",
            "--note",
            "HR confirms employment",
            "--at",
            "2026-11-23T10:30+08:00",
        ),
        (
            "confirm",
            "1",
            "--address",
            "上海市浦东新区世纪大道100号",
            "--source",
            "employer",
            "--at",
            "2026-11-23T11:00+08:00",
        ),
        (
            "plan",
            "1",
            "--date",
            "2026-11-25",
            "--window",
            "14:00-16:00",
            "--with",
            "zhang.min",
            "--at",
            "2026-11-23T11:30+08:00",
        ),
        (
            "checklist",
            "1",
            "--tick",
            "id-badge",
            "--tick",
            "contract",
            "--at",
            "2026-11-24T09:00+08:00",
        ),
        ("checklist", "1", "--all", "--at", "2026-11-24T09:05+08:00"),
        (
            "interview",
            "1",
            "--met",
            "borrower",
            "--reason",
            "medical",
            "--employment",
            "employed",
            "--income",
            "8500",
            "--other-debts",
            "12000.50",
            "--attitude",
            "willing-unable",
            "--note",
            "Hospital bills since August",
            "--at",
            "2026-11-25T14:40+08:00",
        ),
        (
            "feedback",
            "1",
            "--recommend",
            "restructure",
            "--summary",
            "Medical costs; can pay 1,500 a month",
            "--at",
            "2026-11-25T18:00+08:00",
        ),
    ]
    for step in steps:
        result = run(*step, as_="li.na")
        assert result.exit_code == 0, (step, result.output)
    result = run("review", "1", "--approve", "--at", "2026-11-26T09:00+08:00", as_="chen.wei")
    assert result.exit_code == 0, result.output
    result = run(
        "close", "1", "--resolution", "restructured", "--at", "2026-11-26T10:00+08:00", as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert "closed as restructured" in result.output

    shown = json.loads(run("show", "1", "--json", as_="chen.wei").output)
    assert shown["stage"] == "closed"
    assert shown["resolution"] == "restructured"
    assert shown["confirmed_address"] == "上海市浦东新区世纪大道100号"
    assert shown["feedback_status"] == "approved"

    case = query(target, "SELECT * FROM cases WHERE id = 1")[0]
    assert case["stage"] == "closed"
    assert case["closed_at"] == "2026-11-26T02:00:00Z"  # stored as UTC
    assert case["overdue_minor"] == 315040
    assert len(query(target, "SELECT id FROM contacts WHERE case_id = 1")) == 2
    visit = query(target, "SELECT * FROM visits WHERE case_id = 1")[0]
    assert visit["status"] == "done"
    assert json.loads(visit["staff"]) == ["li.na", "zhang.min"]
    assert visit["window_start"] == "14:00" and visit["timezone"] == "Asia/Shanghai"
    assert visit["monthly_income_minor"] == 850000
    assert visit["other_debts_minor"] == 1200050
    assert visit["reason_code"] == "medical"
    assert all(item["ticked"] for item in json.loads(visit["checklist"]))
    fb = query(target, "SELECT * FROM feedback WHERE case_id = 1")[0]
    assert fb["review_status"] == "approved" and fb["reviewed_by"] == "chen.wei"

    log = events(target, 1)
    assert [e["type"] for e in log] == [
        "case_created",
        "contact_recorded",
        "contact_recorded",
        "address_confirmed",
        "visit_planned",
        "checklist_ticked",
        "checklist_ticked",
        "interview_recorded",
        "feedback_submitted",
        "feedback_approved",
        "case_closed",
    ]
    assert [e["actor"] for e in log][-2:] == ["chen.wei", "li.na"]
    assert all(e["chain"] == "case:1" for e in log)
    for previous, event in itertools.pairwise(log):
        assert event["prev_hash"] == previous["hash"]
    # Version moves with every change of the case.
    assert case["version"] == len(log)

    verify = run("audit", "verify", "--replay")
    assert verify.exit_code == 0, verify.output
    assert f"OK: {len(events(target))} events" in verify.output


def test_stage_moves_to_interview_only_when_required_items_ticked(office: Run) -> None:
    run = office
    run("confirm", "1", "--address", "x", "--at", "2026-11-23T11:00+08:00", as_="li.na")
    run(
        "plan",
        "1",
        "--date",
        "2026-11-25",
        "--window",
        "14:00-16:00",
        "--at",
        "2026-11-23T11:30+08:00",
        as_="li.na",
    )
    required = ["id-badge", "authorisation", "contract", "statement"]
    for code in required[:-1]:
        run("checklist", "1", "--tick", code, "--at", "2026-11-24T09:00+08:00", as_="li.na")
        assert (
            json.loads(run("show", "1", "--json", as_="chen.wei").output)["stage"] == "preparation"
        )
    result = run(
        "checklist", "1", "--tick", "statement", "--at", "2026-11-24T09:00+08:00", as_="li.na"
    )
    assert "is in interview" in result.output
    # The optional item stays unticked.
    visit = json.loads(run("show", "1", "--json", as_="chen.wei").output)["visits"][0]
    assert {i["code"]: i["ticked"] for i in visit["checklist"]}["repayment-options"] is False


def test_nobody_home_returns_to_preparation_then_escalates(office: Run, tmp_path: Path) -> None:
    set_policy(office, "hx-consumer", "max_failed_visits=2")
    run = office
    run("confirm", "1", "--address", "x", "--at", "2026-11-23T11:00+08:00", as_="li.na")
    for n, (planned_on, day) in enumerate(
        [("2026-11-24", "2026-11-25"), ("2026-11-26", "2026-11-27")], start=1
    ):
        at = f"{planned_on}T08:00+08:00"
        result = run("plan", "1", "--date", day, "--window", "10:00-12:00", "--at", at, as_="li.na")
        assert result.exit_code == 0, result.output
        run("checklist", "1", "--all", "--at", at, as_="li.na")
        result = run("interview", "1", "--met", "nobody", "--at", f"{day}T10:30+08:00", as_="li.na")
        assert result.exit_code == 0, result.output
        shown = json.loads(run("show", "1", "--json", as_="chen.wei").output)
        assert shown["failed_visits"] == n
        assert [v["number"] for v in shown["visits"]] == list(range(1, n + 1))
    assert shown["stage"] == "feedback"
    assert shown["escalated"] is True
    assert "failed-visit limit reached" in result.output
    assert shown["visits"][0]["status"] == "failed"


def test_replanning_keeps_ticks_and_the_visit_number(office: Run) -> None:
    run = office
    run("confirm", "1", "--address", "x", "--at", "2026-11-23T11:00+08:00", as_="li.na")
    run(
        "plan",
        "1",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--at",
        "2026-11-23T12:00+08:00",
        as_="li.na",
    )
    run("checklist", "1", "--tick", "contract", "--at", "2026-11-23T12:00+08:00", as_="li.na")
    run(
        "plan",
        "1",
        "--date",
        "2026-11-26",
        "--window",
        "15:00-16:00",
        "--at",
        "2026-11-23T13:00+08:00",
        as_="li.na",
    )
    visits = json.loads(run("show", "1", "--json", as_="chen.wei").output)["visits"]
    assert len(visits) == 1
    assert visits[0]["date"] == "2026-11-26"
    assert {i["code"] for i in visits[0]["checklist"] if i["ticked"]} == {"contract"}


def test_returned_feedback_can_be_resubmitted_and_reopen(office: Run) -> None:
    run = office
    at = "--at"
    run("confirm", "1", "--address", "x", at, "2026-11-23T11:00+08:00", as_="li.na")
    run(
        "plan",
        "1",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        at,
        "2026-11-23T12:00+08:00",
        as_="li.na",
    )
    run("checklist", "1", "--all", at, "2026-11-23T12:00+08:00", as_="li.na")
    run("interview", "1", "--met", "relative", at, "2026-11-25T10:30+08:00", as_="li.na")
    run(
        "feedback",
        "1",
        "--recommend",
        "revisit",
        "--summary",
        "Spoke to mother",
        at,
        "2026-11-25T12:00+08:00",
        as_="li.na",
    )
    result = run(
        "review",
        "1",
        "--return",
        "--note",
        "Ask when he is back",
        at,
        "2026-11-25T13:00+08:00",
        as_="chen.wei",
    )
    assert "feedback returned" in result.output
    result = run(
        "feedback",
        "1",
        "--recommend",
        "revisit",
        "--summary",
        "Back on Monday",
        at,
        "2026-11-25T14:00+08:00",
        as_="li.na",
    )
    assert result.exit_code == 0, result.output
    run("review", "1", "--approve", at, "2026-11-25T15:00+08:00", as_="chen.wei")
    run("close", "1", "--resolution", "uncollectible", at, "2026-11-25T16:00+08:00", as_="li.na")
    result = run(
        "reopen",
        "1",
        "--reason",
        "Borrower called back",
        at,
        "2026-11-26T09:00+08:00",
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(run("show", "1", "--json", as_="chen.wei").output)
    assert shown["stage"] == "preparation"
    assert shown["resolution"] is None and shown["feedback_status"] is None
    assert [f["review_status"] for f in shown["feedback"]] == ["returned", "approved"]
    # Submitted feedback is immutable: the returned one keeps its text.
    assert shown["feedback"][0]["summary"] == "Spoke to mother"


@pytest.mark.parametrize(
    "arrange", [lambda run: None, to_preparation, to_interview, to_feedback, to_submitted]
)
def test_a_supervisor_closes_as_paid_from_any_open_stage(
    office: Run, arrange: Callable[[Run], None]
) -> None:
    arrange(office)
    result = office(
        "close", "1", "--resolution", "paid", "--at", "2026-11-26T09:00+08:00", as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(office("show", "1", "--json", as_="chen.wei").output)
    assert (shown["stage"], shown["resolution"]) == ("closed", "paid")


def test_worklist_filters_and_priority(office: Run) -> None:
    run = office
    run(
        *create_args("L-1002", **{"overdue-since": "2026-05-01", "name": "Li Lei"}),
        "--assign",
        "zhang.min",
        "--at",
        "2026-11-23T09:00+08:00",
        as_="chen.wei",
    )
    run(
        *create_args("L-1003", **{"overdue-since": "2026-11-22"}),
        "--at",
        "2026-11-23T09:00+08:00",
        as_="chen.wei",
    )
    rows = json.loads(run("cases", "--json", "--at", "2026-11-23T12:00+08:00").output)
    # Oldest arrears first.
    assert [r["case"] for r in rows] == [
        "hx-consumer/L-1002",
        "hx-consumer/L-1001",
        "hx-consumer/L-1003",
    ]
    mine = json.loads(run("cases", "--mine", "--json", *NOON, as_="li.na").output)
    assert [r["id"] for r in mine] == [1]
    bucket = json.loads(
        run("cases", "--bucket", "181+", "--json", "--at", "2026-11-23T12:00+08:00").output
    )
    assert [r["case"] for r in bucket] == ["hx-consumer/L-1002"]
    assert bucket[0]["dpd"] == 206
    table = run("cases", "--at", "2026-11-23T12:00+08:00").output
    assert "L-1002" in table and "王芳" in table


def test_ineligible_case_is_stored_flagged_and_out_of_the_queue(office: Run) -> None:
    result = office(
        *create_args("L-2000", **{"overdue-since": "2026-11-23"}),
        "--at",
        "2026-11-23T09:00+08:00",
        "--json",
        as_="chen.wei",
    )
    created = json.loads(result.output)
    assert created["eligible"] is False
    assert "rule default.eligibility" in created["eligibility_note"]
    queue = json.loads(office("cases", "--json", *NOON).output)
    assert "hx-consumer/L-2000" not in [r["case"] for r in queue]
    everything = json.loads(office("cases", "--all", "--json", *NOON).output)
    assert "hx-consumer/L-2000" in [r["case"] for r in everything]


def test_staff_list_and_history(office: Run) -> None:
    rows = json.loads(office("staff", "--json").output)
    assert {r["id"]: r["open_cases"] for r in rows} == {"chen.wei": 0, "li.na": 1, "zhang.min": 0}
    history = json.loads(office("history", "hx-consumer/L-1001", "--json").output)
    assert [h["type"] for h in history] == ["case_created"]
    assert history[0]["actor"] == "chen.wei"
