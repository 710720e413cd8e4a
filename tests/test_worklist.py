"""The worklist: search (Chinese included), due today, priority, and the day's plan."""

from __future__ import annotations

import json

from conftest import AT, Run, create_args

NOON = ("--at", "2026-11-25T07:00+08:00")


def refs(run: Run, *args: str) -> list[str]:
    result = run("cases", "--json", *args)
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
    assert refs(office, "--search", "浦东新区", *NOON) == ["hx-consumer/L-1001"]
    assert refs(office, "--search", "王芳", *NOON) == ["hx-consumer/L-1001"]  # two characters
    assert refs(office, "--search", "体育西路", *NOON) == ["hx-consumer/L-2002"]
    assert refs(office, "--search", "johnson", *NOON) == ["hx-consumer/L-2003"]
    assert refs(office, "--search", "L-2002", *NOON) == ["hx-consumer/L-2002"]
    assert refs(office, "--search", "深圳", *NOON) == []


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
    assert refs(office, "--search", "文三路", *NOON) == ["hx-consumer/L-1001"]


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
    assert plan["visits"][0]["to tick"] == ""
    assert plan["visits"][1]["to tick"] == "id-badge, authorisation, contract, statement"
    assert plan["promises"] == [
        {"case": 1, "borrower": "王芳", "amount": "CNY 500.00", "due": "2026-11-25"}
    ]
    # zhang.min visits too, but has no promises on cases assigned to him.
    other = json.loads(office("today", "--json", *NOON, as_="zhang.min").stdout)
    assert len(other["visits"]) == 2 and other["promises"] == []
    text = office("today", *NOON, as_="li.na").stdout
    assert "2 visits, 1 promise falling due" in text
