"""The commands of the borrower's protections: ``dispute``, ``hardship``, ``complaint``.

Thin over :mod:`fieldcase.protections`, written with the same command context
a plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds
them to the ``fieldcase`` group.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import attrs
import click

from . import lifecycle
from .commands import DAY, CommandContext, at_option, json_option, pass_command_context


def _record(record: Any) -> dict[str, Any]:
    return attrs.asdict(record, recurse=False)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def register(cli: click.Group) -> None:
    """Add the commands to ``cli`` (the ``fieldcase`` group)."""

    @cli.group(cls=type(cli))
    def dispute() -> None:
        """Disputes of an overdue that was not the borrower's fault.

        While a dispute is open, visits and contacts other than about the
        dispute (--purpose dispute) are refused and penalty interest stops.
        A supervisor upholds it (the penalty from its date reversed, and the
        fees by policy; a credit-record correction requested) or rejects it.

        \b
        Example:
            fieldcase --as li.na dispute open 42 --kind deduction-failure \\
                --note "Bank confirms the March debit failed on its side"
            fieldcase --as li.na dispute evidence 42 --description "Bank letter" \\
                --file bank-letter.pdf
            fieldcase --as chen.wei dispute decide 42 --uphold --note "Bank error confirmed"
        """

    @dispute.command("open")
    @click.argument("case_ref", metavar="CASE")
    @click.option(
        "--kind", required=True, type=click.Choice(lifecycle.DISPUTE_KINDS), help="What went wrong."
    )
    @click.option(
        "--since",
        type=DAY,
        help="The date from which the overdue is disputed (default: when it became overdue).",
    )
    @click.option("--note", default="", help="What the borrower says happened.")
    @at_option
    @json_option
    @pass_command_context
    def dispute_open(
        context: CommandContext,
        case_ref: str,
        kind: str,
        since: dt.datetime | None,
        note: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Open a dispute on a case, from any stage: collection is held meanwhile.

        After a dispute on the case was rejected, only a supervisor opens
        another (record new evidence with dispute evidence and ask one).

        \b
        Example:
            fieldcase --as li.na dispute open 42 --kind bank-error --since 2026-10-05 \\
                --note "Paid on time; the bank returned it"
        """
        case, opened = context.services.open_dispute(
            case_ref,
            actor=context.staff().id,
            at=at,
            kind=kind,
            note=note,
            since=since.date() if since else None,
        )
        context.emit(
            _record(opened),
            json_,
            lambda: context.echo(
                f"Case {case.id}: dispute {opened.id} opened ({kind}, from {opened.since}); "
                "visits and collection contacts are held until a supervisor decides it"
            ),
        )

    @dispute.command("evidence")
    @click.argument("case_ref", metavar="CASE")
    @click.option("--description", required=True, help="What the document is.")
    @click.option("--sha256", help="The document's SHA-256 fingerprint (64 hex digits).")
    @click.option(
        "--file",
        "path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Fingerprint this file (it is not stored).",
    )
    @at_option
    @json_option
    @pass_command_context
    def dispute_evidence(
        context: CommandContext,
        case_ref: str,
        description: str,
        sha256: str | None,
        path: Path | None,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Record a document offered for the case's dispute: what it is and its SHA-256.

        The document itself stays where it is (the institution keeps it); its
        fingerprint lets anyone check later that a copy is the one offered.

        \b
        Example:
            fieldcase --as li.na dispute evidence 42 --description "Bank letter" \\
                --file bank-letter.pdf
        """
        if (sha256 is None) == (path is None):
            raise click.UsageError("give the document's fingerprint: --sha256 HEX or --file PATH")
        digest = sha256 if sha256 is not None else _sha256_of(path)  # type: ignore[arg-type]
        evidence = context.services.add_evidence(
            case_ref, actor=context.staff().id, at=at, description=description, sha256=digest
        )
        for_what = f"dispute {evidence.dispute_id}" if evidence.dispute_id else "the case"
        context.emit(
            _record(evidence),
            json_,
            lambda: context.echo(
                f"Case {evidence.case_id}: evidence {evidence.id} recorded for {for_what} "
                f"(sha256 {evidence.sha256})"
            ),
        )

    @dispute.command("decide")
    @click.argument("case_ref", metavar="CASE")
    @click.option("--uphold", "outcome", flag_value="uphold", help="The borrower is right.")
    @click.option("--reject", "outcome", flag_value="reject", help="The overdue stands.")
    @click.option("--note", required=True, help="Why.")
    @click.option("--close", is_flag=True, help="With --uphold: close the case as dispute-upheld.")
    @at_option
    @json_option
    @pass_command_context
    def dispute_decide(
        context: CommandContext,
        case_ref: str,
        outcome: str | None,
        note: str,
        close: bool,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Decide the open dispute (a supervisor, not the one who opened it), whatever the
        case's stage.

        Upheld: penalty interest from the disputed date (and the fees, if the
        policy's dispute_reverse_fees is yes) is reversed and a credit-record
        correction is requested (fieldcase export corrections); with --close
        the case is closed too, if the rules on closing allow it. Rejected:
        collection resumes where it was.

        \b
        Example:
            fieldcase --as chen.wei dispute decide 42 --uphold --close \\
                --note "Bank confirms its error"
        """
        if outcome is None:
            raise click.UsageError("say how it is decided: --uphold or --reject")
        case, decided, correction = context.services.decide_dispute(
            case_ref,
            actor=context.staff().id,
            at=at,
            uphold=outcome == "uphold",
            note=note,
            close=close,
        )

        def human() -> None:
            context.echo(f"Case {case.id}: dispute {decided.id} {decided.status}")
            if correction is not None:
                fees = ", and the fees," if decided.fees_reversed else ""
                context.echo(
                    f"  penalty from {decided.since}{fees} reversed; credit-record correction "
                    f"{correction.id} requested (fieldcase export corrections)"
                )
            where = f"closed as {case.resolution}" if case.resolution else f"in {case.stage}"
            context.echo(f"  the case is {where}")

        context.emit(
            {
                "dispute": _record(decided),
                "correction": _record(correction) if correction else None,
                "stage": str(case.stage),
                "resolution": case.resolution,
            },
            json_,
            human,
        )

    @cli.command()
    @click.argument("case_ref", metavar="CASE")
    @click.option("--until", type=DAY, help="The pause's last day (the borrower's local date).")
    @click.option("--reason", type=click.Choice(lifecycle.HARDSHIP_REASONS), help="Why.")
    @click.option("--end", is_flag=True, help="End the running pause today instead.")
    @click.option("--note", default="", help="What happened; required with --end.")
    @at_option
    @json_option
    @pass_command_context
    def hardship(
        context: CommandContext,
        case_ref: str,
        until: dt.datetime | None,
        reason: str | None,
        end: bool,
        note: str,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Pause collection for a borrower in hardship, or end the pause early.

        From today to --until the worklist leaves the case out, visits on
        those days and collection contacts are refused (a visit may be planned
        for a day after the pause), promises falling due are not broken
        and penalty interest accrues at the policy's hardship_penalty_share of
        its rate (0: frozen). Field staff grant pauses up to the policy's
        hardship_max_days (counting the days paused in the last 365), from
        the real day on; longer ones, and ones dated back to an earlier day
        with --at (which would excuse promises already broken), need a
        supervisor.

        \b
        Examples:
            fieldcase --as li.na hardship 42 --until 2026-12-31 --reason illness \\
                --note "In hospital, discharged mid-December"
            fieldcase --as li.na hardship 42 --end --note "Back at work"
        """
        services, actor = context.services, context.staff().id
        if end:
            if until is not None or reason is not None:
                raise click.UsageError("--end takes no --until or --reason")
            case, ended = services.end_hardship(case_ref, actor=actor, at=at, note=note)
            context.emit(
                _record(ended),
                json_,
                lambda: context.echo(
                    f"Case {case.id}: hardship pause ended (last day {ended.last_day}); "
                    "collection resumes"
                ),
            )
            return
        if until is None or reason is None:
            raise click.UsageError("a pause needs --until DATE and --reason (or --end)")
        case, granted = services.grant_hardship(
            case_ref, actor=actor, at=at, until=until.date(), reason=reason, note=note
        )
        rate = "frozen" if not granted.penalty_share else f"at {granted.penalty_share} of its rate"
        context.emit(
            _record(granted),
            json_,
            lambda: context.echo(
                f"Case {case.id}: paused {granted.starts} to {granted.until} ({reason}); "
                f"penalty interest {rate}"
            ),
        )

    @cli.command()
    @click.argument("case_ref", metavar="CASE")
    @click.option(
        "--about", required=True, type=click.Choice(lifecycle.COMPLAINT_ABOUT), help="Its subject."
    )
    @click.option("--note", default="", help="What the borrower said.")
    @at_option
    @json_option
    @pass_command_context
    def complaint(
        context: CommandContext, case_ref: str, about: str, note: str, at: dt.datetime, json_: bool
    ) -> None:
        """Record a borrower's complaint (on an open or a closed case).

        A complaint about contact frequency lowers the limit: for the policy's
        complaint_quiet_days, at most complaint_max_contacts_per_week
        contacts with the borrower in any 7 days, whatever their purpose (rule
        default.complaint), on top of the rule packs' own limits.

        \b
        Example:
            fieldcase --as li.na complaint 42 --about contact-frequency \\
                --note "Says she was called five times on Monday"
        """
        case, recorded = context.services.record_complaint(
            case_ref, actor=context.staff().id, at=at, about=about, note=note
        )
        limit = (
            f"; fewer contacts until {recorded.fewer_contacts_until}"
            if recorded.fewer_contacts_until
            else ""
        )
        context.emit(
            _record(recorded),
            json_,
            lambda: context.echo(
                f"Case {case.id}: complaint {recorded.id} recorded ({about}){limit}"
            ),
        )

    export = cli.commands["export"]
    assert isinstance(export, click.Group)

    @export.command("corrections")
    @click.option("--format", "fmt", default="csv", show_default=True, help="csv, jsonl...")
    @click.option(
        "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
    )
    @click.option("--institution", help="Only this institution's requests.")
    @click.option(
        "--after", type=click.IntRange(0), help="Only requests after this one (the last cursor)."
    )
    @click.option("--replace", is_flag=True, help="Overwrite --output if it exists.")
    @at_option
    @pass_command_context
    def export_corrections(
        context: CommandContext,
        fmt: str,
        output: Path | None,
        institution: str | None,
        after: int | None,
        replace: bool,
        at: dt.datetime,
    ) -> None:
        """Credit-record correction requests from upheld disputes (supervisors).

        One row per request: the account (institution, reference), the dispute
        and the date from which the overdue was not the borrower's fault. The
        summary on stderr gives the cursor for the next --after.

        \b
        Example:
            fieldcase --as chen.wei export corrections --institution hx-consumer -o fix.csv
            fieldcase --as chen.wei export corrections --format jsonl --after 12
        """
        import sys

        from .outputs import check_output, create_exclusive, written_whole

        options: dict[str, Any] = dict(
            fmt=fmt,
            actor=context.staff().id,
            at=at,
            institution=institution,
            after=after,
            output_name=str(output or "-"),
        )
        from .formats import exporter_for

        if output is None and exporter_for(context.services.pm, fmt, None).binary:
            raise click.UsageError(f"{fmt} writes a binary file: give --output FILE")
        if output is None:
            rows, cursor = context.services.export_corrections(sys.stdout.buffer, **options)
        else:
            check_output(output, context.db_path, option="--output", replace=replace)
            with (
                written_whole(output, again="export again") as partial,
                create_exclusive(partial) as out,
            ):
                rows, cursor = context.services.export_corrections(out, **options)
        next_time = f"; next time: --after {cursor}" if cursor is not None else ""
        context.echo(
            f"Exported {rows} correction request{'' if rows == 1 else 's'}{next_time}", err=True
        )
