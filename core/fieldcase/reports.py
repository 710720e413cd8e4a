"""The report registry: named reports, built in and from plugins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

if TYPE_CHECKING:
    from .services import Services


@attrs.frozen
class ReportFilter:
    """What a report is asked for: ``fieldcase report NAME``'s options."""

    #: ``--institution``: only this institution's cases (None: all).
    institution: str | None = None
    #: ``--from``: events claimed at or after this time (aware; None: from the start).
    start: dt.datetime | None = None
    #: ``--to``: events claimed before this time (aware; None: up to now).
    end: dt.datetime | None = None
    #: The moment the report describes (days past due, promises kept): --to, or now.
    at: dt.datetime | None = None
    #: ``--where NAME=VALUE``: only cases whose attributes have these values.
    where: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    #: ``--as``: who runs the report; read with ``services.reader(filters.viewer)``,
    #: which masks personal data this person may not see.
    viewer: str | None = None


ReportRun = Callable[["Services", ReportFilter], list[dict[str, Any]]]


@attrs.frozen
class Report:
    name: str
    run: ReportRun
    columns: tuple[str, ...]
    description: str = ""
    #: Whether ``run`` honours ``filters.where`` (``--where`` is refused otherwise,
    #: rather than silently ignored).
    where: bool = False


def reports(pm: pluggy.PluginManager) -> dict[str, Report]:
    """Every registered report by name; the first registration of a name wins."""
    found: dict[str, Report] = {}

    def register(
        name: str,
        run: ReportRun,
        columns: Sequence[str],
        description: str = "",
        *,
        where: bool = False,
    ) -> None:
        found.setdefault(name, Report(name, run, tuple(columns), description, where))

    pm.hook.register_reports(register=register)
    return found
