"""Case files in: the import action (visit records out: :mod:`fieldcase.exporting`).

Import reads a file row by row, validates each, and writes batches: each batch
is ONE transaction holding whole, valid cases and their events, so a run killed
half way leaves only complete cases and running it again completes the import
(rows already in are "unchanged").
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import gc
import hashlib
import io
import itertools
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from . import __version__, attributes, import_pipeline
from .commitments import canonical_json
from .errors import InvalidInput, NotPermitted, WriteRefused
from .formats import importer_for
from .importing import (
    FIELDS,
    REQUIRED,
    ColumnMapping,
    Reject,
    RowValidator,
    SourceRow,
    check_encoding,
)
from .lifecycle import Stage
from .model import Borrower, Case, Decision, Review, Staff, days_late
from .money import from_minor
from .policy import default
from .privacy import mask_phone, mask_tail
from .rows import CaseRow, degrees_text, printable, row_to_case, to_iso
from .store import Change
from .text import visible

if TYPE_CHECKING:
    from .services import Services

#: Referral fields an import may change on an existing case.
UPDATABLE = (
    "borrower_name",
    "national_id",
    "phone",
    "address",
    "timezone",
    "jurisdiction",
    "currency",
    "principal_minor",
    "overdue_minor",
    "overdue_since",
    "interest_minor",
    "fees_minor",
    "penalty_rate",
    "installment_minor",
    "latitude",
    "longitude",
)


#: For each updatable column, the import fields that set it.
UPDATE_SOURCES: dict[str, tuple[str, ...]] = {
    "borrower_name": ("borrower_name",),
    "national_id": ("national_id",),
    "phone": ("phone",),
    "address": ("address",),
    "timezone": ("timezone",),
    "jurisdiction": ("jurisdiction",),
    "currency": ("currency",),
    "principal_minor": ("principal",),
    "overdue_minor": ("overdue_amount",),
    "overdue_since": ("overdue_since", "days_past_due"),
    "interest_minor": ("accrued_interest",),
    "fees_minor": ("fees",),
    "penalty_rate": ("penalty_rate", "penalty_rate_daily"),
    "installment_minor": ("installment",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
}
#: Columns kept in step with another.
DERIVED = {"national_id": ("national_id_masked",), "phone": ("phone_masked",)}


@attrs.frozen
class ImportSummary:
    file: str
    institution: str
    rows: int
    imported: int
    updated: int
    unchanged: int
    rejected: int
    ineligible: int
    rejects_file: str | None
    #: Rows imported (or left unchanged) with a warning, listed in ``warnings_file``.
    warned: int = 0
    warnings_file: str | None = None


REJECTS_HEADER = ["line", "field", "value", "reason"]


class RejectsFile:
    """The rejects CSV, opened on the first reject: line, field, value, reason.

    The warnings file (``warnings=True``) has the same shape and rules, and
    sits beside it: see :func:`warnings_path`.
    """

    def __init__(self, path: Path, source: Path, database: str, *, warnings: bool = False) -> None:
        from .outputs import check_output

        option = "the warnings file" if warnings else "--rejects"
        remedy = "move it, or pass --rejects PATH: the warnings go beside" if warnings else ""
        if path.resolve() == source.resolve():
            raise InvalidInput(
                f"{option} {path} is the file being imported; {remedy or 'name another'}"
            )
        if path.exists() and not path.is_symlink() and not self.ours(path):
            kind = "warnings" if warnings else "rejects"
            raise InvalidInput(
                f"{option} {path} exists and is not a {kind} file; {remedy or 'name another file'}"
            )
        # An earlier run's file is replaced; otherwise guarded like any output.
        check_output(path, database, option=option, replace=True)
        self.path = path
        self.count = 0
        self._handle: Any = None
        self._writer: Any = None

    @staticmethod
    def ours(path: Path) -> bool:
        """Whether ``path`` is a rejects file from an earlier run (safe to replace)."""
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                return next(csv.reader(handle), None) == REJECTS_HEADER
        except (OSError, UnicodeDecodeError, csv.Error):
            return False

    def add(self, reject: Reject) -> None:
        if self._writer is None:
            from .outputs import create_exclusive

            self._handle = io.TextIOWrapper(
                create_exclusive(self.path), encoding="utf-8", newline=""
            )
            self._writer = csv.writer(self._handle)
            self._writer.writerow(REJECTS_HEADER)
        # Escaped, as everywhere fieldcase shows text: a rejects file is read by people.
        self._writer.writerow([reject.line, reject.field, visible(reject.value), reject.reason])
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        elif self.path.exists():
            # A clean run leaves no stale rejects from an earlier one.
            self.path.unlink()


def warnings_path(rejects: Path) -> Path:
    """Where the warnings go: beside the rejects, ``NAME.warnings.csv``."""
    stem = rejects.name.removesuffix(".rejects.csv")
    if stem == rejects.name:
        stem = rejects.stem
    return rejects.with_name(stem + ".warnings.csv")


def _apply(clean: Mapping[str, Any], institution: str, at: dt.datetime, old: Case | None) -> Case:
    currency = clean["currency"]
    borrower = Borrower(
        name=clean["borrower_name"],
        timezone=clean["timezone"],
        national_id=clean["national_id"],
        phone=clean["phone"],
        address=clean["address"],
        latitude=clean.get("latitude"),
        longitude=clean.get("longitude"),
    )
    values = {
        "borrower": borrower,
        "jurisdiction": clean["jurisdiction"],
        "currency": currency,
        "principal": from_minor(clean["principal_minor"], currency),
        "overdue_amount": from_minor(clean["overdue_minor"], currency),
        "overdue_since": clean["overdue_since"],
        "accrued_interest": from_minor(clean["interest_minor"], currency),
        "fees": from_minor(clean["fees_minor"], currency),
        "penalty_rate": Decimal(clean["penalty_rate"]),
        "attributes": dict(clean.get("attributes") or {}),
    }
    if old is not None:
        return attrs.evolve(old, **values)
    return Case(
        institution=institution,
        reference=clean["reference"],
        referred_at=at,
        kind=clean.get("kind") or "collection",
        **values,
    )


def _shown(field: str, value: Any, currency: str) -> Any:
    """A changed value as people read it: amounts as decimals, dates as ISO text."""
    if field.endswith("_minor"):
        return str(from_minor(value, currency))
    return printable(value)


def import_cases(
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
    batch_size: int = 5000,
    progress: Callable[[SourceRow], object] | None = None,
    indexes: str = "auto",
) -> ImportSummary:
    """Import ``path`` for ``institution`` (registered): new cases, updated cases, rejects.

    ``indexes``: ``keep`` keeps the cases' indexes up row by row; ``rebuild`` sets
    them aside and rebuilds them at the end; ``auto`` rebuilds when the file is
    large against the table (:func:`sets_aside`).
    """
    institution = institution.strip()
    staff = admit_import(services, actor, at, path, institution, "case files")
    importer = importer_for(services.pm, path, fmt)
    if importer.text:
        check_encoding(path, encoding)
    run = _ImportRun(services, institution, staff.id, at, path.name, mapping or ColumnMapping())
    rejects = RejectsFile(
        rejects_path or path.with_name(path.stem + ".rejects.csv"), path, services.store.path
    )
    warnings = RejectsFile(warnings_path(rejects.path), path, services.store.path, warnings=True)
    cases = services.store.case_count_bound() if indexes == "auto" else 0
    services.store.start_import(
        set_aside=indexes == "rebuild"
        or (indexes == "auto" and sets_aside(path, importer.text, cases))
    )
    # A batch allocates many short-lived objects and no cycles worth chasing:
    # collecting less often saves a fifth of the time of a large import.
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 1_000, 1_000)
    try:
        rows = importer.read(path, encoding)
        first = list(itertools.islice(rows, batch_size))
        ahead = run.prepare(first) if first else None
        # A large text file of new or changed rows is read and validated a few batches
        # ahead, in a second process; one whose first batch is mostly known (a file
        # imported before) is not: known rows are not validated at all here.
        parallel = (
            ahead is not None
            and sum(row.known for row in ahead.rows) * 2 < len(ahead.rows)
            and importer.text
            and estimated_rows(path) >= import_pipeline.PARALLEL_ROWS
        )
        later = import_pipeline.prepared_batches(
            rows, batch_size, functools.partial(run.prepare, lookup=not parallel), parallel=parallel
        )
        # Closed on any error too: a second process reading ahead stops there.
        with contextlib.closing(later):
            for prepared in itertools.chain([ahead] if ahead else [], later):
                try:
                    run.write(prepared, rejects, warnings)
                except WriteRefused as exc:
                    raise WriteRefused(
                        f"{exc}. The rows before line {prepared.rows[0].line} are in: "
                        "importing the file again goes on from there",
                        path=exc.path,
                        reason=exc.reason,
                        remedy=exc.remedy,
                    ) from None
                if progress is not None:
                    progress(prepared.last)
    finally:
        gc.set_threshold(*thresholds)
        rejects.close()
        warnings.close()
        services.store.finish_import()
    return ImportSummary(
        file=str(path),
        institution=institution,
        rows=run.rows,
        imported=run.imported,
        updated=run.updated,
        unchanged=run.unchanged,
        rejected=run.rejected,
        ineligible=run.ineligible,
        rejects_file=str(rejects.path) if rejects.count else None,
        warned=run.warned,
        warnings_file=str(warnings.path) if warnings.count else None,
    )


#: From how many rows of a file ``--indexes auto`` sets the cases' indexes aside.
SET_ASIDE_ROWS = 20_000


def sets_aside(path: Path, text: bool, cases: int) -> bool:
    """Whether rebuilding the cases' indexes after importing ``path`` costs less than
    keeping them up row by row: a file of many rows, at least as many as the table
    has ``cases``. (Into a table far larger than the file, a rebuild costs more.)
    A file of another format than text is not estimated: its indexes are kept."""
    if not text:
        return False
    rows = estimated_rows(path)
    return rows >= SET_ASIDE_ROWS and rows >= cases


def estimated_rows(path: Path, sample: int = 1 << 20) -> int:
    """The lines of a text file, counted in its first MiB and extrapolated."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(sample)
    lines = head.count(b"\n")
    if len(head) >= size:
        return lines
    return size * max(lines, 1) // max(len(head), 1)


def admit_import(
    services: Services, actor: str, at: dt.datetime, path: Path, institution: str, what: str
) -> Staff:
    """Who may import an institution's file (a supervisor), when, and whether its policy
    lets them: the checks every import makes before reading a row."""
    staff = services.actor(actor)
    services.begin_action()
    registered = services.institution(institution)
    attempted = {"file": path.name, "institution": institution}
    services.check_time(staff, at, registered.policy, "import", attempted=attempted,
                        institution=registered)  # fmt: skip
    if not staff.is_supervisor:
        services.refuse_unscoped(
            staff.id,
            at,
            "import",
            NotPermitted(f"only a supervisor may import {what}", "permission.supervisor"),
            attempted,
            registered,
        )
    services.check_unscoped("import", staff.id, at, institution, attempted)
    if not path.is_file():
        raise InvalidInput(f"no file {path}")
    return staff


@attrs.frozen
class PreparedRow:
    """A row of a file, mapped and validated (or known by its fingerprint), or not readable."""

    line: int
    error: str | None
    reference: str = ""
    digest: str | None = None
    clean: dict[str, Any] | None = None
    problems: list[Reject] = attrs.field(factory=list)
    known: bool = False


@attrs.frozen
class PreparedBatch:
    rows: list[PreparedRow]
    #: The batch's last row (its line and offset, for progress).
    last: SourceRow
    #: Whether the stored fingerprints were looked up while preparing.
    looked_up: bool


#: Bumped when validating the same row could give another result: every row's
#: fingerprint then differs, and a re-import validates and compares every row once.
FINGERPRINT_FORM = 2


def reference_of(values: Mapping[str, Any]) -> str:
    """A mapped row's reference as a stored case has it (cleaned text is stripped)."""
    return str(values.get("reference") or "").strip()


class _ImportRun:
    """The state of one import: counts, and how each batch becomes changes."""

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
        self.actor = actor
        self.at = at
        self.file = file
        self.mapping = mapping
        registered = services.institution(institution)
        self.settings = registered.policy
        self.declared = attributes.declared(registered.policy)
        self.policy_version = registered.policy_version
        self.recorded_at = services.recorded_at()
        self.validator = RowValidator(
            at,
            {
                "currency": registered.currency,
                "timezone": registered.timezone,
                "jurisdiction": registered.jurisdiction,
            },
            institution=institution,
            day_count=int(self.settings.get("day_count", default("day_count"))),
            days_late_mismatch=self.settings.get(
                "import_days_late_mismatch", default("import_days_late_mismatch")
            ),
        )
        self.at_text = to_iso(at)
        #: All that judges a row besides the row itself: a row's fingerprint covers it.
        self.judged_by = [
            FINGERPRINT_FORM,
            __version__,
            institution,
            self.policy_version,
            self.validator.defaults,
            self.validator.day_count,
            self.validator.reject_days_late,
        ]
        self.hooked_mapping = bool(services.pm.hook.map_import_row.get_hookimpls())
        self.checked_columns = False
        self.reject_later: Reject | None = None
        self.rows = self.imported = self.updated = self.unchanged = 0
        self.rejected = self.ineligible = self.warned = 0

    def map_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The ``map_import_row`` hook's answer, else the mapping file's."""
        if not self.hooked_mapping:  # a hook call per row costs, even one nobody answers
            return self.mapping.apply(values)
        for mapped in self.services.pm.hook.map_import_row(
            institution=self.institution, row=dict(values), settings=self.settings
        ):
            if mapped is not None:
                return dict(mapped)
        return self.mapping.apply(values)

    def check_columns(
        self, row: Mapping[str, Any], source: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> None:
        """A file whose columns do not map at all is refused before anything is written."""
        # A file with a kind column may hold performing loans' reviews: nothing overdue.
        reviews = "kind" in row
        missing = [
            name
            for name in REQUIRED
            if name not in row and not (reviews and name == "overdue_amount")
        ]
        if "overdue_since" not in row and "days_past_due" not in row and not reviews:
            missing.append("overdue_since (or days_past_due)")
        if missing:
            raise InvalidInput(
                f"{self.file}: no column for {', '.join(missing)}; the file has "
                f"{', '.join(map(str, source))}. Map its columns with --mapping map.toml "
                f"(fields: {', '.join(FIELDS)}, or attributes.<name>)"
            )
        # A column mapped to an attribute the policy does not declare would
        # reject every row: the file is refused instead, saying how to declare it.
        attributes.clean(dict.fromkeys(extra, ""), self.declared, self.institution)

    def reject(self, rejects: RejectsFile, line: int, problems: list[Reject]) -> None:
        self.rejected += 1
        for problem in problems:
            rejects.add(attrs.evolve(problem, line=line))

    def prepare(self, batch: list[SourceRow], *, lookup: bool = True) -> PreparedBatch:
        """Each row of ``batch`` mapped, fingerprinted and validated: no writes, so a
        second process may do it (then without ``lookup``: it has no database).

        With ``lookup``, a row its case was imported from, the case unchanged
        since, is known by its fingerprint and not validated at all.
        """
        rows = [PreparedRow(source.line, source.error or "unreadable") for source in batch]
        mapped: list[tuple[int, SourceRow, dict[str, Any], str | None]] = []
        for index, source in enumerate(batch):
            if source.values is not None and source.error is None:
                values = self.map_row(source.values)
                mapped.append((index, source, values, self.fingerprint(values)))
        named = [reference_of(values) for _, _, values, digest in mapped if digest]
        known = self.known(named) if lookup else {}
        for index, source, values, digest in mapped:
            row, extra = attributes.split(values)
            if not self.checked_columns:
                self.check_columns(row, source.values or {}, extra)
                self.checked_columns = True
            reference = reference_of(values)
            if digest is not None and known.get(reference) == digest:
                rows[index] = PreparedRow(source.line, None, reference, digest, known=True)
                continue
            clean, problems = self.validator.validate(row)
            if clean is not None:
                try:
                    clean["attributes"] = attributes.clean(extra, self.declared, self.institution)
                except InvalidInput as exc:
                    clean, problems = None, [Reject(0, "attributes", "", str(exc))]
            if clean is not None:
                clean["given_attributes"] = frozenset(extra)
                clean["fingerprint"] = digest
            rows[index] = PreparedRow(source.line, None, reference, digest, clean, problems)
        last = SourceRow(batch[-1].line, None, offset=batch[-1].offset)
        return PreparedBatch(rows, last, looked_up=lookup)

    def known(self, references: list[str]) -> dict[str, str]:
        """The stored fingerprints of these references' unchanged cases, by reference."""
        return self.services.store.import_fingerprints(self.institution, references)

    def write(self, prepared: PreparedBatch, rejects: RejectsFile, warnings: RejectsFile) -> None:
        """A prepared batch's cases and their events, in one transaction."""
        store = self.services.store
        known: dict[str, str] = {}
        if not prepared.looked_up:  # prepared without the database: looked up here
            known = self.known([row.reference for row in prepared.rows if row.digest])
        candidates: list[tuple[int, dict[str, Any]]] = []
        for row in prepared.rows:
            self.rows += 1
            if row.known or (row.digest is not None and known.get(row.reference) == row.digest):
                candidates.append((row.line, {"reference": row.reference, "known": True}))
            elif row.error is not None:
                self.reject(rejects, row.line, [Reject(0, "row", "", row.error)])
            elif row.clean is None:
                self.reject(rejects, row.line, row.problems)
            else:
                candidates.append((row.line, row.clean))
        earlier = store.claim_references([(clean["reference"], line) for line, clean in candidates])
        existing = store.existing_cases(
            self.institution, [c["reference"] for _, c in candidates if "known" not in c]
        )
        # Each line a reference appears on again: the line that has it first.
        again = {
            line: earlier[clean["reference"]]
            for line, clean in candidates
            if earlier.get(clean["reference"], line) != line
        }
        fresh = [
            (line, clean)
            for line, clean in candidates
            if line not in again and "known" not in clean and clean["reference"] not in existing
        ]
        # The new cases are judged together: one cases_eligible call per plugin.
        verdicts = dict(
            zip(
                [line for line, _ in fresh],
                self.eligibility([clean for _, clean in fresh]),
                strict=True,
            )
        )
        changes: list[Change] = []
        fingerprints: list[str | None] = []
        unchanged: list[tuple[dict[str, Any], str]] = []
        for line, clean in candidates:
            reference = clean["reference"]
            if line in again:
                self.reject(
                    rejects,
                    line,
                    [
                        Reject(
                            0,
                            "reference",
                            reference,
                            f"appears again: the file already has it on line {again[line]}",
                        )
                    ],
                )
                continue
            if "known" in clean:
                self.unchanged += 1
                continue
            self.reject_later = None
            change = self.change_for(line, clean, existing.get(reference), verdicts.get(line))
            if self.reject_later is not None:
                self.reject(rejects, line, [self.reject_later])
                continue
            if "warnings" in clean:
                # Taken, unlike a rejected row: said once, whatever became of the case.
                self.warned += 1
                for warning in clean["warnings"]:
                    warnings.add(attrs.evolve(warning, line=line))
            if change is not None:
                changes.append(change)
                fingerprints.append(clean["fingerprint"])
            elif clean["fingerprint"] is not None:
                unchanged.append((existing[reference], clean["fingerprint"]))
        observed = self.services.has_observers()
        # Known next time: unchanged rows not yet fingerprinted (imported before
        # fingerprints were kept, or their case changed since).
        store.keep_fingerprints(unchanged)
        for event, saved in store.commit_many(changes, fingerprints=fingerprints):
            if observed:
                record = saved[0]
                case = row_to_case(record.row) if isinstance(record, CaseRow) else record
                self.services.notify(case if isinstance(case, Case) else None, event)
            if event.type == "case_imported":
                self.imported += 1
            else:
                self.updated += 1

    def fingerprint(self, values: Mapping[str, Any]) -> str | None:
        """A digest of a mapped row and of all that judges it, or None when the same
        row could be judged otherwise another time, or may warn (then it is validated)."""
        today = ""
        if str(values.get("days_past_due") or "").strip():
            if str(values.get("overdue_since") or "").strip():
                return None  # the two may disagree: said each time, as a warning
            # Days past due fix the due date from today, in the borrower's zone.
            name = str(values.get("timezone") or "").strip() or self.validator.defaults.get(
                "timezone", ""
            )
            zone, _ = self.validator.zone(name)
            if zone is None:
                return None
            today = self.validator.today(zone).isoformat()
        try:
            text = canonical_json([self.judged_by, today, values])
        except (TypeError, ValueError):  # a value JSON does not write (a workbook's date)
            return None
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def change_for(
        self,
        line: int,
        clean: dict[str, Any],
        stored: dict[str, Any] | None,
        verdict: tuple[bool, str] | None,
    ) -> Change | None:
        """A new case (``verdict``: its eligibility, judged with its batch), an update
        with what changed, or None when nothing did."""
        source = {"file": self.file, "line": line}
        if stored is None:
            assert verdict is not None, "a new case is judged with its batch"
            eligible, note = verdict
            row = self.new_case_row(clean, eligible, note)
            first: tuple[Review, ...] = ()
            data = {**source, "eligible": eligible, "note": note}
            if clean["kind"] == "review":
                case = _apply(clean, self.institution, self.at, None)
                first = (self.first_review(case, clean["trigger"]),)
                data |= {"kind": "review", "trigger": clean["trigger"]}
            return Change(
                "case_imported",
                self.actor,
                self.at,
                (CaseRow(row), *first),
                data,
                recorded_at=self.recorded_at,
                policy_version=self.policy_version,
            )
        old = row_to_case(stored)
        if "kind" in clean["given"] and clean["kind"] != old.kind:
            self.reject_later = Reject(
                line,
                "kind",
                clean["kind"],
                f"case {old.id} is a {old.kind} case; a file cannot change that (a "
                "supervisor opens a review with 'fieldcase reviews open', and an approved "
                "refer-to-collection makes a review a collection case)",
            )
            return None
        # Compare as stored: the row the case has against the row the file gives,
        # for the fields the file gives; a column the file lacks changes nothing.
        before = stored
        offered = self.new_case_row(clean, old.eligible, old.eligibility_note)
        after = dict(stored)
        for column, sources in UPDATE_SOURCES.items():
            if clean["given"] & set(sources):
                after[column] = offered[column]
                for derived in DERIVED.get(column, ()):
                    after[derived] = offered[derived]
        if clean["given_attributes"]:
            kept = json.loads(stored.get("attributes") or "{}")
            for name in clean["given_attributes"]:
                if name in clean["attributes"]:
                    kept[name] = clean["attributes"][name]
                else:
                    kept.pop(name, None)
            after["attributes"] = canonical_json(dict(sorted(kept.items())))
        if after["currency"] != before["currency"] and self.services.store.has_money(stored["id"]):
            self.reject_later = Reject(
                line,
                "currency",
                after["currency"],
                f"case {old.id} already has money recorded in {before['currency']}; "
                "its currency cannot change",
            )
            return None
        changed = {
            field.removesuffix("_minor"): [
                _shown(field, before[field], old.currency),
                _shown(field, after[field], after["currency"]),
            ]
            for field in UPDATABLE
            if before[field] != after[field]
        }
        if before.get("attributes", "{}") != after.get("attributes", "{}"):
            old_values = json.loads(before.get("attributes") or "{}")
            new_values = json.loads(after["attributes"])
            changed |= {
                attributes.PREFIX + name: [old_values.get(name), new_values.get(name)]
                for name in sorted(set(old_values) | set(new_values))
                if old_values.get(name) != new_values.get(name)
            }
        if not changed:
            self.unchanged += 1
            return None
        case = row_to_case(after)
        if case.stage == Stage.CONFIRMATION:
            case = self.with_eligibility(case)
        case = attrs.evolve(
            case, version=old.version + 1, updated_at=max(self.at, old.updated_at or self.at)
        )
        return Change(
            "case_updated",
            self.actor,
            self.at,
            (case,),
            {**source, "changes": changed},
            old.id,
            old.version,
            self.recorded_at,
            self.policy_version,
        )

    def first_review(self, case: Case, trigger: str) -> Review:
        """The review a performing loan's row opens (its case id is given on saving)."""
        return Review(
            case_id=None,
            trigger=trigger,
            opened_at=self.at,
            opened_by=self.actor,
            opened_on=case.local_date(self.at),
        )

    def eligibility(self, cleans: list[dict[str, Any]]) -> list[tuple[bool, str]]:
        """(eligible, note) for each new case's validated values, judged as one batch."""
        if not cleans:
            return []
        denials = self.services.eligibility_of_batch(
            self.institution,
            [self.eligibility_view(clean) for clean in cleans],
            self.at,
            lambda i: _apply(cleans[i], self.institution, self.at, None),
        )
        return [self.verdict(found) for found in denials]

    def eligibility_view(self, clean: Mapping[str, Any]) -> Mapping[str, Any]:
        """A new case as ``cases_eligible`` sees it: the keys its hookspec lists."""
        kind = clean.get("kind") or "collection"
        days = 0
        if kind != "review" or clean["overdue_minor"]:
            # As Case.days_past_due: the borrower's day at the import, never below 0.
            zone, _ = self.validator.zone(clean["timezone"])
            assert zone is not None, "a valid row has a valid time zone"
            days = days_late(clean["overdue_since"], self.validator.today(zone))
        return MappingProxyType(
            {
                "institution": self.institution,
                "reference": clean["reference"],
                "kind": kind,
                "jurisdiction": clean["jurisdiction"],
                "currency": clean["currency"],
                "timezone": clean["timezone"],
                "principal_minor": clean["principal_minor"],
                "overdue_minor": clean["overdue_minor"],
                "overdue_since": clean["overdue_since"],
                "days_past_due": days,
                "attributes": MappingProxyType(clean.get("attributes") or {}),
            }
        )

    def verdict(self, denials: list[Decision]) -> tuple[bool, str]:
        """(eligible, the note an ineligible case carries: each denial with its rule)."""
        if not denials:
            return True, ""
        self.ineligible += 1
        return False, "; ".join(f"{d.reason} (rule {d.rule})" for d in denials)

    def with_eligibility(self, case: Case) -> Case:
        eligible, note = self.verdict(self.services.eligibility(case, self.at))
        return attrs.evolve(case, eligible=eligible, eligibility_note=note)

    def new_case_row(self, clean: Mapping[str, Any], eligible: bool, note: str) -> dict[str, Any]:
        """The ``cases`` row of a new case, built straight from the validated values.

        Bulk imports skip the value objects here; the columns and their order are
        those of :func:`fieldcase.store.case_to_row` (a test compares the two).
        """
        return {
            "id": None,
            "institution": self.institution,
            "reference": clean["reference"],
            "borrower_name": clean["borrower_name"],
            "national_id": clean["national_id"],
            "phone": clean["phone"],
            "national_id_masked": mask_tail(clean["national_id"]),
            "phone_masked": mask_phone(clean["phone"]),
            "address": clean["address"],
            # Not imported: an email comes from fieldcase details.
            "email": "",
            "timezone": clean["timezone"],
            "jurisdiction": clean["jurisdiction"],
            "currency": clean["currency"],
            "principal_minor": clean["principal_minor"],
            "overdue_minor": clean["overdue_minor"],
            "overdue_since": clean["overdue_since"].isoformat(),
            "referred_at": self.at_text,
            "stage": str(Stage.CONFIRMATION),
            "assigned_to": None,
            "eligible": int(eligible),
            "eligibility_note": note,
            "confirmed_address": None,
            "failed_visits": 0,
            "escalated": 0,
            "feedback_status": None,
            "resolution": None,
            "closed_at": None,
            "updated_at": self.at_text,
            "version": 1,
            "interest_minor": clean["interest_minor"],
            "fees_minor": clean["fees_minor"],
            "penalty_rate": clean["penalty_rate"],
            "flags": "[]",
            "attributes": canonical_json(clean["attributes"]),
            "dispute": None,
            "paused_until": None,
            "fewer_contacts_until": None,
            "kind": clean.get("kind") or "collection",
            "installment_minor": clean.get("installment_minor"),
            "next_review": None,
            "latitude": degrees_text(clean.get("latitude")),
            "longitude": degrees_text(clean.get("longitude")),
        }
