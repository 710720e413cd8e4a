"""Every refused action: exit code 1, a reason a person can act on, and only a refusal event."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from conftest import (
    AT,
    Run,
    create_args,
    snapshot,
    to_closed,
    to_feedback,
    to_interview,
    to_preparation,
    to_submitted,
)

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

#: After every arranged step: actions are recorded in the order they happened.
LATE = ("--at", "2026-11-26T09:00+08:00")


def nothing(run: Run) -> None:
    pass


REFUSALS: list[tuple[str, Callable[[Run], None], str, list[str], str, str]] = [
    # (id, arrange, actor, command, rule, message fragment)
    (
        "interview before a plan",
        to_preparation,
        "li.na",
        ["interview", "1", "--met", "borrower", "--reason", "medical", *LATE],
        "stage.start_visit",
        "it is in stage preparation; plan the visit",
    ),
    (
        "interview in confirmation",
        nothing,
        "li.na",
        ["interview", "1", "--met", "nobody", *LATE],
        "stage.start_visit",
        "confirm the address first",
    ),
    (
        "plan before the address is confirmed",
        nothing,
        "li.na",
        ["plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", *LATE],
        "stage.plan_visit",
        "it is in stage confirmation",
    ),
    (
        "checklist without a plan",
        to_preparation,
        "li.na",
        ["checklist", "1", "--all", *LATE],
        "stage.tick_checklist",
        "has no planned visit; plan one first",
    ),
    (
        "confirm twice",
        to_preparation,
        "li.na",
        ["confirm", "1", "--address", "y", *LATE],
        "stage.confirm_address",
        "it is in stage preparation",
    ),
    (
        "feedback before the interview",
        to_interview,
        "li.na",
        ["feedback", "1", "--recommend", "close", "--summary", "s", *LATE],
        "stage.submit_feedback",
        "record the interview first",
    ),
    (
        "feedback twice",
        to_submitted,
        "li.na",
        ["feedback", "1", "--recommend", "close", "--summary", "changed", *LATE],
        "feedback.immutable",
        "submitted feedback cannot be changed",
    ),
    (
        "acting on another staff member's case",
        nothing,
        "zhang.min",
        ["contact", "1", "--channel", "phone", "--outcome", "reached", *LATE],
        "permission.assigned",
        "assigned to li.na, not to you (zhang.min)",
    ),
    (
        "field staff reviewing",
        to_submitted,
        "li.na",
        ["review", "1", "--approve", *LATE],
        "permission.supervisor",
        "only a supervisor may review",
    ),
    (
        "review with nothing submitted",
        to_feedback,
        "chen.wei",
        ["review", "1", "--approve", *LATE],
        "stage.review",
        "no feedback awaiting review",
    ),
    (
        "close before feedback is approved",
        to_submitted,
        "li.na",
        ["close", "1", "--resolution", "restructured", *LATE],
        "stage.close",
        "without approved feedback",
    ),
    (
        "withdraw by field staff",
        nothing,
        "li.na",
        ["close", "1", "--resolution", "withdrawn", *LATE],
        "permission.supervisor",
        "only a supervisor may close",
    ),
    (
        "reopen an open case",
        nothing,
        "chen.wei",
        ["reopen", "1", "--reason", "why not", *LATE],
        "stage.reopen",
        "it is in stage confirmation",
    ),
    (
        "contact on a closed case",
        to_closed,
        "li.na",
        ["contact", "1", "--channel", "sms", "--outcome", "left-message", *LATE],
        "stage.contact",
        "reopen the case first",
    ),
    (
        "assign by field staff",
        nothing,
        "li.na",
        ["assign", "1", "--to", "li.na", *LATE],
        "permission.supervisor",
        "only a supervisor may assign",
    ),
    (
        "record a visit before its planned date",
        to_interview,
        "li.na",
        ["interview", "1", "--met", "nobody", "--at", "2026-11-24T10:00+08:00"],
        "default.visit_date",
        "the visit is planned for 2026-11-25, not 2026-11-24",
    ),
    (
        "plan a date in the past",
        to_preparation,
        "li.na",
        ["plan", "1", "--date", "2026-11-20", "--window", "10:00-12:00", *LATE],
        "default.plan_date",
        "visit date 2026-11-20 is in the past",
    ),
]


@pytest.mark.parametrize(
    ("arrange", "actor", "command", "rule", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_refused_action_writes_only_its_refusal(
    office: Run,
    target: str,
    arrange: Callable[[Run], None],
    actor: str,
    command: list[str],
    rule: str,
    message: str,
) -> None:
    arrange(office)
    before = snapshot(target)
    result = office(*command, as_=actor)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Refused: ")
    assert message in result.stderr
    assert f"(rule {rule})" in result.stderr
    after = snapshot(target)
    for table in before:
        if table != "events":
            assert after[table] == before[table], f"{table} changed"
    assert after["events"][: len(before["events"])] == before["events"]
    new = after["events"][len(before["events"]) :]
    assert len(new) == 1
    _, case_id, chain, type_, who, _, payload, *_ = new[0]
    assert (case_id, chain, type_, who) == (1, "case:1", "refused", actor)
    data = json.loads(payload)
    assert data["rows"] == []
    assert data["data"]["reasons"][0]["rule"] == rule
    # The refusal is part of the case's story.
    assert "refused" in office("history", "1").output


def test_create_by_field_staff_is_refused_on_its_institutions_chain(
    office: Run, target: str
) -> None:
    before = snapshot(target)
    result = office(*create_args("L-9"), *AT, as_="li.na")
    assert result.exit_code == 1
    assert "only a supervisor may create cases" in result.stderr
    after = snapshot(target)
    assert after["cases"] == before["cases"]
    (new,) = after["events"][len(before["events"]) :]
    assert new[2] == "institution:hx-consumer" and new[3] == "refused"


USAGE_ERRORS = [
    (["interview", "1", "--met", "borrower", "--reason", "laziness"], "not a known code"),
    (["interview", "1", "--met", "borrower"], "give --reason CODE"),
    (
        ["interview", "1", "--met", "borrower", "--reason", "medical", "--income", "-5"],
        "is negative",
    ),
    (
        ["interview", "1", "--met", "borrower", "--reason", "medical", "--income", "12.345"],
        "more decimal places than CNY allows",
    ),
    (
        ["interview", "1", "--met", "borrower", "--reason", "medical", "--income", "lots"],
        "is not a number",
    ),
    (["plan", "1", "--date", "2026-11-25", "--window", "16:00-14:00"], "must end after it starts"),
    (["plan", "1", "--date", "2026-11-25", "--window", "2pm"], "is not HH:MM-HH:MM"),
    (["plan", "1", "--date", "25/11/2026", "--window", "10:00-12:00"], "25/11/2026"),
    (["contact", "1", "--channel", "pigeon", "--outcome", "reached"], "pigeon"),
    (
        ["contact", "1", "--channel", "phone", "--outcome", "reached", "--at", "2026-11-23 10:00"],
        "has no time zone",
    ),
    (["review", "1", "--return"], "returning feedback needs --note"),
    (["checklist", "1", "--tick", "parachute"], "no checklist item parachute"),
]


@pytest.mark.parametrize(
    ("command", "message"), USAGE_ERRORS, ids=[" ".join(c[:3]) for c, _ in USAGE_ERRORS]
)
def test_bad_input_exits_2_and_writes_nothing(
    office: Run, target: str, command: list[str], message: str
) -> None:
    to_interview(office) if command[0] in ("interview", "checklist") else None
    if command[0] == "review":
        to_submitted(office)
    if command[0] == "plan":
        to_preparation(office)
    if command[0] == "checklist":
        # Back to a planned visit in preparation: plan a fresh case.
        office(*create_args("L-2"), "--assign", "li.na", *AT, as_="chen.wei")
        office("confirm", "2", "--address", "x", *AT, as_="li.na")
        office("plan", "2", "--date", "2026-11-25", "--window", "10:00-12:00", *AT, as_="li.na")
        command = ["checklist", "2", *command[2:]]
    if "--at" not in command:
        command = [*command, *LATE]
    before = snapshot(target)
    actor = "chen.wei" if command[0] == "review" else "li.na"
    result = office(*command, as_=actor)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert snapshot(target) == before


def test_unknown_case_and_unknown_actor_exit_1_and_write_nothing(
    office: Run, target: str, store_kind: str
) -> None:
    before = snapshot(target)
    result = office("contact", "99", "--channel", "phone", "--outcome", "reached", as_="li.na")
    assert result.exit_code == 1
    assert "no case '99'" in result.stderr
    result = office("contact", "1", "--channel", "phone", "--outcome", "reached", as_="ghost")
    assert result.exit_code == 1
    # On PostgreSQL someone who is no staff member has no login to connect with.
    unknown = {"sqlite": "no staff member 'ghost'", "postgresql": 'for user "ghost"'}
    assert unknown[store_kind] in result.stderr
    result = office("contact", "1", "--channel", "phone", "--outcome", "reached")
    assert result.exit_code == 2
    assert "pass --as STAFF or set FIELDCASE_STAFF" in result.stderr
    assert snapshot(target) == before


def test_missing_database_is_a_clear_error(run: Run) -> None:
    result = run("cases")
    assert result.exit_code == 1
    assert "run 'fieldcase --db" in result.stderr and "init' first" in result.stderr


def test_staff_add_needs_a_supervisor_once_staff_exist(office: Run) -> None:
    result = office("staff", "add", "x", "--name", "X", as_="li.na")
    assert result.exit_code == 1
    assert "only a supervisor may add staff" in result.stderr
    result = office("staff", "add", "y", "--name", "Y")
    assert result.exit_code == 2
