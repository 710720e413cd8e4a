"""The commands that put mistakes right: ``void`` and ``amend``.

Thin over :mod:`fieldcase.corrections`; :func:`register` adds them to the
``fieldcase`` group. A payment is put right by ``payment reverse``.
"""

from __future__ import annotations

import datetime as dt

import click

from .commands import CommandContext, at_option, json_option, pass_command_context
from .corrections import AMENDABLE, VOIDABLE, parse_assignments
from .model import Case, EventCorrection


def _result(case: Case, made: EventCorrection) -> dict[str, object]:
    return {
        "case": case.id,
        "event": made.event_id,
        "event_type": made.event_type,
        "correction": made.kind,
        "changes": made.changes,
        "stage": str(case.stage),
    }


def register(cli: click.Group) -> None:
    """Add ``void`` and ``amend`` to ``cli`` (the ``fieldcase`` group)."""

    voidable = ", ".join(VOIDABLE)

    @cli.command(
        help=f"""Void a mistaken event of a case (supervisors), as if it had not happened.

        EVENT is the event's number in 'fieldcase history CASE'. The event
        stays in the audit trail; a new event names it and puts back every row
        it wrote: what it added goes (a contact, a promise, a visit plan), what
        it changed returns (the stage, the checklist), and the case's last
        change is the last event still standing, so a case held by a
        future-dated event is free again. A step of the visit's path with later
        steps after it (feedback on the interview, a payment on an arrangement),
        or with a later event that changed the same things, is refused naming
        them: put those right first, newest first.

        These can be voided: {voidable}. A payment is reversed instead
        ('fieldcase payment reverse'); a closed case is reopened.

        \b
        Example:
            fieldcase --as chen.wei history 42
            fieldcase --as chen.wei void 42 318 --reason "Recorded on the wrong case"
        """
    )
    @click.argument("case_ref", metavar="CASE")
    @click.argument("event_id", metavar="EVENT", type=click.IntRange(min=1, max=2**63 - 1))
    @click.option("--reason", required=True, help="What was wrong: kept with the correction.")
    @at_option
    @json_option
    @pass_command_context
    def void(
        context: CommandContext,
        case_ref: str,
        event_id: int,
        reason: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        case, made = context.services.void_event(
            case_ref, event_id, actor=context.staff().id, at=at, reason=reason
        )

        def human() -> None:
            removed = sum(len(ids) for ids in made.changes.get("removed", {}).values())
            context.echo(
                f"Case {case.id}: event {made.event_id} ({made.event_type}) voided; "
                f"{removed} record{'' if removed == 1 else 's'} removed, case in {case.stage}"
            )

        context.emit(_result(case, made), json_, human)

    fields = "; ".join(f"{kind}: {', '.join(a.fields)}" for kind, a in AMENDABLE.items())

    @cli.command(
        help=f"""Amend fields of a recorded contact or interview; the rest stays as it was.

        EVENT is the event's number in 'fieldcase history CASE'. Its author
        may amend it within the institution's amend_window_hours (policy,
        default 24) of recording it; a supervisor at any time. The event
        stays in the audit trail, and a new one records each field's old and
        new value. A contact's outcome is what the rules read (a conversation
        holds the next call), so only a supervisor amends it. Who was
        contacted, how and when were judged by the rules and are not amended:
        a supervisor voids the event and it is recorded again.

        Fields, named as the recording command's options: {fields}.

        \b
        Example:
            fieldcase --as li.na amend 42 317 --set note="Left a voicemail" \\
                --reason "Typed the wrong note"
            fieldcase --as li.na amend 42 325 --set reason=income-loss \\
                --set income=3200 --reason "Misheard the income"
        """
    )
    @click.argument("case_ref", metavar="CASE")
    @click.argument("event_id", metavar="EVENT", type=click.IntRange(min=1, max=2**63 - 1))
    @click.option(
        "--set",
        "assignments",
        multiple=True,
        metavar="FIELD=VALUE",
        help="A field and its right value; repeat for several.",
    )
    @click.option("--reason", required=True, help="What was wrong: kept with the correction.")
    @at_option
    @json_option
    @pass_command_context
    def amend(
        context: CommandContext,
        case_ref: str,
        event_id: int,
        assignments: tuple[str, ...],
        reason: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        case, made = context.services.amend_event(
            case_ref,
            event_id,
            actor=context.staff().id,
            at=at,
            values=parse_assignments(assignments),
            reason=reason,
        )

        def human() -> None:
            for name, (old, new) in made.changes.items():
                context.echo(f"  {name}: {old!r} -> {new!r}")
            context.echo(f"Case {case.id}: event {made.event_id} ({made.event_type}) amended")

        context.emit(_result(case, made), json_, human)
