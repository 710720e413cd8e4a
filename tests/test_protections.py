"""The borrower's protections, through the command line: disputes, hardship, complaints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import (
    AT,
    T0,
    Run,
    create_args,
    events,
    query,
    set_policy,
    snapshot,
    to_preparation,
)
from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.plugins import manager

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores


def owed(office: Run, case: str, at: str, as_: str = "chen.wei") -> dict[str, str]:
    result = office("balance", case, "--json", "--at", at, as_=as_)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["balance"]


def penalised_case(office: Run) -> None:
    """Case 2: CNY 3,000 overdue since 2026-09-15 at 18% a year, CNY 50 of fees."""
    result = office(
        *create_args("L-2002", overdue="3000.00", **{"penalty-rate": "0.18", "fees": "50.00"}),
        "--assign", "li.na", "--at", T0, as_="chen.wei",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def collect_call(
    office: Run, case: str, at: str = "2026-11-23T12:00+08:00", **options: str
) -> Result:
    extra = [arg for key, value in options.items() for arg in (f"--{key}", value)]
    return office(
        "contact", case, "--channel", "phone", "--target", "borrower", "--outcome", "reached",
        *extra, "--at", at, as_="li.na",
    )  # fmt: skip


# -- disputes ----------------------------------------------------------------------------------


def test_an_open_dispute_holds_collection_until_a_rejection_resumes_it(
    office: Run, target: str
) -> None:
    opened = office(
        "dispute", "open", "1", "--kind", "deduction-failure", "--note", "Debit failed", *AT,
        as_="li.na",
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert "dispute 1 opened (deduction-failure, from 2026-09-15)" in opened.output

    refused = collect_call(office, "1", "2026-11-23T13:00+08:00")
    assert refused.exit_code == 1
    assert "only contacts about the dispute itself" in refused.output
    assert "default.dispute" in refused.output
    about_it = collect_call(office, "1", "2026-11-23T13:05+08:00", purpose="dispute")
    assert about_it.exit_code == 0, about_it.output

    twice = office(
        "dispute", "open", "1", "--kind", "fraud", "--at", "2026-11-23T13:10+08:00", as_="li.na"
    )
    assert twice.exit_code == 1 and "already has an open dispute" in twice.output

    not_hers = office(
        "dispute", "decide", "1", "--reject", "--note", "x", "--at", "2026-11-23T14:00+08:00",
        as_="li.na",
    )  # fmt: skip
    assert not_hers.exit_code == 1 and "only a supervisor may decide a dispute" in not_hers.output

    rejected = office(
        "dispute", "decide", "1", "--reject", "--note", "Debit succeeded on the 16th",
        "--at", "2026-11-23T15:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert rejected.exit_code == 0, rejected.output
    assert "dispute 1 rejected" in rejected.output and "in confirmation" in rejected.output
    assert collect_call(office, "1", "2026-11-23T16:00+08:00").exit_code == 0

    refusals = [
        json.loads(e["payload"])["data"]["reasons"][0]["rule"]
        for e in events(target, 1)
        if e["type"] == "refused"
    ]
    assert refusals == ["default.dispute", "dispute.open", "permission.supervisor"]
    shown = office("show", "1", "--json", as_="chen.wei")
    dispute = json.loads(shown.output)["disputes"][0]
    assert dispute["status"] == "rejected" and dispute["decided_by"] == "chen.wei"


def test_an_open_dispute_refuses_visits(office: Run) -> None:
    to_preparation(office)
    assert office("dispute", "open", "1", "--kind", "bank-error", *AT, as_="li.na").exit_code == 0
    plan = office(
        "plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00",
        "--at", "2026-11-23T12:30+08:00", as_="li.na",
    )  # fmt: skip
    assert plan.exit_code == 1
    assert "no visit until a supervisor decides it" in plan.output


def test_an_upheld_dispute_reverses_penalty_and_fees_and_asks_for_a_correction(
    office: Run, target: str, tmp_path: Path
) -> None:
    penalised_case(office)
    before = owed(office, "2", "2026-11-23T12:00+08:00")
    # 3000 x 18% x 69 days / 365 = 102.08
    assert (before["penalty"], before["fees"]) == ("102.08", "50.00")
    opened = office(
        "dispute", "open", "2", "--kind", "bank-error", "--since", "2026-10-15", *AT, as_="li.na"
    )
    assert opened.exit_code == 0, opened.output
    # Penalty stops from the disputed date while it is open: 30 days, 44.38.
    assert owed(office, "2", "2026-12-23T12:00+08:00")["penalty"] == "44.38"

    letter = tmp_path / "bank-letter.txt"
    letter.write_bytes(b"The debit of 15 October failed on our side.")
    added = office(
        "dispute", "evidence", "2", "--description", "Bank letter", "--file", str(letter),
        "--at", "2026-11-23T12:10+08:00", as_="li.na",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert hashlib.sha256(letter.read_bytes()).hexdigest() in added.output
    bad = office(
        "dispute", "evidence", "2", "--description", "x", "--sha256", "abc", *AT, as_="li.na"
    )
    assert bad.exit_code == 2 and "not a SHA-256 fingerprint" in bad.output

    upheld = office(
        "dispute", "decide", "2", "--uphold", "--close", "--note", "Bank confirms its error",
        "--at", "2026-11-24T10:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert upheld.exit_code == 0, upheld.output
    assert "closed as dispute-upheld" in upheld.output
    after = owed(office, "2", "2026-12-23T12:00+08:00")
    assert (after["penalty"], after["fees"], after["total"]) == ("44.38", "0.00", "20044.38")

    out = tmp_path / "corrections.csv"
    exported = office("export", "corrections", "-o", str(out), *AT, as_="chen.wei")
    assert exported.exit_code == 0, exported.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("request,institution,reference,case,dispute,reason")
    assert lines[1].startswith("1,hx-consumer,L-2002,2,1,bank-error,2026-10-15,")
    assert "--after 1" in exported.output
    again = office("export", "corrections", "--after", "1", *AT, as_="chen.wei")
    assert again.output.startswith("request,") and "Exported 0" in again.output
    field = office("export", "corrections", *AT, as_="li.na")
    assert field.exit_code == 1 and "only a supervisor" in field.output
    recorded = [e["type"] for e in events(target) if e["case_id"] is None][-5:]
    assert recorded == ["export", "export_completed", "export", "export_completed", "refused"]


def test_fees_stay_when_the_policy_says_so(office: Run) -> None:
    penalised_case(office)
    set_policy(office, "hx-consumer", "dispute_reverse_fees=no")
    assert office("dispute", "open", "2", "--kind", "amount", *AT, as_="li.na").exit_code == 0
    upheld = office(
        "dispute", "decide", "2", "--uphold", "--note", "Miscalculated",
        "--at", "2026-11-24T10:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert upheld.exit_code == 0 and "penalty from" in upheld.output
    assert "in confirmation" in upheld.output
    assert owed(office, "2", "2026-12-23T12:00+08:00")["fees"] == "50.00"


def test_a_decision_needs_an_open_dispute_and_a_way(office: Run) -> None:
    none = office("dispute", "decide", "1", "--reject", "--note", "x", *AT, as_="chen.wei")
    assert none.exit_code == 1 and "has no open dispute" in none.output
    neither = office("dispute", "decide", "1", "--note", "x", *AT, as_="chen.wei")
    assert neither.exit_code == 2 and "--uphold or --reject" in neither.output


# -- hardship ----------------------------------------------------------------------------------


def test_a_hardship_pause_hides_the_case_refuses_collection_and_freezes_penalty(
    office: Run,
) -> None:
    penalised_case(office)
    granted = office(
        "hardship", "2", "--until", "2026-12-22", "--reason", "illness",
        "--note", "In hospital", *AT, as_="li.na",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output
    assert "paused 2026-11-23 to 2026-12-22 (illness); penalty interest frozen" in granted.output

    listed = office("cases", "--json", *AT, as_="chen.wei")
    assert [c["id"] for c in json.loads(listed.output)] == [1]
    everything = office("cases", "--all", "--json", *AT, as_="chen.wei")
    assert {c["id"] for c in json.loads(everything.output)} == {1, 2}

    refused = collect_call(office, "2", "2026-11-24T10:00+08:00")
    assert refused.exit_code == 1 and "default.hardship" in refused.output
    message = collect_call(office, "2", "2026-11-24T10:05+08:00", purpose="message")
    assert message.exit_code == 0, message.output

    # The 30 paused days accrue nothing: at 2026-12-23 still the 69 days before it
    # (99 days without the pause would be 146.47).
    assert owed(office, "2", "2026-12-23T12:00+08:00")["penalty"] == "102.08"
    assert owed(office, "2", "2026-12-24T12:00+08:00")["penalty"] == "103.56"
    after = collect_call(office, "2", "2026-12-23T10:00+08:00")
    assert after.exit_code == 0, after.output


def test_a_promise_due_during_a_pause_is_excused_not_broken(office: Run) -> None:
    promised = office("promise", "1", "--amount", "500", "--date", "2026-11-25", *AT, as_="li.na")
    assert promised.exit_code == 0, promised.output
    granted = office(
        "hardship", "1", "--until", "2026-12-05", "--reason", "job-loss",
        "--at", "2026-11-24T09:00+08:00", as_="li.na",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output
    shown = office("balance", "1", "--json", "--at", "2026-12-10T12:00+08:00", as_="chen.wei")
    assert [p["status"] for p in json.loads(shown.output)["promises"]] == ["excused"]
    report = office(
        "report", "staff", "--format", "json", "--to", "2026-12-10T12:00+08:00", as_="chen.wei"
    )
    mine = next(r for r in json.loads(report.output) if r["staff"] == "li.na")
    assert (mine["promises_made"], mine["promises_broken"]) == (1, 0)


def test_a_long_pause_needs_a_supervisor_and_ends_by_hand(office: Run, target: str) -> None:
    set_policy(office, "hx-consumer", "hardship_max_days=30", "hardship_penalty_share=0.5")
    long = office("hardship", "1", "--until", "2027-02-01", "--reason", "illness", *AT, as_="li.na")
    assert long.exit_code == 1
    assert "only a supervisor may grant a hardship pause of 71 days" in long.output
    granted = office(
        "hardship", "1", "--until", "2027-02-01", "--reason", "illness", *AT, as_="chen.wei"
    )
    assert granted.exit_code == 0 and "at 0.5 of its rate" in granted.output
    overlapping = office(
        "hardship", "1", "--until", "2027-03-01", "--reason", "illness",
        "--at", "2026-11-24T09:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert overlapping.exit_code == 1 and "already paused until 2027-02-01" in overlapping.output
    no_note = office("hardship", "1", "--end", "--at", "2026-12-01T09:00+08:00", as_="chen.wei")
    assert no_note.exit_code == 2
    ended = office(
        "hardship", "1", "--end", "--note", "Back at work",
        "--at", "2026-12-01T09:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert ended.exit_code == 0 and "last day 2026-11-30" in ended.output
    assert collect_call(office, "1", "2026-12-01T10:00+08:00").exit_code == 0
    (row,) = query(target, "SELECT until, ended_on, penalty_share FROM hardships")
    assert row == ("2027-02-01", "2026-11-30", "0.5")
    assert query(target, "SELECT paused_until FROM cases WHERE id = 1") == [(None,)]


def test_policy_may_keep_pauses_for_supervisors(office: Run) -> None:
    set_policy(office, "hx-consumer", "hardship_granted_by=supervisor")
    short = office("hardship", "1", "--until", "2026-11-30", "--reason", "other", *AT, as_="li.na")
    assert short.exit_code == 1 and "under hx-consumer's policy" in short.output
    bad = office("hardship", "1", "--until", "2026-11-01", "--reason", "other", *AT, as_="chen.wei")
    assert bad.exit_code == 2 and "before today" in bad.output


# -- complaints --------------------------------------------------------------------------------


def test_a_complaint_about_frequency_lowers_the_limit_until_its_date(office: Run) -> None:
    set_policy(
        office, "hx-consumer", "complaint_quiet_days=30", "complaint_max_contacts_per_week=1"
    )
    complained = office(
        "complaint", "1", "--about", "contact-frequency", "--note", "Called five times",
        "--at", "2026-11-23T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert complained.exit_code == 0, complained.output
    assert "fewer contacts until 2026-12-22" in complained.output
    assert collect_call(office, "1", "2026-11-23T12:00+08:00").exit_code == 0
    second = collect_call(office, "1", "2026-11-25T12:00+08:00")
    assert second.exit_code == 1 and "default.complaint" in second.output
    assert "at most 1 contacts with the borrower in 7 days until 2026-12-22" in second.output
    assert collect_call(office, "1", "2026-11-30T12:10+08:00").exit_code == 0
    # After the date, the pack's (here: none) limits alone.
    for day in ("2026-12-23", "2026-12-24"):
        assert collect_call(office, "1", f"{day}T12:00+08:00").exit_code == 0


def test_a_complaint_on_a_closed_case_is_recorded_and_masked_for_others(office: Run) -> None:
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    recorded = office(
        "complaint", "1", "--about", "conduct", "--note", "Agent was rude at the door",
        "--at", "2026-11-24T10:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    mine = office("show", "1", as_="chen.wei")
    assert "Agent was rude at the door" in mine.output
    other = office("show", "1", "--json", as_="zhang.min")
    assert json.loads(other.output)["complaints"][0]["note"] == "[masked]"
    history = office("history", "1", "--json", as_="zhang.min")
    assert "Agent was rude" not in history.output


def test_a_refused_protection_writes_only_its_refusal(office: Run, target: str) -> None:
    before = snapshot(target)
    refused = office(
        "hardship", "1", "--until", "2026-12-01", "--reason", "illness", *AT, as_="zhang.min"
    )
    assert refused.exit_code == 1 and "assigned to li.na" in refused.output
    after = snapshot(target)
    assert {t: rows for t, rows in after.items() if t != "events"} == {
        t: rows for t, rows in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][-1] == "refused"


def test_purge_wipes_what_borrowers_said_in_their_protections(
    office: Run, target: str, store_kind: str
) -> None:
    said = "Lost my job at Huangpu Logistics"
    steps = [
        ("dispute", "open", "1", "--kind", "other", "--note", said),
        ("hardship", "1", "--until", "2026-11-30", "--reason", "job-loss", "--note", said),
        ("complaint", "1", "--about", "other", "--note", said),
    ]
    for step in steps:
        assert office(*step, *AT, as_="li.na").exit_code == 0
    decided = office("dispute", "decide", "1", "--reject", "--note", said, *AT, as_="chen.wei")
    assert decided.exit_code == 0, decided.output
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    assert said in repr(snapshot(target))
    purged = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    if store_kind == "sqlite":  # gone from the file's bytes
        files = [Path(target), Path(f"{target}-wal")]
        assert said.encode() not in b"".join(f.read_bytes() for f in files if f.exists())
    else:  # from every row of every table (a server keeps its own pages)
        assert said not in repr(snapshot(target))
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output


def test_reports_count_disputes_pauses_and_complaints(office: Run) -> None:
    penalised_case(office)
    steps = [
        ("li.na", "dispute", "open", "1", "--kind", "bank-error", "--at", "2026-11-23T10:00+08:00"),
        ("chen.wei", "dispute", "decide", "1", "--uphold", "--note", "yes",
         "--at", "2026-11-25T10:00+08:00"),
        ("li.na", "dispute", "open", "2", "--kind", "bank-error", "--at", "2026-11-23T11:00+08:00"),
        ("li.na", "hardship", "2", "--until", "2026-12-02", "--reason", "illness",
         "--at", "2026-11-23T12:00+08:00"),
        ("li.na", "complaint", "2", "--about", "contact-frequency",
         "--at", "2026-11-23T13:00+08:00"),
        ("li.na", "complaint", "2", "--about", "conduct", "--at", "2026-11-23T14:00+08:00"),
    ]  # fmt: skip
    for who, *args in steps:
        done = office(*args, as_=who)
        assert done.exit_code == 0, done.output

    def report(name: str) -> list[dict[str, object]]:
        result = office(
            "report", name, "--format", "json", "--to", "2026-11-30T00:00+08:00", as_="chen.wei"
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert report("disputes") == [
        {
            "kind": "bank-error",
            "opened": 2,
            "open": 1,
            "upheld": 1,
            "rejected": 0,
            "days_to_decide_mean": "2.0",
            "days_to_decide_median": "2.0",
        }
    ]
    assert report("hardship") == [
        {
            "reason": "illness",
            "pauses": 1,
            "days_granted_mean": "10.0",
            "ended_early": 0,
            "running": 1,
        }
    ]
    assert report("complaints") == [
        {"about": "conduct", "complaints": 1, "cases": 1},
        {"about": "contact-frequency", "complaints": 1, "cases": 1},
    ]


def test_a_declared_purpose_does_not_lift_a_complaints_limit(office: Run) -> None:
    """Attack: after a complaint about frequency, call again 'to pass a message'."""
    set_policy(office, "hx-consumer", "complaint_max_contacts_per_week=1")
    complained = office(
        "complaint", "1", "--about", "contact-frequency", "--at", "2026-11-23T10:00+08:00",
        as_="li.na",
    )  # fmt: skip
    assert complained.exit_code == 0, complained.output
    assert collect_call(office, "1", "2026-11-23T12:00+08:00", purpose="message").exit_code == 0
    for purpose in ("message", "locate", "collect"):
        again = collect_call(office, "1", "2026-11-24T12:00+08:00", purpose=purpose)
        assert again.exit_code == 1, (purpose, again.output)
        assert "default.complaint" in again.output
    # A third party may still be asked where the borrower is.
    third = office(
        "contact", "1", "--channel", "phone", "--target", "third-party", "--outcome", "reached",
        "--relationship", "parent", "--purpose", "locate", "--at", "2026-11-24T12:10+08:00",
        as_="li.na",
    )  # fmt: skip
    assert third.exit_code == 0, third.output


def test_a_supervisor_cannot_uphold_a_dispute_they_opened(office: Run, target: str) -> None:
    """Attack: one supervisor opens a dispute and upholds it, wiping penalty and fees alone."""
    penalised_case(office)
    opened = office("dispute", "open", "2", "--kind", "bank-error", *AT, as_="chen.wei")
    assert opened.exit_code == 0, opened.output
    alone = office(
        "dispute", "decide", "2", "--uphold", "--note", "Fine", "--at", "2026-11-24T10:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert alone.exit_code == 1
    assert "another supervisor" in alone.output and "four_eyes" in alone.output
    assert owed(office, "2", "2026-11-24T10:00+08:00")["fees"] == "50.00"
    assert office("staff", "add", "wu.fang", "--name", "Wu", "--role", "supervisor",
                  *AT, as_="chen.wei").exit_code == 0  # fmt: skip
    second = office(
        "dispute", "decide", "2", "--uphold", "--note", "Bank confirms",
        "--at", "2026-11-24T11:00+08:00", as_="wu.fang",
    )  # fmt: skip
    assert second.exit_code == 0, second.output


def test_pauses_back_to_back_do_not_get_round_the_longest_pause(office: Run) -> None:
    """Attack: a field worker ends a pause and grants another, again and again."""
    set_policy(office, "hx-consumer", "hardship_max_days=30")
    first = office("hardship", "1", "--until", "2026-12-22", "--reason", "illness", *AT,
                   as_="li.na")  # fmt: skip
    assert first.exit_code == 0, first.output
    ended = office("hardship", "1", "--end", "--note", "x", "--at", "2026-12-20T09:00+08:00",
                   as_="li.na")  # fmt: skip
    assert ended.exit_code == 0, ended.output
    again = office("hardship", "1", "--until", "2027-01-15", "--reason", "illness",
                   "--at", "2026-12-20T09:05+08:00", as_="li.na")  # fmt: skip
    assert again.exit_code == 1
    assert "27 days paused in the last 365" in again.output
    granted = office("hardship", "1", "--until", "2027-01-15", "--reason", "illness",
                     "--at", "2026-12-20T09:10+08:00", as_="chen.wei")  # fmt: skip
    assert granted.exit_code == 0, granted.output


def test_an_open_dispute_cannot_be_left_behind_by_paying_the_reduced_balance(
    office: Run, target: str
) -> None:
    """Attack: a field worker opens a dispute (penalty 0 at once) and takes the lower
    balance as payment, which closed the case as paid with nobody deciding anything."""
    penalised_case(office)
    assert office("dispute", "open", "2", "--kind", "other", *AT, as_="li.na").exit_code == 0
    reduced = owed(office, "2", "2026-11-23T13:00+08:00", as_="li.na")
    assert reduced["penalty"] == "0.00"
    paid = office(
        "payment", "2", reduced["total"], "--reference", "X1", "--at", "2026-11-23T13:00+08:00",
        as_="li.na",
    )  # fmt: skip
    assert paid.exit_code == 0, paid.output
    assert query(target, "SELECT stage, dispute FROM cases WHERE id = 2") == [
        ("confirmation", "other")
    ]
    closing = office(
        "close", "2", "--resolution", "paid", "--at", "2026-11-23T14:00+08:00", as_="chen.wei"
    )
    assert closing.exit_code == 1 and "open dispute" in closing.output


def test_purpose_dispute_needs_an_open_dispute(office: Run) -> None:
    """Attack: call 'about a dispute' that does not exist, past a complaint's limit."""
    set_policy(office, "hx-consumer", "complaint_max_contacts_per_week=0")
    complained = office(
        "complaint", "1", "--about", "contact-frequency", "--at", "2026-11-23T10:00+08:00",
        as_="li.na",
    )  # fmt: skip
    assert complained.exit_code == 0, complained.output
    sneaky = collect_call(office, "1", "2026-11-23T12:00+08:00", purpose="dispute")
    assert sneaky.exit_code == 1 and "no open dispute" in sneaky.output


def test_only_a_supervisor_ends_a_pause_a_supervisor_granted(office: Run) -> None:
    """Attack: the field worker ends at once the long pause a supervisor had to grant."""
    granted = office(
        "hardship", "1", "--until", "2027-03-31", "--reason", "illness", *AT, as_="chen.wei"
    )
    assert granted.exit_code == 0, granted.output
    ended = office(
        "hardship", "1", "--end", "--note", "x", "--at", "2026-11-24T09:00+08:00", as_="li.na"
    )
    assert ended.exit_code == 1 and "only a supervisor may end" in ended.output
    by_supervisor = office(
        "hardship", "1", "--end", "--note", "Recovered", "--at", "2026-11-24T09:05+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert by_supervisor.exit_code == 0, by_supervisor.output


@pytest.mark.sqlite_only  # sets the machine's clock; PostgreSQL's is the server's
def test_field_staff_cannot_backdate_a_pause_over_a_broken_promise(
    office: Run, target: str, real_clock: Callable[[str], None]
) -> None:
    """Attack: a promise due on the 20th was broken; on the 23rd a field worker grants a
    pause dated the 19th (within backdate_days), and the broken promise reads excused."""
    made = office(
        *create_args("L-1002"), "--assign", "li.na", "--at", "2026-11-10T09:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    promised = office(
        "promise", "2", "--amount", "500", "--date", "2026-11-20",
        "--at", "2026-11-12T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert promised.exit_code == 0, promised.output
    real_clock("2026-11-23T04:00Z")  # 12:00 in Shanghai

    def statuses(as_: str = "chen.wei") -> list[str]:
        shown = office("balance", "2", "--json", "--at", "2026-11-23T12:00+08:00", as_=as_)
        return [p["status"] for p in json.loads(shown.output)["promises"]]

    assert statuses() == ["broken"]
    before = snapshot(target)
    backdated = office(
        "hardship", "2", "--until", "2026-12-10", "--reason", "illness",
        "--at", "2026-11-19T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert backdated.exit_code == 1
    assert "only a supervisor may grant a hardship pause from 2026-11-19" in backdated.output
    assert "before today (2026-11-23)" in backdated.output
    assert "the promise due 2026-11-20, already broken" in backdated.output
    after = snapshot(target)
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][len(before["events"]) :] == ["refused"]
    assert statuses() == ["broken"]

    # Earlier today is today: field staff may say when on the day it was agreed.
    today = office(
        "hardship", "2", "--until", "2026-12-10", "--reason", "illness",
        "--at", "2026-11-23T08:00+08:00", as_="li.na",
    )  # fmt: skip
    assert today.exit_code == 0, today.output
    assert statuses() == ["broken"]


@pytest.mark.sqlite_only  # sets the machine's clock; PostgreSQL's is the server's
def test_a_supervisor_may_date_a_pause_back(office: Run, real_clock: Callable[[str], None]) -> None:
    made = office(
        *create_args("L-1002"), "--assign", "li.na", "--at", "2026-11-10T09:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    promised = office(
        "promise", "2", "--amount", "500", "--date", "2026-11-20",
        "--at", "2026-11-12T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert promised.exit_code == 0, promised.output
    real_clock("2026-11-23T04:00Z")
    granted = office(
        "hardship", "2", "--until", "2026-12-10", "--reason", "illness",
        "--note", "In hospital from the 19th; the family told us today",
        "--at", "2026-11-19T10:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output
    shown = office("balance", "2", "--json", "--at", "2026-11-23T12:00+08:00", as_="chen.wei")
    assert [p["status"] for p in json.loads(shown.output)["promises"]] == ["excused"]


def test_closing_by_upholding_a_dispute_is_judged_as_a_close(office: Run, target: str) -> None:
    """Attack: the institution's rules refuse to close the case; uphold its dispute with
    --close, which closed it without asking them."""
    seen: list[tuple[str | None, object]] = []

    class NoClosing:
        @hookimpl
        def check_action(self, case: Case | None, action: str, context: ActionContext) -> Any:
            if action != "close" or case is None:
                return None
            seen.append((case.dispute, context.extra.get("resolution")))
            return Decision.deny("test.no_closing", "the institution closes its cases itself")

    assert office("dispute", "open", "1", "--kind", "bank-error", *AT, as_="li.na").exit_code == 0
    manager().register(NoClosing(), name="no-closing")
    try:
        before = snapshot(target)
        closing = office(
            "dispute", "decide", "1", "--uphold", "--close", "--note", "Bank error",
            "--at", "2026-11-24T10:00+08:00", as_="chen.wei",
        )  # fmt: skip
        after = snapshot(target)
        upheld = office(
            "dispute", "decide", "1", "--uphold", "--note", "Bank error",
            "--at", "2026-11-24T10:05+08:00", as_="chen.wei",
        )  # fmt: skip
    finally:
        manager().unregister(name="no-closing")
    assert closing.exit_code == 1
    assert "the institution closes its cases itself (rule test.no_closing)" in closing.output
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][len(before["events"]) :][:1] == ["refused"]
    refusal = json.loads(events(target, 1)[-2]["payload"])["data"]
    assert refusal["action"] == "decide_dispute"
    # The rules judge the close of the case as the decision leaves it: no dispute open.
    assert seen == [(None, "dispute-upheld")]
    # Upheld without --close, the case stays open: nothing to close, nothing refused.
    assert upheld.exit_code == 0, upheld.output
    assert "in confirmation" in upheld.output


def test_a_rejected_dispute_is_not_opened_again_by_field_staff(office: Run, target: str) -> None:
    """Attack: right after a supervisor rejects the dispute, the field worker opens
    another, and collection is on hold again until someone decides that one too."""
    opened = office("dispute", "open", "1", "--kind", "bank-error", *AT, as_="li.na")
    assert opened.exit_code == 0, opened.output
    rejected = office(
        "dispute", "decide", "1", "--reject", "--note", "The debit went through",
        "--at", "2026-11-24T10:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert rejected.exit_code == 0, rejected.output

    before = snapshot(target)
    again = office(
        "dispute", "open", "1", "--kind", "other", "--note", "Still says it was the bank",
        "--at", "2026-11-24T10:05+08:00", as_="li.na",
    )  # fmt: skip
    assert again.exit_code == 1
    assert "dispute 1 on case 1 was rejected on 2026-11-24 by chen.wei" in again.output
    assert "only a supervisor may open another" in again.output
    assert "(rule dispute.reopen)" in again.output
    after = snapshot(target)
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][len(before["events"]) :] == ["refused"]
    assert collect_call(office, "1", "2026-11-24T10:10+08:00").exit_code == 0

    # New evidence goes on the case for a supervisor to weigh, who may open it again.
    evidence = office(
        "dispute", "evidence", "1", "--description", "Bank statement, October",
        "--sha256", "ab" * 32, "--at", "2026-11-24T10:15+08:00", as_="li.na",
    )  # fmt: skip
    assert evidence.exit_code == 0, evidence.output
    reopened = office(
        "dispute", "open", "1", "--kind", "bank-error", "--note", "The statement shows it",
        "--at", "2026-11-24T11:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert reopened.exit_code == 0, reopened.output
    assert collect_call(office, "1", "2026-11-24T11:10+08:00").exit_code == 1


def plan(office: Run, day: str, at: str, as_: str = "li.na") -> Result:
    return office(
        "plan", "1", "--date", day, "--window", "10:00-12:00", "--at", at, as_=as_
    )  # fmt: skip


def test_a_visit_plan_is_judged_by_the_visits_date_not_the_day_it_is_planned(
    office: Run,
) -> None:
    to_preparation(office)
    granted = office(
        "hardship", "1", "--until", "2026-12-10", "--reason", "illness",
        "--at", "2026-11-23T12:30+08:00", as_="li.na",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output

    inside = plan(office, "2026-12-10", "2026-11-24T10:00+08:00")
    assert inside.exit_code == 1
    assert (
        "hardship pause until 2026-12-10: no visit on 2026-12-10; plan one from 2026-12-11"
        in inside.output
    )
    assert "(rule default.hardship)" in inside.output
    checked = office(
        "check", "1", "--action", "plan_visit", "--date", "2026-12-10", "--window",
        "10:00-12:00", "--at", "2026-11-24T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert checked.exit_code == 1 and "default.hardship" in checked.output

    # Planned during the pause for the day after it: the visit disturbs nobody's pause.
    after = plan(office, "2026-12-11", "2026-11-24T10:05+08:00")
    assert after.exit_code == 0, after.output
    assert office("checklist", "1", "--all", "--at", "2026-11-24T10:10+08:00",
                  as_="li.na").exit_code == 0  # fmt: skip
    # A visit made is judged on its day: the visit planned for the 11th, on the 11th.
    made = office(
        "interview", "1", "--met", "nobody", "--at", "2026-12-11T10:30+08:00", as_="li.na"
    )
    assert made.exit_code == 0, made.output


def test_no_visit_planned_for_any_date_while_a_dispute_is_open(office: Run) -> None:
    """An open dispute has no last day: a visit waits for the decision, whatever its date."""
    to_preparation(office)
    assert office("dispute", "open", "1", "--kind", "amount", *AT, as_="li.na").exit_code == 0
    later = plan(office, "2027-03-01", "2026-11-24T10:00+08:00")
    assert later.exit_code == 1
    assert "no visit until a supervisor decides it" in later.output
