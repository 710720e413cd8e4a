"""The commands of attachments: ``attach``, and ``attachment get`` / ``attachment list``.

Thin over :mod:`fieldcase.attachments`, written with the same command context
a plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds them
to the ``fieldcase`` group. ``show`` lists a case's attachments with
:func:`attachment_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import click

from . import lifecycle
from .attachments import read_upload
from .builtin.attachments import size_text
from .case_views import local_time
from .commands import CommandContext, at_option, echo, json_option, pass_command_context, table
from .model import Attachment

#: How much of a fingerprint tables show: enough to tell files apart at a glance.
SHORT = 12


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return attrs.asdict(attachment, recurse=False)


def attachment_rows(attachments: Sequence[Attachment], zone: str) -> list[dict[str, Any]]:
    """A table's rows: what each attachment is, when and where it was taken."""
    rows = []
    for a in attachments:
        place = f"{a.lat},{a.lon}" if a.lat is not None and a.lon is not None else "-"
        rows.append(
            {
                "id": a.id,
                "kind": a.kind,
                "type": a.media_type or "unknown",
                "size": size_text(a.size),
                "sha256": a.sha256[:SHORT],
                "taken": local_time(a.taken_at, zone) if a.taken_at else "-",
                "place": place,
                "visit": a.visit_number if a.visit_number is not None else "-",
                "file": (f"(purged {a.purged_at:%Y-%m-%d})" if a.purged_at else a.filename or "-"),
                "note": a.note,
            }
        )
    return rows


def show_attachments(attachments: Sequence[Attachment], zone: str) -> None:
    """``show``'s lines on a case's attachments."""
    if attachments:
        echo("\nAttachments")
        table(attachment_rows(attachments, zone))


def register(cli: click.Group) -> None:
    """Add ``attach`` and the ``attachment`` group to ``cli`` (the ``fieldcase`` group)."""

    @cli.command()
    @click.argument("case_ref", metavar="CASE")
    @click.argument(
        "paths",
        metavar="FILE...",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option(
        "--kind",
        type=click.Choice(lifecycle.ATTACHMENT_KINDS),
        help="What the files are (default: photo for an image, other for anything else).",
    )
    @click.option(
        "--visit",
        type=click.IntRange(min=1, max=10_000),
        metavar="N",
        help="The number of the case's visit they were taken on.",
    )
    @click.option("--note", default="", help="What they show.")
    @at_option
    @json_option
    @pass_command_context
    def attach(
        context: CommandContext,
        case_ref: str,
        paths: tuple[Path, ...],
        kind: str | None,
        visit: int | None,
        note: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Attach photos or documents to a case: kept in the database, by fingerprint.

        Each file's type is told from its bytes, not its name, and must be one
        the institution's policy allows (attachment_types), at most its
        attachment_max_bytes; a photo's EXIF time and GPS place are recorded
        (a time without offset is the borrower's local time). Every file is
        judged before any is kept: one refused, none is attached, and the
        refusal names it. Attachments are personal data: their files go only to
        those who may see the case's (fieldcase attachment get).

        \b
        Example:
            fieldcase --as li.na attach 42 front-door.jpg meter.jpg --visit 1 \\
                --note "Shop shuttered, neighbour says closed since May"
            fieldcase --as li.na attach 42 payslip.pdf --kind statement
        """
        uploads = [read_upload(path) for path in paths]
        attached = context.services.attach(
            case_ref,
            uploads,
            actor=context.staff().id,
            at=at,
            kind=kind,
            visit=visit,
            note=note,
        )
        case = context.services.get_case(attached[0].case_id)
        zone = case.borrower.timezone

        def human() -> None:
            for a in attached:
                taken = f", taken {local_time(a.taken_at, zone)}" if a.taken_at else ""
                place = f" at {a.lat},{a.lon}" if a.lat is not None else ""
                context.echo(
                    f"Case {a.case_id}: attachment {a.id} {a.filename} ({a.kind}, "
                    f"{a.media_type}, {size_text(a.size)}{taken}{place}) sha256 {a.sha256}"
                )

        context.emit([attachment_json(a) for a in attached], json_, human)

    @cli.group(cls=type(cli))
    def attachment() -> None:
        """The photos and documents attached to cases: list them, get their files.

        \b
        Example:
            fieldcase --as li.na attach 42 front-door.jpg --visit 1
            fieldcase --as li.na attachment list 42
            fieldcase --as li.na attachment get 7 -o front-door.jpg
        """

    @attachment.command("list")
    @click.argument("case_ref", metavar="CASE")
    @json_option
    @pass_command_context
    def attachment_list(context: CommandContext, case_ref: str, json_: bool) -> None:
        """A case's attachments, oldest first: kind, type, size, fingerprint, when and
        where taken. Names, notes and places are masked for those who may not see
        the case's personal data.

        \b
        Example:
            fieldcase --as li.na attachment list 42
            fieldcase --as chen.wei attachment list hx-consumer/L-1001 --json
        """
        case, found, masked = context.services.case_attachments(case_ref, context.actor)
        zone = case.borrower.timezone

        def human() -> None:
            context.table(attachment_rows(found, zone))
            if masked:
                context.echo(
                    "(names, notes and places masked: shown to supervisors and the staff "
                    "working the case; pass --as)"
                )

        context.emit(
            {"case": case.id, "masked": masked, "attachments": [attachment_json(a) for a in found]},
            json_,
            human,
        )

    @attachment.command("get")
    @click.argument("attachment_id", metavar="ID", type=click.IntRange(min=1, max=2**63 - 1))
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The file to write it to.",
    )
    @click.option("--replace", is_flag=True, help="Overwrite --output if it exists.")
    @json_option
    @pass_command_context
    def attachment_get(
        context: CommandContext, attachment_id: int, output: Path, replace: bool, json_: bool
    ) -> None:
        """Write an attachment's file, checked against its fingerprint, to a file.

        Only supervisors, the staff member assigned and the case's visiting
        staff get it (it is personal data); a file that no longer matches its
        fingerprint is not handed out (run audit verify).

        \b
        Example:
            fieldcase --as li.na attachment get 7 -o front-door.jpg
            fieldcase --as chen.wei attachment get 7 -o evidence/7.jpg --replace
        """
        from .outputs import check_output, create_exclusive, written_whole

        check_output(output, context.db_path, option="--output", replace=replace)
        services = context.services
        content = services.attachment_content(attachment_id, context.actor)
        stored = services.stored_attachment(attachment_id)
        with (
            written_whole(output, again="get it again") as partial,
            create_exclusive(partial) as out,
        ):
            out.write(content)
        context.emit(
            {**attachment_json(stored), "output": str(output)},
            json_,
            lambda: context.echo(
                f"Attachment {stored.id} of case {stored.case_id} ({stored.kind}, "
                f"{stored.media_type}, {size_text(stored.size)}) written to {output}; "
                "it matches its fingerprint"
            ),
        )
