"""The report registry: named reports, built in and from plugins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from .commands import json_key
from .errors import FieldcaseError

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

    def json_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The rows as ``--format json`` prints them: keyed by the columns' names as
        identifiers ('days granted (mean)' -> 'days_granted_mean', see
        :func:`~fieldcase.commands.json_key`). Tables and CSV keep the names."""
        keys = json_keys(self.name, dict.fromkeys([*self.columns, *(c for r in rows for c in r)]))
        return [{keys[column]: value for column, value in row.items()} for row in rows]


def json_keys(report: str, columns: Iterable[str]) -> dict[str, str]:
    """Each column's JSON key. Two columns that would make the same key ('days (mean)'
    and 'days mean') are refused rather than one silently overwriting the other."""
    keys: dict[str, str] = {}
    named: dict[str, str] = {}
    for column in columns:
        key = keys[column] = json_key(column)
        first = named.setdefault(key, column)
        if first != column:
            raise FieldcaseError(
                f"report {report}: the columns {first!r} and {column!r} both make the JSON "
                f"key {key!r}; the report's columns need names that differ in letters or "
                "digits, not only in spaces and symbols"
            )
    return keys


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
