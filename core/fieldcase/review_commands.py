"""The commands of post-loan reviews: ``reviews open`` and ``reviews due``.

Thin over :mod:`fieldcase.reviews`, written with the same command context a
plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds them
to the ``fieldcase`` group. A review's findings go in with ``feedback`` and
are approved with ``review``, as a visit's are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from . import lifecycle
from .commands import CommandContext, at_option, json_option, pass_command_context
from .errors import FieldcaseError
from .model import Case


def due_row(case: Case) -> dict[str, Any]:
    return {
        "case": case.id,
        "institution": case.institution,
        "reference": case.reference,
        "next_review": case.next_review,
        "assigned_to": case.assigned_to or "",
    }


def register(cli: click.Group) -> None:
    """Add the ``reviews`` group to ``cli`` (the ``fieldcase`` group)."""

    @cli.group()
    def reviews() -> None:
        """Post-loan reviews of performing loans: open the next one, list those due.

        A review is a case of kind review ('fieldcase create --kind review
        --trigger CODE', or an import with a kind column): the check
        (contacts, a bureau inquiry), an optional visit, then findings
        ('fieldcase feedback CASE --recommend watch-list ...'; also no-action,
        limit-cut, freeze, restructure-offer, refer-to-collection) that another
        supervisor approves ('fieldcase review CASE --approve'). Approved, the review
        closes as reviewed until the next one falls due (policy
        review_every_months; review_watch_months on the watch list), or
        refer-to-collection makes the case a collection case.
        """

    @reviews.command("open")
    @click.argument("case_refs", metavar="[CASE]...", nargs=-1)
    @click.option(
        "--trigger",
        type=click.Choice(lifecycle.REVIEW_TRIGGERS),
        help="What set it off [default with --due: scheduled].",
    )
    @click.option("--due", is_flag=True, help="Open every review that has fallen due.")
    @click.option("--institution", help="With --due: only this institution's.")
    @click.option("--installment", help="The loan's regular installment, if it changed.")
    @click.option("--note", default="", help="Why the review is opened.")
    @at_option
    @json_option
    @pass_command_context
    def open_(
        context: CommandContext,
        case_refs: tuple[str, ...],
        trigger: str | None,
        due: bool,
        institution: str | None,
        installment: str | None,
        note: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Open the next review of closed cases' loans (supervisors).

        Each case becomes a review case at the check, one event each; a case
        refused (still open, say) is reported and the others go on.

        \b
        Example:
            fieldcase --as chen.wei reviews open 57 --trigger cash-withdrawal \\
                --note "Cash withdrawal of 40,000 on the card"
            fieldcase --as chen.wei reviews open --due --institution hx-consumer
        """
        if bool(case_refs) == due:
            raise click.UsageError("name the cases to review, or say --due (not both)")
        if institution and not due:
            raise click.UsageError("--institution goes with --due")
        if due and installment:
            raise click.UsageError("--installment is for one named case")
        if not due and trigger is None:
            raise click.UsageError(
                "say what set the review off: --trigger " + "|".join(lifecycle.REVIEW_TRIGGERS)
            )
        actor = context.staff().id
        refs: list[str | int] = list(dict.fromkeys(case_refs))  # a case named twice: once
        if due:
            refs = [c.id for c in context.services.reviews_due(at, institution) if c.id]
        opened: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for ref in refs:
            try:
                case, review = context.services.open_review(
                    ref,
                    actor=actor,
                    at=at,
                    trigger=trigger or "scheduled",
                    note=note,
                    installment=installment,
                )
            except FieldcaseError as exc:
                if len(refs) == 1:
                    raise
                failed.append({"case": ref, "error": str(exc)})
                continue
            opened.append({"case": case.id, "review": review.id, "trigger": review.trigger})

        def human() -> None:
            for row in opened:
                context.echo(
                    f"Case {row['case']}: review {row['review']} opened ({row['trigger']})"
                )
            for row in failed:
                context.echo(f"Case {row['case']}: not opened: {row['error']}", err=True)
            if due:
                plural = "" if len(opened) == 1 else "s"
                context.echo(f"{len(opened)} review{plural} opened, {len(failed)} refused")

        context.emit({"opened": opened, "refused": failed}, json_, human)
        if failed:
            # On stderr with --json too: stdout stays the data, and a person sees why it failed.
            context.echo(f"Refused: {len(failed)} of {len(refs)} not opened", err=True)
            raise click.exceptions.Exit(1)

    @reviews.command("due")
    @click.option("--institution", help="Only this institution's.")
    @at_option
    @json_option
    @pass_command_context
    def due_(
        context: CommandContext, institution: str | None, at: dt.datetime, json_: bool
    ) -> None:
        """Loans whose next review has fallen due (on each borrower's own day).

        \b
        Example:
            fieldcase reviews due --institution hx-consumer
            fieldcase reviews due --at 2027-03-01T09:00+08:00 --json
        """
        rows = [due_row(case) for case in context.services.reviews_due(at, institution)]
        context.emit(
            rows,
            json_,
            lambda: context.table(rows) if rows else context.echo("No reviews due."),
        )
