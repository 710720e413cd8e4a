"""The command of the visit report: ``report visit``.

Thin over :mod:`fieldcase.visit_report`, written with the command context a
plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds it
to the ``report`` group, beside the reports plugins register.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .commands import CommandContext, at_option, json_option, pass_command_context


def register(cli: click.Group) -> None:
    """Add ``visit`` to ``cli``'s ``report`` group."""
    report = cli.commands["report"]
    assert isinstance(report, click.Group)

    @report.command()
    @click.argument("case_ref", metavar="CASE")
    @click.option(
        "--visit",
        "visit_number",
        type=click.IntRange(1),
        metavar="N",
        help="Which visit (default: the latest that was made).",
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Write the report to FILE.pdf (fieldcase-documents).",
    )
    @click.option("--replace", is_flag=True, help="Overwrite --output if it exists.")
    @at_option
    @json_option
    @pass_command_context
    def visit(
        context: CommandContext,
        case_ref: str,
        visit_number: int | None,
        output: Path | None,
        replace: bool,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """The report of one visit, as a lender files it: one page or two.

        The case and its amounts, the borrower, the visit's time and place, who
        was met, the findings, the check-ins, the photos as thumbnails, the
        offers presented and accepted, the recommendation and its review, and
        the events that prove it with their hashes. It shows what you (--as)
        may see: the borrower's personal data, the photos and the hashes are
        masked unless you are a supervisor or work the case. A report written
        to a file is recorded as a visit_report event; --json prints the
        report's data instead (or as well).

        \b
        Example:
            fieldcase --as chen.wei report visit 136 -o visit.pdf
            fieldcase --as li.na report visit hx-consumer/HX-100135 --visit 1 --json
        """
        from .outputs import check_output, written_whole
        from .visit_report import build_visit_report, draw_visit_report

        if output is None and not json_:
            raise click.UsageError("give -o FILE.pdf to write the report, or --json to print it")
        staff = context.staff()
        if output is not None:  # never the database, a link or a file not to replace: first
            check_output(output, context.db_path, option="--output", replace=replace)
        reader = context.reader()
        report = build_visit_report(reader, reader.case(case_ref), visit_number, at=at)
        if output is not None:
            with written_whole(output, again="write the report again") as partial:
                event = draw_visit_report(
                    context.services, report, partial, actor=staff.id, output_name=str(output)
                )
            if not json_:
                masked = " (personal data masked)" if report.masked else ""
                context.echo(
                    f"Visit {report.visit.number} of case {report.case.id}: {output}{masked}, "
                    f"event {event.id}"
                )
        if json_:
            context.emit(report.as_json(), True, lambda: None)
