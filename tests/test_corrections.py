"""Mistakes put right by events of their own: ``void`` and ``amend``, through the CLI.

The office fixture verifies the chains and compares the tables with a replay of
the log after every test: a correction that the log could not rebuild fails it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import AT, Run, events, query, snapshot, to_feedback, to_interview, to_preparation

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

#: Columns every action moves on: not part of "as if it had not happened".
BOOKKEEPING = {"version", "updated_at", "arrears_key"}


def case_state(target: str) -> dict[str, Any]:
    """Case 1's rows in every state table, without the bookkeeping columns."""
    state: dict[str, Any] = {}
    for table in ("cases", "contacts", "visits", "promises", "offers", "feedback"):
        column = "id" if table == "cases" else "case_id"
        rows = query(target, f"SELECT * FROM {table} WHERE {column} = 1 ORDER BY id")
        state[table] = [
            {k: row[k] for k in row.keys() if k not in BOOKKEEPING}  # noqa: SIM118
            for row in rows
        ]
    return state


def last_event(target: str, event_type: str) -> int:
    return max(int(e["id"]) for e in events(target, 1) if e["type"] == event_type)


def contact(office: Run, at: str = "2026-11-23T12:00+08:00", outcome: str = "reached") -> None:
    result = office(
        "contact", "1", "--channel", "phone", "--target", "borrower", "--outcome", outcome,
        "--at", at, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def shown(office: Run) -> dict[str, Any]:
    result = office("show", "1", "--json", *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_contact_on_the_wrong_case_is_voided_as_if_it_never_happened(
    office: Run, target: str
) -> None:
    before = case_state(target)
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    assert case_state(target) != before

    result = office("void", "1", str(mistaken), "--reason", "Wrong case", *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert f"event {mistaken} (contact_recorded) voided; 1 record removed" in result.output
    assert case_state(target) == before
    # The original stays in the chain; the correction names it.
    kinds = [(e["type"], json.loads(e["payload"])["data"].get("event")) for e in events(target, 1)]
    assert ("contact_recorded", None) in kinds and ("event_voided", mistaken) in kinds
    history = office("history", "1", as_="chen.wei").output
    assert f"[voided by event {mistaken + 1}]" in history
    # Once is enough.
    again = office("void", "1", str(mistaken), "--reason", "Twice", *AT, as_="chen.wei")
    assert again.exit_code == 1
    assert "already voided" in again.output


def test_only_a_supervisor_voids_and_a_refusal_writes_only_itself(office: Run, target: str) -> None:
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    before = snapshot(target)
    result = office("void", "1", str(mistaken), "--reason", "Oops", *AT, as_="li.na")
    assert result.exit_code == 1
    assert "only a supervisor may void an event" in result.output
    after = snapshot(target)
    assert {t: rows for t, rows in after.items() if t != "events"} == {
        t: rows for t, rows in before.items() if t != "events"
    }
    written = after["events"][len(before["events"]) :]
    assert [row[3] for row in written] == ["refused"]


def test_voiding_the_interview_takes_the_case_back_to_the_interview(
    office: Run, target: str
) -> None:
    to_interview(office)
    before = case_state(target)
    result = office(
        "interview", "1", "--met", "borrower", "--reason", "medical",
        "--at", "2026-11-25T10:30+08:00", as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    interview = last_event(target, "interview_recorded")
    assert shown(office)["stage"] == "feedback"

    result = office("void", "1", str(interview), "--reason", "Wrong borrower", *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert "case in interview" in result.output
    assert case_state(target) == before
    # The interview is recorded again, rightly this time.
    result = office(
        "interview", "1", "--met", "borrower", "--reason", "income-loss",
        "--at", "2026-11-25T11:00+08:00", as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert shown(office)["visits"][0]["reason_code"] == "income-loss"


def test_a_void_that_later_events_built_on_names_them_and_goes_newest_first(
    office: Run, target: str
) -> None:
    to_preparation(office)
    before = case_state(target)
    result = office(
        "plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert office("checklist", "1", "--all", *AT, as_="li.na").exit_code == 0
    plan = last_event(target, "visit_planned")
    ticked = last_event(target, "checklist_ticked")

    blocked = office("void", "1", str(plan), "--reason", "Wrong date", *AT, as_="chen.wei")
    assert blocked.exit_code == 1
    assert f"later events rest on event {plan} (visit_planned): {ticked} checklist_ticked;" in (
        blocked.output
    )
    assert "correction.order" in blocked.output

    for event in (ticked, plan):
        result = office("void", "1", str(event), "--reason", "Wrong date", *AT, as_="chen.wei")
        assert result.exit_code == 0, result.output
    assert case_state(target) == before
    # The voided visit's id is never handed out again.
    replanned = office(
        "plan", "1", "--date", "2026-11-26", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert replanned.exit_code == 0, replanned.output
    visit_ids = [v["id"] for v in shown(office)["visits"]]
    assert visit_ids == [2]


def test_a_future_dated_event_voided_frees_the_case(office: Run, target: str) -> None:
    contact(office, at="2027-11-23T12:00+08:00")  # a year ahead: a slip of the keyboard
    locked = office(
        "contact", "1", "--channel", "phone", "--target", "borrower", "--outcome", "reached",
        "--at", "2026-11-24T12:00+08:00", as_="li.na",
    )  # fmt: skip
    assert locked.exit_code == 2
    assert "before case 1's last change" in locked.output

    mistaken = last_event(target, "contact_recorded")
    result = office(
        "void", "1", str(mistaken), "--reason", "Year typed wrong",
        "--at", "2026-11-24T11:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    contact(office, at="2026-11-24T12:00+08:00")
    assert [c["at"] for c in shown(office)["contacts"]] == ["2026-11-24T04:00:00+00:00"]


def test_a_voided_promise_is_neither_kept_nor_broken(office: Run, target: str) -> None:
    result = office("promise", "1", "--amount", "500", "--date", "2026-11-24", *AT, as_="li.na")
    assert result.exit_code == 0, result.output
    late = ("--at", "2026-11-27T12:00+08:00")
    balance = json.loads(office("balance", "1", "--json", *late, as_="chen.wei").output)
    assert [p["status"] for p in balance["promises"]] == ["broken"]

    promise = last_event(target, "promise_made")
    result = office("void", "1", str(promise), "--reason", "Never promised", *late, as_="chen.wei")
    assert result.exit_code == 0, result.output
    balance = json.loads(office("balance", "1", "--json", *late, as_="chen.wei").output)
    assert balance["promises"] == []


def test_what_cannot_be_voided_says_what_to_do_instead(office: Run, target: str) -> None:
    created = events(target, 1)[0]["id"]
    result = office("void", "1", str(created), "--reason", "x", *AT, as_="chen.wei")
    assert result.exit_code == 1
    assert "close the case as withdrawn" in result.output

    unknown = office("void", "1", "99999", "--reason", "x", *AT, as_="chen.wei")
    assert unknown.exit_code == 2
    assert "is not one of case 1's" in unknown.output
    blank = office("void", "1", str(created), "--reason", "  ", *AT, as_="chen.wei")
    assert blank.exit_code == 2
    assert "--reason is required" in blank.output


def test_the_author_amends_a_contact_within_the_window_then_only_a_supervisor(
    office: Run, target: str
) -> None:
    contact(office, outcome="reached")
    mistaken = last_event(target, "contact_recorded")
    soon = ("--at", "2026-11-23T15:00+08:00")
    result = office(
        "amend", "1", str(mistaken), "--set", "note=Voicemail", "--reason", "Empty note",
        *soon, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note: '' -> 'Voicemail'" in result.output
    # The outcome is what the rules read (a conversation holds the next call): a
    # supervisor's to amend, even for its author within the window.
    outcome = ("--set", "outcome=no-answer", "--reason", "Typed reached by mistake", *soon)
    refused = office("amend", "1", str(mistaken), *outcome, as_="li.na")
    assert refused.exit_code == 1
    assert "only a supervisor may amend a contact's outcome: the rules read it" in refused.output
    result = office("amend", "1", str(mistaken), *outcome, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert "outcome: 'reached' -> 'no-answer'" in result.output
    (row,) = shown(office)["contacts"]
    assert (row["outcome"], row["note"]) == ("no-answer", "Voicemail")

    other = office(
        "amend", "1", str(mistaken), "--set", "note=x", "--reason", "y", *soon, as_="zhang.min"
    )
    assert other.exit_code == 1
    assert "only a supervisor may amend another staff member's record" in other.output
    late = ("--at", "2026-11-24T13:00+08:00")  # 25 hours on: past the default 24
    too_late = office("amend", "1", str(mistaken), "--set", "note=z", "--reason", "y", *late,
                      as_="li.na")  # fmt: skip
    assert too_late.exit_code == 1
    assert "more than 24 hours after it was written" in too_late.output
    by_supervisor = office(
        "amend", "1", str(mistaken), "--set", "note=Left a voicemail", "--reason", "Clearer",
        *late, as_="chen.wei",
    )  # fmt: skip
    assert by_supervisor.exit_code == 0, by_supervisor.output
    assert shown(office)["contacts"][0]["note"] == "Left a voicemail"
    assert "amended by event" in office("history", "1", as_="chen.wei").output

    # Voided, the contact goes whole, amendments and all.
    result = office("void", "1", str(mistaken), "--reason", "Wrong case", *late, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert shown(office)["contacts"] == []
    after_void = office(
        "amend", "1", str(mistaken), "--set", "note=q", "--reason", "y", *late, as_="chen.wei"
    )
    assert after_void.exit_code == 1
    assert "is voided" in after_void.output


def test_an_interview_is_amended_field_by_field_and_wrong_fields_are_named(
    office: Run, target: str
) -> None:
    to_feedback(office)
    interview = last_event(target, "interview_recorded")
    at = ("--at", "2026-11-25T12:00+08:00")
    result = office(
        "amend", "1", str(interview), "--set", "reason=income-loss", "--set", "income=4200",
        "--set", "lenders=3", "--reason", "Misheard", *at, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (visit,) = shown(office)["visits"]
    assert visit["reason_code"] == "income-loss"
    assert visit["monthly_income"] == "4200.00"
    assert (visit["lenders"], visit["multi_lender"]) == (3, True)
    assert shown(office)["stage"] == "feedback"  # an amendment moves nothing along

    for field, message in (
        ("met=nobody", "--set met: the fields of a interview_recorded event that may be amended"),
        ("reason=sunspots", "reason: 'sunspots' is not a known code"),
        ("income=12,3O4.00", "income"),
        ("note", "write FIELD=VALUE"),
    ):
        bad = office("amend", "1", str(interview), "--set", field, "--reason", "r", *at,
                     as_="li.na")  # fmt: skip
        assert bad.exit_code == 2, (field, bad.output)
        assert message in bad.output, (field, bad.output)
    plan = last_event(target, "visit_planned")
    wrong_kind = office("amend", "1", str(plan), "--set", "note=x", "--reason", "r", *at,
                        as_="li.na")  # fmt: skip
    assert wrong_kind.exit_code == 2
    assert "fieldcase void" in wrong_kind.output


def test_the_policy_sets_the_authors_window(office: Run, target: str) -> None:
    from conftest import set_policy

    set_policy(office, "hx-consumer", "amend_window_hours=0")
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    result = office(
        "amend", "1", str(mistaken), "--set", "note=x", "--reason", "y",
        "--at", "2026-11-23T12:05+08:00", as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "more than 0 hours after it was written" in result.output


def test_plugins_read_corrections_with_the_amended_values_masked_as_the_case(
    office: Run, target: str
) -> None:
    from fieldcase.casefiles import reader
    from fieldcase.plugins import manager
    from fieldcase.services import Services
    from fieldcase.store import Store

    contact(office)
    mistaken = last_event(target, "contact_recorded")
    result = office(
        "amend", "1", str(mistaken), "--set", "note=Her sister answered", "--reason", "Clearer",
        "--at", "2026-11-23T13:00+08:00", as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = Store(target)
    try:
        services = Services(store, manager(), clock=None)
        case = store.get_case(1)
        (seen,) = reader(services, "li.na").corrections(case)
        assert (seen.kind, seen.event_id, seen.made_by) == ("amend", mistaken, "li.na")
        assert seen.changes == {"note": ["", "Her sister answered"]}
        (masked,) = reader(services, "zhang.min").corrections(case)
        assert masked.changes == {"fields": ["note"]}
        assert "Her sister" not in repr(masked)
    finally:
        store.close()


@pytest.mark.sqlite_only  # sets the machine's clock; PostgreSQL's is the server's
def test_a_backdated_at_does_not_stretch_the_authors_window(
    office: Run, target: str, real_clock: Any
) -> None:
    """Attack: three days on, the author claims --at an hour after the contact."""
    real_clock("2026-11-23T04:00Z")  # 12:00 in Shanghai
    contact(office, at="2026-11-23T12:00+08:00")
    mistaken = last_event(target, "contact_recorded")
    real_clock("2026-11-26T04:00Z")
    result = office(
        "amend", "1", str(mistaken), "--set", "note=Promised to pay", "--reason", "Forgot",
        "--at", "2026-11-23T13:00+08:00", as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "more than 24 hours after it was written" in result.output
    assert shown(office)["contacts"][0]["note"] == ""


def test_a_purged_case_is_not_amended_back_to_life(office: Run, target: str) -> None:
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    closed = office("close", "1", "--resolution", "paid", *AT, as_="chen.wei")
    assert closed.exit_code == 0, closed.output
    purged = office("purge", "--at", "2031-12-01T09:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    for args in (
        ("amend", "1", str(mistaken), "--set", "note=Her phone number is 138...", "--reason", "r"),
        ("void", "1", str(mistaken), "--reason", "r"),
    ):
        result = office(*args, "--at", "2031-12-02T09:00+08:00", as_="chen.wei")
        assert result.exit_code == 2, result.output
        assert "purged" in result.output


def test_steps_that_later_steps_rest_on_are_not_voided_from_under_them(
    office: Run, target: str
) -> None:
    """Attack: void the interview under submitted feedback, the address under a plan."""
    from conftest import to_submitted

    to_submitted(office)
    interview = last_event(target, "interview_recorded")
    submitted = last_event(target, "feedback_submitted")
    confirmed = last_event(target, "address_confirmed")
    for event, blocker in ((interview, submitted), (confirmed, interview)):
        result = office("void", "1", str(event), "--reason", "x", *AT, as_="chen.wei")
        assert result.exit_code == 1, result.output
        assert f" {blocker} " in result.output.split("rest on event", 1)[1]
    assert shown(office)["feedback_status"] == "submitted"


def test_findings_under_review_are_a_supervisors_to_amend(office: Run, target: str) -> None:
    """Attack: the income changed under feedback a supervisor is reviewing."""
    from conftest import to_submitted

    to_submitted(office)
    interview = last_event(target, "interview_recorded")
    at = ("--at", "2026-11-25T19:00+08:00")
    result = office(
        "amend", "1", str(interview), "--set", "income=90000", "--reason", "typo", *at,
        as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "amend an interview's findings once its feedback is submitted" in result.output
    assert shown(office)["visits"][0]["monthly_income"] is None


def test_an_author_taken_off_the_case_no_longer_amends_it(office: Run, target: str) -> None:
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    moved = office("assign", "1", "--to", "zhang.min", *AT, as_="chen.wei")
    assert moved.exit_code == 0, moved.output
    result = office(
        "amend", "1", str(mistaken), "--set", "note=x", "--reason", "y",
        "--at", "2026-11-23T13:00+08:00", as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "assigned to zhang.min, not to you" in result.output


def test_voiding_an_amended_contact_keeps_the_amendments_record(office: Run, target: str) -> None:
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    at = ("--at", "2026-11-23T13:00+08:00")
    amended = office("amend", "1", str(mistaken), "--set", "note=x", "--reason", "y", *at,
                     as_="li.na")  # fmt: skip
    assert amended.exit_code == 0, amended.output
    voided = office("void", "1", str(mistaken), "--reason", "Wrong case", *at, as_="chen.wei")
    assert voided.exit_code == 0, voided.output
    assert "1 record removed" in voided.output
    kinds = [k for (k,) in query(target, "SELECT kind FROM event_corrections ORDER BY id")]
    assert kinds == ["amend", "void"]


def test_an_event_number_too_large_is_a_usage_error(office: Run) -> None:
    for command in (("void",), ("amend", "--set", "note=x")):
        result = office(*command, "1", "99999999999999999999", "--reason", "x", as_="chen.wei")
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output


def test_a_corrections_reason_is_masked_like_a_note(office: Run, target: str) -> None:
    """Attack: a reason naming the borrower, read by a worker not on the case."""
    contact(office)
    mistaken = last_event(target, "contact_recorded")
    why = "Wang Fang's sister, not Wang Fang, on 138 0013 8000"
    result = office("void", "1", str(mistaken), "--reason", why, *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert why in office("history", "1", as_="li.na").output
    for args in (("history", "1"), ("history", "1", "--json")):
        assert "Wang Fang" not in office(*args, as_="zhang.min").output


def test_amended_text_is_held_to_the_recording_commands_limits(office: Run, target: str) -> None:
    to_feedback(office)
    interview = last_event(target, "interview_recorded")
    at = ("--at", "2026-11-25T12:00+08:00")
    long = office("amend", "1", str(interview), "--set", "industry=" + "x" * 65, "--reason", "r",
                  *at, as_="li.na")  # fmt: skip
    assert long.exit_code == 2
    assert "at most 64 characters" in long.output
    lines = office("amend", "1", str(interview), "--set", "note=Met at ten.\nShowed bills.",
                   "--reason", "r", *at, as_="li.na")  # fmt: skip
    assert lines.exit_code == 0, lines.output
    assert shown(office)["visits"][0]["notes"] == "Met at ten.\nShowed bills."


def test_findings_once_reported_on_stay_a_supervisors_after_a_reopen(
    office: Run, target: str
) -> None:
    """Attack: approved, closed, reopened: the feedback no longer says submitted."""
    from conftest import to_submitted

    to_submitted(office)
    interview = last_event(target, "interview_recorded")
    late = ("--at", "2026-11-25T20:00+08:00")
    assert office("review", "1", "--approve", *late, as_="chen.wei").exit_code == 0
    closed = office("close", "1", "--resolution", "restructured", *late, as_="li.na")
    assert closed.exit_code == 0, closed.output
    reopened = office("reopen", "1", "--reason", "r", *late, as_="chen.wei")
    assert reopened.exit_code == 0, reopened.output
    result = office(
        "amend", "1", str(interview), "--set", "income=99999", "--reason", "x", *late,
        as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "once its feedback is submitted" in result.output
