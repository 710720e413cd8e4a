"""fieldcase.testing, the helpers plugin authors use."""

from __future__ import annotations

import os
from collections.abc import Callable

import click
import fieldcase.cli
import fieldcase.plugins
import pytest
from fieldcase import hookimpl
from fieldcase.model import ActionContext, Decision
from fieldcase.testing import Office, OfficeFactory, RegisterPlugin, plugin_scope


class Loud:
    """A plugin with a command, a report, and a rule against planning visits."""

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def shout() -> None:
            """Say hello, loudly."""
            click.echo("HELLO")

    @hookimpl
    def register_reports(self, register: Callable[..., None]) -> None:
        register("loud", lambda services, filters: [{"volume": 11}], ("volume",), "How loud.")

    @hookimpl
    def check_action(self, action: str, context: ActionContext) -> Decision | None:
        if action == "plan_visit":
            return Decision.deny("loud.plan", "too loud to plan a visit")
        return None


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    return fieldcase_office(plugins=[])


def test_an_office_brings_cases_to_each_stage(office: Office) -> None:
    stages = ["confirmation", "preparation", "interview", "feedback", "closed"]

    reached = {stage: office.show(office.case_at(stage))["stage"] for stage in stages}

    assert reached == {stage: stage for stage in stages}
    with pytest.raises(ValueError, match="case 3 is in interview: it cannot go forward"):
        office.advance(3, "preparation")


def test_a_refused_step_stops_the_test_with_the_command_and_the_reason(
    office: Office, register_plugin: RegisterPlugin
) -> None:
    register_plugin(Loud(), name="loud")

    with pytest.raises(AssertionError) as refused:
        office.case_at("interview")

    assert "'fieldcase --as maria.lopez plan 1 --date 2026-11-25" in str(refused.value)
    assert "too loud to plan a visit (rule loud.plan)" in str(refused.value)


def test_a_plugin_registered_for_a_while_brings_its_commands_and_takes_them_away(
    office: Office,
) -> None:
    with plugin_scope() as scope:
        scope.register(Loud(), name="loud")
        shout = office("shout")
        report = office("report", "loud", "--format", "csv")
        help_ = office("--help").stdout

    assert shout.stdout == "HELLO\n"
    assert report.stdout.splitlines() == ["volume", "11"]
    assert "shout" in help_
    assert office("shout").exit_code == 2
    assert office("report", "loud").exit_code == 2
    assert "shout" not in office("--help").stdout
    # The command line the process started with never had them.
    assert "shout" not in fieldcase.cli.cli.commands
    assert "loud" not in fieldcase.cli.report.commands


def test_only_plugins_loads_those_named_until_the_end() -> None:
    started_with = fieldcase.plugins.manager()
    with plugin_scope() as scope:
        scope.register(Loud(), name="loud")
        pinned = scope.only("fieldcase-cn")
        names = {fieldcase.plugins.manager().get_name(p) for p in pinned.get_plugins()}
        assert os.environ["FIELDCASE_LOAD_PLUGINS"] == "fieldcase-cn"
    assert pinned is not started_with
    assert {"fieldcase-cn", "loud"} <= names
    assert not names & {"fieldcase-example-bank", "fieldcase-us-regf"}
    # Afterwards, the plugins the process loads, and nothing registered for the while.
    assert "FIELDCASE_LOAD_PLUGINS" not in os.environ
    after = fieldcase.plugins.manager()
    assert after.has_plugin("fieldcase-example-bank") and not after.has_plugin("loud")
