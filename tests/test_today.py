"""The morning view: ``today`` is the day's plan, ``cases`` pages and says what comes next,
``show`` has the money, and an unknown staff id is an error, not an empty list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import AT, Run, create_args, set_policy, to_preparation, to_submitted
from fieldcase.testing import invoke

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

EARLY = ("--at", "2026-11-23T07:00+08:00")
MORNING = ("--at", "2026-11-23T10:00+08:00")


def add_cases(run: Run, *cases: tuple[str, str, str]) -> None:
    """(reference, address, staff) each, referred at 09:00 on 2026-11-23."""
    for reference, address, staff in cases:
        result = run(
            *create_args(reference, address=address),
            "--assign",
            staff,
            "--at",
            "2026-11-23T09:00+08:00",
            as_="chen.wei",
        )
        assert result.exit_code == 0, result.output


def plan_today(run: Run) -> dict:
    result = run("today", "--json", *MORNING, as_="li.na")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- today -------------------------------------------------------------------------------


def test_cases_in_confirmation_are_contacts_to_make(office: Run) -> None:
    add_cases(office, ("L-2002", "广州市天河区体育西路8号", "li.na"))
    plan = plan_today(office)
    assert [c["case"] for c in plan["contacts"]] == [1, 2]
    first = plan["contacts"][0]
    assert first["borrower"] == "王芳" and first["phone"] == "+8613800138000"
    assert first["when"] == "now" and first["stage"] == "confirmation"
    text = office("today", *MORNING, as_="li.na").stdout
    assert "2 contacts to make" in text
    assert "Contacts to make" in text and "王芳" in text


def test_a_case_the_rules_refuse_now_is_listed_not_before(office: Run) -> None:
    set_policy(office, "hx-consumer", "rule_packs=cn")
    plan = json.loads(office("today", "--json", *EARLY, as_="li.na").stdout)
    [contact] = plan["contacts"]
    assert contact["when"] == "not before 08:00 Asia/Shanghai"
    assert contact["allowed_from"] == "2026-11-23T08:00:00+08:00"
    assert contact["refused_by"] == "cn.hours"
    # Three calls this morning are the day's most: none until tomorrow.
    for minute in ("09:00", "09:10", "09:20"):
        at = f"2026-11-23T{minute}+08:00"
        args = ("contact", "1", "--channel", "phone", "--target", "borrower")
        result = office(*args, "--outcome", "no-answer", "--at", at, as_="li.na")
        assert result.exit_code == 0, result.output
    [contact] = plan_today(office)["contacts"]
    assert contact["when"] == "not today" and contact["allowed_from"] is None
    assert contact["refused_by"] == "cn.frequency"
    assert contact["last_contact"] == "2026-11-23 09:20 no-answer"
    text = office("today", *MORNING, as_="li.na").stdout
    assert "not today (cn.frequency)" in text


def test_visits_come_in_window_order_district_by_district(office: Run) -> None:
    add_cases(
        office,
        ("L-2002", "广州市天河区体育西路8号", "li.na"),
        ("L-2003", "上海市浦东新区张杨路500号", "li.na"),
    )
    # Overlapping windows: the two in Pudong go together, whatever their order.
    for case, address in (("2", "广州市天河区体育西路8号"), ("3", "上海市浦东新区张杨路500号")):
        office("confirm", case, "--address", address, *AT, as_="li.na")
    office("confirm", "1", "--address", "上海市浦东新区世纪大道100号", *AT, as_="li.na")
    for case, window in (("1", "09:00-12:00"), ("2", "09:30-12:00"), ("3", "10:00-12:00")):
        result = office("plan", case, "--date", "2026-11-25", "--window", window, *AT, as_="li.na")
        assert result.exit_code == 0, result.output
    result = office("today", "--json", "--at", "2026-11-25T07:00+08:00", as_="li.na")
    visits = json.loads(result.stdout)["visits"]
    assert [v["case"] for v in visits] == [1, 3, 2]
    assert [v["area"] for v in visits] == ["上海市浦东新区", "上海市浦东新区", "广州市天河区"]
    # Cases with a visit today are not also contacts to make.
    assert json.loads(result.stdout)["contacts"] == []


def test_returned_feedback_is_listed_to_fix(office: Run) -> None:
    to_submitted(office)
    at = ("--at", "2026-11-25T19:00+08:00")
    returned = office("review", "1", "--return", "--note", "State the amount", *at, as_="chen.wei")
    assert returned.exit_code == 0, returned.output
    result = office("today", "--json", "--at", "2026-11-26T09:00+08:00", as_="li.na")
    plan = json.loads(result.stdout)
    [fix] = plan["feedback"]
    assert fix["case"] == 1 and fix["returned_by"] == "chen.wei"
    assert fix["note"] == "State the amount"
    assert (
        "1 feedback to fix" in office("today", "--at", "2026-11-26T09:00+08:00", as_="li.na").stdout
    )


def test_today_on_the_demo_lists_a_confirmation_workers_calls(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    now = ("--at", "2026-11-24T09:30+08:00")
    assert invoke("--db", db, "demo", "--cases", "60", *now).exit_code == 0
    mine = json.loads(
        invoke(
            "--db", db, "--as", "li.na", "cases", "--mine", "--limit", "500", "--json", *now
        ).stdout
    )
    result = invoke("--db", db, "--as", "li.na", "today", "--json", *now)
    plan = json.loads(result.stdout)
    waiting = [r["id"] for r in mine if r["stage"] == "confirmation"]
    assert waiting and set(waiting) <= {c["case"] for c in plan["contacts"]}
    text = invoke("--db", db, "--as", "li.na", "today", *now).stdout
    assert f"{len(plan['contacts'])} contacts to make" in text
    # At 09:30 in Shanghai the rules allow her calls now.
    assert any(c["when"] == "now" for c in plan["contacts"])


def test_today_on_the_demo_for_a_new_worker_with_only_confirmation_cases(
    tmp_path: Path,
) -> None:
    """The morning that used to say "0 visits" and nothing else: calls to make instead."""
    db = tmp_path / "demo.db"
    now = ("--at", "2026-11-24T09:30+08:00")
    assert invoke("--db", db, "demo", "--cases", "60", *now).exit_code == 0
    added = invoke("--db", db, "--as", "chen.wei", "staff", "add", "wu.lei", "--name", "吴磊", *now)
    assert added.exit_code == 0, added.output
    waiting = json.loads(
        invoke(
            "--db", db, "--as", "chen.wei", "cases", "--stage", "confirmation",
            "--institution", "hx-consumer", "--limit", "4", "--json", *now,
        ).stdout
    )  # fmt: skip
    ids = [str(c["id"]) for c in waiting]
    assert len(ids) == 4
    moved = invoke("--db", db, "--as", "chen.wei", "assign", *ids, "--to", "wu.lei", *now)
    assert moved.exit_code == 0, moved.output

    plan = json.loads(invoke("--db", db, "--as", "wu.lei", "today", "--json", *now).stdout)
    assert plan["visits"] == [] and plan["promises"] == []
    assert sorted(str(c["case"]) for c in plan["contacts"]) == sorted(ids)
    text = invoke("--db", db, "--as", "wu.lei", "today", *now).stdout
    assert "0 visits" in text and "4 contacts to make" in text


# -- cases -------------------------------------------------------------------------------


def test_cases_says_when_it_cuts_and_offset_pages_on(office: Run) -> None:
    add_cases(office, ("L-2002", "广州市", "li.na"), ("L-2003", "北京市", "zhang.min"))
    first = office("cases", "--limit", "2", *AT)
    assert first.exit_code == 0, first.output
    assert "showing 1-2 of 3; --limit/--offset for more" in first.stdout
    rest = json.loads(office("cases", "--limit", "2", "--offset", "2", "--json", *AT).stdout)
    assert [r["rank"] for r in rest] == [3]
    assert "showing" not in office("cases", *AT).stdout


def test_cases_show_next_step_next_contact_and_a_rank(office: Run) -> None:
    set_policy(office, "hx-consumer", "rule_packs=cn")
    add_cases(office, ("L-2002", "广州市", "li.na"))
    to_preparation(office)
    rows = json.loads(office("cases", "--json", *EARLY, as_="li.na").stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id[1]["next_step"] == "plan, checklist"
    assert by_id[2]["next_step"] == "confirm"
    assert by_id[2]["next_contact"] == "not before 08:00"
    assert "priority_score" in by_id[2] and "priority" not in by_id[2]
    text = office("cases", *EARLY, as_="li.na").stdout
    header = text.splitlines()[0].split()
    assert header[0] == "rank" and "next" in header
    assert "not before 08:00" in text and "1000" not in text


def test_an_unknown_staff_id_on_cases_is_an_error(office: Run, store_kind: str) -> None:
    result = office("cases", "--mine", *AT, as_="li.nb")
    assert result.exit_code == 1
    if store_kind == "sqlite":  # a close name is suggested
        assert "li.nb" in result.stderr and "li.na" in result.stderr
    else:  # no such login
        assert 'for user "li.nb"' in result.stderr
    assert office("cases", "--staff", "nobody", *AT).exit_code == 1


# -- show --------------------------------------------------------------------------------


def test_show_has_the_money_flags_offers_promises_and_payments(office: Run) -> None:
    to_submitted(office)
    at = "2026-11-25T18:30+08:00"
    assert office("offers", "1", "--at", at, as_="li.na").exit_code == 0
    accepted = office("accept", "1", "installment-3", "--at", at, as_="li.na")
    assert accepted.exit_code == 0, accepted.output
    paid = office("payment", "1", "1000", "--reference", "BOC-1", "--at", at, as_="chen.wei")
    assert paid.exit_code == 0, paid.output
    office("flags", "1", "--set", "attorney", "--note", "letter", "--at", at, as_="chen.wei")
    text = office("show", "1", "--at", at, as_="li.na").stdout
    assert "Balance" in text and "owed" in text and "paid so far" in text
    assert "Flags:      attorney" in text
    assert "Offers" in text and "installment-3" in text and "accepted" in text
    assert "Arrangement: installment-3" in text
    assert "Promises to pay" in text and "open" in text
    assert "Payments" in text and "BOC-1" in text and "CNY 1,000.00" in text
    data = json.loads(office("show", "1", "--json", "--at", at, as_="li.na").stdout)
    assert data["balance"]["paid"] == "1000.00"
    assert [p["reference"] for p in data["payments"]] == ["BOC-1"]
    assert {p["status"] for p in data["promises"]} == {"open"}
    assert "installment-3" in [o["code"] for o in data["offers"]]
    # Masked for someone not on the case, as before: the money stays, the phone does not.
    other = office("show", "1", "--at", at, as_="zhang.min").stdout
    assert "BOC-1" in other and "+8613800138000" not in other
