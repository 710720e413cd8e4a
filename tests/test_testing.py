"""fieldcase.testing, the helpers plugin authors use, and the suite beside another plugin."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import fieldcase.cli
import fieldcase.plugins
import pytest
from conftest import BUNDLED_PLUGINS, ROOT
from fieldcase import hookimpl
from fieldcase.model import ActionContext, Decision
from fieldcase.testing import Office, OfficeFactory, RegisterPlugin, plugin_scope

#: A third-party plugin that adds one of everything and decides nothing.
NOISE = ROOT / "tests" / "data" / "fieldcase-noise"


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


# -- beside another installed plugin ---------------------------------------------------------


@pytest.fixture
def noise_installed(tmp_path: Path) -> Iterator[None]:
    """fieldcase-noise installed, for this process and the ones it starts, without pip.

    Its package and a .dist-info naming its entry point go on the path: that is
    all ``importlib.metadata`` needs to see an installed distribution.
    """
    site = tmp_path / "site-packages"
    dist = site / "fieldcase_noise-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fieldcase-noise\nVersion: 0.1.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[fieldcase]\nfieldcase-noise = fieldcase_noise\n", encoding="utf-8"
    )
    installed = any(d.name == "fieldcase-noise" for d in importlib.metadata.distributions())
    paths = [] if installed else [str(site), str(NOISE)]
    with pytest.MonkeyPatch.context() as patch:
        for path in paths:
            patch.syspath_prepend(path)
        patch.setenv("PYTHONPATH", os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]))
        # The plugins loaded again, as by a process started now.
        fieldcase.plugins.manager.cache_clear()
        yield
    fieldcase.plugins.manager.cache_clear()


LISTINGS = [
    ("plugins", "--all", "--json"),
    ("reasons", "--json"),
    ("institution", "keys", "--json"),
    ("--help",),
    ("report", "--help"),
    ("export", "visits", "--format", "pdf", "-o", "visits.pdf"),
    ("institution", "policy", "acme-lending", "--set", "rule_packs=CN"),
]


def listings(office: Office) -> list[str]:
    return [office(*command, as_=office.supervisor).output for command in LISTINGS]


def test_loading_the_bundled_plugins_only_hides_another_installed_one(
    fieldcase_office: OfficeFactory, noise_installed: None
) -> None:
    beside = fieldcase_office()
    assert "fieldcase-noise" in beside("plugins", as_=beside.supervisor).stdout
    assert "noise-reason" in beside("reasons", as_=beside.supervisor).stdout
    everything = listings(beside)

    pinned = fieldcase_office(plugins=BUNDLED_PLUGINS)

    shown = listings(pinned)
    assert [
        command for command, text in zip(LISTINGS, everything, strict=True) if "noise" not in text
    ] == []
    assert [command for command, text in zip(LISTINGS, shown, strict=True) if "noise" in text] == []


def pytest_run(*args: str, basetemp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FIELDCASE_LOAD_PLUGINS"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={basetemp}",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_the_tests_of_what_plugins_show_pass_beside_another_plugin(
    noise_installed: None, tmp_path: Path
) -> None:
    """The tests marked ``bundled_plugins``, of the docs and of the plugins, beside fieldcase-noise.

    The doc walk-throughs (tests/test_guide.py) are left out for time: they
    pin the plugins of the ``fieldcase`` they run through the same variable,
    ``FIELDCASE_LOAD_PLUGINS``, as ``only_plugins`` does.
    """
    listed = subprocess.run(
        [sys.executable, "-m", "fieldcase", "plugins"], capture_output=True, text=True, check=True
    )
    assert "fieldcase-noise" in listed.stdout
    plugin_tests = sorted(str(path) for path in ROOT.glob("plugins/*/tests"))

    marked = pytest_run(
        "-m", "bundled_plugins", "--ignore=tests/test_guide.py", "tests", basetemp=tmp_path / "a"
    )
    docs = pytest_run("tests/test_docs.py", *plugin_tests, basetemp=tmp_path / "b")

    for result in (marked, docs):
        assert result.returncode == 0, result.stdout[-3000:]
        assert " passed" in result.stdout
