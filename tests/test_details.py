"""Behaviour found by walking the CLI as a field worker would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Run, create_args
from fieldcase import hookimpl
from fieldcase.cli import cli
from fieldcase.plugins import describe_plugins, get_plugin_manager, manager

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

AT = ("--at", "2026-11-23T12:00+08:00")


def ready_for_interview(run: Run, *plan_extra: str) -> None:
    run("confirm", "1", "--address", "x", *AT, as_="li.na")
    run(
        "plan",
        "1",
        "--date",
        "2026-11-25",
        "--window",
        "10:00-12:00",
        *plan_extra,
        *AT,
        as_="li.na",
    )
    run("checklist", "1", "--all", *AT, as_="li.na")


def test_visit_can_be_replanned_after_the_checklist_is_complete(office: Run) -> None:
    ready_for_interview(office)
    result = office(
        "plan", "1", "--date", "2026-11-24", "--window", "15:00-17:00", *AT, as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert "Checklist complete; case is in interview" in result.output
    result = office(
        "interview", "1", "--met", "nobody", "--at", "2026-11-24T15:30+08:00", as_="li.na"
    )
    assert result.exit_code == 0, result.output


def test_visiting_companion_may_record_the_interview(office: Run) -> None:
    ready_for_interview(office, "--with", "zhang.min")
    result = office(
        "interview", "1", "--met", "relative", "--at", "2026-11-25T10:30+08:00", as_="zhang.min"
    )
    assert result.exit_code == 0, result.output


def test_bucket_filter_counts_days_in_the_borrowers_time_zone(office: Run) -> None:
    office(*create_args("L-7", **{"overdue-since": "2026-09-23"}), *AT, as_="chen.wei")
    # 07:00 in Shanghai is still the previous day in UTC: locally 61 days past due.
    at = ("--at", "2026-11-23T07:00+08:00")
    rows = json.loads(office("cases", "--json", "--bucket", "61-90", *at).output)
    by_case = {r["case"]: r for r in rows}
    assert by_case["hx-consumer/L-7"]["dpd"] == 61
    assert by_case["hx-consumer/L-7"]["bucket"] == "61-90"
    younger = json.loads(office("cases", "--json", "--bucket", "31-60", *at).output)
    assert "hx-consumer/L-7" not in [r["case"] for r in younger]


def test_closed_case_stops_ageing(office: Run) -> None:
    office("close", "1", "--resolution", "paid", "--at", "2026-11-23T12:00+08:00", as_="chen.wei")
    later = json.loads(
        office("show", "1", "--json", "--at", "2027-03-01T12:00+08:00", as_="chen.wei").output
    )
    assert later["days_past_due"] == 69  # 2026-09-15 to 2026-11-23


def test_service_input_errors_show_the_commands_usage(office: Run) -> None:
    ready_for_interview(office)
    result = office("interview", "1", "--met", "borrower", *AT, as_="li.na")
    assert result.exit_code == 2
    assert "interview [OPTIONS] CASE" in result.stderr
    assert "give --reason CODE" in result.stderr


def test_reasons_need_no_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "reasons", "--json"])
    assert result.exit_code == 0
    codes = [r["code"] for r in json.loads(result.output)]
    assert codes[0] == "financial-management"  # defaults lead
    assert "payroll-change" in codes
    assert not (tmp_path / "none.db").exists()


def test_history_and_show_use_the_borrowers_local_time(office: Run) -> None:
    office(
        "contact",
        "1",
        "--channel",
        "phone",
        "--outcome",
        "reached",
        "--at",
        "2026-11-23T02:05Z",
        as_="li.na",
    )
    assert "2026-11-23 10:05 +0800" in office("history", "1").output
    assert "2026-11-23 10:05 +0800" in office("show", "1", as_="chen.wei").output
    assert "CNY 3,150.40" in office("show", "1", as_="chen.wei").output


def test_refusals_reach_case_event_observers(office: Run) -> None:
    seen: list[str] = []

    class Observer:
        @hookimpl
        def case_event(self, event: Any) -> None:
            seen.append(event.type)

    manager().register(Observer(), name="observer")
    try:
        office("interview", "1", "--met", "nobody", *AT, as_="li.na")
    finally:
        manager().unregister(name="observer")
    assert seen == ["refused"]


def test_load_plugins_accepts_distribution_names_and_warns_on_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIELDCASE_LOAD_PLUGINS", "fieldcase-example-bank")
    assert [p["name"] for p in describe_plugins(get_plugin_manager())] == ["fieldcase-example-bank"]
    monkeypatch.setenv("FIELDCASE_LOAD_PLUGINS", "fieldcase_exampel_bank")
    with pytest.warns(UserWarning, match="fieldcase_exampel_bank, not installed"):
        assert describe_plugins(get_plugin_manager()) == []


def test_plugins_may_see_whom_a_case_is_assigned_to(office: Run) -> None:
    class OnlyLiNa:
        @hookimpl
        def check_action(self, action: str, context: Any) -> Any:
            from fieldcase.model import Decision

            if action == "assign" and context.staff != ("li.na",):
                return Decision.deny("test.assign", f"not {context.staff[0]}")
            return None

    manager().register(OnlyLiNa(), name="only-li-na")
    try:
        result = office("assign", "1", "--to", "zhang.min", *AT, as_="chen.wei")
    finally:
        manager().unregister(name="only-li-na")
    assert result.exit_code == 1
    assert "not zhang.min (rule test.assign)" in result.stderr
