"""The report registry: named reports, built in and from plugins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

if TYPE_CHECKING:
    from .services import Services


@attrs.frozen
class ReportFilter:
    institution: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    #: The moment the report describes (days past due, promises kept): --to, or now.
    at: dt.datetime | None = None


ReportRun = Callable[["Services", ReportFilter], list[dict[str, Any]]]


@attrs.frozen
class Report:
    name: str
    run: ReportRun
    columns: tuple[str, ...]
    description: str = ""


def reports(pm: pluggy.PluginManager) -> dict[str, Report]:
    """Every registered report by name; the first registration of a name wins."""
    found: dict[str, Report] = {}

    def register(name: str, run: ReportRun, columns: Sequence[str], description: str = "") -> None:
        found.setdefault(name, Report(name, run, tuple(columns), description))

    pm.hook.register_reports(register=register)
    return found
