"""What a command needs, for fieldcase's own commands and plugins' alike.

A plugin's ``register_commands`` adds click commands to ``fieldcase``; with
:func:`pass_command_context` a command receives a :class:`CommandContext`:
the services, who is acting (``--as``), the policy of an institution, a
:class:`~fieldcase.reader.Reader` masked for that person, and the same
output helpers the built-in commands use (``--json``, tables, ``--at``), so
a plugin command looks and behaves like a built-in one::

    from fieldcase import hookimpl
    from fieldcase.commands import CommandContext, json_option, json_rows, pass_command_context

    @hookimpl
    def register_commands(cli):
        @cli.command()
        @click.option("--institution", required=True)
        @json_option
        @pass_command_context
        def branches(context: CommandContext, institution: str, json_: bool) -> None:
            \"\"\"Open cases by branch.\"\"\"
            rows = ...  # read with context.reader(): [{"branch": ..., "open cases": ...}]
            context.emit(json_rows(rows), json_, lambda: context.table(rows))

The table shows the rows' keys as headings ("open cases"); :func:`json_rows`
makes them identifiers for ``--json`` ("open_cases"), as the built-in
commands and reports print them.

Errors raised from fieldcase (``InvalidInput``, ``Refused``, ``NotFound``...)
end the command as they end a built-in one: a usage error (exit 2), or a
``Refused:`` / ``Error:`` line (exit 1).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import attrs
import click

from . import clock
from .dates import impossible_day, parse_date
from .text import visible, visible_json

if TYPE_CHECKING:
    from .model import Staff
    from .reader import Reader
    from .services import Services

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


# -- options and output ----------------------------------------------------------------------


def parse_time(value: str) -> dt.datetime:
    """ISO-8601 with a time zone: 2026-11-23T09:30+08:00, or ...Z."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        why = impossible_day(value.strip())
        if why is not None:
            raise click.BadParameter(f"{value!r}: the day {why}") from None
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time; e.g. 2026-11-23T09:30+08:00"
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone; add one, e.g. +08:00 or Z")
    if not 1970 <= parsed.year <= 2999:
        raise click.BadParameter(f"{value!r} is not a plausible time for a case")
    return parsed


class Day(click.ParamType):
    """A calendar date in any spelling the import reads (2026-12-01, 2026/12/01, 20261201...).

    The value is a datetime at midnight, as ``click.DateTime`` gives; a date that
    does not exist is named as such ("November 2026 has 30 days").
    """

    name = "date"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "YYYY-MM-DD"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            day = parse_date(str(value).strip())
        except ValueError as exc:
            self.fail(f"{value!r} {exc}", param, ctx)
        return dt.datetime.combine(day, dt.time())


#: ``type=DAY`` for an option that takes a date.
DAY = Day()


def now(ctx: click.Context | None = None) -> dt.datetime:
    """The time of a command given no ``--at``: the real clock's the services judge by.

    That is the machine's clock, but on a database server the server's: a client's
    clock a few minutes fast or days slow must not make "now" a time in the future or
    long past (see ``App.open`` in :mod:`fieldcase.cli`).
    """
    from .store.dialect import is_server_url

    ctx = ctx or click.get_current_context(silent=True)
    app: Any = ctx.find_root().obj if ctx is not None else None
    db = getattr(app, "db_path", None)
    if clock.real_clock is not None and db and is_server_url(str(db)):
        real = app.services.recorded_at()
        if real is not None:
            return real
    return clock.current()


def at_option(func: F) -> F:
    """``--at``: when the action happens (default: now). Tests always pass it."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime:
        return parse_time(value) if value else now(ctx)

    return click.option(
        "--at",
        callback=callback,
        metavar="TIME",
        help="When it happens, ISO-8601 with zone (default: now).",
    )(func)


def json_option(func: F) -> F:
    return click.option("json_", "--json", is_flag=True, help="Print JSON for scripts.")(func)


def _json_value(value: Any) -> Any:
    # Times as ISO-8601 ("2026-11-24T10:07:00+08:00"), amounts as exact text.
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def json_key(column: str) -> str:
    """A column's name as a JSON key, an identifier: 'open cases' -> 'open_cases',
    'days granted (mean)' -> 'days_granted_mean', the aging bucket '181+' -> '_181_plus'.
    Tables and CSV keep the name."""
    key = re.sub(r"[^0-9a-z]+", "_", column.lower().replace("+", " plus")).strip("_")
    if not key:
        return column
    return f"_{key}" if key[0].isdigit() else key


def json_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose keys are column names, with the keys :func:`json_key` makes of them."""
    return [{json_key(key): value for key, value in row.items()} for row in rows]


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for text that may carry stored data: control characters escaped."""
    click.echo(visible(message), err=err, nl=nl)


def emit(data: Any, json_: bool, human: Callable[[], None]) -> None:
    if json_:
        # The same data, with what a terminal would act on written as \u escapes.
        click.echo(
            visible_json(json.dumps(data, indent=2, ensure_ascii=False, default=_json_value))
        )
    else:
        human()


def table(rows: Sequence[dict[str, Any]], headers: Sequence[str] | None = None) -> None:
    from tabulate import tabulate

    if not rows:
        echo("(none)")
        return
    keys = list(headers or rows[0].keys())
    # Escaped before tabulate measures the columns, so they stay aligned.
    cells = [[_shown_cell(r.get(k, "")) for k in keys] for r in rows]
    # Text stays as written ("720.00" is an amount, not a float to show as "720.0"),
    # and a column of numbers, written as text or not, is aligned to the right.
    text = [i for i, _ in enumerate(keys) if any(isinstance(row[i], str) for row in cells)]
    align = [
        "right"
        if all(_numeric(row[i]) for row in cells if row[i] not in ("", None))
        and any(row[i] not in ("", None) for row in cells)
        else "left"
        for i, _ in enumerate(keys)
    ]
    echo(tabulate(cells, headers=keys, floatfmt=".1f", disable_numparse=text, colalign=align))


def _shown_cell(value: Any) -> Any:
    return visible(value) if isinstance(value, str) else value


_NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?%?")


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or bool(
        isinstance(value, str) and _NUMBER.fullmatch(value)
    )


# -- the command context -------------------------------------------------------------------


class _Opened(Protocol):
    """What the ``fieldcase`` group keeps for its commands (``fieldcase.cli.App``)."""

    db_path: str
    actor: str | None

    @property
    def services(self) -> Services: ...


@attrs.frozen
class CommandContext:
    """What a command works with: the database's services and the person acting."""

    #: The actions and queries (``fieldcase.services.Services``), on the database of ``--db``.
    services: Services
    #: The staff id given with ``--as`` (or FIELDCASE_STAFF), or None.
    actor: str | None
    #: The database file (``--db``), for messages.
    db_path: str

    def staff(self) -> Staff:
        """The staff member acting; a usage error asking for ``--as`` when none is given."""
        if not self.actor:
            raise click.UsageError("who is acting? pass --as STAFF or set FIELDCASE_STAFF")
        return self.services.actor(self.actor)

    def reader(self) -> Reader:
        """Read-only access to the data, masked as the person acting may see it."""
        return self.services.reader(self.actor)

    def policy(self, institution: str) -> Mapping[str, Any]:
        """The institution's policy in force, as hooks receive it in ``settings``."""
        return self.services.institution(institution).policy

    def now(self) -> dt.datetime:
        """The real time (aware), for commands without ``--at``: see :func:`now`."""
        return self.services.recorded_at() or clock.current()

    @staticmethod
    def emit(data: Any, json_: bool, human: Callable[[], None]) -> None:
        """Print ``data`` as JSON when ``--json`` was given, else call ``human()``.

        Rows keyed by headings go through :func:`json_rows` first, for identifier keys."""
        emit(data, json_, human)

    @staticmethod
    def table(rows: Sequence[dict[str, Any]], headers: Sequence[str] | None = None) -> None:
        """Print ``rows`` (dicts) as a table, the columns ``headers`` (default: the keys)."""
        table(rows, headers)

    @staticmethod
    def echo(message: str = "", *, err: bool = False) -> None:
        """Print a line; control characters in it (from stored text) are shown escaped."""
        echo(message, err=err)


def pass_command_context(
    func: Callable[Concatenate[CommandContext, P], R],
) -> Callable[P, R]:
    """Decorate a click command so that it receives a :class:`CommandContext` first."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        opened: _Opened = click.get_current_context().find_root().obj
        return func(CommandContext(opened.services, opened.actor, opened.db_path), *args, **kwargs)

    return wrapper
