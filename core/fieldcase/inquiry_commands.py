"""The command of credit-bureau inquiries: ``inquiry``.

Thin over :mod:`fieldcase.inquiries`, written with the same command context
a plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds
it to the ``fieldcase`` group.
"""

from __future__ import annotations

import datetime as dt

import attrs
import click

from . import lifecycle
from .commands import CommandContext, at_option, json_option, pass_command_context


def register(cli: click.Group) -> None:
    """Add the command to ``cli`` (the ``fieldcase`` group)."""

    @cli.command()
    @click.argument("case_ref", metavar="CASE")
    @click.option(
        "--purpose",
        required=True,
        type=click.Choice(lifecycle.INQUIRY_PURPOSES),
        help="Why the bureau is asked.",
    )
    @click.option(
        "--kind",
        required=True,
        type=click.Choice(lifecycle.INQUIRY_KINDS),
        help="soft (no mark on the borrower's score) or hard.",
    )
    @click.option(
        "--bureau", default="", help='The bureau asked, e.g. "PBOC Credit Reference Center".'
    )
    @click.option("--note", default="", help="What was asked or found.")
    @at_option
    @json_option
    @pass_command_context
    def inquiry(
        context: CommandContext,
        case_ref: str,
        purpose: str,
        kind: str,
        bureau: str,
        note: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Record a credit-bureau inquiry about the borrower, if the rules allow it.

        The institution's rule packs judge whether the purpose is one the law
        allows while credit is open (flag no-credit-relationship refuses it),
        and how often; the built-in default.inquiries allows at most the
        policy's max_inquiries_per_year hard inquiries in any 365 days.

        \b
        Example:
            fieldcase --as li.na inquiry 42 --purpose post-loan-management --kind soft \\
                --bureau "PBOC Credit Reference Center" --note "Checking for new lenders"
        """
        recorded = context.services.record_inquiry(
            case_ref,
            actor=context.staff().id,
            at=at,
            purpose=purpose,
            kind=kind,
            bureau=bureau,
            note=note,
        )
        at_bureau = f" at {recorded.bureau}" if recorded.bureau else ""
        context.emit(
            attrs.asdict(recorded, recurse=False),
            json_,
            lambda: context.echo(
                f"Case {recorded.case_id}: {kind} inquiry {recorded.id}{at_bureau} recorded "
                f"({purpose})"
            ),
        )
