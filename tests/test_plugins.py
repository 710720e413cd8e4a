"""Institution plugins: a plugin registered in a test, and Example Bank through its entry point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, create_args, events, register, set_policy
from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, ChecklistItem, Decision, Reason
from fieldcase.plugins import describe_plugins, get_plugin_manager, manager

AT = ("--at", "2026-11-23T12:00+08:00")


class NoWeekendVisits:
    """A test institution's rules: no weekend visits, a body-camera item, a reason code."""

    @hookimpl
    def check_action(self, case: Case, action: str, context: ActionContext) -> Decision | None:
        if action == "plan_visit" and context.window and context.window[0].weekday() >= 5:
            return Decision.deny("test.weekend", "no visits at weekends")
        return None

    @hookimpl
    def visit_checklist(self) -> list[ChecklistItem]:
        return [ChecklistItem("body-camera", "Body camera, charged")]

    @hookimpl
    def overdue_reasons(self) -> list[Reason]:
        return [Reason("crop-failure", "Crop failure")]


@pytest.fixture
def weekend_plugin() -> Iterator[NoWeekendVisits]:
    plugin = NoWeekendVisits()
    manager().register(plugin, name="no-weekend-visits")
    yield plugin
    manager().unregister(name="no-weekend-visits")


def confirmed(run: Run, case: str = "1") -> None:
    assert run("confirm", case, "--address", "x", *AT, as_="li.na").exit_code == 0


def test_registered_plugin_denies_a_plan(office: Run, db_path: Path, weekend_plugin: Any) -> None:
    confirmed(office)
    result = office(
        "plan", "1", "--date", "2026-11-28", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert result.exit_code == 1
    assert "Refused: no visits at weekends (rule test.weekend)" in result.stderr
    assert events(db_path, 1)[-1]["type"] == "refused"
    # A weekday is fine, and the plugin's checklist item is required.
    result = office(
        "plan", "1", "--date", "2026-11-27", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert "body-camera" in result.output
    office(
        "checklist",
        "1",
        "--tick",
        "id-badge",
        "--tick",
        "authorisation",
        "--tick",
        "contract",
        "--tick",
        "statement",
        *AT,
        as_="li.na",
    )
    assert (
        json.loads(office("show", "1", "--json", as_="chen.wei").output)["stage"] == "preparation"
    )
    office("checklist", "1", "--tick", "body-camera", *AT, as_="li.na")
    assert json.loads(office("show", "1", "--json", as_="chen.wei").output)["stage"] == "interview"


def test_registered_plugin_adds_a_reason_code(office: Run, weekend_plugin: Any) -> None:
    assert "crop-failure" in office("reasons").output
    confirmed(office)
    office("plan", "1", "--date", "2026-11-27", "--window", "10:00-12:00", *AT, as_="li.na")
    office("checklist", "1", "--all", *AT, as_="li.na")
    result = office(
        "interview",
        "1",
        "--met",
        "borrower",
        "--reason",
        "crop-failure",
        "--at",
        "2026-11-27T10:30+08:00",
        as_="li.na",
    )
    assert result.exit_code == 0, result.output


def test_plugin_unregistered_after_the_test_leaves_no_trace(office: Run) -> None:
    assert "crop-failure" not in office("reasons").output


# -- Example Bank, installed as its own distribution ----------------------------------------


def bank_case(run: Run, reference: str = "EB-1", **overrides: str) -> str:
    fields = {
        "institution": "example-bank",
        "name": "Mary Johnson",
        "timezone": "America/New_York",
        "currency": "USD",
        "jurisdiction": "US-NY",
        "principal": "9000",
        "overdue": "1200",
        "overdue-since": "2026-08-01",
        **overrides,
    }
    if run("institution", "show", "example-bank").exit_code != 0:
        register(
            run,
            "example-bank",
            jurisdiction="US-NY",
            timezone="America/New_York",
            currency="USD",
        )
    result = run(
        *create_args(reference, **fields), "--assign", "li.na", *AT, "--json", as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["id"])


def test_example_bank_is_listed_with_its_hooks(office: Run) -> None:
    listed = json.loads(office("plugins", "--json").output)
    bank = next(p for p in listed if p["name"] == "fieldcase-example-bank")
    assert bank["version"] == "0.1.0"
    assert bank["hooks"] == [
        "case_eligible",
        "check_action",
        "overdue_reasons",
        "register_commands",
        "register_exporters",
        "register_policy_settings",
        "register_reports",
        "visit_checklist",
    ]
    assert "fieldcase-example-bank" in office("plugins").output


def test_example_bank_refuses_visits_on_its_holidays(office: Run, db_path: Path) -> None:
    case = bank_case(office)
    office("confirm", case, "--address", "1 Main St", *AT, as_="li.na")
    result = office(
        "plan", case, "--date", "2026-11-26", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert result.exit_code == 1
    assert "2026-11-26 is an Example Bank public holiday" in result.stderr
    assert "(rule example-bank.holiday)" in result.stderr
    result = office(
        "plan", case, "--date", "2026-11-27", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert result.exit_code == 0
    assert "hardship-form" in result.output and "privacy-notice" in result.output


def test_example_bank_rules_apply_only_to_its_cases(office: Run) -> None:
    confirmed(office)
    result = office(
        "plan", "1", "--date", "2026-11-26", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert result.exit_code == 0
    assert "hardship-form" not in result.output


def test_example_bank_reason_code_is_accepted(office: Run) -> None:
    assert "payroll-change" in office("reasons").output


def test_example_bank_thresholds_come_from_its_settings(office: Run, tmp_path: Path) -> None:
    small = bank_case(office, "EB-small", overdue="300")
    assert json.loads(office("show", small, "--json", as_="chen.wei").output)["eligible"] is False
    set_policy(office, "example-bank", "visit_min_overdue=100.00", 'holidays=["2026-11-27"]')
    lower = bank_case(office, "EB-small-2", overdue="300")
    assert json.loads(office("show", lower, "--json", as_="chen.wei").output)["eligible"] is True
    office("confirm", lower, "--address", "1 Main St", *AT, as_="li.na")
    result = office(
        "plan", lower, "--date", "2026-11-27", "--window", "10:00-12:00", *AT, as_="li.na"
    )
    assert "(rule example-bank.holiday)" in result.stderr
    # Eligibility is checked again before preparation: under the lowered threshold
    # the first case now qualifies, and loses its flag.
    result = office("confirm", small, "--address", "1 Main St", *AT, as_="chen.wei")
    assert result.exit_code == 0
    assert json.loads(office("show", small, "--json", as_="chen.wei").output)["eligible"] is True


def test_confirm_refused_when_no_longer_eligible(office: Run, tmp_path: Path) -> None:
    set_policy(office, "hx-consumer", "min_overdue_amount=5000")
    result = office("confirm", "1", "--address", "x", *AT, as_="li.na")
    assert result.exit_code == 1
    assert "(rule default.eligibility)" in result.stderr


def test_load_plugins_env_var_limits_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDCASE_LOAD_PLUGINS", "")
    names = [p["name"] for p in describe_plugins(get_plugin_manager())]
    assert names == []
    monkeypatch.setenv("FIELDCASE_LOAD_PLUGINS", "fieldcase-example-bank")
    names = [p["name"] for p in describe_plugins(get_plugin_manager())]
    assert names == ["fieldcase-example-bank"]
    monkeypatch.delenv("FIELDCASE_LOAD_PLUGINS")
    everything = [p["name"] for p in describe_plugins(get_plugin_manager(), all_plugins=True)]
    assert "fieldcase.builtin.policy" in everything


def test_a_plugins_key_is_checked_when_set(office: Run, db_path: Path) -> None:
    bank_case(office)
    result = office(
        "institution",
        "policy",
        "example-bank",
        "--set",
        'holidays=["Thanksgiving"]',
        as_="chen.wei",
    )
    assert result.exit_code == 2
    assert "holidays: 'Thanksgiving' is not a date; write holidays as YYYY-MM-DD" in result.stderr
    typo = office(
        "institution", "policy", "example-bank", "--set", "visit_min_overdu=100", as_="chen.wei"
    )
    assert typo.exit_code == 2 and "did you mean visit_min_overdue?" in typo.stderr


def test_case_event_observers_run_after_commit(office: Run) -> None:
    seen: list[tuple[str, int | None]] = []

    class Observer:
        @hookimpl
        def case_event(self, case: Case | None, event: Any) -> None:
            seen.append((event.type, case.version if case else None))

    manager().register(Observer(), name="observer")
    try:
        office("contact", "1", "--channel", "sms", "--outcome", "left-message", *AT, as_="li.na")
    finally:
        manager().unregister(name="observer")
    assert seen == [("contact_recorded", 2)]
