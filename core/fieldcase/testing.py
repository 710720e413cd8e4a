"""Test helpers for plugin authors: an office database at a stage, driven through the real CLI.

A pytest plugin. Enable it in the ``conftest.py`` at the top of your tests::

    pytest_plugins = ["fieldcase.testing"]

(or with ``-p fieldcase.testing`` in pytest's ``addopts``; fieldcase declares
no ``pytest11`` entry point, so installing fieldcase changes no one else's
test run). Its fixtures:

``fieldcase_office``
    makes an :class:`Office`: a fresh database in the test's folder, with a
    supervisor, two field staff and one registered institution, on which
    the test runs ``fieldcase`` commands and brings cases to a stage.
``register_plugin``
    registers a plugin object (an object or module with hook
    implementations) for the test's duration, its reports and commands
    included.
``only_plugins``
    loads only the installed plugins named, as ``FIELDCASE_LOAD_PLUGINS``
    does, so that what else is installed changes nothing.
``isolated_fieldcase``
    the test's own folder as working directory, ``FIELDCASE_DB``,
    ``FIELDCASE_STAFF`` and ``FIELDCASE_CONFIG`` unset, and each ``--at``
    taken as the real time (the stories are told at fixed times in
    November 2026; see :mod:`fieldcase.clock`); ``fieldcase_office`` uses it.

What the helpers decide is only how a test arranges an office; every
action goes through the command line, the services and the plugins as it
would for a person. See docs/plugins.md, "Testing a plugin".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import click
import pluggy
import pytest
from click.testing import CliRunner, Result

from . import clock
from .lifecycle import Stage
from .plugins import manager

__all__ = [
    "STORY_DAY",
    "Office",
    "OfficeFactory",
    "OnlyPlugins",
    "PluginScope",
    "RegisterPlugin",
    "fieldcase_office",
    "invoke",
    "isolated_fieldcase",
    "only_plugins",
    "plugin_scope",
    "register_plugin",
]

#: The day the helpers' stories start: Monday 23 November 2026, in the institution's zone.
STORY_DAY = dt.date(2026, 11, 23)

_LOAD_PLUGINS = "FIELDCASE_LOAD_PLUGINS"


# -- which plugins load ----------------------------------------------------------------------


class PluginScope:
    """The plugins of the process-wide manager (``fieldcase.plugins.manager()``) for a while.

    :meth:`register` and :meth:`only` change the manager the command line
    and the services use; :meth:`close` undoes both, so that the next test
    sees the plugins the process loads.
    """

    def __init__(self) -> None:
        self._registered: list[tuple[object, str]] = []
        self._pinned = False
        self._saved: str | None = None

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register ``plugin`` (hook implementations on an object or module); returns its name.

        Its hooks run for every action, and its reports and commands are
        in :class:`Office`'s command line, until :meth:`close`.
        """
        registered = manager().register(plugin, name=name)
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked and was not registered")
        self._registered.append((plugin, registered))
        return registered

    def only(self, *names: str) -> pluggy.PluginManager:
        """Load the built-in plugins and, of the installed ones, only those named.

        Names are entry point or distribution names, as in
        ``FIELDCASE_LOAD_PLUGINS``, which is set until :meth:`close`, so that
        a ``fieldcase`` the test starts as a subprocess loads the same; no
        name loads none. Plugins registered with :meth:`register` stay
        registered. Returns the new process-wide manager.
        """
        if not self._pinned:
            self._saved = os.environ.get(_LOAD_PLUGINS)
            self._pinned = True
        os.environ[_LOAD_PLUGINS] = ",".join(names)
        manager.cache_clear()
        pm = manager()
        for plugin, name in self._registered:
            pm.register(plugin, name=name)
        return pm

    def close(self) -> None:
        """Unregister what :meth:`register` added, and load again what the process loaded."""
        if self._registered:
            pm = manager()
            for plugin, _ in reversed(self._registered):
                if pm.is_registered(plugin):
                    pm.unregister(plugin)
            self._registered.clear()
        if self._pinned:
            if self._saved is None:
                os.environ.pop(_LOAD_PLUGINS, None)
            else:
                os.environ[_LOAD_PLUGINS] = self._saved
            # Built again, from the environment, when next asked for.
            manager.cache_clear()
            self._pinned = False


@contextlib.contextmanager
def plugin_scope() -> Iterator[PluginScope]:
    """A :class:`PluginScope` closed at the end of the ``with`` block (for use outside pytest)."""
    scope = PluginScope()
    try:
        yield scope
    finally:
        scope.close()


class RegisterPlugin(Protocol):
    """The ``register_plugin`` fixture, for annotations."""

    def __call__(self, plugin: object, name: str | None = None) -> str: ...


class OnlyPlugins(Protocol):
    """The ``only_plugins`` fixture, for annotations."""

    def __call__(self, *names: str) -> pluggy.PluginManager: ...


@pytest.fixture
def _fieldcase_plugin_scope() -> Iterator[PluginScope]:
    with plugin_scope() as scope:
        yield scope


@pytest.fixture
def register_plugin(_fieldcase_plugin_scope: PluginScope) -> RegisterPlugin:
    """``register_plugin(plugin, name=None)``: its hooks, reports and commands, for the test.

    Example::

        def test_no_sunday_visits(register_plugin, fieldcase_office):
            register_plugin(NoSundayVisits(), name="no-sundays")
            office = fieldcase_office(settings={"require_plugins": "no-sundays"})
    """
    return _fieldcase_plugin_scope.register


@pytest.fixture
def only_plugins(_fieldcase_plugin_scope: PluginScope) -> OnlyPlugins:
    """``only_plugins(*names)``: of the installed plugins, load only those named, for the test.

    Example: ``only_plugins("fieldcase-cn")`` (``only_plugins()`` loads none).
    """
    return _fieldcase_plugin_scope.only


# -- the command line ------------------------------------------------------------------------

#: The last command line built, with the manager and the plugins it was built for.
_built: tuple[pluggy.PluginManager, list[object], click.Group] | None = None


def _command_line() -> click.Group:
    global _built
    from .cli import command_line

    pm = manager()
    plugins = sorted(pm.get_plugins(), key=id)
    # Equal ids are the same objects: both lists hold theirs, alive.
    if _built is None or _built[0] is not pm or list(map(id, _built[1])) != list(map(id, plugins)):
        _built = (pm, plugins, command_line(pm))
    return _built[2]


def invoke(*args: str | int | Path, input: str | None = None) -> Result:
    """Run ``fieldcase ARGS...`` in this process; click's result (``exit_code``, ``stdout``...).

    The command line is fieldcase's own, with the reports and commands of
    the plugins the process-wide manager holds now: those of a plugin
    registered for the test, and none of those ``only_plugins`` left out.
    Exceptions other than click's propagate to the test.
    """
    return CliRunner().invoke(
        _command_line(), [str(arg) for arg in args], input=input, catch_exceptions=False
    )


# -- an office ---------------------------------------------------------------------------------


#: The variables that stand in for command-line options (``--db``, ``--as``...).
_OPTION_VARIABLES = ("FIELDCASE_DB", "FIELDCASE_STAFF", "FIELDCASE_CONFIG")


@pytest.fixture
def isolated_fieldcase(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The test's folder as the working directory, ``--at`` taken as the real time.

    ``FIELDCASE_DB``, ``FIELDCASE_STAFF`` and ``FIELDCASE_CONFIG`` are
    unset, so that no command reaches a database or an actor from the
    caller's shell. Which plugins load is the process's, or the test's
    (``only_plugins``). Returns the folder.
    """
    for name in _OPTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # The stories are told at claimed times (--at 2026-11-23...): each claimed
    # time is taken as the real one, as in a replay.
    monkeypatch.setattr(clock, "real_clock", None)
    return tmp_path


def _assignments(settings: Mapping[str, object]) -> list[str]:
    """``--set KEY=VALUE`` for each setting: text as it is, anything else written as TOML."""

    def toml(value: object) -> str:
        if isinstance(value, str):
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return "[" + ", ".join(map(toml, value)) + "]"
        return str(value)

    shown = {
        key: value if isinstance(value, str) else toml(value) for key, value in settings.items()
    }
    return [arg for key, value in shown.items() for arg in ("--set", f"{key}={value}")]


class Office:
    """A fieldcase database with staff and an institution, run through the real command line.

    Call it like the command: ``office("plan", 1, "--date", "2026-11-25",
    "--window", "10:00-12:00", at="2026-11-23 11:00")`` runs ``fieldcase --db
    office.db --as maria.lopez plan 1 ... --at 2026-11-23T11:00-05:00`` and
    returns click's :class:`~click.testing.Result`: ``exit_code`` (1 for a
    refused action), ``stdout`` and ``stderr`` (where the refusal's reason
    and rule are). Commands run as :attr:`field`, the field worker the cases
    are assigned to; ``as_=office.supervisor`` runs a supervisor's. The command
    line holds fieldcase's own commands and the reports and commands of the
    plugins loaded at the time of the call.

    :meth:`create_case`, :meth:`advance` and :meth:`case_at` create cases and
    bring them to a stage, at fixed times from :data:`STORY_DAY` on, in the
    institution's time zone.
    """

    #: The staff every office has: a supervisor, who registered the
    #: institution, and two field workers, all with identity numbers (badges).
    supervisor = "ann.hughes"
    field = "maria.lopez"
    colleague = "li.na"

    def __init__(self, db_path: Path, institution: str, timezone: str) -> None:
        #: The database file, in the test's folder.
        self.db_path = db_path
        #: The institution registered when the office was made: cases are its by default.
        self.institution = institution
        #: Its time zone, in which :meth:`at` reads times.
        self.timezone = timezone
        self._references = 0

    def __call__(
        self,
        *args: str | int,
        as_: str | None = None,
        at: str | None = None,
        input: str | None = None,
    ) -> Result:
        """``fieldcase --db DB --as STAFF ARGS... [--at TIME]``; :attr:`field` unless ``as_``.

        ``at`` is a time as :meth:`at` reads it, added as ``--at``.
        """
        when = ("--at", self.at(at)) if at else ()
        actor = as_ or self.field
        return invoke("--db", self.db_path, "--as", actor, *args, *when, input=input)

    def at(self, when: str, timezone: str | None = None) -> str:
        """A time for ``--at``: ``"2026-11-25 10:30"`` in the office's time zone (or ``timezone``).

        A time alone (``"10:30"``) is on :data:`STORY_DAY`; a time with its
        own offset (``"2026-11-25T10:30+08:00"``) is kept as it is.
        """
        try:
            moment = dt.datetime.combine(STORY_DAY, dt.time.fromisoformat(when))
        except ValueError:
            moment = dt.datetime.fromisoformat(when)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(timezone or self.timezone))
        return moment.isoformat(timespec="minutes")

    def succeed(self, *args: str | int, as_: str | None = None, at: str | None = None) -> Result:
        """Run a command that must succeed; a failure stops the test with the command's output."""
        result = self(*args, as_=as_, at=at)
        if result.exit_code != 0:
            command = " ".join(map(str, args)) + (f" --at {self.at(at)}" if at else "")
            raise AssertionError(
                f"'fieldcase --as {as_ or self.field} {command}' exited {result.exit_code}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def add_institution(
        self,
        institution: str,
        *,
        name: str | None = None,
        jurisdiction: str = "US-NY",
        timezone: str = "America/New_York",
        currency: str = "USD",
        settings: Mapping[str, object] | None = None,
        rule_packs: Sequence[str] = (),
    ) -> None:
        """Register an institution with its first policy (``institution add ... --set``).

        ``settings`` are policy keys and values, as ``--set KEY=VALUE``
        takes them: text as it is (``"500.00"``), numbers, booleans and
        lists written as TOML. ``rule_packs`` names the packs to enable.
        Registered at 08:30 on :data:`STORY_DAY`.
        """
        policy = dict(settings or {})
        if rule_packs:
            policy["rule_packs"] = list(rule_packs)
        self.succeed(
            "institution", "add", institution, "--name", name or institution,
            "--jurisdiction", jurisdiction, "--timezone", timezone, "--currency", currency,
            *_assignments(policy), "--at", self.at("2026-11-23 08:30", timezone),
            as_=self.supervisor,
        )  # fmt: skip

    def set_policy(self, settings: Mapping[str, object], institution: str | None = None) -> None:
        """Change an institution's policy (``institution policy ID --set ...``); must succeed.

        The office's institution unless ``institution``; at 08:45 on :data:`STORY_DAY`.
        """
        self.succeed(
            "institution", "policy", institution or self.institution, *_assignments(settings),
            as_=self.supervisor, at="2026-11-23 08:45",
        )  # fmt: skip

    def create_case(
        self, reference: str | None = None, *, assign: str | None = None, **fields: str
    ) -> int:
        """Refer a case (``create``), assigned to :attr:`field` unless ``assign``; returns its id.

        ``fields`` are ``create``'s options, underscores for dashes
        (``overdue_since="2026-11-05"``, ``institution=...``). By default the
        borrower is 56 days and 910.25 overdue on :data:`STORY_DAY`, a case of
        :attr:`institution`, in its time zone, currency and jurisdiction.
        Created at 09:00 on :data:`STORY_DAY`.
        """
        self._references += 1
        values = {
            "institution": self.institution,
            "reference": reference or f"T-{self._references}",
            "name": "Dana Reyes",
            "principal": "8000.00",
            "overdue": "910.25",
            "overdue_since": "2026-09-28",
            "address": "41 Court Street",
            **fields,
        }
        options = [
            a for key, value in values.items() for a in (f"--{key.replace('_', '-')}", value)
        ]
        result = self.succeed(
            "create", *options, "--assign", assign or self.field, "--json",
            as_=self.supervisor, at="2026-11-23 09:00",
        )  # fmt: skip
        return int(json.loads(result.stdout)["id"])

    def show(self, case: int) -> dict[str, Any]:
        """The case as ``show CASE --json`` prints it for the supervisor."""
        return dict(json.loads(self.succeed("show", case, "--json", as_=self.supervisor).stdout))

    def advance(self, case: int, stage: str) -> None:
        """Bring ``case`` forward to ``stage``, one action at a time, as the field worker would.

        From confirmation: the address confirmed at 10:00 on :data:`STORY_DAY`
        (to preparation); a visit planned at 10:30 for 10:00-12:00 two days
        later with :attr:`colleague`, every checklist item ticked at 10:45
        (to interview); the borrower met at 10:30 on the visit's day, reason
        ``medical`` (to feedback). To ``closed``: closed as paid by the
        supervisor at 18:00 on the visit's day, from any stage. Every step
        must succeed: a refusal stops the test with the command and its output.
        """
        target = Stage(stage)
        current = Stage(self.show(case)["stage"])
        if target == Stage.CLOSED:
            if current != Stage.CLOSED:
                self.succeed(
                    "close",
                    case,
                    "--resolution",
                    "paid",
                    as_=self.supervisor,
                    at="2026-11-25 18:00",
                )
            return
        order = list(Stage)
        if current == Stage.CLOSED or order.index(target) < order.index(current):
            raise ValueError(f"case {case} is in {current}: it cannot go forward to {target}")
        for step in order[order.index(current) : order.index(target)]:
            self._leave(case, step)

    def _leave(self, case: int, stage: Stage) -> None:
        if stage == Stage.CONFIRMATION:
            self.succeed(
                "confirm", case, "--address", "41 Court Street", "--source", "phone",
                at="2026-11-23 10:00",
            )  # fmt: skip
        elif stage == Stage.PREPARATION:
            self.succeed(
                "plan", case, "--date", "2026-11-25", "--window", "10:00-12:00",
                "--with", self.colleague, at="2026-11-23 10:30",
            )  # fmt: skip
            self.succeed("checklist", case, "--all", at="2026-11-23 10:45")
        elif stage == Stage.INTERVIEW:
            self.succeed(
                "interview", case, "--met", "borrower", "--reason", "medical",
                at="2026-11-25 10:30",
            )  # fmt: skip
        else:
            raise ValueError(f"no step leads out of {stage} but closing")

    def case_at(self, stage: str, reference: str | None = None, **fields: str) -> int:
        """A new case (see :meth:`create_case`) brought to ``stage`` (see :meth:`advance`)."""
        case = self.create_case(reference, **fields)
        self.advance(case, stage)
        return case


class OfficeFactory(Protocol):
    """The ``fieldcase_office`` fixture: ``fieldcase_office(plugins=..., institution=...)``."""

    def __call__(
        self,
        *,
        plugins: Sequence[str] | None = None,
        institution: str = "acme-lending",
        name: str | None = None,
        jurisdiction: str = "US-NY",
        timezone: str = "America/New_York",
        currency: str = "USD",
        settings: Mapping[str, object] | None = None,
        rule_packs: Sequence[str] = (),
    ) -> Office: ...


@pytest.fixture
def fieldcase_office(
    isolated_fieldcase: Path, _fieldcase_plugin_scope: PluginScope
) -> Iterator[OfficeFactory]:
    """Make an :class:`Office`: a new database, its staff and one institution, in the test's folder.

    ``plugins`` names the installed plugins to load (``only_plugins``);
    leave it out to load whatever is installed. The other arguments
    register the institution (see :meth:`Office.add_institution`). After
    the test, the office's event log must verify and replay to the same
    tables (``fieldcase audit verify --replay``).

    Example::

        @pytest.fixture
        def office(fieldcase_office):
            return fieldcase_office(
                plugins=["fieldcase-cn"], institution="hx-consumer", jurisdiction="CN",
                timezone="Asia/Shanghai", currency="CNY", rule_packs=["cn"],
            )
    """
    offices: list[Office] = []

    def make(
        *,
        plugins: Sequence[str] | None = None,
        institution: str = "acme-lending",
        name: str | None = None,
        jurisdiction: str = "US-NY",
        timezone: str = "America/New_York",
        currency: str = "USD",
        settings: Mapping[str, object] | None = None,
        rule_packs: Sequence[str] = (),
    ) -> Office:
        if plugins is not None:
            _fieldcase_plugin_scope.only(*plugins)
        suffix = f"-{len(offices) + 1}" if offices else ""
        office = Office(isolated_fieldcase / f"office{suffix}.db", institution, timezone)
        office.succeed("init", as_=office.supervisor)
        for staff, full_name, role, badge in (
            (office.supervisor, "Ann Hughes", "supervisor", "SUP-1"),
            (office.field, "Maria Lopez", "field", "FLD-1"),
            (office.colleague, "Li Na", "field", "FLD-2"),
        ):
            office.succeed(
                "staff", "add", staff, "--name", full_name, "--role", role, "--badge", badge,
                as_=office.supervisor, at="2026-11-23 08:00",
            )  # fmt: skip
        office.add_institution(
            institution,
            name=name,
            jurisdiction=jurisdiction,
            timezone=timezone,
            currency=currency,
            settings=settings,
            rule_packs=rule_packs,
        )
        offices.append(office)
        return office

    yield make
    for office in offices:
        office.succeed("audit", "verify", "--replay", as_=office.supervisor)
