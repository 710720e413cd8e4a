"""A harmless third-party plugin: one more of everything a plugin can add, deciding nothing.

Every hook is implemented; those that decide abstain, those that register
add one thing of their own under a name no one else uses. Installed beside
fieldcase (``pip install -e tests/data/fieldcase-noise``, or put on the path
with a .dist-info by ``tests/test_testing.py``), it must not change the
outcome of fieldcase's own tests: those that list plugins, reasons,
reports, formats, rule packs, policy keys or commands pin the plugins they
load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import click
from fieldcase import hookimpl
from fieldcase.model import Reason
from fieldcase.rules import Rule, RulePack

PACK = RulePack(
    name="noise",
    # Antarctica: no case of any test is there.
    jurisdictions=("AQ",),
    rules=(Rule("noise.nothing", "none", "Refuses nothing.", {}),),
)


@hookimpl
def check_action() -> None:
    return None


@hookimpl
def case_eligible() -> None:
    return None


@hookimpl
def visit_checklist() -> list[Any]:
    return []


@hookimpl
def overdue_reasons() -> list[Reason]:
    return [Reason("noise-reason", "A reason only the noise plugin knows")]


@hookimpl
def max_failed_visits() -> None:
    return None


@hookimpl
def repayment_offers() -> list[Any]:
    return []


@hookimpl
def penalty_rate_cap() -> None:
    return None


@hookimpl
def case_priority() -> None:
    return None


@hookimpl
def map_import_row() -> None:
    return None


@hookimpl
def register_policy_settings(register: Callable[..., None]) -> None:
    register("noise_level", int, "a whole number", 0)


@hookimpl
def register_rule_packs(register: Callable[[RulePack], None]) -> None:
    register(PACK)


def _read(path: Path, encoding: str) -> Iterator[Any]:
    return iter(())


@hookimpl
def register_importers(register: Callable[..., None]) -> None:
    register("noise", _read, suffixes=(".noise",))


def _write(rows: Iterable[tuple[Any, ...]], columns: tuple[str, ...], out: IO[bytes]) -> None:
    for row in rows:
        out.write(repr(row).encode() + b"\n")


@hookimpl
def register_exporters(register: Callable[..., None]) -> None:
    register("noise", _write, suffix=".noise", description="one Python tuple a line")


@hookimpl
def register_reports(register: Callable[..., None]) -> None:
    register("noise", lambda services, filters: [], ("nothing",), "A report with no rows.")


@hookimpl
def render_chart() -> None:
    return None


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command()
    def noise() -> None:
        """Print nothing.

        \b
        Example:
            fieldcase noise
        """


@hookimpl
def case_event() -> None:
    return None
