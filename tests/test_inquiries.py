"""Credit-bureau inquiries, through the command line: recorded, limited, reported, masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from conftest import AT, T0, Run, create_args, events, query, set_policy, snapshot

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores


def inquire(
    office: Run,
    case: str = "1",
    at: str = "2026-11-23T12:00+08:00",
    kind: str = "hard",
    purpose: str = "post-loan-management",
    *options: str,
    as_: str = "li.na",
) -> Result:
    return office(
        "inquiry", case, "--purpose", purpose, "--kind", kind, *options, "--at", at, as_=as_
    )


def refused_rules(target: str, case_id: int = 1) -> list[str]:
    return [
        reason["rule"]
        for e in events(target, case_id)
        if e["type"] == "refused"
        for reason in json.loads(e["payload"])["data"]["reasons"]
    ]


def test_an_inquiry_is_recorded_and_shown_to_those_who_work_the_case(
    office: Run, target: str
) -> None:
    said = "Two new loans from other lenders since March"
    recorded = inquire(
        office, "1", "2026-11-23T12:00+08:00", "soft", "post-loan-management",
        "--bureau", "PBOC Credit Reference Center", "--note", said,
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    assert recorded.output == (
        "Case 1: soft inquiry 1 at PBOC Credit Reference Center recorded (post-loan-management)\n"
    )

    (row,) = query(target, "SELECT * FROM inquiries")
    assert row == (
        1, 1, "post-loan-management", "soft", "PBOC Credit Reference Center",
        "2026-11-23T04:00:00Z", "li.na", said,
    )  # fmt: skip
    assert [e["type"] for e in events(target, 1)][-1] == "inquiry_recorded"

    mine = office("show", "1", as_="li.na")
    assert "Credit-bureau inquiries" in mine.output and said in mine.output
    other = json.loads(office("show", "1", "--json", as_="zhang.min").output)
    assert other["inquiries"][0]["note"] == "[masked]"
    assert other["inquiries"][0]["kind"] == "soft"
    history = office("history", "1", "--json", as_="zhang.min")
    assert said not in history.output


def test_bad_input_is_a_usage_error(office: Run, target: str) -> None:
    before = snapshot(target)
    assert inquire(office, kind="medium").exit_code == 2
    assert inquire(office, purpose="marketing").exit_code == 2
    missing = office("inquiry", "1", "--purpose", "collection", *AT, as_="li.na")
    assert missing.exit_code == 2 and "--kind" in missing.output
    assert snapshot(target) == before


def test_four_hard_inquiries_a_year_by_default(office: Run, target: str) -> None:
    for month in ("01", "02", "03"):
        assert inquire(office, at=f"2026-12-{month}T10:00+08:00").exit_code == 0
    # Just under the limit: the fourth is allowed.
    fourth = inquire(office, at="2027-03-01T10:00+08:00")
    assert fourth.exit_code == 0, fourth.output

    before = snapshot(target)
    fifth = inquire(office, at="2027-06-01T10:00+08:00")
    assert fifth.exit_code == 1
    assert "4 hard credit-bureau inquiries in the last 365 days, the first on 2026-12-01" in (
        fifth.output
    )
    assert "(rule default.inquiries)" in fifth.output
    after = snapshot(target)
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][len(before["events"]) :] == ["refused"]
    assert refused_rules(target) == ["default.inquiries"]

    # Soft inquiries are not counted; a year after the first, one more hard one is allowed.
    assert inquire(office, at="2027-06-01T10:05+08:00", kind="soft").exit_code == 0
    assert inquire(office, at="2027-12-01T10:01+08:00").exit_code == 0


def test_the_limit_is_the_institutions_policy(office: Run, target: str) -> None:
    set_policy(office, "hx-consumer", "max_inquiries_per_year=1")
    assert inquire(office, at="2026-11-23T10:00+08:00").exit_code == 0
    second = inquire(office, at="2026-11-24T10:00+08:00")
    assert second.exit_code == 1 and "at most 1 (policy max_inquiries_per_year)" in second.output
    set_policy(office, "hx-consumer", "max_inquiries_per_year=0", at="2026-11-24T11:00+08:00")
    assert inquire(office, "1", "2026-11-24T12:00+08:00", "soft").exit_code == 0
    bad = office(
        "institution", "policy", "hx-consumer", "--set", "max_inquiries_per_year=-1",
        "--at", "2026-11-24T13:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert bad.exit_code == 2


def test_no_inquiry_on_a_closed_case_or_by_someone_else(office: Run, target: str) -> None:
    not_hers = inquire(office, as_="zhang.min")
    assert not_hers.exit_code == 1 and "assigned to li.na" in not_hers.output
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    closed = inquire(office, at="2026-11-24T10:00+08:00", as_="chen.wei")
    assert closed.exit_code == 1
    assert "cannot record a credit-bureau inquiry on case 1" in closed.output
    assert refused_rules(target) == ["permission.assigned", "stage.inquiry"]


def test_the_report_counts_inquiries_by_institution_purpose_and_kind(office: Run) -> None:
    set_policy(office, "hx-consumer", 'attributes.branch="text"')
    made = office(
        *create_args("L-1002"), "--attribute", "branch=Harbor-East", "--assign", "li.na",
        "--at", T0, as_="chen.wei",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    steps = [
        ("1", "2026-11-23T10:00+08:00", "hard", "post-loan-management"),
        ("1", "2026-11-23T10:05+08:00", "soft", "post-loan-management"),
        ("2", "2026-11-23T10:10+08:00", "soft", "post-loan-management"),
        ("2", "2026-11-23T10:15+08:00", "hard", "collection"),
        ("2", "2026-12-02T10:00+08:00", "hard", "collection"),  # after the window
    ]
    for case, at, kind, purpose in steps:
        done = inquire(office, case, at, kind, purpose)
        assert done.exit_code == 0, done.output

    def report(*options: str) -> list[dict[str, object]]:
        result = office(
            "report", "inquiries", "--format", "json", "--to", "2026-11-30T00:00+08:00",
            *options, as_="chen.wei",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    row = {"institution": "hx-consumer"}
    assert report() == [
        {**row, "purpose": "collection", "kind": "hard", "inquiries": 1, "cases": 1},
        {**row, "purpose": "post-loan-management", "kind": "hard", "inquiries": 1, "cases": 1},
        {**row, "purpose": "post-loan-management", "kind": "soft", "inquiries": 2, "cases": 2},
    ]
    assert report("--where", "branch=Harbor-East") == [
        {**row, "purpose": "collection", "kind": "hard", "inquiries": 1, "cases": 1},
        {**row, "purpose": "post-loan-management", "kind": "soft", "inquiries": 1, "cases": 1},
    ]


def test_purge_wipes_what_the_inquiry_note_said(
    office: Run, target: str, db_path: Path, store_kind: str
) -> None:
    said = "Borrower now works at Huangpu Logistics per bureau record"
    assert inquire(office, "1", AT[1], "soft", "collection", "--note", said).exit_code == 0
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    purged = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    assert said not in repr(snapshot(target))  # no table, no event
    if store_kind == "sqlite":  # nor the file's bytes (a server keeps its own pages)
        files = [db_path, Path(f"{db_path}-wal")]
        assert said.encode() not in b"".join(f.read_bytes() for f in files if f.exists())
    kept = query(target, "SELECT purpose, kind, note FROM inquiries")
    assert kept == [("collection", "soft", "")]
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output


def bureau_contact(office: Run, case: str, at: str) -> Result:
    """An inquiry recorded the old way: a contact on channel bureau."""
    return office(
        "contact", case, "--channel", "bureau", "--target", "borrower", "--outcome", "reached",
        "--at", at, as_="li.na",
    )  # fmt: skip


def test_an_inquiry_recorded_as_a_bureau_contact_counts_against_the_limit(
    office: Run, target: str
) -> None:
    """Attack: past the yearly limit, record the next hard inquiry as a bureau contact."""
    set_policy(office, "hx-consumer", "max_inquiries_per_year=1")
    assert inquire(office, at="2026-11-23T10:00+08:00").exit_code == 0

    before = snapshot(target)
    old_way = bureau_contact(office, "1", "2026-11-24T10:00+08:00")
    assert old_way.exit_code == 1
    assert "1 hard credit-bureau inquiries in the last 365 days" in old_way.output
    assert "(rule default.inquiries)" in old_way.output
    after = snapshot(target)
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][len(before["events"]) :] == ["refused"]
    assert refused_rules(target) == ["default.inquiries"]

    # The other way round: a bureau contact says no kind, so it counts as a hard one.
    made = office(*create_args("L-1002"), "--assign", "li.na", "--at", T0, as_="chen.wei")
    assert made.exit_code == 0, made.output
    assert bureau_contact(office, "2", "2026-11-23T10:00+08:00").exit_code == 0
    hard = inquire(office, "2", "2026-11-24T10:00+08:00")
    assert hard.exit_code == 1 and "(rule default.inquiries)" in hard.output
    assert inquire(office, "2", "2026-11-24T10:05+08:00", "soft").exit_code == 0
    # A year (365 days) after the bureau contact, one more is allowed.
    assert bureau_contact(office, "2", "2027-11-23T10:01+08:00").exit_code == 0


def test_a_dry_run_of_a_bureau_contact_asks_the_inquiry_rules(office: Run) -> None:
    set_policy(office, "hx-consumer", "max_inquiries_per_year=1")
    assert inquire(office, at="2026-11-23T10:00+08:00").exit_code == 0
    checked = office(
        "check", "1", "--action", "contact", "--channel", "bureau", "--target", "borrower",
        "--json", "--at", "2026-11-24T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert checked.exit_code == 1, checked.output
    assert "default.inquiries" in checked.output
