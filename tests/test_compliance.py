"""Jurisdiction rule packs: each rule at its boundaries, through the real commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, events, register, set_policy

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

PACKS = {"us-bank": "us-regf", "hx": "cn", "deccan": "in-rbi", "multi": "us-regf,cn"}

CASES = {
    "us-bank": ("America/New_York", "US-NY", "USD"),
    "hx": ("Asia/Shanghai", "CN", "CNY"),
    "deccan": ("Asia/Kolkata", "IN", "INR"),
}


@pytest.fixture
def packs(run: Run, tmp_path: Path) -> Run:
    """Cases 1-3 (US, CN, India), 4-5 (US, CN at an institution with two packs)."""
    assert run("init").exit_code == 0
    run("staff", "add", "sup", "--name", "Sup", "--role", "supervisor")
    run("staff", "add", "w", "--name", "W", "--badge", "RA-1001", as_="sup")
    run("staff", "add", "w2", "--name", "W2", "--badge", "RA-1002", as_="sup")
    run("staff", "add", "nb", "--name", "No Badge", as_="sup")
    for institution, packs in PACKS.items():
        zone, jurisdiction, currency = CASES.get(institution, CASES["us-bank"])
        register(
            run,
            institution,
            "--set",
            f"rule_packs={packs}",
            jurisdiction=jurisdiction,
            timezone=zone,
            currency=currency,
            as_="sup",
        )
    specs = [*CASES.items(), ("multi", CASES["us-bank"]), ("multi", CASES["hx"])]
    for n, (institution, (zone, jurisdiction, currency)) in enumerate(specs, start=1):
        result = run(
            "create",
            "--institution",
            institution,
            "--reference",
            f"R{n}",
            "--name",
            f"B{n}",
            "--timezone",
            zone,
            "--jurisdiction",
            jurisdiction,
            "--currency",
            currency,
            "--principal",
            "1000",
            "--overdue",
            "100",
            "--overdue-since",
            "2026-06-01",
            "--assign",
            "w",
            "--at",
            "2026-10-01T00:00Z",
            as_="sup",
        )
        assert result.exit_code == 0, result.output
    return run


def check(run: Run, case: int, *args: str) -> tuple[int, dict[str, str]]:
    result = run("check", str(case), *args, "--json", as_="w")
    verdicts = {row["rule"]: row["verdict"] for row in json.loads(result.stdout)}
    return result.exit_code, verdicts


@pytest.mark.parametrize(
    ("case", "local", "rule", "verdict"),
    [
        (1, "2026-11-23T07:59-05:00", "us.regf.hours", "DENY"),
        (1, "2026-11-23T08:00-05:00", "us.regf.hours", "allow"),
        (1, "2026-11-23T20:59-05:00", "us.regf.hours", "allow"),
        (1, "2026-11-23T21:00-05:00", "us.regf.hours", "allow"),
        (1, "2026-11-23T21:01-05:00", "us.regf.hours", "DENY"),
        # 1 November 2026: New York leaves daylight saving time at 02:00.
        (1, "2026-11-01T12:59Z", "us.regf.hours", "DENY"),  # 07:59 EST
        (1, "2026-11-01T13:00Z", "us.regf.hours", "allow"),  # 08:00 EST
        (1, "2026-10-31T12:59Z", "us.regf.hours", "allow"),  # 08:59 EDT, the day before
        (1, "2026-03-08T11:59Z", "us.regf.hours", "DENY"),  # 07:59 EDT, the day DST begins
        (1, "2026-03-08T12:00Z", "us.regf.hours", "allow"),
        (2, "2026-11-23T07:59+08:00", "cn.hours", "DENY"),
        (2, "2026-11-23T08:00+08:00", "cn.hours", "allow"),
        (2, "2026-11-23T20:59+08:00", "cn.hours", "allow"),
        (2, "2026-11-23T21:00+08:00", "cn.hours", "allow"),
        (2, "2026-11-23T21:01+08:00", "cn.hours", "DENY"),
        (3, "2026-11-23T07:59+05:30", "in.rbi.hours", "DENY"),
        (3, "2026-11-23T08:00+05:30", "in.rbi.hours", "allow"),
        (3, "2026-11-23T18:59+05:30", "in.rbi.hours", "allow"),
        (3, "2026-11-23T19:00+05:30", "in.rbi.hours", "allow"),
        (3, "2026-11-23T19:01+05:30", "in.rbi.hours", "DENY"),
    ],
)
def test_contact_hours_at_the_boundary_minutes(
    packs: Run, case: int, local: str, rule: str, verdict: str
) -> None:
    code, verdicts = check(packs, case, "--action", "contact", "--channel", "phone", "--at", local)
    assert verdicts[rule] == verdict
    assert code == (1 if verdict == "DENY" else 0)


@pytest.mark.parametrize(
    ("window", "verdict"),
    [
        ("08:00-10:00", "allow"),
        ("19:00-21:00", "allow"),
        ("20:00-21:30", "DENY"),
        ("07:30-09:00", "DENY"),
    ],
)
def test_visit_window_must_lie_wholly_inside_the_hours(
    packs: Run, window: str, verdict: str
) -> None:
    _, verdicts = check(
        packs,
        1,
        "--action",
        "plan_visit",
        "--date",
        "2026-11-25",
        "--window",
        window,
        "--at",
        "2026-11-23T10:00-05:00",
    )
    assert verdicts["us.regf.hours"] == verdict


def call(run: Run, case: int, at: str, outcome: str = "no-answer", **extra: str) -> Any:
    args = [
        "contact",
        str(case),
        "--channel",
        extra.get("channel", "phone"),
        "--outcome",
        outcome,
        "--at",
        at,
    ]
    if "target" in extra:
        args += ["--target", extra["target"]]
    if extra.get("target") == "third-party":
        args += ["--relationship", extra.get("relationship", "friend")]
    if "purpose" in extra:
        args += ["--purpose", extra["purpose"]]
    return run(*args, as_="w")


def test_seventh_call_in_seven_days_is_allowed_the_eighth_refused(packs: Run, target: str) -> None:
    for day in range(17, 24):  # 7 calls, 17 to 23 November
        assert call(packs, 1, f"2026-11-{day}T10:00-05:00").exit_code == 0
    result = call(packs, 1, "2026-11-23T15:00-05:00")
    assert result.exit_code == 1
    assert "7 call attempts in the last 7 days already; at most 7" in result.stderr
    assert "(rule us.regf.call_frequency)" in result.stderr
    assert "12 CFR 1006.14(b)(2)(i)(A)" in result.stderr
    assert events(target, 1)[-1]["type"] == "refused"
    # A week after the first call, one falls out of the window.
    assert call(packs, 1, "2026-11-24T10:01-05:00").exit_code == 0


def test_no_call_the_day_after_a_conversation(packs: Run) -> None:
    assert call(packs, 1, "2026-11-20T10:00-05:00", outcome="reached").exit_code == 0
    result = call(packs, 1, "2026-11-21T10:00-05:00")
    assert result.exit_code == 1
    assert "telephone conversation with the borrower on 2026-11-20" in result.stderr
    # A letter is not a call.
    assert call(packs, 1, "2026-11-21T10:05-05:00", channel="letter").exit_code == 0
    assert call(packs, 1, "2026-11-27T10:01-05:00").exit_code == 0


def test_a_conversation_amended_away_by_its_caller_still_holds_the_next_call(
    packs: Run, target: str
) -> None:
    """Attack: call, talk, amend the outcome to no-answer, call again the next day."""
    assert call(packs, 1, "2026-11-20T10:00-05:00", outcome="reached").exit_code == 0
    talked = max(e["id"] for e in events(target, 1) if e["type"] == "contact_recorded")
    amended = packs(
        "amend", "1", str(talked), "--set", "outcome=no-answer", "--reason", "Voicemail",
        "--at", "2026-11-20T11:00-05:00", as_="w",
    )  # fmt: skip
    assert amended.exit_code == 1
    assert "only a supervisor may amend a contact's outcome" in amended.stderr
    result = call(packs, 1, "2026-11-21T10:00-05:00")
    assert result.exit_code == 1
    assert "(rule us.regf.after_conversation)" in result.stderr
    # The note is the caller's to amend; a supervisor rules on the outcome.
    note = packs(
        "amend", "1", str(talked), "--set", "note=Spoke about the March payment",
        "--reason", "Fuller note", "--at", "2026-11-20T12:00-05:00", as_="w",
    )  # fmt: skip
    assert note.exit_code == 0, note.output


def test_third_party_only_for_location_and_once(packs: Run) -> None:
    result = call(packs, 1, "2026-11-20T10:00-05:00", target="third-party")
    assert result.exit_code == 1 and "(rule us.regf.third_party)" in result.stderr
    ok = call(
        packs,
        1,
        "2026-11-20T10:01-05:00",
        target="third-party",
        purpose="locate",
        channel="employer",
    )
    assert ok.exit_code == 0
    again = call(
        packs,
        1,
        "2026-11-20T10:02-05:00",
        target="third-party",
        purpose="locate",
        channel="employer",
    )
    assert again.exit_code == 1 and "already contacted once" in again.stderr


@pytest.mark.parametrize(
    ("flag", "rule"), [("cease-communication", "us.regf.cease"), ("attorney", "us.regf.attorney")]
)
def test_flags_stop_contact(packs: Run, flag: str, rule: str) -> None:
    packs("flags", "1", "--set", flag, "--at", "2026-11-20T09:00-05:00", as_="sup")
    result = call(packs, 1, "2026-11-20T10:00-05:00", channel="letter")
    assert result.exit_code == 1 and f"(rule {rule})" in result.stderr
    packs("flags", "1", "--clear", flag, "--at", "2026-11-20T11:00-05:00", as_="sup")
    assert call(packs, 1, "2026-11-20T12:00-05:00", channel="letter").exit_code == 0


def test_cn_third_parties_only_pass_a_message(packs: Run) -> None:
    located = call(
        packs, 2, "2026-11-20T10:00+08:00", target="third-party", purpose="locate", channel="social"
    )
    assert located.exit_code == 1 and "(rule cn.third_party)" in located.stderr
    message = call(
        packs,
        2,
        "2026-11-20T10:01+08:00",
        target="third-party",
        purpose="message",
        channel="social",
    )
    assert message.exit_code == 0


def test_cn_visits_need_two_staff(packs: Run) -> None:
    packs("confirm", "2", "--address", "x", "--at", "2026-11-20T10:00+08:00", as_="w")
    alone = packs(
        "plan",
        "2",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--at",
        "2026-11-20T11:00+08:00",
        as_="w",
    )
    assert alone.exit_code == 1 and "at least 2 staff members" in alone.stderr
    together = packs(
        "plan",
        "2",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--with",
        "w2",
        "--at",
        "2026-11-20T11:00+08:00",
        as_="w",
    )
    assert together.exit_code == 0, together.output


def test_cn_credit_report_inquiries(packs: Run) -> None:
    first = call(packs, 2, "2026-11-01T10:00+08:00", channel="bureau", outcome="reached")
    assert first.exit_code == 0
    second = call(packs, 2, "2026-11-20T10:00+08:00", channel="bureau", outcome="reached")
    assert second.exit_code == 1 and "at most one every 30 days" in second.stderr
    assert (
        call(packs, 2, "2026-12-02T10:00+08:00", channel="bureau", outcome="reached").exit_code == 0
    )
    packs(
        "flags", "2", "--set", "no-credit-relationship", "--at", "2026-12-03T09:00+08:00", as_="sup"
    )
    closed = call(packs, 2, "2027-01-10T10:00+08:00", channel="bureau", outcome="reached")
    assert closed.exit_code == 1 and "no open credit relationship" in closed.stderr


def test_cn_caps_penalty_interest(packs: Run, tmp_path: Path) -> None:
    packs(
        "create",
        "--institution",
        "hx",
        "--reference",
        "P",
        "--name",
        "P",
        "--timezone",
        "Asia/Shanghai",
        "--jurisdiction",
        "CN",
        "--currency",
        "CNY",
        "--principal",
        "1000",
        "--overdue",
        "1000",
        "--overdue-since",
        "2026-01-01",
        "--penalty-rate",
        "36%",
        "--at",
        "2026-10-01T00:00Z",
        as_="sup",
    )
    data = json.loads(packs("balance", "6", "--json", "--at", "2027-01-01T12:00+08:00").stdout)
    assert data["balance"]["penalty"] == "240.00"  # 24% a year, not 36%


def test_in_agent_identity_and_third_parties(packs: Run) -> None:
    packs("assign", "3", "--to", "nb", "--at", "2026-11-20T09:00+05:30", as_="sup")
    packs("confirm", "3", "--address", "x", "--at", "2026-11-20T10:00+05:30", as_="nb")
    result = packs(
        "plan",
        "3",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--at",
        "2026-11-20T11:00+05:30",
        as_="nb",
    )
    assert result.exit_code == 1
    assert "no identity number on record for nb" in result.stderr
    friend = packs(
        "contact",
        "3",
        "--channel",
        "phone",
        "--target",
        "third-party",
        "--relationship",
        "friend",
        "--outcome",
        "reached",
        "--at",
        "2026-11-20T12:00+05:30",
        as_="nb",
    )
    assert friend.exit_code == 1 and "(rule in.rbi.third_party)" in friend.stderr


def test_two_packs_enabled_together_both_apply(packs: Run) -> None:
    code, us = check(
        packs, 4, "--action", "contact", "--channel", "phone", "--at", "2026-11-23T21:30-05:00"
    )
    assert code == 1 and us["us.regf.hours"] == "DENY"
    assert not any(rule.startswith("cn.") for rule in us)
    code, cn = check(
        packs,
        5,
        "--action",
        "plan_visit",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--at",
        "2026-11-23T10:00+08:00",
    )
    assert code == 1 and cn["cn.two_staff"] == "DENY" and cn["cn.hours"] == "allow"
    assert not any(rule.startswith("us.") for rule in cn)


def test_packs_do_nothing_for_institutions_that_did_not_enable_them(packs: Run) -> None:
    register(
        packs,
        "other",
        jurisdiction="US-NY",
        timezone="America/New_York",
        currency="USD",
        as_="sup",
    )
    packs(
        "create",
        "--institution",
        "other",
        "--reference",
        "O",
        "--name",
        "O",
        "--timezone",
        "America/New_York",
        "--jurisdiction",
        "US-NY",
        "--currency",
        "USD",
        "--principal",
        "10",
        "--overdue",
        "5",
        "--overdue-since",
        "2026-06-01",
        "--at",
        "2026-10-01T00:00Z",
        as_="sup",
    )
    code, verdicts = check(
        packs, 6, "--action", "contact", "--channel", "phone", "--at", "2026-11-23T23:30-05:00"
    )
    assert code == 0 and not any(rule.startswith("us.") for rule in verdicts)


def test_institution_overrides_a_rule_parameter(packs: Run, tmp_path: Path) -> None:
    set_policy(packs, "hx", "rules.cn.hours.start=09:00", as_="sup")
    code, verdicts = check(
        packs, 2, "--action", "contact", "--channel", "phone", "--at", "2026-11-23T08:30+08:00"
    )
    assert code == 1 and verdicts["cn.hours"] == "DENY"


def test_check_writes_nothing(packs: Run, target: str) -> None:
    before = len(events(target))
    check(packs, 1, "--action", "contact", "--channel", "phone", "--at", "2026-11-23T23:00-05:00")
    assert len(events(target)) == before


def test_compliance_report_counts_refusals(packs: Run) -> None:
    call(packs, 1, "2026-11-20T06:00-05:00")
    call(packs, 1, "2026-11-20T22:00-05:00")
    call(packs, 3, "2026-11-20T20:00+05:30")
    result = packs("report", "compliance", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {
        (r["rule"], r["staff"], r["institution"]): r["refusals"] for r in json.loads(result.stdout)
    }
    assert rows[("us.regf.hours", "w", "us-bank")] == 2
    assert rows[("in.rbi.hours", "w", "deccan")] == 1
    only = json.loads(
        packs("report", "compliance", "--format", "json", "--institution", "deccan").stdout
    )
    assert [r["rule"] for r in only] == ["in.rbi.hours"]
    assert "compliance" in packs("report", "--help").stdout


def test_call_limits_are_per_person_and_dates_are_the_borrowers(packs: Run) -> None:
    # 20:00 in New York is already the next day in UTC: the refusal names the local day.
    assert call(packs, 1, "2026-11-03T20:00-05:00", outcome="reached").exit_code == 0
    result = call(packs, 1, "2026-11-04T11:00-05:00")
    assert result.exit_code == 1
    assert "conversation with the borrower on 2026-11-03" in result.stderr
    # A call to a third party (to locate the borrower) is not held against the borrower's limit.
    third = call(packs, 1, "2026-11-04T11:10-05:00", target="third-party", purpose="locate")
    assert third.exit_code == 0, third.output


def test_badges_recorded_later_and_checked_with_companions(packs: Run) -> None:
    packs("assign", "3", "--to", "nb", "--at", "2026-11-20T09:00+05:30", as_="sup")
    code, verdicts = check(
        packs,
        3,
        "--action",
        "plan_visit",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--at",
        "2026-11-20T10:00+05:30",
    )
    assert code == 1 and verdicts["in.rbi.agent_identity"] == "DENY"
    result = packs("staff", "badge", "nb", "RA-2001", "--at", "2026-11-20T10:05+05:30", as_="sup")
    assert result.exit_code == 0, result.output
    staff = {s["id"]: s["badge"] for s in json.loads(packs("staff", "--json").stdout)}
    assert staff["nb"] == "RA-2001"
    code, verdicts = check(
        packs,
        3,
        "--action",
        "plan_visit",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--with",
        "w2",
        "--at",
        "2026-11-20T10:10+05:30",
    )
    assert code == 0 and verdicts["in.rbi.agent_identity"] == "allow"
    code, cn = check(
        packs,
        2,
        "--action",
        "plan_visit",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        "--with",
        "w2",
        "--at",
        "2026-11-20T10:00+08:00",
    )
    assert code == 0 and cn["cn.two_staff"] == "allow"


def test_a_malformed_rule_setting_is_refused_when_set(packs: Run, target: str) -> None:
    before = len(events(target))
    result = packs("institution", "policy", "hx", "--set", "rules.cn.hours.start=9h", as_="sup")
    assert result.exit_code == 2
    assert "rule setting '9h' is not a time HH:MM" in result.stderr
    assert len(events(target)) == before
    code, verdicts = check(
        packs, 2, "--action", "contact", "--channel", "phone", "--at", "2026-11-23T08:30+08:00"
    )
    assert code == 0 and verdicts["cn.hours"] == "allow"
