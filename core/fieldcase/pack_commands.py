"""The commands of offline work: ``pack``, ``sync`` and ``conflict resolve``.

Thin over :mod:`fieldcase.offline` (what a pack holds and takes) and
:mod:`fieldcase.sync` (what comes back and the conflicts kept), written with
the command context a plugin's commands use; :func:`register` adds them.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from .commands import CommandContext, at_option, json_option, pass_command_context
from .offline import make_pack
from .sync import RESOLUTIONS, Conflict, conflicts, resolve_conflict, sync_pack


def conflict_json(conflict: Conflict) -> dict[str, Any]:
    return {
        "id": conflict.id,
        "pack": conflict.pack,
        "staff": conflict.staff,
        "case_id": conflict.case_id,
        "kind": conflict.kind,
        "detail": conflict.detail,
        "status": conflict.status,
        "kept_at": conflict.at,
        "resolved_by": conflict.resolved_by,
        "resolved_at": conflict.resolved_at,
        "note": conflict.note,
        "field": [call.as_json() for call in conflict.field],
        "central": conflict.central,
    }


def _arguments(call_json: dict[str, Any]) -> str:
    shown = [str(a) for a in call_json["args"]]
    for key, value in call_json["kwargs"].items():
        if value in (None, "", [], False):
            continue
        if isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
            if isinstance(value, dict):  # a file: its name
                value = value.get("filename", "")
        shown.append(f"{key}={value}")
    return " ".join(shown)


def _actions(count: int) -> str:
    return f"{count} action" if count == 1 else f"{count} actions"


def show_conflict(context: CommandContext, conflict: Conflict) -> None:
    status = "" if conflict.status == "open" else f" [{conflict.status}: {conflict.resolved_by}]"
    # Both sides in the borrower's time, as the case's history shows them.
    zone = context.services.get_case(conflict.case_id).borrower.zone
    context.echo(
        f"Conflict {conflict.id}: case {conflict.case_id}, {conflict.staff}'s pack "
        f"{conflict.pack[:12]} ({conflict.kind}){status}"
    )
    context.echo(f"  why: {conflict.detail}")
    context.echo("  field (the pack's actions, held):")
    for call in conflict.field:
        context.echo(
            f"    {call.at.astimezone(zone):%Y-%m-%d %H:%M %z}  {call.command}  "
            f"{_arguments(call.as_json())}"
        )
    if conflict.central:
        context.echo("  office (done meanwhile):")
        for event in conflict.central:
            when = dt.datetime.fromisoformat(event["at"]).astimezone(zone)
            context.echo(f"    {when:%Y-%m-%d %H:%M %z}  {event['type']} by {event['actor']}")
    if conflict.note:
        context.echo(f"  note: {conflict.note}")


def register(cli: click.Group) -> None:
    """Add the commands to ``cli`` (the ``fieldcase`` group)."""

    @cli.command()
    @click.option("--staff", "staff_id", required=True, metavar="STAFF", help="Whose pack.")
    @click.option(
        "--date",
        "day",
        type=click.DateTime(["%Y-%m-%d"]),
        help="The day whose cases it holds (default: today's).",
    )
    @click.option(
        "--case",
        "case_refs",
        multiple=True,
        metavar="CASE",
        help="A case to take instead of the day's (repeat for several).",
    )
    @click.option(
        "-o",
        "--output",
        "out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The pack file to write (e.g. li.na-2026-12-01.fcpack).",
    )
    @click.option("--replace", is_flag=True, help="Write over an existing file.")
    @at_option
    @json_option
    @pass_command_context
    def pack(
        context: CommandContext,
        staff_id: str,
        day: dt.datetime | None,
        case_refs: tuple[str, ...],
        out: Path,
        replace: bool,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Make a field pack: one staff member's cases in a file to work on offline.

        The pack holds the day's cases of --staff (their visits, promises due,
        contacts to make and feedback to fix), or the cases named with --case,
        with their whole history and files, the policy in force and the staff
        list; no other borrower's data. It opens with 'fieldcase --db PACK' and
        takes the field commands (contact, confirm, details, plan, checklist,
        interview, checkin, attach, offers, accept, promise, payment record,
        feedback, complaint, dispute open, dispute evidence), judged by the same
        rules, as the pack's staff member. The office signs it: 'sync' takes it
        back into this database only. Made by the staff member or a supervisor;
        the file is readable by its owner only.

        \b
        Example:
            fieldcase --as li.na pack --staff li.na -o li.na-2026-12-01.fcpack
            fieldcase --as chen.wei pack --staff li.na --case 136 --case 142 -o li.na.fcpack
        """
        made = make_pack(
            context.services,
            staff_id,
            out,
            actor=context.staff().id,
            at=at,
            day=None if day is None else day.date(),
            cases=case_refs,
            replace=replace,
        )
        data = {
            "pack": made.pack,
            "staff": made.staff,
            "path": str(made.path),
            "cases": made.cases,
            "events": made.events,
            "files": made.files,
            "bytes": made.size,
        }
        context.emit(
            data,
            json_,
            lambda: context.echo(
                f"Pack {made.pack[:12]} for {made.staff}: {len(made.cases)} cases "
                f"({', '.join(map(str, made.cases))}), {made.events} events, {made.files} "
                f"files, {made.size / 1024:.0f} kB in {made.path}\n"
                f"Work on it with: fieldcase --db {made.path} --as {made.staff} ...\n"
                f"Bring it back with: fieldcase --as {made.staff} sync {made.path}"
            ),
        )

    @cli.command()
    @click.argument(
        "pack_path",
        metavar="PACK",
        required=False,
        type=click.Path(dir_okay=False, path_type=Path),
    )
    @click.option("--conflicts", "list_conflicts", is_flag=True, help="List the conflicts kept.")
    @click.option("--all", "all_", is_flag=True, help="With --conflicts: resolved ones too.")
    @at_option
    @json_option
    @pass_command_context
    def sync(
        context: CommandContext,
        pack_path: Path | None,
        list_conflicts: bool,
        all_: bool,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Take a field pack's work into this database, or list the conflicts kept.

        Each action done on the pack is done again here, in order, as the pack's
        staff member at the time it was done, judged by this office's rules: the
        same as had it been done online. An action whose case changed here
        meanwhile (reassigned, closed, paid, or synced from another pack), or
        that the rules here refuse, is kept as a conflict with the pack's later
        actions on that case, never dropped; a supervisor resolves it with
        'conflict resolve'. Syncing a pack again takes nothing in twice; a sync
        cut short goes on where it stopped. A pack of another office, or one
        changed since it was made, is refused whole, the first bad event named.

        \b
        Example:
            fieldcase --as li.na sync li.na-2026-12-01.fcpack
            fieldcase --as chen.wei sync --conflicts
        """
        if list_conflicts:
            if pack_path is not None:
                raise click.UsageError("--conflicts lists the conflicts kept: give no PACK")
            found = conflicts(context.services, context.staff().id, all_=all_)

            def human() -> None:
                if not found:
                    context.echo("No conflicts." if not all_ else "No conflicts kept.")
                for conflict in found:
                    show_conflict(context, conflict)

            context.emit([conflict_json(c) for c in found], json_, human)
            return
        if pack_path is None:
            raise click.UsageError("which pack? fieldcase sync PACK (or sync --conflicts)")
        bar: Any = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None and total >= 200 and sys.stderr.isatty():
                bar = click.progressbar(length=total, label="Syncing", file=sys.stderr)
            if bar is not None:
                bar.update(done - bar.pos)

        try:
            summary = sync_pack(
                context.services, pack_path, actor=context.staff().id, at=at, progress=progress
            )
        finally:
            if bar is not None:
                bar.render_finish()
        data = {
            "pack": summary.pack,
            "staff": summary.staff,
            "actions": summary.actions,
            "applied": summary.applied,
            "refused": summary.refused,
            "held": summary.held,
            "already": summary.already,
            "conflicts": list(summary.conflicts),
        }

        def told() -> None:
            context.echo(
                f"Pack {summary.pack[:12]} ({summary.staff}): {_actions(summary.actions)}; "
                f"{summary.applied} taken in, {summary.refused} refused on the pack and "
                f"recorded so, {summary.held} held in conflicts, {summary.already} taken "
                "in before"
            )
            if summary.conflicts:
                context.echo(
                    f"Conflicts kept: {', '.join(map(str, summary.conflicts))}; see them "
                    "with 'fieldcase sync --conflicts'"
                )

        context.emit(data, json_, told)

    @cli.group()
    def conflict() -> None:
        """Conflicts a sync kept: a pack's actions the office could not take in as they were.

        \b
        Example:
            fieldcase --as chen.wei sync --conflicts
            fieldcase --as chen.wei conflict resolve 3 --merge
        """

    @conflict.command("resolve")
    @click.argument("conflict_id", metavar="N", type=click.IntRange(1, 2**62))
    @click.option(
        "--keep-field", "how", flag_value="keep-field", help="Take the pack's actions in."
    )
    @click.option(
        "--keep-central", "how", flag_value="keep-central", help="Keep the office's side only."
    )
    @click.option(
        "--merge", "how", flag_value="merge", help="Take in what the rules allow, drop the rest."
    )
    @click.option("--note", default="", help="Why, for the record.")
    @click.option(
        "--pack",
        "pack_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The pack, when its files are needed (an attach held).",
    )
    @at_option
    @json_option
    @pass_command_context
    def conflict_resolve(
        context: CommandContext,
        conflict_id: int,
        how: str | None,
        note: str,
        pack_path: Path | None,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Resolve a conflict (supervisors): keep the field's side, the office's, or merge.

        --keep-field does the pack's held actions now, in order, as the field
        worker at the times they were done, judged by the rules against the
        case as it is (your word stands for the assignment); the first refused
        stops it, the conflict stays open. --merge takes in what the rules allow
        and drops the rest; --keep-central takes none in. Both sides stay in
        the record, with who resolved it and why.

        \b
        Example:
            fieldcase --as chen.wei conflict resolve 3 --keep-field --note "visit happened"
            fieldcase --as chen.wei conflict resolve 4 --keep-central
        """
        if how not in RESOLUTIONS:
            raise click.UsageError("say how: --keep-field, --keep-central or --merge")
        done = resolve_conflict(
            context.services,
            conflict_id,
            how,
            actor=context.staff().id,
            at=at,
            note=note,
            pack=pack_path,
        )
        data = {
            **conflict_json(done.conflict),
            "applied": list(done.applied),
            "dropped": list(done.dropped),
        }
        context.emit(
            data,
            json_,
            lambda: context.echo(
                f"Conflict {conflict_id} resolved ({done.conflict.status}): "
                f"{_actions(len(done.applied))} taken in, {len(done.dropped)} dropped"
            ),
        )
