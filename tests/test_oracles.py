"""Masked data cannot be recovered through what a viewer may ask (issue 13, item 3)."""

from __future__ import annotations

import json

import pytest
from conftest import AT, Run, create_args, events

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

ADDRESS = "上海市浦东新区世纪大道100号"


def found(run: Run, text: str, as_: str | None) -> list[int]:
    result = run("cases", "--search", text, "--all", "--json", *AT, as_=as_)
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.stdout)]


def other_case(office: Run) -> None:
    """Case 2, assigned to zhang.min: li.na may not see its address."""
    result = office(
        *create_args("L-2002", address="北京市朝阳区建国路88号", name="赵六"),
        "--assign",
        "zhang.min",
        *AT,
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output


def test_an_address_cannot_be_guessed_through_search_by_those_who_see_it_masked(
    office: Run,
) -> None:
    other_case(office)
    assert found(office, "建国路", "li.na") == []  # another's case: masked for li.na
    assert found(office, "建国路", None) == []  # nobody named: names and references only
    assert found(office, "世纪大道", "li.na") == [1]  # her own case
    assert found(office, "建国路", "zhang.min") == [2]
    assert found(office, "建国路", "chen.wei") == [2]  # supervisors see every address
    # Names and references stay searchable for everyone.
    assert found(office, "赵六", None) == [2] and found(office, "L-2002", "li.na") == [2]


def test_searches_that_reach_addresses_are_logged(office: Run, target: str) -> None:
    other_case(office)
    before = len(events(target))
    found(office, "建国路", "chen.wei")
    found(office, "赵六", None)
    logged = [e for e in events(target)[before:] if e["type"] == "searched"]
    assert [(e["actor"], json.loads(e["payload"])["data"]["text"]) for e in logged] == [
        ("chen.wei", "建国路")
    ]


def test_event_hashes_are_not_shown_to_those_who_see_the_case_masked(office: Run) -> None:
    other_case(office)
    masked = json.loads(office("history", "2", "--json", as_="li.na").stdout)
    assert all("hash" not in event for event in masked)
    clear = json.loads(office("history", "2", "--json", as_="zhang.min").stdout)
    assert all(len(event["hash"]) == 64 for event in clear)
