"""The command of check-ins on site: ``checkin``.

Thin over :mod:`fieldcase.checkins`, written with the same command context
a plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds
it to the ``fieldcase`` group. The interview's ``--lat``, ``--lon`` and
``--accuracy`` (:func:`position_options`) are declared here too, so that both
commands take a position the same way, and ``show``'s lines on check-ins
(:func:`checkin_lines`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import click

from .checkins import MAX_ACCURACY_M, describe, where
from .commands import CommandContext, at_option, json_option, pass_command_context
from .model import CheckIn

F = TypeVar("F", bound=Callable[..., Any])


def position_options(required: bool) -> Callable[[F], F]:
    """``--lat``, ``--lon`` and ``--accuracy``: where the device says it is."""

    def decorate(func: F) -> F:
        func = click.option(
            "--accuracy",
            "accuracy_m",
            type=click.IntRange(0, MAX_ACCURACY_M),
            metavar="METRES",
            help="How far off the position may be, as the device shows it (e.g. 15).",
        )(func)
        func = click.option(
            "--lon",
            required=required,
            metavar="DEGREES",
            help="Longitude, -180 to 180 (e.g. 121.473701); with --lat.",
        )(func)
        return click.option(
            "--lat",
            required=required,
            metavar="DEGREES",
            help="Latitude, -90 to 90 (e.g. 31.230416); with --lon.",
        )(func)

    return decorate


def register(cli: click.Group) -> None:
    """Add the command to ``cli`` (the ``fieldcase`` group)."""

    @cli.command()
    @click.argument("case_ref", metavar="CASE")
    @position_options(required=True)
    @at_option
    @json_option
    @pass_command_context
    def checkin(
        context: CommandContext,
        case_ref: str,
        lat: str,
        lon: str,
        accuracy_m: int | None,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Check in on site: record where you are, on the visit planned.

        The position is measured against where the borrower is known to be:
        the coordinates the institution gave with the case, else the first
        check-in of the first visit that met someone. Farther than the
        institution's checkin_max_distance_m (policy, 500 m by default) even
        were the position off by its whole --accuracy, the check-in is
        recorded as far, for a supervisor to see in 'show' and 'report
        staff'; it is never refused. Positions are personal data: masked for
        staff not working the case, removed by a purge. The interview takes
        the same --lat, --lon and --accuracy.

        \b
        Example:
            fieldcase --as li.na checkin 42 --lat 31.230416 --lon 121.473701 --accuracy 15
            fieldcase --as maria.lopez checkin 57 --lat 41.878113 --lon -87.629799
        """
        recorded = context.services.check_in(
            case_ref,
            actor=context.staff().id,
            at=at,
            lat=lat,
            lon=lon,
            accuracy_m=accuracy_m,
        )
        number = recorded.visit_number
        visit = f" for visit {number}" if number is not None else ""
        context.emit(
            attrs.asdict(recorded),
            json_,
            lambda: context.echo(
                f"Case {recorded.case_id}: checked in{visit} at {where(recorded)}; "
                f"{describe(recorded)}"
            ),
        )


def checkin_lines(checkins: Sequence[CheckIn], zone: str) -> list[str]:
    """``show``'s lines on check-ins: how far each was (the distance and the flag are
    not personal), then who made it, when and where (the position masked likewise)."""
    from .case_views import local_time

    lines = []
    for checkin in checkins:
        made = f"{checkin.staff}, {local_time(checkin.at, zone)}"
        place = where(checkin)
        lines.append(f"  {describe(checkin)}  ({made}{' at ' + place if place else ''})")
    return lines
