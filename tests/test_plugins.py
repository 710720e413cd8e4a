"""Institution plugins registered in a test, and the choice of installed plugins that load.

Example Bank's own tests are in plugins/fieldcase-example-bank/tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, events, set_policy
from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, ChecklistItem, Decision, Reason
from fieldcase.plugins import describe_plugins, get_plugin_manager, manager
from fieldcase.testing import RegisterPlugin

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
def weekend_plugin(register_plugin: RegisterPlugin) -> NoWeekendVisits:
    plugin = NoWeekendVisits()
    register_plugin(plugin, name="no-weekend-visits")
    return plugin


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
