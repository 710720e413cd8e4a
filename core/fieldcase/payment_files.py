"""A bank's payment file in: each row confirms, records or leaves a payment of a case.

What a row does is decided here; the reading (formats, encodings, ``--mapping``)
and the rejects file are the case import's (:mod:`fieldcase.importing`,
:mod:`fieldcase.transfer`); each payment is written by the money actions
(:func:`fieldcase.arrangements.record_payment`, ``confirm_payment``), one
transaction per row, so that a payment that clears a case closes it as it does
when typed. Importing the same file again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

from .errors import CaseNotFound, FieldcaseError, InvalidInput, Refused
from .formats import importer_for
from .importing import ColumnMapping, Reject, check_encoding
from .model import Case, Payment
from .money import MINOR_UNITS, format_money, parse_money
from .text import TextRefused
from .text import clean as clean_text
from .transfer import RejectsFile, admit_import

if TYPE_CHECKING:
    from .services import Services

#: A payment file's columns. ``case`` (fieldcase's id) or ``loan_reference`` (the
#: institution's reference of the case) says whose payment it is.
PAYMENT_FIELDS = (
    "reference",
    "case",
    "institution",
    "loan_reference",
    "amount",
    "currency",
    "paid_at",
)


@attrs.frozen
class PaymentImportSummary:
    file: str
    institution: str
    rows: int
    #: Reported payments the file confirmed.
    confirmed: int
    #: Payments the file brought that nobody had reported: recorded, confirmed.
    recorded: int
    #: Payments already confirmed, for the same amount.
    unchanged: int
    rejected: int
    rejects_file: str | None
    #: Cases the file's payments closed (paid or settled).
    closed: int = 0


def import_payments(
    services: Services,
    path: Path,
    *,
    institution: str,
    actor: str,
    at: dt.datetime,
    fmt: str | None = None,
    encoding: str = "utf-8",
    mapping: ColumnMapping | None = None,
    rejects_path: Path | None = None,
) -> PaymentImportSummary:
    """Import ``institution``'s payment file ``path``; rows that cannot be taken go to
    the rejects file with their line, field and reason."""
    institution = institution.strip()
    staff = admit_import(services, actor, at, path, institution, "payment files")
    importer = importer_for(services.pm, path, fmt)
    if importer.text:
        check_encoding(path, encoding)
    rejects = RejectsFile(
        rejects_path or path.with_name(path.stem + ".rejects.csv"), path, services.store.path
    )
    run = _PaymentRun(services, institution, staff.id, at, path.name, mapping or ColumnMapping())
    try:
        for source in importer.read(path, encoding):
            run.rows += 1
            if source.error is not None or source.values is None:
                run.reject(rejects, source.line, "row", "", source.error or "unreadable")
                continue
            problem = run.take(source.line, mapping_of(run.mapping, source.values))
            if problem is not None:
                run.reject(rejects, source.line, *problem)
    finally:
        rejects.close()
    return PaymentImportSummary(
        file=str(path),
        institution=institution,
        rows=run.rows,
        confirmed=run.confirmed,
        recorded=run.recorded,
        unchanged=run.unchanged,
        rejected=run.rejected,
        rejects_file=str(rejects.path) if rejects.count else None,
        closed=run.closed,
    )


def mapping_of(mapping: ColumnMapping, values: Mapping[str, Any]) -> dict[str, str]:
    """The row under fieldcase's names, each value as text (spreadsheets give numbers)."""
    return {
        key: "" if value is None else str(value) for key, value in mapping.apply(values).items()
    }


#: A row's problem: (field, value, reason).
Problem = tuple[str, str, str]


class _PaymentRun:
    """One import of a payment file: its counts, and what each row becomes."""

    def __init__(
        self,
        services: Services,
        institution: str,
        actor: str,
        at: dt.datetime,
        file: str,
        mapping: ColumnMapping,
    ) -> None:
        self.services = services
        self.institution = institution
        self.zone = ZoneInfo(services.institution(institution).timezone)
        self.actor = actor
        self.at = at
        self.file = file
        self.mapping = mapping
        self.checked_columns = False
        self.rows = self.confirmed = self.recorded = self.unchanged = 0
        self.rejected = self.closed = 0

    def reject(self, rejects: RejectsFile, line: int, field: str, value: str, reason: str) -> None:
        self.rejected += 1
        rejects.add(Reject(line, field, value, reason))

    def check_columns(self, row: Mapping[str, str]) -> None:
        """A file whose columns do not map is refused before anything is written."""
        missing = [name for name in ("reference", "amount", "paid_at") if name not in row]
        if "case" not in row and "loan_reference" not in row:
            missing.append("case (or loan_reference)")
        if missing:
            raise InvalidInput(
                f"{self.file}: no column for {', '.join(missing)}; the file has "
                f"{', '.join(row)}. Map its columns with --mapping map.toml "
                f"(fields: {', '.join(PAYMENT_FIELDS)})"
            )

    def take(self, line: int, raw: Mapping[str, str]) -> Problem | None:
        """Confirm, record or leave the row's payment; or say what is wrong with the row."""
        if not self.checked_columns:
            self.check_columns(raw)
            self.checked_columns = True
        row: dict[str, str] = {}
        for name in PAYMENT_FIELDS:
            try:
                row[name] = clean_text(raw.get(name, ""), name).strip()
            except TextRefused as exc:
                return (name, raw.get(name, ""), exc.reason)
        for name in ("reference", "amount", "paid_at"):
            if not row[name]:
                return (name, "", "is required")
        found = self.case_of(row)
        if isinstance(found, tuple):
            return found
        case = found
        assert case.id is not None
        currency = row["currency"].upper()
        if currency and currency not in MINOR_UNITS:
            known = ", ".join(sorted(MINOR_UNITS))
            return ("currency", row["currency"], f"is not one of fieldcase's currencies ({known})")
        if currency and currency != case.currency:
            return ("currency", currency, f"is not case {case.id}'s currency ({case.currency})")
        try:
            amount = parse_money(row["amount"], case.currency, owner=f"case {case.id}")
        except InvalidInput as exc:
            return ("amount", row["amount"], str(exc).split(": ", 1)[-1])
        if amount <= 0:
            return ("amount", row["amount"], "a payment is for more than nothing")
        paid_at = self.paid_at(row["paid_at"])
        if isinstance(paid_at, tuple):
            return paid_at
        earlier = next(
            (
                p
                for p in self.services.store.payments(case.id, case.currency)
                if p.reference == row["reference"]
            ),
            None,
        )
        source = {"file": self.file, "line": line}
        try:
            if earlier is None:
                _, _, after = self.services.record_payment(
                    case.id,
                    actor=self.actor,
                    at=paid_at,
                    amount=str(amount),
                    reference=row["reference"],
                    source=source,
                )
                self.recorded += 1
            else:
                problem = self.mismatch(case, earlier, amount)
                if problem is not None:
                    return problem
                if earlier.status == "confirmed":
                    self.unchanged += 1
                    return None
                # The bank's time stands, not the one it was reported with.
                _, after = self.services.confirm_payment(
                    case.id,
                    earlier.reference,
                    actor=self.actor,
                    at=self.at,
                    source=source,
                    paid_at=paid_at,
                    amount=amount,
                )
                self.confirmed += 1
        except Refused as exc:
            return ("row", row["reference"], f"refused: {exc.explain()}")
        except FieldcaseError as exc:  # bad input, a stale case: the row waits for next time
            return ("row", row["reference"], str(exc))
        if after.stage != case.stage and after.resolution in ("paid", "settled"):
            self.closed += 1
        return None

    def case_of(self, row: Mapping[str, str]) -> Case | Problem:
        """The row's case, which must be the institution's."""
        if row["institution"] and row["institution"] != self.institution:
            return (
                "institution",
                row["institution"],
                f"is not {self.institution}, whose file this is (--institution)",
            )
        store = self.services.store
        if row["case"]:
            number = row["case"].lstrip("#")
            if not (number.isascii() and number.isdigit()):
                return ("case", row["case"], "is not a case id (a number, e.g. 42)")
            try:
                case = store.get_case(int(number))
            except CaseNotFound:
                return ("case", row["case"], "no such case")
            if case.institution != self.institution:
                return ("case", row["case"], f"is not a case of {self.institution}")
            if row["loan_reference"] and row["loan_reference"] != case.reference:
                return (
                    "loan_reference",
                    row["loan_reference"],
                    f"is not case {case.id}'s reference ({case.reference})",
                )
            return case
        if not row["loan_reference"]:
            return ("case", "", "is required (or loan_reference)")
        found = store.find_case(self.institution, row["loan_reference"])
        if found is None:
            return ("loan_reference", row["loan_reference"], f"no case of {self.institution}")
        return found

    def paid_at(self, text: str) -> dt.datetime | Problem:
        """When the money was paid: ISO 8601; without a zone, in the institution's."""
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return ("paid_at", text, "is not a time; write it as 2026-11-23T10:30+08:00")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment

    def mismatch(self, case: Case, earlier: Payment, amount: Any) -> Problem | None:
        """Why the file's payment cannot be the one already recorded, if it cannot."""
        who = "reported by " + earlier.recorded_by if earlier.status == "reported" else "recorded"
        if earlier.status == "reversed" and earlier.confirmed_at is None:
            return None  # a report reversed before it counted: the bank's record replaces it
        if earlier.status == "reversed":
            assert earlier.reversed_at is not None
            return (
                "reference",
                earlier.reference,
                f"payment {earlier.reference} of case {case.id} was reversed on "
                f"{earlier.reversed_at.astimezone(case.borrower.zone):%Y-%m-%d} "
                f"({earlier.reversal_reason}) after it had counted; its reference stays "
                "taken: the bank's correction comes under a reference of its own",
            )
        if earlier.amount != amount:
            return (
                "amount",
                format_money(amount, case.currency),
                f"payment {earlier.reference} of case {case.id} was {who} as "
                f"{format_money(earlier.amount, case.currency)}; check which is right "
                f"(a wrong one is reversed: fieldcase payment reverse {case.id} "
                f"{earlier.reference} --reason ...)",
            )
        return None
